//! `stoker.rollup.measurements` (raw measurements in) and `stoker.rollup.requested` (periodic
//! rollups and regression checks).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::validate::{Validate, Validator};

/// A batch of raw measurements from an application. Individual samples that are out of range
/// (negative durations, timestamps outside CloudWatch's window) are rejected one by one by the
/// worker with a reason; the rest of the batch is processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct MeasurementBatch {
    /// The CloudWatch namespace to publish into (not `AWS/...`).
    #[cfg_attr(test, proptest(strategy = "\"[A-Z][a-z]{1,8}/[A-Z][a-z]{1,8}\""))]
    pub namespace: String,
    /// 1-100 series.
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(proptest::prelude::any::<Series>(), 1..3)")
    )]
    #[schemars(length(min = 1, max = 100))]
    pub series: Vec<Series>,
    /// Publish at 1-second resolution (1 s periods) instead of 60 s.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub high_resolution: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// Metric name, e.g. `ResponseTime`.
    #[cfg_attr(test, proptest(strategy = "\"[A-Z][A-Za-z]{1,12}\""))]
    pub name: String,
    /// At most 30 dimensions (CloudWatch's limit); a series with more is rejected by the worker
    /// with a reason while the rest of the batch is processed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::collection::btree_map(\"[A-Z][a-z]{1,6}\", \"[a-z0-9]{1,6}\", 0..3)"
        )
    )]
    pub dimensions: BTreeMap<String, String>,
    /// A CloudWatch standard unit (see [`Unit`]). The worker rejects a series with an unknown
    /// unit with a reason while the rest of the batch is processed.
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::strategy::Strategy::prop_map(proptest::sample::select(UNIT_NAMES), str::to_owned)"
        )
    )]
    #[schemars(extend("enum" = ["Seconds", "Milliseconds", "Microseconds", "Bytes", "Kilobytes", "Megabytes", "Bits", "Percent", "Count", "Count/Second", "None"]))]
    pub unit: String,
    /// At most 10000 samples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(proptest::prelude::any::<Sample>(), 0..4)")
    )]
    pub samples: Vec<Sample>,
    /// Counters for rates (sums of numerators over sums of denominators, never averages of ratios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Sample {
    #[cfg_attr(test, proptest(strategy = "-1.0e9f64..1.0e9"))]
    pub value: f64,
    #[cfg_attr(test, proptest(strategy = "crate::arb::time()"))]
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Counters {
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub cache_hits: u64,
    #[serde(default)]
    pub cache_misses: u64,
}

/// The names of [`Unit`]'s variants as CloudWatch spells them.
pub const UNIT_NAMES: &[&str] = &[
    "Seconds",
    "Milliseconds",
    "Microseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Bits",
    "Percent",
    "Count",
    "Count/Second",
    "None",
];

/// CloudWatch's standard units (the ones measurements may use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum Unit {
    Seconds,
    Milliseconds,
    Microseconds,
    Bytes,
    Kilobytes,
    Megabytes,
    Bits,
    Percent,
    Count,
    #[serde(rename = "Count/Second")]
    CountPerSecond,
    None,
}

impl Unit {
    /// The unit CloudWatch calls `name`, if it is one measurements may use.
    pub fn parse(name: &str) -> Option<Unit> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }

    /// CloudWatch's name of the unit.
    pub fn as_str(self) -> &'static str {
        UNIT_NAMES[self as usize]
    }

    /// Whether a negative value is impossible in this unit (durations, sizes, counts).
    pub fn non_negative(self) -> bool {
        !matches!(self, Unit::None | Unit::Percent)
    }
}

/// Roll a window of a namespace up into percentiles and rates, and compare with the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct RollupRequest {
    #[cfg_attr(test, proptest(strategy = "\"[A-Z][a-z]{1,8}/[A-Z][a-z]{1,8}\""))]
    pub namespace: String,
    /// The window to read back, ending now (1-1440 minutes).
    #[schemars(range(min = 1, max = 1440))]
    pub window_minutes: u32,
    /// 1, 5, 10, 30 or a multiple of 60 seconds.
    pub period_seconds: u32,
    /// Percentiles to compute, each in (0, 100); at most 10.
    #[serde(default = "default_percentiles")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(1.0f64..99.9, 0..4)")
    )]
    pub percentiles: Vec<f64>,
    /// Where the rollups go.
    #[cfg_attr(test, proptest(strategy = "\"[A-Z][a-z]{1,8}/[A-Z][a-z]{1,8}\""))]
    pub output_namespace: String,
    /// Days of history forming the baseline (1-30).
    #[serde(default = "default_baseline_days")]
    #[schemars(range(min = 1, max = 30))]
    pub baseline_days: u32,
}

fn default_percentiles() -> Vec<f64> {
    vec![50.0, 95.0, 99.0]
}
fn default_baseline_days() -> u32 {
    7
}

impl Validate for MeasurementBatch {
    fn validate(&self, v: &mut Validator) {
        v.name("namespace", &self.namespace, names::cloudwatch_namespace);
        v.count("series", self.series.len(), 1, 100);
        v.each("series", &self.series);
    }
}

impl Validate for Series {
    fn validate(&self, v: &mut Validator) {
        v.name("name", &self.name, names::cloudwatch_name);
        v.at("dimensions", |v| {
            for (k, val) in &self.dimensions {
                v.name(k, k, names::cloudwatch_name);
                v.length(k, val, 1, 1024);
            }
        });
        v.count("samples", self.samples.len(), 0, 10_000);
        if self.samples.is_empty() && self.counters.is_none() {
            v.fail(
                "samples",
                "empty, and no counters: the series carries nothing",
            );
        }
    }
}

impl Validate for RollupRequest {
    fn validate(&self, v: &mut Validator) {
        v.name("namespace", &self.namespace, names::cloudwatch_namespace);
        v.name(
            "output_namespace",
            &self.output_namespace,
            names::cloudwatch_namespace,
        );
        v.range("window_minutes", self.window_minutes.into(), 1, 1440);
        let p = self.period_seconds;
        if !(matches!(p, 1 | 5 | 10 | 30) || (p >= 60 && p.is_multiple_of(60) && p <= 86_400)) {
            v.fail(
                "period_seconds",
                format!("{p} is not 1, 5, 10, 30 or a multiple of 60 up to 86400"),
            );
        }
        v.count("percentiles", self.percentiles.len(), 0, 10);
        v.at("percentiles", |v| {
            for (i, p) in self.percentiles.iter().enumerate() {
                if !(p.is_finite() && *p > 0.0 && *p < 100.0) {
                    v.at(i, |v| {
                        v.fail(
                            "",
                            format!("{p} is not a percentile strictly between 0 and 100"),
                        )
                    });
                }
            }
        });
        v.range("baseline_days", self.baseline_days.into(), 1, 30);
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn unit_names_match_the_variants_in_order() {
        for name in UNIT_NAMES {
            let u = Unit::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(u.as_str(), *name);
        }
        assert_eq!(Unit::parse("Furlongs"), None);
    }
}
