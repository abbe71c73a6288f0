//! The test worker's handler (see `src/bin/testworker.rs`): behaviour chosen per event,
//! side effects counted in the ops table so tests can count them across processes.
//!
//! It handles `stoker.warmup.requested` events; `targets[0].payload` picks the behaviour:
//! `{"sleep_ms": 0, "fail_attempts": 0, "fail_deliveries": 0, "permanent": false,
//!   "panic": false, "tag": null, "requires_fix": null, "stage": false, "fail_after_effect": 0}`
//!   (`requires_fix: T` fails permanently until an item `pk = FIX#T, sk = FIX` exists in the ops
//!   table; `stage` stages the side effect with the completion instead of writing it at once;
//!   `fail_after_effect: N` fails the first N attempts transiently after the side effect).

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use stoker_events::{Body, Event, Worker};
use stoker_kit::{Handler, JobCtx, JobError, Outcome, classify::sdk_error};

/// The handler.
#[derive(Debug, Clone)]
pub struct TestWorker {
    pub ddb: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl Handler for TestWorker {
    type Event = Event;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::Warmup.into()
    }

    async fn handle(&self, event: &Event, ctx: &JobCtx) -> Result<Outcome, JobError> {
        let Body::Warmup(req) = &event.body else {
            return Err(JobError::permanent(
                "wrong_kind",
                "the test worker handles warm-up requests only",
            ));
        };
        let b = req.targets[0].payload.clone().unwrap_or_default();
        let num = |k: &str| b.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(num("sleep_ms"))).await;
        if b.get("panic").and_then(|v| v.as_bool()) == Some(true) {
            panic!("asked to panic");
        }
        if b.get("permanent").and_then(|v| v.as_bool()) == Some(true) {
            return Err(JobError::permanent(
                "bad_input",
                "asked to fail permanently: fix the event",
            ));
        }
        if let Some(tag) = b.get("requires_fix").and_then(|t| t.as_str()) {
            let fixed = self
                .ddb
                .get_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(format!("FIX#{tag}")))
                .key("sk", AttributeValue::S("FIX".into()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk_error("GetItem (fix)", e))?;
            if fixed.item.is_none() {
                return Err(JobError::permanent(
                    "not_fixed",
                    format!("{tag} is not fixed yet: fix it, then redrive"),
                ));
            }
        }
        if u64::from(ctx.attempt) <= num("fail_attempts") {
            return Err(JobError::transient(format!(
                "asked to fail attempt {}",
                ctx.attempt
            )));
        }
        if u64::from(ctx.receive_count) <= num("fail_deliveries") {
            return Err(JobError::retryable(format!(
                "asked to fail delivery {}",
                ctx.receive_count
            )));
        }
        // The side effect: counted per event; with a tag, the order of events is recorded too.
        // `stage: true` commits it with the job's completion instead of writing it now.
        let id = event.meta.id.to_string();
        let effect = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("EFFECT#{id}")))
            .key("sk", AttributeValue::S("EFFECT".into()))
            .update_expression("ADD effects :one SET attempts_seen = :attempt")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":attempt", AttributeValue::N(ctx.attempt.to_string()))
            .build()
            .map_err(|e| JobError::permanent("effect", e.to_string()))?;
        if b.get("stage").and_then(|v| v.as_bool()) == Some(true) {
            ctx.stage(TransactWriteItem::builder().update(effect).build());
        } else {
            self.ddb
                .update_item()
                .table_name(effect.table_name())
                .set_key(Some(effect.key().clone()))
                .update_expression(effect.update_expression())
                .set_expression_attribute_values(effect.expression_attribute_values().cloned())
                .send()
                .await
                .map_err(|e| sdk_error("UpdateItem (effect)", e))?;
        }
        if u64::from(ctx.attempt) <= num("fail_after_effect") {
            return Err(JobError::transient(format!(
                "asked to fail attempt {} after the side effect",
                ctx.attempt
            )));
        }
        if let Some(tag) = b.get("tag").and_then(|t| t.as_str()) {
            self.ddb
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(format!("ORDER#{tag}")))
                .key("sk", AttributeValue::S("ORDER".into()))
                .update_expression("SET seq = list_append(if_not_exists(seq, :empty), :me)")
                .expression_attribute_values(":empty", AttributeValue::L(vec![]))
                .expression_attribute_values(
                    ":me",
                    AttributeValue::L(vec![AttributeValue::S(req.targets[0].function.clone())]),
                )
                .send()
                .await
                .map_err(|e| sdk_error("UpdateItem (order)", e))?;
        }
        Ok(serde_json::json!({ "effect": id, "attempt": ctx.attempt }))
    }
}

/// The test worker declaring its effects all staged (`Idempotency::Optimistic`): send it events
/// with `"stage": true`.
#[derive(Debug, Clone)]
pub struct Optimistic(pub TestWorker);

impl Handler for Optimistic {
    type Event = Event;

    fn worker(&self) -> stoker_kit::WorkerId {
        self.0.worker()
    }

    fn idempotency(&self) -> stoker_kit::Idempotency {
        stoker_kit::Idempotency::Optimistic
    }

    async fn handle(&self, event: &Event, ctx: &JobCtx) -> Result<Outcome, JobError> {
        self.0.handle(event, ctx).await
    }
}
