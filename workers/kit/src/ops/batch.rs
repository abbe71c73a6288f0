//! Claims and completions of several jobs in one `TransactWriteItems` each (up to 100 items):
//! the ops table's calls per job fall from two to a fraction of one when jobs run together
//! (a Lambda batch, a long-poll process at concurrency above 1).
//!
//! A transaction is all or nothing, so one refused item must not sink its batch-mates: on
//! `TransactionCanceledException` the cancellation reasons name the refused items (a claim
//! someone holds or completed, a completion whose claim was taken over, a staged write's own
//! condition); those are resolved on their own and the rest are sent again. A job the batch
//! cannot settle (throttled, a conflicting transaction, an invalid batch, an error of its own)
//! is sent on its own: the SDK's and the caller's retry policies apply, not a loop here.
//! DynamoDB's client request token (set by the SDK, the same on its own retries) makes a
//! resent transaction whose answer was lost a no-op.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use chrono::Utc;

use super::claim::{CONDITION_FAILED, TRANSIENT_CANCELLATIONS, claim_item, existing_claim};
use super::item::ClaimItem;
use super::{Claim, Completion, OpsTable, RunRecord};
use crate::classify::sdk_error;
use crate::error::JobError;

/// DynamoDB's limit of items per transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// One job's claim request.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The worker's name.
    pub worker: String,
    /// The job's idempotency key.
    pub key: String,
    /// The event's payload digest.
    pub payload_hash: String,
    /// The event's id.
    pub event_id: String,
    /// How long the claim lasts unless extended.
    pub ttl: Duration,
}

/// One job's completion.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// The worker's name.
    pub worker: String,
    /// The job's idempotency key.
    pub key: String,
    /// Whose the job is: our claim, or nobody's (optimistic mode).
    pub holder: Holder,
    /// The job's report.
    pub outcome: serde_json::Value,
    /// Its run record.
    pub run: RunRecord,
    /// The writes it staged.
    pub staged: Vec<TransactWriteItem>,
}

/// Who a completing job is held by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Our claim (claim-first mode): completed if still ours and in progress.
    Claim {
        /// Our claim's id.
        claim_id: String,
    },
    /// Nobody (optimistic mode): the claim item is written COMPLETED unless the key completed
    /// already or someone holds it.
    Nobody {
        /// The id this commit writes (recognizes our own earlier send).
        claim_id: String,
        /// The event's payload digest.
        payload_hash: String,
        /// The event's id.
        event_id: String,
    },
}

/// What one transaction of a batch came to.
enum Sent {
    Committed,
    /// Refused: each item's reason.
    Cancelled(Vec<CancellationReason>),
    /// Not settled by the batch (throttled, a conflicting transaction, an invalid batch such as
    /// two writes on one item, another error): why.
    Unsettled(String),
}

fn code(r: &CancellationReason) -> Option<&str> {
    r.code().filter(|c| *c != "None")
}

