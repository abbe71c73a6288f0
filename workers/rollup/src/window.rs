//! Reading a window back from CloudWatch: per series and period, sums, counts, extremes and
//! percentiles; over the window and over the baseline days before it, the figures the
//! regression rules compare.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Datapoint, Dimension, Statistic};
use aws_smithy_types::DateTime;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

/// A metric as CloudWatch lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricId {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

/// Every metric of `namespace` (all pages).
pub async fn list(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
) -> Result<Vec<MetricId>, JobError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = cw
            .list_metrics()
            .namespace(namespace)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| sdk_error("ListMetrics", e))?;
        for m in page.metrics() {
            let mut dimensions: Vec<(String, String)> = m
                .dimensions()
                .iter()
                .map(|d| {
                    (
                        d.name().unwrap_or_default().to_owned(),
                        d.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            dimensions.sort();
            out.push(MetricId {
                name: m.metric_name().unwrap_or_default().to_owned(),
                dimensions,
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Sums, counts, extremes (and percentiles when asked and the service answers them) per period.
pub async fn datapoints(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &MetricId,
    (start, end): (i64, i64),
    period: i32,
    percentiles: &[f64],
) -> Result<Vec<Datapoint>, JobError> {
    let dims: Vec<Dimension> = metric
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect();
    let out = cw
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(&metric.name)
        .set_dimensions(Some(dims))
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .period(period)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .set_extended_statistics(
            (!percentiles.is_empty()).then(|| percentiles.iter().map(|p| stat_name(*p)).collect()),
        )
        .send()
        .await
        .map_err(|e| sdk_error("GetMetricStatistics", e))?;
    let mut points = out.datapoints().to_vec();
    points.sort_by_key(|d| d.timestamp().map(|t| t.secs()));
    Ok(points)
}

/// `p95`, `p99.9`: CloudWatch's name for a percentile statistic.
pub fn stat_name(p: f64) -> String {
    let s = format!("{p}");
    format!("p{}", s.trim_end_matches(".0"))
}

/// Sum and sample count over several datapoints.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub sum: f64,
    pub count: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Totals {
    pub fn of(points: &[Datapoint]) -> Totals {
        let mut t = Totals::default();
        for p in points {
            t.sum += p.sum().unwrap_or(0.0);
            t.count += p.sample_count().unwrap_or(0.0);
            if let Some(m) = p.minimum() {
                t.min = Some(t.min.map_or(m, |x: f64| x.min(m)));
            }
            if let Some(m) = p.maximum() {
                t.max = Some(t.max.map_or(m, |x: f64| x.max(m)));
            }
        }
        t
    }

    pub fn average(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }
}

/// The percentiles a datapoint carries (`p95` -> value).
pub fn percentiles_of(p: &Datapoint) -> BTreeMap<String, f64> {
    p.extended_statistics()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_statistic_names() {
        assert_eq!(stat_name(95.0), "p95");
        assert_eq!(stat_name(99.9), "p99.9");
        assert_eq!(stat_name(50.0), "p50");
    }

    #[test]
    fn totals_add_sums_and_counts_never_average_averages() {
        let dp = |sum, count, min, max| {
            Datapoint::builder()
                .sum(sum)
                .sample_count(count)
                .minimum(min)
                .maximum(max)
                .build()
        };
        let t = Totals::of(&[dp(100.0, 1.0, 100.0, 100.0), dp(30.0, 3.0, 5.0, 20.0)]);
        assert_eq!(
            (t.sum, t.count, t.min, t.max),
            (130.0, 4.0, Some(5.0), Some(100.0))
        );
        assert_eq!(t.average(), Some(32.5), "not (100 + 10) / 2");
        assert_eq!(Totals::default().average(), None);
    }
}
