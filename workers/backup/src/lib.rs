//! The backup worker.
//!
//! - Scope ([`scope`]): only tables whose name starts with a required, non-empty prefix
//!   (`STOKER_BACKUP_TABLE_PREFIX`); scratch tables are named `<stack>-drill-<job>-<attempt>`.
//! - Native backups ([`native`]): `CreateBackup` named `stoker-<table>-<UTC time>-<job id>`,
//!   tagged, waited on until AVAILABLE; optional point-in-time recovery check/enable.
//! - Portable exports ([`export`]): parallel segmented Scan to gzip'd JSON Lines parts in S3 and a
//!   manifest written last; restore with BatchWriteItem, unprocessed items retried.
//! - One backup per job: a retried job (a failed drill or prune, a crash, a timeout) reuses the
//!   backup or complete export an earlier attempt made, found by the job id in its name.
//! - Restore drills ([`drill`]): the new backup restored into a scratch table and compared with
//!   the source; a failed drill fails the job (a `stoker.job.failed` event and the
//!   `BackupDrillFailed` metric). Scratch tables are deleted on every path ([`scratch`]).
//! - Retention ([`retention`]): only after the new backup is AVAILABLE and its drill (if any)
//!   passed; keep-last N and max age, never below min-keep AVAILABLE backups, every page of
//!   ListBackups, only stoker-made backups; exports pruned the same way.

pub mod attr;
pub mod drill;
pub mod export;
pub mod native;
pub mod pitr;
pub mod retention;
pub mod scope;
pub mod scratch;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use stoker_events::Worker;
use stoker_events::payload::backup::{BackupMode, BackupRequest};
use stoker_kit::progress::Progress;
use stoker_kit::{Job, JobCtx, JobError, RetryPolicy};

use crate::drill::DrillReport;
use crate::export::{Exporter, Manifest};
use crate::native::NativeBackup;
use crate::retention::{Kept, to_prune};
pub use crate::scope::{JobTag, Scope, ScopeError};

/// The backup worker's handler.
#[derive(Debug, Clone)]
pub struct Backup {
    pub exporter: Exporter,
    /// Where backup metadata is recorded (`STOKER_OPS_TABLE`).
    pub ops_table: String,
    /// How long a native backup may take to become AVAILABLE, and a restored table ACTIVE.
    pub backup_wait: Duration,
    /// A drill is cut after this (its scratch table deleted); scratch tables older than this
    /// are leftovers, deleted by the sweep at the start of each job (`STOKER_DRILL_TIMEOUT_SECS`).
    pub drill_timeout: Duration,
    /// ListBackups page size (smaller pages are for tests of pagination).
    pub page_size: i32,
    /// Items sampled by a restore drill.
    pub drill_sample: i32,
    /// The tables it may back up and its scratch tables' names.
    pub scope: Scope,
}

/// What a backup job did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackupReport {
    pub table: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeBackup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitr_was_enabled: Option<bool>,
    pub pruned_backups: Vec<String>,
    pub pruned_exports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillReport>,
    /// The drill of point-in-time recovery (`pitr_drill`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pitr_drill: Option<DrillReport>,
    /// Leftover scratch tables of earlier drills that this job deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swept_scratch_tables: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub export_id: String,
    pub items: u64,
    pub parts: usize,
    pub bytes: u64,
    pub duration_ms: u64,
    /// Made by an earlier attempt of this job and reused.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
}

/// The backup worker's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// Where exports go (`STOKER_EXPORT_BUCKET`; none: exports are refused).
    pub bucket: String,
    /// The tables it may act on (`STOKER_STACK`, `STOKER_BACKUP_TABLE_PREFIX`, required).
    pub scope: Scope,
    /// How long a restore drill may take (`STOKER_DRILL_TIMEOUT_SECS`, default 600).
    pub drill_timeout: Option<Duration>,
}

