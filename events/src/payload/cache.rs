//! `stoker.cache-warm.requested`: load critical keys (HTTP endpoints, Redis keys) before users ask.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::names;
use crate::validate::{Validate, Validator};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct CacheWarmRequest {
    /// 0-500 things to warm (a request with none must invalidate something).
    #[cfg_attr(
        test,
        proptest(
            strategy = "proptest::collection::vec(proptest::prelude::any::<CacheTarget>(), 1..4)"
        )
    )]
    #[schemars(length(max = 500))]
    #[serde(default)]
    pub targets: Vec<CacheTarget>,
    /// How many targets are warmed at once (1-64).
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 64))]
    pub concurrency: u32,
    /// Keys to delete first, by pattern (0-20 patterns), found with `SCAN` (never `KEYS`).
    #[cfg_attr(test, proptest(value = "Vec::new()"))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub invalidate: Vec<Invalidation>,
    /// Change nothing: list the keys the invalidations would delete, warm nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// Redis keys to delete: those matching a glob pattern, at most `max_keys` of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Invalidation {
    /// A Redis glob pattern (`menu:*`, `user:42:*`, `leaderboard:?`), 1-200 characters starting
    /// with at least 3 literal characters, at most 4 `*`; the worker deletes only under the
    /// prefixes it is configured for (`STOKER_CACHE_INVALIDATE_PREFIXES`).
    #[schemars(length(min = 1, max = 200))]
    pub pattern: String,
    /// At most this many matching keys are deleted (1-10000, default 1000); the report says
    /// when more matched.
    #[serde(default = "default_max_keys")]
    #[schemars(range(min = 1, max = 10_000))]
    pub max_keys: u32,
}

impl Validate for Invalidation {
    fn validate(&self, v: &mut Validator) {
        v.count("pattern", self.pattern.chars().count(), 1, 200);
        let literal = self
            .pattern
            .find(['*', '?', '[', '\\'])
            .unwrap_or(self.pattern.len());
        if literal < MIN_LITERAL_PREFIX {
            v.fail(
                "pattern",
                format!(
                    "{:?} must start with at least {MIN_LITERAL_PREFIX} literal characters before any * ? [ or \\ (`menu:*`): a pattern may not reach every key",
                    self.pattern
                ),
            );
        }
        if self.pattern.matches('*').count() > MAX_STARS {
            v.fail(
                "pattern",
                format!("at most {MAX_STARS} `*` (many make Redis' glob matching slow)"),
            );
        }
        v.range("max_keys", self.max_keys.into(), 1, 10_000);
    }
}

/// The literal characters an invalidation pattern starts with, at least.
pub const MIN_LITERAL_PREFIX: usize = 3;
/// The most `*` an invalidation pattern may hold.
pub const MAX_STARS: usize = 4;

fn default_concurrency() -> u32 {
    8
}

/// A cache to warm: an HTTP endpoint (API Gateway / CDN cache) or a Redis key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CacheTarget {
    Http(HttpTarget),
    Redis(Box<RedisTarget>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// The URL to request; its host must be on the worker's allow-list.
    #[cfg_attr(
        test,
        proptest(strategy = "\"https://[a-z]{1,10}\\\\.example\\\\.com/[a-z]{0,8}\"")
    )]
    pub url: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers (no secrets: configure those on the worker).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(test, proptest(strategy = "crate::arb::headers()"))]
    pub headers: BTreeMap<String, String>,
    /// The status that counts as warmed (100-599).
    #[serde(default = "default_status")]
    #[schemars(range(min = 100, max = 599))]
    pub expected_status: u16,
    /// 100-60000 ms.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 100, max = 60_000))]
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
}

fn default_status() -> u16 {
    200
}
fn default_timeout_ms() -> u32 {
    5_000
}

