//! Processing one delivered message, the same for both drivers: decode, claim, run the
//! handler with in-process retries, complete or release, record the run, emit metrics and
//! outcome events, and say what the driver must do with the message.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::Retryable;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::watch;
use tracing::Instrument;

use crate::batching::OpsBatches;
use crate::config::WorkerConfig;
use crate::emf::{self, JobMetrics};
use crate::error::JobError;
use crate::event::{Completed, Delivery, EventMeta, Failed, JobEvent};
use crate::job::{Handler, Idempotency, JobCtx, MAX_STAGED, Outcome};
use crate::lease::Leases;
pub use crate::message::Delivered;
use crate::ops::{
    Claim, ClaimRequest, Completion, CompletionRequest, Holder, OpsTable, RunOutcome, RunRecord,
};
use crate::outcome::Publisher;
use crate::stats::Stats;
use aws_sdk_dynamodb::types::TransactWriteItem;

mod optimistic;

/// What the driver does with the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Done (or a replay of a done job): delete it.
    Done,
    /// Leave it for redelivery after `delay` (change its visibility).
    Retry {
        /// How long the message stays invisible before its redelivery (at most 12 hours).
        delay: Duration,
    },
    /// Send it to the DLQ with this reason, then delete it.
    Dead {
        /// The dead letter's `stoker-error-code`.
        code: String,
        /// The dead letter's `stoker-reason`.
        reason: String,
    },
}

/// A handler with everything it runs with. Built once ([`crate::runtime`]); shared by every
/// job.
#[derive(Debug)]
#[non_exhaustive]
pub struct Runtime<H> {
    /// The job logic.
    pub handler: H,
    /// The worker's settings.
    pub config: WorkerConfig,
    /// Idempotency claims and run records.
    pub ops: OpsTable,
    /// Client for the worker's queue and DLQ.
    pub sqs: aws_sdk_sqs::Client,
    /// Sends outcome events; `None` when no bus is configured.
    pub publisher: Option<Publisher>,
    /// Counts the AWS calls and jobs of this runtime.
    pub stats: Arc<Stats>,
    /// Keeps running jobs' claims alive.
    pub leases: Leases,
    /// Claims and completions of jobs running together, batched.
    pub(crate) batches: OpsBatches,
}

/// How much longer than the job's budget a claim lasts (the lease extends it while the job runs).
const CLAIM_GRACE: Duration = Duration::from_secs(5);
/// SQS' longest visibility timeout.
const MAX_VISIBILITY_DELAY: Duration = Duration::from_secs(12 * 3600);
/// The code of a message delivered more often than the kit's limit.
pub const DELIVERY_LIMIT: &str = "delivery_limit";

/// Raised to stop in-flight jobs at the end of a graceful shutdown.
pub type Stop = watch::Receiver<bool>;

enum Ran {
    /// The outcome, the attempts, the writes staged to commit with the completion, and the
    /// report's summary.
    Ok(Outcome, u32, Vec<TransactWriteItem>, Option<String>),
    Err(JobError, u32),
    Stopped,
    /// The claim's heartbeat found the claim someone else's: the job was stopped.
    ClaimLost,
}

/// When and how a job started: what every run record needs besides its outcome.
struct Timing<'a> {
    msg: &'a Delivered<'a>,
    started: DateTime<Utc>,
    clock: Instant,
}

