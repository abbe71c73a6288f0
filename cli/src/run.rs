//! `stoker run`: the workers as long-poll processes on the stack's queues, until SIGTERM /
//! Ctrl-C. Each worker runs as its own binary (`stoker-<name>`, the one Lambda runs), found
//! beside `stoker` or on PATH, with its queue, DLQ, ops table and bus from the stack's
//! outputs; the list of workers is the catalog's ([`Worker::ALL`]), so a new worker needs no
//! change here.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use clap::Args;
use stoker_events::Worker;
use stoker_kit::poll::{STOP_ON_STDIN_EOF, signals};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

use crate::context::{AwsArgs, Ctx};
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which workers to run, comma-separated (default: all of them).
    #[arg(long, value_delimiter = ',')]
    pub workers: Vec<String>,
    /// Jobs at once, per worker.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
}

/// Settings every worker reads from the stack as its Lambda does from the template: `fixed`
/// ones from the command line's stack whatever the environment says (it may be set up for
/// another stack; `None`: unset), `defaults` from the stack unless the environment sets them.
/// A worker ignores the ones it does not read.
fn stack_env(ctx: &Ctx) -> Vec<(&'static str, Option<String>)> {
    let output = |o: &str| ctx.output(o).ok().map(str::to_owned);
    let mut env = vec![
        ("STOKER_STACK", Some(ctx.stack.clone())),
        ("STOKER_EXPORT_BUCKET", output("ExportBucketName")),
        (
            "STOKER_CACHE_SCHEDULED",
            ctx.outputs
                .contains_key("CacheWarmerScheduleRuleName")
                .then(|| "true".to_owned()),
        ),
    ];
    let defaults = [
        ("STOKER_BACKUP_TABLE_PREFIX", "BackupTablePrefix"),
        ("STOKER_FUNCTION_PREFIX", "WarmableFunctionPrefix"),
        (
            "STOKER_MAX_USD_PER_1000_INVOCATIONS",
            "CostPer1000InvocationsAlarmUsd",
        ),
    ];
    for (var, out) in defaults {
        if std::env::var(var).map_or(true, |v| v.is_empty()) {
            env.push((var, output(out)));
        }
    }
    env
}

