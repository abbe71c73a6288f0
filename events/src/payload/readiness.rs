//! `stoker.readiness.requested`: check the system and report go / no-go;
//! `stoker.readiness.reported`: the verdict.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::validate::{Validate, Validator};

/// Check these resources (each empty list means the stack's own) and report go / no-go:
/// go when no check failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ReadinessRequest {
    /// DynamoDB tables (0-50): point-in-time recovery on, a backup recent enough. A name ending
    /// in `*` is a prefix (every table starting with it). Default: the stack's ops table and
    /// the tables tagged `stoker:readiness=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(\"[a-z][a-z0-9-]{2,20}\", 0..3)")
    )]
    #[schemars(length(max = 50))]
    pub tables: Vec<String>,
    /// SQS queue names (0-100): dead-letter queues empty, the others below the depth limit and
    /// with a DLQ, all encrypted. A name ending in `*` is a prefix. Default: every worker's
    /// queue and DLQ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(\"[a-z][a-z0-9-]{0,20}\", 0..3)")
    )]
    #[schemars(length(max = 100))]
    pub queues: Vec<String>,
    /// Lambda functions (0-50): errors, throttles and p95 duration over the last hour, a log
    /// group with a retention. A name ending in `*` is a prefix. Default: the stack's own
    /// functions and the functions tagged `stoker:readiness=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(\"[a-z][a-z0-9-]{0,20}\", 0..3)")
    )]
    #[schemars(length(max = 50))]
    pub functions: Vec<String>,
    /// CloudWatch alarms whose names start with this (each: has an action, is not in ALARM).
    /// Default: the stack's name and `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(\"[a-z][a-z0-9-]{0,20}\")")
    )]
    #[schemars(length(min = 1, max = 255))]
    pub alarm_prefix: Option<String>,
    /// Also check the tables and functions (within the stack's prefixes) tagged so: `key` or
    /// `key=value`. Default for a request that names nothing: `stoker:readiness=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::option::of(\"[a-z][a-z0-9:]{0,10}(=[a-z0-9]{0,5})?\")")
    )]
    #[schemars(length(min = 1, max = 385))]
    pub tag: Option<String>,
    /// The limits the checks hold resources to.
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// The tag a request that names nothing selects tables and functions by.
pub const DEFAULT_TAG: &str = "stoker:readiness=true";

/// A request's tag: `(key, value)`; no value matches any.
pub fn tag_parts(tag: &str) -> (&str, Option<&str>) {
    match tag.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (tag, None),
    }
}

/// `name*`: the prefix, or `None` for a plain name.
pub fn prefix_of(name: &str) -> Option<&str> {
    name.strip_suffix('*')
}

/// The limits of the checks (defaults from the operations plans stoker serves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// A table's newest backup may be at most this old (1-8760 h, default 26: a daily backup
    /// and some slack).
    #[serde(default = "default_backup_age_hours")]
    #[schemars(range(min = 1, max = 8760))]
    pub max_backup_age_hours: u32,
    /// A queue deeper than this warns (0-1000000, default 100).
    #[serde(default = "default_queue_depth")]
    #[schemars(range(max = 1_000_000))]
    pub max_queue_depth: u64,
    /// A queue whose oldest message (`ApproximateAgeOfOldestMessage`, last 15 minutes) is older
    /// than this warns (1-1209600 s, default 900).
    #[serde(default = "default_message_age_s")]
    #[schemars(range(min = 1, max = 1_209_600))]
    pub max_message_age_s: u32,
    /// The stack's verdict warns when stoker's jobs cost more than this many USD per 1,000
    /// invocations of the functions it warms over the last hour (0-1000; absent: the stack's
    /// `CostPer1000InvocationsAlarmUsd`, which its alarm of the same figure uses, 0.10 by
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1000.0))]
    #[cfg_attr(test, proptest(strategy = "proptest::option::of(0.0f64..1000.0)"))]
    pub max_usd_per_1000_invocations: Option<f64>,
    /// A function whose errors exceed this share of its invocations in the last hour fails
    /// (0-100 %, default 5; above 1 % warns).
    #[serde(default = "default_error_rate_pct")]
    #[schemars(range(max = 100))]
    pub max_error_rate_pct: u32,
    /// A function throttled more than this in any one minute of the last hour fails (0-100000,
    /// default 10).
    #[serde(default = "default_throttles_per_minute")]
    #[schemars(range(max = 100_000))]
    pub max_throttles_per_minute: u32,
    /// A function whose p95 duration over the last hour exceeds this warns (1-900000 ms,
    /// default 300).
    #[serde(default = "default_p95_ms")]
    #[schemars(range(min = 1, max = 900_000))]
    pub max_p95_ms: u32,
    /// A function whose slowest cold start (`Init Duration` of its REPORT lines) in the last
    /// hour exceeds this warns (1-900000 ms, default 1000).
    #[serde(default = "default_cold_start_ms")]
    #[schemars(range(min = 1, max = 900_000))]
    pub max_cold_start_ms: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_backup_age_hours: default_backup_age_hours(),
            max_queue_depth: default_queue_depth(),
            max_message_age_s: default_message_age_s(),
            max_usd_per_1000_invocations: None,
            max_error_rate_pct: default_error_rate_pct(),
            max_throttles_per_minute: default_throttles_per_minute(),
            max_p95_ms: default_p95_ms(),
            max_cold_start_ms: default_cold_start_ms(),
        }
    }
}

