//! `stoker.optimize.requested`: Lambda memory/timeout recommendations, applied only with guardrails.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::validate::{Validate, Validator};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    pub functions: FunctionSelector,
    /// Days of metrics to read (1-90).
    #[serde(default = "default_lookback_days")]
    #[schemars(range(min = 1, max = 90))]
    pub lookback_days: u32,
    #[serde(default)]
    pub strategy: Strategy,
    /// `recommend` (default) only reports; `apply` changes functions within `bounds`.
    #[serde(default)]
    pub mode: OptimizeMode,
    #[serde(default)]
    pub bounds: Bounds,
    /// An active power-tuning sweep instead of (or besides) passive metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_tuning: Option<PowerTuning>,
    /// DynamoDB tables to advise on (on-demand vs provisioned capacity, 0-20); in mode
    /// `apply`, an opted-in provisioned table is given an auto-scaling target (75 %
    /// utilization, at most `bounds.max_table_capacity`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(\"[a-z][a-z0-9-]{2,12}\", 0..3)")
    )]
    pub tables: Vec<String>,
    /// Also advise on provisioned concurrency per function, from its peak concurrency and
    /// cold starts, priced against warm-up pings; in mode `apply`, set it on the function's
    /// alias (opted-in functions only, at most `bounds.max_provisioned_concurrency`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisioned_concurrency: bool,
}

fn default_lookback_days() -> u32 {
    14
}

/// Which functions: explicit names, or every function carrying a tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FunctionSelector {
    Names(
        #[cfg_attr(
            test,
            proptest(strategy = "proptest::collection::vec(\"[a-z][a-z0-9-]{0,12}\", 1..3)")
        )]
        Vec<String>,
    ),
    Tag(TagFilter),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TagFilter {
    #[cfg_attr(test, proptest(strategy = "\"[a-z:]{1,12}\""))]
    pub key: String,
    #[cfg_attr(test, proptest(strategy = "\"[a-z]{0,8}\""))]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    pub name: StrategyName,
    /// For `balanced`: 0 = all cost, 1 = all speed (0-1).
    #[serde(default = "half")]
    #[schemars(range(min = 0.0, max = 1.0))]
    #[cfg_attr(test, proptest(strategy = "0.0f64..=1.0"))]
    pub weight: f64,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy {
            name: StrategyName::Balanced,
            weight: half(),
        }
    }
}

fn half() -> f64 {
    0.5
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum StrategyName {
    Cost,
    Speed,
    Balanced,
}

impl StrategyName {
    /// The name as written in events (`cost`, `speed`, `balanced`).
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyName::Cost => "cost",
            StrategyName::Speed => "speed",
            StrategyName::Balanced => "balanced",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum OptimizeMode {
    #[default]
    Recommend,
    Apply,
}

/// Guardrails for recommendations and, above all, for applying them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// 128-10240 MB.
    #[serde(default = "min_memory")]
    pub min_memory_mb: u32,
    /// 128-10240 MB, >= min_memory_mb.
    #[serde(default = "max_memory")]
    pub max_memory_mb: u32,
    /// 1-900 s.
    #[serde(default = "max_timeout")]
    #[schemars(range(min = 1, max = 900))]
    pub max_timeout_s: u32,
    /// The largest change applied in one pass, in percent of the current memory (1-100).
    #[serde(default = "max_change")]
    #[schemars(range(min = 1, max = 100))]
    pub max_change_pct: u32,
    /// After an apply, how long the function's CloudWatch alarms (on its `AWS/Lambda`
    /// errors, duration and throttles) are watched, in seconds (0-600; 0: not watched). One
    /// that goes to ALARM rolls the change back. A function with an alarm already in ALARM is
    /// not changed.
    #[serde(default = "watch")]
    #[schemars(range(min = 0, max = 600))]
    pub watch_secs: u32,
    /// The most provisioned instances an apply sets on a function's alias (0-100; 0: never).
    #[serde(default = "max_provisioned")]
    #[schemars(range(min = 0, max = 100))]
    pub max_provisioned_concurrency: u32,
    /// The most capacity units (read or write) an apply lets DynamoDB auto scaling reach on
    /// a table (1-40000; 0: never applied). Only tables tagged `stoker:optimize` = `true`,
    /// billed as provisioned, are given an auto-scaling target (75 % utilization).
    #[serde(default = "max_table_capacity")]
    #[schemars(range(min = 0, max = 40000))]
    pub max_table_capacity: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            min_memory_mb: min_memory(),
            max_memory_mb: max_memory(),
            max_timeout_s: max_timeout(),
            max_change_pct: max_change(),
            watch_secs: watch(),
            max_provisioned_concurrency: max_provisioned(),
            max_table_capacity: max_table_capacity(),
        }
    }
}

fn min_memory() -> u32 {
    128
}
fn max_memory() -> u32 {
    3008
}
fn max_timeout() -> u32 {
    900
}
fn max_change() -> u32 {
    50
}
fn watch() -> u32 {
    300
}
fn max_provisioned() -> u32 {
    5
}
fn max_table_capacity() -> u32 {
    100
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct PowerTuning {
    /// 1-10 memory sizes to try (128-10240 MB each).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(128u32..10240, 1..4)")
    )]
    pub memory_sizes: Vec<u32>,
    /// Invocations per size (1-100).
    #[serde(default = "default_invocations")]
    #[schemars(range(min = 1, max = 100))]
    pub invocations: u32,
    /// Run each size's invocations in parallel instead of one after another.
    #[serde(default)]
    pub parallel: bool,
    /// Pause between serial invocations (0-10000 ms).
    #[serde(default)]
    pub sleep_ms: u32,
    /// The event each invocation receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::json_object()"))]
    pub payload: Option<serde_json::Value>,
    /// The same code built for arm64, deployed as a function of its own (opted in like the
    /// function): it is swept too, at the same sizes, and the report's `arm64_measured` sets
    /// the measured arm64 cost beside the measured x86_64 one. Only with exactly one function
    /// named (an x86_64 one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(value = "None"))]
    pub arm64_twin: Option<String>,
}

