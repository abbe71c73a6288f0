//! Calls of jobs running together, made as one: each job asks for its own answer, and the
//! requests that arrive within a short linger (or while the previous batch is being sent) go
//! out in one batch. The ops table's claims and completions go through it
//! ([`crate::ops::OpsTable::claim_all`], [`crate::ops::OpsTable::complete_all`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

type Batch<Req, Resp> =
    Arc<dyn Fn(Vec<Req>) -> Pin<Box<dyn Future<Output = Vec<Resp>> + Send>> + Send + Sync>;

/// Sends requests in batches of at most `max`, each opened by its first request and closed
/// after `linger` or when full. Batches are sent concurrently.
pub struct Coalescer<Req, Resp> {
    tx: mpsc::UnboundedSender<(Req, oneshot::Sender<Resp>)>,
}

impl<Req, Resp> std::fmt::Debug for Coalescer<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Coalescer<Req, Resp> {
    /// Starts the batching task on the current tokio runtime; `None` outside one.
    pub fn start<F, Fut>(max: usize, linger: Duration, send: F) -> Option<Self>
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Resp>> + Send + 'static,
    {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let send: Batch<Req, Resp> = Arc::new(move |reqs| Box::pin(send(reqs)));
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(batches(rx, max.max(1), linger, send));
        Some(Coalescer { tx })
    }

    /// The answer to `req`, sent in a batch; `Err(req)` when the batching task is gone (its
    /// runtime ended): the caller sends it on its own.
    pub async fn call(&self, req: Req) -> Result<Resp, Option<Req>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((req, tx)).map_err(|e| Some(e.0.0))?;
        rx.await.map_err(|_| None)
    }
}

async fn batches<Req: Send + 'static, Resp: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<(Req, oneshot::Sender<Resp>)>,
    max: usize,
    linger: Duration,
    send: Batch<Req, Resp>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let closes = tokio::time::Instant::now() + linger;
        while batch.len() < max {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if linger.is_zero() {
                        break;
                    }
                    match tokio::time::timeout_at(closes, rx.recv()).await {
                        Ok(Some(next)) => batch.push(next),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        let (reqs, answers): (Vec<Req>, Vec<oneshot::Sender<Resp>>) = batch.into_iter().unzip();
        let send = send.clone();
        tokio::spawn(async move {
            let out = send(reqs).await;
            for (answer, resp) in answers.into_iter().zip(out) {
                let _ = answer.send(resp);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn requests_arriving_together_go_out_in_one_batch_and_each_gets_its_answer() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let c = Coalescer::start(10, Duration::from_millis(20), move |reqs: Vec<u32>| {
            seen.lock().expect("lock").push(reqs.len());
            async move { reqs.into_iter().map(|r| r * 2).collect::<Vec<_>>() }
        })
        .expect("in a runtime");
        let c = Arc::new(c);
        let calls = (0..25u32).map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.call(i).await.ok() })
        });
        let out: Vec<Option<u32>> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect();
        assert_eq!(out, (0..25).map(|i| Some(i * 2)).collect::<Vec<_>>());
        let sizes = sizes.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 25);
        assert!(sizes.iter().all(|s| *s <= 10), "{sizes:?}");
        assert!(
            sizes.len() <= 4,
            "25 requests at once in at most 4 batches: {sizes:?}"
        );
    }

    #[test]
    fn outside_a_runtime_there_is_no_coalescer() {
        assert!(Coalescer::<u32, u32>::start(10, Duration::ZERO, |r| async move { r }).is_none());
    }
}
