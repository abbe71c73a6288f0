//! `stoker readiness`: run the readiness checks through the pipeline, print every check with its
//! evidence, and exit 0 on go, 1 on no-go (a deploy pipeline gates on it).

use clap::Args;
use stoker_events::payload::readiness::{ReadinessRequest, Thresholds};

use crate::context::{AwsArgs, Output};
use crate::error::CliError;
use crate::publish::PublishArgs;

/// The exit code of a no-go.
pub const NO_GO: i32 = 1;

#[derive(Debug, Args)]
pub struct ReadinessArgs {
    /// DynamoDB tables to check (repeatable; default: the stack's ops table).
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// SQS queues to check by name (repeatable; default: every queue of the stack).
    #[arg(long = "queue")]
    pub queues: Vec<String>,
    /// Check the alarms whose names start with this (default: the stack's name and `-`).
    #[arg(long)]
    pub alarm_prefix: Option<String>,
    /// A table's newest backup may be at most this many hours old.
    #[arg(long, default_value_t = 26)]
    pub max_backup_age_hours: u32,
    /// A queue deeper than this warns.
    #[arg(long, default_value_t = 100)]
    pub max_queue_depth: u64,
    /// How long to wait for the verdict, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

impl ReadinessArgs {
    pub async fn run(&self, aws: &AwsArgs) -> Result<(), CliError> {
        let payload = ReadinessRequest {
            tables: self.tables.clone(),
            queues: self.queues.clone(),
            alarm_prefix: self.alarm_prefix.clone(),
            thresholds: Thresholds {
                max_backup_age_hours: self.max_backup_age_hours,
                max_queue_depth: self.max_queue_depth,
            },
        };
        let report = PublishArgs::follow(
            "stoker.readiness.requested",
            crate::publish::payload_json(&payload)?,
            self.timeout,
            self.output,
        )
        .run_for_report(aws)
        .await?;
        verdict(report.as_ref())
    }
}

/// Go, or the no-go error (exit code [`NO_GO`]) naming the first failure.
fn verdict(report: Option<&serde_json::Value>) -> Result<(), CliError> {
    let report = report.ok_or_else(|| {
        CliError::new("the readiness job completed without a report")
            .fix("see `stoker status` and the readiness worker's logs")
    })?;
    if report["go"].as_bool() == Some(true) {
        return Ok(());
    }
    let first = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["status"] == "fail"))
        .map(|c| {
            format!(
                "{} {}: {}",
                c["check"].as_str().unwrap_or("?"),
                c["resource"].as_str().unwrap_or("?"),
                c["evidence"].as_str().unwrap_or("?")
            )
        })
        .unwrap_or_else(|| "a check failed".into());
    Err(CliError {
        exit_code: NO_GO,
        ..CliError::new(format!(
            "no-go: {} check(s) failed; first: {first}",
            report["failed"]
        ))
        .fix("fix each FAIL above, then run `stoker readiness` again")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn go_is_ok_and_no_go_exits_1_naming_the_first_failure() {
        assert!(super::verdict(Some(&json!({"go": true, "failed": 0}))).is_ok());
        let e = super::verdict(Some(&json!({"go": false, "failed": 2, "checks": [
            {"check": "table.pitr", "resource": "orders", "status": "fail", "evidence": "off"}
        ]})))
        .unwrap_err();
        assert_eq!(e.exit_code, super::NO_GO);
        assert!(
            e.message.contains("first: table.pitr orders: off"),
            "{}",
            e.message
        );
        assert!(super::verdict(None).is_err());
    }
}
