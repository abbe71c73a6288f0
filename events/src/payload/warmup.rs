//! `stoker.warmup.requested`: keep Lambda functions warm with N concurrent pings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::validate::{Validate, Validator};

/// Warm up these functions: for each target, `concurrency` simultaneous invocations carrying the
/// warm-up marker, each held open `hold_open_ms` so they land on distinct instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct WarmupRequest {
    /// 1-50 functions to warm.
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::collection::vec(proptest::prelude::any::<WarmupTarget>(), 1..4)"
        )
    )]
    #[schemars(length(min = 1, max = 50))]
    pub targets: Vec<WarmupTarget>,
    /// How long each warmed instance holds the ping before answering (0-10000 ms).
    #[serde(default = "default_hold_open_ms")]
    #[schemars(range(max = 10_000))]
    pub hold_open_ms: u32,
    /// Per-invocation timeout (100-900000 ms).
    #[serde(default = "default_invocation_timeout_ms")]
    #[schemars(range(min = 100, max = 900_000))]
    pub invocation_timeout_ms: u32,
}

/// One function to keep warm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct WarmupTarget {
    /// Function name, partial ARN or ARN.
    #[cfg_attr(test, proptest(strategy = "\"[a-z][a-z0-9-]{0,20}\""))]
    #[schemars(length(min = 1, max = 140))]
    pub function: String,
    /// Alias or version to warm (`$LATEST` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(strategy = "proptest::option::of(\"[a-z]{1,8}\")"))]
    pub qualifier: Option<String>,
    /// How many instances to keep warm (1-100).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub concurrency: u32,
    /// Extra JSON merged into the ping, for handlers that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::json_object()"))]
    pub payload: Option<serde_json::Value>,
}

fn one() -> u32 {
    1
}
fn default_hold_open_ms() -> u32 {
    100
}
fn default_invocation_timeout_ms() -> u32 {
    10_000
}

pub const MAX_TARGETS: usize = 50;
pub const MAX_CONCURRENCY: u64 = 100;

impl Validate for WarmupRequest {
    fn validate(&self, v: &mut Validator) {
        v.count("targets", self.targets.len(), 1, MAX_TARGETS);
        v.each("targets", &self.targets);
        v.range("hold_open_ms", self.hold_open_ms.into(), 0, 10_000);
        v.range(
            "invocation_timeout_ms",
            self.invocation_timeout_ms.into(),
            100,
            900_000,
        );
    }
}

impl Validate for WarmupTarget {
    fn validate(&self, v: &mut Validator) {
        v.name("function", &self.function, names::lambda_function);
        if let Some(q) = &self.qualifier {
            v.name("qualifier", q, names::qualifier);
        }
        v.range("concurrency", self.concurrency.into(), 1, MAX_CONCURRENCY);
        if let Some(p) = &self.payload {
            if !p.is_object() {
                v.fail("payload", "must be a JSON object");
            } else if p.to_string().len() > 4096 {
                v.fail("payload", "is larger than 4096 bytes");
            }
        }
    }
}
