//! Functions over the last hour, from CloudWatch's `AWS/Lambda` metrics: errors
//! (`function.errors`), throttles per minute (`function.throttles`), p95 duration
//! (`function.p95`); and the log group with a retention (`function.logs`).

use aws_sdk_cloudwatch::types::{Datapoint, Dimension, Statistic};
use aws_smithy_types::DateTime as SdkTime;
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::evidence::unreadable;

/// The limits of the function checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Errors above this share of invocations fail (warn above 1 %).
    pub max_error_rate_pct: f64,
    /// Throttles in any one minute above this fail (warn above 0).
    pub max_throttles_per_minute: u32,
    /// A p95 duration above this warns.
    pub max_p95_ms: u32,
}

/// Every check of `function`.
pub async fn check(
    cw: &aws_sdk_cloudwatch::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    limits: Limits,
    now: DateTime<Utc>,
) -> Vec<Check> {
    let since = now - Duration::hours(1);
    let minutes = |metric: &'static str| stats(cw, function, metric, since, now, 60, Ask::Sum);
    let (invocations, errors, throttles, duration) = futures::join!(
        minutes("Invocations"),
        minutes("Errors"),
        minutes("Throttles"),
        duration95(cw, function, since, now),
    );
    let sum = |d: &[Datapoint]| d.iter().filter_map(Datapoint::sum).sum::<f64>();
    let mut out = Vec::new();
    out.push(match (&invocations, &errors) {
        (Ok(i), Ok(e)) => error_rate(function, sum(i), sum(e), limits.max_error_rate_pct),
        (Err(why), _) | (_, Err(why)) => Check::fail("function.errors", function, why.clone()),
    });
    out.push(match &throttles {
        Ok(t) => {
            let worst = t.iter().filter_map(Datapoint::sum).fold(0.0, f64::max);
            throttled(function, worst, limits.max_throttles_per_minute)
        }
        Err(why) => Check::fail("function.throttles", function, why.clone()),
    });
    out.push(match &duration {
        Ok(seen) => slow(
            function,
            *seen,
            invocations.as_deref().map(sum).unwrap_or(0.0),
            limits.max_p95_ms,
        ),
        Err(why) => Check::fail("function.p95", function, why.clone()),
    });
    out.push(log_group(logs, function).await);
    out
}

/// What to ask CloudWatch for: a request takes statistics or a percentile, never both.
#[derive(Debug, Clone, Copy)]
enum Ask {
    Sum,
    Maximum,
    P95,
}

/// The p95 duration over the last hour; where CloudWatch gives none (LocalStack answers a
/// percentile with an error), the longest duration, which bounds it.
async fn duration95(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<Duration95>, String> {
    let p95 = stats(cw, function, "Duration", since, now, 3600, Ask::P95).await;
    let highest = |v: Vec<f64>| v.into_iter().reduce(f64::max);
    if let Some(p) = p95.ok().and_then(|d| {
        highest(
            d.iter()
                .filter_map(|p| p.extended_statistics()?.get("p95").copied())
                .collect(),
        )
    }) {
        return Ok(Some(Duration95::P95(p)));
    }
    let max = stats(cw, function, "Duration", since, now, 3600, Ask::Maximum).await?;
    Ok(highest(max.iter().filter_map(Datapoint::maximum).collect()).map(Duration95::AtMost))
}

async fn stats(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    metric: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    period_s: i32,
    ask: Ask,
) -> Result<Vec<Datapoint>, String> {
    let mut req = cw
        .get_metric_statistics()
        .namespace("AWS/Lambda")
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build(),
        )
        .start_time(SdkTime::from_millis(since.timestamp_millis()))
        .end_time(SdkTime::from_millis(now.timestamp_millis()))
        .period(period_s);
    req = match ask {
        Ask::Sum => req.statistics(Statistic::Sum),
        Ask::Maximum => req.statistics(Statistic::Maximum),
        Ask::P95 => req.extended_statistics("p95"),
    };
    req.send()
        .await
        .map(|o| o.datapoints().to_vec())
        .map_err(|e| unreadable(&format!("GetMetricStatistics AWS/Lambda {metric}"), &e))
}

fn error_rate(function: &str, invocations: f64, errors: f64, max_pct: f64) -> Check {
    const CHECK: &str = "function.errors";
    if invocations <= 0.0 {
        return Check::pass(CHECK, function, "no invocations in the last hour");
    }
    let pct = 100.0 * errors / invocations;
    let seen =
        format!("{errors:.0} errors in {invocations:.0} invocations ({pct:.1} %) in the last hour");
    if pct > max_pct {
        Check::fail(
            CHECK,
            function,
            format!("{seen}, above {max_pct} %: see its logs"),
        )
    } else if pct > 1.0 {
        Check::warn(CHECK, function, format!("{seen}, above 1 %"))
    } else {
        Check::pass(CHECK, function, seen)
    }
}

