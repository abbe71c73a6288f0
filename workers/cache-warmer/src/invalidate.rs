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

/// A listed key longer than this is cut (with `…`): a dry run lists names, not values.
const LISTED_KEY_CHARS: usize = 200;

/// Runs one invalidation; returns its report and the Redis round trips it made. The keys of
/// each `SCAN` step are deleted before the next step, so a long scan that is cut off (the job's
/// timeout) has deleted what it found so far, and a retry goes on from what is left.
pub async fn run(
    redis: &Redis,
    conn: &mut MultiplexedConnection,
    inv: &Invalidation,
    dry_run: bool,
    pipeline: usize,
) -> Result<(InvalidationReport, usize), JobError> {
    let max = inv.max_keys as usize;
    let mut report = InvalidationReport {
        pattern: inv.pattern.clone(),
        ..InvalidationReport::default()
    };
    let mut seen: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    let mut cursor: u64 = 0;
    let mut trips = 0;
    loop {
        // Keys as bytes: a key need not be UTF-8.
        let (next, found): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&inv.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await
            .map_err(|e| failed(redis, "SCAN", &e))?;
        trips += 1;
        let mut batch = Vec::new();
        for k in found {
            if seen.len() == max {
                report.more = true;
                break;
            }
            // SCAN may return a key twice (the table rehashing meanwhile).
            if seen.insert(k.clone()) {
                batch.push(k);
            }
        }
        report.matched += batch.len() as u32;
        if dry_run {
            for k in batch.iter().take(LISTED.saturating_sub(report.keys.len())) {
                report.keys.push(shown(k));
            }
        } else {
            for chunk in batch.chunks(pipeline.max(1)) {
                let deleted: u64 = redis::cmd("UNLINK")
                    .arg(chunk)
                    .query_async(conn)
                    .await
                    .map_err(|e| failed(redis, "UNLINK", &e))?;
                report.deleted += deleted as u32;
                trips += 1;
            }
        }
        cursor = next;
        if cursor == 0 || report.more {
            break;
        }
    }
    Ok((report, trips))
}

/// A key as a report shows it: UTF-8 (lossy), cut at [`LISTED_KEY_CHARS`].
fn shown(key: &[u8]) -> String {
    let s = String::from_utf8_lossy(key);
    match s.char_indices().nth(LISTED_KEY_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.into_owned(),
    }
}

/// A refused command (the Redis user lacks it: `NOPERM`, or an error answer) will not pass on a
/// retry: permanent, naming what to grant. A connection failure is retryable, as elsewhere.
fn failed(redis: &Redis, command: &str, e: &redis::RedisError) -> JobError {
    // An answer of the server (NOPERM, an unknown command...) or one that does not parse.
    let refused = matches!(
        e.kind(),
        redis::ErrorKind::Server(_)
            | redis::ErrorKind::Extension
            | redis::ErrorKind::UnexpectedReturnType
            | redis::ErrorKind::Parse
    );
    if refused {
        return JobError::permanent(
            "redis_refused",
            format!(
                "Redis refused {command} ({}); the cache-warmer's Redis user needs SCAN and UNLINK to invalidate",
                redis.url.scrub(&e.to_string())
            ),
        );
    }
    unreachable(redis, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_keys_are_cut_and_need_not_be_utf8() {
        assert_eq!(shown(b"menu:1"), "menu:1");
        assert_eq!(shown(&[b'k', 0xff]), "k\u{fffd}");
        let long = "x".repeat(300);
        let s = shown(long.as_bytes());
        assert_eq!(s.chars().count(), LISTED_KEY_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
