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
    /// The minutes between two jobs of the schedule that sends this request (1-60, default 5):
    /// a target's own schedule is due when it fires in the minutes since the previous job, so
    /// a rule's ticks need not fall on the schedule's own minutes.
    #[serde(default = "default_tick_minutes")]
    #[schemars(range(min = 1, max = 60))]
    pub tick_minutes: u32,
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
    /// The target's own schedules (0-10). A job sent by a schedule (`requested_by`
    /// `schedule:…`) warms a target that has some only when one is due at the job's time (the
    /// minute it was sent), with that schedule's concurrency (the highest of those due); a
    /// target without any is warmed by every job at `concurrency`. An operator's job warms
    /// every target at `concurrency`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::collection::vec(proptest::prelude::any::<TargetSchedule>(), 0..2)"
        )
    )]
    #[schemars(length(max = 10))]
    pub schedules: Vec<TargetSchedule>,
}

/// When a target is warmed by a scheduled job: a cron expression or a rate (one of them), and
/// how many instances then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TargetSchedule {
    /// EventBridge's cron fields, UTC: `minutes hours day-of-month month day-of-week year`
    /// (`0/15 8-18 ? * MON-FRI *`; no `L`, `W` or `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(\"0/15 8-18 \\\\? \\\\* MON-FRI \\\\*\")")
    )]
    pub cron: Option<String>,
    /// Every N minutes of the day, from midnight UTC (1-1440).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1440))]
    pub rate_minutes: Option<u32>,
    /// Instances to keep warm while this schedule is due (1-100).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 100))]
    pub concurrency: u32,
}

impl TargetSchedule {
    /// Whether the schedule fires in the minute of `t` or in the `window - 1` minutes before
    /// it (a cron that does not parse never does: validation refuses it first).
    pub fn due(&self, t: chrono::DateTime<chrono::Utc>, window: u32) -> bool {
        use chrono::Timelike;
        let cron = self.cron.as_deref().map(crate::cron::Cron::parse);
        (0..window.max(1)).any(|back| {
            let t = t - chrono::Duration::minutes(i64::from(back));
            match (&cron, self.rate_minutes) {
                (Some(c), _) => c.as_ref().is_ok_and(|c| c.matches(t)),
                (None, Some(n)) if n > 0 => (t.hour() * 60 + t.minute()).is_multiple_of(n),
                _ => false,
            }
        })
    }
}

impl Validate for TargetSchedule {
    fn validate(&self, v: &mut Validator) {
        match (&self.cron, self.rate_minutes) {
            (Some(c), None) => {
                if let Err(e) = crate::cron::Cron::parse(c) {
                    v.fail("cron", e);
                }
            }
            (None, Some(n)) => v.range("rate_minutes", n.into(), 1, 1440),
            _ => v.fail(
                "cron",
                "give a cron expression or rate_minutes (one of them)",
            ),
        }
        v.range("concurrency", self.concurrency.into(), 1, MAX_CONCURRENCY);
    }
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
fn default_tick_minutes() -> u32 {
    5
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
        v.range("tick_minutes", self.tick_minutes.into(), 1, 60);
    }
}

impl Validate for WarmupTarget {
    fn validate(&self, v: &mut Validator) {
        v.name("function", &self.function, names::lambda_function);
        if let Some(q) = &self.qualifier {
            v.name("qualifier", q, names::qualifier);
        }
        v.range("concurrency", self.concurrency.into(), 1, MAX_CONCURRENCY);
        v.count("schedules", self.schedules.len(), 0, 10);
        v.each("schedules", &self.schedules);
        if let Some(p) = &self.payload {
            if !p.is_object() {
                v.fail("payload", "must be a JSON object");
            } else if p.to_string().len() > 4096 {
                v.fail("payload", "is larger than 4096 bytes");
            }
        }
    }
}