fn default_backup_age_hours() -> u32 {
    26
}
fn default_queue_depth() -> u64 {
    100
}
fn default_message_age_s() -> u32 {
    900
}
/// The cost per 1,000 warmed invocations above which `cost.per_use` warns when neither the
/// request nor the stack sets one (the template's `CostPer1000InvocationsAlarmUsd` default).
pub const DEFAULT_USD_PER_1000_INVOCATIONS: f64 = 0.1;
fn default_error_rate_pct() -> u32 {
    5
}
fn default_throttles_per_minute() -> u32 {
    10
}
fn default_p95_ms() -> u32 {
    300
}
fn default_cold_start_ms() -> u32 {
    1000
}

/// `stoker.readiness.reported`: the verdict of a readiness job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ReadinessReported {
    /// No check failed.
    pub go: bool,
    pub passed: u32,
    pub warned: u32,
    pub failed: u32,
    /// The failed checks, `<check> <resource>: <evidence>` (at most 20).
    #[cfg_attr(
        test,
        proptest(strategy = "proptest::collection::vec(\"[a-z .:]{0,30}\", 0..3)")
    )]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl Validate for ReadinessRequest {
    fn validate(&self, v: &mut Validator) {
        v.count("tables", self.tables.len(), 0, 50);
        v.at("tables", |v| {
            for (i, t) in self.tables.iter().enumerate() {
                v.at(i, |v| v.name("", t, table_or_prefix));
            }
        });
        v.count("queues", self.queues.len(), 0, 100);
        v.at("queues", |v| {
            for (i, q) in self.queues.iter().enumerate() {
                v.at(i, |v| v.name("", q, queue_or_prefix));
            }
        });
        v.count("functions", self.functions.len(), 0, 50);
        v.at("functions", |v| {
            for (i, f) in self.functions.iter().enumerate() {
                v.at(i, |v| v.name("", f, function_or_prefix));
            }
        });
        if let Some(p) = &self.alarm_prefix {
            v.length("alarm_prefix", p, 1, 255);
        }
        if let Some(t) = &self.tag {
            v.name("tag", t, tag);
        }
        v.at("thresholds", |v| self.thresholds.validate(v));
    }
}

impl Validate for Thresholds {
    fn validate(&self, v: &mut Validator) {
        v.range(
            "max_backup_age_hours",
            self.max_backup_age_hours.into(),
            1,
            8760,
        );
        v.range("max_queue_depth", self.max_queue_depth, 0, 1_000_000);
        if let Some(usd) = self.max_usd_per_1000_invocations {
            v.range_f64("max_usd_per_1000_invocations", usd, 0.0, 1000.0);
        }
        v.range(
            "max_message_age_s",
            self.max_message_age_s.into(),
            1,
            1_209_600,
        );
        v.range("max_error_rate_pct", self.max_error_rate_pct.into(), 0, 100);
        v.range(
            "max_throttles_per_minute",
            self.max_throttles_per_minute.into(),
            0,
            100_000,
        );
        v.range("max_p95_ms", self.max_p95_ms.into(), 1, 900_000);
        v.range(
            "max_cold_start_ms",
            self.max_cold_start_ms.into(),
            1,
            900_000,
        );
    }
}

