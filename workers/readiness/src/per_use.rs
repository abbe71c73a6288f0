//! `cost.per_use` (the stack's own verdict): what stoker's jobs cost per 1,000 invocations of
//! the functions it warms, over the last hour (seed 002's "cost per student", generalised).
//! The jobs' cost is every worker's `JobCost`; the warmed functions are those the warm-up's
//! `WarmupTargetWarmed` names, and their invocations `AWS/Lambda` `Invocations`. The figure is
//! published as `CostPer1000WarmedInvocations`, which the stack's alarm of that name watches.

use aws_sdk_cloudwatch::types::Statistic;
use chrono::{DateTime, Duration, Utc};
use stoker_events::Worker;

use crate::check::Check;
use crate::metric;

const CHECK: &str = "cost.per_use";

/// The check, and the figure when there is one.
pub async fn check(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    max_usd: f64,
    now: DateTime<Utc>,
) -> (Check, Option<f64>) {
    match figures(cw, namespace, now).await {
        Ok((usd, invocations, functions)) => judge(usd, invocations, functions, max_usd),
        Err(why) => (Check::fail(CHECK, "stoker", why), None),
    }
}

/// The jobs' USD, the warmed functions' invocations and their count, over the last hour.
async fn figures(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    now: DateTime<Utc>,
) -> Result<(f64, f64, usize), String> {
    let hour = (Duration::hours(1), Duration::hours(1));
    let mut usd = 0.0;
    for w in Worker::ALL {
        let dims = [("Worker", w.name())];
        let points = metric::read(cw, namespace, "JobCost", &dims, hour, Statistic::Sum, now);
        usd += metric::total(&points.await?);
    }
    let functions = crate::select::warmed_functions(cw, namespace).await?;
    let mut invocations = 0.0;
    for f in &functions {
        let dims = [("FunctionName", f.as_str())];
        let points = metric::read(
            cw,
            "AWS/Lambda",
            "Invocations",
            &dims,
            hour,
            Statistic::Sum,
            now,
        );
        invocations += metric::total(&points.await?);
    }
    Ok((usd, invocations, functions.len()))
}

/// The verdict on `usd` over `invocations` of `functions` warmed functions.
pub fn judge(usd: f64, invocations: f64, functions: usize, max_usd: f64) -> (Check, Option<f64>) {
    if invocations <= 0.0 {
        let why = if functions == 0 {
            "no warmed function (the warm-up has no targets): nothing to measure the cost against"
        } else {
            "the warmed functions were not invoked in the last hour"
        };
        return (Check::pass(CHECK, "stoker", why), None);
    }
    let per = usd * 1000.0 / invocations;
    let seen = format!(
        "{per:.4} USD per 1,000 invocations of the {functions} warmed functions ({usd:.4} USD over {invocations:.0} invocations, last hour)"
    );
    let check = if per > max_usd {
        Check::warn(
            CHECK,
            "stoker",
            format!(
                "{seen}: more than {max_usd} USD; `stoker cost` shows which worker and which calls"
            ),
        )
    } else {
        Check::pass(CHECK, "stoker", seen)
    };
    (check, Some(per))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn the_cost_per_use_warns_above_its_limit() {
        let (c, per) = judge(0.05, 100.0, 2, 0.1);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(per, Some(0.5));
        let (c, per) = judge(0.05, 10_000.0, 2, 0.1);
        assert_eq!(c.status, Status::Pass);
        assert!((per.unwrap() - 0.005).abs() < 1e-12);
        assert_eq!(judge(0.05, 0.0, 0, 0.1).1, None, "nothing warmed");
    }
}