impl stoker_kit::section::Section for BackupSettings {
    fn read(vars: &stoker_kit::section::Vars<'_>) -> Result<Self, stoker_kit::config::ConfigError> {
        let scope =
            Scope::from_lookup(|k| vars.text(k)).map_err(|e| stoker_kit::config::ConfigError {
                var: e.var,
                problem: format!("{}. {}", e.problem, e.fix),
                output: None,
            })?;
        Ok(BackupSettings {
            bucket: vars.text("STOKER_EXPORT_BUCKET").unwrap_or_default(),
            scope,
            drill_timeout: vars
                .number::<u64>("STOKER_DRILL_TIMEOUT_SECS")?
                .map(|s| Duration::from_secs(s.max(1))),
        })
    }
}

impl Backup {
    /// From the kit's configuration (its ops table) and the backup worker's own settings.
    pub fn from_config(
        sdk: &aws_config::SdkConfig,
        config: &stoker_kit::WorkerConfig,
        settings: BackupSettings,
    ) -> Self {
        let scope = settings.scope.with_own_table(&config.ops_table);
        let mut b = Self::new(sdk, &settings.bucket, &config.ops_table, scope);
        if let Some(t) = settings.drill_timeout {
            b.drill_timeout = t;
        }
        b
    }

    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, ops_table: &str, scope: Scope) -> Self {
        let s3 = export::s3_client(sdk);
        Backup {
            exporter: Exporter {
                ddb: aws_sdk_dynamodb::Client::new(sdk),
                s3,
                bucket: bucket.to_owned(),
                segments: 4,
                part_bytes: export::PART_BYTES,
                retry: RetryPolicy::default(),
            },
            ops_table: ops_table.to_owned(),
            backup_wait: Duration::from_secs(300),
            drill_timeout: Duration::from_secs(600),
            page_size: 100,
            drill_sample: 50,
            scope,
        }
    }

    fn ddb(&self) -> &aws_sdk_dynamodb::Client {
        &self.exporter.ddb
    }

    /// Runs one attempt of one backup job.
    pub async fn run(&self, req: &BackupRequest, job: &JobTag) -> Result<BackupReport, JobError> {
        self.run_with(req, job, &Progress::default()).await
    }

    /// [`run`](Self::run), counting items exported and restored in `progress`.
    pub async fn run_with(
        &self,
        req: &BackupRequest,
        job: &JobTag,
        progress: &Progress,
    ) -> Result<BackupReport, JobError> {
        self.scope.check_table(&req.table)?;
        let mut report = BackupReport {
            table: req.table.clone(),
            ..Default::default()
        };
        report.swept_scratch_tables = self.sweep().await;
        if req.ensure_pitr {
            report.pitr_was_enabled = Some(native::ensure_pitr(self.ddb(), &req.table).await?);
        }
        let native_on = matches!(req.mode, BackupMode::Native | BackupMode::Both);
        let export_on = matches!(req.mode, BackupMode::Export | BackupMode::Both);
        if native_on {
            let b = native::ensure(
                self.ddb(),
                &req.table,
                &job.id,
                self.backup_wait,
                self.page_size,
            )
            .await?;
            self.record(&req.table, "native", &b.name, &b.arn, b.created, &req.tags)
                .await?;
            report.native = Some(b);
        }
        let mut manifest: Option<Manifest> = None;
        if export_on {
            let (m, summary) = self
                .export_once(&req.table, job, progress, &req.tags)
                .await?;
            report.export = Some(summary);
            manifest = Some(m);
        }
        // Nothing is pruned before the new backup is AVAILABLE (above) and its drill passed.
        if req.restore_drill {
            self.checked_drill(req, job, &mut report, manifest.as_ref(), progress)
                .await?;
        }
        if let Some(p) = &req.pitr_drill {
            self.checked_pitr_drill(&req.table, job, p, &mut report)
                .await?;
        }
        self.prune(req, native_on, export_on, &mut report).await?;
        Ok(report)
    }

    /// Deletes this stack's leftover scratch tables; a failure is logged, never fails the job.
    async fn sweep(&self) -> Vec<String> {
        let prefix = self.scope.drill_prefix();
        match scratch::sweep(self.ddb(), &prefix, self.drill_timeout, Utc::now()).await {
            Ok(swept) => swept,
            Err(e) => {
                tracing::warn!(error = %e, prefix, "leftover scratch tables not swept; the next job tries again");
                Vec::new()
            }
        }
    }

    /// The export of this job: a complete one an earlier attempt made, or a new one (a fresh
    /// export id per attempt, so a crashed attempt's parts are never mixed into this one).
    async fn export_once(
        &self,
        table: &str,
        job: &JobTag,
        progress: &Progress,
        tags: &BTreeMap<String, String>,
    ) -> Result<(Manifest, ExportSummary), JobError> {
        let started = Instant::now();
        self.require_bucket()?;
        let mine = format!("-{}-", job.id);
        let earlier = self
            .exporter
            .list(table)
            .await?
            .into_iter()
            .find(|(id, _)| id.contains(&mine));
        let (m, reused) = match earlier {
            Some((id, _)) => {
                tracing::info!(export = %id, "reusing the export an earlier attempt of this job made");
                (self.exporter.manifest(table, &id).await?, true)
            }
            None => {
                let id = format!(
                    "{}-{}-{}",
                    Utc::now().format("%Y%m%dT%H%M%SZ"),
                    job.id,
                    job.attempt
                );
                (
                    self.exporter.export(table, &id, None, progress).await?,
                    false,
                )
            }
        };
        let location = format!("s3://{}/{}", self.exporter.bucket, export::prefix(table));
        self.record(table, "export", &m.export_id, &location, m.created_at, tags)
            .await?;
        let summary = ExportSummary {
            export_id: m.export_id.clone(),
            items: m.item_count,
            parts: m.parts.len(),
            bytes: m.parts.iter().map(|p| p.bytes).sum(),
            duration_ms: started.elapsed().as_millis() as u64,
            reused,
        };
        Ok((m, summary))
    }

    /// Applies the retention to the table's native backups and exports.
    async fn prune(
        &self,
        req: &BackupRequest,
        native_on: bool,
        export_on: bool,
        report: &mut BackupReport,
    ) -> Result<(), JobError> {
        let now = Utc::now();
        if native_on {
            let all = native::list(self.ddb(), &req.table, self.page_size, false).await?;
            let kept: Vec<Kept> = all
                .iter()
                .map(|b| Kept {
                    id: b.arn.clone(),
                    created: b.created,
                    available: b.is_available(),
                })
                .collect();
            for arn in to_prune(kept, &req.retention, now) {
                native::delete(self.ddb(), &arn).await?;
                report.pruned_backups.push(arn);
            }
        }
        if export_on {
            let all = self.exporter.list(&req.table).await?;
            let kept: Vec<Kept> = all
                .into_iter()
                .map(|(id, created)| Kept {
                    id,
                    created,
                    available: true,
                })
                .collect();
            for id in to_prune(kept, &req.retention, now) {
                self.exporter.delete(&req.table, &id).await?;
                report.pruned_exports.push(id);
            }
        }
        Ok(())
    }

    fn require_bucket(&self) -> Result<(), JobError> {
        if self.exporter.bucket.is_empty() {
            return Err(JobError::permanent(
                "no_export_bucket",
                "STOKER_EXPORT_BUCKET is not set: set it to the stack output ExportBucketName to use mode export",
            ));
        }
        Ok(())
    }

    /// Records a backup's metadata and the request's tags in the ops table (`BACKUP#<table>`,
    /// sorted by creation time). Keyed by the backup's own creation time: a retry that reuses
    /// it rewrites the same row.
    async fn record(
        &self,
        table: &str,
        kind: &str,
        name: &str,
        location: &str,
        created: DateTime<Utc>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), JobError> {
        if self.ops_table.is_empty() {
            return Ok(());
        }
        let item = BackupItem {
            pk: format!("BACKUP#{table}"),
            sk: format!("{}#{kind}#{name}", created.to_rfc3339()),
            kind,
            name,
            location,
            tags,
            expires_at: Utc::now().timestamp() + 400 * 86_400,
        };
        stoker_kit::ops::items::put(self.ddb(), &self.ops_table, &item, "backup record").await
    }
}

