//! A drill of point-in-time recovery itself: the table as it was at a chosen time (or at the
//! latest restorable time) is restored into a scratch table with `RestoreTableToPointInTime`,
//! compared with the source, and deleted, on every path, like a backup's drill.
//!
//! The source may have been written since the time restored (even since the latest restorable
//! time, about five minutes ago), so counts and sampled items are compared and reported, never
//! failed on: the drill passes when the restore completed and reads back. A retried job finds
//! the scratch table an earlier attempt's restore is still creating (it is named by the job, not
//! the attempt) and waits for it instead of starting another restore.

use std::time::Instant;

use chrono::{DateTime, Utc};
use stoker_events::payload::backup::PitrDrill;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::drill::{DrillReport, compare, key_names};
use crate::native::{to_utc, wait_active};
use crate::scratch::ScratchTable;
use crate::{Backup, JobTag};

impl Backup {
    /// Restores `table` at `drill.at` into a scratch table, compares, deletes it.
    pub async fn pitr_drill(
        &self,
        table: &str,
        job: &JobTag,
        drill: &PitrDrill,
    ) -> Result<DrillReport, JobError> {
        let started = Instant::now();
        let ddb = self.exporter.ddb.clone();
        let window = ddb
            .describe_continuous_backups()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeContinuousBackups {table}"), e))?;
        let pitr = window
            .continuous_backups_description()
            .and_then(|c| c.point_in_time_recovery_description());
        let enabled = pitr
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| s.as_str() == "ENABLED");
        if !enabled {
            return Err(JobError::permanent(
                "pitr_off",
                format!(
                    "{table} has point-in-time recovery off: nothing to drill; turn it on (ensure_pitr) and drill again once it has history"
                ),
            ));
        }
        let (earliest, latest) = (
            pitr.and_then(|p| p.earliest_restorable_date_time())
                .and_then(to_utc),
            pitr.and_then(|p| p.latest_restorable_date_time())
                .and_then(to_utc),
        );
        // To the second, as the restore takes it.
        let at = drill
            .at
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.timestamp(), 0));
        if let Some(at) = at
            && (earliest.is_some_and(|e| at < e) || latest.is_some_and(|l| at > l))
        {
            return Err(JobError::permanent(
                "pitr_out_of_window",
                format!(
                    "{at} is outside {table}'s restorable window ({} to {}); choose a time within it",
                    earliest.map_or("?".into(), |t| t.to_rfc3339()),
                    latest.map_or("?".into(), |t| t.to_rfc3339())
                ),
            ));
        }
        let keys = key_names(&ddb, table).await?;
        let name = format!("{}{}-pitr", self.scope.drill_prefix(), job.id);
        let mut scratch = ScratchTable::new(ddb.clone(), name);
        let mut report = DrillReport {
            from: "pitr".into(),
            backup: at.map_or_else(|| "latest restorable time".into(), |t| t.to_rfc3339()),
            scratch_table: scratch.name().to_owned(),
            ..Default::default()
        };
        let restore = ddb
            .restore_table_to_point_in_time()
            .source_table_name(table)
            .target_table_name(scratch.name())
            .set_use_latest_restorable_time(at.is_none().then_some(true))
            .set_restore_date_time(at.map(|t| aws_smithy_types::DateTime::from_secs(t.timestamp())))
            .send()
            .await;
        let restore = match restore {
            Ok(_) => Ok(()),
            // An earlier attempt's restore: wait for it rather than start another.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_table_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("RestoreTableToPointInTime", e)),
        };
        let compared = async {
            restore?;
            // A point-in-time restore takes longer than a backup's: the drill's time bounds it.
            wait_active(&ddb, scratch.name(), self.drill_timeout).await?;
            let name = scratch.name().to_owned();
            compare(&ddb, table, &name, &keys, self.drill_sample, &mut report).await?;
            // The source may have changed since the time restored: reading back is the drill.
            report.passed = true;
            Ok::<(), JobError>(())
        }
        .await;
        report.scratch_deleted = scratch.clean_up().await;
        compared?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}
