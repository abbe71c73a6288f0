//! What a warm-up pass reports, per target and in total.

use serde::{Deserialize, Serialize};

/// One target's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    pub concurrency: u32,
    pub invoked: u32,
    pub succeeded: u32,
    /// Distinct instance ids among the guard's replies.
    pub instances: u32,
    /// Replies that were their instance's first invocation.
    pub cold: u32,
    /// Successful answers without a guard reply (the function ran its handler: not wrapped).
    pub unguarded: u32,
    /// Function versions the replies came from (an alias target shows its version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    pub latency_p50_ms: u64,
    pub latency_max_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TargetError>,
    /// Each instance that answered through the guard, slowest first: whether it was cold and
    /// its latency (the slowest of its pings). Dropped, the slowest kept last, when the report
    /// is too large for its run record ([`Report`]'s `fitted`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<InstanceAnswer>,
}

/// One instance as its guard answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceAnswer {
    pub instance_id: String,
    /// One of its pings was its first invocation.
    pub cold: bool,
    /// Pings it answered (more than one when the hold-open delay was too short to spread them).
    pub pings: u32,
    /// The slowest of its pings, ms.
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl TargetReport {
    /// The pass warmed it: some invocation answered and none failed (readiness's
    /// `function.warmed` reads this as the `WarmupTargetWarmed` metric, by function).
    pub fn warmed(&self) -> bool {
        self.error.is_none() && self.succeeded > 0
    }

    pub fn is_retryable(&self) -> bool {
        self.error.as_ref().is_some_and(|e| !e.permanent)
    }
}

/// Why some or all of a target's invocations failed (the first failure seen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetError {
    pub code: String,
    /// Not found, access denied, bad qualifier: fix the target; retrying cannot help.
    pub permanent: bool,
    pub failed: u32,
    pub message: String,
}

/// A whole pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The request's correlation id (the pings carried it to the guards).
    #[serde(default)]
    pub correlation_id: String,
    pub targets: Vec<TargetReport>,
    pub invoked: u32,
    pub succeeded: u32,
    pub instances: u32,
    pub cold: u32,
    pub failed_targets: u32,
    pub duration_ms: u64,
    /// Targets of a scheduled job none of whose own schedules was due at the job's time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_due: Vec<String>,
}

impl Report {
    pub fn new(correlation_id: &str, targets: Vec<TargetReport>) -> Self {
        let sum = |f: fn(&TargetReport) -> u32| targets.iter().map(f).sum();
        Report {
            correlation_id: correlation_id.to_owned(),
            invoked: sum(|t| t.invoked),
            succeeded: sum(|t| t.succeeded),
            instances: sum(|t| t.instances),
            cold: sum(|t| t.cold),
            failed_targets: targets.iter().filter(|t| t.error.is_some()).count() as u32,
            duration_ms: 0,
            not_due: Vec::new(),
            targets,
        }
    }

    pub fn first_error(&self) -> Option<&str> {
        self.targets
            .iter()
            .find_map(|t| t.error.as_ref().map(|e| e.message.as_str()))
    }
}

/// The `p`-th percentile (0-100) of `sorted` by nearest rank; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl stoker_kit::Summary for Report {
    /// `f: 3/3 pings answered by the guard, 3 instances, 1 cold, p50 12 ms`, per target
    /// (answers from the handler itself, the function not wrapped, are named apart).
    fn summary(&self) -> String {
        let later =
            (!self.not_due.is_empty()).then(|| format!("not due: {}", self.not_due.join(", ")));
        self.targets
            .iter()
            .map(|t| {
                let unguarded = if t.unguarded > 0 {
                    format!(" ({} answered by the handler: not wrapped)", t.unguarded)
                } else {
                    String::new()
                };
                format!(
                    "{}: {}/{} pings answered by the guard{unguarded}, {} instances, {} cold, p50 {} ms",
                    t.function,
                    t.succeeded.saturating_sub(t.unguarded),
                    t.invoked,
                    t.instances,
                    t.cold,
                    t.latency_p50_ms
                )
            })
            .chain(later)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Too large for the run record (many targets at high concurrency): the instance lists
    /// are cut, fastest first, until it fits; the counts stay.
    fn fitted(mut self, max_bytes: usize) -> Self {
        let size = |r: &Report| serde_json::to_vec(r).map(|v| v.len()).unwrap_or(0);
        while size(&self) > max_bytes {
            let Some(longest) = self.targets.iter_mut().max_by_key(|t| t.answers.len()) else {
                break;
            };
            if longest.answers.is_empty() {
                break;
            }
            let keep = longest.answers.len() / 2;
            longest.answers.truncate(keep);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10, 20, 30, 40];
        assert_eq!(percentile(&v, 50.0), 20);
        assert_eq!(percentile(&v, 100.0), 40);
        assert_eq!(percentile(&v, 1.0), 10);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 99.0), 7);
    }

    fn target(succeeded: u32, error: Option<bool>) -> TargetReport {
        TargetReport {
            function: "f".into(),
            qualifier: None,
            concurrency: 3,
            invoked: 3,
            succeeded,
            instances: succeeded,
            cold: 1,
            unguarded: 0,
            versions: vec![],
            latency_p50_ms: 1,
            latency_max_ms: 2,
            error: error.map(|permanent| TargetError {
                code: "c".into(),
                permanent,
                failed: 3 - succeeded,
                message: "m".into(),
            }),
            answers: (0..succeeded)
                .map(|i| InstanceAnswer {
                    instance_id: format!("instance-{i:04}"),
                    cold: i == 0,
                    pings: 1,
                    latency_ms: u64::from(100 - i),
                    version: Some("3".into()),
                })
                .collect(),
        }
    }

    #[test]
    fn totals_add_up_and_failed_targets_are_counted() {
        let r = Report::new(
            "ticket-4711",
            vec![
                target(3, None),
                target(0, Some(true)),
                target(1, Some(false)),
            ],
        );
        assert_eq!((r.invoked, r.succeeded, r.instances, r.cold), (9, 4, 4, 3));
        assert_eq!(r.failed_targets, 2);
        assert!(r.targets[2].is_retryable() && !r.targets[1].is_retryable());
        assert_eq!(r.first_error(), Some("m"));
        assert_eq!(r.correlation_id, "ticket-4711");
    }

    #[test]
    fn a_large_report_cuts_its_instance_lists_keeping_the_slowest_and_the_counts() {
        use stoker_kit::Summary;
        let targets: Vec<TargetReport> = (0..50).map(|_| target(100, None)).collect();
        let r = Report::new("c", targets);
        let before = serde_json::to_vec(&r).unwrap().len();
        assert!(before > stoker_kit::MAX_REPORT_BYTES, "{before} bytes");
        let fitted = r.fitted(stoker_kit::MAX_REPORT_BYTES);
        let after = serde_json::to_vec(&fitted).unwrap().len();
        assert!(after <= stoker_kit::MAX_REPORT_BYTES, "{after} bytes");
        assert_eq!((fitted.instances, fitted.succeeded), (5000, 5000));
        let first = &fitted.targets[0].answers;
        assert!(first.len() < 100);
        // Slowest first: what is kept is the slowest.
        assert!(
            first
                .iter()
                .all(|a| a.latency_ms > 100 - first.len() as u64)
        );
    }

    #[test]
    fn a_target_is_warmed_when_some_answered_and_none_failed() {
        assert!(target(3, None).warmed());
        assert!(!target(1, Some(false)).warmed(), "partly failed");
        assert!(!target(0, Some(true)).warmed());
        assert!(!target(0, None).warmed(), "nothing answered");
    }
}