fn throttled(function: &str, worst_minute: f64, max: u32) -> Check {
    const CHECK: &str = "function.throttles";
    if worst_minute > f64::from(max) {
        Check::fail(
            CHECK,
            function,
            format!(
                "{worst_minute:.0} throttles in one minute, above {max}: raise its concurrency or the account's limit"
            ),
        )
    } else if worst_minute > 0.0 {
        Check::warn(
            CHECK,
            function,
            format!("up to {worst_minute:.0} throttles a minute in the last hour"),
        )
    } else {
        Check::pass(CHECK, function, "no throttles in the last hour")
    }
}

/// What CloudWatch said of the p95 duration: the percentile, or only the maximum (its bound).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Duration95 {
    P95(f64),
    AtMost(f64),
}

fn slow(function: &str, seen: Option<Duration95>, invocations: f64, max_ms: u32) -> Check {
    const CHECK: &str = "function.p95";
    let limit = f64::from(max_ms);
    match seen {
        Some(Duration95::P95(ms)) if ms > limit => Check::warn(
            CHECK,
            function,
            format!("p95 duration {ms:.0} ms in the last hour, above {max_ms} ms"),
        ),
        Some(Duration95::P95(ms)) => Check::pass(
            CHECK,
            function,
            format!("p95 duration {ms:.0} ms in the last hour"),
        ),
        Some(Duration95::AtMost(ms)) if ms > limit => Check::warn(
            CHECK,
            function,
            format!(
                "no p95 from CloudWatch; the longest duration in the last hour was {ms:.0} ms, above {max_ms} ms"
            ),
        ),
        Some(Duration95::AtMost(ms)) => Check::pass(
            CHECK,
            function,
            format!(
                "no p95 from CloudWatch; the longest duration in the last hour was {ms:.0} ms, so its p95 was at most that"
            ),
        ),
        None if invocations > 0.0 => Check::warn(
            CHECK,
            function,
            "CloudWatch gave no p95 duration for the last hour although it was invoked",
        ),
        None => Check::pass(CHECK, function, "no invocations in the last hour"),
    }
}

async fn log_group(logs: &aws_sdk_cloudwatchlogs::Client, function: &str) -> Check {
    const CHECK: &str = "function.logs";
    let name = format!("/aws/lambda/{function}");
    let out = match logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => return Check::fail(CHECK, function, unreadable("DescribeLogGroups", &e)),
    };
    let group = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()));
    match group.map(|g| g.retention_in_days()) {
        None => Check::warn(
            CHECK,
            function,
            format!(
                "no log group {name}: create it (with a retention) so that its logs and metrics have somewhere to go"
            ),
        ),
        Some(None) => Check::warn(
            CHECK,
            function,
            format!(
                "{name} keeps its logs forever: set a retention (their storage cost only grows)"
            ),
        ),
        Some(Some(days)) => Check::pass(CHECK, function, format!("{name} keeps {days} days")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn error_rates_warn_above_1_and_fail_above_the_limit() {
        assert_eq!(error_rate("f", 0.0, 0.0, 5.0).status, Status::Pass);
        assert_eq!(error_rate("f", 1000.0, 5.0, 5.0).status, Status::Pass);
        assert_eq!(error_rate("f", 1000.0, 20.0, 5.0).status, Status::Warn);
        let c = error_rate("f", 100.0, 20.0, 5.0);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence
                .starts_with("20 errors in 100 invocations (20.0 %)"),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn throttles_fail_above_the_limit_per_minute() {
        assert_eq!(throttled("f", 0.0, 10).status, Status::Pass);
        assert_eq!(throttled("f", 10.0, 10).status, Status::Warn);
        assert_eq!(throttled("f", 11.0, 10).status, Status::Fail);
    }

    #[test]
    fn a_slow_p95_warns() {
        use Duration95::{AtMost, P95};
        assert_eq!(slow("f", Some(P95(120.0)), 10.0, 300).status, Status::Pass);
        assert_eq!(slow("f", Some(P95(301.0)), 10.0, 300).status, Status::Warn);
        assert_eq!(
            slow("f", Some(AtMost(250.0)), 10.0, 300).status,
            Status::Pass
        );
        assert_eq!(
            slow("f", Some(AtMost(900.0)), 10.0, 300).status,
            Status::Warn
        );
        assert_eq!(slow("f", None, 0.0, 300).status, Status::Pass);
        assert_eq!(slow("f", None, 10.0, 300).status, Status::Warn);
    }
}
