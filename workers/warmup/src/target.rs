//! One target: `concurrency` pings at once, their answers folded into a [`TargetReport`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use stoker_events::payload::warmup::{WarmupRequest, WarmupTarget};
use stoker_kit::{JobError, RetryPolicy};
use stoker_warmup_guard::Ping;
use tokio::sync::Semaphore;

use crate::invoke::{Invoked, invoke};
use crate::report::{InstanceAnswer, TargetError, TargetReport, percentile};

pub(crate) async fn warm_target(
    lambda: &aws_sdk_lambda::Client,
    target: &WarmupTarget,
    req: &WarmupRequest,
    correlation_id: &str,
    limit: Arc<Semaphore>,
    retry: &RetryPolicy,
) -> TargetReport {
    let timeout = Duration::from_millis(req.invocation_timeout_ms.into());
    let pings = (0..target.concurrency).map(|index| {
        let payload = Ping {
            correlation_id: correlation_id.to_owned(),
            index,
            concurrency: target.concurrency,
            hold_open_ms: req.hold_open_ms.into(),
        }
        .payload(target.payload.as_ref());
        let limit = limit.clone();
        async move {
            let _permit = limit.acquire_owned().await;
            invoke(
                lambda,
                &target.function,
                target.qualifier.as_deref(),
                &payload,
                timeout,
                retry,
            )
            .await
        }
    });
    let results = futures::future::join_all(pings).await;
    fold(target, results)
}

/// Folds the answers of one target's pings into its report.
pub(crate) fn fold(target: &WarmupTarget, results: Vec<Result<Invoked, JobError>>) -> TargetReport {
    let mut latencies = Vec::new();
    let mut instances: HashMap<String, InstanceAnswer> = HashMap::new();
    let mut versions = BTreeSet::new();
    let (mut cold, mut unguarded, mut failed) = (0, 0, 0);
    let mut error: Option<JobError> = None;
    for r in &results {
        match r {
            Ok(inv) => {
                latencies.push(inv.latency_ms);
                match &inv.reply {
                    Some(reply) => {
                        let answer =
                            instances
                                .entry(reply.instance_id.clone())
                                .or_insert_with(|| InstanceAnswer {
                                    instance_id: reply.instance_id.clone(),
                                    cold: false,
                                    pings: 0,
                                    latency_ms: 0,
                                    version: reply.version.clone(),
                                });
                        answer.cold |= reply.cold;
                        answer.pings += 1;
                        answer.latency_ms = answer.latency_ms.max(inv.latency_ms);
                        versions.extend(reply.version.clone());
                        cold += u32::from(reply.cold);
                    }
                    None => unguarded += 1,
                }
            }
            Err(e) => {
                failed += 1;
                // A permanent error says more about the target than a retryable one.
                if error
                    .as_ref()
                    .is_none_or(|prev| !prev.is_permanent() && e.is_permanent())
                {
                    error = Some(e.clone());
                }
            }
        }
    }
    latencies.sort_unstable();
    let mut answers: Vec<InstanceAnswer> = instances.into_values().collect();
    // Slowest first (a cut keeps them), then by id for a stable report.
    answers.sort_by(|a, b| {
        b.latency_ms
            .cmp(&a.latency_ms)
            .then_with(|| a.instance_id.cmp(&b.instance_id))
    });
    TargetReport {
        function: target.function.clone(),
        qualifier: target.qualifier.clone(),
        concurrency: target.concurrency,
        invoked: results.len() as u32,
        succeeded: latencies.len() as u32,
        instances: answers.len() as u32,
        cold,
        unguarded,
        versions: versions.into_iter().collect(),
        latency_p50_ms: percentile(&latencies, 50.0),
        latency_max_ms: latencies.last().copied().unwrap_or(0),
        error: error.map(|e| TargetError {
            code: e.code().to_owned(),
            permanent: e.is_permanent(),
            failed,
            message: e.to_string(),
        }),
        answers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoker_warmup_guard::Reply;

    fn ok(instance: &str, cold: bool, ms: u64) -> Result<Invoked, JobError> {
        Ok(Invoked {
            latency_ms: ms,
            reply: Some(Reply {
                instance_id: instance.into(),
                cold,
                uptime_ms: 1,
                version: Some("3".into()),
                correlation_id: None,
                index: None,
            }),
        })
    }

    fn target() -> WarmupTarget {
        WarmupTarget {
            function: "f".into(),
            qualifier: Some("live".into()),
            concurrency: 4,
            payload: None,
            schedules: vec![],
        }
    }

    #[test]
    fn distinct_instances_and_cold_ones_are_counted() {
        let r = fold(
            &target(),
            vec![
                ok("a", true, 30),
                ok("b", false, 10),
                ok("a", false, 20),
                Ok(Invoked {
                    latency_ms: 5,
                    reply: None,
                }),
            ],
        );
        assert_eq!(
            (r.invoked, r.succeeded, r.instances, r.cold, r.unguarded),
            (4, 4, 2, 1, 1)
        );
        assert_eq!((r.latency_p50_ms, r.latency_max_ms), (10, 30));
        assert_eq!(r.qualifier.as_deref(), Some("live"));
        assert_eq!(r.versions, ["3"]);
        assert!(r.error.is_none());
        // Per instance, slowest first: `a` answered twice (cold once), `b` once.
        let answers: Vec<(&str, bool, u32, u64)> = r
            .answers
            .iter()
            .map(|a| (a.instance_id.as_str(), a.cold, a.pings, a.latency_ms))
            .collect();
        assert_eq!(answers, [("a", true, 2, 30), ("b", false, 1, 10)]);
    }

    #[test]
    fn a_permanent_failure_outranks_a_retryable_one() {
        let r = fold(
            &target(),
            vec![
                Err(JobError::transient("throttled")),
                Err(JobError::permanent("ResourceNotFoundException", "gone")),
                ok("a", true, 1),
            ],
        );
        let e = r.error.unwrap();
        assert!(e.permanent);
        assert_eq!(
            (e.code.as_str(), e.failed),
            ("ResourceNotFoundException", 2)
        );
        assert_eq!(r.succeeded, 1);
    }
}
