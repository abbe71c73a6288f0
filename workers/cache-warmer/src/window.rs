//! The hit rate of the window between two runs: Redis' `keyspace_hits` and `keyspace_misses`
//! count since the server started, so each run keeps the counters it ended with in the ops
//! table (`pk = CACHE#<host:port>`, `sk = COUNTERS`) and the next one takes the difference:
//! the users' lookups in between, not the server's whole life. A server restarted meanwhile
//! (its counters went down) has no window; the next run has one again.

use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::ops::items;

/// How long a run's counters are kept for the next one.
const KEEP_S: i64 = 30 * 86_400;

/// The counters a run ended with, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CountersItem {
    pk: String,
    sk: String,
    hits: u64,
    misses: u64,
    /// When (epoch seconds).
    at: i64,
    expires_at: i64,
}

/// The lookups between the end of the last run and the start of this one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub hits: u64,
    pub misses: u64,
    pub seconds: u64,
}

impl Window {
    /// hits / lookups, %; `None` when nobody looked anything up.
    pub fn hit_rate(&self) -> Option<f64> {
        crate::redis_io::hit_rate((self.hits, self.misses))
    }
}

/// The window from `last` (counters, time) to `now` (counters, time); `None` without a last run
/// or when the counters went down (the server restarted, or another one answers).
pub fn between(last: Option<(u64, u64, i64)>, now: (u64, u64), at: i64) -> Option<Window> {
    let (hits, misses, then) = last?;
    (now.0 >= hits && now.1 >= misses).then(|| Window {
        hits: now.0 - hits,
        misses: now.1 - misses,
        seconds: (at - then).max(0) as u64,
    })
}

/// Where a Redis server's counters are kept.
#[derive(Debug, Clone)]
pub struct Counters {
    pub ddb: aws_sdk_dynamodb::Client,
    pub table: String,
    /// `host:port` of the server (never its password).
    pub server: String,
}

impl Counters {
    fn pk(&self) -> String {
        format!("CACHE#{}", self.server)
    }

    /// The window since the last run (`before`: this run's counters at its start), keeping
    /// `after` (its counters at its end) for the next. Best effort: the keys are warmed already,
    /// so a counter that cannot be read or kept is logged and only costs a window.
    pub async fn window(&self, before: (u64, u64), after: (u64, u64)) -> Option<Window> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let last = self
            .last()
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "the last run's Redis counters are unreadable: no window this run"))
            .ok()
            .flatten();
        if let Err(e) = self.keep(after, now).await {
            tracing::warn!(error = %e, "this run's Redis counters not kept: the next run has no window");
        }
        between(last, before, now)
    }

    /// The counters the last run ended with: (hits, misses, epoch seconds).
    pub async fn last(&self) -> Result<Option<(u64, u64, i64)>, JobError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(items::key(self.pk(), "COUNTERS")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem (cache counters)", e))?;
        out.item
            .map(|i| {
                items::from_item::<CountersItem>(i, "cache counters")
                    .map(|c| (c.hits, c.misses, c.at))
            })
            .transpose()
    }

    /// Keeps the counters this run ended with.
    pub async fn keep(&self, (hits, misses): (u64, u64), at: i64) -> Result<(), JobError> {
        let item = CountersItem {
            pk: self.pk(),
            sk: "COUNTERS".into(),
            hits,
            misses,
            at,
            expires_at: at + KEEP_S,
        };
        items::put(&self.ddb, &self.table, &item, "cache counters").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_difference_and_a_restart_has_none() {
        let w = between(Some((10, 5, 100)), (13, 6), 160).unwrap();
        assert_eq!((w.hits, w.misses, w.seconds), (3, 1, 60));
        assert_eq!(w.hit_rate(), Some(75.0));
        assert_eq!(between(None, (13, 6), 160), None, "no last run");
        assert_eq!(between(Some((10, 5, 100)), (2, 9), 160), None, "restarted");
        let idle = between(Some((10, 5, 100)), (10, 5), 160).unwrap();
        assert_eq!(idle.hit_rate(), None, "no lookups: no rate");
    }
}
