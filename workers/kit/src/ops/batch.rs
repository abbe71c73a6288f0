//! Claims and completions of several jobs in one `TransactWriteItems` each (up to 100 items):
//! the ops table's calls per job fall from two to a fraction of one when jobs run together
//! (a Lambda batch, a long-poll process at concurrency above 1).
//!
//! A transaction is all or nothing, so one refused item must not sink its batch-mates: on
//! `TransactionCanceledException` the cancellation reasons name the refused items (a claim
//! someone holds or completed, a completion whose claim was taken over, a staged write's own
//! condition); those are resolved on their own and the rest are sent again. Throttling and
//! conflicting transactions are retried with backoff; what still fails is each job's error.
//! DynamoDB's client request token (set by the SDK, the same on its own retries) makes a
//! resent transaction whose answer was lost a no-op.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::Utc;

use super::claim::{
    CLAIM_CONDITION, CONDITION_FAILED, TRANSIENT_CANCELLATIONS, claim_item, existing_claim,
};
use super::item::{ClaimItem, ClaimStatus};
use super::{Claim, Completion, OpsTable, RunRecord, n};
use crate::classify::sdk_error;
use crate::error::JobError;

/// DynamoDB's limit of items per transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Transient cancellations are tried this many times before each job gets the error.
const TRANSIENT_TRIES: u32 = 4;

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
    /// Throttled or in conflict with another transaction: try again.
    Transient(String),
    /// The request itself is wrong for a batch (e.g. two jobs' staged writes on one item).
    Invalid(JobError),
    Failed(JobError),
}

fn code(r: &CancellationReason) -> Option<&str> {
    r.code().filter(|c| *c != "None")
}

fn backoff(try_no: u32) -> Duration {
    let cap = Duration::from_millis(50 << try_no.min(6));
    Duration::from_millis(fastrand::u64(10..=cap.as_millis() as u64))
}

