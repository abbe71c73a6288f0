//! One EMF metric line per job ([`crate::emf`]), from what happened to it: completed (with its
//! attempts), failed (not when a shutdown stopped it), replayed, or undecodable (a failure).
//! A job decided without its handler (a busy claim, say) emits none. Each line carries the
//! job's cost as its ledger has it then ([`crate::cost`]).

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::emf::{self, JobMetrics};
use crate::process::{Finished, Message, Report};

/// Emits each job's metrics once the layers under it are done.
#[derive(Debug, Clone, Copy)]
pub struct MetricsLayer {
    worker: &'static str,
}

impl MetricsLayer {
    /// Metrics of `worker`'s jobs.
    pub fn new(worker: &'static str) -> Self {
        MetricsLayer { worker }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;
    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics {
            worker: self.worker,
            inner,
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct Metrics<S> {
    worker: &'static str,
    inner: S,
}

impl<'a, S> Service<Message<'a>> for Metrics<S>
where
    S: Service<Message<'a>, Response = Finished>,
    S::Future: Send + 'a,
    S::Error: Send + 'a,
{
    type Response = Finished;
    type Error = S::Error;
    type Future = BoxFuture<'a, Result<Finished, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Message<'a>) -> Self::Future {
        let worker = self.worker;
        // Boxed before the block awaits it: the block is then Send for every 'a.
        let work: BoxFuture<'a, Result<Finished, S::Error>> = Box::pin(self.inner.call(req));
        Box::pin(async move {
            let finished = work.await?;
            if let Some(mut m) = metrics(&finished.report) {
                m.cost_usd = crate::cost::for_record(m.duration_ms as u64, 0.0).usd;
                emf::emit(worker, &m);
            }
            Ok(finished)
        })
    }
}

/// The metric line of a job, if it has one.
pub fn metrics(report: &Report) -> Option<JobMetrics> {
    let ms = |d: &std::time::Duration| d.as_secs_f64() * 1000.0;
    Some(match report {
        Report::Completed {
            attempts, elapsed, ..
        } => JobMetrics {
            completed: true,
            attempts: *attempts,
            duration_ms: ms(elapsed),
            ..Default::default()
        },
        Report::Failed {
            attempts,
            stopped: false,
            elapsed,
            ..
        } => JobMetrics {
            failed: true,
            attempts: *attempts,
            duration_ms: ms(elapsed),
            ..Default::default()
        },
        Report::Replayed { elapsed } => JobMetrics {
            replayed: true,
            duration_ms: ms(elapsed),
            ..Default::default()
        },
        Report::Undecodable { elapsed } => JobMetrics {
            failed: true,
            duration_ms: ms(elapsed),
            ..Default::default()
        },
        Report::Failed { stopped: true, .. } | Report::Undecided => return None,
    })
}
