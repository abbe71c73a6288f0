//! The outcome event of a job that completed, or failed for good, on the worker's bus
//! ([`crate::outcome`]), as the event type words it ([`JobEvent::completed`],
//! [`JobEvent::failed`]); nothing when no bus is configured. Sent before the driver deletes
//! the message.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::event::{Completed, Failed, JobEvent};
use crate::process::{Core, Decoded, Finished, Report};

/// Announces the jobs the layers under it finished.
#[derive(Debug, Clone)]
pub struct OutcomeLayer {
    core: Arc<Core>,
}

impl OutcomeLayer {
    /// Announces on `core`'s publisher, when it has one.
    pub fn new(core: Arc<Core>) -> Self {
        OutcomeLayer { core }
    }
}

impl<S> Layer<S> for OutcomeLayer {
    type Service = Announce<S>;
    fn layer(&self, inner: S) -> Announce<S> {
        Announce {
            core: self.core.clone(),
            inner,
        }
    }
}

/// See [`OutcomeLayer`].
#[derive(Debug, Clone)]
pub struct Announce<S> {
    core: Arc<Core>,
    inner: S,
}

impl<'a, E, S> Service<Decoded<'a, E>> for Announce<S>
where
    E: JobEvent,
    S: Service<Decoded<'a, E>, Response = Finished, Error = Infallible>,
    S::Future: Send + 'a,
{
    type Response = Finished;
    type Error = Infallible;
    type Future = BoxFuture<'a, Result<Finished, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, job: Decoded<'a, E>) -> Self::Future {
        let core = self.core.clone();
        let event = job.event.clone();
        // Boxed before the block awaits it: the block is then Send for every 'a.
        let work: BoxFuture<'a, Result<Finished, Infallible>> = Box::pin(self.inner.call(job));
        Box::pin(async move {
            let finished = work.await?;
            let Some(publisher) = &core.publisher else {
                return Ok(finished);
            };
            let worker = core.worker();
            let announcement = match &finished.report {
                Report::Completed {
                    attempts,
                    outcome,
                    duration_ms,
                    ..
                } => event.completed(&Completed {
                    worker,
                    attempts: *attempts,
                    duration_ms: *duration_ms,
                    report: outcome,
                }),
                Report::Failed {
                    attempts,
                    error,
                    for_good: true,
                    ..
                } => event.failed(&Failed {
                    worker,
                    attempts: *attempts,
                    error,
                }),
                _ => None,
            };
            publisher.announce(announcement).await;
            Ok(finished)
        })
    }
}
