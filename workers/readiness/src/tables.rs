//! Tables: point-in-time recovery on (`table.pitr`), and a native backup newer than the limit
//! (`table.backup`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{BackupStatus, BackupTypeFilter};
use chrono::{DateTime, Utc};

use crate::check::Check;
use crate::evidence::{age, unreadable};

/// Both checks of `table`.
pub async fn check(
    ddb: &Client,
    table: &str,
    max_backup_age_hours: u32,
    now: DateTime<Utc>,
) -> Vec<Check> {
    vec![
        pitr(ddb, table).await,
        backup(ddb, table, max_backup_age_hours, now).await,
    ]
}

async fn pitr(ddb: &Client, table: &str) -> Check {
    const CHECK: &str = "table.pitr";
    let out = match ddb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => return Check::fail(CHECK, table, unreadable("DescribeContinuousBackups", &e)),
    };
    let status = out
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| "DISABLED".into());
    if status == "ENABLED" {
        Check::pass(CHECK, table, "point-in-time recovery is on")
    } else {
        Check::fail(
            CHECK,
            table,
            format!(
                "point-in-time recovery is {status}: turn it on (a backup job with ensure_pitr, or UpdateContinuousBackups)"
            ),
        )
    }
}

async fn backup(ddb: &Client, table: &str, max_age_hours: u32, now: DateTime<Utc>) -> Check {
    const CHECK: &str = "table.backup";
    let mut newest: Option<(DateTime<Utc>, String)> = None;
    let mut start: Option<String> = None;
    loop {
        let page = match ddb
            .list_backups()
            .table_name(table)
            .backup_type(BackupTypeFilter::All)
            .set_exclusive_start_backup_arn(start.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => return Check::fail(CHECK, table, unreadable("ListBackups", &e)),
        };
        for b in page.backup_summaries() {
            if b.backup_status() != Some(&BackupStatus::Available) {
                continue;
            }
            let Some(at) = b
                .backup_creation_date_time()
                .and_then(|t| DateTime::from_timestamp(t.secs(), 0))
            else {
                continue;
            };
            if newest.as_ref().is_none_or(|(n, _)| at > *n) {
                newest = Some((at, b.backup_name().unwrap_or_default().to_owned()));
            }
        }
        start = page.last_evaluated_backup_arn().map(str::to_owned);
        if start.is_none() || page.backup_summaries().is_empty() {
            break;
        }
    }
    let Some((at, name)) = newest else {
        return Check::fail(
            CHECK,
            table,
            "no available backup: run `stoker backup` for it, or check its schedule",
        );
    };
    let hours = (now - at).num_hours();
    if hours <= i64::from(max_age_hours) {
        Check::pass(
            CHECK,
            table,
            format!("newest backup {} old ({name})", age(hours)),
        )
    } else {
        Check::fail(
            CHECK,
            table,
            format!(
                "newest backup {} old ({name}), older than {max_age_hours} h: is its backup schedule running?",
                age(hours)
            ),
        )
    }
}
