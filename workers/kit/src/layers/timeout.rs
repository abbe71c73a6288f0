//! The job's deadline (its timeout, or the Lambda's remaining time): an attempt still running
//! then is stopped, a transient error (the retry layer has no time left to retry it). The wait
//! for the services under it to be ready (a limit in a crate's layer) counts too: this layer
//! is always ready and waits for them inside the attempt's time.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::Attempt;
use crate::error::JobError;

/// Stops an attempt at its context's deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline(inner)
    }
}

/// See [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S>(S);

impl<S, E> Service<Attempt<E>> for Deadline<S>
where
    S: Service<Attempt<E>, Error = JobError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = JobError;
    type Future = BoxFuture<'static, Result<S::Response, JobError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), JobError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Attempt<E>) -> Self::Future {
        let left = req.ctx.time_left();
        let work = super::call(self.0.clone(), req);
        Box::pin(async move {
            tokio::time::timeout(left, work).await.unwrap_or_else(|_| {
                Err(JobError::transient(
                    "the job ran out of time (job timeout or Lambda remaining time)",
                ))
            })
        })
    }
}
