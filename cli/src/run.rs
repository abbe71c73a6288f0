//! `stoker run`: workers as long-poll processes in this one binary, on the stack's queues,
//! until SIGTERM / Ctrl-C (each finishes its jobs in flight within its grace period).

use std::sync::Arc;

use clap::Args;
use stoker_events::Worker;
use stoker_kit::poll::{PollSummary, shutdown_signal};
use stoker_kit::section::Section;
use stoker_kit::{Handler, WorkerConfig, runtime};
use tokio::sync::watch;

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

impl RunArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let chosen = self.chosen()?;
        let ctx = aws.ctx().await?;
        stoker_kit::telemetry::init();
        // Every chosen worker's own settings first: a bad one stops `stoker run` before any
        // worker polls (stopping one mid-job would leave its messages and claims held).
        let mut warmup = chosen
            .contains(&Worker::Warmup)
            .then(|| section::<stoker_warmup::WarmupSettings>(Worker::Warmup))
            .transpose()?;
        let mut backup = chosen
            .contains(&Worker::Backup)
            .then(|| backup_settings(&ctx))
            .transpose()?;
        let mut optimizer = chosen
            .contains(&Worker::Optimizer)
            .then(|| optimizer_settings(&ctx))
            .transpose()?;
        let mut readiness = chosen
            .contains(&Worker::Readiness)
            .then(|| readiness_settings(&ctx))
            .transpose()?;
        // The cache-warmer reads its Redis URL (an SSM parameter) before anything polls too.
        let mut cache = if chosen.contains(&Worker::CacheWarmer) {
            Some(cache_warmer(&ctx.sdk).await?)
        } else {
            None
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for w in chosen {
            let cfg = self.config(&ctx, w)?;
            let stop = stopped(stop_rx.clone());
            let sdk = ctx.sdk.clone();
            match w {
                Worker::Warmup => {
                    let settings = match warmup.take() {
                        Some(s) => s,
                        None => section(w)?,
                    };
                    let h = stoker_warmup::Warmup::new(&sdk, settings);
                    tasks.spawn(poll(h, sdk, cfg, stop));
                }
                Worker::CacheWarmer => {
                    let h = match cache.take() {
                        Some(h) => h,
                        None => cache_warmer(&sdk).await?,
                    }
                    .with_ops_table(&cfg.ops_table);
                    tasks.spawn(poll(h, sdk, cfg, stop));
                }
                Worker::Backup => {
                    let settings = match backup.take() {
                        Some(s) => s,
                        None => backup_settings(&ctx)?,
                    };
                    let h = stoker_backup::Backup::from_config(&sdk, &cfg, settings);
                    tasks.spawn(poll(h, sdk, cfg, stop));
                }
                Worker::Rollup => {
                    let h = stoker_rollup::Rollup::from_config(&sdk, &cfg);
                    tasks.spawn(poll(h, sdk, cfg, stop));
                }
                Worker::Optimizer => {
                    let settings = match optimizer.take() {
                        Some(s) => s,
                        None => optimizer_settings(&ctx)?,
                    };
                    let h = stoker_optimizer::Optimizer::from_config(&sdk, &cfg, settings);
                    tasks.spawn(poll(h, sdk, cfg, stop));
                }
                Worker::Readiness => {
                    let settings = match readiness.take() {
                        Some(s) => s,
                        None => readiness_settings(&ctx)?,
                    };
                    let h = stoker_readiness::Readiness::from_config(&sdk, &cfg, settings);
                    tasks.spawn(poll(h, sdk, cfg, stop));
                }
            }
        }
        eprintln!(
            "stoker run: {} worker(s) polling; Ctrl-C or SIGTERM stops them",
            tasks.len()
        );
        let signal = tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        while let Some(done) = tasks.join_next().await {
            if let Ok((w, s)) = done {
                eprintln!(
                    "stoker run: {w} stopped after {} messages ({} released at shutdown)",
                    s.received, s.released_at_shutdown
                );
            }
        }
        signal.abort();
        Ok(())
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

    fn config(&self, ctx: &Ctx, w: Worker) -> Result<WorkerConfig, CliError> {
        let out = |k: String| ctx.output(&k).map(str::to_owned);
        let mut cfg = WorkerConfig::new(
            w,
            &out(format!("{}QueueUrl", w.stem()))?,
            &out(format!("{}DlqUrl", w.stem()))?,
            &out("OpsTableName".to_owned())?,
        );
        cfg.bus = Some(out("BusName".to_owned())?);
        cfg.concurrency = self.concurrency.max(1);
        Ok(cfg)
    }
}

/// A worker's own settings from the environment, read once.
fn section<S: Section>(w: Worker) -> Result<S, CliError> {
    S::from_env().map_err(|e| {
        CliError::new(format!("the {w} worker cannot start: {e}")).fix(format!(
            "fix the variable, or leave the {w} worker out with --workers"
        ))
    })
}

