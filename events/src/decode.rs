//! One entry point for every shape a worker really receives.
//!
//! ```
//! use stoker_events::{decode, Body, Delivery, Shape};
//! let body = r#"{"kind": "stoker.warmup.requested", "version": 1, "source": "stoker.schedule",
//!   "requested_by": "schedule:warmup", "payload": {"targets": [{"function": "api", "concurrency": 3}]}}"#;
//! let delivery = Delivery { message_id: Some("059f36b4-87a3-44ab-83d2-661975830a7d"), sent_at: None };
//! let event = decode(body, &delivery).unwrap();
//! assert_eq!(event.meta.shape, Shape::ScheduleInput);
//! let Body::Warmup(req) = event.body else { panic!() };
//! assert_eq!(req.targets[0].concurrency, 3);
//! ```

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::SOURCE_WORKER;
use crate::body::{Body, path_of};
use crate::envelope::{Event, MAX_EVENT_BYTES, Meta, SCHEMA_VERSION, Shape};
use crate::error::DecodeError;
use crate::kind::Kind;

/// Facts about the delivery that some shapes need: a schedule input has no id or time of its
/// own, so it takes them from its SQS message (stable across redeliveries).
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery<'a> {
    pub message_id: Option<&'a str>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Namespace for ids derived from SQS message ids that are not UUIDs themselves.
const DELIVERY_NS: Uuid = Uuid::from_u128(0x5f0c_e2a1_7d3b_4c59_9e61_2b8a_0d4f_3c17);

/// Decodes bytes (checks UTF-8 first).
pub fn decode_bytes(body: &[u8], delivery: &Delivery) -> Result<Event, DecodeError> {
    check_size(body.len())?;
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    decode(text, delivery)
}

/// Decodes an SQS body or EventBridge event into a validated [`Event`].
pub fn decode(body: &str, delivery: &Delivery) -> Result<Event, DecodeError> {
    check_size(body.len())?;
    if body.starts_with('\u{feff}') {
        return Err(DecodeError::InvalidJson {
            line: 1,
            column: 1,
            message: "the body starts with a byte-order mark (U+FEFF); send JSON without one"
                .into(),
        });
    }
    let value: Value = crate::strict_json::parse(body).map_err(|e| DecodeError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Value::Object(obj) = value else {
        return Err(DecodeError::NotAnObject);
    };
    if obj.contains_key("detail-type") && obj.contains_key("detail") {
        decode_eventbridge(obj)
    } else if obj.contains_key("kind") && obj.contains_key("payload") {
        decode_envelope(obj, delivery, None)
    } else {
        let keys = obj.keys().take(8).cloned().collect::<Vec<_>>().join(", ");
        Err(DecodeError::UnknownShape { keys })
    }
}

fn check_size(size: usize) -> Result<(), DecodeError> {
    if size > MAX_EVENT_BYTES {
        Err(DecodeError::TooLarge {
            size,
            limit: MAX_EVENT_BYTES,
        })
    } else {
        Ok(())
    }
}

/// The envelope as received: id and time are absent in a schedule input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    id: Option<Uuid>,
    kind: String,
    version: u64,
    source: String,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    requested_by: Option<String>,
    payload: Value,
}

/// The parts of an EventBridge event stoker reads (AWS adds more; they are ignored).
#[derive(Deserialize)]
struct RawEventBridge {
    id: Uuid,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    time: DateTime<Utc>,
    detail: Value,
}

fn decode_eventbridge(obj: Map<String, Value>) -> Result<Event, DecodeError> {
    let raw: RawEventBridge =
        serde_path_to_error::deserialize(Value::Object(obj)).map_err(malformed(None))?;
    let kind: Kind = raw
        .detail_type
        .parse()
        .map_err(|_| DecodeError::UnknownKind(raw.detail_type.clone()))?;
    check_source(kind, &raw.source)?;
    check_id_time(Some(raw.id), Some(raw.time), "")?;
    let Value::Object(detail) = raw.detail else {
        return Err(DecodeError::Malformed {
            kind: Some(kind),
            path: "detail".into(),
            message: "must be a JSON object".into(),
        });
    };
    if detail.contains_key("kind") && detail.contains_key("payload") {
        let outer = Outer {
            id: raw.id,
            time: raw.time,
            detail_type: raw.detail_type,
            source: raw.source,
        };
        return decode_envelope(detail, &Delivery::default(), Some(outer));
    }
    let body = Body::from_value(kind, Value::Object(detail))?;
    let meta = Meta {
        id: raw.id,
        kind,
        version: SCHEMA_VERSION,
        requested_by: format!("eventbridge:{}", raw.source),
        source: raw.source,
        time: raw.time,
        correlation_id: raw.id.to_string(),
        shape: Shape::EventBridgePayload,
    };
    Ok(Event { meta, body })
}

/// What the EventBridge wrapper says, when an envelope came inside one.
struct Outer {
    id: Uuid,
    time: DateTime<Utc>,
    detail_type: String,
    /// Set by whoever called PutEvents, under IAM's `events:source` condition: it is the
    /// source that counts, whatever the envelope inside claims.
    source: String,
}

