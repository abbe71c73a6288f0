//! The claim's heartbeat: while a job runs, its idempotency claim is extended so that it can
//! never expire under a job that is still running (slow completion retries, CPU-bound work that
//! ignores its timeout). When the claim turns out to be no longer ours, the job is told to stop.
//!
//! Heartbeats run on a thread of their own (a one-thread runtime with its own DynamoDB
//! connections): a handler that blocks its executor thread cannot starve them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::ops::OpsTable;
use crate::task::AbortOnDrop;

/// How soon a failed extension is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// The lease keeper of one worker runtime. Its thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Leases {
    ops: OpsTable,
    keeper: tokio::runtime::Handle,
    _thread: Arc<oneshot::Sender<()>>,
}

impl Leases {
    /// Starts the keeper's thread; claims are extended in `ops` (through connections of its own).
    pub fn start(ops: &OpsTable) -> std::io::Result<Leases> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let keeper = rt.handle().clone();
        let (tx, rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("stoker-leases".into())
            .spawn(move || {
                let _ = rt.block_on(rx);
            })?;
        Ok(Leases {
            ops: ops.with_own_connections(),
            keeper,
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
        let ops = self.ops.clone();
        let task = AbortOnDrop::spawn_on(&self.keeper, async move {
            let mut extended = tokio::time::Instant::now(); // the claim was just taken
            let mut wait = every;
            loop {
                tokio::time::sleep(wait).await;
                match ops.extend(worker, &key, &claim_id, ttl).await {
                    Ok(true) => {
                        extended = tokio::time::Instant::now();
                        wait = every;
                    }
                    Ok(false) => {
                        tracing::warn!(key, "the job's claim is no longer ours: stopping the job");
                        let _ = tx.send(true);
                        break;
                    }
                    // Try again soon; once the claim may have expired, stop the job: another
                    // worker may take it over.
                    Err(e) if extended.elapsed() + RETRY < ttl => {
                        tracing::warn!(error = %e, "claim not extended; trying again in 1 s");
                        wait = RETRY;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, key, "claim not extended before it could expire: stopping the job");
                        let _ = tx.send(true);
                        break;
                    }
                }
            }
            // Keep the sender (and the raised flag) until the job drops the lease.
            std::future::pending::<()>().await;
        });
        Lease { lost, _task: task }
    }
}

/// One claim kept alive until dropped.
#[derive(Debug)]
pub struct Lease {
    lost: watch::Receiver<bool>,
    _task: AbortOnDrop,
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
