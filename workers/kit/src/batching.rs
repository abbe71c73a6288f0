//! The runtime's claims and completions, batched across the jobs running together
//! ([`Coalescer`] over [`OpsTable::claim_all`] and [`OpsTable::complete_all`]).

use std::time::Duration;

use crate::coalesce::Coalescer;
use crate::error::JobError;
use crate::ops::{Claim, ClaimRequest, Completion, CompletionRequest, OpsTable};

/// At most this many claims or completions per batch.
pub const MAX_BATCH: usize = 25;

/// The batching tasks of one runtime.
#[derive(Debug)]
pub struct OpsBatches {
    claims: Coalescer<ClaimRequest, Result<Claim, JobError>>,
    completions: Coalescer<CompletionRequest, Result<Completion, JobError>>,
}

impl OpsBatches {
    /// Batches of claims and of completions; a batch waits `linger` for more requests after
    /// its first.
    pub fn new(linger: Duration) -> Self {
        OpsBatches {
            claims: Coalescer::new(MAX_BATCH, linger),
            completions: Coalescer::new(MAX_BATCH, linger),
        }
    }

    /// Claims a job in `ops`, in a batch with the jobs alongside.
    pub async fn claim(&self, ops: &OpsTable, req: ClaimRequest) -> Result<Claim, JobError> {
        self.claims
            .call(req, |reqs| async move { ops.claim_all(&reqs).await })
            .await
            .unwrap_or_else(|| Err(JobError::transient("the claim's batch was lost")))
    }

    /// Completes a job in `ops`, in a batch with the jobs alongside. A lost batch may have
    /// committed: the caller's retry finds out (a committed completion answers Committed
    /// again).
    pub async fn complete(
        &self,
        ops: &OpsTable,
        mut req: CompletionRequest,
    ) -> Result<Completion, JobError> {
        // Priced here, in the job's own task: the claim, the run record and the staged writes,
        // 2 write units each (a transaction's price).
        req.run = req.run.costed(2.0 * (2 + req.staged.len()) as f64);
        self.completions
            .call(req, |reqs| async move { ops.complete_all(&reqs).await })
            .await
            .unwrap_or_else(|| Err(JobError::transient("the completion's batch was lost")))
    }
}