impl Timing<'_> {
    fn run(
        &self,
        worker: &str,
        event: Option<&EventMeta>,
        outcome: RunOutcome,
        attempts: u32,
        err: Option<&JobError>,
    ) -> RunRecord {
        let (event_id, kind, requested_by) = match event {
            Some(m) => (m.id.clone(), m.kind.clone(), m.requested_by.clone()),
            None => (
                format!("undecodable:{}", self.msg.message_id),
                "-".to_owned(),
                "-".to_owned(),
            ),
        };
        RunRecord {
            worker: worker.to_owned(),
            event_id,
            kind,
            outcome,
            attempts,
            receive_count: self.msg.receive_count,
            duration_ms: self.clock.elapsed().as_millis() as u64,
            started_at: self.started,
            finished_at: Utc::now(),
            error_code: err.map(|e| e.code().to_owned()),
            error: err.map(ToString::to_string),
            requested_by,
            summary: None,
        }
    }

    fn metrics(&self) -> JobMetrics {
        JobMetrics {
            duration_ms: self.clock.elapsed().as_secs_f64() * 1000.0,
            ..Default::default()
        }
    }
}

fn dead(err: &JobError) -> Disposition {
    Disposition::Dead {
        code: err.code().to_owned(),
        reason: err.to_string(),
    }
}