impl Validate for ReadinessReported {
    fn validate(&self, _: &mut Validator) {}
}

/// An SQS queue name: 1-80 letters, digits, `-` and `_` (a FIFO queue's ends in `.fifo`).
fn table_or_prefix(s: &str) -> Result<(), String> {
    names::dynamodb_table(prefix_of(s).unwrap_or(s))
}

fn function_or_prefix(s: &str) -> Result<(), String> {
    match prefix_of(s) {
        Some(p) if p.starts_with("arn:") => Err(format!("`{s}`: a prefix is of plain names")),
        Some(p) => names::lambda_function(p),
        None => names::lambda_function(s),
    }
}

fn queue_or_prefix(s: &str) -> Result<(), String> {
    sqs_queue(prefix_of(s).unwrap_or(s))
}

/// `key` or `key=value`: a key of 1-128 characters, a value of at most 256, as AWS tags.
fn tag(s: &str) -> Result<(), String> {
    let (k, v) = tag_parts(s);
    if k.is_empty() || k.chars().count() > 128 || v.is_some_and(|v| v.chars().count() > 256) {
        return Err(format!(
            "`{s}` is not a tag (`key` or `key=value`: a key of 1-128 characters, a value of at most 256)"
        ));
    }
    Ok(())
}

fn sqs_queue(s: &str) -> Result<(), String> {
    let stem = s.strip_suffix(".fifo").unwrap_or(s);
    if s.is_empty() || s.len() > 80 {
        return Err("must be 1-80 characters".into());
    }
    if !stem
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("may hold only letters, digits, - and _ (and end in .fifo)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_checked() {
        assert!(sqs_queue("stoker-warmup-dlq").is_ok());
        assert!(sqs_queue("orders.fifo").is_ok());
        assert!(sqs_queue("").is_err());
        assert!(sqs_queue("a/b").is_err());
        assert!(sqs_queue(&"q".repeat(81)).is_err());
    }

    #[test]
    fn an_empty_request_means_the_stacks_own_with_default_limits() {
        let r: ReadinessRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(r, ReadinessRequest::default());
        assert_eq!(r.thresholds.max_backup_age_hours, 26);
        assert_eq!(r.thresholds.max_queue_depth, 100);
        assert!(Validator::check(&r).is_ok());
    }

    #[test]
    fn bad_names_and_limits_are_refused_by_field() {
        let r: ReadinessRequest = serde_json::from_str(
            r#"{"tables": ["x"], "queues": ["a b"], "thresholds": {"max_backup_age_hours": 0}}"#,
        )
        .unwrap();
        let errors = Validator::check(&r).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["tables[0]", "queues[0]", "thresholds.max_backup_age_hours"],
            "{errors:?}"
        );
    }

    #[test]
    fn names_ending_in_a_star_are_prefixes_and_tags_are_keys_or_pairs() {
        let r: ReadinessRequest = serde_json::from_str(
            r#"{"tables": ["app-*"], "functions": ["app-api-*"], "queues": ["st-*"], "tag": "team=orders"}"#,
        )
        .unwrap();
        assert!(Validator::check(&r).is_ok());
        assert_eq!(prefix_of("app-*"), Some("app-"));
        assert_eq!(tag_parts("team=orders"), ("team", Some("orders")));
        assert_eq!(tag_parts("team"), ("team", None));
        let bad: ReadinessRequest = serde_json::from_str(
            r#"{"tables": ["a*"], "functions": ["arn:aws:lambda:us-east-1:123456789012:function:x*"], "tag": "=x"}"#,
        )
        .unwrap();
        let paths: Vec<String> = Validator::check(&bad)
            .unwrap_err()
            .iter()
            .map(|e| e.path.clone())
            .collect();
        assert_eq!(paths, ["tables[0]", "functions[0]", "tag"]);
    }
}
