//! A rollup request: read the window back, derive rollups (averages, percentiles, rates as
//! ratios of sums), compare with the baseline days before the window, and say what regressed.

use std::collections::BTreeSet;

use aws_sdk_cloudwatch::types::StandardUnit;
use serde::Serialize;
use stoker_events::payload::rollup::RollupRequest;
use stoker_kit::JobError;

use crate::ingest::{CACHE_HITS, CACHE_MISSES, COUNTER_SUFFIXES, ERRORS, REQUESTS};
use crate::pack::{Datum, single};
use crate::regression::{Comparison, ERROR_RATE_THRESHOLD, RESPONSE_TIME_THRESHOLD, compare};
use crate::window::{MetricId, Totals, datapoints, list, percentiles_of, stat_name};

/// What a rollup found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollupReport {
    pub series: usize,
    pub counter_series: usize,
    /// Percentile statistics were asked for but the service answered none.
    pub percentiles_unavailable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_hit_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_average_ms: Option<f64>,
    /// The highest p95 of any duration series in the window, in ms (when p95 is asked for and
    /// the service answers it): the seeds' "P95 > 300 ms" alarms read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_p95_ms: Option<f64>,
    pub comparisons: Vec<Comparison>,
    pub regressions: usize,
}

/// Reads the window ending at `now` (epoch seconds) and returns the report and the datums of
/// the derived rollups.
pub async fn roll_up(
    cw: &aws_sdk_cloudwatch::Client,
    req: &RollupRequest,
    now: i64,
) -> Result<(RollupReport, Vec<Datum>), JobError> {
    let window = (now - i64::from(req.window_minutes) * 60, now);
    let baseline = (window.0 - i64::from(req.baseline_days) * 86_400, window.0);
    let metrics = list(cw, &req.namespace).await?;
    let (samples, counters) = split(&metrics);
    let period = req.period_seconds as i32;
    let mut report = RollupReport {
        series: samples.len(),
        counter_series: counters.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut any_percentile = false;

    for m in &samples {
        let points = datapoints(cw, &req.namespace, m, window, period, &req.percentiles).await?;
        for p in &points {
            let t = p.timestamp().map_or(now, |t| t.secs());
            let unit = p.unit().map_or("None", StandardUnit::as_str);
            if let Some(avg) = Totals::of(std::slice::from_ref(p)).average() {
                out.push(single(
                    &format!("{}.Average", m.name),
                    &m.dimensions,
                    unit_or_none(unit),
                    t,
                    avg,
                ));
            }
            for (stat, v) in percentiles_of(p) {
                any_percentile = true;
                out.push(single(
                    &format!("{}.{stat}", m.name),
                    &m.dimensions,
                    unit_or_none(unit),
                    t,
                    v,
                ));
            }
        }
        let Some(to_ms) = points
            .first()
            .and_then(|p| p.unit())
            .and_then(millis_factor)
        else {
            continue; // Not a duration: no response-time rule.
        };
        let current = Totals::of(&points).average().map(|a| a * to_ms);
        report.worst_p95_ms = max_opt(report.worst_p95_ms, highest_p95(&points, to_ms));
        report.worst_average_ms = max_opt(report.worst_average_ms, current);
        // The baseline's p95 comes with its hourly sums (the same call) when p95 is asked for.
        let p95: &[f64] = if asks_p95(req) { &[95.0] } else { &[] };
        let base_points = datapoints(cw, &req.namespace, m, baseline, 3600, p95).await?;
        let base = Totals::of(&base_points).average().map(|a| a * to_ms);
        report.comparisons.extend(compare(
            &m.name,
            &m.dimensions,
            "p95_response_time",
            weighted_p95(&points, to_ms),
            weighted_p95(&base_points, to_ms),
            RESPONSE_TIME_THRESHOLD,
        ));
        report.comparisons.extend(compare(
            &m.name,
            &m.dimensions,
            "avg_response_time",
            current,
            base,
            RESPONSE_TIME_THRESHOLD,
        ));
    }
    report.percentiles_unavailable =
        !req.percentiles.is_empty() && report.series > 0 && !any_percentile;

    let (mut all_req, mut all_err, mut all_hits, mut all_lookups) = (0.0, 0.0, 0.0, 0.0);
    for base in &counters {
        let sum = |suffix: &'static str, range| {
            let id = MetricId {
                name: format!("{}.{suffix}", base.name),
                dimensions: base.dimensions.clone(),
            };
            async move {
                Ok::<_, JobError>(
                    Totals::of(
                        &datapoints(cw, &req.namespace, &id, range, 3600.max(period), &[]).await?,
                    )
                    .sum,
                )
            }
        };
        let (requests, errors) = (sum(REQUESTS, window).await?, sum(ERRORS, window).await?);
        let (hits, misses) = (
            sum(CACHE_HITS, window).await?,
            sum(CACHE_MISSES, window).await?,
        );
        let (b_requests, b_errors) = (sum(REQUESTS, baseline).await?, sum(ERRORS, baseline).await?);
        let rate = |num: f64, den: f64| (den > 0.0).then(|| num * 100.0 / den);
        let current = rate(errors, requests);
        if let Some(r) = current {
            out.push(single(
                &format!("{}.ErrorRate", base.name),
                &base.dimensions,
                "Percent",
                now,
                r,
            ));
        }
        if let Some(r) = rate(hits, hits + misses) {
            out.push(single(
                &format!("{}.CacheHitRate", base.name),
                &base.dimensions,
                "Percent",
                now,
                r,
            ));
        }
        report.comparisons.extend(compare(
            &base.name,
            &base.dimensions,
            "error_rate",
            current,
            rate(b_errors, b_requests),
            ERROR_RATE_THRESHOLD,
        ));
        (all_req, all_err, all_hits, all_lookups) = (
            all_req + requests,
            all_err + errors,
            all_hits + hits,
            all_lookups + hits + misses,
        );
    }
    report.error_rate = (all_req > 0.0).then(|| all_err * 100.0 / all_req);
    report.cache_hit_rate = (all_lookups > 0.0).then(|| all_hits * 100.0 / all_lookups);
    report.regressions = report.comparisons.iter().filter(|c| c.regressed).count();

    // Namespace-wide figures, the ones infra/'s threshold alarms watch.
    let ns = [("SourceNamespace".to_owned(), req.namespace.clone())];
    for (name, unit, v) in [
        ("ErrorRate", "Percent", report.error_rate),
        ("CacheHitRate", "Percent", report.cache_hit_rate),
        ("WorstAverageMs", "Milliseconds", report.worst_average_ms),
        ("WorstP95Ms", "Milliseconds", report.worst_p95_ms),
        (
            "RegressionsDetected",
            "Count",
            Some(report.regressions as f64),
        ),
    ] {
        if let Some(v) = v {
            out.push(single(name, &ns, unit, now, v));
        }
    }
    Ok((report, out))
}