impl OpsTable {
    async fn send_transaction(&self, items: Vec<TransactWriteItem>) -> Sent {
        match self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(_) => Sent::Committed,
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    let reasons = e.cancellation_reasons().to_vec();
                    match reasons
                        .iter()
                        .filter_map(code)
                        .find(|c| TRANSIENT_CANCELLATIONS.contains(c))
                    {
                        Some(c) => Sent::Unsettled(format!("cancelled: {c}")),
                        None => Sent::Cancelled(reasons),
                    }
                }
                _ => Sent::Unsettled(
                    sdk_error("ops table TransactWriteItems (batch)", err).to_string(),
                ),
            },
        }
    }

    fn claim_put(&self, req: &ClaimRequest, claim_id: &str) -> Result<TransactWriteItem, JobError> {
        let now = Utc::now();
        let item = claim_item(
            &req.worker,
            &req.key,
            &req.payload_hash,
            &req.event_id,
            req.ttl,
            claim_id,
            now,
        );
        self.claim_item_put(&item, now)
    }

    /// Claims every request, in as few transactions as their keys allow (one request per key
    /// per transaction: a second request for a key held by the first finds it busy). A request
    /// the batch cannot settle (throttled, refused for a reason of its own, an invalid batch) is
    /// claimed on its own, so it never decides its batch-mates' fate. Answers are in the order
    /// of the requests.
    pub async fn claim_all(&self, reqs: &[ClaimRequest]) -> Vec<Result<Claim, JobError>> {
        let ids: Vec<String> = reqs
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let mut answers: Vec<Option<Result<Claim, JobError>>> = vec![None; reqs.len()];
        let mut solo = vec![false; reqs.len()];
        loop {
            // This round: the first pending request of each key.
            let mut keys = HashSet::new();
            let mut round: Vec<usize> = (0..reqs.len())
                .filter(|&i| answers[i].is_none() && !solo[i])
                .filter(|&i| keys.insert((reqs[i].worker.as_str(), reqs[i].key.as_str())))
                .take(MAX_TRANSACTION_ITEMS)
                .collect();
            let mut items = Vec::with_capacity(round.len());
            round.retain(|&i| match self.claim_put(&reqs[i], &ids[i]) {
                Ok(item) => {
                    items.push(item);
                    true
                }
                Err(e) => {
                    answers[i] = Some(Err(e));
                    false
                }
            });
            if round.len() < 2 {
                break;
            }
            match self.send_transaction(items).await {
                Sent::Committed => {
                    for &i in &round {
                        answers[i] = Some(Ok(Claim::Acquired {
                            claim_id: ids[i].clone(),
                        }));
                    }
                }
                Sent::Cancelled(reasons) => {
                    let now = Utc::now();
                    let mut named = false;
                    for (pos, &i) in round.iter().enumerate() {
                        match reasons.get(pos).and_then(code) {
                            None => {} // refused for a batch-mate: sent again next round
                            Some(CONDITION_FAILED) => {
                                named = true;
                                let r = &reqs[i];
                                let found = match reasons[pos].item() {
                                    Some(item) => ClaimItem::from_stored(Some(item.clone())),
                                    // Emulators that return no item with the reason.
                                    None => self.get_claim(&r.worker, &r.key).await,
                                };
                                answers[i] = Some(found.map(|f| {
                                    existing_claim(f.as_ref(), &ids[i], &r.payload_hash, now)
                                }));
                            }
                            Some(_) => {
                                named = true;
                                solo[i] = true;
                            }
                        }
                    }
                    if !named {
                        round.iter().for_each(|&i| solo[i] = true);
                    }
                }
                Sent::Unsettled(why) => {
                    // Each finds its own fate alone (the SDK retries a throttled PutItem).
                    tracing::debug!(%why, jobs = round.len(), "claims not settled as a batch: one by one");
                    round.iter().for_each(|&i| solo[i] = true);
                }
            }
        }
        let ids = &ids;
        let alone = (0..reqs.len()).filter(|&i| answers[i].is_none()).map(|i| {
            let r = &reqs[i];
            async move {
                let a = self
                    .claim_with_id(
                        &r.worker,
                        &r.key,
                        &r.payload_hash,
                        &r.event_id,
                        r.ttl,
                        &ids[i],
                    )
                    .await;
                (i, a)
            }
        });
        for (i, a) in futures::future::join_all(alone).await {
            answers[i] = Some(a);
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(JobError::transient("claim not attempted"))))
            .collect()
    }

    /// Completes every request, as many per transaction as fit in its 100 items and 4 MB
    /// (one completion per key per transaction). A refused completion is resolved on its own
    /// (committed by an earlier send, taken over, refused by a staged write); a completion the
    /// batch cannot settle (throttled, an invalid batch such as two jobs' staged writes on one
    /// item, an error of its own) is sent on its own, where the caller's retry policy applies.
    /// Answers are in the order of the requests.
    pub async fn complete_all(
        &self,
        reqs: &[CompletionRequest],
    ) -> Vec<Result<Completion, JobError>> {
        let mut answers: Vec<Option<Result<Completion, JobError>>> = vec![None; reqs.len()];
        let mut solo = vec![false; reqs.len()];
        loop {
            // This round: as many whole completions of distinct keys as fit.
            let mut keys = HashSet::new();
            let mut round = Vec::new();
            let mut items: Vec<TransactWriteItem> = Vec::new();
            let mut bytes = 0;
            let mut starts = Vec::new();
            for i in 0..reqs.len() {
                let r = &reqs[i];
                if answers[i].is_some() || solo[i] {
                    continue;
                }
                if items.len() + 2 + r.staged.len() > MAX_TRANSACTION_ITEMS {
                    continue;
                }
                if !keys.insert((r.worker.as_str(), r.key.as_str())) {
                    continue;
                }
                let claim = self.commit_item(r);
                let run = self
                    .run_put(&r.run)
                    .map(|p| TransactWriteItem::builder().put(p).build());
                match (claim, run) {
                    (Ok(claim), Ok(run)) => {
                        let mine = [&claim, &run]
                            .into_iter()
                            .chain(&r.staged)
                            .map(super::size::item)
                            .sum::<usize>();
                        if bytes + mine > super::size::MAX_TRANSACTION_BYTES {
                            // The next round's (a completion alone too large goes on its own).
                            keys.remove(&(r.worker.as_str(), r.key.as_str()));
                            continue;
                        }
                        bytes += mine;
                        starts.push(items.len());
                        items.push(claim);
                        items.push(run);
                        items.extend(r.staged.iter().cloned());
                        round.push(i);
                    }
                    (Err(e), _) | (_, Err(e)) => answers[i] = Some(Err(e)),
                }
            }
            if round.len() < 2 {
                break;
            }
            match self.send_transaction(items).await {
                Sent::Committed => {
                    for &i in &round {
                        answers[i] = Some(Ok(Completion::Committed));
                    }
                }
                Sent::Cancelled(reasons) => {
                    let codes: Vec<Option<String>> =
                        reasons.iter().map(|r| code(r).map(str::to_owned)).collect();
                    let mut named = false;
                    for (pos, &i) in round.iter().enumerate() {
                        let end = starts.get(pos + 1).copied().unwrap_or(codes.len());
                        let mine = codes.get(starts[pos]..end).unwrap_or_default();
                        if mine.iter().any(|c| c.as_deref() == Some(CONDITION_FAILED)) {
                            named = true;
                            answers[i] = Some(self.refused(&reqs[i], mine).await);
                        } else if mine.iter().any(Option::is_some) {
                            named = true;
                            solo[i] = true;
                        }
                    }
                    if !named {
                        round.iter().for_each(|&i| solo[i] = true);
                    }
                }
                Sent::Unsettled(why) => {
                    tracing::debug!(%why, jobs = round.len(), "completions not settled as a batch: one by one");
                    round.iter().for_each(|&i| solo[i] = true);
                }
            }
        }
        let alone = (0..reqs.len())
            .filter(|&i| answers[i].is_none())
            .map(|i| async move { (i, self.complete_one(&reqs[i]).await) });
        for (i, a) in futures::future::join_all(alone).await {
            answers[i] = Some(a);
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(JobError::transient("completion not attempted"))))
            .collect()
    }

    async fn complete_one(&self, r: &CompletionRequest) -> Result<Completion, JobError> {
        let Some(reasons) = self
            .transact(self.commit_item(r)?, &r.run, &r.staged)
            .await?
        else {
            return Ok(Completion::Committed);
        };
        self.refused(r, &reasons).await
    }

    /// The claim item's part of a completion.
    fn commit_item(&self, r: &CompletionRequest) -> Result<TransactWriteItem, JobError> {
        match &r.holder {
            Holder::Claim { claim_id } => {
                self.completion_update(&r.worker, &r.key, claim_id, &r.outcome, &r.run)
            }
            Holder::Nobody {
                claim_id,
                payload_hash,
                event_id,
            } => self.optimistic_put(
                &r.worker,
                &r.key,
                claim_id,
                payload_hash,
                event_id,
                &r.outcome,
            ),
        }
    }

    /// What a refused completion means (its items' cancellation reasons, in order).
    async fn refused(
        &self,
        r: &CompletionRequest,
        reasons: &[Option<String>],
    ) -> Result<Completion, JobError> {
        match &r.holder {
            Holder::Claim { claim_id } => {
                self.refused_completion(&r.worker, &r.key, claim_id, reasons)
                    .await
            }
            Holder::Nobody {
                claim_id,
                payload_hash,
                ..
            } => {
                self.refused_commit(&r.worker, &r.key, claim_id, payload_hash, reasons)
                    .await
            }
        }
    }
}
