//! Outcome events the workers emit back to the bus. They are routed to no worker queue.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::{Validate, Validator};

/// `stoker.job.completed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct JobCompleted {
    #[cfg_attr(test, proptest(strategy = "\"[a-z-]{3,12}\""))]
    pub worker: String,
    /// The id of the request event.
    #[cfg_attr(test, proptest(strategy = "crate::arb::uuid()"))]
    pub job_id: Uuid,
    /// The request's kind (detail-type).
    #[cfg_attr(test, proptest(strategy = "\"stoker\\\\.[a-z]{3,8}\\\\.requested\""))]
    pub job_kind: String,
    pub attempts: u32,
    pub duration_ms: u64,
    /// The worker's report (per-target figures and the like).
    #[cfg_attr(test, proptest(strategy = "crate::arb::json_value()"))]
    pub report: serde_json::Value,
}

/// `stoker.job.failed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct JobFailed {
    #[cfg_attr(test, proptest(strategy = "\"[a-z-]{3,12}\""))]
    pub worker: String,
    #[cfg_attr(test, proptest(strategy = "crate::arb::uuid()"))]
    pub job_id: Uuid,
    #[cfg_attr(test, proptest(strategy = "\"stoker\\\\.[a-z]{3,8}\\\\.requested\""))]
    pub job_kind: String,
    pub attempts: u32,
    pub error_kind: ErrorKind,
    /// What went wrong and what to do about it.
    #[cfg_attr(test, proptest(strategy = "\"[a-z ]{0,30}\""))]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad input, validation, not found: never retried.
    Permanent,
    /// Throttling, 5xx, timeouts: retried until the attempts ran out.
    Retryable,
}

/// `stoker.rollup.regression-detected`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct RegressionDetected {
    #[cfg_attr(test, proptest(strategy = "\"[A-Z][a-z]{1,8}\""))]
    pub namespace: String,
    #[cfg_attr(test, proptest(strategy = "\"[A-Z][a-z]{1,8}\""))]
    pub series: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::collection::btree_map(\"[A-Z][a-z]{1,6}\", \"[a-z0-9]{1,6}\", 0..3)"
        )
    )]
    pub dimensions: BTreeMap<String, String>,
    /// `avg_response_time`, `p95_response_time` (when p95 is asked for) or `error_rate`.
    #[cfg_attr(test, proptest(strategy = "\"[a-z_]{3,20}\""))]
    pub metric: String,
    #[cfg_attr(test, proptest(strategy = "0.0f64..1e6"))]
    pub current: f64,
    #[cfg_attr(test, proptest(strategy = "0.0f64..1e6"))]
    pub baseline: f64,
    /// current / baseline.
    #[cfg_attr(test, proptest(strategy = "0.0f64..1e3"))]
    pub ratio: f64,
    /// The ratio that counts as a regression (1.5 for response time, 2 for errors).
    #[cfg_attr(test, proptest(strategy = "0.0f64..1e3"))]
    pub threshold: f64,
}

/// `stoker.optimizer.recommended`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct OptimizationRecommended {
    #[cfg_attr(test, proptest(strategy = "\"[a-z][a-z0-9-]{0,12}\""))]
    pub function: String,
    pub finding: Finding,
    /// Why (e.g. too few invocations in the lookback).
    #[cfg_attr(test, proptest(strategy = "\"[a-z ]{0,30}\""))]
    pub reason: String,
    pub current_memory_mb: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_memory_mb: Option<u32>,
    pub current_timeout_s: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_timeout_s: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(strategy = "proptest::option::of(-1e6f64..1e6)"))]
    pub estimated_monthly_savings_usd: Option<f64>,
    /// Whether the change was applied (mode `apply`, within bounds).
    pub applied: bool,
    /// Why an applied change was rolled back at once: the alarm that went to ALARM while the
    /// pass watched the function, and its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(strategy = "proptest::option::of(\"[a-z ]{0,30}\")"))]
    pub rolled_back: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    Optimized,
    NotOptimized,
    Unavailable,
}

macro_rules! no_rules {
    ($($t:ty),*) => {$(
        impl Validate for $t {
            fn validate(&self, _: &mut Validator) {}
        }
    )*};
}
no_rules!(
    JobCompleted,
    JobFailed,
    RegressionDetected,
    OptimizationRecommended
);
