//! Restore-drill scratch tables never outlive their drill: a guard deletes the table on every
//! path (an error, a timeout that drops the job, a panic), and each backup job first sweeps
//! this stack's scratch tables older than the drill timeout (what a killed process or a frozen
//! Lambda left behind).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

/// How long a delete keeps trying while the table is still being created (DynamoDB refuses to
/// delete a table that is CREATING); past it, the next job's sweep deletes the table.
pub const DELETE_PATIENCE: Duration = Duration::from_secs(60);

/// A scratch table that is deleted when the guard goes, unless [`ScratchTable::delete`]
/// already deleted it. Armed before the table is created: a create whose answer is lost is
/// covered too.
#[derive(Debug)]
pub struct ScratchTable {
    ddb: aws_sdk_dynamodb::Client,
    name: String,
    armed: bool,
}

impl ScratchTable {
    pub fn new(ddb: aws_sdk_dynamodb::Client, name: String) -> ScratchTable {
        ScratchTable {
            ddb,
            name,
            armed: true,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the table (waiting while it is still being created, up to [`DELETE_PATIENCE`])
    /// and disarms the guard. If this future is dropped half-way, the guard stays armed.
    pub async fn delete(&mut self) -> Result<(), JobError> {
        delete_table(&self.ddb, &self.name, DELETE_PATIENCE).await?;
        self.armed = false;
        Ok(())
    }

    /// [`delete`](Self::delete) at the end of a drill: whether the table is gone (a failure is
    /// logged; the guard keeps trying, then the next job's sweep).
    pub async fn clean_up(&mut self) -> bool {
        match self.delete().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(table = %self.name, error = %e, "scratch table not deleted yet; its guard keeps trying, then the next job's sweep");
                false
            }
        }
    }
}

impl Drop for ScratchTable {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (ddb, name) = (self.ddb.clone(), std::mem::take(&mut self.name));
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                tracing::warn!(table = %name, "drill ended early: deleting its scratch table");
                rt.spawn(async move {
                    if let Err(e) = delete_table(&ddb, &name, DELETE_PATIENCE).await {
                        tracing::warn!(table = %name, error = %e, "scratch table not deleted; the next backup job's sweep deletes it");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(table = %name, "no runtime to delete the scratch table; the next backup job's sweep deletes it");
            }
        }
    }
}

/// Deletes `table`; gone already counts as deleted. While DynamoDB answers that the table is in
/// use (still CREATING or UPDATING), tries again with backoff until `patience` passes (the SDK
/// retries failed calls itself).
pub async fn delete_table(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    patience: Duration,
) -> Result<(), JobError> {
    let deadline = Instant::now() + patience;
    // Err((in use, error)).
    let delete = || async {
        let err = match ddb.delete_table().table_name(table).send().await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        match err.code() {
            Some("ResourceNotFoundException") => Ok(()),
            code => Err((
                code == Some("ResourceInUseException"),
                sdk_error(&format!("DeleteTable {table}"), err),
            )),
        }
    };
    let waits = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times();
    delete
        .retry(waits)
        .when(|(in_use, _)| *in_use)
        .adjust(|_, wait| wait.filter(|w| Instant::now() + *w <= deadline))
        .await
        .map_err(|(_, e)| e)
}

/// Deletes the tables named `<prefix>...` created more than `older_than` before `now`; returns
/// their names. A table that cannot be deleted yet (still CREATING) is left for the next sweep.
pub async fn sweep(
    ddb: &aws_sdk_dynamodb::Client,
    prefix: &str,
    older_than: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<String>, JobError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = ddb
            .list_tables()
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .map_err(|e| sdk_error("ListTables", e))?;
        names.extend(
            page.table_names()
                .iter()
                .filter(|n| n.starts_with(prefix))
                .cloned(),
        );
        start = page.last_evaluated_table_name().map(str::to_owned);
        if start.is_none() {
            break;
        }
    }
    let cutoff = now - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
    let mut swept = Vec::new();
    for name in names {
        let created = match ddb.describe_table().table_name(&name).send().await {
            Ok(d) => d
                .table()
                .and_then(|t| t.creation_date_time())
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
            Err(e) => {
                tracing::warn!(table = %name, error = %sdk_error("DescribeTable", e), "scratch table not examined");
                continue;
            }
        };
        // A table of unknown age is left alone: it may belong to a drill still running.
        if created.is_none_or(|c| c >= cutoff) {
            continue;
        }
        match delete_table(ddb, &name, Duration::ZERO).await {
            Ok(()) => swept.push(name),
            Err(e) => {
                tracing::warn!(table = %name, error = %e, "leftover scratch table not deleted yet")
            }
        }
    }
    Ok(swept)
}
