//! `stoker status`: per worker, queue and DLQ depth, the last run, failures, replays and cost
//! in the last 24 h (with the monthly estimate at that rate), and its schedule; then the
//! stack's monthly estimate, its idle cost included.

use aws_sdk_sqs::types::QueueAttributeName as A;
use clap::Args;
use serde::Serialize;
use stoker_events::Worker;
use stoker_kit::ops::RunOutcome;

use crate::context::{AwsArgs, Ctx, Output};
use crate::error::{CliError, aws};
use crate::table::Table;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// One worker's line.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatus {
    pub worker: String,
    pub visible: u64,
    pub in_flight: u64,
    pub dead_letters: u64,
    pub last_run: Option<LastRun>,
    pub failures_24h: usize,
    pub replays_24h: usize,
    pub runs_24h: usize,
    /// What the last 24 h of runs cost, in USD (`stoker cost` for the breakdown).
    pub cost_24h_usd: f64,
    /// That rate over a month.
    pub monthly_usd: f64,
    pub schedule: Option<Schedule>,
}

/// The stack's monthly estimate: its jobs at the last 24 h's rate, plus what it costs idle.
#[derive(Debug, Clone, Serialize)]
pub struct Monthly {
    pub jobs_usd: f64,
    /// Its alarms, custom metrics, stored logs and idle long polls (`stoker cost`); none when
    /// they could not be read.
    pub idle_usd: Option<f64>,
    pub total_usd: Option<f64>,
    /// Why the idle cost could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_error: Option<String>,
}

impl Monthly {
    fn of(rows: &[WorkerStatus], idle: Result<f64, CliError>) -> Self {
        let jobs_usd = rows.iter().map(|r| r.monthly_usd).sum::<f64>();
        let (idle_usd, idle_error) = match idle {
            Ok(usd) => (Some(usd), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Monthly {
            jobs_usd,
            idle_usd,
            total_usd: idle_usd.map(|i| i + jobs_usd),
            idle_error,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub event_id: String,
    pub finished_at: String,
    pub outcome: RunOutcome,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub rule: String,
    pub expression: String,
    pub state: String,
}

impl StatusArgs {
    pub async fn run(&self, aws_args: &AwsArgs) -> Result<(), CliError> {
        let ctx = aws_args.ctx().await?;
        let mut rows = Vec::new();
        for w in Worker::ALL {
            rows.push(worker_status(&ctx, w).await?);
        }
        let monthly = Monthly::of(&rows, crate::cost::idle_monthly_usd(&ctx).await);
        match self.output {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "stack": ctx.stack,
                    "workers": rows,
                    "monthly": monthly,
                }))
                .unwrap_or_default()
            ),
            Output::Text => {
                print_table(&rows);
                print_monthly(&monthly);
            }
        }
        Ok(())
    }
}

async fn worker_status(ctx: &Ctx, w: Worker) -> Result<WorkerStatus, CliError> {
    let sqs = aws_sdk_sqs::Client::new(&ctx.sdk);
    let depth = |url: String| {
        let sqs = sqs.clone();
        async move {
            let out = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(A::ApproximateNumberOfMessages)
                .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .map_err(aws("GetQueueAttributes"))?;
            let a = out.attributes().cloned().unwrap_or_default();
            let n = |k: A| a.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            Ok::<_, CliError>((
                n(A::ApproximateNumberOfMessages),
                n(A::ApproximateNumberOfMessagesNotVisible),
            ))
        }
    };
    let (visible, in_flight) = depth(ctx.queue_url(w)?.to_owned()).await?;
    let (dead_letters, _) = depth(ctx.dlq_url(w)?.to_owned()).await?;
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let runs = ctx
        .ops()?
        .runs_since(w.name(), since)
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    let last_run = runs.first().map(|r| LastRun {
        event_id: r.event_id.clone(),
        finished_at: r
            .finished_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        outcome: r.outcome,
        duration_ms: r.duration_ms,
    });
    let failures_24h = runs
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                RunOutcome::FailedPermanent | RunOutcome::FailedRetryable
            )
        })
        .count();
    let replays_24h = runs
        .iter()
        .filter(|r| r.outcome == RunOutcome::Replayed)
        .count();
    let cost = crate::cost::WorkerCost::of(w.name(), &runs, 24.0);
    let schedule = match ctx.outputs.get(&format!("{}ScheduleRuleName", w.stem())) {
        None => None,
        Some(rule) => {
            let r = aws_sdk_eventbridge::Client::new(&ctx.sdk)
                .describe_rule()
                .name(rule)
                .send()
                .await
                .map_err(aws("DescribeRule"))?;
            Some(Schedule {
                rule: rule.clone(),
                expression: r.schedule_expression().unwrap_or_default().to_owned(),
                state: r.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            })
        }
    };
    Ok(WorkerStatus {
        worker: w.name().to_owned(),
        visible,
        in_flight,
        dead_letters,
        last_run,
        failures_24h,
        replays_24h,
        runs_24h: runs.len(),
        cost_24h_usd: cost.usd,
        monthly_usd: cost.monthly_usd,
        schedule,
    })
}

fn print_table(rows: &[WorkerStatus]) {
    let mut t = Table::new([
        "WORKER",
        "QUEUED",
        "IN FLIGHT",
        "DLQ",
        "LAST RUN (UTC)",
        "OUTCOME",
        "MS",
        "RUNS 24H",
        "FAILED 24H",
        "REPLAYS 24H",
        "USD 24H",
        "USD/MONTH",
        "SCHEDULE",
    ]);
    for r in rows {
        let (at, outcome, ms) = match &r.last_run {
            Some(l) => (
                l.finished_at
                    .replace('T', " ")
                    .trim_end_matches('Z')
                    .to_owned(),
                stoker_kit::summary::serde_name(&l.outcome),
                l.duration_ms.to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let schedule = r
            .schedule
            .as_ref()
            .map(|s| format!("{} {}", s.expression, s.state.to_lowercase()))
            .unwrap_or_else(|| "-".into());
        t.row([
            r.worker.clone(),
            r.visible.to_string(),
            r.in_flight.to_string(),
            if r.dead_letters > 0 {
                format!("{} !", r.dead_letters)
            } else {
                "0".into()
            },
            at,
            outcome,
            ms,
            r.runs_24h.to_string(),
            r.failures_24h.to_string(),
            r.replays_24h.to_string(),
            crate::cost::usd(r.cost_24h_usd),
            crate::cost::usd(r.monthly_usd),
            schedule,
        ]);
    }
    print!("{t}");
}

fn print_monthly(m: &Monthly) {
    let usd = crate::cost::usd;
    match (m.idle_usd, m.total_usd, &m.idle_error) {
        (Some(idle), Some(total), _) => println!(
            "\nMonthly estimate: {} (jobs at the last 24 h's rate {} + idle {}); `stoker cost` for the breakdown.",
            usd(total),
            usd(m.jobs_usd),
            usd(idle)
        ),
        (_, _, why) => println!(
            "\nMonthly estimate: jobs at the last 24 h's rate {}; the idle cost could not be read ({}).",
            usd(m.jobs_usd),
            why.as_deref().unwrap_or("unknown")
        ),
    }
}
