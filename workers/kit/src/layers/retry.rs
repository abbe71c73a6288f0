//! Transient errors retried in process (backon, the worker's [`RetryPolicy`]), never past the
//! job's deadline; every other error, and the last transient one, goes to the runtime, which
//! leaves the message for redelivery or dead-letters it. Each attempt has its own context:
//! its number ([`JobCtx::attempt`](crate::JobCtx::attempt)), nothing staged; the job keeps
//! what the attempt that succeeded staged and summed up.

use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use backon::Retryable;
use futures::future::BoxFuture;
use tower::{Layer, Service};

use super::{Attempt, call};
use crate::backoff::RetryPolicy;
use crate::error::JobError;

/// Retries transient errors of the services under it.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// Retries by `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer { policy }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            policy: self.policy,
        }
    }
}

/// See [`RetryLayer`].
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S, E> Service<Attempt<E>> for Retry<S>
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
        // Each attempt waits for its own clone of the inner service to be ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Attempt<E>) -> Self::Future {
        let inner = self.inner.clone();
        let delays = self.policy.delays();
        Box::pin(async move {
            let deadline: Instant = req.ctx.deadline;
            let attempts = req.ctx.attempts.clone();
            let one = move || {
                let job = req.ctx.clone();
                let ctx = job.for_attempt(job.attempts.fetch_add(1, Ordering::Relaxed) + 1);
                let attempt = Attempt {
                    event: req.event.clone(),
                    ctx: ctx.clone(),
                };
                let work = call(inner.clone(), attempt);
                async move {
                    let answer = work.await;
                    if answer.is_ok() {
                        job.keep(&ctx);
                    }
                    answer
                }
            };
            one.retry(delays)
                .when(JobError::is_transient)
                .adjust(|_, delay| delay.filter(|d| Instant::now() + *d < deadline))
                .notify(|err, delay| {
                    tracing::info!(attempt = attempts.load(Ordering::Relaxed), error = %err, delay_ms = delay.as_millis() as u64, "transient failure; retrying in process");
                })
                .await
        })
    }
}