impl OpsTable {
    async fn send_transaction(&self, items: Vec<TransactWriteItem>) -> Sent {
        self.stats.ddb();
        match self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items))
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
                        Some(c) => Sent::Transient(c.to_owned()),
                        None => Sent::Cancelled(reasons),
                    }
                }
                Some(TransactWriteItemsError::ProvisionedThroughputExceededException(_))
                | Some(TransactWriteItemsError::ThrottlingException(_))
                | Some(TransactWriteItemsError::RequestLimitExceeded(_)) => {
                    Sent::Transient(err.to_string())
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    Sent::Transient("TransactionInProgress".into())
                }
                _ if err.code() == Some("ValidationException") => {
                    Sent::Invalid(sdk_error("ops table TransactWriteItems (batch)", err))
                }
                _ => Sent::Failed(sdk_error("ops table TransactWriteItems (batch)", err)),
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
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item.to_item()?))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":inprogress", ClaimStatus::InProgress.value())
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| JobError::permanent("ops_table", e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Claims every request, in as few transactions as their keys allow (one request per key
    /// per transaction: a second request for a key held by the first finds it busy). Answers
    /// are in the order of the requests.
    pub async fn claim_all(&self, reqs: &[ClaimRequest]) -> Vec<Result<Claim, JobError>> {
        if let [one] = reqs {
            return vec![
                self.claim(
                    &one.worker,
                    &one.key,
                    &one.payload_hash,
                    &one.event_id,
                    one.ttl,
                )
                .await,
            ];
        }
        let ids: Vec<String> = reqs
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let mut answers: Vec<Option<Result<Claim, JobError>>> = vec![None; reqs.len()];
        let mut transient = 0;
        loop {
            // This round: the first pending request of each key.
            let mut keys = HashSet::new();
            let round: Vec<usize> = (0..reqs.len())
                .filter(|&i| answers[i].is_none())
                .filter(|&i| keys.insert((reqs[i].worker.as_str(), reqs[i].key.as_str())))
                .take(MAX_TRANSACTION_ITEMS)
                .collect();
            match round.as_slice() {
                [] => break,
                [i] => {
                    let r = &reqs[*i];
                    answers[*i] = Some(
                        self.claim(&r.worker, &r.key, &r.payload_hash, &r.event_id, r.ttl)
                            .await,
                    );
                    continue;
                }
                _ => {}
            }
            let mut items = Vec::with_capacity(round.len());
            for &i in &round {
                match self.claim_put(&reqs[i], &ids[i]) {
                    Ok(item) => items.push(item),
                    Err(e) => answers[i] = Some(Err(e)),
                }
            }
            let round: Vec<usize> = round
                .into_iter()
                .filter(|&i| answers[i].is_none())
                .collect();
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
                    for (pos, &i) in round.iter().enumerate() {
                        let Some(reason) = reasons.get(pos) else {
                            continue;
                        };
                        if code(reason) != Some(CONDITION_FAILED) {
                            continue; // refused for a batch-mate: sent again next round
                        }
                        let r = &reqs[i];
                        let found = match reason.item() {
                            Some(item) => ClaimItem::from_stored(Some(item.clone())),
                            // Emulators that return no item with the reason.
                            None => self.get_claim(&r.worker, &r.key).await,
                        };
                        answers[i] =
                            Some(found.map(|f| {
                                existing_claim(f.as_ref(), &ids[i], &r.payload_hash, now)
                            }));
                    }
                    if round.iter().all(|&i| answers[i].is_none()) {
                        // No reason named an item: claim them one by one.
                        for &i in &round {
                            let r = &reqs[i];
                            answers[i] = Some(
                                self.claim(&r.worker, &r.key, &r.payload_hash, &r.event_id, r.ttl)
                                    .await,
                            );
                        }
                    }
                }
                Sent::Transient(why) => {
                    transient += 1;
                    if transient >= TRANSIENT_TRIES {
                        let e = JobError::transient(format!(
                            "ops table TransactWriteItems (claims) cancelled ({why}) {transient} times"
                        ));
                        for &i in &round {
                            answers[i] = Some(Err(e.clone()));
                        }
                    } else {
                        tokio::time::sleep(backoff(transient)).await;
                    }
                }
                Sent::Invalid(e) | Sent::Failed(e) => {
                    for &i in &round {
                        answers[i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(JobError::transient("claim not attempted"))))
            .collect()
    }

    /// Completes every request, as many per transaction as fit in its 100 items. A refused
    /// completion is resolved on its own (committed by an earlier send, taken over, or refused
    /// by a staged write); the rest are sent again. Two jobs' staged writes on one item cannot
    /// share a transaction: such a batch is completed job by job. Answers are in the order of
    /// the requests.
    pub async fn complete_all(
        &self,
        reqs: &[CompletionRequest],
    ) -> Vec<Result<Completion, JobError>> {
        if let [one] = reqs {
            return vec![self.complete_one(one).await];
        }
        let mut answers: Vec<Option<Result<Completion, JobError>>> = vec![None; reqs.len()];
        let mut transient = 0;
        let mut one_by_one = false;
        loop {
            let pending: Vec<usize> = (0..reqs.len()).filter(|&i| answers[i].is_none()).collect();
            if pending.is_empty() {
                break;
            }
            // This round: as many whole completions as fit.
            let mut round = Vec::new();
            let mut items: Vec<TransactWriteItem> = Vec::new();
            let mut starts = Vec::new();
            for &i in &pending {
                let r = &reqs[i];
                let size = 2 + r.staged.len();
                if !round.is_empty() && (one_by_one || items.len() + size > MAX_TRANSACTION_ITEMS) {
                    break;
                }
                let claim = match self.commit_item(r) {
                    Ok(c) => c,
                    Err(e) => {
                        answers[i] = Some(Err(e));
                        continue;
                    }
                };
                let run = match self.run_put(&r.run) {
                    Ok(p) => TransactWriteItem::builder().put(p).build(),
                    Err(e) => {
                        answers[i] = Some(Err(e));
                        continue;
                    }
                };
                starts.push(items.len());
                items.push(claim);
                items.push(run);
                items.extend(r.staged.iter().cloned());
                round.push(i);
            }
            if let [i] = round.as_slice() {
                answers[*i] = Some(self.complete_one(&reqs[*i]).await);
                continue;
            }
            if round.is_empty() {
                continue;
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
                    let mut any = false;
                    for (pos, &i) in round.iter().enumerate() {
                        let end = starts.get(pos + 1).copied().unwrap_or(codes.len());
                        let mine = codes.get(starts[pos]..end).unwrap_or_default();
                        if mine.iter().any(|c| c.as_deref() == Some(CONDITION_FAILED)) {
                            any = true;
                            answers[i] = Some(self.refused(&reqs[i], mine).await);
                        }
                    }
                    if !any {
                        one_by_one = true; // no reason named an item
                    }
                }
                Sent::Transient(why) => {
                    transient += 1;
                    if transient >= TRANSIENT_TRIES {
                        let e = JobError::transient(format!(
                            "ops table TransactWriteItems (completions) cancelled ({why}) {transient} times"
                        ));
                        for &i in &round {
                            answers[i] = Some(Err(e.clone()));
                        }
                    } else {
                        tokio::time::sleep(backoff(transient)).await;
                    }
                }
                Sent::Invalid(e) => {
                    tracing::debug!(error = %e, "batched completion invalid (staged writes on one item?): completing one by one");
                    one_by_one = true;
                }
                Sent::Failed(e) => {
                    for &i in &round {
                        answers[i] = Some(Err(e.clone()));
                    }
                }
            }
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
