//! The orders service's own events, as they arrive on the queue:
//!
//! ```json
//! { "id": "evt-81f2", "type": "order.placed", "time": "2026-12-01T20:00:00Z",
//!   "source": "checkout", "correlation_id": "cart-77",
//!   "detail": { "order_id": "o-1001", "customer_id": "c-7", "total_cents": 1299,
//!               "currency": "EUR", "lines": 2 } }
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stoker_kit::JobError;
use stoker_kit::event::{Announcement, Completed, Delivery, EventMeta, Failed, JobEvent};

/// The source of the events this consumer announces.
pub const SOURCE: &str = "orders";

/// An order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPlaced {
    /// The order's id (letters, digits, `-`; at most 64).
    pub order_id: String,
    /// Who placed it (same rules).
    pub customer_id: String,
    /// Its total in the currency's smallest unit, from 1 to 100,000,000.
    pub total_cents: u64,
    /// ISO 4217 code, three capital letters.
    pub currency: String,
    /// Order lines, from 1 to 500.
    pub lines: u32,
}

/// An order was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancelled {
    /// The order's id.
    pub order_id: String,
}

/// What an event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderBody {
    /// `order.placed`
    Placed(OrderPlaced),
    /// `order.cancelled`
    Cancelled(OrderCancelled),
}

impl OrderBody {
    /// The event's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            OrderBody::Placed(_) => "order.placed",
            OrderBody::Cancelled(_) => "order.cancelled",
        }
    }

    fn detail(&self) -> serde_json::Value {
        match self {
            OrderBody::Placed(p) => serde_json::to_value(p),
            OrderBody::Cancelled(c) => serde_json::to_value(c),
        }
        .unwrap_or_default()
    }
}

/// A decoded, checked orders event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    /// Unique per event.
    pub id: String,
    /// When it was made.
    pub time: DateTime<Utc>,
    /// Who sent it.
    pub source: String,
    /// Ties the events of one checkout together.
    pub correlation_id: Option<String>,
    /// What it says.
    pub body: OrderBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    time: DateTime<Utc>,
    source: String,
    #[serde(default)]
    correlation_id: Option<String>,
    detail: serde_json::Value,
}

fn bad(code: &str, message: String) -> JobError {
    JobError::permanent(code, message)
}

fn check_id(field: &str, v: &str) -> Result<(), JobError> {
    let ok =
        !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid_field",
            format!("{field} must be 1-64 letters, digits or `-`"),
        ))
    }
}

fn check_placed(p: &OrderPlaced) -> Result<(), JobError> {
    check_id("order_id", &p.order_id)?;
    check_id("customer_id", &p.customer_id)?;
    if !(1..=100_000_000).contains(&p.total_cents) {
        return Err(bad(
            "invalid_field",
            format!("total_cents must be 1 to 100000000, not {}", p.total_cents),
        ));
    }
    if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(
            "invalid_field",
            "currency must be three capital letters (ISO 4217)".into(),
        ));
    }
    if !(1..=500).contains(&p.lines) {
        return Err(bad("invalid_field", "lines must be 1 to 500".into()));
    }
    Ok(())
}

fn detail<T: serde::de::DeserializeOwned>(kind: &str, v: serde_json::Value) -> Result<T, JobError> {
    serde_json::from_value(v).map_err(|e| bad("invalid_detail", format!("{kind}: {e}")))
}

impl JobEvent for OrderEvent {
    fn decode(body: &str, _delivery: &Delivery<'_>) -> Result<Self, JobError> {
        let raw: Raw = serde_json::from_str(body)
            .map_err(|e| bad("malformed_event", format!("not an orders event: {e}")))?;
        check_id("id", &raw.id)?;
        let body = match raw.kind.as_str() {
            "order.placed" => {
                let p: OrderPlaced = detail(&raw.kind, raw.detail)?;
                check_placed(&p)?;
                OrderBody::Placed(p)
            }
            "order.cancelled" => {
                let c: OrderCancelled = detail(&raw.kind, raw.detail)?;
                check_id("order_id", &c.order_id)?;
                OrderBody::Cancelled(c)
            }
            other => {
                return Err(bad(
                    "unknown_type",
                    format!(
                        "unknown event type `{other}`; expected order.placed or order.cancelled"
                    ),
                ));
            }
        };
        Ok(OrderEvent {
            id: raw.id,
            time: raw.time,
            source: raw.source,
            correlation_id: raw.correlation_id,
            body,
        })
    }

    fn meta(&self) -> EventMeta {
        EventMeta {
            id: self.id.clone(),
            kind: self.body.kind().to_owned(),
            correlation_id: self
                .correlation_id
                .clone()
                .unwrap_or_else(|| self.id.clone()),
            requested_by: self.source.clone(),
            time: self.time,
        }
    }

    fn payload_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.body.kind().as_bytes());
        h.update(b"\n");
        h.update(self.body.detail().to_string().as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn completed(&self, done: &Completed<'_>) -> Option<Announcement> {
        let detail = serde_json::json!({
            "event_id": self.id,
            "worker": done.worker,
            "attempts": done.attempts,
            "report": done.report,
        });
        Some(Announcement {
            source: SOURCE.into(),
            detail_type: "orders.order.recorded".into(),
            detail: detail.to_string(),
        })
    }

    fn failed(&self, failed: &Failed<'_>) -> Option<Announcement> {
        let detail = serde_json::json!({
            "event_id": self.id,
            "worker": failed.worker,
            "code": failed.error.code(),
            "reason": failed.error.to_string(),
        });
        Some(Announcement {
            source: SOURCE.into(),
            detail_type: "orders.order.failed".into(),
            detail: detail.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<OrderEvent, JobError> {
        OrderEvent::decode(body, &Delivery::default())
    }

    const PLACED: &str = r#"{"id":"e-1","type":"order.placed","time":"2026-12-01T20:00:00Z","source":"checkout","detail":{"order_id":"o-1","customer_id":"c-1","total_cents":1299,"currency":"EUR","lines":2}}"#;

    #[test]
    fn a_placed_order_decodes_with_its_envelope() {
        let e = decode(PLACED).expect("decodes");
        assert_eq!(e.meta().kind, "order.placed");
        assert_eq!(e.meta().correlation_id, "e-1");
        assert!(matches!(e.body, OrderBody::Placed(ref p) if p.total_cents == 1299));
    }

    #[test]
    fn bad_events_are_refused_for_good_with_a_code() {
        let cases = [
            ("{", "malformed_event"),
            (
                &PLACED.replace("order.placed", "order.shipped"),
                "unknown_type",
            ),
            (
                &PLACED.replace("\"lines\":2", "\"lines\":2,\"x\":1"),
                "invalid_detail",
            ),
            (&PLACED.replace("1299", "0"), "invalid_field"),
            (&PLACED.replace("EUR", "eur"), "invalid_field"),
            (&PLACED.replace("\"o-1\"", "\"o 1\""), "invalid_field"),
        ];
        for (body, code) in cases {
            let err = decode(body).expect_err(body);
            assert!(err.is_permanent(), "{body}");
            assert_eq!(err.code(), code, "{body}: {err}");
        }
    }

    #[test]
    fn the_payload_hash_ignores_the_envelope_and_sees_the_detail() {
        let a = decode(PLACED).expect("a");
        let b = decode(&PLACED.replace("e-1", "e-2")).expect("b");
        let c = decode(&PLACED.replace("1299", "1300")).expect("c");
        assert_eq!(a.payload_hash(), b.payload_hash());
        assert_ne!(a.payload_hash(), c.payload_hash());
    }
}
