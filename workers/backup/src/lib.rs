//! The backup worker.
//!
//! - Native backups ([`native`]): `CreateBackup` named `stoker-<table>-<UTC time>`, tagged,
//!   waited on until AVAILABLE; optional point-in-time recovery check/enable.
//! - Portable exports ([`export`]): parallel segmented Scan to gzip'd JSON Lines parts in S3 and a
//!   manifest written last; restore with BatchWriteItem, unprocessed items retried.
//! - Retention ([`retention`]): keep-last N and max age, never below min-keep, every page of
//!   ListBackups, only stoker-made backups; exports pruned the same way.
//! - Restore drills ([`drill`]): the newest backup restored into a scratch table and compared
//!   with the source; a failed drill fails the job (a `stoker.job.failed` event and the
//!   `BackupDrillFailed` metric).

pub mod attr;
pub mod drill;
pub mod export;
pub mod native;
pub mod retention;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde::Serialize;
use stoker_events::payload::backup::{BackupMode, BackupRequest};
use stoker_events::{Body, Event, Worker};
use stoker_kit::emf::{Metric, emit_metrics};
use stoker_kit::progress::Progress;
use stoker_kit::{Handler, JobCtx, JobError, Outcome, RetryPolicy};

use crate::drill::DrillReport;
use crate::export::{Exporter, Manifest};
use crate::native::NativeBackup;
use crate::retention::{Kept, to_prune};

/// The backup worker's handler.
#[derive(Debug, Clone)]
pub struct Backup {
    pub exporter: Exporter,
    /// Where backup metadata is recorded (`STOKER_OPS_TABLE`).
    pub ops_table: String,
    /// How long a native backup may take to become AVAILABLE.
    pub backup_wait: Duration,
    /// ListBackups page size (smaller pages are for tests of pagination).
    pub page_size: i32,
    /// Items sampled by a restore drill.
    pub drill_sample: i32,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub export_id: String,
    pub items: u64,
    pub parts: usize,
    pub bytes: u64,
    pub duration_ms: u64,
}

