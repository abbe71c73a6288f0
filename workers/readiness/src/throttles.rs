//! A table's throttling over the last hour (`table.throttles`): DynamoDB's read and write
//! throttle events (`AWS/DynamoDB`), the seeds' "DynamoDB throttling". Any warns: requests were
//! refused and retried (or failed).

use aws_sdk_cloudwatch::types::Statistic;
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::metric;

const CHECK: &str = "table.throttles";

/// `table.throttles` of `table`.
pub async fn check(cw: &aws_sdk_cloudwatch::Client, table: &str, now: DateTime<Utc>) -> Check {
    let hour = (Duration::hours(1), Duration::hours(1));
    let dims = [("TableName", table)];
    let sum = |m| metric::read(cw, "AWS/DynamoDB", m, &dims, hour, Statistic::Sum, now);
    let (reads, writes) = futures::join!(sum("ReadThrottleEvents"), sum("WriteThrottleEvents"));
    match (reads, writes) {
        (Ok(r), Ok(w)) => judge(table, metric::total(&r), metric::total(&w)),
        (Err(why), _) | (_, Err(why)) => Check::fail(CHECK, table, why),
    }
}

/// The verdict on `reads` and `writes` throttle events in the last hour.
pub fn judge(table: &str, reads: f64, writes: f64) -> Check {
    if reads + writes > 0.0 {
        Check::warn(
            CHECK,
            table,
            format!(
                "{reads:.0} read and {writes:.0} write throttle events in the last hour: raise its capacity (or switch it to on-demand) or spread its keys"
            ),
        )
    } else {
        Check::pass(CHECK, table, "no throttle events in the last hour")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn any_throttle_event_warns() {
        assert_eq!(judge("t", 0.0, 0.0).status, Status::Pass);
        assert_eq!(judge("t", 0.0, 3.0).status, Status::Warn);
    }
}
