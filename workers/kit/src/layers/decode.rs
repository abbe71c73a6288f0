//! The message's event, decoded by the worker's event type: an undecodable message goes to
//! the DLQ with its reason (and a run record), and nothing under this layer runs. A decoded
//! job gets its idempotency key and mode from the handler and runs in its own tracing span.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::error::JobError;
use crate::event::{Delivery, JobEvent};
use crate::job::Handler;
use crate::ops::RunOutcome;
use crate::process::{Core, Decoded, Finished, Message, Report, Timing};

/// Decodes the message for the layers under it.
#[derive(Debug)]
pub struct DecodeLayer<H> {
    handler: Arc<H>,
    core: Arc<Core>,
}

impl<H> DecodeLayer<H> {
    /// Decodes `handler`'s events; run records of undecodable messages go to `core`'s ops table.
    pub fn new(handler: Arc<H>, core: Arc<Core>) -> Self {
        DecodeLayer { handler, core }
    }
}

impl<H, S> Layer<S> for DecodeLayer<H> {
    type Service = Decode<H, S>;
    fn layer(&self, inner: S) -> Decode<H, S> {
        Decode {
            handler: self.handler.clone(),
            core: self.core.clone(),
            inner,
        }
    }
}

/// See [`DecodeLayer`].
#[derive(Debug)]
pub struct Decode<H, S> {
    handler: Arc<H>,
    core: Arc<Core>,
    inner: S,
}

impl<'a, H, S> Service<Message<'a>> for Decode<H, S>
where
    H: Handler,
    S: Service<Decoded<'a, H::Event>, Response = Finished, Error = Infallible> + Clone + Send + 'a,
    S::Future: Send + 'a,
{
    type Response = Finished;
    type Error = Infallible;
    type Future = BoxFuture<'a, Result<Finished, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, m: Message<'a>) -> Self::Future {
        let (handler, core, inner) = (self.handler.clone(), self.core.clone(), self.inner.clone());
        Box::pin(async move {
            let t = Timing::now(m.msg);
            let delivery = Delivery {
                message_id: Some(m.msg.message_id),
                sent_at: m.msg.sent_at,
            };
            let event = match H::Event::decode(m.msg.body, &delivery) {
                Ok(e) => Arc::new(e),
                Err(e) => return Ok(undecodable(&core, &t, e).await),
            };
            let meta = event.meta();
            let span = tracing::info_span!("job", worker = core.worker(), message_id = m.msg.message_id, event_id = %meta.id, kind = %meta.kind);
            let job = Decoded {
                key: handler.idempotency_key(&event),
                mode: handler.idempotency(),
                event,
                meta,
                budget: m.budget,
                stop: m.stop,
                t,
            };
            let work: BoxFuture<'a, Result<Finished, Infallible>> =
                Box::pin(super::call(inner, job));
            work.instrument(span).await
        })
    }
}

/// Not an event of this worker's: a run record, and the DLQ with the decoder's reason.
async fn undecodable(core: &Core, t: &Timing<'_>, e: JobError) -> Finished {
    tracing::warn!(message_id = t.msg.message_id, code = e.code(), error = %e, "undecodable message: to the DLQ");
    let err = if e.is_permanent() {
        e
    } else {
        JobError::permanent("undecodable", e.to_string())
    };
    core.record(&t.run(
        core.worker(),
        None,
        RunOutcome::FailedPermanent,
        0,
        Some(&err),
    ))
    .await;
    Finished::new(
        crate::process::dead(&err),
        Report::Undecodable {
            elapsed: t.clock.elapsed(),
        },
    )
}
