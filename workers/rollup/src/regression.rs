//! The regression rules: the average response time, or its p95 (when the request asks for
//! p95), above 1.5x its baseline; the error rate above 2x its baseline.

use serde::Serialize;

pub const RESPONSE_TIME_THRESHOLD: f64 = 1.5;
pub const ERROR_RATE_THRESHOLD: f64 = 2.0;

/// One figure compared with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub series: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<(String, String)>,
    /// `avg_response_time`, `p95_response_time` or `error_rate`.
    pub metric: &'static str,
    pub current: f64,
    pub baseline: f64,
    /// current / baseline; `None` when the baseline is zero (nothing to compare with).
    pub ratio: Option<f64>,
    pub threshold: f64,
    pub regressed: bool,
}

/// Compares `current` with `baseline` (both `None` when there was no data).
pub fn compare(
    series: &str,
    dimensions: &[(String, String)],
    metric: &'static str,
    current: Option<f64>,
    baseline: Option<f64>,
    threshold: f64,
) -> Option<Comparison> {
    let (current, baseline) = (current?, baseline?);
    let ratio = (baseline > 0.0).then(|| current / baseline);
    Some(Comparison {
        series: series.to_owned(),
        dimensions: dimensions.to_vec(),
        metric,
        current,
        baseline,
        ratio,
        threshold,
        regressed: ratio.is_some_and(|r| r > threshold),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn above_the_threshold_is_a_regression_at_or_below_is_not() {
        let c = |cur, base| {
            compare(
                "s",
                &[],
                "avg_response_time",
                Some(cur),
                Some(base),
                RESPONSE_TIME_THRESHOLD,
            )
        };
        assert!(c(151.0, 100.0).unwrap().regressed);
        assert!(!c(150.0, 100.0).unwrap().regressed);
        assert!(!c(90.0, 100.0).unwrap().regressed);
        assert_eq!(c(5.0, 0.0).unwrap().ratio, None, "no baseline, no verdict");
        assert!(compare("s", &[], "error_rate", None, Some(1.0), 2.0).is_none());
        assert!(
            compare(
                "s",
                &[],
                "error_rate",
                Some(4.1),
                Some(2.0),
                ERROR_RATE_THRESHOLD
            )
            .unwrap()
            .regressed
        );
    }
}
