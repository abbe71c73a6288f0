//! Redis, through the cache-warmer's measurements (`RedisHitRate`, taken after each of its
//! runs when it reaches Redis): `cache.redis`. Measured in the last 2 hours: reachable, and the
//! hit rate judged (the seeds: above 40 %; the stack's own target 70 %). Measured within the
//! day but not lately, or never although the stack schedules cache warming: unreachable, or
//! the cache-warmer stopped. Never measured and no cache schedule: no Redis to check.

use aws_sdk_cloudwatch::types::{Datapoint, Statistic};
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::metric;

const CHECK: &str = "cache.redis";
/// Below this hit rate (%) fails (the seeds' 40 %).
pub const MIN_HIT_RATE: f64 = 40.0;
/// Below this warns (the stack's target, as its hit-rate alarm has it).
pub const TARGET_HIT_RATE: f64 = 70.0;

/// `cache.redis`, from the metrics in `namespace`; `scheduled`: the stack warms caches on a
/// schedule, so measurements are expected.
pub async fn check(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    scheduled: bool,
    now: DateTime<Utc>,
) -> Check {
    let dims = [("Worker", stoker_events::Worker::CacheWarmer.name())];
    let rates = metric::read(
        cw,
        namespace,
        "RedisHitRate",
        &dims,
        (Duration::days(1), Duration::hours(1)),
        Statistic::Average,
        now,
    );
    match rates.await {
        Ok(points) => judge(&points, scheduled, now),
        Err(why) => Check::fail(CHECK, "redis", why),
    }
}

/// The verdict on the last day's hourly averages of the hit rate.
pub fn judge(points: &[Datapoint], scheduled: bool, now: DateTime<Utc>) -> Check {
    let at = |d: &Datapoint| {
        d.timestamp()
            .and_then(|t| DateTime::from_timestamp_millis(t.to_millis().ok()?))
    };
    let mut measured: Vec<(DateTime<Utc>, f64)> = points
        .iter()
        .filter_map(|d| Some((at(d)?, d.average()?)))
        .collect();
    measured.sort_by_key(|(t, _)| *t);
    let Some((last_at, rate)) = measured.last().copied() else {
        if scheduled {
            return Check::fail(
                CHECK,
                "redis",
                "no hit rate measured in the last day although caches are warmed on a schedule: Redis unreachable, or the cache-warmer failing; see `stoker status` and its DLQ",
            );
        }
        return Check::pass(
            CHECK,
            "redis",
            "no hit rate measured in the last day, and no cache warming is scheduled: no Redis to check",
        );
    };
    // An hourly datapoint is stamped at its hour's start.
    if now - last_at > Duration::hours(2) {
        return Check::fail(
            CHECK,
            "redis",
            format!(
                "last measured {} h ago: Redis unreachable or the cache-warmer stopped; see `stoker status` and its DLQ",
                (now - last_at).num_hours()
            ),
        );
    }
    let seen = format!("reachable; hit rate {rate:.1} % (hourly average, last measured)");
    if rate < MIN_HIT_RATE {
        Check::fail(
            CHECK,
            "redis",
            format!("{seen}, under {MIN_HIT_RATE} %: warm more keys or give them longer TTLs"),
        )
    } else if rate < TARGET_HIT_RATE {
        Check::warn(
            CHECK,
            "redis",
            format!("{seen}, under the {TARGET_HIT_RATE} % target"),
        )
    } else {
        Check::pass(CHECK, "redis", seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    fn point(hours_ago: i64, avg: f64, now: DateTime<Utc>) -> Datapoint {
        Datapoint::builder()
            .timestamp(aws_smithy_types::DateTime::from_millis(
                (now - Duration::hours(hours_ago)).timestamp_millis(),
            ))
            .average(avg)
            .build()
    }

    #[test]
    fn the_last_measure_decides() {
        let now = Utc::now();
        assert_eq!(judge(&[], false, now).status, Status::Pass);
        assert_eq!(judge(&[], true, now).status, Status::Fail);
        assert_eq!(
            judge(&[point(1, 80.0, now)], true, now).status,
            Status::Pass
        );
        assert_eq!(
            judge(&[point(1, 55.0, now)], true, now).status,
            Status::Warn
        );
        assert_eq!(
            judge(&[point(5, 90.0, now), point(1, 30.0, now)], true, now).status,
            Status::Fail
        );
        let stale = judge(&[point(6, 90.0, now)], false, now);
        assert_eq!(stale.status, Status::Fail);
        assert!(stale.evidence.contains("unreachable"), "{}", stale.evidence);
    }
}
