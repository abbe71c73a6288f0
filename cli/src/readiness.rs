//! `stoker readiness`: run the readiness checks through the pipeline, print every check with its
//! evidence, and exit 0 on go, 1 on no-go, 3 when no verdict came (2: invalid input), so that a
//! deploy pipeline gates on it and tells "not ready" from "could not tell".

use clap::Args;
use stoker_events::payload::readiness::{ReadinessRequest, Thresholds};

use crate::context::{AwsArgs, Output};
use crate::error::CliError;
use crate::publish::{Done, PublishArgs};

/// The exit code of a no-go.
pub const NO_GO: i32 = 1;
/// The exit code when no verdict came (the job failed, timed out, or AWS was unreachable).
pub const NO_VERDICT: i32 = 3;

#[derive(Debug, Args)]
pub struct ReadinessArgs {
    /// DynamoDB tables to check (repeatable; `name*` is a prefix; default: the stack's ops
    /// table and the tables tagged `stoker:readiness=true`).
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// SQS queues to check by name (repeatable; `name*` is a prefix; default: every queue of
    /// the stack).
    #[arg(long = "queue")]
    pub queues: Vec<String>,
    /// Lambda functions to check (repeatable; `name*` is a prefix; default: the stack's own and
    /// the functions tagged `stoker:readiness=true`).
    #[arg(long = "function")]
    pub functions: Vec<String>,
    /// Check the alarms whose names start with this (default: the stack's name and `-`).
    #[arg(long)]
    pub alarm_prefix: Option<String>,
    /// Also check the tables and functions under the stack's prefixes tagged so (`key` or
    /// `key=value`).
    #[arg(long)]
    pub tag: Option<String>,
    /// A table's newest backup may be at most this many hours old.
    #[arg(long, default_value_t = 26)]
    pub max_backup_age_hours: u32,
    /// A queue deeper than this warns.
    #[arg(long, default_value_t = 100)]
    pub max_queue_depth: u64,
    /// A queue whose oldest message is older (s) warns.
    #[arg(long, default_value_t = 900)]
    pub max_message_age_s: u32,
    /// The stack's verdict warns when the jobs cost more (USD) per 1,000 invocations of the
    /// warmed functions [default: the stack's CostPer1000InvocationsAlarmUsd, 0.10 unless set].
    #[arg(long)]
    pub max_usd_per_1000_invocations: Option<f64>,
    /// A function with a larger share of errors (%) over the last hour fails.
    #[arg(long, default_value_t = 5)]
    pub max_error_rate_pct: u32,
    /// A function throttled more than this in one minute of the last hour fails.
    #[arg(long, default_value_t = 10)]
    pub max_throttles_per_minute: u32,
    /// A function with a slower p95 duration (ms) over the last hour warns.
    #[arg(long, default_value_t = 300)]
    pub max_p95_ms: u32,
    /// A function whose slowest cold start (ms) over the last hour is slower warns.
    #[arg(long, default_value_t = 1000)]
    pub max_cold_start_ms: u32,
    /// How long to wait for the verdict, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Ask for nothing new: print the newest completed report of the readiness schedule (the
    /// stack's own verdict) of the last 24 h and exit by its verdict.
    #[arg(long)]
    pub last: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

impl ReadinessArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        if self.last {
            return self.last_verdict(aws).await;
        }
        let payload = ReadinessRequest {
            tables: self.tables.clone(),
            queues: self.queues.clone(),
            functions: self.functions.clone(),
            alarm_prefix: self.alarm_prefix.clone(),
            tag: self.tag.clone(),
            thresholds: Thresholds {
                max_backup_age_hours: self.max_backup_age_hours,
                max_queue_depth: self.max_queue_depth,
                max_message_age_s: self.max_message_age_s,
                max_usd_per_1000_invocations: self.max_usd_per_1000_invocations,
                max_error_rate_pct: self.max_error_rate_pct,
                max_throttles_per_minute: self.max_throttles_per_minute,
                max_p95_ms: self.max_p95_ms,
                max_cold_start_ms: self.max_cold_start_ms,
            },
        };
        let done = PublishArgs::follow(
            "stoker.readiness.requested",
            crate::publish::payload_json(&payload)?,
            self.timeout,
            self.output,
        )
        .run_for_report(aws)
        .await
        .map_err(no_verdict)?;
        verdict(done.unwrap_or_default())
    }
}

