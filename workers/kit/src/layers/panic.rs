//! A panic in the handler (or in a layer under this one) is a retryable error with the panic's
//! message, never a dead worker: the job is retried by redelivery.

use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::Attempt;
use crate::error::JobError;

/// Catches panics of the services under it, in `call` and in its future.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;
    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic(inner)
    }
}

/// See [`CatchPanicLayer`].
#[derive(Debug, Clone)]
pub struct CatchPanic<S>(S);

impl<S, E> Service<Attempt<E>> for CatchPanic<S>
where
    S: Service<Attempt<E>, Error = JobError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = JobError;
    type Future = BoxFuture<'static, Result<S::Response, JobError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), JobError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Attempt<E>) -> Self::Future {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.call(req))) {
            Ok(work) => Box::pin(async move {
                AssertUnwindSafe(work)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|p| Err(panicked(&p)))
            }),
            Err(p) => {
                let err = panicked(&p);
                Box::pin(async move { Err(err) })
            }
        }
    }
}

fn panicked(p: &Box<dyn std::any::Any + Send>) -> JobError {
    JobError::retryable(format!("the handler panicked: {}", panic_message(p)))
}

/// The text of a panic's payload.
pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
