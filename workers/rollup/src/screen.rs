//! Screening a measurement batch: series and samples CloudWatch would refuse (or that cannot
//! be true) are rejected one by one with a reason; the rest go on.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use stoker_events::payload::rollup::{Counters, MeasurementBatch, Unit};

/// CloudWatch accepts data points up to two weeks old and up to two hours in the future.
pub const MAX_AGE: Duration = Duration::days(14);
pub const MAX_AHEAD: Duration = Duration::hours(2);
/// CloudWatch allows at most 30 dimensions per metric.
pub const MAX_DIMENSIONS: usize = 30;
/// The report keeps this many rejection examples.
const MAX_EXAMPLES: usize = 20;

/// A series that passed screening.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub unit: Unit,
    /// (epoch seconds, value)
    pub samples: Vec<(i64, f64)>,
    pub counters: Option<Counters>,
}

/// Why something was rejected, where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    /// The field path, e.g. `series[2].samples[7].value`.
    pub at: String,
    pub reason: String,
}

/// The outcome of screening.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Screened {
    #[serde(skip)]
    pub accepted: Vec<Accepted>,
    /// Samples rejected, by reason code (`non_finite`, `negative`, `too_old`, `in_the_future`,
    /// `unknown_unit`, `too_many_dimensions`).
    pub rejected: BTreeMap<&'static str, u64>,
    /// The first few rejections with their field paths.
    pub examples: Vec<Rejection>,
}

impl Screened {
    fn reject(&mut self, code: &'static str, count: u64, at: String, reason: String) {
        *self.rejected.entry(code).or_default() += count;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Rejection { at, reason });
        }
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Screens `batch` as of `now`.
pub fn screen(batch: &MeasurementBatch, now: DateTime<Utc>) -> Screened {
    let mut out = Screened::default();
    for (i, s) in batch.series.iter().enumerate() {
        let whole = s.samples.len().max(1) as u64;
        let Some(unit) = Unit::parse(&s.unit) else {
            out.reject(
                "unknown_unit",
                whole,
                format!("series[{i}].unit"),
                format!(
                    "{:?} is not a CloudWatch unit (e.g. Milliseconds, Count, Percent)",
                    s.unit
                ),
            );
            continue;
        };
        if s.dimensions.len() > MAX_DIMENSIONS {
            out.reject(
                "too_many_dimensions",
                whole,
                format!("series[{i}].dimensions"),
                format!(
                    "{} dimensions; CloudWatch allows {MAX_DIMENSIONS}",
                    s.dimensions.len()
                ),
            );
            continue;
        }
        let mut samples = Vec::with_capacity(s.samples.len());
        for (j, sample) in s.samples.iter().enumerate() {
            let at = format!("series[{i}].samples[{j}]");
            let v = sample.value;
            if !v.is_finite() {
                out.reject(
                    "non_finite",
                    1,
                    format!("{at}.value"),
                    format!("{v} is not a finite number"),
                );
            } else if v < 0.0 && unit.non_negative() {
                out.reject(
                    "negative",
                    1,
                    format!("{at}.value"),
                    format!("{v} is negative, impossible in {}", unit.as_str()),
                );
            } else if sample.timestamp < now - MAX_AGE {
                out.reject(
                    "too_old",
                    1,
                    format!("{at}.timestamp"),
                    format!("{} is more than 14 days ago", sample.timestamp),
                );
            } else if sample.timestamp > now + MAX_AHEAD {
                out.reject(
                    "in_the_future",
                    1,
                    format!("{at}.timestamp"),
                    format!("{} is more than 2 hours ahead", sample.timestamp),
                );
            } else {
                samples.push((sample.timestamp.timestamp(), v));
            }
        }
        out.accepted.push(Accepted {
            name: s.name.clone(),
            dimensions: s
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            unit,
            samples,
            counters: s.counters.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoker_events::payload::rollup::{Sample, Series};

    fn series(unit: &str, values: &[(f64, i64)], now: DateTime<Utc>) -> Series {
        Series {
            name: "Latency".into(),
            dimensions: Default::default(),
            unit: unit.into(),
            samples: values
                .iter()
                .map(|(v, age_s)| Sample {
                    value: *v,
                    timestamp: now - Duration::seconds(*age_s),
                })
                .collect(),
            counters: None,
        }
    }

    #[test]
    fn each_bad_sample_is_rejected_with_its_reason_and_path_the_rest_kept() {
        let now = Utc::now();
        let batch = MeasurementBatch {
            namespace: "App/Api".into(),
            series: vec![series(
                "Milliseconds",
                &[
                    (10.0, 1),
                    (-1.0, 1),
                    (f64::INFINITY, 1),
                    (5.0, 15 * 86_400),
                    (7.0, -3 * 3600),
                    (20.0, 2),
                ],
                now,
            )],
            high_resolution: false,
        };
        let s = screen(&batch, now);
        assert_eq!(
            s.accepted[0]
                .samples
                .iter()
                .map(|x| x.1)
                .collect::<Vec<_>>(),
            [10.0, 20.0]
        );
        assert_eq!(s.rejected_total(), 4);
        for code in ["negative", "non_finite", "too_old", "in_the_future"] {
            assert_eq!(s.rejected.get(code), Some(&1), "{code}");
        }
        assert_eq!(s.examples[0].at, "series[0].samples[1].value");
    }

    #[test]
    fn an_unknown_unit_or_too_many_dimensions_rejects_that_series_only() {
        let now = Utc::now();
        let mut wide = series("Count", &[(1.0, 1), (2.0, 1)], now);
        wide.dimensions = (0..31).map(|i| (format!("D{i}"), "x".into())).collect();
        let batch = MeasurementBatch {
            namespace: "App/Api".into(),
            series: vec![
                series("Furlongs", &[(1.0, 1)], now),
                wide,
                series("Percent", &[(-5.0, 1)], now),
            ],
            high_resolution: false,
        };
        let s = screen(&batch, now);
        assert_eq!(s.rejected.get("unknown_unit"), Some(&1));
        assert_eq!(s.rejected.get("too_many_dimensions"), Some(&2));
        assert_eq!(
            s.accepted.len(),
            1,
            "the Percent series is kept (negative percent deltas are possible)"
        );
        assert_eq!(s.examples[1].at, "series[1].dimensions");
    }
}
