//! Processing one delivered message, the same for both drivers: decode, claim, run the
//! handler with in-process retries, complete or release, record the run, emit metrics and
//! outcome events, and say what the driver must do with the message.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use sha2::{Digest, Sha256};
use stoker_events::{Delivery, Event, decode};
use tokio::sync::watch;
use tracing::Instrument;

use crate::config::WorkerConfig;
use crate::emf::{self, JobMetrics};
use crate::error::JobError;
use crate::job::{Handler, JobCtx, MAX_STAGED, Outcome};
use crate::ops::{Claim, OpsTable, RunOutcome, RunRecord};
use crate::outcome::Publisher;
use crate::stats::Stats;
use aws_sdk_dynamodb::types::TransactWriteItem;

/// A message as the drivers received it.
#[derive(Debug, Clone)]
pub struct Delivered<'a> {
    pub message_id: &'a str,
    pub body: &'a str,
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the driver does with the message.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Done (or a replay of a done job): delete it.
    Done,
    /// Leave it for redelivery after `delay` (change its visibility).
    Retry { delay: Duration },
    /// Send it to the DLQ with this reason, then delete it.
    Dead { code: String, reason: String },
}

/// A handler with everything it runs with. Built once; shared by every job.
#[derive(Debug)]
pub struct Runtime<H> {
    pub handler: H,
    pub config: WorkerConfig,
    pub ops: OpsTable,
    pub sqs: aws_sdk_sqs::Client,
    pub publisher: Option<Publisher>,
    pub stats: Arc<Stats>,
}

/// Raised to stop in-flight jobs at the end of a graceful shutdown.
pub type Stop = watch::Receiver<bool>;

