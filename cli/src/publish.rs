//! `stoker publish <kind>`: validate, put on the bus, optionally follow the job to its outcome.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use clap::Args;
use serde_json::{Value, json};
use stoker_events::{Delivery, Envelope, Kind, SCHEMA_VERSION, SOURCE_OPERATOR, decode};
use stoker_kit::ops::{RunOutcome, RunRecord};
use stoker_kit::summary::serde_name;

use crate::context::{AwsArgs, Output};
use crate::error::{CliError, aws};

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The event kind (EventBridge detail-type), e.g. stoker.warmup.requested; see schemas/.
    pub kind: String,
    /// A JSON file with the payload, or a whole envelope (e.g. `schemas/examples/<kind>.json`);
    /// `-` reads standard input.
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// The payload as inline JSON.
    #[arg(long, conflicts_with = "file")]
    pub payload: Option<String>,
    /// Print the exact PutEvents entry instead of sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// Follow the job to its outcome (from the ops table).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Who asks, recorded with the run (default: operator:$USER).
    #[arg(long, env = "STOKER_REQUESTED_BY")]
    pub requested_by: Option<String>,
    /// Ties this job to other work (a ticket, a deploy id).
    #[arg(long)]
    pub correlation_id: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
    /// Where `stoker optimize` writes the sweeps' SVG charts.
    #[arg(skip)]
    pub charts: Option<PathBuf>,
}

impl PublishArgs {
    /// Publishes `payload` as `kind` and follows the job to its report (`stoker backup`,
    /// `stoker optimize`).
    pub fn follow(kind: &str, payload: String, timeout: u64, output: Output) -> Self {
        PublishArgs {
            kind: kind.into(),
            file: None,
            payload: Some(payload),
            dry_run: false,
            wait: true,
            timeout,
            requested_by: None,
            correlation_id: None,
            output,
            charts: None,
        }
    }

    pub async fn run(&self, aws_args: &AwsArgs) -> Result<(), CliError> {
        self.run_for_report(aws_args).await.map(|_| ())
    }