/// Sample series and the bases of counter series (`X` for `X.Requests`, `X.CacheHits`, ...).
fn split(metrics: &[MetricId]) -> (Vec<MetricId>, Vec<MetricId>) {
    let mut samples = Vec::new();
    let mut counters = BTreeSet::new();
    for m in metrics {
        match m.name.rsplit_once('.') {
            Some((base, suffix)) if COUNTER_SUFFIXES.contains(&suffix) => {
                counters.insert(MetricId {
                    name: base.to_owned(),
                    dimensions: m.dimensions.clone(),
                });
            }
            _ => samples.push(m.clone()),
        }
    }
    (samples, counters.into_iter().collect())
}

fn millis_factor(u: &StandardUnit) -> Option<f64> {
    match u {
        StandardUnit::Seconds => Some(1000.0),
        StandardUnit::Milliseconds => Some(1.0),
        StandardUnit::Microseconds => Some(0.001),
        _ => None,
    }
}

fn unit_or_none(unit: &str) -> &'static str {
    stoker_events::payload::rollup::UNIT_NAMES
        .iter()
        .find(|u| **u == unit)
        .copied()
        .unwrap_or("None")
}

/// Whether the request asks for the p95 (then the p95 is compared with its baseline too).
fn asks_p95(req: &RollupRequest) -> bool {
    req.percentiles.iter().any(|p| (*p - 95.0).abs() < 1e-9)
}

/// The p95 of a span from its periods' p95s, each weighted by its sample count, in ms: what the
/// p95 rule compares (a period's p95 is all CloudWatch keeps of its distribution).
fn weighted_p95(points: &[aws_sdk_cloudwatch::types::Datapoint], to_ms: f64) -> Option<f64> {
    let (mut sum, mut weight) = (0.0, 0.0);
    for p in points {
        if let (Some(v), Some(n)) = (percentiles_of(p).get("p95"), p.sample_count()) {
            sum += v * n;
            weight += n;
        }
    }
    (weight > 0.0).then(|| sum / weight * to_ms)
}

/// The highest p95 of a series' datapoints, in ms (`to_ms`: the series' unit in ms).
fn highest_p95(points: &[aws_sdk_cloudwatch::types::Datapoint], to_ms: f64) -> Option<f64> {
    points
        .iter()
        .filter_map(|p| percentiles_of(p).get("p95").map(|v| v * to_ms))
        .fold(None, |worst, v| max_opt(worst, Some(v)))
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The percentile statistic names a request asks for (for reports and tests).
pub fn asked(req: &RollupRequest) -> Vec<String> {
    req.percentiles.iter().map(|p| stat_name(*p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> MetricId {
        MetricId {
            name: name.into(),
            dimensions: vec![("Route".into(), "/x".into())],
        }
    }

    #[test]
    fn counter_metrics_fold_into_their_series_the_rest_are_samples() {
        let (s, c) = split(&[
            id("Latency"),
            id("Api.Requests"),
            id("Api.Errors"),
            id("Api.ErrorRate"),
            id("My.Metric"),
        ]);
        assert_eq!(
            s.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["Latency", "My.Metric"]
        );
        assert_eq!(c, [id("Api")]);
    }

    #[test]
    fn duration_units_convert_to_milliseconds() {
        assert_eq!(millis_factor(&StandardUnit::Seconds), Some(1000.0));
        assert_eq!(millis_factor(&StandardUnit::Bytes), None);
        assert_eq!(unit_or_none("Milliseconds"), "Milliseconds");
        assert_eq!(unit_or_none("Gigabits"), "None");
        assert_eq!(max_opt(None, Some(2.0)), Some(2.0));
    }

    #[test]
    fn the_worst_p95_is_the_highest_of_the_datapoints_in_ms() {
        let point = |p95: Option<f64>| {
            let mut d = aws_sdk_cloudwatch::types::Datapoint::builder().average(1.0);
            if let Some(v) = p95 {
                d = d
                    .extended_statistics("p95", v)
                    .extended_statistics("p99", 9.0);
            }
            d.build()
        };
        let points = [point(Some(0.25)), point(None), point(Some(0.4))];
        assert_eq!(highest_p95(&points, 1000.0), Some(400.0));
        assert_eq!(highest_p95(&[point(None)], 1.0), None, "no p95 answered");
    }
}
