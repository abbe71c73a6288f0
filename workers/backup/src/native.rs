//! Native DynamoDB backups: create and wait, list (every page), delete, restore, PITR.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    BackupStatus, BackupTypeFilter, PointInTimeRecoverySpecification, TableStatus,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::wait::{self, Pace};

/// A stoker-made backup's name: `stoker-<table>-<UTC timestamp>-<job id>`. The job id lets a
/// retried job find the backup an earlier attempt made instead of making a second one.
pub fn backup_name(table: &str, at: DateTime<Utc>, job_id: &str) -> String {
    format!("stoker-{table}-{}-{job_id}", at.format("%Y%m%dT%H%M%SZ"))
}

/// A native backup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NativeBackup {
    pub arn: String,
    pub name: String,
    pub created: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Only AVAILABLE backups are usable for a restore and counted by retention.
    #[serde(skip)]
    pub status: BackupStatus,
    /// Made by an earlier attempt of this job and reused.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

impl NativeBackup {
    pub fn is_available(&self) -> bool {
        self.status == BackupStatus::Available
    }
}

/// The backup of job `job_id`: the one an earlier attempt made (CREATING or AVAILABLE) if
/// there is one, else a new one; then waits until it is AVAILABLE (or `within` passes).
/// (DynamoDB tags tables, not backups: a request's tags go on the backup's ops-table record.)
pub async fn ensure(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    job_id: &str,
    within: Duration,
    page_size: i32,
) -> Result<NativeBackup, JobError> {
    let suffix = format!("-{job_id}");
    let earlier = list(ddb, table, page_size, false)
        .await?
        .into_iter()
        .find(|b| b.name.ends_with(&suffix) && b.status != BackupStatus::Deleted);
    let (arn, name, reused) = match earlier {
        Some(b) => {
            tracing::info!(backup = %b.name, "reusing the backup an earlier attempt of this job made");
            (b.arn, b.name, true)
        }
        None => {
            let name = backup_name(table, Utc::now(), job_id);
            let out = ddb
                .create_backup()
                .table_name(table)
                .backup_name(&name)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("CreateBackup {table}"), e))?;
            let arn = out
                .backup_details()
                .map(|d| d.backup_arn().to_owned())
                .ok_or_else(|| JobError::retryable("CreateBackup answered without a backup ARN"))?;
            (arn, name, false)
        }
    };
    let mut b = wait_available(ddb, &arn, &name, within).await?;
    b.reused = reused;
    Ok(b)
}

/// Waits until backup `arn` is AVAILABLE; its creation time is the one DynamoDB reports.
async fn wait_available(
    ddb: &aws_sdk_dynamodb::Client,
    arn: &str,
    name: &str,
    within: Duration,
) -> Result<NativeBackup, JobError> {
    let available = wait::until(within, Pace::every(Duration::from_millis(500)), || async {
        let d = ddb
            .describe_backup()
            .backup_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeBackup", e))?;
        let details = d.backup_description().and_then(|b| b.backup_details());
        Ok(details
            .filter(|b| b.backup_status() == &BackupStatus::Available)
            .map(|b| NativeBackup {
                arn: arn.to_owned(),
                name: name.to_owned(),
                created: to_utc(b.backup_creation_date_time()).unwrap_or_else(Utc::now),
                size_bytes: b.backup_size_bytes(),
                reused: false,
                status: BackupStatus::Available,
            }))
    })
    .await?;
    available.ok_or_else(|| {
        JobError::retryable(format!(
            "backup {name} was not AVAILABLE within {within:?}; a retry of this job waits for the same backup"
        ))
    })
}

pub(crate) fn to_utc(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// Every backup of `table` (all pages, `page_size` per call); only stoker-made ones unless
/// `all`.
pub async fn list(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    page_size: i32,
    all: bool,
) -> Result<Vec<NativeBackup>, JobError> {
    let prefix = format!("stoker-{table}-");
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = ddb
            .list_backups()
            .table_name(table)
            .backup_type(BackupTypeFilter::User)
            .limit(page_size)
            .set_exclusive_start_backup_arn(start.clone())
            .send()
            .await
            .map_err(|e| sdk_error("ListBackups", e))?;
        for b in page.backup_summaries() {
            let name = b.backup_name().unwrap_or_default();
            if all || name.starts_with(&prefix) {
                out.push(NativeBackup {
                    arn: b.backup_arn().unwrap_or_default().to_owned(),
                    name: name.to_owned(),
                    created: b
                        .backup_creation_date_time()
                        .and_then(to_utc)
                        .unwrap_or_default(),
                    size_bytes: b.backup_size_bytes(),
                    reused: false,
                    status: b.backup_status().cloned().unwrap_or(BackupStatus::Deleted),
                });
            }
        }
        start = page.last_evaluated_backup_arn().map(str::to_owned);
        if start.is_none() || page.backup_summaries().is_empty() {
            return Ok(out);
        }
    }
}

pub async fn delete(ddb: &aws_sdk_dynamodb::Client, arn: &str) -> Result<(), JobError> {
    ddb.delete_backup()
        .backup_arn(arn)
        .send()
        .await
        .map_err(|e| sdk_error("DeleteBackup", e))?;
    Ok(())
}

/// Restores `arn` into `target` and waits until the table is ACTIVE.
pub async fn restore(
    ddb: &aws_sdk_dynamodb::Client,
    arn: &str,
    target: &str,
    within: Duration,
) -> Result<(), JobError> {
    ddb.restore_table_from_backup()
        .backup_arn(arn)
        .target_table_name(target)
        .send()
        .await
        .map_err(|e| sdk_error("RestoreTableFromBackup", e))?;
    wait_active(ddb, target, within).await
}

/// Waits until `table` is ACTIVE. A table not found yet (just restored) is waited for; any
/// other error the SDK gave up on ends the wait (a denied or invalid request never turns
/// ACTIVE).
pub async fn wait_active(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    within: Duration,
) -> Result<(), JobError> {
    let active = wait::until(within, Pace::every(Duration::from_millis(300)), || async {
        match ddb.describe_table().table_name(table).send().await {
            Ok(d) => Ok(
                (d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active))
                    .then_some(()),
            ),
            // Not there yet: a restore or a create that has not shown up.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => {
                let e = sdk_error(&format!("DescribeTable {table}"), e);
                if e.is_permanent() { Err(e) } else { Ok(None) }
            }
        }
    })
    .await?;
    active.ok_or_else(|| {
        JobError::retryable(format!("table {table} was not ACTIVE within {within:?}"))
    })
}

/// Turns point-in-time recovery on if it is off; returns whether it was already on.
pub async fn ensure_pitr(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<bool, JobError> {
    let d = ddb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeContinuousBackups {table}"), e))?;
    let on = d
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED");
    if !on {
        ddb.update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(|e| JobError::permanent("pitr", e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk_error(&format!("UpdateContinuousBackups {table}"), e))?;
    }
    Ok(on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_table_and_a_sortable_utc_time() {
        let at = DateTime::from_timestamp(1_795_400_000, 0).unwrap();
        assert_eq!(
            backup_name("orders", at, "0198a5f27c1e70008000000000000001"),
            "stoker-orders-20261123T021320Z-0198a5f27c1e70008000000000000001"
        );
    }
}
