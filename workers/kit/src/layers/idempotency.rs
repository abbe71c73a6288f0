//! Idempotency, the job's mode's way: claim-first (claim, run, complete or release) or
//! optimistic (run, then commit conditioned on "not completed"), batched with the jobs
//! running alongside (`process/claim_first.rs`, `process/optimistic.rs`). Under it, the
//! handler's stack.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::Service;

use super::JobService;
use crate::event::JobEvent;
use crate::process::{Core, Decoded, Finished};

/// Runs a decoded job with its idempotency around the handler's stack.
#[derive(Debug)]
pub struct Idempotent<E> {
    core: Arc<Core>,
    stack: JobService<E>,
}

impl<E> Clone for Idempotent<E> {
    fn clone(&self) -> Self {
        Idempotent {
            core: self.core.clone(),
            stack: self.stack.clone(),
        }
    }
}

impl<E> Idempotent<E> {
    /// `stack` (the handler in its layers) with `core`'s claims and commits.
    pub fn new(core: Arc<Core>, stack: JobService<E>) -> Self {
        Idempotent { core, stack }
    }
}

impl<'a, E: JobEvent> Service<Decoded<'a, E>> for Idempotent<E> {
    type Response = Finished;
    type Error = Infallible;
    type Future = BoxFuture<'a, Result<Finished, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, job: Decoded<'a, E>) -> Self::Future {
        let (core, stack) = (self.core.clone(), self.stack.clone());
        Box::pin(async move { Ok(core.settle_job(&stack, &job).await) })
    }
}
