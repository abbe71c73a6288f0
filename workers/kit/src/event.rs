//! What the kit needs of an event type, and of a worker: any crate plugs its own in.
//!
//! The kit decodes each message body into the handler's [`JobEvent`], keys idempotency on its
//! [`EventMeta::id`], checks duplicates against its [`JobEvent::payload_hash`] and announces
//! outcomes through [`JobEvent::completed`] and [`JobEvent::failed`] (nothing by default).
//! stoker's own `stoker_events::Event` is one such type (the `stoker` feature); an example
//! outside stoker is `examples/orders`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::JobError;

/// What the kit knows of a message when it decodes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// The SQS message id (never blank).
    pub message_id: Option<&'a str>,
    /// SQS' `SentTimestamp`, when valid.
    pub sent_at: Option<DateTime<Utc>>,
}

/// The envelope of an event, as the kit and handlers read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The event's unique id: the idempotency key unless the handler declares another.
    pub id: String,
    /// Its kind (detail type), in run records, logs and the kit's `wrong_kind` error.
    pub kind: String,
    /// Ties the events of one operation together (copied into outcome events).
    pub correlation_id: String,
    /// Who asked for the job, in its run record.
    pub requested_by: String,
    /// When the event was made.
    pub time: DateTime<Utc>,
}

/// An event for EventBridge: what the kit sends when a job is done or failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The event's `Source`.
    pub source: String,
    /// Its `DetailType`.
    pub detail_type: String,
    /// Its `Detail`: a JSON object.
    pub detail: String,
}

/// A job that committed, for its announcement.
#[derive(Debug, Clone, Copy)]
pub struct Completed<'a> {
    /// The worker's name.
    pub worker: &'a str,
    /// Handler attempts in the delivery that completed it.
    pub attempts: u32,
    /// Milliseconds from the start of processing to the completion.
    pub duration_ms: u64,
    /// The job's report.
    pub report: &'a serde_json::Value,
}

/// A job that failed for good, for its announcement.
#[derive(Debug, Clone, Copy)]
pub struct Failed<'a> {
    /// The worker's name.
    pub worker: &'a str,
    /// Handler attempts in the last delivery.
    pub attempts: u32,
    /// Why it failed.
    pub error: &'a JobError,
}

/// An event type the kit can run jobs of.
pub trait JobEvent: Sized + Send + Sync + 'static {
    /// The event in a message body. An error is permanent: the message goes to the DLQ with
    /// the error's code and reason, and nothing runs.
    fn decode(body: &str, delivery: &Delivery<'_>) -> Result<Self, JobError>;

    /// The event's envelope.
    fn meta(&self) -> EventMeta;

    /// A digest of what the event asks (kind and payload, not its id or time): a second
    /// event with the same idempotency key but another digest is refused as a conflict.
    fn payload_hash(&self) -> String;

    /// The event announcing a committed job, if any (none by default).
    fn completed(&self, _done: &Completed<'_>) -> Option<Announcement> {
        None
    }

    /// The event announcing a job that failed for good, if any (none by default).
    fn failed(&self, _failed: &Failed<'_>) -> Option<Announcement> {
        None
    }
}

/// Who a worker is to the kit: its name (metrics dimension, run records, claim keys, IAM call
/// records), the stack outputs its settings come from, and its default job timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkerId {
    name: &'static str,
    outputs: Option<&'static str>,
    job_timeout: Duration,
}

impl WorkerId {
    /// A worker named `name` (lowercase, `-` allowed), with a 60-second default job timeout.
    pub const fn new(name: &'static str) -> Self {
        WorkerId {
            name,
            outputs: None,
            job_timeout: Duration::from_secs(60),
        }
    }

    /// The stem of the stack outputs holding its queue and DLQ URLs (`Backup` for
    /// `BackupQueueUrl`), named in configuration errors.
    pub const fn with_outputs(mut self, stem: &'static str) -> Self {
        self.outputs = Some(stem);
        self
    }

    /// Its default job timeout (the long-poll driver's budget per job).
    pub const fn with_job_timeout(mut self, timeout: Duration) -> Self {
        self.job_timeout = timeout;
        self
    }

    /// Its name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The stem of its stack outputs, when it has one.
    pub const fn outputs(&self) -> Option<&'static str> {
        self.outputs
    }

    /// Its default job timeout.
    pub const fn job_timeout(&self) -> Duration {
        self.job_timeout
    }
}
