//! The job's deadline (its timeout, or the Lambda's remaining time): an attempt still running
//! then is stopped, a transient error (the retry layer has no time left to retry it).

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
    S: Service<Attempt<E>, Error = JobError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = JobError;
    type Future = BoxFuture<'static, Result<S::Response, JobError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), JobError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Attempt<E>) -> Self::Future {
        let left = req.ctx.time_left();
        let work = self.0.call(req);
        Box::pin(async move {
            tokio::time::timeout(left, work).await.unwrap_or_else(|_| {
                Err(JobError::transient(
                    "the job ran out of time (job timeout or Lambda remaining time)",
                ))
            })
        })
    }
}