impl RunArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let chosen = self.chosen()?;
        let beside = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let ctx = aws.ctx().await?;
        // Everything each worker needs first: nothing starts unless all can.
        let mut plans = Vec::new();
        for w in chosen {
            let bin = binary(w, beside.as_deref())?;
            let queue = (ctx.queue_url(w)?.to_owned(), ctx.dlq_url(w)?.to_owned());
            plans.push((w, bin, queue));
        }
        let env = self.env(aws, &ctx)?;
        let (kill_tx, kill_rx) = watch::channel(false);
        let mut pipes: Vec<ChildStdin> = Vec::new();
        let mut running: JoinSet<(Worker, std::io::Result<ExitStatus>)> = JoinSet::new();
        let mut not_started = None;
        for (w, bin, (queue, dlq)) in plans {
            let mut cmd = Command::new(&bin);
            for (var, v) in &env {
                match v {
                    Some(v) => cmd.env(var, v),
                    None => cmd.env_remove(var),
                };
            }
            cmd.env("STOKER_QUEUE_URL", queue)
                .env("STOKER_DLQ_URL", dlq)
                .stdin(Stdio::piped());
            match cmd.spawn() {
                Ok(mut child) => {
                    pipes.extend(child.stdin.take());
                    running.spawn(supervise(w, child, kill_rx.clone()));
                }
                Err(e) => {
                    not_started = Some(format!("cannot start {}: {e}", bin.display()));
                    break;
                }
            }
        }
        let first = if not_started.is_some() {
            None
        } else {
            eprintln!(
                "stoker run: {} worker(s) polling; Ctrl-C or SIGTERM stops them",
                running.len()
            );
            // Until a signal, or until a worker stops on its own (a setting it cannot use).
            tokio::select! {
                _ = signals() => None,
                done = running.join_next() => done,
            }
        };
        // Closing their stdin stops the others (they finish their jobs in flight first); a
        // second signal kills those still running.
        drop(pipes);
        let escalate = tokio::spawn(async move {
            signals().await;
            eprintln!("stoker run: a second signal: killing the workers still running");
            let _ = kill_tx.send(true);
        });
        let mut failed = Vec::new();
        let mut early = Vec::new();
        let mut note = |done: Result<(Worker, std::io::Result<ExitStatus>), JoinError>| match done {
            Ok((_, Ok(s))) if s.success() => {}
            Ok((w, Ok(s))) => failed.push(format!("{w} ({s})")),
            Ok((w, Err(e))) => failed.push(format!("{w} ({e})")),
            Err(e) => failed.push(e.to_string()),
        };
        if let Some(done) = first {
            if let Ok((w, _)) = &done {
                early.push(w.to_string());
            }
            note(done);
        }
        while let Some(done) = running.join_next().await {
            note(done);
        }
        escalate.abort();
        if let Some(why) = not_started {
            return Err(CliError::new(format!("stoker run: {why}"))
                .fix("build the workers: cargo build --workspace --bins"));
        }
        if failed.is_empty() && early.is_empty() {
            return Ok(());
        }
        let which = if failed.is_empty() {
            format!("{} exited on its own", early.join(", "))
        } else {
            format!("stopped with an error: {}", failed.join(", "))
        };
        Err(
            CliError::new(format!("stoker run: {which}; its log is above"))
                .fix("fix the setting its log names, or leave that worker out with --workers"),
        )
    }

    /// The environment every worker gets (`None`: removed): the stack's settings, its ops
    /// table and bus, the concurrency, and the command line's AWS options; never the
    /// settings that would make it another kind of process.
    fn env(&self, aws: &AwsArgs, ctx: &Ctx) -> Result<Vec<(String, Option<String>)>, CliError> {
        let mut env: Vec<(String, Option<String>)> = stack_env(ctx)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mut set = |k: &str, v: Option<String>| env.push((k.to_owned(), v));
        set(STOP_ON_STDIN_EOF, Some("1".into()));
        set(
            "STOKER_CONCURRENCY",
            Some(self.concurrency.max(1).to_string()),
        );
        set("STOKER_BUS", Some(ctx.output("BusName")?.to_owned()));
        set(
            "STOKER_OPS_TABLE",
            Some(ctx.output("OpsTableName")?.to_owned()),
        );
        // A long-poll process (not the Lambda driver), with its own worker's job timeout.
        set("AWS_LAMBDA_RUNTIME_API", None);
        set("STOKER_JOB_TIMEOUT_SECS", None);
        set("STOKER_VISIBILITY_SECS", None);
        if let Some(e) = &aws.endpoint_url {
            // --endpoint-url sends every call there, as it does the CLI's own.
            for (k, _) in std::env::vars_os() {
                if let Some(k) = k.to_str().filter(|k| k.starts_with("AWS_ENDPOINT_URL_")) {
                    set(k, None);
                }
            }
            set("AWS_ENDPOINT_URL", Some(e.clone()));
        }
        if let Some(r) = &aws.region {
            set("AWS_REGION", Some(r.clone()));
        }
        if let Some(p) = &aws.profile {
            set("AWS_PROFILE", Some(p.clone()));
        }
        Ok(env)
    }

    fn chosen(&self) -> Result<Vec<Worker>, CliError> {
        if self.workers.is_empty() {
            return Ok(Worker::ALL.to_vec());
        }
        self.workers
            .iter()
            .map(|name| {
                Worker::ALL
                    .into_iter()
                    .find(|w| w.name() == name)
                    .ok_or_else(|| {
                        CliError::invalid(format!("no worker named `{name}`")).fix(names_fix())
                    })
            })
            .collect()
    }
}

/// Waits for a worker to exit; kills it when `kill` turns true.
async fn supervise(
    w: Worker,
    mut child: Child,
    mut kill: watch::Receiver<bool>,
) -> (Worker, std::io::Result<ExitStatus>) {
    tokio::select! {
        status = child.wait() => return (w, status),
        // (A sender gone without asking kills nothing.)
        Ok(_) = kill.wait_for(|k| *k) => {}
    }
    let _ = child.start_kill();
    (w, child.wait().await)
}

/// A worker's binary: `stoker-<name>` beside `stoker`, else on PATH.
fn binary(w: Worker, beside: Option<&Path>) -> Result<PathBuf, CliError> {
    let name = format!("stoker-{}", w.name());
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    beside
        .into_iter()
        .map(Path::to_path_buf)
        .chain(on_path)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CliError::new(format!(
                "no `{name}` beside stoker{} or on PATH",
                beside
                    .map(|d| format!(" ({})", d.display()))
                    .unwrap_or_default()
            ))
            .fix(format!(
                "build the workers: cargo build --workspace --bins (or cargo build -p {name})"
            ))
        })
}

fn names_fix() -> String {
    let names: Vec<&str> = Worker::ALL.iter().map(|w| w.name()).collect();
    format!("name one of: {}", names.join(", "))
}
