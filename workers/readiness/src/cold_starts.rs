//! Cold starts over the last hour (`function.cold_starts`), from the `Init Duration` of the
//! function's `REPORT` log lines: the seeds' "cold start duration > 1 s" warns.

use chrono::{DateTime, Duration, Utc};
use stoker_optimizer::report_line::{self, ReportLine};

use crate::check::Check;

const CHECK: &str = "function.cold_starts";
/// Cold-start REPORT lines read at most per function and check (only the cold starts are read:
/// the filter pattern `"Init Duration"`).
const MAX_LINES: usize = 2000;

/// `function.cold_starts` of `function`, warning when a cold start took longer than `max_ms`.
pub async fn check(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    max_ms: u32,
    now: DateTime<Utc>,
) -> Check {
    let group = format!("/aws/lambda/{function}");
    let since = (now - Duration::hours(1)).timestamp_millis();
    let cold = report_line::read_matching(
        logs,
        &group,
        "\"Init Duration\"",
        since,
        Some(now.timestamp_millis()),
        MAX_LINES,
    );
    match cold.await {
        Ok(None) => Check::pass(
            CHECK,
            function,
            format!("no log group {group}: no REPORT lines to read"),
        ),
        Ok(Some(lines)) => judge(
            function,
            &lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>(),
            max_ms,
        ),
        Err(e) => Check::fail(
            CHECK,
            function,
            format!("could not read its REPORT lines: {e}"),
        ),
    }
}

/// The verdict on `lines` (one function's REPORT lines over the last hour).
pub fn judge(function: &str, lines: &[ReportLine], max_ms: u32) -> Check {
    let inits: Vec<f64> = lines.iter().filter_map(|l| l.init_ms).collect();
    let Some(worst) = inits.iter().copied().reduce(f64::max) else {
        return Check::pass(
            CHECK,
            function,
            format!(
                "no cold start in {} invocations in the last hour",
                lines.len()
            ),
        );
    };
    let seen = format!(
        "{} cold starts in {} invocations in the last hour, the slowest {worst:.0} ms",
        inits.len(),
        lines.len()
    );
    if worst > f64::from(max_ms) {
        Check::warn(
            CHECK,
            function,
            format!(
                "{seen}, above {max_ms} ms: keep it warm (stoker.warmup.requested), give it more memory, or trim its start-up"
            ),
        )
    } else {
        Check::pass(CHECK, function, seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    fn line(init_ms: Option<f64>) -> ReportLine {
        ReportLine {
            duration_ms: 10.0,
            billed_ms: 10.0,
            memory_size_mb: Some(128),
            max_memory_used_mb: Some(40),
            init_ms,
        }
    }

    #[test]
    fn a_cold_start_over_the_limit_warns() {
        assert_eq!(judge("f", &[], 1000).status, Status::Pass);
        assert_eq!(
            judge("f", &[line(None), line(Some(800.0))], 1000).status,
            Status::Pass
        );
        let c = judge(
            "f",
            &[line(Some(1500.0)), line(Some(200.0)), line(None)],
            1000,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.evidence.starts_with("2 cold starts in 3 invocations"),
            "{}",
            c.evidence
        );
        assert!(c.evidence.contains("slowest 1500 ms"), "{}", c.evidence);
    }
}