impl ReadinessArgs {
    /// The newest completed readiness run of the last 24 h, printed, and its verdict.
    async fn last_verdict(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let ctx = aws.ctx().await?;
        let ops = ctx.ops()?;
        let worker = stoker_events::Worker::Readiness.name();
        let since = chrono::Utc::now() - chrono::Duration::hours(24);
        let runs = ops
            .runs_since(worker, since)
            .await
            .map_err(|e| no_verdict(CliError::new(e.to_string())))?;
        // The schedule's only: an operator's narrowed request must not pass the gate.
        let newest = runs
            .iter()
            .filter(|r| r.outcome == stoker_kit::ops::RunOutcome::Completed)
            .filter(|r| r.requested_by.starts_with("schedule:"))
            .max_by_key(|r| r.finished_at);
        let Some(run) = newest else {
            return Err(CliError {
                exit_code: NO_VERDICT,
                ..CliError::new("no scheduled readiness report in the last 24 hours").fix(
                    "run `stoker readiness` (without --last), and check that the ReadinessSchedule is enabled",
                )
            });
        };
        let report = ops
            .stored_outcome(worker, &run.event_id)
            .await
            .ok()
            .flatten();
        if self.output == Output::Text {
            println!(
                "last report: {} ({}, asked by {})",
                run.finished_at.to_rfc3339(),
                run.event_id,
                run.requested_by
            );
        }
        PublishArgs::follow("stoker.readiness.requested", String::new(), 0, self.output)
            .print_run(run, report.clone());
        verdict(Done {
            summary: run.summary.clone(),
            report,
        })
    }
}

/// Anything but invalid input that stopped the job from giving a verdict (the job failed, no
/// outcome in time, AWS unreachable): exit code [`NO_VERDICT`], so that a gate tells "not
/// ready" from "could not tell".
fn no_verdict(e: CliError) -> CliError {
    if e.exit_code == 2 {
        return e;
    }
    CliError {
        exit_code: NO_VERDICT,
        ..e
    }
}

/// Go, or the no-go error (exit code [`NO_GO`]) naming the first failure. A report too large to
/// store is read from the run's summary (`go: ...` / `no-go: ...`).
fn verdict(done: Done) -> Result<(), CliError> {
    let from_report = done.report.as_ref().and_then(|r| r["go"].as_bool());
    let from_summary = done.summary.as_deref().and_then(|s| {
        if s.starts_with("go:") {
            Some(true)
        } else if s.starts_with("no-go:") {
            Some(false)
        } else {
            None
        }
    });
    match from_report.or(from_summary) {
        Some(true) => Ok(()),
        Some(false) => Err(CliError {
            exit_code: NO_GO,
            ..CliError::new(first_failure(&done))
                .fix("fix each FAIL above, then run `stoker readiness` again")
        }),
        None => Err(CliError {
            exit_code: NO_VERDICT,
            ..CliError::new("the readiness job completed without a verdict")
                .fix("see `stoker status` and the readiness worker's logs")
        }),
    }
}

/// `no-go: N check(s) failed; first: <check> <resource>: <evidence>`, from the report or the
/// summary.
fn first_failure(done: &Done) -> String {
    let report = done.report.as_ref();
    let first = report
        .and_then(|r| r["checks"].as_array())
        .and_then(|c| c.iter().find(|c| c["status"] == "fail"))
        .map(|c| {
            format!(
                "{} {}: {}",
                c["check"].as_str().unwrap_or("?"),
                c["resource"].as_str().unwrap_or("?"),
                c["evidence"].as_str().unwrap_or("?")
            )
        });
    match (first, report.and_then(|r| r["failed"].as_u64())) {
        (Some(first), Some(n)) => format!("no-go: {n} check(s) failed; first: {first}"),
        _ => done.summary.clone().unwrap_or_else(|| "no-go".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn done(report: Option<serde_json::Value>, summary: Option<&str>) -> Done {
        Done {
            summary: summary.map(str::to_owned),
            report,
        }
    }

    #[test]
    fn go_is_ok_and_no_go_exits_1_naming_the_first_failure() {
        assert!(verdict(done(Some(json!({"go": true, "failed": 0})), None)).is_ok());
        let e = verdict(done(
            Some(json!({"go": false, "failed": 2, "checks": [
                {"check": "table.pitr", "resource": "orders", "status": "fail", "evidence": "off"}
            ]})),
            None,
        ))
        .unwrap_err();
        assert_eq!(e.exit_code, NO_GO);
        assert!(
            e.message.contains("first: table.pitr orders: off"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_report_too_large_to_store_is_read_from_its_summary() {
        let truncated = Some(json!({"truncated": true}));
        assert!(
            verdict(done(
                truncated.clone(),
                Some("go: 300 passed, 0 warned, 0 failed")
            ))
            .is_ok()
        );
        let e = verdict(done(truncated.clone(), Some("no-go: 1 failed; first: x"))).unwrap_err();
        assert_eq!(
            (e.exit_code, e.message.as_str()),
            (NO_GO, "no-go: 1 failed; first: x")
        );
        assert_eq!(
            verdict(done(truncated, None)).unwrap_err().exit_code,
            NO_VERDICT
        );
    }

    #[test]
    fn no_verdict_has_its_own_exit_code_and_invalid_input_keeps_2() {
        assert_eq!(no_verdict(CliError::new("timed out")).exit_code, NO_VERDICT);
        assert_eq!(no_verdict(CliError::invalid("bad flag")).exit_code, 2);
        assert_eq!(verdict(Done::default()).unwrap_err().exit_code, NO_VERDICT);
    }
}
