//! A worker's configuration, from the environment (set by infra/ on Lambda, by `stoker run`
//! or by hand for long-poll processes).

use std::time::Duration;

use crate::backoff::RetryPolicy;
use crate::event::WorkerId;

/// A worker's settings: its queue, DLQ, ops table, bus, time budget, concurrency and retry
/// policy. Read them with [`WorkerConfig::from_env`] or start from [`WorkerConfig::new`].
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The worker these settings are for.
    pub worker: WorkerId,
    /// URL of the worker's SQS queue (`STOKER_QUEUE_URL`).
    pub queue_url: String,
    /// URL of the worker's dead-letter queue, where the kit sends failed messages with their
    /// reason (`STOKER_DLQ_URL`).
    pub dlq_url: String,
    /// Name of the DynamoDB ops table: idempotency claims, run records, progress
    /// (`STOKER_OPS_TABLE`).
    pub ops_table: String,
    /// Where outcome events go; none are sent when absent.
    pub bus: Option<String>,
    /// A job's time budget in the long-poll driver (Lambda uses its remaining time).
    pub job_timeout: Duration,
    /// Handlers run at once by one long-poll process (an optimistic job gives its slot back
    /// once its handler is done, before its commit).
    pub concurrency: usize,
    /// Messages a long-poll process asks for per receive (1-10, default 10), whatever its
    /// concurrency, holding at most `concurrency` + this many unfinished: those that cannot
    /// start at once wait their turn in memory, kept invisible.
    /// Each receive counts as a delivery of every message it returns, so if the process dies,
    /// the messages still waiting lose one delivery too (as a Lambda batch does); lower it
    /// for slow jobs at low concurrency.
    pub receive_batch: usize,
    /// The kit's delivery limit: its last delivery sends the message to the DLQ itself, with
    /// the reason. The queue's own redrive `maxReceiveCount` is set two higher (infra/), so
    /// SQS moves a message only when the kit could not (a crash at the last delivery).
    pub max_receive_count: u32,
    /// Long-poll wait per receive (0-20 s).
    pub wait: Duration,
    /// Visibility a long-poll process takes on a message and keeps extending while its job runs;
    /// after a crash the message reappears within this.
    pub visibility: Duration,
    /// How long in-flight jobs may finish after SIGTERM before they are released.
    pub shutdown_grace: Duration,
    /// How long a batch of claims or completions waits for the jobs running alongside after its
    /// first (`STOKER_BATCH_LINGER_MS`, default 5).
    pub batch_linger: Duration,
    /// In-process backoff and redelivery delays (`STOKER_REDELIVERY_BASE_SECS` sets
    /// `redelivery_base`).
    pub retry: RetryPolicy,
}

