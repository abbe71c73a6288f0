//! Writing to Redis: pipelined `SET key value EX ttl`, and the server's own hit counters.

use redis::aio::MultiplexedConnection;
use stoker_kit::JobError;

use crate::redact::Secret;

/// The Redis client and its URL (for messages: scrubbed of the password).
#[derive(Clone)]
pub struct Redis {
    pub client: redis::Client,
    pub url: Secret,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("url", &self.url).finish()
    }
}

/// A key to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub key: String,
    pub value: String,
    pub ttl: u32,
}

/// Connects (retryable when Redis does not answer).
pub async fn connect(redis: &Redis) -> Result<MultiplexedConnection, JobError> {
    let conn = redis
        .client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| unreachable(redis, &e))?;
    Ok(conn)
}

pub(crate) fn unreachable(redis: &Redis, e: &redis::RedisError) -> JobError {
    let addr = redis.client.get_connection_info().addr().to_string();
    let why = match e.kind() {
        redis::ErrorKind::AuthenticationFailed => {
            "refused the credentials: check the user and password of the Redis URL"
        }
        _ => "is unreachable",
    };
    JobError::retryable(format!(
        "Redis at {} {why} ({}); nothing was reported as warmed, the job will be retried",
        redis.url.scrub(&addr),
        redis.url.scrub(&e.to_string())
    ))
}

/// Writes `writes` in pipelines of `batch` commands; returns the round trips made.
pub async fn set_all(
    redis: &Redis,
    conn: &mut MultiplexedConnection,
    writes: &[Write],
    batch: usize,
) -> Result<usize, JobError> {
    let mut trips = 0;
    for chunk in writes.chunks(batch.max(1)) {
        let mut pipe = redis::pipe();
        for w in chunk {
            pipe.cmd("SET")
                .arg(&w.key)
                .arg(&w.value)
                .arg("EX")
                .arg(w.ttl)
                .ignore();
        }
        pipe.query_async::<()>(conn)
            .await
            .map_err(|e| unreachable(redis, &e))?;
        trips += 1;
    }
    Ok(trips)
}

/// The server's cumulative (keyspace_hits, keyspace_misses) from `INFO stats`.
pub async fn hits_misses(
    redis: &Redis,
    conn: &mut MultiplexedConnection,
) -> Result<(u64, u64), JobError> {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .map_err(|e| unreachable(redis, &e))?;
    Ok(parse_stats(&info))
}

pub fn parse_stats(info: &str) -> (u64, u64) {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("keyspace_hits"), field("keyspace_misses"))
}

/// hits / (hits + misses) in percent; `None` before any lookup.
pub fn hit_rate((hits, misses): (u64, u64)) -> Option<f64> {
    (hits + misses > 0).then(|| hits as f64 * 100.0 / (hits + misses) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_read_from_info() {
        let info =
            "# Stats\r\ntotal_connections_received:3\r\nkeyspace_hits:30\r\nkeyspace_misses:10\r\n";
        assert_eq!(parse_stats(info), (30, 10));
        assert_eq!(hit_rate((30, 10)), Some(75.0));
        assert_eq!(hit_rate((0, 0)), None);
    }
}
