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
use crate::job::{Handler, JobCtx, Outcome};
use crate::ops::{Claim, OpsTable, RunOutcome, RunRecord};
use crate::outcome::Publisher;
use crate::stats::Stats;

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
    Ok(Outcome, u32),
    Err(JobError, u32),
    Stopped,
}

impl<H: Handler> Runtime<H> {
    fn worker(&self) -> &'static str {
        self.config.worker.name()
    }

    /// Processes one message within `budget` (the Lambda's remaining time or the job timeout).
    pub async fn process(&self, msg: &Delivered<'_>, budget: Duration, stop: &Stop) -> Disposition {
        let started = Utc::now();
        let clock = Instant::now();
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
                let run = self.run(
                    &format!("undecodable:{}", msg.message_id),
                    "-",
                    "-",
                    RunOutcome::FailedPermanent,
                    0,
                    msg,
                    started,
                    clock,
                    Some(&err),
                );
                if let Err(e) = self.ops.record_run(&run).await {
                    tracing::warn!(error = %e, "run record not written");
                }
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        duration_ms: ms(clock),
                        failed: true,
                        ..Default::default()
                    },
                );
                return Disposition::Dead {
                    code: err.code().to_owned(),
                    reason: err.to_string(),
                };
            }
        };
        let span = tracing::info_span!("job", worker = self.worker(), message_id = msg.message_id, event_id = %event.meta.id, kind = %event.meta.kind);
        self.process_event(&event, msg, budget, stop, started, clock)
            .instrument(span)
            .await
    }

    /// The claim-run-finish part of [`process`](Self::process), inside the job's span.
    async fn process_event(
        &self,
        event: &Event,
        msg: &Delivered<'_>,
        budget: Duration,
        stop: &Stop,
        started: DateTime<Utc>,
        clock: Instant,
    ) -> Disposition {
        let key = self.handler.idempotency_key(event);
        let hash = payload_hash(event);
        let claim_ttl = budget + Duration::from_secs(5);
        let claim = match self
            .ops
            .claim(
                self.worker(),
                &key,
                &hash,
                &event.meta.id.to_string(),
                claim_ttl,
            )
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "ops table unavailable; the message will be redelivered");
                return Disposition::Retry {
                    delay: self.config.retry.redelivery_delay(msg.receive_count),
                };
            }
        };
        let claim_id = match claim {
            Claim::Acquired { claim_id } => claim_id,
            Claim::Replay { .. } => {
                tracing::info!("duplicate delivery of a completed job: replayed, no side effect");
                let run = self.run_of(event, RunOutcome::Replayed, 0, msg, started, clock, None);
                if let Err(e) = self.ops.record_run(&run).await {
                    tracing::warn!(error = %e, "run record not written");
                }
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        duration_ms: ms(clock),
                        replayed: true,
                        ..Default::default()
                    },
                );
                return Disposition::Done;
            }
            Claim::Busy { remaining } => {
                // The holder usually finishes soon: look again after the usual redelivery
                // delay, and at the latest when its claim expires.
                tracing::info!(
                    ?remaining,
                    "another worker holds this job's claim; looking again later"
                );
                let delay = remaining.min(self.config.retry.redelivery_delay(msg.receive_count));
                return Disposition::Retry {
                    delay: delay.max(Duration::from_secs(1)),
                };
            }
            Claim::Conflict => {
                let err = JobError::permanent(
                    "idempotency_conflict",
                    format!(
                        "idempotency key `{key}` already completed with a different payload; publish a new event (new id) instead of reusing one"
                    ),
                );
                let run = self.run_of(
                    event,
                    RunOutcome::FailedPermanent,
                    0,
                    msg,
                    started,
                    clock,
                    Some(&err),
                );
                if let Err(e) = self.ops.record_run(&run).await {
                    tracing::warn!(error = %e, "run record not written");
                }
                return Disposition::Dead {
                    code: err.code().to_owned(),
                    reason: err.to_string(),
                };
            }
        };

        match self
            .run_handler(event, msg.receive_count, clock + budget, stop)
            .await
        {
            Ran::Ok(outcome, attempts) => {
                let run = self.run_of(
                    event,
                    RunOutcome::Completed,
                    attempts,
                    msg,
                    started,
                    clock,
                    None,
                );
                self.finish_completed(&key, &claim_id, &outcome, &run).await;
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        duration_ms: ms(clock),
                        completed: true,
                        attempts,
                        ..Default::default()
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
                let last = msg.receive_count >= self.config.max_receive_count;
                let outcome = if err.is_permanent() {
                    RunOutcome::FailedPermanent
                } else {
                    RunOutcome::FailedRetryable
                };
                let run = self.run_of(event, outcome, attempts, msg, started, clock, Some(&err));
                if let Err(e) = self.ops.release(self.worker(), &key, &claim_id, &run).await {
                    tracing::warn!(error = %e, "claim not released; it expires on its own");
                }
                emf::emit(
                    self.worker(),
                    &JobMetrics {
                        duration_ms: ms(clock),
                        failed: true,
                        attempts,
                        ..Default::default()
                    },
                );
                if err.is_permanent() || last {
                    tracing::warn!(error = %err, code = err.code(), attempts, "job failed for good: to the DLQ");
                    if let Some(p) = &self.publisher {
                        p.failed(&self.stats, self.worker(), event, attempts, &err)
                            .await;
                    }
                    let reason = if last && !err.is_permanent() {
                        format!("gave up after {} deliveries: {err}", msg.receive_count)
                    } else {
                        err.to_string()
                    };
                    let code = if last && !err.is_permanent() {
                        "retries_exhausted"
                    } else {
                        err.code()
                    };
                    Disposition::Dead {
                        code: code.to_owned(),
                        reason,
                    }
                } else {
                    let delay = self.config.retry.redelivery_delay(msg.receive_count);
                    tracing::info!(error = %err, ?delay, "job failed; redelivery after a delay");
                    Disposition::Retry { delay }
                }
            }
            Ran::Stopped => {
                let err = JobError::retryable("stopped by shutdown before finishing");
                let run = self.run_of(
                    event,
                    RunOutcome::FailedRetryable,
                    0,
                    msg,
                    started,
                    clock,
                    Some(&err),
                );
                if let Err(e) = self.ops.release(self.worker(), &key, &claim_id, &run).await {
                    tracing::warn!(error = %e, "claim not released; it expires on its own");
                }
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
            let ctx = JobCtx {
                worker: self.config.worker,
                attempt,
                receive_count,
                deadline,
            };
            let work = AssertUnwindSafe(self.handler.handle(event, &ctx)).catch_unwind();
            let result = tokio::select! {
                r = tokio::time::timeout(ctx.time_left(), work) => r,
                _ = stopped(&mut stop) => return Ran::Stopped,
            };
            let err = match result {
                Ok(Ok(Ok(outcome))) => return Ran::Ok(outcome, attempt),
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
    ) {
        let mut delays = self.config.retry.delays();
        loop {
            match self
                .ops
                .complete(self.worker(), key, claim_id, outcome, run)
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

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        event_id: &str,
        kind: &str,
        requested_by: &str,
        outcome: RunOutcome,
        attempts: u32,
        msg: &Delivered<'_>,
        started: DateTime<Utc>,
        clock: Instant,
        err: Option<&JobError>,
    ) -> RunRecord {
        RunRecord {
            worker: self.worker().to_owned(),
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
            outcome,
            attempts,
            receive_count: msg.receive_count,
            duration_ms: clock.elapsed().as_millis() as u64,
            started_at: started,
            finished_at: Utc::now(),
            error_code: err.map(|e| e.code().to_owned()),
            error: err.map(ToString::to_string),
            requested_by: requested_by.to_owned(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_of(
        &self,
        event: &Event,
        outcome: RunOutcome,
        attempts: u32,
        msg: &Delivered<'_>,
        started: DateTime<Utc>,
        clock: Instant,
        err: Option<&JobError>,
    ) -> RunRecord {
        let id = event.meta.id.to_string();
        self.run(
            &id,
            event.meta.kind.detail_type(),
            &event.meta.requested_by,
            outcome,
            attempts,
            msg,
            started,
            clock,
            err,
        )
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

fn ms(clock: Instant) -> f64 {
    clock.elapsed().as_secs_f64() * 1000.0
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
