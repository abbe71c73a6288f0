//! The ops table: idempotency claims and run records (one DynamoDB table, see infra/).
//!
//! Items (serde types mapped by `serde_dynamo`, in `item.rs`):
//! - claim: `pk = IDEM#<worker>#<key>`, `sk = IDEM`: `status` INPROGRESS | COMPLETED,
//!   `claim_id`, `claim_expires_ms`, `payload_hash`, `outcome` (JSON), `expires_at` (TTL).
//! - run: `pk = RUN#<worker>#<event id>`, `sk = <finished at>#<run id>`, indexed by
//!   `gsi1pk = RUNS#<worker>`, `gsi1sk = sk` for "last runs of a worker".
//!
//! Calls per job: one conditional PutItem to claim, one TransactWriteItems to complete (or
//! release) and record the run. A replay costs the claim attempt and the run record.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::sdk_error;
use crate::error::JobError;

mod batch;
mod claim;
pub use batch::{ClaimRequest, CompletionRequest, Holder, MAX_TRANSACTION_ITEMS};
mod item;
pub mod items;
mod size;
pub use claim::{Claim, Completion};
use item::{ClaimStatus, RunItem};

/// The ops table.
#[derive(Debug, Clone)]
pub struct OpsTable {
    ddb: Client,
    table: String,
}

/// How a run ended, as recorded for `stoker status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The job ran and its completion committed.
    Completed,
    /// A duplicate delivery of a completed job: answered from the stored outcome, nothing ran.
    Replayed,
    /// Another worker held the job's claim.
    Busy,
    /// The job failed but may work later: redelivered, or dead-lettered once out of deliveries.
    FailedRetryable,
    /// The job failed for good (bad input, conflict, permanent error): dead-lettered.
    FailedPermanent,
}

/// One run of one job (what `stoker status` shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The worker's name.
    pub worker: String,
    /// The event's id, or `undecodable:<message id>` for a message that did not decode.
    pub event_id: String,
    /// The event's detail type, or `-` when it did not decode.
    pub kind: String,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// Handler attempts in this delivery (0 when the handler did not run, and for a job
    /// stopped by shutdown or by a lost claim).
    pub attempts: u32,
    /// The message's delivery count at this run.
    pub receive_count: u32,
    /// Milliseconds from the start of processing to the record.
    pub duration_ms: u64,
    /// When the kit started processing the message.
    pub started_at: DateTime<Utc>,
    /// When the run ended; records are ordered by it and kept 30 days after it.
    pub finished_at: DateTime<Utc>,
    /// The failure's code ([`JobError::code`]), when the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The failure's message, when the run failed (stored up to 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Who asked for the job (the event's `requested_by`), or `-` when it did not decode.
    pub requested_by: String,
    /// What a completed job did, in one line (its report's [`crate::Summary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What the run cost on AWS ([`crate::cost`]); filled in when the record is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::JobCost>,
}

impl RunRecord {
    /// This record with its cost as the current job's ledger has it, plus the record's own
    /// write of `write_units` ([`crate::cost::for_record`]); a cost already set stays.
    pub fn costed(&self, write_units: f64) -> RunRecord {
        let mut run = self.clone();
        if run.cost.is_none() {
            run.cost = Some(crate::cost::for_record(run.duration_ms, write_units));
        }
        run
    }
}

/// A string expression attribute value.
fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
/// A number expression attribute value.
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl OpsTable {
    /// The ops table named `table`, reached through `ddb`.
    pub fn new(ddb: Client, table: impl Into<String>) -> Self {
        OpsTable {
            ddb,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The same table through a client with its own connections (for work that must not
    /// depend on the connections of the runtime that runs the jobs).
    pub fn with_own_connections(&self) -> OpsTable {
        let conf = self
            .ddb
            .config()
            .to_builder()
            .http_client(crate::aws::http_client())
            .build();
        OpsTable {
            ddb: Client::from_conf(conf),
            table: self.table.clone(),
        }
    }

    /// Records a run on its own (replays, busy claims, undecodable messages).
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), JobError> {
        let put = self.run_put(&run.costed(1.0))?;
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_error("ops table PutItem (run)", e))?;
        Ok(())
    }

    fn run_put(&self, run: &RunRecord) -> Result<Put, JobError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(RunItem::new(run).to_item()?))
            .build()
            .map_err(|e| JobError::permanent("ops_table", e.to_string()))
    }

    /// The stored outcome (the handler's report digest) of a completed job, if it completed.
    pub async fn stored_outcome(
        &self,
        worker: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, JobError> {
        Ok(self
            .get_claim(worker, key)
            .await?
            .filter(|c| c.status == ClaimStatus::Completed)
            .and_then(|c| c.outcome)
            .and_then(|o| serde_json::from_str(&o).ok()))
    }

    /// The runs of one event, oldest first.
    pub async fn runs_of(&self, worker: &str, event_id: &str) -> Result<Vec<RunRecord>, JobError> {
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("RUN#{worker}#{event_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("ops table Query (runs)", e))?;
        Ok(runs(out.items))
    }

    /// Every run of a worker that finished at or after `since`, newest first (paginated).
    pub async fn runs_since(
        &self,
        worker: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<RunRecord>, JobError> {
        let mut runs = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :since")
                .expression_attribute_values(":pk", s(format!("RUNS#{worker}")))
                .expression_attribute_values(
                    ":since",
                    s(since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                )
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("ops table Query (runs since)", e))?;
            runs.extend(self::runs(out.items));
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(runs),
            }
        }
    }
}

/// The run records among `items` (an item that is not one is skipped).
fn runs(items: Option<Vec<item::Item>>) -> Vec<RunRecord> {
    items
        .unwrap_or_default()
        .into_iter()
        .filter_map(RunItem::record)
        .collect()
}
