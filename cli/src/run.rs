//! `stoker run`: the workers as long-poll processes on the stack's queues, until SIGTERM /
//! Ctrl-C. Each worker runs as its own binary (`stoker-<name>`, the one Lambda runs), found
//! beside `stoker` or on PATH, with its queue, DLQ, ops table and bus from the stack's
//! outputs; the list of workers is the catalog's ([`Worker::ALL`]), so a new worker needs no
//! change here.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use clap::Args;
use stoker_events::Worker;
use stoker_kit::poll::{STOP_ON_STDIN_EOF, shutdown_signal};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinSet;

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
        let bins = chosen
            .iter()
            .map(|w| binary(*w, beside.as_deref()).map(|b| (*w, b)))
            .collect::<Result<Vec<_>, _>>()?;
        let ctx = aws.ctx().await?;
        let mut env = stack_env(&ctx);
        env.push((STOP_ON_STDIN_EOF, Some("1".into())));
        env.push((
            "STOKER_CONCURRENCY",
            Some(self.concurrency.max(1).to_string()),
        ));
        env.push(("STOKER_BUS", Some(ctx.output("BusName")?.to_owned())));
        env.push((
            "STOKER_OPS_TABLE",
            Some(ctx.output("OpsTableName")?.to_owned()),
        ));
        for (var, v) in [
            ("AWS_ENDPOINT_URL", &aws.endpoint_url),
            ("AWS_REGION", &aws.region),
            ("AWS_PROFILE", &aws.profile),
        ] {
            if v.is_some() {
                env.push((var, v.clone()));
            }
        }
        let mut pipes: Vec<ChildStdin> = Vec::new();
        let mut running: JoinSet<(Worker, std::io::Result<ExitStatus>)> = JoinSet::new();
        for (w, bin) in bins {
            let mut cmd = Command::new(&bin);
            for (var, v) in &env {
                match v {
                    Some(v) => cmd.env(var, v),
                    None => cmd.env_remove(var),
                };
            }
            cmd.env("STOKER_QUEUE_URL", ctx.queue_url(w)?)
                .env("STOKER_DLQ_URL", ctx.dlq_url(w)?)
                .stdin(Stdio::piped());
            let mut child: Child = cmd
                .spawn()
                .map_err(|e| CliError::new(format!("cannot start {}: {e}", bin.display())))?;
            pipes.extend(child.stdin.take());
            running.spawn(async move { (w, child.wait().await) });
        }
        eprintln!(
            "stoker run: {} worker(s) polling; Ctrl-C or SIGTERM stops them",
            running.len()
        );
        // Until a signal, or until a worker stops on its own (a setting it cannot use).
        let first = tokio::select! {
            _ = shutdown_signal() => None,
            done = running.join_next() => done,
        };
        // Closing their stdin stops the others (they finish their jobs in flight first).
        drop(pipes);
        let mut failed = Vec::new();
        let mut note = |done: Result<
            (Worker, std::io::Result<ExitStatus>),
            tokio::task::JoinError,
        >| match done {
            Ok((_, Ok(s))) if s.success() => {}
            Ok((w, Ok(s))) => failed.push(format!("{w} ({s})")),
            Ok((w, Err(e))) => failed.push(format!("{w} ({e})")),
            Err(e) => failed.push(e.to_string()),
        };
        let stopped_early = first.is_some();
        if let Some(done) = first {
            note(done);
        }
        while let Some(done) = running.join_next().await {
            note(done);
        }
        if failed.is_empty() && !stopped_early {
            return Ok(());
        }
        let which = if failed.is_empty() {
            "a worker exited on its own".to_owned()
        } else {
            format!("stopped with an error: {}", failed.join(", "))
        };
        Err(
            CliError::new(format!("stoker run: {which}; its log is above"))
                .fix("fix the setting its log names, or leave that worker out with --workers"),
        )
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
