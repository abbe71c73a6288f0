//! Idempotency claims: take one, keep it alive while the job runs, complete it (with the
//! job's staged writes) or release it.
//!
//! Every call here may be sent twice by the SDK when an answer is lost after the write
//! happened; each is written so that the second send finds its own first one and says so:
//! a claim that finds its own claim id has it, a completion that finds its own claim
//! COMPLETED has committed.

use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

use super::item::{ClaimItem, ClaimStatus, Item, rfc3339};
use super::{OpsTable, RunRecord, n, s};
use crate::classify::sdk_error;
use crate::error::JobError;

/// Stored outcomes are cut to this size (the digest, not the whole report).
const MAX_OUTCOME_BYTES: usize = crate::summary::MAX_REPORT_BYTES;

/// What a claim attempt found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// We hold the claim; run the job.
    Acquired {
        /// Our claim's id: extending, completing or releasing the claim needs it.
        claim_id: String,
    },
    /// The job already completed with this payload: here is its stored outcome.
    Replay {
        /// The outcome stored when the job completed.
        outcome: serde_json::Value,
    },
    /// Someone else is running it; their claim expires in this long.
    Busy {
        /// Time until the holder's claim expires.
        remaining: Duration,
    },
    /// The key completed with a different payload.
    Conflict,
}

/// What a completion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The claim is COMPLETED under our claim id and the staged writes are committed (by this
    /// call, or by an earlier send of it whose answer was lost).
    Committed,
    /// Our claim is gone or another worker's: the job outlived its claim and was taken over.
    /// Nothing was committed.
    TakenOver,
    /// Our claim is still in progress: a staged write's own condition failed. Nothing was
    /// committed.
    StagedRefused,
    /// Optimistic mode: the job had already completed with this payload (a duplicate ran
    /// again); nothing was committed.
    Replayed,
    /// Optimistic mode: the key had completed with another payload; nothing was committed.
    Conflict,
}

/// What a job's report is stored as: its JSON, or a stand-in when larger than 16 KiB.
fn digest(outcome: &serde_json::Value) -> String {
    let digest = outcome.to_string();
    if digest.len() > MAX_OUTCOME_BYTES {
        return serde_json::json!({ "truncated": true, "bytes": digest.len() }).to_string();
    }
    digest
}

impl OpsTable {
    fn claim_key(&self, worker: &str, key: &str) -> Item {
        Item::from([
            ("pk".to_owned(), s(ClaimItem::pk(worker, key))),
            ("sk".to_owned(), s(ClaimItem::SK)),
        ])
    }

    /// One conditional write: take the claim if nobody holds it or the holder's claim expired.
    pub async fn claim(
        &self,
        worker: &str,
        key: &str,
        payload_hash: &str,
        event_id: &str,
        ttl: Duration,
    ) -> Result<Claim, JobError> {
        let claim_id = uuid::Uuid::now_v7().to_string();
        self.claim_with_id(worker, key, payload_hash, event_id, ttl, &claim_id)
            .await
    }

