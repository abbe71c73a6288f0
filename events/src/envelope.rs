//! The envelope every stoker event travels in, and the metadata of a decoded event.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::body::{Body, Payload};
use crate::kind::Kind;

/// The schema version this build writes. Additive changes (a new optional field with a
/// default) keep it; anything else bumps it, and workers accept every version up to theirs.
pub const SCHEMA_VERSION: u32 = 1;

/// EventBridge's limit on one entry; stoker enforces it on every shape it decodes.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// A stoker event as published: the `detail` of an EventBridge entry, or an SQS body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope<P> {
    /// A UUID (v7 when stoker minted it). Also the idempotency key of the job.
    pub id: Uuid,
    /// The event kind (EventBridge detail-type).
    pub kind: Kind,
    /// The payload's schema version.
    #[schemars(range(min = 1))]
    pub version: u32,
    /// Who published it: `stoker.operator`, `stoker.schedule`, `stoker.worker`, or your own.
    #[schemars(length(min = 1, max = 256))]
    pub source: String,
    /// When it was published (RFC 3339).
    pub time: DateTime<Utc>,
    /// Ties the events of one piece of work together (defaults to `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub correlation_id: Option<String>,
    /// Who asked: `operator:<identity>`, `schedule:<rule>`, `worker:<name>`.
    #[schemars(length(min = 1, max = 256))]
    pub requested_by: String,
    pub payload: P,
}

impl<P: Payload> Envelope<P> {
    /// A new event with a fresh UUID v7 id and the current time.
    pub fn new(payload: P, source: &str, requested_by: &str) -> Self {
        Envelope {
            id: Uuid::now_v7(),
            kind: P::KIND,
            version: SCHEMA_VERSION,
            source: source.to_owned(),
            time: Utc::now(),
            correlation_id: None,
            requested_by: requested_by.to_owned(),
            payload,
        }
    }
}

/// Which shape an event arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A stoker envelope, e.g. an SQS body sent directly or redriven.
    Envelope,
    /// An EventBridge event delivered by a rule, `detail` holding an envelope.
    EventBridgeEnvelope,
    /// An EventBridge event delivered by a rule, `detail` holding just the payload.
    EventBridgePayload,
    /// The constant input of a schedule rule (an envelope without id and time).
    ScheduleInput,
}

/// Everything about a decoded event except its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub id: Uuid,
    pub kind: Kind,
    pub version: u32,
    pub source: String,
    pub time: DateTime<Utc>,
    pub correlation_id: String,
    pub requested_by: String,
    pub shape: Shape,
}

/// A decoded, validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub meta: Meta,
    pub body: Body,
}

impl Event {
    /// The event as an envelope (for re-publishing, redrive, or the ops table).
    pub fn to_envelope(&self) -> Envelope<serde_json::Value> {
        let m = &self.meta;
        Envelope {
            id: m.id,
            kind: m.kind,
            version: m.version,
            source: m.source.clone(),
            time: m.time,
            correlation_id: Some(m.correlation_id.clone()),
            requested_by: m.requested_by.clone(),
            payload: self.body.to_value(),
        }
    }
}
