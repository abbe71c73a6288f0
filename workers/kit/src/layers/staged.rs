//! A job commits its staged writes with its completion in one transaction (at most 100
//! items): an attempt that staged more than `MAX_STAGED` fails for good, before anything is
//! committed.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::Attempt;
use crate::error::JobError;
use crate::job::MAX_STAGED;

/// Refuses an attempt that staged more than [`MAX_STAGED`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StagedLimitLayer;

impl<S> Layer<S> for StagedLimitLayer {
    type Service = StagedLimit<S>;
    fn layer(&self, inner: S) -> StagedLimit<S> {
        StagedLimit(inner)
    }
}

/// See [`StagedLimitLayer`].
#[derive(Debug, Clone)]
pub struct StagedLimit<S>(S);

impl<S, E> Service<Attempt<E>> for StagedLimit<S>
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
        let ctx = req.ctx.clone();
        let work = self.0.call(req);
        Box::pin(async move {
            let outcome = work.await?;
            let staged = ctx.staged_count();
            if staged > MAX_STAGED {
                return Err(JobError::permanent(
                    "too_many_staged_writes",
                    format!(
                        "the handler staged {staged} writes; a job may stage at most {MAX_STAGED} (write the rest itself, idempotently)"
                    ),
                ));
            }
            Ok(outcome)
        })
    }
}
