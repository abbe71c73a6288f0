//! The cache-warmer's settings, from the environment.

use std::collections::HashMap;

use stoker_events::payload::cache::TtlClass;

/// What the cache-warmer may do and where.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// `STOKER_REDIS_URL`, e.g. `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// `STOKER_CACHE_ALLOWED_HOSTS`: hosts (`api.example.com`) or domains (`.example.com`) the
    /// worker may fetch from; nothing else, and never link-local / metadata addresses.
    pub allowed_hosts: Vec<String>,
    /// `STOKER_CACHE_MAX_VALUE_BYTES` (default 512 KiB): larger values are skipped.
    pub max_value_bytes: usize,
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

impl CacheConfig {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let redis_url = get("STOKER_REDIS_URL").filter(|v| !v.is_empty()).ok_or(
            "STOKER_REDIS_URL is not set: set it to the Redis to warm (redis://host:port)",
        )?;
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
        Ok(CacheConfig {
            redis_url,
            allowed_hosts: get("STOKER_CACHE_ALLOWED_HOSTS")
                .unwrap_or_default()
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            max_value_bytes: number("STOKER_CACHE_MAX_VALUE_BYTES", 512 * 1024)?,
            ttl_overrides,
            pipeline: number("STOKER_CACHE_PIPELINE", 500)?,
        })
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
        let c = CacheConfig::from_lookup(env(&[
            ("STOKER_REDIS_URL", "redis://x"),
            (
                "STOKER_CACHE_ALLOWED_HOSTS",
                "API.example.com, .cdn.example.com",
            ),
            ("STOKER_CACHE_TTL_ORDER_LIST", "600"),
        ]))
        .unwrap();
        assert_eq!(c.allowed_hosts, ["api.example.com", ".cdn.example.com"]);
        assert_eq!(
            (c.ttl(TtlClass::OrderList), c.ttl(TtlClass::DailyMenu)),
            (600, 7200)
        );
        assert_eq!((c.max_value_bytes, c.pipeline), (512 * 1024, 500));
        assert!(
            CacheConfig::from_lookup(env(&[]))
                .unwrap_err()
                .contains("STOKER_REDIS_URL")
        );
        let bad = CacheConfig::from_lookup(env(&[
            ("STOKER_REDIS_URL", "r"),
            ("STOKER_CACHE_PIPELINE", "0"),
        ]));
        assert!(bad.unwrap_err().contains("STOKER_CACHE_PIPELINE"));
    }
}