/// A missing or unusable setting, naming the variable and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong with it: not set, or not a whole number.
    pub problem: String,
    /// The stack output that holds the value, when the worker names its outputs
    /// ([`WorkerId::with_outputs`]).
    pub output: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}. ", self.var, self.problem)?;
        match &self.output {
            Some(output) => write!(
                f,
                "Set it (stack output `{output}` of the worker's stack), or run the worker through `stoker run`, which sets it from the stack"
            ),
            None => f.write_str("Set it in the worker's environment"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl WorkerConfig {
    /// Defaults for `worker` with the given names; tune the rest on the struct.
    pub fn new(
        worker: impl Into<WorkerId>,
        queue_url: &str,
        dlq_url: &str,
        ops_table: &str,
    ) -> Self {
        let worker = worker.into();
        WorkerConfig {
            worker,
            queue_url: queue_url.to_owned(),
            dlq_url: dlq_url.to_owned(),
            ops_table: ops_table.to_owned(),
            bus: None,
            job_timeout: worker.job_timeout(),
            concurrency: 10,
            receive_batch: 10,
            max_receive_count: 5,
            wait: Duration::from_secs(20),
            visibility: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
            batch_linger: Duration::from_millis(5),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads `STOKER_QUEUE_URL`, `STOKER_DLQ_URL`, `STOKER_OPS_TABLE` (required) and
    /// `STOKER_BUS`, `STOKER_JOB_TIMEOUT_SECS`, `STOKER_CONCURRENCY`, `STOKER_RECEIVE_BATCH`,
    /// `STOKER_MAX_RECEIVE_COUNT`,
    /// `STOKER_WAIT_SECS`, `STOKER_VISIBILITY_SECS`, `STOKER_SHUTDOWN_GRACE_SECS`, `STOKER_REDELIVERY_BASE_SECS` (optional).
    pub fn from_env(worker: impl Into<WorkerId>) -> Result<Self, ConfigError> {
        Self::from_lookup(worker, |k| std::env::var(k).ok())
    }

    /// [`from_env`](Self::from_env) over any lookup (tests).
    pub fn from_lookup(
        worker: impl Into<WorkerId>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let worker = worker.into();
        let stem = worker.outputs();
        let required = |var: &'static str, output: Option<String>| {
            get(var).filter(|v| !v.is_empty()).ok_or(ConfigError {
                var,
                problem: "not set".into(),
                output,
            })
        };
        let queue = required("STOKER_QUEUE_URL", stem.map(|s| format!("{s}QueueUrl")))?;
        let dlq = required("STOKER_DLQ_URL", stem.map(|s| format!("{s}DlqUrl")))?;
        let table = required("STOKER_OPS_TABLE", stem.map(|_| "OpsTableName".into()))?;
        let mut cfg = WorkerConfig::new(worker, &queue, &dlq, &table);
        cfg.bus = get("STOKER_BUS").filter(|b| !b.is_empty());
        let number = |var: &'static str| -> Result<Option<u64>, ConfigError> {
            match get(var) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| ConfigError {
                    var,
                    problem: format!("`{v}` is not a whole number"),
                    output: None,
                }),
            }
        };
        if let Some(s) = number("STOKER_JOB_TIMEOUT_SECS")? {
            cfg.job_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(c) = number("STOKER_CONCURRENCY")? {
            cfg.concurrency = (c as usize).clamp(1, 1000);
        }
        if let Some(b) = number("STOKER_RECEIVE_BATCH")? {
            cfg.receive_batch = (b as usize).clamp(1, 10);
        }
        if let Some(m) = number("STOKER_MAX_RECEIVE_COUNT")? {
            cfg.max_receive_count = (m as u32).max(1);
        }
        if let Some(w) = number("STOKER_WAIT_SECS")? {
            cfg.wait = Duration::from_secs(w.min(20));
        }
        if let Some(v) = number("STOKER_VISIBILITY_SECS")? {
            cfg.visibility = Duration::from_secs(v.clamp(3, 43_200));
        }
        if let Some(g) = number("STOKER_SHUTDOWN_GRACE_SECS")? {
            cfg.shutdown_grace = Duration::from_secs(g);
        }
        if let Some(ms) = number("STOKER_BATCH_LINGER_MS")? {
            cfg.batch_linger = Duration::from_millis(ms.min(1000));
        }
        if let Some(b) = number("STOKER_REDELIVERY_BASE_SECS")? {
            cfg.retry.redelivery_base = Duration::from_secs(b);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const BACKUP: WorkerId = WorkerId::new("backup").with_outputs("Backup");
    const WARMUP: WorkerId = WorkerId::new("warmup");

    #[test]
    fn a_missing_setting_names_the_variable_and_the_stack_output() {
        let env: HashMap<&str, &str> = HashMap::from([("STOKER_QUEUE_URL", "q")]);
        let err =
            WorkerConfig::from_lookup(BACKUP, |k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err.var, "STOKER_DLQ_URL");
        assert!(err.to_string().contains("BackupDlqUrl"), "{err}");
        let err = WorkerConfig::from_lookup(WARMUP, |_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "STOKER_QUEUE_URL: not set. Set it in the worker's environment"
        );
    }

    #[test]
    fn numbers_are_read_and_bad_numbers_refused() {
        let mut env: HashMap<&str, &str> = HashMap::from([
            ("STOKER_QUEUE_URL", "q"),
            ("STOKER_DLQ_URL", "d"),
            ("STOKER_OPS_TABLE", "t"),
            ("STOKER_CONCURRENCY", "4"),
        ]);
        let cfg = WorkerConfig::from_lookup(WARMUP, |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            (cfg.concurrency, cfg.job_timeout),
            (4, Duration::from_secs(60))
        );
        env.insert("STOKER_WAIT_SECS", "soon");
        let err =
            WorkerConfig::from_lookup(WARMUP, |k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err.var, "STOKER_WAIT_SECS");
    }
}
