//! The claim's heartbeat: while a job runs, its idempotency claim is extended so that it can
//! never expire under a job that is still running (slow completion retries, CPU-bound work that
//! ignores its timeout). When the claim turns out to be no longer ours, the job is told to stop.
//!
//! One keeper per runtime, on a thread of its own (a one-thread runtime with its own DynamoDB
//! connections): a handler that blocks its executor thread cannot starve it. Jobs only put
//! their claims on the keeper's list and take them off (no wake-up of its thread per job); the
//! keeper looks at the list every 250 ms while it is not empty and extends the claims due.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot, watch};

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

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The keeper's list, and its wake-up when a claim joins an empty list (it sleeps while there
/// is nothing to keep).
#[derive(Debug, Default)]
struct Shared {
    list: Mutex<HashMap<u64, Kept>>,
    joined: Notify,
    next: AtomicU64,
}

impl Shared {
    fn list(&self) -> MutexGuard<'_, HashMap<u64, Kept>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The lease keeper of one worker runtime. Its thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Leases {
    shared: Arc<Shared>,
    _thread: Arc<oneshot::Sender<()>>,
}

impl Leases {
    /// Starts the keeper's thread; claims are extended in `ops` (through connections of its own).
    pub fn start(ops: &OpsTable) -> std::io::Result<Leases> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel::<()>();
        let shared = Arc::new(Shared::default());
        let keeper = (shared.clone(), ops.with_own_connections());
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
            shared,
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
        let id = self.shared.next.fetch_add(1, Ordering::Relaxed);
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
        let was_empty = {
            let mut list = self.shared.list();
            let was_empty = list.is_empty();
            list.insert(id, kept);
            was_empty
        };
        if was_empty {
            self.shared.joined.notify_one();
        }
        Lease {
            lost,
            id,
            shared: self.shared.clone(),
        }
    }
}

/// The keeper: every tick while claims are kept, one extension task per claim due.
async fn keep_all(shared: Arc<Shared>, ops: OpsTable) {
    loop {
        if shared.list().is_empty() {
            // A claim joining from now on stores a wake-up, even before this waits.
            shared.joined.notified().await;
        }
        tokio::time::sleep(TICK).await;
        let now = Instant::now();
        let due: Vec<(u64, &'static str, String, String, Duration, Duration)> = shared
            .list()
            .iter_mut()
            .filter(|(_, k)| !k.sending && k.due <= now && !*k.lost.borrow())
            .map(|(id, k)| {
                k.sending = true;
                (
                    *id,
                    k.worker,
                    k.key.clone(),
                    k.claim_id.clone(),
                    k.ttl,
                    k.every,
                )
            })
            .collect();
        for (id, worker, key, claim_id, ttl, every) in due {
            let (shared, ops) = (shared.clone(), ops.clone());
            tokio::spawn(async move {
                // An extension that hangs is a failed one: the next is tried (or the job
                // stopped) in time.
                let result =
                    match tokio::time::timeout(every, ops.extend(worker, &key, &claim_id, ttl))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err(crate::JobError::transient("claim extension timed out")),
                    };
                settle(&shared, id, &key, result);
            });
        }
    }
}

/// Records how an extension of claim `id` went.
fn settle(shared: &Shared, id: u64, key: &str, result: Result<bool, crate::JobError>) {
    let mut list = shared.list();
    // Gone: the job dropped its lease meanwhile.
    let Some(k) = list.get_mut(&id) else { return };
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
        // Try again soon (at most a tick late); once the claim may have expired, stop the job:
        // another worker may take it over.
        Err(e) if k.extended.elapsed() + RETRY + TICK < k.ttl => {
            tracing::warn!(error = %e, "claim not extended; trying again in 1 s");
            k.due = now + RETRY;
        }
        Err(e) => {
            tracing::warn!(error = %e, key, "claim not extended before it could expire: stopping the job");
            k.lost.send_replace(true);
        }
    }
}

/// One claim kept alive until dropped.
#[derive(Debug)]
pub struct Lease {
    lost: watch::Receiver<bool>,
    id: u64,
    shared: Arc<Shared>,
}

impl Lease {
    /// Whether the claim was found to be someone else's already.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

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
        self.shared.list().remove(&self.id);
    }
}
