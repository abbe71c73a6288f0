//! A table's restore drills (`table.drill`): one passed within 8 days (a week and a day), from the backup
//! worker's `BackupDrillPassed` metric (dimensions `Worker=backup`, `Table`). A backup never
//! restored is a hope, not a backup.

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_smithy_types::DateTime as SdkTime;
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::evidence::unreadable;

const CHECK: &str = "table.drill";
/// How recent a passed drill must be: a week, and a day's slack for a weekly drill that
/// finishes later than the last one.
pub const WITHIN_DAYS: i64 = 8;

/// `table.drill` of `table`, from the metrics in `namespace`.
pub async fn check(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    table: &str,
    now: DateTime<Utc>,
) -> Check {
    let dim = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let out = cw
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name("BackupDrillPassed")
        .dimensions(dim("Worker", stoker_events::Worker::Backup.name()))
        .dimensions(dim("Table", table))
        .start_time(SdkTime::from_millis(
            (now - Duration::days(WITHIN_DAYS)).timestamp_millis(),
        ))
        .end_time(SdkTime::from_millis(now.timestamp_millis()))
        .period((WITHIN_DAYS * 86_400) as i32)
        .statistics(Statistic::Sum)
        .send()
        .await;
    match out {
        Ok(o) => judge(table, o.datapoints().iter().filter_map(|d| d.sum()).sum()),
        Err(e) => Check::fail(
            CHECK,
            table,
            unreadable("GetMetricStatistics BackupDrillPassed", &e),
        ),
    }
}

/// The verdict on `passed` drills in the last 7 days.
pub fn judge(table: &str, passed: f64) -> Check {
    if passed > 0.0 {
        Check::pass(
            CHECK,
            table,
            format!("{passed:.0} restore drills passed in the last {WITHIN_DAYS} days"),
        )
    } else {
        Check::warn(
            CHECK,
            table,
            format!(
                "no restore drill passed in the last {WITHIN_DAYS} days: run one (`stoker backup {table} --drill`); the stack's BackupDrillSchedule runs one weekly"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn a_recent_drill_passes_none_warns() {
        assert_eq!(judge("t", 1.0).status, Status::Pass);
        assert_eq!(judge("t", 0.0).status, Status::Warn);
    }
}
