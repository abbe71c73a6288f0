//! The one typed language of the stoker pipeline.
//!
//! Every event on the stoker bus has a [`Kind`] (its EventBridge `detail-type`); every job
//! kind is handled by exactly one [`Worker`], which owns one SQS queue. Events travel in an
//! [`Envelope`]; workers get them back through one entry point, [`decode`], whatever shape
//! they arrived in (SQS body, EventBridge event, schedule input), validated, or with a
//! precise, permanent [`DecodeError`].
//!
//! ```
//! use stoker_events::{decode, Body, Delivery, Envelope, Kind, Worker};
//! use stoker_events::payload::warmup::{WarmupRequest, WarmupTarget};
//!
//! let req = WarmupRequest {
//!     targets: vec![WarmupTarget { function: "api".into(), qualifier: Some("live".into()), concurrency: 5, payload: None, schedules: vec![] }],
//!     hold_open_ms: 100,
//!     invocation_timeout_ms: 10_000,
//!     tick_minutes: 5,
//! };
//! let env = Envelope::new(req.clone(), "stoker.operator", "operator:alice");
//! assert_eq!(env.kind.worker(), Some(Worker::Warmup));
//!
//! let event = decode(&serde_json::to_string(&env).unwrap(), &Delivery::default()).unwrap();
//! assert_eq!(event.meta.id, env.id);
//! assert_eq!(event.body, Body::Warmup(req));
//! ```
//!
//! ## Evolving payloads
//! - **Additive** (a new optional field with a default, a new enum value nobody must send):
//!   keeps [`SCHEMA_VERSION`]. Deploy workers before publishers.
//! - **Breaking** (renaming, removing, retyping, tightening a limit): bumps the version;
//!   workers keep decoding every older version (its fixture stays in `events/fixtures/`).
//! - **Unknown fields are rejected** in envelopes and payloads, so a typo (`concurency`)
//!   fails loudly with its path instead of being silently ignored. Fields AWS adds to the
//!   EventBridge wrapper (`account`, `region`, `resources`, ...) are ignored.

mod body;
pub mod cron;
mod decode;
mod envelope;
mod error;
mod kind;
pub mod names;
pub mod payload;
pub mod schema;
mod strict_json;
pub mod validate;

#[cfg(test)]
mod arb;
#[cfg(test)]
mod proptests;

pub use body::{Body, Payload};
pub use decode::{Delivery, decode, decode_bytes};
pub use envelope::{Envelope, Event, MAX_EVENT_BYTES, Meta, SCHEMA_VERSION, Shape};
pub use error::DecodeError;
pub use kind::{Kind, UnknownKind, UnknownWorker, Worker};

/// The EventBridge `source` of events sent by stoker's schedule rules.
pub const SOURCE_SCHEDULE: &str = "stoker.schedule";
/// The EventBridge `source` of events published by operators (CLI).
pub const SOURCE_OPERATOR: &str = "stoker.operator";
/// The EventBridge `source` of outcome events emitted by workers.
pub const SOURCE_WORKER: &str = "stoker.worker";
