//! Processing one delivered message, the same for both drivers, as a stack of job layers
//! ([`crate::layers`]): metrics, decode, outcome events, idempotency (claim-first or
//! optimistic: this module's files), then the handler's own stack. The answer is what the
//! driver must do with the message.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backon::Retryable;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::batching::OpsBatches;
use crate::config::WorkerConfig;
use crate::error::JobError;
use crate::event::{EventMeta, JobEvent};
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

pub(crate) use redelivery::dead;

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

/// What every job of a worker shares: its settings and clients. A [`Runtime`] derefs to it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Core {
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

/// A handler with everything it runs with. Built once ([`crate::runtime`]); shared by every
/// job.
#[derive(Debug)]
#[non_exhaustive]
pub struct Runtime<H: Handler> {
    /// The job logic.
    pub handler: Arc<H>,
    /// The settings and clients its jobs share.
    pub core: Arc<Core>,
    /// The handler with the crate's own layers ([`Runtime::layer`]).
    pub(crate) inner: JobService<H::Event>,
    /// `inner` in the kit's layers: what every job runs ([`crate::layers`]).
    pub(crate) stack: JobService<H::Event>,
}

impl<H: Handler> std::ops::Deref for Runtime<H> {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing<'a> {
    pub(crate) msg: &'a Delivered<'a>,
    pub(crate) started: DateTime<Utc>,
    pub(crate) clock: Instant,
}

impl<'a> Timing<'a> {
    /// Starts timing a message's job now.
    pub(crate) fn now(msg: &'a Delivered<'a>) -> Self {
        Timing {
            msg,
            started: Utc::now(),
            clock: Instant::now(),
        }
    }

    pub(crate) fn run(
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
            cost: None,
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
}

/// A delivered message for the job stack, with its budget (the Lambda's remaining time or the
/// job timeout) and the shutdown signal.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The message and its delivery facts.
    pub msg: &'a Delivered<'a>,
    /// How long its job may take.
    pub budget: Duration,
    /// Raised at the end of a graceful shutdown.
    pub stop: &'a Stop,
}

/// A decoded job, for the layers under the decoder.
#[derive(Debug)]
pub struct Decoded<'a, E> {
    /// The event, shared with the handler's attempts.
    pub event: Arc<E>,
    /// Its envelope.
    pub meta: EventMeta,
    /// Its idempotency key.
    pub key: String,
    /// Claim-first or optimistic.
    pub mode: Idempotency,
    /// How long it may take.
    pub budget: Duration,
    /// Raised at the end of a graceful shutdown.
    pub stop: &'a Stop,
    pub(crate) t: Timing<'a>,
}

/// What a job's layers answer: the driver's disposition, and what happened, for the metrics
/// and outcome-event layers.
#[derive(Debug)]
pub struct Finished {
    /// What the driver does with the message.
    pub disposition: Disposition,
    /// What happened to the job.
    pub report: Report,
    /// A job that gave its slot back before its commit holds a place among the pending
    /// commits until all its layers are done.
    room: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Finished {
    /// Finished with `report`.
    pub fn new(disposition: Disposition, report: Report) -> Self {
        Finished {
            disposition,
            report,
            room: None,
        }
    }

    fn with_room(mut self, room: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        self.room = room;
        self
    }
}

/// What happened to a job, as the metrics and outcome-event layers see it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Report {
    /// Its handler succeeded and its completion committed.
    Completed {
        /// Handler attempts in this delivery.
        attempts: u32,
        /// The handler's report.
        outcome: Outcome,
        /// The run's duration, as its run record has it.
        duration_ms: u64,
        /// Since the job started, when it was settled.
        elapsed: Duration,
    },
    /// It failed on this delivery.
    Failed {
        /// Handler attempts in this delivery.
        attempts: u32,
        /// Why.
        error: JobError,
        /// For good: no redelivery follows (the DLQ).
        for_good: bool,
        /// Stopped by the shutdown (not the job's failure: no metric).
        stopped: bool,
        /// Since the job started, when it was settled.
        elapsed: Duration,
    },
    /// A duplicate of a completed job.
    Replayed {
        /// Since the job started, when it was settled.
        elapsed: Duration,
    },
    /// The message is not an event of this worker's.
    Undecodable {
        /// Since the job started, when it was settled.
        elapsed: Duration,
    },
    /// Nothing to count or announce yet: decided without the handler (a busy or conflicting
    /// claim, a delivery past the limit, the ops table unavailable, a shutdown before its
    /// turn), or the handler ran but its commit was not confirmed or another holder of the key
    /// took it (the next delivery finds out what happened).
    Undecided,
}

impl From<Disposition> for Finished {
    fn from(disposition: Disposition) -> Self {
        Finished::new(disposition, Report::Undecided)
    }
}

impl Core {
    pub(crate) fn worker(&self) -> &'static str {
        self.config.worker.name()
    }

    /// Writes a run record on its own; a failure is logged, never fails the job.
    pub(crate) async fn record(&self, run: &RunRecord) {
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
    fn not_started(&self) -> Finished {
        tracing::info!("shutdown before the job's turn: released for another worker");
        Disposition::Retry {
            delay: Duration::ZERO,
        }
        .into()
    }

    /// The idempotency part of the pipeline: claim-first or optimistic, around `stack`.
    pub(crate) async fn settle_job<E: JobEvent>(
        &self,
        stack: &JobService<E>,
        job: &Decoded<'_, E>,
    ) -> Finished {
        match job.mode {
            Idempotency::ClaimFirst => self.claim_first(stack, job).await,
            Idempotency::Optimistic => self.optimistic(stack, job).await,
        }
    }
}

impl<H: Handler> Runtime<H> {
    /// Processes one message within `budget` (the Lambda's remaining time or the job timeout):
    /// through the job layers ([`crate::layers`]), outermost first: metrics, decode, outcome
    /// events, idempotency, then the handler's stack. The job runs in its own cost ledger
    /// ([`crate::cost`]).
    pub async fn process(&self, msg: &Delivered<'_>, budget: Duration, stop: &Stop) -> Disposition {
        use crate::layers::{DecodeLayer, Idempotent, MetricsLayer, OutcomeLayer};
        let jobs = tower::ServiceBuilder::new()
            .layer(MetricsLayer::new(self.worker()))
            .layer(DecodeLayer::new(self.handler.clone(), self.core.clone()))
            .layer(OutcomeLayer::new(self.core.clone()))
            .service(Idempotent::new(self.core.clone(), self.stack.clone()));
        let message = Message { msg, budget, stop };
        match crate::cost::scope(crate::layers::call(jobs, message)).await {
            Ok(finished) => finished.disposition,
            Err(never) => match never {},
        }
    }
}