    /// [`PublishArgs::run`], answering what the job did when it waited for one that completed:
    /// its summary line and its report (as stored: `{"truncated": true}` when too large).
    pub async fn run_for_report(&self, aws_args: &AwsArgs) -> Result<Option<Done>, CliError> {
        let kind: Kind = self.kind.parse().map_err(|e: stoker_events::UnknownKind| {
            CliError::invalid(e.to_string())
                .fix("pass one of the kinds listed in schemas/ (e.g. stoker.warmup.requested)")
        })?;
        let envelope = self.envelope(kind)?;
        // Validated by the workers' own decoder before anything is sent.
        let event = decode(&envelope.to_string(), &Delivery::default()).map_err(|e| {
            CliError::invalid(e.to_string()).fix(format!(
                "correct the payload; its schema is schemas/{}.json",
                kind.detail_type()
            ))
        })?;

        let ctx = aws_args.ctx().await?;
        let bus = ctx.output("BusName")?.to_owned();
        let entry = json!({
            "EventBusName": bus, "Source": SOURCE_OPERATOR, "DetailType": kind.detail_type(), "Detail": envelope.to_string(),
        });
        if self.dry_run {
            println!(
                "{}",
                serde_json::to_string_pretty(&entry).unwrap_or_default()
            );
            return Ok(None);
        }
        let out = aws_sdk_eventbridge::Client::new(&ctx.sdk)
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&bus)
                    .source(SOURCE_OPERATOR)
                    .detail_type(kind.detail_type())
                    .detail(envelope.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(aws("PutEvents"))?;
        if out.failed_entry_count() > 0 {
            let e = out.entries().first();
            return Err(CliError::new(format!(
                "EventBridge refused the event: {} {}",
                e.and_then(|e| e.error_code()).unwrap_or("?"),
                e.and_then(|e| e.error_message()).unwrap_or_default()
            ))
            .fix(
                "an AccessDenied code means your role lacks the stack's operator publish policy",
            ));
        }
        let id = event.meta.id.to_string();
        match self.output {
            Output::Text => println!("published {} {id} to {bus}", kind.detail_type()),
            Output::Json => println!(
                "{}",
                json!({ "id": id, "kind": kind.detail_type(), "bus": bus })
            ),
        }
        if !self.wait {
            return Ok(None);
        }
        let worker = kind.worker().ok_or_else(|| {
            CliError::invalid(format!(
                "{kind} is an outcome event: no worker runs it, nothing to wait for"
            ))
        })?;
        let ops = ctx.ops()?;
        let ddb = aws_sdk_dynamodb::Client::new(&ctx.sdk);
        let table = ctx.output("OpsTableName")?.to_owned();
        let mut bar = ProgressLine::default();
        let deadline = Instant::now() + Duration::from_secs(self.timeout);
        loop {
            if let Some(p) = stoker_kit::progress::read(&ddb, &table, worker.name(), &id).await {
                bar.show(&p);
            }
            let runs = ops
                .runs_of(worker.name(), &id)
                .await
                .map_err(|e| CliError::new(e.to_string()))?;
            if let Some(run) = runs.iter().rev().find(|r| is_final(r)) {
                // A replay (a duplicate delivery) carries no summary: the completed run's.
                let mut run = run.clone();
                if run.summary.is_none() {
                    run.summary = runs.iter().rev().find_map(|r| r.summary.clone());
                }
                let run = &run;
                bar.finish();
                let report = ops.stored_outcome(worker.name(), &id).await.ok().flatten();
                self.print_run(run, report.clone());
                return match run.outcome {
                    RunOutcome::FailedPermanent => Err(CliError::new(format!("the job failed: {}", run.error.as_deref().unwrap_or("?")))
                        .fix(format!("see `stoker dlq list {worker}`; fix the cause, then `stoker dlq redrive {worker}`"))),
                    _ => Ok(Some(Done {
                        summary: run.summary.clone(),
                        report,
                    })),
                };
            }
            if Instant::now() > deadline {
                return Err(CliError::new(format!(
                    "no outcome for {id} after {} s ({} runs so far)",
                    self.timeout,
                    runs.len()
                ))
                .fix(format!(
                    "is the {worker} worker running? see `stoker status`"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The envelope to send: the input's payload in a fresh envelope (new id, now).
    fn envelope(&self, kind: Kind) -> Result<Value, CliError> {
        let text = match (&self.file, &self.payload) {
            (_, Some(p)) => p.clone(),
            (Some(f), None) if f.as_os_str() == "-" => {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| CliError::invalid(format!("reading standard input: {e}")))?;
                s
            }
            (Some(f), None) => std::fs::read_to_string(f).map_err(|e| {
                CliError::invalid(format!("reading {}: {e}", f.display()))
                    .fix("check the --file path")
            })?,
            (None, None) => {
                return Err(CliError::invalid("no payload given")
                    .fix("pass --file PATH, --file - (stdin) or --payload JSON"));
            }
        };
        let input: Value = serde_json::from_str(&text).map_err(|e| {
            CliError::invalid(format!(
                "the input is not JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        let payload = match input.get("payload") {
            Some(p) if input.get("kind").is_some() => {
                if input["kind"] != kind.detail_type() {
                    return Err(CliError::invalid(format!(
                        "the file is a `{}` envelope, not `{kind}`",
                        input["kind"].as_str().unwrap_or("?")
                    )));
                }
                p.clone()
            }
            _ => input,
        };
        let requested_by = self.requested_by.clone().unwrap_or_else(|| {
            format!(
                "operator:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            )
        });
        // The typed envelope; its payload is checked against `kind` when it is decoded.
        let env = Envelope {
            id: uuid::Uuid::now_v7(),
            kind,
            version: SCHEMA_VERSION,
            source: SOURCE_OPERATOR.to_owned(),
            time: chrono::Utc::now(),
            correlation_id: self.correlation_id.clone(),
            requested_by,
            payload,
        };
        serde_json::to_value(env)
            .map_err(|e| CliError::invalid(format!("the envelope did not serialize: {e}")))
    }

    /// The run, and the worker's report when the job completed.
    pub(crate) fn print_run(&self, run: &RunRecord, report: Option<Value>) {
        match self.output {
            Output::Json => {
                let mut v = serde_json::to_value(run).unwrap_or_default();
                if let Some(r) = report {
                    v["report"] = r;
                }
                println!("{v}")
            }
            Output::Text => {
                println!(
                    "{}: {} after {} attempt(s), {} ms{}",
                    run.worker,
                    serde_name(&run.outcome),
                    run.attempts,
                    run.duration_ms,
                    run.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
                if let Some(r) = report {
                    match stoker_optimizer::report::table(&r)
                        .or_else(|| stoker_readiness::table(&r))
                    {
                        Some(table) => print!("{table}"),
                        None => println!("report: {r}"),
                    }
                    if let Some(dir) = &self.charts {
                        write_charts(dir, &r);
                    }
                }
            }
        }
    }
}

/// What a followed job did: its one-line summary and its report.
#[derive(Debug, Clone, Default)]
pub struct Done {
    pub summary: Option<String>,
    pub report: Option<Value>,
}

/// A progress line on standard error: redrawn in place on a terminal, one line per change
/// of phase (and at most every 10 %) otherwise.
#[derive(Debug, Default)]
struct ProgressLine {
    last: Option<(String, u64)>,
    drawn: bool,
}

impl ProgressLine {
    fn show(&mut self, (phase, done, total): &(String, u64, u64)) {
        if phase == "done" || phase.is_empty() {
            return;
        }
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let tenth = if *total > 0 { done * 10 / total } else { 0 };
        let key = (phase.clone(), if tty { *done } else { tenth });
        if self.last.as_ref() == Some(&key) {
            return;
        }
        self.last = Some(key);
        let line = if *total > 0 {
            let filled = ((done * 30) / total).min(30) as usize;
            format!(
                "{phase:<20} [{}{}] {done}/{total} items",
                "#".repeat(filled),
                " ".repeat(30 - filled)
            )
        } else {
            format!("{phase:<20} {done} items")
        };
        if tty {
            eprint!("\r{line}");
            self.drawn = true;
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

fn is_final(r: &RunRecord) -> bool {
    matches!(
        r.outcome,
        RunOutcome::Completed | RunOutcome::Replayed | RunOutcome::FailedPermanent
    )
}

/// Writes each function's sweep chart of an optimizer report as `<dir>/<function>.svg`.
fn write_charts(dir: &std::path::Path, report: &Value) {
    let functions = report["functions"].as_array().into_iter().flatten();
    for f in functions {
        let (Some(name), Some(svg)) = (f["function"].as_str(), f["chart_svg"].as_str()) else {
            continue;
        };
        let path = dir.join(format!("{name}.svg"));
        match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, svg)) {
            Ok(()) => println!("chart: {}", path.display()),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
}

/// A typed payload as the JSON `stoker publish` sends (a payload that does not serialize is
/// the CLI's own error).
pub fn payload_json<P: serde::Serialize>(payload: &P) -> Result<String, CliError> {
    serde_json::to_string(payload)
        .map_err(|e| CliError::new(format!("the payload did not serialize: {e}")))
}
