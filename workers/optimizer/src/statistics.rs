//! One GetMetricStatistics query over a time window, for the function metrics, Lambda Insights
//! and DynamoDB's consumed capacity alike.

use aws_sdk_cloudwatch::types::{Datapoint, Dimension, Statistic};
use aws_smithy_types::DateTime;
use chrono::Utc;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

/// Which metric, where, and what to compute per period.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub namespace: &'a str,
    pub metric: &'a str,
    /// One dimension (name, value): `FunctionName`, `function_name` or `TableName`.
    pub dimension: (&'a str, &'a str),
    pub start: chrono::DateTime<Utc>,
    pub end: chrono::DateTime<Utc>,
    pub period_s: i32,
    pub statistics: &'a [Statistic],
    /// Percentiles such as `p99`, where the service answers them.
    pub extended: &'a [&'a str],
}

/// The datapoints of `q`.
pub async fn datapoints(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    q: &Query<'_>,
) -> Result<Vec<Datapoint>, JobError> {
    let mut req = cloudwatch
        .get_metric_statistics()
        .namespace(q.namespace)
        .metric_name(q.metric)
        .dimensions(
            Dimension::builder()
                .name(q.dimension.0)
                .value(q.dimension.1)
                .build(),
        )
        .start_time(DateTime::from_millis(q.start.timestamp_millis()))
        .end_time(DateTime::from_millis(q.end.timestamp_millis()))
        .period(q.period_s)
        .set_statistics(Some(q.statistics.to_vec()));
    for p in q.extended {
        req = req.extended_statistics(*p);
    }
    let out = req.send().await.map_err(|e| {
        sdk_error(
            &format!("GetMetricStatistics {}/{}", q.namespace, q.metric),
            e,
        )
    })?;
    Ok(out.datapoints().to_vec())
}
