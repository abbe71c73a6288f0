//! An orders consumer built on stoker's kit, and not a stoker job: its own event type
//! ([`OrderEvent`]), its own queue, DLQ and tables, the kit's two drivers, idempotency,
//! retries, dead-letter reasons, staged writes, metrics and outcome events.
//!
//! The job records a placed order and adds it to its customer's totals. Both writes are
//! staged: they commit with the job's completion, in one transaction, exactly once per order
//! (the idempotency key is the order id, so a second event for the same order replays, and one
//! with another total is refused as a conflict). With every effect staged, the job runs in the
//! kit's optimistic mode: no claim before it runs, one shared ops-table write per commit.

pub mod event;
pub mod quarantine;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Serialize;
use stoker_kit::{Idempotency, Job, JobCtx, JobError, Request, Summary, WorkerId};

pub use event::{OrderBody, OrderCancelled, OrderEvent, OrderPlaced};
pub use quarantine::QuarantineLayer;

/// The worker, to the kit: its name in metrics, run records and claims.
pub const WORKER: WorkerId =
    WorkerId::new("orders").with_job_timeout(std::time::Duration::from_secs(30));

impl Request<OrderEvent> for OrderPlaced {
    const KINDS: &'static [&'static str] = &["order.placed"];

    fn from_event(event: &OrderEvent) -> Option<Self> {
        match &event.body {
            OrderBody::Placed(p) => Some(p.clone()),
            _ => None,
        }
    }
}

/// Records placed orders in the orders table (`pk = ORDER#<id>`) and customer totals
/// (`pk = CUSTOMER#<id>`: `orders`, `spent_cents`).
#[derive(Debug, Clone)]
pub struct RecordOrder {
    ddb: Client,
    table: String,
}

impl RecordOrder {
    /// Writes to the table `table` through `ddb`.
    pub fn new(ddb: Client, table: impl Into<String>) -> Self {
        RecordOrder {
            ddb,
            table: table.into(),
        }
    }

    /// The DynamoDB client it writes with.
    pub fn client(&self) -> &Client {
        &self.ddb
    }
}

/// What recording an order did.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// The order.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Its total, in cents.
    pub total_cents: u64,
}

impl Summary for Recorded {
    fn summary(&self) -> String {
        format!(
            "order {} of {} recorded ({} cents)",
            self.order_id, self.customer_id, self.total_cents
        )
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, JobError> {
    r.map_err(|e| JobError::permanent("request", e.to_string()))
}

impl Job for RecordOrder {
    type Event = OrderEvent;
    type Request = OrderPlaced;
    type Report = Recorded;

    fn worker(&self) -> WorkerId {
        WORKER
    }

    /// Both writes are staged: no claim is needed (one ops-table write per order, shared with
    /// the orders committing alongside).
    fn idempotency(&self) -> Idempotency {
        Idempotency::Optimistic
    }

    /// One order is recorded once, whichever event carries it.
    fn idempotency_key(&self, event: &OrderEvent) -> String {
        match &event.body {
            OrderBody::Placed(p) => format!("order#{}", p.order_id),
            OrderBody::Cancelled(_) => event.id.clone(),
        }
    }

    async fn run(&self, order: OrderPlaced, ctx: &JobCtx) -> Result<Recorded, JobError> {
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(&format!("ORDER#{}", order.order_id)))
                .item("customer_id", s(&order.customer_id))
                .item("total_cents", n(order.total_cents))
                .item("currency", s(&order.currency))
                .item("lines", n(u64::from(order.lines)))
                .item("event_id", s(&ctx.event.id))
                .build(),
        )?;
        let totals = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(&format!("CUSTOMER#{}", order.customer_id)))
                .update_expression("ADD orders :one, spent_cents :total")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":total", n(order.total_cents))
                .build(),
        )?;
        ctx.stage(TransactWriteItem::builder().put(put).build());
        ctx.stage(TransactWriteItem::builder().update(totals).build());
        Ok(Recorded {
            order_id: order.order_id,
            customer_id: order.customer_id,
            total_cents: order.total_cents,
        })
    }
}
