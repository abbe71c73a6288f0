//! The Lambda driver: an SQS batch in, `batchItemFailures` out.
//!
//! Each record is decoded and processed on its own task, so a poison record or a panic fails
//! only itself. Standard queues: records run concurrently. FIFO queues: a group's records run
//! in order; at the first failure the rest of that group is reported failed (Powertools'
//! behaviour) while other groups go on. The time budget is the invocation's remaining time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{LambdaEvent, service_fn};
use tokio::sync::watch;

use crate::job::Handler;
use crate::message;
use crate::process::Runtime;
use crate::settle::{self, Raw, Settled};

/// Time kept back from the invocation deadline for reporting.
const SAFETY: Duration = Duration::from_millis(500);

/// Serves invocations from the Lambda Runtime API until the process is stopped.
pub async fn run<H: Handler>(rt: Arc<Runtime<H>>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let rt = rt.clone();
        async move {
            let deadline_ms = event.context.deadline as i64;
            Ok::<_, lambda_runtime::Error>(handle_batch(rt, event.payload, deadline_ms).await)
        }
    }))
    .await
}

/// Processes one SQS batch and reports the records SQS must redeliver.
pub async fn handle_batch<H: Handler>(
    rt: Arc<Runtime<H>>,
    batch: SqsEvent,
    deadline_ms: i64,
) -> SqsBatchResponse {
    let mut groups: BTreeMap<String, Vec<SqsMessage>> = BTreeMap::new();
    let mut tasks = Vec::new();
    for (i, record) in batch.records.into_iter().enumerate() {
        match record.attributes.get("MessageGroupId").cloned() {
            Some(g) => groups.entry(g).or_default().push(record),
            None => groups
                .entry(format!("\u{0}standalone-{i:04}"))
                .or_default()
                .push(record),
        }
    }
    for (_, records) in groups {
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            run_group(rt, records, deadline_ms).await
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(ids) => failures.extend(ids),
            Err(e) => tracing::error!(error = %e, "a record group's task failed"), // ids unknown: cannot happen, run_group catches panics
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}

/// Runs a group's records in order; returns the message ids to report as failures.
async fn run_group<H: Handler>(
    rt: Arc<Runtime<H>>,
    records: Vec<SqsMessage>,
    deadline_ms: i64,
) -> Vec<String> {
    let mut failed = Vec::new();
    // The retried records' receipts and delays: their visibility is set in one batch.
    let mut retries: Vec<(String, Duration)> = Vec::new();
    let mut blocked = false;
    for record in records {
        let id = record.message_id.clone().unwrap_or_default();
        let receipt = record.receipt_handle.clone();
        if blocked {
            failed.push(id);
            continue;
        }
        // Each record on its own task: a panic fails this record only.
        let task = {
            let rt = rt.clone();
            // The time left now: a FIFO group's later records get what the earlier ones left.
            let budget = budget_until(deadline_ms);
            tokio::spawn(async move { settle(&rt, &record, budget).await })
        };
        let ok = match task.await {
            Ok(Settled::Delete) => true,
            Ok(Settled::Keep { delay }) => {
                retries.extend(receipt.zip(delay));
                false
            }
            Err(e) => {
                tracing::error!(message_id = %id, error = %e, "record processing panicked");
                false
            }
        };
        if !ok {
            failed.push(id);
            blocked = true; // only matters for FIFO groups; standalone groups hold one record
        }
    }
    if !retries.is_empty() {
        let changes: Vec<(&str, Duration)> =
            retries.iter().map(|(r, d)| (r.as_str(), *d)).collect();
        crate::held::change_visibilities(&rt, &changes).await;
    }
    failed
}

/// The time left until the invocation's deadline, less what reporting needs.
fn budget_until(deadline_ms: i64) -> Duration {
    let left_ms = (deadline_ms - chrono::Utc::now().timestamp_millis()).max(0) as u64;
    Duration::from_millis(left_ms).saturating_sub(SAFETY)
}

/// Processes a record and carries out its disposition ([`crate::settle`]): deleted by SQS, or
/// kept (a retry's visibility is the caller's to set).
async fn settle<H: Handler>(rt: &Runtime<H>, record: &SqsMessage, budget: Duration) -> Settled {
    let never = watch::channel(false).1;
    let facts = message::from_lambda(record);
    let disposition = settle::run_job(rt, &facts, budget, &never).await;
    let raw = Raw {
        message_id: record.message_id.as_deref().unwrap_or_default(),
        body: record.body.as_deref().unwrap_or_default(),
    };
    settle::settle(rt, raw, &facts, disposition).await
}
