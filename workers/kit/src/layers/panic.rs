//! A panic in the handler (or in a layer under this one: in its `poll_ready`, its `call` or
//! its future) is a retryable error with the panic's message, never a dead worker: the job is
//! retried by redelivery. This layer is always ready and drives the readiness of the services
//! under it inside the attempt.

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
    S: Service<Attempt<E>, Error = JobError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    E: Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = JobError;
    type Future = BoxFuture<'static, Result<S::Response, JobError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), JobError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Attempt<E>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            // `call` is a future: the inner service's poll_ready, call and future all run in it.
            AssertUnwindSafe(super::call(inner, req))
                .catch_unwind()
                .await
                .unwrap_or_else(|p| Err(panicked(&p)))
        })
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