impl Backup {
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(
            sdk,
            &std::env::var("STOKER_EXPORT_BUCKET").unwrap_or_default(),
            &std::env::var("STOKER_OPS_TABLE").unwrap_or_default(),
        )
    }

    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, ops_table: &str) -> Self {
        let s3 = export::s3_client(sdk);
        Backup {
            exporter: Exporter {
                ddb: aws_sdk_dynamodb::Client::new(sdk),
                s3,
                bucket: bucket.to_owned(),
                segments: 4,
                retry: RetryPolicy::default(),
            },
            ops_table: ops_table.to_owned(),
            backup_wait: Duration::from_secs(300),
            page_size: 100,
            drill_sample: 50,
        }
    }

    fn ddb(&self) -> &aws_sdk_dynamodb::Client {
        &self.exporter.ddb
    }

    /// Runs one backup request; `export_id` names its export (unique per attempt).
    pub async fn run(
        &self,
        req: &BackupRequest,
        export_id: &str,
    ) -> Result<BackupReport, JobError> {
        self.run_with(req, export_id, &Progress::default()).await
    }

    /// [`run`](Self::run), counting items exported and restored in `progress`.
    pub async fn run_with(
        &self,
        req: &BackupRequest,
        export_id: &str,
        progress: &Progress,
    ) -> Result<BackupReport, JobError> {
        let mut report = BackupReport {
            table: req.table.clone(),
            ..Default::default()
        };
        if req.ensure_pitr {
            report.pitr_was_enabled = Some(native::ensure_pitr(self.ddb(), &req.table).await?);
        }
        let native_on = matches!(req.mode, BackupMode::Native | BackupMode::Both);
        let export_on = matches!(req.mode, BackupMode::Export | BackupMode::Both);
        if native_on {
            let b = native::create(self.ddb(), &req.table, &req.tags, self.backup_wait).await?;
            self.record(&req.table, "native", &b.name, &b.arn).await?;
            report.native = Some(b);
        }
        let mut manifest: Option<Manifest> = None;
        if export_on {
            let started = Instant::now();
            self.require_bucket()?;
            let m = self
                .exporter
                .export(&req.table, export_id, None, progress)
                .await?;
            self.record(
                &req.table,
                "export",
                &m.export_id,
                &format!(
                    "s3://{}/{}",
                    self.exporter.bucket,
                    export::prefix(&req.table)
                ),
            )
            .await?;
            report.export = Some(ExportSummary {
                export_id: m.export_id.clone(),
                items: m.item_count,
                parts: m.parts.len(),
                bytes: m.parts.iter().map(|p| p.bytes).sum(),
                duration_ms: started.elapsed().as_millis() as u64,
            });
            manifest = Some(m);
        }
        let now = Utc::now();
        if native_on {
            let all = native::list(self.ddb(), &req.table, self.page_size, false).await?;
            let kept: Vec<Kept> = all
                .iter()
                .map(|b| Kept {
                    id: b.arn.clone(),
                    created: b.created,
                    available: b.available,
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
        if req.restore_drill {
            let d = self
                .drill(
                    &req.table,
                    report.native.as_ref(),
                    manifest.as_ref(),
                    progress,
                )
                .await?;
            emit_metrics(
                Worker::Backup.name(),
                &[Metric::count(
                    "BackupDrillFailed",
                    f64::from(u8::from(!d.passed)),
                )],
            );
            let passed = d.passed;
            report.drill = Some(d.clone());
            if !passed {
                return Err(JobError::permanent(
                    "drill_failed",
                    format!(
                        "restore drill of {} failed: {} items in the source, {} restored, {} of {} sampled items differ; the backup is kept, investigate before relying on it",
                        req.table, d.source_items, d.restored_items, d.mismatched, d.sampled
                    ),
                ));
            }
        }
        Ok(report)
    }

    /// Restores the newest backup (native when there is one, else the export) into a scratch
    /// table, compares, and deletes the scratch table whatever happened.
    pub async fn drill(
        &self,
        table: &str,
        native: Option<&NativeBackup>,
        manifest: Option<&Manifest>,
        progress: &Progress,
    ) -> Result<DrillReport, JobError> {
        let started = Instant::now();
        // Scratch tables are named so that the role may create and delete only them.
        let scratch = format!("stoker-drill-{table}-{}", Utc::now().format("%Y%m%d%H%M%S"));
        let mut report = DrillReport {
            scratch_table: scratch.clone(),
            ..Default::default()
        };
        let restored = match (native, manifest) {
            (Some(b), _) => {
                report.from = "native".into();
                report.backup = b.name.clone();
                progress.phase("restoring (native)", 0);
                native::restore(self.ddb(), &b.arn, &scratch, self.backup_wait).await
            }
            (None, Some(m)) => {
                report.from = "export".into();
                report.backup = m.export_id.clone();
                self.exporter
                    .restore(m, &scratch, progress)
                    .await
                    .map(|_| ())
            }
            (None, None) => {
                return Err(JobError::permanent(
                    "nothing_to_drill",
                    "restore_drill needs a backup: mode native, export or both",
                ));
            }
        };
        let keys: Vec<String> = match self.ddb().describe_table().table_name(table).send().await {
            Ok(d) => d
                .table()
                .map(|t| {
                    t.key_schema()
                        .iter()
                        .map(|k| k.attribute_name().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            Err(e) => return Err(stoker_kit::classify::sdk_error("DescribeTable", e)),
        };
        let compared = match restored {
            Ok(()) => {
                drill::compare(
                    self.ddb(),
                    table,
                    &scratch,
                    &keys,
                    self.drill_sample,
                    &mut report,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let _ = self.ddb().delete_table().table_name(&scratch).send().await;
        compared?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
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

    /// Records a backup's metadata in the ops table (`BACKUP#<table>`, newest last).
    async fn record(
        &self,
        table: &str,
        kind: &str,
        name: &str,
        location: &str,
    ) -> Result<(), JobError> {
        if self.ops_table.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let s = |v: &str| AttributeValue::S(v.to_owned());
        self.ddb()
            .put_item()
            .table_name(&self.ops_table)
            .item("pk", s(&format!("BACKUP#{table}")))
            .item("sk", s(&format!("{}#{kind}#{name}", now.to_rfc3339())))
            .item("kind", s(kind))
            .item("name", s(name))
            .item("location", s(location))
            .item(
                "expires_at",
                AttributeValue::N((now.timestamp() + 400 * 86_400).to_string()),
            )
            .send()
            .await
            .map_err(|e| stoker_kit::classify::sdk_error("PutItem (backup record)", e))?;
        Ok(())
    }
}

impl Handler for Backup {
    fn worker(&self) -> Worker {
        Worker::Backup
    }

    async fn handle(&self, event: &Event, ctx: &JobCtx) -> Result<Outcome, JobError> {
        let Body::Backup(req) = &event.body else {
            return Err(JobError::permanent(
                "wrong_kind",
                format!(
                    "the backup worker takes stoker.backup.requested, not {}",
                    event.meta.kind
                ),
            ));
        };
        // A fresh export id per attempt: a crashed attempt's parts are never mixed into this one.
        let export_id = format!(
            "{}-{}-{}-{}",
            Utc::now().format("%Y%m%dT%H%M%SZ"),
            event.meta.id.simple(),
            ctx.receive_count,
            ctx.attempt
        );
        // Progress (items exported / restored) goes to the ops table for `stoker backup`.
        let progress = Arc::new(Progress::default());
        let reporter = (!self.ops_table.is_empty()).then(|| {
            stoker_kit::progress::report(
                self.ddb().clone(),
                self.ops_table.clone(),
                Worker::Backup.name(),
                event.meta.id.to_string(),
                progress.clone(),
                Duration::from_millis(500),
            )
        });
        let result = self.run_with(req, &export_id, &progress).await;
        if let Some(r) = reporter {
            r.abort();
            progress.phase("done", 0);
            let _ = stoker_kit::progress::write(
                self.ddb(),
                &self.ops_table,
                Worker::Backup.name(),
                &event.meta.id.to_string(),
                &progress,
            )
            .await;
        }
        let report = result?;
        serde_json::to_value(report).map_err(|e| JobError::permanent("report", e.to_string()))
    }
}