/// Load a value from a source and write it to Redis with `SET key value EX ttl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct RedisTarget {
    /// The key; with `expand`, a pattern holding `{id}`.
    #[cfg_attr(test, proptest(strategy = "\"[a-z]{1,8}:[a-z{}]{1,8}\""))]
    pub key: String,
    /// Explicit TTL in seconds (1-2592000). Exactly one of `ttl_seconds` and `ttl_class`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// TTL by data class, from the worker's table (defaults: user_profile 3600 s, order_list
    /// 300 s, menu_items 1800 s, daily_menu 7200 s, payment_methods 1800 s, analytics 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_class: Option<TtlClass>,
    pub source: ValueSource,
    /// Expand `key` (and `{id}` in the source) once per id read from a list source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<KeyExpansion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum TtlClass {
    UserProfile,
    OrderList,
    MenuItems,
    DailyMenu,
    PaymentMethods,
    Analytics,
}

impl TtlClass {
    /// The default TTL of this class in seconds (the worker's configuration may override it).
    pub fn default_seconds(self) -> u32 {
        match self {
            TtlClass::UserProfile | TtlClass::Analytics => 3600,
            TtlClass::OrderList => 300,
            TtlClass::MenuItems | TtlClass::PaymentMethods => 1800,
            TtlClass::DailyMenu => 7200,
        }
    }
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueSource {
    /// An HTTP endpoint answering JSON; `pointer` (RFC 6901) selects part of it.
    Http {
        #[cfg_attr(
            test,
            proptest(strategy = "\"https://[a-z]{1,10}\\\\.example\\\\.com/[a-z]{0,8}\"")
        )]
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, proptest(strategy = "proptest::option::of(\"/[a-z]{1,6}\")"))]
        pointer: Option<String>,
    },
    /// One DynamoDB item by its key (attribute name -> string or number value).
    DynamodbItem {
        #[cfg_attr(test, proptest(strategy = "\"[a-z][a-z0-9-]{2,12}\""))]
        table: String,
        #[cfg_attr(test, proptest(strategy = "crate::arb::item_key()"))]
        key: BTreeMap<String, serde_json::Value>,
    },
    /// Items of one partition (optionally through an index), at most `limit`.
    DynamodbQuery {
        #[cfg_attr(test, proptest(strategy = "\"[a-z][a-z0-9-]{2,12}\""))]
        table: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, proptest(strategy = "proptest::option::of(\"[a-z]{3,8}\")"))]
        index: Option<String>,
        #[cfg_attr(test, proptest(strategy = "\"[a-z]{1,8}\""))]
        partition_key: String,
        #[cfg_attr(test, proptest(strategy = "crate::arb::scalar()"))]
        partition_value: serde_json::Value,
        #[serde(default = "default_limit")]
        limit: u32,
    },
}

fn default_limit() -> u32 {
    100
}

/// One key per id: ids come from `source` (a JSON array, or the items of a query), each id
/// taken from `field` of each element (the element itself when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct KeyExpansion {
    pub source: ValueSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, proptest(strategy = "proptest::option::of(\"[a-z]{1,8}\")"))]
    pub field: Option<String>,
    /// At most this many keys (1-10000).
    #[serde(default = "default_max_keys")]
    #[schemars(range(min = 1, max = 10_000))]
    pub max_keys: u32,
}

/// The most keys one cache-warming job may warm (the sum over its targets of their expansions'
/// `max_keys`, 1 per target without one).
pub const MAX_KEYS_PER_JOB: u64 = 10_000;

fn default_max_keys() -> u32 {
    1000
}

