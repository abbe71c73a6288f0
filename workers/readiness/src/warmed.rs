//! `function.warmed`: a function the warm-up worker warmed in the last day was warmed within
//! two intervals of the `rate(...)` schedules naming it, and its last pass reached it. From the warm-up worker's
//! `WarmupTargetWarmed` metric (dimensions `Worker=warmup`, `Function`): 1 for a pass that
//! warmed it, 0 for one that failed to. A function no pass named in a day is not a target.

use aws_sdk_cloudwatch::types::Statistic;
use chrono::{DateTime, Duration, Utc};
use stoker_events::Worker;

use crate::check::Check;
use crate::metric;

const CHECK: &str = "function.warmed";

/// `function.warmed` of `function`, from the metrics in `namespace`; `gap`: twice the
/// shortest interval of the stack's enabled `rate(...)` warm-up schedules naming it, if any,
/// or why the schedules could not be read.
pub async fn check(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    function: &str,
    gap: Result<Option<Duration>, &str>,
    now: DateTime<Utc>,
) -> Check {
    let dims = [("Worker", Worker::Warmup.name()), ("Function", function)];
    let points = metric::read(
        cw,
        namespace,
        "WarmupTargetWarmed",
        &dims,
        (Duration::days(1), Duration::minutes(5)),
        Statistic::Minimum,
        now,
    );
    match points.await {
        Ok(points) => {
            let passes: Vec<(DateTime<Utc>, f64)> = points
                .iter()
                .filter_map(|p| {
                    let at = DateTime::from_timestamp(p.timestamp()?.secs(), 0)?;
                    Some((at, p.minimum()?))
                })
                .collect();
            judge(function, &passes, gap, now)
        }
        Err(why) => Check::fail(CHECK, function, why),
    }
}

/// The verdict on a function's warm-up passes of the last day (`(when, 1 warmed / 0 failed)`).
/// A warm-up target whose schedules cannot be read fails: its interval cannot be checked.
pub fn judge(
    function: &str,
    passes: &[(DateTime<Utc>, f64)],
    gap: Result<Option<Duration>, &str>,
    now: DateTime<Utc>,
) -> Check {
    let Some(&(at, warmed)) = passes.iter().max_by_key(|(at, _)| *at) else {
        return Check::pass(
            CHECK,
            function,
            "no warm-up pass named it in the last 24 h: not a warm-up target",
        );
    };
    let ago = (now - at).num_minutes().max(0);
    if warmed < 1.0 {
        return Check::warn(
            CHECK,
            function,
            format!(
                "the last warm-up pass ({ago} min ago) failed to warm it: the warm-up job's report in `stoker status` names the error"
            ),
        );
    }
    let gap = match gap {
        Ok(gap) => gap,
        Err(why) => return Check::fail(CHECK, function, format!("warmed {ago} min ago; {why}")),
    };
    match gap {
        Some(gap) if now - at > gap => Check::warn(
            CHECK,
            function,
            format!(
                "last warmed {ago} min ago, more than {} min (twice its warm-up schedule's interval): its instances may be cold; see the warm-up's `schedule.ran` and its report in `stoker status`",
                gap.num_minutes()
            ),
        ),
        _ => Check::pass(CHECK, function, format!("warmed {ago} min ago")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn the_last_pass_decides_and_a_stale_one_warns() {
        let now = Utc::now();
        let min = |m: i64| now - Duration::minutes(m);
        let gap = Ok(Some(Duration::minutes(30)));
        assert_eq!(judge("f", &[], gap, now).status, Status::Pass);
        let recovered = [(min(20), 0.0), (min(5), 1.0)];
        assert_eq!(judge("f", &recovered, gap, now).status, Status::Pass);
        let failing = [(min(20), 1.0), (min(5), 0.0)];
        let c = judge("f", &failing, gap, now);
        assert_eq!(c.status, Status::Warn);
        assert!(c.evidence.contains("failed to warm"), "{}", c.evidence);
        let stale = [(min(300), 1.0)];
        assert_eq!(judge("f", &stale, gap, now).status, Status::Warn);
        assert_eq!(
            judge("f", &stale, Ok(None), now).status,
            Status::Pass,
            "no warm-up schedule enabled: no interval to hold it to"
        );
        let unread = judge("f", &recovered, Err("ListTargetsByRule: denied"), now);
        assert_eq!(unread.status, Status::Fail);
        assert!(unread.evidence.ends_with("denied"), "{}", unread.evidence);
        assert_eq!(
            judge("f", &[], Err("denied"), now).status,
            Status::Pass,
            "not a target: no interval needed"
        );
    }
}
