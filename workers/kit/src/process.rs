//! Processing one delivered message, the same for both drivers: decode, claim, run the
//! handler with in-process retries, complete or release, record the run, emit metrics and
//! outcome events, and say what the driver must do with the message.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backon::Retryable;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::Instrument;

use crate::batching::OpsBatches;
use crate::config::WorkerConfig;
use crate::emf::{self, JobMetrics};
use crate::error::JobError;
use crate::event::{Completed, Delivery, EventMeta, Failed, JobEvent};
use crate::job::{Handler, Idempotency, JobCtx, Outcome};
use crate::layers::{Attempt, JobService};
use crate::lease::Leases;
pub use crate::message::Delivered;
use crate::ops::{
    Claim, ClaimRequest, Completion, CompletionRequest, Holder, OpsTable, RunOutcome, RunRecord,
};
use crate::outcome::Publisher;
use aws_sdk_dynamodb::types::TransactWriteItem;

mod claim_first;
mod finish;
mod optimistic;
mod redelivery;
mod retry;

use redelivery::dead;

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
pub struct Runtime<H: Handler> {
    /// The job logic.
    pub handler: Arc<H>,
    /// The handler with the crate's own layers ([`Runtime::layer`]).
    pub(crate) inner: JobService<H::Event>,
    /// `inner` in the kit's layers: what every job runs ([`crate::layers`]).
    pub(crate) stack: JobService<H::Event>,
    /// The worker's settings.
    pub config: WorkerConfig,
    /// Idempotency claims and run records.
    pub ops: OpsTable,
    /// Client for the worker's queue and DLQ.
    pub sqs: aws_sdk_sqs::Client,
    /// Sends outcome events; `None` when no bus is configured.
    pub publisher: Option<Publisher>,
    /// Keeps running jobs' claims alive.
    pub leases: Leases,
    /// Claims and completions of jobs running together, batched.
    pub(crate) batches: OpsBatches,
    /// Commits an optimistic job may leave pending when it gives its slot back: so many, and
    /// the next one holds its slot through its commit.
    pub(crate) commit_room: std::sync::Arc<tokio::sync::Semaphore>,
}

/// How much longer than the job's budget a claim lasts (the lease extends it while the job runs).
const CLAIM_GRACE: Duration = Duration::from_secs(5);
/// SQS' longest visibility timeout.
const MAX_VISIBILITY_DELAY: Duration = Duration::from_secs(12 * 3600);
/// The code of a message delivered more often than the kit's limit.
pub const DELIVERY_LIMIT: &str = "delivery_limit";

/// The key completed with another payload (both modes): refused for good.
fn conflict(key: &str) -> JobError {
    JobError::permanent(
        "idempotency_conflict",
        format!(
            "idempotency key `{key}` already completed with a different payload; publish a new event (new id) instead of reusing one"
        ),
    )
}

/// A staged write's own condition refused the commit (both modes): nothing was written.
fn staged_refused() -> JobError {
    JobError::retryable(
        "a staged write's own condition failed: nothing was committed; the job runs again",
    )
}

/// The shutdown's grace ran out before the job was done (both modes).
fn stopped_by_shutdown() -> JobError {
    JobError::retryable("stopped by shutdown before finishing")
}

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
#[derive(Clone, Copy)]
struct Timing<'a> {
    msg: &'a Delivered<'a>,
    started: DateTime<Utc>,
    clock: Instant,
}

impl<'a> Timing<'a> {
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

    /// The job's timing once its slot came: timed from then when it had to wait for it (the
    /// wait is not the job's), else as it was (in Lambda the budget stays the invocation's).
    fn after(&self, turn: crate::slot::Turn) -> Timing<'a> {
        match turn {
            crate::slot::Turn::Waited => Timing {
                msg: self.msg,
                started: Utc::now(),
                clock: Instant::now(),
            },
            crate::slot::Turn::Now | crate::slot::Turn::Refused => *self,
        }
    }

    fn metrics(&self) -> JobMetrics {
        JobMetrics {
            duration_ms: self.clock.elapsed().as_secs_f64() * 1000.0,
            ..Default::default()
        }
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

    /// The handler is done: the next job may run while this one commits (with it, batched),
    /// as long as the commits so left pending stay bounded. Hold the answer until the commit
    /// is done.
    fn give_slot_back(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let room = self.commit_room.clone().try_acquire_owned().ok();
        if room.is_some() {
            crate::slot::release();
        }
        room
    }

    /// Shutdown came before the job's turn: its message is released at once for another
    /// worker (nothing ran).
    fn not_started(&self) -> Disposition {
        tracing::info!("shutdown before the job's turn: released for another worker");
        Disposition::Retry {
            delay: Duration::ZERO,
        }
    }

    /// Processes one message within `budget` (the Lambda's remaining time or the job timeout).
    pub async fn process(&self, msg: &Delivered<'_>, budget: Duration, stop: &Stop) -> Disposition {
        let t = Timing {
            msg,
            started: Utc::now(),
            clock: Instant::now(),
        };
        let delivery = Delivery {
            message_id: Some(msg.message_id),
            sent_at: msg.sent_at,
        };
        let event = match H::Event::decode(msg.body, &delivery) {
            Ok(e) => Arc::new(e),
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
        let key = self.handler.idempotency_key(&event);
        let job = async {
            match self.handler.idempotency() {
                Idempotency::ClaimFirst => {
                    self.claim_first(&event, &meta, &t, budget, stop, key).await
                }
                Idempotency::Optimistic => {
                    self.optimistic(&event, &meta, &t, budget, stop, key).await
                }
            }
        };
        job.instrument(span).await
    }
}
