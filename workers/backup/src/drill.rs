//! Restore drills: restore the job's backup into a scratch table (`<stack>-drill-<job>-<attempt>`),
//! compare it with the source (item count, and a sample of items by key and digest), delete the
//! scratch table on every path ([`ScratchTable`]).

use std::time::Instant;

use aws_sdk_dynamodb::types::Select;
use serde::Serialize;
use stoker_events::Worker;
use stoker_events::payload::backup::BackupRequest;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::emf::{Metric, emit_metrics, emit_metrics_by};
use stoker_kit::progress::Progress;

use crate::attr::{Item, digest};
use crate::export::Manifest;
use crate::native::{self, NativeBackup};
use crate::scratch::ScratchTable;
use crate::{Backup, BackupReport, JobTag};

/// What a drill found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrillReport {
    /// `native` or `export`
    pub from: String,
    pub backup: String,
    pub scratch_table: String,
    pub source_items: u64,
    pub restored_items: u64,
    pub sampled: u64,
    pub mismatched: u64,
    pub passed: bool,
    /// The scratch table was deleted when the drill ended (else the guard or the next job's
    /// sweep deletes it).
    pub scratch_deleted: bool,
    pub duration_ms: u64,
}

impl Backup {
    /// Runs the drill within the drill timeout; a drill that did not pass fails the job.
    pub(crate) async fn checked_drill(
        &self,
        req: &BackupRequest,
        job: &JobTag,
        report: &mut BackupReport,
        manifest: Option<&Manifest>,
        progress: &Progress,
    ) -> Result<(), JobError> {
        let drill = self.drill(&req.table, job, report.native.as_ref(), manifest, progress);
        let what = format!("the restore drill of {}", req.table);
        let d = self.within_drill_timeout(&what, drill).await?;
        emit_metrics(
            Worker::Backup.name(),
            &[Metric::count(
                "BackupDrillFailed",
                f64::from(u8::from(!d.passed)),
            )],
        );
        // Per table, for readiness's `table.drill` (a drill passed within 7 days).
        emit_metrics_by(
            Worker::Backup.name(),
            ("Table", &req.table),
            &[Metric::count(
                "BackupDrillPassed",
                f64::from(u8::from(d.passed)),
            )],
        );
        report.drill = Some(d.clone());
        if d.passed {
            return Ok(());
        }
        Err(JobError::permanent(
            "drill_failed",
            format!(
                "restore drill of {} failed: {} items in the source, {} restored, {} of {} sampled items differ; the backup is kept and nothing was pruned, investigate before relying on it",
                req.table, d.source_items, d.restored_items, d.mismatched, d.sampled
            ),
        ))
    }

    /// Runs the PITR drill within the drill timeout. It passes whenever the restore reads back
    /// (the source may have changed since): what fails it is an error, which fails the job.
    pub(crate) async fn checked_pitr_drill(
        &self,
        table: &str,
        job: &JobTag,
        pitr: &stoker_events::payload::backup::PitrDrill,
        report: &mut BackupReport,
    ) -> Result<(), JobError> {
        let what = format!("the point-in-time restore drill of {table}");
        let d = self
            .within_drill_timeout(&what, self.pitr_drill(table, job, pitr))
            .await?;
        emit_metrics(
            Worker::Backup.name(),
            &[Metric::count(
                "BackupDrillFailed",
                f64::from(u8::from(!d.passed)),
            )],
        );
        report.pitr_drill = Some(d);
        Ok(())
    }

    /// `drill` cut off at the drill timeout: a retryable error naming `what` (its scratch table
    /// is deleted by its guard).
    async fn within_drill_timeout(
        &self,
        what: &str,
        drill: impl std::future::Future<Output = Result<DrillReport, JobError>>,
    ) -> Result<DrillReport, JobError> {
        tokio::time::timeout(self.drill_timeout, drill)
            .await
            .map_err(|_| {
                JobError::retryable(format!(
                    "{what} did not finish within {:?} (STOKER_DRILL_TIMEOUT_SECS); its scratch table is deleted, nothing was pruned",
                    self.drill_timeout
                ))
            })?
    }

    /// Restores this job's backup (native when there is one, else the export) into a scratch
    /// table and compares it with the source. The scratch table is deleted on every path: here
    /// when the drill ends, by its guard when the drill is dropped (a timeout) or panics.
    pub async fn drill(
        &self,
        table: &str,
        job: &JobTag,
        native: Option<&NativeBackup>,
        manifest: Option<&Manifest>,
        progress: &Progress,
    ) -> Result<DrillReport, JobError> {
        let started = Instant::now();
        if native.is_none() && manifest.is_none() {
            return Err(JobError::permanent(
                "nothing_to_drill",
                "restore_drill needs a backup: mode native, export or both",
            ));
        }
        let ddb = self.exporter.ddb.clone();
        // The source's key schema first: nothing is created when the source cannot be read.
        let keys = key_names(&ddb, table).await?;
        let mut scratch = ScratchTable::new(ddb.clone(), self.scope.drill_table(job));
        let mut report = DrillReport {
            scratch_table: scratch.name().to_owned(),
            ..Default::default()
        };
        let restored = match (native, manifest) {
            (Some(b), _) => {
                report.from = "native".into();
                report.backup = b.name.clone();
                progress.phase("restoring (native)", 0);
                native::restore(&ddb, &b.arn, scratch.name(), self.backup_wait).await
            }
            (None, m) => {
                let m = m.ok_or_else(|| JobError::permanent("nothing_to_drill", "no backup"))?;
                report.from = "export".into();
                report.backup = m.export_id.clone();
                self.exporter
                    .restore(m, scratch.name(), progress)
                    .await
                    .map(|_| ())
            }
        };
        let compared = match restored {
            Ok(()) => {
                let name = scratch.name().to_owned();
                compare(&ddb, table, &name, &keys, self.drill_sample, &mut report).await
            }
            Err(e) => Err(e),
        };
        report.scratch_deleted = scratch.clean_up().await;
        compared?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}

/// The names of `table`'s key attributes (DescribeTable): read before a drill creates anything.
pub async fn key_names(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<String>, JobError> {
    Ok(ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeTable {table}"), e))?
        .table()
        .map(|t| {
            t.key_schema()
                .iter()
                .map(|k| k.attribute_name().to_owned())
                .collect()
        })
        .unwrap_or_default())
}

/// Counts the items of `table` (Scan with Select COUNT, every page).
pub async fn count(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<u64, JobError> {
    let mut n = 0u64;
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("Scan (count) {table}"), e))?;
        n += page.count() as u64;
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(n);
        }
    }
}

/// Compares `scratch` with `source`: counts, and `sample` source items looked up by key.
pub async fn compare(
    ddb: &aws_sdk_dynamodb::Client,
    source: &str,
    scratch: &str,
    key_names: &[String],
    sample: i32,
    report: &mut DrillReport,
) -> Result<(), JobError> {
    let started = Instant::now();
    report.source_items = count(ddb, source).await?;
    report.restored_items = count(ddb, scratch).await?;
    let page = ddb
        .scan()
        .table_name(source)
        .limit(sample)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Scan (sample) {source}"), e))?;
    for item in page.items() {
        report.sampled += 1;
        let key: Item = item
            .iter()
            .filter(|(k, _)| key_names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let got = ddb
            .get_item()
            .table_name(scratch)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetItem {scratch}"), e))?;
        if got.item().map(digest) != Some(digest(item)) {
            report.mismatched += 1;
        }
    }
    report.passed = report.source_items == report.restored_items && report.mismatched == 0;
    report.duration_ms += started.elapsed().as_millis() as u64;
    Ok(())
}
