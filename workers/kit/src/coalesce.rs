//! Calls of jobs running together, made as one: each job asks for its own answer; the first
//! to ask while no batch is being gathered leads the next batch (it waits `linger` for the
//! jobs alongside, sends up to `max` requests in one call and hands each its answer), then
//! hands the lead to the first request still waiting. No background task: the batch is sent
//! by a caller, on the caller's runtime. The ops table's claims and completions go through it
//! ([`crate::ops::OpsTable::claim_all`], [`crate::ops::OpsTable::complete_all`]). A batch's
//! cost is shared evenly among its jobs' ledgers ([`crate::cost`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

enum Turn<Req, Resp> {
    /// The answer, and this request's share of the batch's cost.
    Answer(Resp, crate::cost::JobCost),
    /// Lead the next batch, with this request of one's own.
    Lead(Req),
}

struct Queue<Req, Resp> {
    waiting: VecDeque<(Req, oneshot::Sender<Turn<Req, Resp>>)>,
    leading: bool,
}

/// Sends requests in batches of at most `max`, each gathered for `linger` after its first.
pub struct Coalescer<Req, Resp> {
    queue: Mutex<Queue<Req, Resp>>,
    max: usize,
    linger: Duration,
}

impl<Req, Resp> std::fmt::Debug for Coalescer<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("max", &self.max)
            .field("linger", &self.linger)
            .finish_non_exhaustive()
    }
}

impl<Req, Resp> Coalescer<Req, Resp> {
    /// Batches of at most `max` requests.
    pub fn new(max: usize, linger: Duration) -> Self {
        Coalescer {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                leading: false,
            }),
            max: max.max(1),
            linger,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<Req, Resp>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer to `req`, sent in a batch; `None` when its batch was lost (the call that
    /// led it was cancelled or panicked, or gave no answer for it). When this call leads the
    /// batch, `send` sends it (and answers its requests in order).
    pub async fn call<F, Fut>(&self, req: Req, send: F) -> Option<Resp>
    where
        F: FnOnce(Vec<Req>) -> Fut,
        Fut: Future<Output = Vec<Resp>>,
    {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut q = self.lock();
            if q.leading {
                q.waiting.push_back((req, tx));
                None
            } else {
                q.leading = true;
                Some(req)
            }
        };
        let own = match lead {
            Some(req) => req,
            None => {
                let mut waiting = Waiting {
                    rx: Some(rx),
                    coalescer: self,
                };
                let turn = match waiting.rx.as_mut() {
                    Some(rx) => rx.await,
                    None => return None,
                };
                waiting.rx = None; // answered: nothing left for its drop to hand on
                match turn {
                    Ok(Turn::Answer(answer, share)) => {
                        crate::cost::charge(&share);
                        return Some(answer);
                    }
                    Ok(Turn::Lead(req)) => req,
                    Err(_) => return None,
                }
            }
        };
        self.lead(own, send).await
    }

    async fn lead<F, Fut>(&self, own: Req, send: F) -> Option<Resp>
    where
        F: FnOnce(Vec<Req>) -> Fut,
        Fut: Future<Output = Vec<Resp>>,
    {
        let _handover = Handover(self);
        if !self.linger.is_zero() && self.lock().waiting.len() + 1 < self.max {
            tokio::time::sleep(self.linger).await;
        }
        let taken: Vec<_> = {
            let mut q = self.lock();
            let n = q.waiting.len().min(self.max - 1);
            q.waiting.drain(..n).collect()
        };
        let (mut reqs, answers): (Vec<Req>, Vec<_>) = taken.into_iter().unzip();
        reqs.insert(0, own);
        let n = reqs.len();
        let (out, cost) = crate::cost::apart(send(reqs)).await;
        let share = cost.share(n);
        crate::cost::charge(&share);
        let mut out = out.into_iter();
        let mine = out.next();
        for answer in answers {
            // A missing answer drops its sender: that caller gets `None`.
            if let Some(resp) = out.next() {
                let _ = answer.send(Turn::Answer(resp, share.clone()));
            }
        }
        mine
    }
}

/// A caller waiting for its turn. Dropped before its turn came (its caller cancelled), it
/// still takes a lead handed to it meanwhile and passes it on, so the lead is never lost.
struct Waiting<'a, Req, Resp> {
    rx: Option<oneshot::Receiver<Turn<Req, Resp>>>,
    coalescer: &'a Coalescer<Req, Resp>,
}

impl<Req, Resp> Drop for Waiting<'_, Req, Resp> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else { return };
        rx.close();
        if let Ok(Turn::Lead(_dropped)) = rx.try_recv() {
            drop(Handover(self.coalescer));
        }
    }
}

