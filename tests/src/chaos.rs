//! The stand-in worker of the fault-injection run: on any worker's queue, for any job kind, one
//! counted side effect per event (`pk = EFFECT#<event id>`, `ADD effects 1`), staged to commit
//! with the job's completion, after a random pause of up to `pause_ms` (so kills land mid-job).
//! A poisoned event ([`crate::faultrun::POISON`]) fails for good instead.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use stoker_events::{Event, Worker};
use stoker_kit::{Handler, JobCtx, JobError, Outcome};

#[derive(Debug, Clone)]
pub struct ChaosWorker {
    pub worker: Worker,
    pub table: String,
    pub pause_ms: u64,
}

impl Handler for ChaosWorker {
    type Event = Event;

    fn worker(&self) -> stoker_kit::WorkerId {
        self.worker.into()
    }

    async fn handle(&self, event: &Event, ctx: &JobCtx) -> Result<Outcome, JobError> {
        if self.pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=self.pause_ms))).await;
        }
        if event.meta.requested_by == crate::faultrun::POISON {
            return Err(JobError::permanent(
                "poison",
                "a poisoned event of the fault run: it must reach the DLQ with this reason",
            ));
        }
        let id = event.meta.id.to_string();
        let effect = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("EFFECT#{id}")))
            .key("sk", AttributeValue::S("EFFECT".into()))
            .update_expression("ADD effects :one SET kind = :kind")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":kind",
                AttributeValue::S(event.meta.kind.detail_type().into()),
            )
            .build()
            .map_err(|e| JobError::permanent("effect", e.to_string()))?;
        ctx.stage(TransactWriteItem::builder().update(effect).build());
        Ok(serde_json::json!({ "effect": id }))
    }
}
