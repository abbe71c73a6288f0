//! Pattern invalidation: the keys matching a glob are found with `SCAN ... MATCH` (never
//! `KEYS`, which blocks the server while it walks every key) and deleted with `UNLINK` (freed in
//! the background), in pipelines; at most `max_keys` per pattern. A dry run lists them and
//! deletes nothing.

use redis::aio::MultiplexedConnection;
use serde::Serialize;
use stoker_events::payload::cache::Invalidation;
use stoker_kit::JobError;

use crate::redis_io::{Redis, unreachable};

/// Keys asked for per `SCAN` step (a hint to the server, not a limit).
const SCAN_COUNT: usize = 500;
/// Keys a dry run lists per pattern (the count covers the rest).
pub const LISTED: usize = 100;

/// What one pattern matched and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InvalidationReport {
    pub pattern: String,
    /// Keys found (at most `max_keys`).
    pub matched: u32,
    /// Keys deleted (0 in a dry run; fewer than matched when some expired meanwhile).
    pub deleted: u32,
    /// More keys matched than `max_keys`: they are still there.
    pub more: bool,
    /// In a dry run, the keys that would go (at most [`LISTED`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

/// Runs one invalidation; returns its report and the Redis round trips it made.
pub async fn run(
    redis: &Redis,
    conn: &mut MultiplexedConnection,
    inv: &Invalidation,
    dry_run: bool,
    pipeline: usize,
) -> Result<(InvalidationReport, usize), JobError> {
    let max = inv.max_keys as usize;
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    let mut trips = 0;
    let mut more = false;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&inv.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await
            .map_err(|e| unreachable(redis, &e))?;
        trips += 1;
        for k in found {
            if keys.len() == max {
                more = true;
                break;
            }
            keys.push(k);
        }
        cursor = next;
        if cursor == 0 || more {
            break;
        }
    }
    // SCAN may return a key twice (the table rehashing meanwhile).
    keys.sort_unstable();
    keys.dedup();
    let mut report = InvalidationReport {
        pattern: inv.pattern.clone(),
        matched: keys.len() as u32,
        more,
        ..InvalidationReport::default()
    };
    if dry_run {
        report.keys = keys.into_iter().take(LISTED).collect();
        return Ok((report, trips));
    }
    for chunk in keys.chunks(pipeline.max(1)) {
        let deleted: u64 = redis::cmd("UNLINK")
            .arg(chunk)
            .query_async(conn)
            .await
            .map_err(|e| unreachable(redis, &e))?;
        report.deleted += deleted as u32;
        trips += 1;
    }
    Ok((report, trips))
}
