//! Warming Redis keys: expand the key pattern, load each value from its source, check its
//! size, and collect the writes (sent pipelined by the caller, after every target loaded).

use std::sync::Arc;

use serde_json::Value;
use stoker_events::payload::cache::{RedisTarget, ValueSource};
use tokio::sync::Semaphore;

use crate::body::Budget;
use crate::config::CacheConfig;
use crate::placeholder;
use crate::redis_io::Write;
use crate::report::TargetReport;
use crate::source::{Sources, ids};

/// Loads the values of one target; returns the writes that passed.
pub async fn load(
    sources: &Sources,
    config: &CacheConfig,
    t: &RedisTarget,
    limit: Arc<Semaphore>,
    budget: &Budget,
    report: &mut TargetReport,
) -> Vec<Write> {
    let ttl = match (t.ttl_seconds, t.ttl_class) {
        (Some(s), _) => s,
        (None, Some(c)) => config.ttl(c),
        (None, None) => 0, // refused by validation; kept total
    };
    let keys: Vec<(String, Option<String>)> = match &t.expand {
        None => vec![(t.key.clone(), None)],
        Some(e) => {
            let list = match sources.load(&e.source, None, budget).await {
                Ok(v) => v,
                Err(err) => {
                    report.fail(&err);
                    return vec![];
                }
            };
            match ids(&list, e.field.as_deref(), e.max_keys as usize) {
                Ok(ids) => ids
                    .into_iter()
                    .map(|id| (placeholder::in_key(&t.key, &id), Some(id)))
                    .collect(),
                Err(msg) => {
                    report.fail(&stoker_kit::JobError::permanent("expansion", msg));
                    return vec![];
                }
            }
        }
    };
    let loads = keys.into_iter().map(|(key, id)| {
        let limit = limit.clone();
        async move {
            let _permit = limit.acquire_owned().await;
            let started = std::time::Instant::now();
            let loaded = sources.load(&t.source, id.as_deref(), budget).await;
            (key, loaded, started.elapsed().as_millis() as u64)
        }
    });
    let mut writes = Vec::new();
    for (key, loaded, ms) in futures::future::join_all(loads).await {
        match loaded {
            Err(e) => report.fail(&e),
            Ok(v) => {
                report.load_ms.push(ms);
                let value = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                if value.len() > config.max_value_bytes {
                    report.skip(format!("{key}: value is {} bytes, over the limit of {} (STOKER_CACHE_MAX_VALUE_BYTES)", value.len(), config.max_value_bytes));
                    continue;
                }
                // HTTP bodies were counted as they were read; DynamoDB values count here.
                let from_http = matches!(t.source, ValueSource::Http { .. });
                let counted = if from_http {
                    Ok(())
                } else {
                    budget.take(value.len() as u64)
                };
                if let Err(e) = counted {
                    report.fail(&e);
                    continue;
                }
                report.bytes += value.len() as u64;
                writes.push(Write { key, value, ttl });
            }
        }
    }
    writes
}
