//! One CloudWatch statistic of one metric over a window: what the metric-based checks read.

use aws_sdk_cloudwatch::types::{Datapoint, Dimension, Statistic};
use aws_smithy_types::DateTime as SdkTime;
use chrono::{DateTime, Duration, Utc};

use crate::evidence::unreadable;

/// `statistic` of `metric` (in `namespace`, with `dims`) over the `window` up to `now`, in
/// periods of `period`; the error as evidence.
pub async fn read(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dims: &[(&str, &str)],
    (window, period): (Duration, Duration),
    statistic: Statistic,
    now: DateTime<Utc>,
) -> Result<Vec<Datapoint>, String> {
    let dims = dims
        .iter()
        .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
        .collect();
    cw.get_metric_statistics()
        .namespace(namespace)
        .metric_name(metric)
        .set_dimensions(Some(dims))
        .start_time(SdkTime::from_millis((now - window).timestamp_millis()))
        .end_time(SdkTime::from_millis(now.timestamp_millis()))
        .period(period.num_seconds().clamp(60, i64::from(i32::MAX)) as i32)
        .statistics(statistic)
        .send()
        .await
        .map(|o| o.datapoints().to_vec())
        .map_err(|e| unreadable(&format!("GetMetricStatistics {metric}"), &e))
}

/// The sum of the datapoints' sums.
pub fn total(points: &[Datapoint]) -> f64 {
    points.iter().filter_map(Datapoint::sum).sum()
}
