//! The handler shape: a worker is a plain async function of its typed event.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::error::JobError;
use crate::event::{EventMeta, JobEvent, WorkerId};

/// What a job reports when it succeeds (stored as the outcome digest, sent in the
/// `stoker.job.completed` event).
pub type Outcome = serde_json::Value;

/// Per-job context the kit hands to a handler.
#[derive(Debug, Clone)]
pub struct JobCtx {
    /// The worker running the job.
    pub worker: WorkerId,
    /// The event's envelope: id, kind, correlation id, time, who asked.
    pub event: EventMeta,
    /// This attempt within the delivery, from 1.
    pub attempt: u32,
    /// How many times SQS has delivered the message, from 1.
    pub receive_count: u32,
    /// The job must be done by then (from the Lambda's remaining time or the job timeout).
    pub deadline: Instant,
    /// DynamoDB writes to commit with the job's completion ([`JobCtx::stage`]).
    pub staged: Arc<Mutex<Vec<TransactWriteItem>>>,
    /// The report's one-line summary, kept with the run record ([`JobCtx::set_summary`]).
    pub summary: Arc<Mutex<Option<String>>>,
    /// How many attempts the job has started (shared by its attempts; the retry layer counts).
    pub(crate) attempts: Arc<std::sync::atomic::AtomicU32>,
}

/// At most this many writes may be staged per job (TransactWriteItems takes 100 items; the
/// completion and its run record take two).
pub const MAX_STAGED: usize = 98;

impl JobCtx {
    /// A context for attempt `attempt` of delivery `receive_count` of the event `event`.
    pub fn new(
        worker: WorkerId,
        event: EventMeta,
        attempt: u32,
        receive_count: u32,
        deadline: Instant,
    ) -> Self {
        JobCtx {
            worker,
            event,
            attempt,
            receive_count,
            deadline,
            staged: Arc::default(),
            summary: Arc::default(),
            attempts: Arc::default(),
        }
    }

    /// Sets what the job did, in one line, for its run record (typed jobs: the kit sets the
    /// report's [`crate::Summary`]).
    pub fn set_summary(&self, line: String) {
        if let Ok(mut s) = self.summary.lock() {
            *s = Some(line);
        }
    }

    /// The summary, taken.
    pub fn take_summary(&self) -> Option<String> {
        self.summary.lock().ok().and_then(|mut s| s.take())
    }

    /// Time until the deadline; zero once it has passed.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Stages a DynamoDB write to be committed in the same transaction as the job's completion:
    /// it happens exactly once, or not at all when the job fails, times out, or its worker dies
    /// before completing (the retry stages its own). A staged write whose own condition fails
    /// cancels the completion: the claim is released and the job is redelivered. At most
    /// [`MAX_STAGED`] per job.
    pub fn stage(&self, write: TransactWriteItem) {
        if let Ok(mut staged) = self.staged.lock() {
            staged.push(write);
        }
    }

    /// A context for attempt `n` of the same job: nothing staged, no summary (what an earlier
    /// attempt, or a task it left running, staged is not this attempt's).
    pub(crate) fn for_attempt(&self, n: u32) -> JobCtx {
        JobCtx {
            attempt: n,
            staged: Arc::default(),
            summary: Arc::default(),
            ..self.clone()
        }
    }

    /// Keeps what `attempt` staged and summed up, as the job's.
    pub(crate) fn keep(&self, attempt: &JobCtx) {
        if let Ok(mut staged) = self.staged.lock() {
            *staged = attempt.take_staged();
        }
        if let Ok(mut summary) = self.summary.lock() {
            *summary = attempt.take_summary();
        }
    }

    /// How many writes this attempt has staged so far.
    pub fn staged_count(&self) -> usize {
        self.staged.lock().map(|s| s.len()).unwrap_or_default()
    }

    /// The staged writes, taken.
    pub fn take_staged(&self) -> Vec<TransactWriteItem> {
        self.staged
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

/// How the kit keeps a job's effect to once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Idempotency {
    /// Claim the job in the ops table before it runs, complete the claim after: for jobs with
    /// effects outside DynamoDB (an API call, a Lambda invocation, an S3 object). A duplicate
    /// waits while the job runs and replays once it completed. Two ops-table writes per job
    /// (shared with the jobs running alongside).
    #[default]
    ClaimFirst,
    /// No claim: run the job, then commit its staged writes with its completion, conditioned
    /// on the job not having completed. Only for jobs whose every effect is staged
    /// ([`JobCtx::stage`]): a duplicate may run at the same time, but only one commits; the
    /// other finds it completed and replays. One ops-table write per job (shared).
    Optimistic,
}

/// A worker's job logic. Shared resources (SDK clients, config) live in the implementing
/// struct, built once at start-up.
pub trait Handler: Send + Sync + 'static {
    /// The event type its queue carries.
    type Event: JobEvent;

    /// The worker this handler is.
    fn worker(&self) -> WorkerId;

    /// The idempotency key of an event: its id unless the payload declares a better one.
    fn idempotency_key(&self, event: &Self::Event) -> String {
        event.meta().id
    }

    /// How the job's effect is kept to once ([`Idempotency::ClaimFirst`] unless declared).
    fn idempotency(&self) -> Idempotency {
        Idempotency::ClaimFirst
    }

    /// Does the job. Must be safe to call again after a retryable error.
    fn handle(
        &self,
        event: &Self::Event,
        ctx: &JobCtx,
    ) -> impl Future<Output = Result<Outcome, JobError>> + Send;
}

/// A [`Handler`] from a plain async function of an event of type `E`.
///
/// ```
/// # #[cfg(feature = "stoker")] {
/// use stoker_kit::{handler_fn, JobError, Outcome};
/// use stoker_events::{Body, Event, Worker};
///
/// async fn warm(event: Event) -> Result<Outcome, JobError> {
///     match &event.body {
///         Body::Warmup(req) => Ok(serde_json::json!({ "targets": req.targets.len() })),
///         other => Err(JobError::permanent("wrong_kind", format!("warmup cannot handle {}", other.kind()))),
///     }
/// }
/// let handler = handler_fn(Worker::Warmup, |event: Event, _ctx| warm(event));
/// // The function gets its own copy of the event and context, so it may hold them across awaits.
/// # let _ = handler;
/// # }
/// ```
pub fn handler_fn<E, F, Fut>(worker: impl Into<WorkerId>, f: F) -> FnHandler<E, F>
where
    E: JobEvent + Clone,
    F: Fn(E, JobCtx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, JobError>> + Send,
{
    FnHandler {
        worker: worker.into(),
        f,
        event: PhantomData,
    }
}

/// See [`handler_fn`].
pub struct FnHandler<E, F> {
    worker: WorkerId,
    f: F,
    event: PhantomData<fn(E)>,
}

impl<E, F> std::fmt::Debug for FnHandler<E, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnHandler")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl<E, F, Fut> Handler for FnHandler<E, F>
where
    E: JobEvent + Clone,
    F: Fn(E, JobCtx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, JobError>> + Send,
{
    type Event = E;

    fn worker(&self) -> WorkerId {
        self.worker
    }

    fn handle(
        &self,
        event: &E,
        ctx: &JobCtx,
    ) -> impl Future<Output = Result<Outcome, JobError>> + Send {
        (self.f)(event.clone(), ctx.clone())
    }
}