/// A backup or export as recorded in the ops table (readiness's `table.backup` reads the
/// exports: `kind = export`, the time from `sk`); kept 400 days.
#[derive(Serialize)]
struct BackupItem<'a> {
    pk: String,
    sk: String,
    kind: &'a str,
    name: &'a str,
    location: &'a str,
    tags: &'a BTreeMap<String, String>,
    expires_at: i64,
}

impl Job for Backup {
    type Event = stoker_events::Event;
    type Request = BackupRequest;
    type Report = BackupReport;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::Backup.into()
    }

    async fn run(&self, req: BackupRequest, ctx: &JobCtx) -> Result<BackupReport, JobError> {
        let event = &ctx.event;
        // The job id names what this job makes (found again by a retry); the attempt names
        // what must never be shared between attempts (scratch tables, export parts).
        let job = JobTag::new(&event.id.replace('-', ""), ctx.receive_count, ctx.attempt);
        // Progress (items exported / restored) goes to the ops table for `stoker backup`.
        let progress = Arc::new(Progress::default());
        let reporter = (!self.ops_table.is_empty()).then(|| {
            stoker_kit::progress::report(
                self.ddb().clone(),
                self.ops_table.clone(),
                Worker::Backup.name(),
                event.id.to_string(),
                progress.clone(),
                Duration::from_millis(500),
            )
        });
        let result = self.run_with(&req, &job, &progress).await;
        if let Some(r) = reporter {
            r.abort();
            progress.phase("done", 0);
            let _ = stoker_kit::progress::write(
                self.ddb(),
                &self.ops_table,
                Worker::Backup.name(),
                &event.id.to_string(),
                &progress,
            )
            .await;
        }
        result
    }
}