/// How far ahead of the worker's clock an event's `time` may be (clock skew).
const MAX_AHEAD: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Ids and times a publisher could not have meant: the nil UUID (an unset id: every such
/// event would share one idempotency key), a time more than [`MAX_AHEAD`] in the future, or
/// one before 2000 (an unset or garbage clock). Any other past time is accepted: a redrive
/// from a DLQ legitimately carries a job's original time, whatever its age.
fn check_id_time(
    id: Option<Uuid>,
    time: Option<DateTime<Utc>>,
    at: &str,
) -> Result<(), DecodeError> {
    let bad = |path: &str, message: String| DecodeError::Malformed {
        kind: None,
        path: format!("{at}{path}"),
        message,
    };
    if id.is_some_and(|id| id.is_nil()) {
        return Err(bad(
            "id",
            "is the nil UUID; give every event its own id (UUID v7)".into(),
        ));
    }
    if let Some(t) = time {
        let now = Utc::now();
        if t > now + MAX_AHEAD {
            return Err(bad(
                "time",
                format!(
                    "{t} is more than 1 h ahead of the worker's clock ({now}); publish with the current time"
                ),
            ));
        }
        if t.timestamp() < 946_684_800 {
            return Err(bad(
                "time",
                format!("{t} is before 2000: an unset clock? publish with the current time"),
            ));
        }
    }
    Ok(())
}

/// Workers may publish outcome events only: a job kind from a worker's source is refused, so
/// a worker (or anyone holding its role) cannot use the bus to start other jobs.
fn check_source(kind: Kind, source: &str) -> Result<(), DecodeError> {
    if kind.worker().is_some() && source == SOURCE_WORKER {
        return Err(DecodeError::ForbiddenSource {
            kind,
            from: source.to_owned(),
        });
    }
    Ok(())
}

fn decode_envelope(
    obj: Map<String, Value>,
    delivery: &Delivery,
    outer: Option<Outer>,
) -> Result<Event, DecodeError> {
    let raw: RawEnvelope =
        serde_path_to_error::deserialize(Value::Object(obj)).map_err(malformed(None))?;
    let kind: Kind = raw
        .kind
        .parse()
        .map_err(|_| DecodeError::UnknownKind(raw.kind.clone()))?;
    if let Some(o) = outer.as_ref().filter(|o| o.detail_type != raw.kind) {
        return Err(DecodeError::KindMismatch {
            detail_type: o.detail_type.clone(),
            envelope_kind: raw.kind,
        });
    }
    if raw.version == 0 || raw.version > u64::from(SCHEMA_VERSION) {
        return Err(DecodeError::UnsupportedVersion {
            kind,
            version: raw.version,
            supported: SCHEMA_VERSION,
        });
    }
    check_meta(kind, &raw)?;
    check_source(kind, &raw.source)?;
    check_id_time(raw.id, raw.time, "")?;
    let (id, time, shape) = match (raw.id, raw.time, &outer) {
        (Some(id), Some(time), Some(_)) => (id, time, Shape::EventBridgeEnvelope),
        (Some(id), Some(time), None) => (id, time, Shape::Envelope),
        (None, None, Some(o)) => (o.id, o.time, Shape::EventBridgeEnvelope),
        (None, None, None) => {
            let message_id = delivery.message_id.ok_or(DecodeError::MissingDeliveryId)?;
            let id = Uuid::parse_str(message_id)
                .unwrap_or_else(|_| Uuid::new_v5(&DELIVERY_NS, message_id.as_bytes()));
            (
                id,
                delivery.sent_at.unwrap_or_else(Utc::now),
                Shape::ScheduleInput,
            )
        }
        (id, _, _) => {
            let missing = if id.is_none() { "id" } else { "time" };
            return Err(DecodeError::Malformed {
                kind: None,
                path: missing.into(),
                message: "missing; give both id and time, or neither (a schedule input)".into(),
            });
        }
    };
    let body = Body::from_value(kind, raw.payload)?;
    let version = u32::try_from(raw.version).unwrap_or(SCHEMA_VERSION);
    let meta = Meta {
        id,
        kind,
        version,
        correlation_id: raw.correlation_id.unwrap_or_else(|| id.to_string()),
        requested_by: raw
            .requested_by
            .unwrap_or_else(|| format!("unknown:{}", raw.source)),
        source: outer.map_or(raw.source, |o| o.source),
        time,
        shape,
    };
    Ok(Event { meta, body })
}

fn check_meta(kind: Kind, raw: &RawEnvelope) -> Result<(), DecodeError> {
    let bad = |path: &str, message: &str| {
        Err(DecodeError::Malformed {
            kind: None,
            path: path.into(),
            message: format!("{message} (in a {kind} envelope)"),
        })
    };
    if raw.source.is_empty() || raw.source.len() > 256 {
        return bad("source", "must be 1-256 characters");
    }
    if raw
        .requested_by
        .as_ref()
        .is_some_and(|r| r.is_empty() || r.len() > 256)
    {
        return bad("requested_by", "must be 1-256 characters");
    }
    if raw
        .correlation_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.len() > 128)
    {
        return bad("correlation_id", "must be 1-128 characters");
    }
    Ok(())
}

fn malformed(
    kind: Option<Kind>,
) -> impl Fn(serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    move |e| DecodeError::Malformed {
        kind,
        path: path_of(e.path()),
        message: e.into_inner().to_string(),
    }
}