/// The cache-warmer, its settings read from the environment (and its Redis URL from SSM).
async fn cache_warmer(
    sdk: &aws_config::SdkConfig,
) -> Result<stoker_cache_warmer::CacheWarmer, CliError> {
    stoker_cache_warmer::CacheWarmer::from_env(sdk).await.map_err(|e| {
        CliError::new(format!("the cache-warmer cannot start: {e}"))
            .fix("set STOKER_REDIS_URL_PARAMETER (or STOKER_REDIS_URL) and STOKER_CACHE_ALLOWED_HOSTS (eval \"$(./localstack/env)\" sets both for the emulator), or leave it out with --workers")
    })
}

/// A worker's settings as its Lambda reads them from the template's environment: `fixed`
/// variables from the command line's stack whatever the environment says (it may be set up
/// for another stack), `defaults` from the stack unless the environment sets them, the rest
/// as the environment sets them.
fn stack_settings<S: Section>(
    w: Worker,
    fixed: &[(&str, Option<String>)],
    defaults: &[(&str, Option<String>)],
    fix: &str,
) -> Result<S, CliError> {
    let lookup = |table: &[(&str, Option<String>)], k: &str| {
        table.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    let get = |k: &str| match lookup(fixed, k) {
        Some(v) => v,
        None => std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| lookup(defaults, k).flatten()),
    };
    S::read(&stoker_kit::section::Vars::new(&get)).map_err(|e| {
        CliError::new(format!("the {w} worker cannot start: {e}"))
            .fix(format!("{fix}, or leave it out with --workers"))
    })
}

/// The backup worker's settings: the stack and its export bucket (`ExportBucketName`) from
/// the command line's stack, the table prefix from `STOKER_BACKUP_TABLE_PREFIX` or the
/// stack's `BackupTablePrefix`, `STOKER_DRILL_TIMEOUT_SECS` as set.
fn backup_settings(ctx: &Ctx) -> Result<stoker_backup::BackupSettings, CliError> {
    let output = |o: &str| ctx.output(o).ok().map(str::to_owned);
    stack_settings(
        Worker::Backup,
        &[
            ("STOKER_STACK", Some(ctx.stack.clone())),
            ("STOKER_EXPORT_BUCKET", output("ExportBucketName")),
        ],
        &[(
            stoker_backup::scope::TABLE_PREFIX_VAR,
            output("BackupTablePrefix"),
        )],
        "set STOKER_BACKUP_TABLE_PREFIX to the prefix of the tables it may back up (or fix the variable named)",
    )
}

/// The readiness worker's settings: the stack, its export bucket and whether it warms caches
/// on a schedule from the command line's stack; the table and function prefixes and the cost
/// limit (`CostPer1000InvocationsAlarmUsd`) from the stack unless set.
fn readiness_settings(ctx: &Ctx) -> Result<stoker_readiness::ReadinessSettings, CliError> {
    let output = |o: &str| ctx.output(o).ok().map(str::to_owned);
    let cache = ctx.outputs.contains_key("CacheWarmerScheduleRuleName");
    stack_settings(
        Worker::Readiness,
        &[
            ("STOKER_STACK", Some(ctx.stack.clone())),
            ("STOKER_EXPORT_BUCKET", output("ExportBucketName")),
            ("STOKER_CACHE_SCHEDULED", cache.then(|| "true".to_owned())),
        ],
        &[
            ("STOKER_BACKUP_TABLE_PREFIX", output("BackupTablePrefix")),
            ("STOKER_FUNCTION_PREFIX", output("WarmableFunctionPrefix")),
            (
                "STOKER_MAX_USD_PER_1000_INVOCATIONS",
                output("CostPer1000InvocationsAlarmUsd"),
            ),
        ],
        "fix the variable named",
    )
}

/// The optimizer's settings: tag selections under the stack's `WarmableFunctionPrefix`
/// unless `STOKER_FUNCTION_PREFIX` is set.
fn optimizer_settings(ctx: &Ctx) -> Result<stoker_optimizer::OptimizerSettings, CliError> {
    let prefix = ctx.output("WarmableFunctionPrefix").ok().map(str::to_owned);
    stack_settings(
        Worker::Optimizer,
        &[],
        &[("STOKER_FUNCTION_PREFIX", prefix)],
        "fix the variable named",
    )
}

fn names_fix() -> String {
    let names: Vec<&str> = Worker::ALL.iter().map(|w| w.name()).collect();
    format!("name one of: {}", names.join(", "))
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // A dropped sender (never stopped) keeps waiting; `true` stops.
    let _ = rx.wait_for(|s| *s).await;
}

async fn poll<H: Handler>(
    handler: H,
    sdk: aws_config::SdkConfig,
    cfg: WorkerConfig,
    stop: impl std::future::Future<Output = ()>,
) -> (&'static str, PollSummary) {
    let name = cfg.worker.name();
    let rt = Arc::new(runtime(handler, &sdk, cfg));
    (name, stoker_kit::poll::run(rt, stop).await)
}
