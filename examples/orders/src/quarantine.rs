//! A layer of this crate's own around the job ([`stoker_kit::Runtime::layer`]): orders an
//! operator quarantined are refused for good, without running the job. Their events go to the
//! DLQ with the code `quarantined` and their reason; their batch-mates run as usual. The
//! binary reads the list from `ORDERS_QUARANTINE` (order ids, comma-separated).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use stoker_kit::layers::{Attempt, Layer, Service};
use stoker_kit::{JobError, Outcome};

use crate::event::{OrderBody, OrderEvent};

/// Refuses the quarantined orders' events.
#[derive(Debug, Clone, Default)]
pub struct QuarantineLayer {
    orders: Arc<HashSet<String>>,
}

impl QuarantineLayer {
    /// Quarantines these order ids.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(orders: I) -> Self {
        QuarantineLayer {
            orders: Arc::new(orders.into_iter().map(Into::into).collect()),
        }
    }

    /// The ids in `ORDERS_QUARANTINE` (comma-separated; blanks ignored).
    pub fn from_list(list: &str) -> Self {
        Self::new(list.split(',').map(str::trim).filter(|s| !s.is_empty()))
    }
}

impl<S> Layer<S> for QuarantineLayer {
    type Service = Quarantine<S>;
    fn layer(&self, inner: S) -> Quarantine<S> {
        Quarantine {
            inner,
            orders: self.orders.clone(),
        }
    }
}

/// See [`QuarantineLayer`].
#[derive(Debug, Clone)]
pub struct Quarantine<S> {
    inner: S,
    orders: Arc<HashSet<String>>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Outcome, JobError>> + Send>>;

impl<S> Service<Attempt<OrderEvent>> for Quarantine<S>
where
    S: Service<Attempt<OrderEvent>, Response = Outcome, Error = JobError>,
    S::Future: Send + 'static,
{
    type Response = Outcome;
    type Error = JobError;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), JobError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Attempt<OrderEvent>) -> Answer {
        let order = match &req.event.body {
            OrderBody::Placed(p) => Some(&p.order_id),
            OrderBody::Cancelled(c) => Some(&c.order_id),
        };
        if let Some(order) = order.filter(|o| self.orders.contains(*o)) {
            let err = JobError::permanent(
                "quarantined",
                format!(
                    "order {order} is quarantined (ORDERS_QUARANTINE): not recorded; take it out of the list and redrive the DLQ to record it"
                ),
            );
            return Box::pin(async move { Err(err) });
        }
        Box::pin(self.inner.call(req))
    }
}
