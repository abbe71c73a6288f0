//! A table's restore drills (`table.drill`): one passed within 8 days (a week and a day), from the backup
//! worker's `BackupDrillPassed` metric (dimensions `Worker=backup`, `Table`). A backup never
//! restored is a hope, not a backup.

use aws_sdk_cloudwatch::types::Statistic;
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::metric;

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
    let window = Duration::days(WITHIN_DAYS);
    let dims = [
        ("Worker", stoker_events::Worker::Backup.name()),
        ("Table", table),
    ];
    let passed = metric::read(
        cw,
        namespace,
        "BackupDrillPassed",
        &dims,
        (window, window),
        Statistic::Sum,
        now,
    );
    match passed.await {
        Ok(points) => judge(table, metric::total(&points)),
        Err(why) => Check::fail(CHECK, table, why),
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
