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
    /// Starts them on the current tokio runtime (`None` outside one: every call is then sent
    /// on its own). A batch waits `linger` for more requests after its first.
    pub fn start(ops: &OpsTable, linger: Duration) -> Option<Self> {
        let table = ops.clone();
        let claims = Coalescer::start(MAX_BATCH, linger, move |reqs: Vec<ClaimRequest>| {
            let table = table.clone();
            async move { table.claim_all(&reqs).await }
        })?;
        let table = ops.clone();
        let completions =
            Coalescer::start(MAX_BATCH, linger, move |reqs: Vec<CompletionRequest>| {
                let table = table.clone();
                async move { table.complete_all(&reqs).await }
            })?;
        Some(OpsBatches {
            claims,
            completions,
        })
    }
}

/// Claims a job: in a batch when there is one, else on its own.
pub async fn claim(
    batches: Option<&OpsBatches>,
    ops: &OpsTable,
    req: ClaimRequest,
) -> Result<Claim, JobError> {
    let req = match batches {
        Some(b) => match b.claims.call(req).await {
            Ok(answer) => return answer,
            Err(Some(req)) => req,
            Err(None) => return Err(JobError::transient("the claim batch was dropped")),
        },
        None => req,
    };
    ops.claim_all(std::slice::from_ref(&req))
        .await
        .pop()
        .unwrap_or_else(|| Err(JobError::transient("no claim answer")))
}

/// Completes a job: in a batch when there is one, else on its own.
pub async fn complete(
    batches: Option<&OpsBatches>,
    ops: &OpsTable,
    req: CompletionRequest,
) -> Result<Completion, JobError> {
    let req = match batches {
        Some(b) => match b.completions.call(req).await {
            Ok(answer) => return answer,
            Err(Some(req)) => req,
            // Sent or not, unknown: the caller's retry finds out (a committed completion
            // answers Committed again).
            Err(None) => return Err(JobError::transient("the completion batch was dropped")),
        },
        None => req,
    };
    ops.complete_all(std::slice::from_ref(&req))
        .await
        .pop()
        .unwrap_or_else(|| Err(JobError::transient("no completion answer")))
}
