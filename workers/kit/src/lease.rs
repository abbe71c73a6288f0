//! The claim's heartbeat: while a job runs, its idempotency claim is extended so that it can
//! never expire under a job that is still running (slow completion retries, CPU-bound work that
//! ignores its timeout). When the claim turns out to be no longer ours, the job is told to stop.
//!
//! One keeper per runtime, on a thread of its own (a one-thread runtime with its own DynamoDB
//! connections): a handler that blocks its executor thread cannot starve it. Jobs only put
//! their claims on the keeper's list and take them off (no wake-up of its thread per job); the
//! keeper looks at the list every [`TICK`] and extends the claims that are due.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::ops::OpsTable;

/// How soon a failed extension is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// How often the keeper looks for claims due: an extension is at most this late.
const TICK: Duration = Duration::from_millis(250);

/// One claim on the keeper's list.
struct Kept {
    worker: &'static str,
    key: String,
    claim_id: String,
    ttl: Duration,
    every: Duration,
    /// When it is to be extended next.
    due: Instant,
    /// When it was last taken or extended.
    extended: Instant,
    /// An extension is under way.
    sending: bool,
    lost: watch::Sender<bool>,
}

type List = Arc<Mutex<HashMap<u64, Kept>>>;

fn lock(list: &List) -> MutexGuard<'_, HashMap<u64, Kept>> {
    list.lock().unwrap_or_else(|e| e.into_inner())
}

/// The lease keeper of one worker runtime. Its thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Leases {
    list: List,
    next: Arc<AtomicU64>,
    _thread: Arc<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Leases {
    /// Starts the keeper's thread; claims are extended in `ops` (through connections of its own).
    pub fn start(ops: &OpsTable) -> std::io::Result<Leases> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel::<()>();
        let list: List = Arc::default();
        let keeper = (list.clone(), ops.with_own_connections());
        std::thread::Builder::new()
            .name("stoker-leases".into())
            .spawn(move || {
                rt.block_on(async move {
                    tokio::select! {
                        _ = rx => {}
                        _ = keep_all(keeper.0, keeper.1) => {}
                    }
                });
            })?;
        Ok(Leases {
            list,
            next: Arc::default(),
            _thread: Arc::new(tx),
        })
    }

    /// Extends `claim_id` to `now + ttl` every `ttl / 3` (at least every second) until the
    /// returned lease is dropped.
    pub fn keep(
        &self,
        worker: &'static str,
        key: String,
        claim_id: String,
        ttl: Duration,
    ) -> Lease {
        let (tx, lost) = watch::channel(false);
        let every = (ttl / 3).max(Duration::from_secs(1));
        let now = Instant::now(); // the claim was just taken
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let kept = Kept {
            worker,
            key,
            claim_id,
            ttl,
            every,
            due: now + every,
            extended: now,
            sending: false,
            lost: tx,
        };
        lock(&self.list).insert(id, kept);
        Lease {
            lost,
            id,
            list: self.list.clone(),
        }
    }
}

/// The keeper: every tick, one extension task per claim due.
async fn keep_all(list: List, ops: OpsTable) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let due: Vec<(u64, &'static str, String, String, Duration)> = lock(&list)
            .iter_mut()
            .filter(|(_, k)| !k.sending && k.due <= now && !*k.lost.borrow())
            .map(|(id, k)| {
                k.sending = true;
                (*id, k.worker, k.key.clone(), k.claim_id.clone(), k.ttl)
            })
            .collect();
        for (id, worker, key, claim_id, ttl) in due {
            let (list, ops) = (list.clone(), ops.clone());
            tokio::spawn(async move {
                let result = ops.extend(worker, &key, &claim_id, ttl).await;
                let mut kept = lock(&list);
                // Gone: the job dropped its lease meanwhile.
                let Some(k) = kept.get_mut(&id) else { return };
                k.sending = false;
                let now = Instant::now();
                match result {
                    Ok(true) => {
                        k.extended = now;
                        k.due = now + k.every;
                    }
                    Ok(false) => {
                        tracing::warn!(key, "the job's claim is no longer ours: stopping the job");
                        k.lost.send_replace(true);
                    }
                    // Try again soon; once the claim may have expired, stop the job: another
                    // worker may take it over.
                    Err(e) if k.extended.elapsed() + RETRY < k.ttl => {
                        tracing::warn!(error = %e, "claim not extended; trying again in 1 s");
                        k.due = now + RETRY;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, key, "claim not extended before it could expire: stopping the job");
                        k.lost.send_replace(true);
                    }
                }
            });
        }
    }
}

/// One claim kept alive until dropped.
#[derive(Debug)]
pub struct Lease {
    lost: watch::Receiver<bool>,
    id: u64,
    list: List,
}

impl Lease {
    /// Resolves when the claim is found to be someone else's (never, while it is ours).
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        if lost.wait_for(|l| *l).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        lock(&self.list).remove(&self.id);
    }
}