    /// [`claim`](Self::claim) under a claim id chosen by the caller (the one a batch sent
    /// first: a resend recognizes it).
    pub(super) async fn claim_with_id(
        &self,
        worker: &str,
        key: &str,
        payload_hash: &str,
        event_id: &str,
        ttl: Duration,
        claim_id: &str,
    ) -> Result<Claim, JobError> {
        let now = Utc::now();
        let claim_id = claim_id.to_owned();
        let item = claim_item(worker, key, payload_hash, event_id, ttl, &claim_id, now);
        let res = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.to_item()?))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":inprogress", ClaimStatus::InProgress.value())
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(_) => Ok(Claim::Acquired { claim_id }),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => {
                    let found = match e.item() {
                        Some(item) => ClaimItem::from_stored(Some(item.clone()))?,
                        None => self.get_claim(worker, key).await?, // emulators without ReturnValuesOnConditionCheckFailure
                    };
                    Ok(existing_claim(found.as_ref(), &claim_id, payload_hash, now))
                }
                _ => Err(sdk_error("ops table PutItem (claim)", err)),
            },
        }
    }

    /// What the key's claim says of an event with `payload_hash`, read (no write): a replay
    /// when it completed with that payload, a conflict with another, busy otherwise.
    pub async fn completed(
        &self,
        worker: &str,
        key: &str,
        payload_hash: &str,
    ) -> Result<Claim, JobError> {
        let found = self.get_claim(worker, key).await?;
        Ok(match found {
            Some(c) if c.status == ClaimStatus::Completed => {
                existing_claim(Some(&c), "", payload_hash, Utc::now())
            }
            _ => Claim::Busy {
                remaining: Duration::ZERO,
            },
        })
    }

    /// The claim as stored (`None` when there is none).
    pub(super) async fn get_claim(
        &self,
        worker: &str,
        key: &str,
    ) -> Result<Option<ClaimItem>, JobError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.claim_key(worker, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("ops table GetItem (claim)", e))?;
        ClaimItem::from_stored(out.item)
    }

    /// Keeps our claim for `ttl` more (the heartbeat of a running job). `false` when the claim
    /// is no longer ours or no longer in progress: the job must stop.
    pub async fn extend(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        ttl: Duration,
    ) -> Result<bool, JobError> {
        let expires_ms = Utc::now().timestamp_millis() + ttl.as_millis() as i64;
        let res = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.claim_key(worker, key)))
            .update_expression("SET claim_expires_ms = :exp")
            .condition_expression("claim_id = :mine AND #st = :inprogress")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":mine", s(claim_id))
            .expression_attribute_values(":inprogress", ClaimStatus::InProgress.value())
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_error("ops table UpdateItem (extend claim)", err)),
        }
    }

    /// Marks the claim COMPLETED with its outcome, records the run and commits the staged
    /// writes, in one transaction conditioned on our claim still being in progress.
    pub async fn complete(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        outcome: &serde_json::Value,
        run: &RunRecord,
        staged: &[TransactWriteItem],
    ) -> Result<Completion, JobError> {
        let claim = self.completion_update(worker, key, claim_id, outcome, run)?;
        let Some(reasons) = self.transact(claim, run, staged).await? else {
            return Ok(Completion::Committed);
        };
        self.refused_completion(worker, key, claim_id, &reasons)
            .await
    }

    /// The claim's side of a completion: COMPLETED with its outcome digest, conditioned on our
    /// claim still being in progress.
    pub(super) fn completion_update(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        outcome: &serde_json::Value,
        run: &RunRecord,
    ) -> Result<TransactWriteItem, JobError> {
        let digest = digest(outcome);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.claim_key(worker, key)))
            .update_expression("SET #st = :done, outcome = :outcome, completed_at = :at")
            // Still in progress: a retried completion whose first try succeeded unseen must
            // not commit the staged writes twice.
            .condition_expression("claim_id = :mine AND #st = :inprogress")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":done", ClaimStatus::Completed.value())
            .expression_attribute_values(":inprogress", ClaimStatus::InProgress.value())
            .expression_attribute_values(":outcome", s(digest))
            .expression_attribute_values(":at", s(rfc3339(run.finished_at)))
            .expression_attribute_values(":mine", s(claim_id))
            .build()
            .map_err(|e| JobError::permanent("ops_table", e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Optimistic mode's side of a commit: the claim item written COMPLETED at once, unless
    /// the key completed already or a live claim holds it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn optimistic_put(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        payload_hash: &str,
        event_id: &str,
        outcome: &serde_json::Value,
    ) -> Result<TransactWriteItem, JobError> {
        let now = Utc::now();
        let item = ClaimItem::completed(
            worker,
            key,
            claim_id,
            payload_hash,
            event_id,
            digest(outcome),
            now,
        );
        self.claim_item_put(&item, now)
    }

    /// `item` written in a transaction under [`CLAIM_CONDITION`] (nobody holds the key, or the
    /// holder's claim expired at `now`), the stored item returned when refused.
    pub(super) fn claim_item_put(
        &self,
        item: &ClaimItem,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, JobError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
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

    /// What a refused optimistic commit means: our own earlier send, a replay, a conflict, a
    /// live claim of a claim-first worker (taken over: try later), or a staged write's refusal.
    pub(super) async fn refused_commit(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        payload_hash: &str,
        reasons: &[Option<String>],
    ) -> Result<Completion, JobError> {
        let found = self.get_claim(worker, key).await?;
        Ok(match found {
            Some(c) if c.status == ClaimStatus::Completed && c.claim_id == claim_id => {
                Completion::Committed
            }
            Some(c) if c.status == ClaimStatus::Completed && c.payload_hash == payload_hash => {
                Completion::Replayed
            }
            Some(c) if c.status == ClaimStatus::Completed => Completion::Conflict,
            Some(_) => Completion::TakenOver,
            None if reasons
                .first()
                .is_some_and(|r| r.as_deref() == Some(CONDITION_FAILED)) =>
            {
                return Err(JobError::transient(
                    "the commit was refused by a claim that is gone now; trying again",
                ));
            }
            None => Completion::StagedRefused,
        })
    }

    /// What a refused completion means, from its items' cancellation reasons (the claim, the
    /// run record, then the staged writes) and the claim as it now stands.
    pub(super) async fn refused_completion(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        reasons: &[Option<String>],
    ) -> Result<Completion, JobError> {
        // A staged write's own condition (items 2.. of the transaction; 0 is the claim).
        let staged_refused = reasons
            .iter()
            .skip(2)
            .any(|r| r.as_deref() == Some(CONDITION_FAILED));
        // Refused: find out whether it was our own earlier send, a takeover or a staged write.
        let found = self.get_claim(worker, key).await?;
        let ours = found.as_ref().filter(|c| c.claim_id == claim_id);
        Ok(match ours.map(|c| c.status) {
            Some(ClaimStatus::Completed) => Completion::Committed,
            Some(ClaimStatus::InProgress) if staged_refused => Completion::StagedRefused,
            // Still ours but no staged condition failed (an emulator that gives no reasons).
            Some(ClaimStatus::InProgress) if reasons.is_empty() => Completion::StagedRefused,
            Some(ClaimStatus::InProgress) => {
                return Err(JobError::transient(format!(
                    "the completion transaction was cancelled ({reasons:?}) with the claim still ours; trying again"
                )));
            }
            None => Completion::TakenOver,
        })
    }

    /// Gives the claim up (the job failed) and records the run, in one transaction. `false`
    /// when the claim was no longer ours (the run is then recorded on its own).
    pub async fn release(
        &self,
        worker: &str,
        key: &str,
        claim_id: &str,
        run: &RunRecord,
    ) -> Result<bool, JobError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(self.claim_key(worker, key)))
            .condition_expression("claim_id = :mine")
            .expression_attribute_values(":mine", s(claim_id))
            .build()
            .map_err(|e| JobError::permanent("ops_table", e.to_string()))?;
        let refused = self
            .transact(
                TransactWriteItem::builder().delete(delete).build(),
                run,
                &[],
            )
            .await?;
        if refused.is_some() {
            self.record_run(run).await?;
        }
        Ok(refused.is_none())
    }

    /// The claim write, the run record and the staged writes in one transaction. `None` when
    /// it committed; the cancellation reason code of each item (in order, `None` for items
    /// that were fine) when a condition refused it. A cancellation for throttling or a
    /// conflicting transaction is a transient error, not a refusal.
    pub(super) async fn transact(
        &self,
        claim: TransactWriteItem,
        run: &RunRecord,
        staged: &[TransactWriteItem],
    ) -> Result<Option<Vec<Option<String>>>, JobError> {
        // Every item of a transaction costs 2 write units.
        let run = run.costed(2.0 * (2 + staged.len()) as f64);
        let put = TransactWriteItem::builder()
            .put(self.run_put(&run)?)
            .build();
        let mut items = vec![claim, put];
        items.extend_from_slice(staged);
        match self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    let reasons: Vec<Option<String>> = e
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                        .collect();
                    if let Some(code) = reasons
                        .iter()
                        .flatten()
                        .find(|c| TRANSIENT_CANCELLATIONS.contains(&c.as_str()))
                    {
                        return Err(JobError::transient(format!(
                            "ops table TransactWriteItems cancelled ({code}); trying again"
                        )));
                    }
                    Ok(Some(reasons))
                }
                _ => Err(sdk_error("ops table TransactWriteItems", err)),
            },
        }
    }
}