impl stoker_kit::Summary for BackupReport {
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = &self.native {
            parts.push(format!("native backup {}", n.name));
        }
        if let Some(e) = &self.export {
            parts.push(format!(
                "export: {} items in {} parts ({} bytes)",
                e.items, e.parts, e.bytes
            ));
        }
        if let Some(d) = &self.drill {
            parts.push(format!(
                "drill {}: {}/{} items, {} sampled, {} differ",
                if d.passed { "passed" } else { "FAILED" },
                d.restored_items,
                d.source_items,
                d.sampled,
                d.mismatched
            ));
        }
        parts.push(format!(
            "pruned {}",
            self.pruned_backups.len() + self.pruned_exports.len()
        ));
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoker_events::payload::backup::Retention;

    /// A worker whose clients point at a closed port: any AWS call fails.
    fn offline(prefix: &str) -> Backup {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Backup::new(
            &sdk,
            "bucket",
            "",
            Scope::new("stoker", prefix).expect("scope"),
        )
    }

    #[tokio::test]
    async fn a_table_outside_the_prefix_is_refused_before_any_aws_call() {
        let req = BackupRequest {
            table: "payroll".into(),
            mode: BackupMode::Both,
            retention: Retention::default(),
            restore_drill: true,
            ensure_pitr: true,
            pitr_drill: None,
            tags: Default::default(),
        };
        let err = offline("app-")
            .run(&req, &JobTag::new("0198a5f27c1e70008000000000000001", 1, 1))
            .await
            .expect_err("out of scope");
        assert_eq!(err.code(), "table_out_of_scope", "{err:?}");
        assert!(err.to_string().contains("`app-`"), "{err}");
    }
}