impl Validate for CacheWarmRequest {
    fn validate(&self, v: &mut Validator) {
        v.count("targets", self.targets.len(), 0, 500);
        v.each("targets", &self.targets);
        v.count("invalidate", self.invalidate.len(), 0, 20);
        v.each("invalidate", &self.invalidate);
        if self.targets.is_empty() && self.invalidate.is_empty() {
            v.fail(
                "targets",
                "nothing to do: name targets to warm or patterns to invalidate",
            );
        }
        let deletes: u64 = self.invalidate.iter().map(|i| u64::from(i.max_keys)).sum();
        if deletes > MAX_KEYS_PER_JOB {
            v.fail(
                "invalidate",
                format!(
                    "may delete up to {deletes} keys; a job deletes at most {MAX_KEYS_PER_JOB}: split it or lower max_keys"
                ),
            );
        }
        v.range("concurrency", self.concurrency.into(), 1, 64);
        let keys: u64 = self
            .targets
            .iter()
            .map(|t| match t {
                CacheTarget::Http(_) => 1,
                CacheTarget::Redis(r) => r.expand.as_ref().map_or(1, |e| u64::from(e.max_keys)),
            })
            .sum();
        if keys > MAX_KEYS_PER_JOB {
            v.fail(
                "targets",
                format!(
                    "may warm up to {keys} keys (each expand counts its max_keys); a job warms at most {MAX_KEYS_PER_JOB}: split it into several requests or lower max_keys"
                ),
            );
        }
    }
}

impl Validate for CacheTarget {
    fn validate(&self, v: &mut Validator) {
        match self {
            CacheTarget::Http(t) => t.validate(v),
            CacheTarget::Redis(t) => t.as_ref().validate(v),
        }
    }
}

impl Validate for HttpTarget {
    fn validate(&self, v: &mut Validator) {
        v.name("url", &self.url, names::http_url);
        v.range("expected_status", self.expected_status.into(), 100, 599);
        v.range("timeout_ms", self.timeout_ms.into(), 100, 60_000);
        v.count("headers", self.headers.len(), 0, 32);
        v.at("headers", |v| {
            for (name, value) in &self.headers {
                if let Err(why) = names::http_header(name, value) {
                    v.fail(name, why);
                }
            }
        });
    }
}

impl Validate for RedisTarget {
    fn validate(&self, v: &mut Validator) {
        v.name("key", &self.key, names::redis_key);
        match (self.ttl_seconds, self.ttl_class) {
            (Some(_), Some(_)) => v.fail(
                "ttl_seconds",
                "give either ttl_seconds or ttl_class, not both",
            ),
            (None, None) => v.fail(
                "ttl_seconds",
                "missing; give ttl_seconds (1-2592000) or ttl_class",
            ),
            (Some(s), None) => v.range("ttl_seconds", s.into(), 1, 2_592_000),
            (None, Some(_)) => {}
        }
        v.at("source", |v| self.source.validate(v));
        match &self.expand {
            Some(e) => {
                if !self.key.contains("{id}") {
                    v.fail("key", "has no {id} placeholder, but expand is set");
                }
                v.at("expand", |v| e.validate(v));
            }
            None if self.key.contains("{id}") => {
                v.fail("key", "has an {id} placeholder but no expand")
            }
            None => {}
        }
    }
}

impl Validate for ValueSource {
    fn validate(&self, v: &mut Validator) {
        match self {
            ValueSource::Http { url, pointer } => {
                v.name("url", url, names::http_url);
                if pointer
                    .as_deref()
                    .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
                {
                    v.fail(
                        "pointer",
                        "must be a JSON pointer starting with / (RFC 6901)",
                    );
                }
            }
            ValueSource::DynamodbItem { table, key } => {
                v.name("table", table, names::dynamodb_table);
                v.count("key", key.len(), 1, 2);
                check_scalars(v, "key", key.values());
            }
            ValueSource::DynamodbQuery {
                table,
                partition_value,
                limit,
                ..
            } => {
                v.name("table", table, names::dynamodb_table);
                check_scalars(v, "partition_value", std::iter::once(partition_value));
                v.range("limit", (*limit).into(), 1, 1000);
            }
        }
    }
}

fn check_scalars<'a>(
    v: &mut Validator,
    field: &str,
    values: impl Iterator<Item = &'a serde_json::Value>,
) {
    if values
        .into_iter()
        .any(|x| !(x.is_string() || x.is_number()))
    {
        v.fail(field, "key values must be strings or numbers");
    }
}

impl Validate for KeyExpansion {
    fn validate(&self, v: &mut Validator) {
        v.at("source", |v| self.source.validate(v));
        v.range("max_keys", self.max_keys.into(), 1, 10_000);
    }
}
