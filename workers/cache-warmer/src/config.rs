//! The cache-warmer's settings, from the environment.

use std::collections::HashMap;

use stoker_events::payload::cache::TtlClass;

use crate::redact::Secret;

/// What the cache-warmer may do and where.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// The Redis to warm (`redis://` or `rediss://` for TLS), from `STOKER_REDIS_URL` or the
    /// SSM parameter named by `STOKER_REDIS_URL_PARAMETER` ([`RedisUrlFrom`]). Printed redacted.
    pub redis_url: Secret,
    /// `STOKER_CACHE_ALLOWED_HOSTS`: hosts (`api.example.com`) or domains (`.example.com`) the
    /// worker may fetch from; nothing else, and never link-local / metadata addresses.
    pub allowed_hosts: Vec<String>,
    /// The key prefixes invalidation patterns must start with (`STOKER_CACHE_INVALIDATE_PREFIXES`,
    /// comma-separated): none, no invalidation (a request could otherwise delete sessions,
    /// locks or any other key of the application's).
    pub invalidate_prefixes: Vec<String>,
    /// `STOKER_CACHE_ALLOW_PRIVATE_NETWORKS` (`true` / `false`, default `false`): whether
    /// loopback and private addresses may be fetched ([`crate::address`]). Local development
    /// only: the emulator environment (`./localstack/env`) sets it, a deployment never should.
    pub allow_private_networks: bool,
    /// `STOKER_CACHE_MAX_VALUE_BYTES` (default 512 KiB): a response body is read no further
    /// (its target fails) and a larger value is skipped.
    pub max_value_bytes: usize,
    /// `STOKER_CACHE_MAX_JOB_BYTES` (default 64 MiB): bytes one job may read over all bodies.
    pub max_job_bytes: u64,
    /// `STOKER_CACHE_MAX_KEYS_PER_JOB` (default 10000): a request that may warm more keys
    /// (each HTTP target and plain key 1, each expansion its `max_keys`) is refused before any
    /// fetch.
    pub max_keys_per_job: usize,
    /// `STOKER_CACHE_TTL_<CLASS>` (e.g. `STOKER_CACHE_TTL_ORDER_LIST=600`) overrides.
    pub ttl_overrides: HashMap<TtlClass, u32>,
    /// `STOKER_CACHE_PIPELINE` (default 500): SETs per Redis round trip.
    pub pipeline: usize,
}

pub const CLASSES: [(TtlClass, &str); 6] = [
    (TtlClass::UserProfile, "USER_PROFILE"),
    (TtlClass::OrderList, "ORDER_LIST"),
    (TtlClass::MenuItems, "MENU_ITEMS"),
    (TtlClass::DailyMenu, "DAILY_MENU"),
    (TtlClass::PaymentMethods, "PAYMENT_METHODS"),
    (TtlClass::Analytics, "ANALYTICS"),
];

/// Where the Redis URL comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisUrlFrom {
    /// `STOKER_REDIS_URL` (local development: the environment is readable by anyone who may
    /// read the function's configuration).
    Env(Secret),
    /// `STOKER_REDIS_URL_PARAMETER`: the name of an SSM SecureString parameter, read at start.
    Parameter(String),
}

impl RedisUrlFrom {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let set = |k: &str| get(k).filter(|v| !v.is_empty());
        match (set("STOKER_REDIS_URL"), set("STOKER_REDIS_URL_PARAMETER")) {
            (Some(_), Some(_)) => Err("both STOKER_REDIS_URL and STOKER_REDIS_URL_PARAMETER are set: keep only the parameter (STOKER_REDIS_URL is for local development)".into()),
            (Some(url), None) => Ok(RedisUrlFrom::Env(Secret::new(url))),
            (None, Some(name)) => Ok(RedisUrlFrom::Parameter(name)),
            (None, None) => Err("the Redis URL is not configured: set STOKER_REDIS_URL_PARAMETER to the name of an SSM SecureString parameter holding it (or, locally, STOKER_REDIS_URL=redis://host:port)".into()),
        }
    }
}