impl<H: Handler> Runtime<H> {
    fn worker(&self) -> &'static str {
        self.config.worker.name()
    }

    /// Writes a run record on its own; a failure is logged, never fails the job.
    async fn record(&self, run: &RunRecord) {
        if let Err(e) = self.ops.record_run(run).await {
            tracing::warn!(error = %e, "run record not written");
        }
    }

    /// Releases the claim and records the run; a failure is logged (the claim then expires).
    async fn release(&self, key: &str, claim_id: &str, run: &RunRecord) {
        if let Err(e) = self.ops.release(self.worker(), key, claim_id, run).await {
            tracing::warn!(error = %e, "claim not released; it expires on its own");
        }
    }

    /// Processes one message within `budget` (the Lambda's remaining time or the job timeout).
    pub async fn process(&self, msg: &Delivered<'_>, budget: Duration, stop: &Stop) -> Disposition {
        let t = Timing {
            msg,
            started: Utc::now(),
            clock: Instant::now(),
        };
        self.stats.job();
        let delivery = Delivery {
            message_id: Some(msg.message_id),
            sent_at: msg.sent_at,
        };
        let event = match H::Event::decode(msg.body, &delivery) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(message_id = msg.message_id, code = e.code(), error = %e, "undecodable message: to the DLQ");
                let err = if e.is_permanent() {
                    e
                } else {
                    JobError::permanent("undecodable", e.to_string())
                };
                self.record(&t.run(
                    self.worker(),
                    None,
                    RunOutcome::FailedPermanent,
                    0,
                    Some(&err),
                ))
                .await;
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        failed: true,
                        ..t.metrics()
                    },
                );
                return dead(&err);
            }
        };
        let meta = event.meta();
        let span = tracing::info_span!("job", worker = self.worker(), message_id = msg.message_id, event_id = %meta.id, kind = %meta.kind);
        self.process_event(&event, &meta, &t, budget, stop)
            .instrument(span)
            .await
    }

    /// The claim-run-finish part of [`process`](Self::process), inside the job's span.
    async fn process_event(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        t: &Timing<'_>,
        budget: Duration,
        stop: &Stop,
    ) -> Disposition {
        let rc = t.msg.receive_count;
        let key = self.handler.idempotency_key(event);
        if self.handler.idempotency() == Idempotency::Optimistic {
            return self.optimistic(event, meta, t, budget, stop, key).await;
        }
        let claim_ttl = budget + CLAIM_GRACE;
        let request = ClaimRequest {
            worker: self.worker().to_owned(),
            key: key.clone(),
            payload_hash: event.payload_hash(),
            event_id: meta.id.clone(),
            ttl: claim_ttl,
        };
        let claim = self.batches.claim(request).await;
        let claim_id = match claim {
            Ok(Claim::Acquired { claim_id }) if rc > self.config.max_receive_count => {
                let run = t.run(
                    self.worker(),
                    Some(meta),
                    RunOutcome::FailedRetryable,
                    0,
                    None,
                );
                self.release(&key, &claim_id, &run).await;
                return self.past_the_limit(rc);
            }
            Ok(Claim::Acquired { claim_id }) => claim_id,
            Err(e) => {
                tracing::warn!(error = %e, "ops table unavailable; the message will be redelivered");
                let err = JobError::retryable(format!("ops table unavailable: {e}"));
                return self.again(rc, self.config.retry.redelivery_delay(rc), &err);
            }
            Ok(Claim::Replay { .. }) => {
                tracing::info!("duplicate delivery of a completed job: replayed, no side effect");
                return self.replayed(meta, t, 0).await;
            }
            Ok(Claim::Busy { remaining }) if rc <= self.config.max_receive_count => {
                // Someone is running it (its lease keeps the claim alive) or died holding it.
                // A busy claim is not a failure: look again after the usual redelivery delay
                // (a duplicate of a short job replays soon), and from the last delivery on only
                // once the claim would have expired, so a long job's duplicate is never
                // dead-lettered while the job runs.
                let wait = if rc < self.config.max_receive_count {
                    remaining.min(self.config.retry.redelivery_delay(rc))
                } else {
                    remaining
                };
                tracing::info!(
                    ?remaining,
                    ?wait,
                    "another worker holds this job's claim; looking again later"
                );
                return Disposition::Retry {
                    delay: (wait + Duration::from_secs(1)).min(MAX_VISIBILITY_DELAY),
                };
            }
            Ok(Claim::Busy { .. }) => {
                return self.past_the_limit(rc);
            }
            Ok(Claim::Conflict) => {
                let err = JobError::permanent(
                    "idempotency_conflict",
                    format!(
                        "idempotency key `{key}` already completed with a different payload; publish a new event (new id) instead of reusing one"
                    ),
                );
                self.record(&t.run(
                    self.worker(),
                    Some(meta),
                    RunOutcome::FailedPermanent,
                    0,
                    Some(&err),
                ))
                .await;
                return dead(&err);
            }
        };

        // The claim lives as long as the job does, completion included.
        let lease = self
            .leases
            .keep(self.worker(), key.clone(), claim_id.clone(), claim_ttl);
        let (err, attempts, release) = match self
            .run_handler(event, meta, rc, t.clock + budget, stop, lease.lost())
            .await
        {
            Ran::Ok(outcome, attempts, staged, summary) => {
                let mut run = t.run(
                    self.worker(),
                    Some(meta),
                    RunOutcome::Completed,
                    attempts,
                    None,
                );
                run.summary = summary;
                let holder = Holder::Claim {
                    claim_id: claim_id.clone(),
                };
                let completion = self
                    .finish_completed(&key, &holder, &outcome, &run, &staged)
                    .await;
                drop(lease);
                match completion {
                    Ok(Completion::Committed) => {
                        return self.completed(event, t, attempts, &run, &outcome).await;
                    }
                    Ok(Completion::TakenOver | Completion::Replayed | Completion::Conflict) => (
                        JobError::retryable(
                            "the job outlived its claim and another worker took it over: nothing was committed; a redelivery replays the other worker's outcome",
                        ),
                        attempts,
                        false,
                    ),
                    Ok(Completion::StagedRefused) => (
                        JobError::retryable(
                            "a staged write's own condition failed: nothing was committed; the job runs again",
                        ),
                        attempts,
                        true,
                    ),
                    Err(e) => {
                        // It may have committed (an answer lost for good): not a failure. The
                        // next delivery replays it, or runs it once the claim expires.
                        tracing::warn!(error = %e, "completion not confirmed; the next delivery finds out");
                        return Disposition::Retry {
                            delay: claim_ttl.min(MAX_VISIBILITY_DELAY),
                        };
                    }
                }
            }
            Ran::Err(err, attempts) => (err, attempts, true),
            Ran::Stopped => (
                JobError::retryable("stopped by shutdown before finishing"),
                0,
                true,
            ),
            Ran::ClaimLost => (
                JobError::retryable(
                    "the job's claim was taken over while it ran: stopped, nothing committed",
                ),
                0,
                false,
            ),
        };
        let release = release.then_some((key.as_str(), claim_id.as_str()));
        self.fail(event, meta, t, &err, attempts, stop, release)
            .await
    }

    /// A job that failed: its run record (releasing its claim, when given), its metric, and its
    /// redelivery, or its dead letter and outcome event once it failed for good.
    #[allow(clippy::too_many_arguments)]
    async fn fail(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        t: &Timing<'_>,
        err: &JobError,
        attempts: u32,
        stop: &Stop,
        release: Option<(&str, &str)>,
    ) -> Disposition {
        let rc = t.msg.receive_count;
        let outcome = if err.is_permanent() {
            RunOutcome::FailedPermanent
        } else {
            RunOutcome::FailedRetryable
        };
        let run = t.run(self.worker(), Some(meta), outcome, attempts, Some(err));
        match release {
            Some((key, claim_id)) => self.release(key, claim_id, &run).await,
            None => self.record(&run).await,
        }
        let stopped = *stop.borrow();
        if !stopped {
            emf::emit(
                self.worker(),
                &JobMetrics {
                    failed: true,
                    attempts,
                    ..t.metrics()
                },
            );
        }
        if !err.is_permanent() && rc < self.config.max_receive_count {
            let delay = if stopped {
                Duration::ZERO
            } else {
                self.config.retry.redelivery_delay(rc)
            };
            tracing::info!(error = %err, ?delay, "job failed; redelivery after a delay");
            return Disposition::Retry { delay };
        }
        tracing::warn!(error = %err, code = err.code(), attempts, "job failed for good: to the DLQ");
        if let Some(p) = &self.publisher {
            let failed = Failed {
                worker: self.worker(),
                attempts,
                error: err,
            };
            p.announce(&self.stats, event.failed(&failed)).await;
        }
        self.again(rc, Duration::ZERO, err)
    }

    /// A committed job: its metric and its outcome event.
    async fn completed(
        &self,
        event: &H::Event,
        t: &Timing<'_>,
        attempts: u32,
        run: &RunRecord,
        outcome: &Outcome,
    ) -> Disposition {
        emf::emit(
            self.worker(),
            &JobMetrics {
                completed: true,
                attempts,
                ..t.metrics()
            },
        );
        if let Some(p) = &self.publisher {
            let done = Completed {
                worker: self.worker(),
                attempts,
                duration_ms: run.duration_ms,
                report: outcome,
            };
            p.announce(&self.stats, event.completed(&done)).await;
        }
        Disposition::Done
    }

    /// A message delivered more times than the kit's limit: its worker crashed, was cut off or
    /// lost its answer at the last delivery the kit counts (the queue's redrive allows a margin
    /// above it so that this is seen here, with a reason, instead of moved by SQS without one).
    fn past_the_limit(&self, receive_count: u32) -> Disposition {
        tracing::warn!(receive_count, "delivered past the kit's limit: to the DLQ");
        Disposition::Dead {
            code: DELIVERY_LIMIT.to_owned(),
            reason: format!(
                "delivered {receive_count} times, more than the worker's limit of {}: a worker crashed, timed out or lost its answer at the last delivery; see `stoker status` and the worker's logs, then redrive",
                self.config.max_receive_count
            ),
        }
    }

    /// Leave the message for redelivery after `delay`, unless this is its last delivery: then
    /// the kit dead-letters it itself with the reason (SQS' own redrive would move it silently).
    fn again(&self, receive_count: u32, delay: Duration, err: &JobError) -> Disposition {
        if err.is_permanent() {
            return dead(err);
        }
        if receive_count < self.config.max_receive_count {
            return Disposition::Retry { delay };
        }
        Disposition::Dead {
            code: crate::dlq::RETRIES_EXHAUSTED.to_owned(),
            reason: format!("gave up after {receive_count} deliveries: {err}"),
        }
    }

    /// Runs the handler, retrying its transient errors in process (backon, the worker's
    /// [`crate::RetryPolicy`], never past the deadline) until the job stops or its claim is lost.
    async fn run_handler(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        receive_count: u32,
        deadline: Instant,
        stop: &Stop,
        lost: impl Future<Output = ()>,
    ) -> Ran {
        let attempts = AtomicU32::new(0);
        let one = || {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(event, meta, receive_count, attempt, deadline)
        };
        let retried = one
            .retry(self.config.retry.delays())
            .when(JobError::is_transient)
            .adjust(|_, delay| delay.filter(|d| Instant::now() + *d < deadline))
            .notify(|err, delay| {
                tracing::info!(attempt = attempts.load(Ordering::Relaxed), error = %err, delay_ms = delay.as_millis() as u64, "transient failure; retrying in process");
            });
        let mut stop = stop.clone();
        let result = tokio::select! {
            r = retried => r,
            _ = stopped(&mut stop) => return Ran::Stopped,
            _ = lost => return Ran::ClaimLost,
        };
        let attempt = attempts.load(Ordering::Relaxed);
        match result {
            Ok((outcome, staged, summary)) => Ran::Ok(outcome, attempt, staged, summary),
            Err(err) => Ran::Err(err, attempt),
        }
    }

    /// One attempt of the handler: its outcome and staged writes, or why it failed (a panic
    /// and running out of time included).
    async fn attempt(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        receive_count: u32,
        attempt: u32,
        deadline: Instant,
    ) -> Result<(Outcome, Vec<TransactWriteItem>, Option<String>), JobError> {
        let ctx = JobCtx::new(
            self.config.worker,
            meta.clone(),
            attempt,
            receive_count,
            deadline,
        );
        let work = AssertUnwindSafe(self.handler.handle(event, &ctx)).catch_unwind();
        match tokio::time::timeout(ctx.time_left(), work).await {
            Ok(Ok(Ok(outcome))) => {
                let staged = ctx.take_staged();
                if staged.len() <= MAX_STAGED {
                    return Ok((outcome, staged, ctx.take_summary()));
                }
                Err(JobError::permanent(
                    "too_many_staged_writes",
                    format!(
                        "the handler staged {} writes; a job may stage at most {MAX_STAGED} (write the rest itself, idempotently)",
                        staged.len()
                    ),
                ))
            }
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(panic)) => Err(JobError::retryable(format!(
                "the handler panicked: {}",
                panic_message(&panic)
            ))),
            Err(_) => Err(JobError::transient(
                "the job ran out of time (job timeout or Lambda remaining time)",
            )),
        }
    }

    /// Completing must not be lost after the side effect happened: whatever is not permanent
    /// is retried (the claim's lease keeps it ours meanwhile), even an AWS error the SDK gave up
    /// on; what the last try found is returned.
    async fn finish_completed(
        &self,
        key: &str,
        holder: &Holder,
        outcome: &Outcome,
        run: &RunRecord,
        staged: &[TransactWriteItem],
    ) -> Result<Completion, JobError> {
        let complete = || {
            let request = CompletionRequest {
                worker: self.worker().to_owned(),
                key: key.to_owned(),
                holder: holder.clone(),
                outcome: outcome.clone(),
                run: run.clone(),
                staged: staged.to_vec(),
            };
            self.batches.complete(request)
        };
        match complete
            .retry(self.config.retry.delays())
            .when(|e: &JobError| !e.is_permanent())
            .await
        {
            Ok(c) => {
                if c != Completion::Committed {
                    tracing::warn!(completion = ?c, "job done but its completion was refused: nothing committed");
                }
                Ok(c)
            }
            Err(e) => {
                tracing::error!(error = %e, "job done but not recorded as completed; it runs again once its claim expires");
                Err(e)
            }
        }
    }
}

/// Resolves when a stop is raised; never, if nobody can raise one (the sender is gone).
async fn stopped(stop: &mut Stop) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