fn default_invocations() -> u32 {
    10
}

impl Validate for OptimizeRequest {
    fn validate(&self, v: &mut Validator) {
        v.at("functions", |v| match &self.functions {
            FunctionSelector::Names(names) => {
                v.count("names", names.len(), 1, 100);
                v.at("names", |v| {
                    for (i, n) in names.iter().enumerate() {
                        v.at(i, |v| v.name("", n, names::lambda_function));
                    }
                });
            }
            FunctionSelector::Tag(t) => {
                v.at("tag", |v| {
                    v.name("key", &t.key, names::tag_key);
                    v.name("value", &t.value, names::tag_value);
                });
            }
        });
        v.range("lookback_days", self.lookback_days.into(), 1, 90);
        v.at("strategy", |v| {
            v.range_f64("weight", self.strategy.weight, 0.0, 1.0)
        });
        v.at("bounds", |v| {
            let b = &self.bounds;
            v.range("min_memory_mb", b.min_memory_mb.into(), 128, 10_240);
            v.range("max_memory_mb", b.max_memory_mb.into(), 128, 10_240);
            if b.min_memory_mb > b.max_memory_mb {
                v.fail(
                    "min_memory_mb",
                    format!(
                        "{} is above max_memory_mb {}",
                        b.min_memory_mb, b.max_memory_mb
                    ),
                );
            }
            v.range("max_timeout_s", b.max_timeout_s.into(), 1, 900);
            v.range("max_change_pct", b.max_change_pct.into(), 1, 100);
            v.range("watch_secs", b.watch_secs.into(), 0, 600);
            v.range(
                "max_provisioned_concurrency",
                b.max_provisioned_concurrency.into(),
                0,
                100,
            );
            v.range("max_table_capacity", b.max_table_capacity.into(), 0, 40_000);
        });
        v.count("tables", self.tables.len(), 0, 20);
        v.at("tables", |v| {
            for (i, t) in self.tables.iter().enumerate() {
                v.at(i, |v| v.name("", t, names::dynamodb_table));
                if self.tables[..i].contains(t) {
                    v.at(i, |v| v.fail("", format!("{t} is named twice")));
                }
            }
        });
        if let Some(p) = &self.power_tuning {
            v.at("power_tuning", |v| {
                v.count("memory_sizes", p.memory_sizes.len(), 1, 10);
                v.at("memory_sizes", |v| {
                    for (i, m) in p.memory_sizes.iter().enumerate() {
                        v.at(i, |v| v.range("", (*m).into(), 128, 10_240));
                    }
                });
                v.range("invocations", p.invocations.into(), 1, 100);
                v.range("sleep_ms", p.sleep_ms.into(), 0, 10_000);
                if let Some(twin) = &p.arm64_twin {
                    v.name("arm64_twin", twin, names::lambda_function);
                    let one = match &self.functions {
                        FunctionSelector::Names(n) => n.len() == 1 && n[0] != *twin,
                        FunctionSelector::Tag(_) => false,
                    };
                    if !one {
                        v.fail(
                            "arm64_twin",
                            "a sweep on both architectures compares one function with its twin: name exactly one function in `functions` (not the twin itself)",
                        );
                    }
                }
                if let Err(why) = p.fits_the_job() {
                    v.fail("", why);
                }
            });
        }
    }
}

/// The optimizer's job timeout (its function's Timeout in infra/), which a sweep must fit.
pub const OPTIMIZER_JOB_S: u64 = 900;
/// One size's work besides its invocations: update, version, alias, the wait for REPORT lines.
pub const SWEEP_PER_SIZE_S: u64 = 35;
/// Putting the function back and deleting the sweep's aliases and versions.
pub const SWEEP_CLEAN_UP_S: u64 = 30;

impl PowerTuning {
    /// Refuses a sweep that cannot finish within the optimizer's job even if every invocation
    /// took Lambda's shortest timeout (1 s), with the arithmetic. (The worker checks again with
    /// the function's own timeout.)
    pub fn fits_the_job(&self) -> Result<(), String> {
        let mut sizes = self.memory_sizes.clone();
        sizes.sort_unstable();
        sizes.dedup();
        let n = sizes.len() as u64;
        let (rounds, pauses) = if self.parallel {
            (1, 0)
        } else {
            (
                u64::from(self.invocations),
                u64::from(self.invocations.saturating_sub(1)),
            )
        };
        let per_size_ms =
            rounds * 1000 + pauses * u64::from(self.sleep_ms) + SWEEP_PER_SIZE_S * 1000;
        // A twin is swept after the function, the same way.
        let sweeps = 1 + u64::from(self.arm64_twin.is_some());
        let least_s = sweeps * ((n * per_size_ms).div_ceil(1000) + SWEEP_CLEAN_UP_S);
        if least_s <= OPTIMIZER_JOB_S {
            return Ok(());
        }
        let twice = if sweeps == 2 {
            " for each of 2 sweeps (the function and its arm64 twin)"
        } else {
            ""
        };
        Err(format!(
            "{n} sizes x ({rounds} invocation round(s) x at least 1 s + {pauses} pause(s) x {} ms + {SWEEP_PER_SIZE_S} s per size) + {SWEEP_CLEAN_UP_S} s clean-up{twice} = {least_s} s at the least, beyond the optimizer's {OPTIMIZER_JOB_S} s job; sweep fewer sizes or invocations, or run them in parallel",
            self.sleep_ms
        ))
    }
}
