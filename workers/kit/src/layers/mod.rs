//! The job pipeline as a stack of tower layers, one concern per file. A message goes down
//! through the job layers once, and through the handler's layers once per attempt:
//!
//! ```text
//! metrics (one EMF line per job, from what happened to it)           metrics.rs
//!   decode (the event; undecodable: the DLQ with its reason)          decode.rs
//!     outcome events (completed, or failed for good, on the bus)      outcome.rs
//!       idempotency (claim-first or optimistic, batched)              idempotency.rs
//!         retry (transient errors, in process, within the deadline)   retry.rs
//!           timeout (the job's deadline: its timeout or the Lambda's)  timeout.rs
//!             panic catch (a panic is a retryable error)               panic.rs
//!               staged writes (at most MAX_STAGED per job)             staged.rs
//!                 your layers (Runtime::layer), outermost added last
//!                   the handler                                        HandlerService
//! ```
//!
//! The job layers answer a [`Finished`](crate::process::Finished): the driver's disposition
//! and a [`Report`](crate::process::Report) of what happened, which the metrics and
//! outcome-event layers read on the way up. The handler's layers are a [`tower::Layer`] over a
//! [`tower::Service`] of one [`Attempt`], answering an [`Outcome`] or a [`JobError`]. A crate's
//! own layers ([`crate::Runtime::layer`]) sit between the kit's and the handler: the kit's
//! retries, timeout and panic catch cover them too, and they see every attempt. The
//! idempotency layer's claims and commits go through one batcher shared by the jobs of a
//! receive (`batching.rs`), so each job's layers stay per job while their DynamoDB calls are
//! shared; what the driver then does with the message is `settle.rs`.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::util::BoxCloneSyncService;

use crate::error::JobError;
use crate::job::{Handler, JobCtx, Outcome};

mod decode;
mod idempotency;
mod metrics;
mod outcome;
mod panic;
mod retry;
mod staged;
mod timeout;

pub use decode::{Decode, DecodeLayer};
pub use idempotency::Idempotent;
pub use metrics::{Metrics, MetricsLayer, metrics};
pub use outcome::{Announce, OutcomeLayer};

pub use panic::{CatchPanic, CatchPanicLayer};
pub use retry::{Retry, RetryLayer};
pub use staged::{StagedLimit, StagedLimitLayer};
pub use timeout::{Deadline, DeadlineLayer};
/// tower's traits, as the kit uses them (a crate's layers need no tower of their own).
pub use tower::{Layer, Service};

/// One attempt of a job: the decoded event and this attempt's context (its number, deadline,
/// staged writes).
#[derive(Debug)]
pub struct Attempt<E> {
    /// The job's event, shared by its attempts.
    pub event: Arc<E>,
    /// This attempt's context.
    pub ctx: JobCtx,
}

impl<E> Clone for Attempt<E> {
    fn clone(&self) -> Self {
        Attempt {
            event: self.event.clone(),
            ctx: self.ctx.clone(),
        }
    }
}

/// A job stack, boxed: what [`crate::Runtime::layer`] wraps and the runtime calls.
pub type JobService<E> = BoxCloneSyncService<Attempt<E>, Outcome, JobError>;

/// The handler as the innermost service of the stack.
#[derive(Debug)]
pub struct HandlerService<H>(pub Arc<H>);

impl<H> Clone for HandlerService<H> {
    fn clone(&self) -> Self {
        HandlerService(self.0.clone())
    }
}

impl<H: Handler> Service<Attempt<H::Event>> for HandlerService<H> {
    type Response = Outcome;
    type Error = JobError;
    type Future = BoxFuture<'static, Result<Outcome, JobError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), JobError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Attempt<H::Event>) -> Self::Future {
        let handler = self.0.clone();
        Box::pin(async move { handler.handle(&req.event, &req.ctx).await })
    }
}

/// The kit's layers around `inner` (the handler with the crate's own layers), outermost first:
/// retry, timeout, panic catch, staged-write limit.
pub fn kit_stack<E: Send + Sync + 'static>(
    inner: JobService<E>,
    retry: crate::RetryPolicy,
) -> JobService<E> {
    let stack = tower::ServiceBuilder::new()
        .layer(RetryLayer::new(retry))
        .layer(DeadlineLayer)
        .layer(CatchPanicLayer)
        .layer(StagedLimitLayer)
        .service(inner);
    BoxCloneSyncService::new(stack)
}

/// Calls `svc` once it is ready.
pub(crate) async fn call<S, R>(mut svc: S, req: R) -> Result<S::Response, S::Error>
where
    S: Service<R>,
{
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(req).await
}

#[cfg(test)]
mod tests;