enum Ran {
    /// The outcome, the attempts, and the writes staged to commit with the completion.
    Ok(Outcome, u32, Vec<TransactWriteItem>),
    Err(JobError, u32),
    Stopped,
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
        event: Option<&Event>,
        outcome: RunOutcome,
        attempts: u32,
        err: Option<&JobError>,
    ) -> RunRecord {
        let (event_id, kind, requested_by) = match event {
            Some(e) => (
                e.meta.id.to_string(),
                e.meta.kind.detail_type().to_owned(),
                e.meta.requested_by.clone(),
            ),
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
        let event = match decode(msg.body, &delivery) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(message_id = msg.message_id, code = e.code(), error = %e, "undecodable message: to the DLQ");
                let err = JobError::from(e);
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
        let span = tracing::info_span!("job", worker = self.worker(), message_id = msg.message_id, event_id = %event.meta.id, kind = %event.meta.kind);
        self.process_event(&event, &t, budget, stop)
            .instrument(span)
            .await
    }

    /// The claim-run-finish part of [`process`](Self::process), inside the job's span.
    async fn process_event(
        &self,
        event: &Event,
        t: &Timing<'_>,
        budget: Duration,
        stop: &Stop,
    ) -> Disposition {
        let rc = t.msg.receive_count;
        let key = self.handler.idempotency_key(event);
        let claim_ttl = budget + Duration::from_secs(5);
        let claim = self
            .ops
            .claim(
                self.worker(),
                &key,
                &payload_hash(event),
                &event.meta.id.to_string(),
                claim_ttl,
            )
            .await;
        let claim_id = match claim {
            Ok(Claim::Acquired { claim_id }) => claim_id,
            Err(e) => {
                tracing::warn!(error = %e, "ops table unavailable; the message will be redelivered");
                return Disposition::Retry {
                    delay: self.config.retry.redelivery_delay(rc),
                };
            }
            Ok(Claim::Replay { .. }) => {
                tracing::info!("duplicate delivery of a completed job: replayed, no side effect");
                self.record(&t.run(self.worker(), Some(event), RunOutcome::Replayed, 0, None))
                    .await;
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        replayed: true,
                        ..t.metrics()
                    },
                );
                return Disposition::Done;
            }
            Ok(Claim::Busy { remaining }) => {
                // The holder usually finishes soon: look again after the usual redelivery
                // delay, and at the latest when its claim expires.
                tracing::info!(
                    ?remaining,
                    "another worker holds this job's claim; looking again later"
                );
                let delay = remaining.min(self.config.retry.redelivery_delay(rc));
                return Disposition::Retry {
                    delay: delay.max(Duration::from_secs(1)),
                };
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
                    Some(event),
                    RunOutcome::FailedPermanent,
                    0,
                    Some(&err),
                ))
                .await;
                return dead(&err);
            }
        };

        match self.run_handler(event, rc, t.clock + budget, stop).await {
            Ran::Ok(outcome, attempts, staged) => {
                let run = t.run(
                    self.worker(),
                    Some(event),
                    RunOutcome::Completed,
                    attempts,
                    None,
                );
                self.finish_completed(&key, &claim_id, &outcome, &run, &staged)
                    .await;
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        completed: true,
                        attempts,
                        ..t.metrics()
                    },
                );
                if let Some(p) = &self.publisher {
                    p.completed(
                        &self.stats,
                        self.worker(),
                        event,
                        attempts,
                        run.duration_ms,
                        &outcome,
                    )
                    .await;
                }
                Disposition::Done
            }
            Ran::Err(err, attempts) => {
                let outcome = if err.is_permanent() {
                    RunOutcome::FailedPermanent
                } else {
                    RunOutcome::FailedRetryable
                };
                self.release(
                    &key,
                    &claim_id,
                    &t.run(self.worker(), Some(event), outcome, attempts, Some(&err)),
                )
                .await;
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        failed: true,
                        attempts,
                        ..t.metrics()
                    },
                );
                let last = rc >= self.config.max_receive_count;
                if !err.is_permanent() && !last {
                    let delay = self.config.retry.redelivery_delay(rc);
                    tracing::info!(error = %err, ?delay, "job failed; redelivery after a delay");
                    return Disposition::Retry { delay };
                }
                tracing::warn!(error = %err, code = err.code(), attempts, "job failed for good: to the DLQ");
                if let Some(p) = &self.publisher {
                    p.failed(&self.stats, self.worker(), event, attempts, &err)
                        .await;
                }
                if err.is_permanent() {
                    dead(&err)
                } else {
                    Disposition::Dead {
                        code: crate::dlq::RETRIES_EXHAUSTED.to_owned(),
                        reason: format!("gave up after {rc} deliveries: {err}"),
                    }
                }
            }
            Ran::Stopped => {
                let err = JobError::retryable("stopped by shutdown before finishing");
                self.release(
                    &key,
                    &claim_id,
                    &t.run(
                        self.worker(),
                        Some(event),
                        RunOutcome::FailedRetryable,
                        0,
                        Some(&err),
                    ),
                )
                .await;
                Disposition::Retry {
                    delay: Duration::ZERO,
                }
            }
        }
    }

    async fn run_handler(
        &self,
        event: &Event,
        receive_count: u32,
        deadline: Instant,
        stop: &Stop,
    ) -> Ran {
        let mut delays = self.config.retry.delays();
        let mut attempt = 1;
        let mut stop = stop.clone();
        loop {
            let ctx = JobCtx::new(self.config.worker, attempt, receive_count, deadline);
            let work = AssertUnwindSafe(self.handler.handle(event, &ctx)).catch_unwind();
            let result = tokio::select! {
                r = tokio::time::timeout(ctx.time_left(), work) => r,
                _ = stopped(&mut stop) => return Ran::Stopped,
            };
            let err = match result {
                Ok(Ok(Ok(outcome))) => {
                    let staged = ctx.take_staged();
                    if staged.len() <= MAX_STAGED {
                        return Ran::Ok(outcome, attempt, staged);
                    }
                    return Ran::Err(
                        JobError::permanent(
                            "too_many_staged_writes",
                            format!(
                                "the handler staged {} writes; a job may stage at most {MAX_STAGED} (write the rest itself, idempotently)",
                                staged.len()
                            ),
                        ),
                        attempt,
                    );
                }
                Ok(Ok(Err(e))) => e,
                Ok(Err(panic)) => {
                    JobError::retryable(format!("the handler panicked: {}", panic_message(&panic)))
                }
                Err(_) => JobError::transient(
                    "the job ran out of time (job timeout or Lambda remaining time)",
                ),
            };
            if !err.is_transient() {
                return Ran::Err(err, attempt);
            }
            match delays.next() {
                Some(d) if Instant::now() + d < deadline => {
                    tracing::info!(attempt, error = %err, delay_ms = d.as_millis() as u64, "transient failure; retrying in process");
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = stopped(&mut stop) => return Ran::Stopped,
                    }
                    attempt += 1;
                }
                _ => return Ran::Err(err, attempt),
            }
        }
    }

    /// Completing must not be lost after the side effect happened: retry it like a transient error.
    async fn finish_completed(
        &self,
        key: &str,
        claim_id: &str,
        outcome: &Outcome,
        run: &RunRecord,
        staged: &[TransactWriteItem],
    ) {
        let mut delays = self.config.retry.delays();
        loop {
            match self
                .ops
                .complete(self.worker(), key, claim_id, outcome, run, staged)
                .await
            {
                Ok(_) => return,
                Err(e) => match delays.next() {
                    Some(d) if !e.is_permanent() => tokio::time::sleep(d).await,
                    _ => {
                        tracing::error!(error = %e, "job done but not recorded as completed; a redelivery after the claim expires may repeat it");
                        return;
                    }
                },
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

/// SHA-256 of the event's kind and canonical payload (object keys sorted).
pub fn payload_hash(event: &Event) -> String {
    let mut h = Sha256::new();
    h.update(event.meta.kind.detail_type().as_bytes());
    h.update(b"\n");
    h.update(event.body.to_value().to_string().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