impl CacheConfig {
    /// The settings besides the Redis URL, which is read first ([`RedisUrlFrom`]).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        redis_url: Secret,
    ) -> Result<Self, String> {
        let number = |var: &str, default: usize| -> Result<usize, String> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{var}={v:?} is not a positive whole number")),
            }
        };
        let mut ttl_overrides = HashMap::new();
        for (class, name) in CLASSES {
            let var = format!("STOKER_CACHE_TTL_{name}");
            if get(&var).is_some() {
                ttl_overrides.insert(class, number(&var, 1)? as u32);
            }
        }
        let allow_private_networks = match get("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS").as_deref() {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "STOKER_CACHE_ALLOW_PRIVATE_NETWORKS={other:?}: use true (local development only) or false"
                ));
            }
        };
        Ok(CacheConfig {
            redis_url,
            allowed_hosts: get("STOKER_CACHE_ALLOWED_HOSTS")
                .unwrap_or_default()
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            invalidate_prefixes: get("STOKER_CACHE_INVALIDATE_PREFIXES")
                .unwrap_or_default()
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            allow_private_networks,
            max_value_bytes: number("STOKER_CACHE_MAX_VALUE_BYTES", 512 * 1024)?,
            max_job_bytes: number("STOKER_CACHE_MAX_JOB_BYTES", 64 << 20)? as u64,
            max_keys_per_job: number("STOKER_CACHE_MAX_KEYS_PER_JOB", 10_000)?,
            ttl_overrides,
            pipeline: number("STOKER_CACHE_PIPELINE", 500)?,
        })
    }

    /// Defaults for `redis_url` and `allowed_hosts` (tests and benchmarks).
    pub fn new(redis_url: impl Into<Secret>, allowed_hosts: &[&str]) -> Self {
        CacheConfig {
            redis_url: redis_url.into(),
            allowed_hosts: allowed_hosts.iter().map(|h| h.to_string()).collect(),
            invalidate_prefixes: Vec::new(),
            allow_private_networks: false,
            max_value_bytes: 512 * 1024,
            max_job_bytes: 64 << 20,
            max_keys_per_job: 10_000,
            ttl_overrides: HashMap::new(),
            pipeline: 500,
        }
    }

    /// The TTL of a class: the override, else the class default.
    pub fn ttl(&self, class: TtlClass) -> u32 {
        self.ttl_overrides
            .get(&class)
            .copied()
            .unwrap_or(class.default_seconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_overrides_and_clear_errors() {
        let url = || Secret::new("redis://x");
        let c = CacheConfig::from_lookup(
            env(&[
                (
                    "STOKER_CACHE_ALLOWED_HOSTS",
                    "API.example.com, .cdn.example.com",
                ),
                ("STOKER_CACHE_TTL_ORDER_LIST", "600"),
            ]),
            url(),
        )
        .unwrap();
        assert_eq!(c.allowed_hosts, ["api.example.com", ".cdn.example.com"]);
        assert_eq!(
            (c.ttl(TtlClass::OrderList), c.ttl(TtlClass::DailyMenu)),
            (600, 7200)
        );
        assert_eq!((c.max_value_bytes, c.pipeline), (512 * 1024, 500));
        assert_eq!((c.max_job_bytes, c.max_keys_per_job), (64 << 20, 10_000));
        let bad = CacheConfig::from_lookup(env(&[("STOKER_CACHE_PIPELINE", "0")]), url());
        assert!(bad.unwrap_err().contains("STOKER_CACHE_PIPELINE"));
    }

    #[test]
    fn private_networks_only_by_an_explicit_true() {
        let url = || Secret::new("redis://x");
        assert!(
            !CacheConfig::from_lookup(env(&[]), url())
                .unwrap()
                .allow_private_networks
        );
        let on = env(&[("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS", "true")]);
        assert!(
            CacheConfig::from_lookup(on, url())
                .unwrap()
                .allow_private_networks
        );
        let typo = env(&[("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS", "yes")]);
        let e = CacheConfig::from_lookup(typo, url()).unwrap_err();
        assert!(e.contains("use true"), "{e}");
    }

    #[test]
    fn the_redis_url_comes_from_one_place() {
        let from = |pairs: &[(&str, &str)]| RedisUrlFrom::from_lookup(env(pairs));
        assert_eq!(
            from(&[("STOKER_REDIS_URL_PARAMETER", "/stoker/redis-url")]).unwrap(),
            RedisUrlFrom::Parameter("/stoker/redis-url".into())
        );
        assert_eq!(
            from(&[("STOKER_REDIS_URL", "redis://:pw@h:1")]).unwrap(),
            RedisUrlFrom::Env(Secret::new("redis://:pw@h:1"))
        );
        let both = from(&[
            ("STOKER_REDIS_URL", "redis://h"),
            ("STOKER_REDIS_URL_PARAMETER", "p"),
        ]);
        assert!(both.unwrap_err().contains("keep only the parameter"));
        assert!(
            from(&[])
                .unwrap_err()
                .contains("STOKER_REDIS_URL_PARAMETER")
        );
    }
}
