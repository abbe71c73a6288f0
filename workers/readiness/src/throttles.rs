//! A table's throttling over the last hour (`table.throttles`): DynamoDB's read and write
//! throttle events (`AWS/DynamoDB`), the seeds' "DynamoDB throttling". Any warns: requests were
//! refused and retried (or failed).

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_smithy_types::DateTime as SdkTime;
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::evidence::unreadable;

const CHECK: &str = "table.throttles";

/// `table.throttles` of `table`.
pub async fn check(cw: &aws_sdk_cloudwatch::Client, table: &str, now: DateTime<Utc>) -> Check {
    let sum = |metric: &'static str| async move {
        cw.get_metric_statistics()
            .namespace("AWS/DynamoDB")
            .metric_name(metric)
            .dimensions(Dimension::builder().name("TableName").value(table).build())
            .start_time(SdkTime::from_millis(
                (now - Duration::hours(1)).timestamp_millis(),
            ))
            .end_time(SdkTime::from_millis(now.timestamp_millis()))
            .period(3600)
            .statistics(Statistic::Sum)
            .send()
            .await
            .map(|o| o.datapoints().iter().filter_map(|d| d.sum()).sum::<f64>())
            .map_err(|e| unreadable(&format!("GetMetricStatistics AWS/DynamoDB {metric}"), &e))
    };
    let (reads, writes) = futures::join!(sum("ReadThrottleEvents"), sum("WriteThrottleEvents"));
    match (reads, writes) {
        (Ok(r), Ok(w)) => judge(table, r, w),
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