/// Passes the lead on when a leader is done (or cancelled, or panics): to the first waiting
/// request whose caller is still there, else nobody leads.
struct Handover<'a, Req, Resp>(&'a Coalescer<Req, Resp>);

impl<Req, Resp> Drop for Handover<'_, Req, Resp> {
    fn drop(&mut self) {
        let mut q = self.0.queue.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((req, next)) = q.waiting.pop_front() {
            if next.send(Turn::Lead(req)).is_ok() {
                return; // still leading: the lead moved to that caller
            }
        }
        q.leading = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    async fn doubling(sizes: &Mutex<Vec<usize>>, reqs: Vec<u32>) -> Vec<u32> {
        sizes.lock().expect("lock").push(reqs.len());
        tokio::time::sleep(Duration::from_millis(5)).await;
        reqs.into_iter().map(|r| r * 2).collect()
    }

    fn call(
        c: &Arc<Coalescer<u32, u32>>,
        sizes: &Arc<Mutex<Vec<usize>>>,
        i: u32,
    ) -> tokio::task::JoinHandle<Option<u32>> {
        let (c, sizes) = (c.clone(), sizes.clone());
        tokio::spawn(async move { c.call(i, |reqs| doubling(&sizes, reqs)).await })
    }

    /// Four jobs, each in its own cost ledger, go out in one batch costing 4 units: each is
    /// charged one, the leader and those it answered alike.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batchs_cost_is_shared_evenly_among_its_jobs() {
        let c = Arc::new(Coalescer::<u32, u32>::new(4, Duration::from_millis(200)));
        let jobs = (0..4u32).map(|i| {
            let c = c.clone();
            tokio::spawn(crate::cost::scope(async move {
                let answer = c
                    .call(i, |reqs: Vec<u32>| async move {
                        let mut batch = crate::cost::JobCost::default();
                        batch.add("dynamodb", 2.0, 4.0);
                        crate::cost::charge(&batch);
                        reqs
                    })
                    .await;
                (answer, crate::cost::so_far())
            }))
        });
        for job in futures::future::join_all(jobs).await {
            let (answer, cost) = job.expect("task");
            assert!(answer.is_some());
            assert_eq!(cost.by_service["dynamodb"].usd, 1.0, "{cost:?}");
            assert_eq!(cost.by_service["dynamodb"].calls, 0.5, "{cost:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_arriving_together_go_out_in_few_batches_and_each_gets_its_answer() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let c = Arc::new(Coalescer::new(10, Duration::from_millis(20)));
        let calls = (0..25u32).map(|i| call(&c, &sizes, i));
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

    #[tokio::test]
    async fn a_cancelled_leader_hands_the_lead_on_and_nobody_waits_forever() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let c = Arc::new(Coalescer::new(10, Duration::from_millis(20)));
        let leader = call(&c, &sizes, 1);
        tokio::task::yield_now().await; // the leader lingers
        let follower = call(&c, &sizes, 2);
        tokio::task::yield_now().await;
        leader.abort();
        let answer = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .expect("the follower is answered")
            .expect("task");
        // Whether the follower's request went out with the cancelled leader's batch (lost:
        // None) or it led its own (Some), it was answered, and later calls still work.
        assert!(matches!(answer, None | Some(4)), "{answer:?}");
        assert_eq!(call(&c, &sizes, 3).await.expect("task"), Some(6));
    }

    #[tokio::test]
    async fn a_waiter_cancelled_after_the_lead_reached_it_passes_the_lead_on() {
        let c: Coalescer<u32, u32> = Coalescer::new(10, Duration::ZERO);
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        // A leader whose batch waits for `release`, and a caller queued behind it.
        let mut leader = Box::pin(c.call(1, |reqs: Vec<u32>| async move {
            let _ = hold.await;
            reqs
        }));
        assert!(futures::poll!(&mut leader).is_pending());
        let mut waiter = Box::pin(c.call(2, |reqs: Vec<u32>| async move { reqs }));
        assert!(futures::poll!(&mut waiter).is_pending());
        // The leader finishes and hands the lead to the waiter, which is dropped (its caller
        // cancelled) before it ever runs again.
        let _ = release.send(());
        assert_eq!(leader.await, Some(1));
        drop(waiter);
        let later = tokio::time::timeout(
            Duration::from_secs(2),
            c.call(3, |reqs: Vec<u32>| async move { reqs }),
        )
        .await
        .expect("a later call is not left waiting for a lost lead");
        assert_eq!(later, Some(3));
    }

    #[tokio::test]
    async fn a_batch_without_answers_leaves_nobody_waiting() {
        let c: Coalescer<u32, u32> = Coalescer::new(10, Duration::ZERO);
        assert_eq!(c.call(1, |_| async { Vec::new() }).await, None);
        assert_eq!(c.call(2, |_| async { Vec::new() }).await, None);
    }
}
