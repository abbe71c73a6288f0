//! The one typed language of the stoker pipeline.
//!
//! Every event on the stoker bus has a [`Kind`] (its EventBridge `detail-type`); every
//! job kind is handled by exactly one [`Worker`], which owns one SQS queue.
//!
//! ```
//! use stoker_events::{Kind, Worker};
//! let kind: Kind = "stoker.warmup.requested".parse().unwrap();
//! assert_eq!(kind.worker(), Some(Worker::Warmup));
//! assert_eq!(Kind::JobCompleted.worker(), None); // outcome events go to no queue
//! ```

mod kind;

pub use kind::{Kind, UnknownKind, Worker};

/// The EventBridge `source` stoker's own publishers use.
pub const SOURCE_SCHEDULE: &str = "stoker.schedule";
/// The EventBridge `source` of events published by operators (CLI).
pub const SOURCE_OPERATOR: &str = "stoker.operator";
/// The EventBridge `source` of outcome events emitted by workers.
pub const SOURCE_WORKER: &str = "stoker.worker";