/// A claim is taken when nobody holds it or the holder's claim expired.
pub(super) const CLAIM_CONDITION: &str =
    "attribute_not_exists(pk) OR (#st = :inprogress AND claim_expires_ms < :now)";

/// A new claim's item, in progress under `claim_id` until `ttl` from `now`.
pub(super) fn claim_item(
    worker: &str,
    key: &str,
    payload_hash: &str,
    event_id: &str,
    ttl: Duration,
    claim_id: &str,
    now: DateTime<Utc>,
) -> ClaimItem {
    let expires_ms = now.timestamp_millis() + ttl.as_millis() as i64;
    ClaimItem::in_progress(
        worker,
        key,
        claim_id,
        expires_ms,
        payload_hash,
        event_id,
        now,
    )
}

/// The cancellation reason of an item whose condition failed.
pub(super) const CONDITION_FAILED: &str = "ConditionalCheckFailed";
/// Cancellation reasons that say "not now" rather than "no".
pub(super) const TRANSIENT_CANCELLATIONS: [&str; 4] = [
    "ThrottlingError",
    "TransactionConflict",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// What a refused claim found: our own earlier send (its answer was lost), a replay, a
/// conflict, or a live claim of someone else's (or none left: busy for no time).
pub(super) fn existing_claim(
    found: Option<&ClaimItem>,
    claim_id: &str,
    payload_hash: &str,
    now: DateTime<Utc>,
) -> Claim {
    match found {
        Some(c) if c.status == ClaimStatus::InProgress && c.claim_id == claim_id => {
            Claim::Acquired {
                claim_id: claim_id.to_owned(),
            }
        }
        Some(c) if c.status == ClaimStatus::Completed && c.payload_hash == payload_hash => {
            let outcome = c
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or_default();
            Claim::Replay { outcome }
        }
        Some(c) if c.status == ClaimStatus::Completed => Claim::Conflict,
        _ => {
            let expires = found.map_or(0, |c| c.claim_expires_ms);
            let left = (expires - now.timestamp_millis()).max(0) as u64;
            Claim::Busy {
                remaining: Duration::from_millis(left),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(status: ClaimStatus, claim_id: &str) -> ClaimItem {
        let mut c = ClaimItem::in_progress("w", "k", claim_id, 0, "h", "e-1", Utc::now());
        c.status = status;
        c
    }

    #[test]
    fn a_claim_that_finds_its_own_id_holds_it() {
        // The first PutItem wrote; its answer was lost; the SDK's resend is refused by the
        // condition and sees our own claim id.
        let mine = claim(ClaimStatus::InProgress, "c-1");
        assert_eq!(
            existing_claim(Some(&mine), "c-1", "h", Utc::now()),
            Claim::Acquired {
                claim_id: "c-1".into()
            }
        );
        let mut theirs = claim(ClaimStatus::InProgress, "c-2");
        theirs.claim_expires_ms = Utc::now().timestamp_millis() + 60_000;
        assert!(matches!(
            existing_claim(Some(&theirs), "c-1", "h", Utc::now()),
            Claim::Busy { remaining } if remaining > Duration::from_secs(50)
        ));
        assert_eq!(
            existing_claim(None, "c-1", "h", Utc::now()),
            Claim::Busy {
                remaining: Duration::ZERO
            }
        );
    }

    #[test]
    fn completed_claims_replay_or_conflict_by_payload_hash() {
        let mut done = claim(ClaimStatus::Completed, "c-2");
        done.outcome = Some("{\"n\":1}".into());
        assert_eq!(
            existing_claim(Some(&done), "c-1", "h", Utc::now()),
            Claim::Replay {
                outcome: serde_json::json!({"n": 1})
            }
        );
        assert_eq!(
            existing_claim(Some(&done), "c-1", "other", Utc::now()),
            Claim::Conflict
        );
    }
}
