//! The stoker worker kit: everything a Rust queue worker needs besides its job logic.
//!
//! - [`Job`]: a worker is an async function of its typed request returning a typed report or
//!   a [`JobError`] that is permanent or retryable by type; the kit finds the request in the
//!   event. Every `Job` is a [`Handler`], the raw form ([`handler_fn`]).
//! - Any event type: a queue's events are a [`JobEvent`] (decode, envelope, payload digest,
//!   outcome announcements). stoker's own events are one, with the `stoker` feature (on by
//!   default, [`stoker`]); a crate with its own events turns the feature off.
//! - Two drivers for the same handler: [`lambda`] (SQS event source, `batchItemFailures`) and
//!   [`poll`] (long-polling process with graceful shutdown); [`run()`] picks one.
//! - The idempotent retry helper ([`process`], [`ops`], [`backoff`]): a claim per event in
//!   the ops table (none in [`Idempotency::Optimistic`] mode), claims and completions of the
//!   jobs running together in one transaction, replays of completed jobs without side
//!   effects, in-process retries with
//!   full-jitter backoff for transient errors, growing redelivery delays, permanent errors to
//!   the DLQ at once with their reason ([`dlq`]).
//! - Structured logs ([`telemetry`]), CloudWatch EMF metrics ([`emf`]), outcome events
//!   ([`outcome`]), AWS SDK configuration ([`aws`]), error classification ([`classify`]), the record of
//!   every AWS call for the IAM call check and the count of requests per service ([`calls`]).

#![deny(missing_docs)]

pub mod aws;
pub mod backoff;
pub(crate) mod batching;
pub mod calls;
pub mod classify;
pub(crate) mod coalesce;
pub mod config;
pub mod cost;
pub mod dlq;
pub mod emf;
pub mod error;
pub mod event;
#[cfg(feature = "stoker")]
pub mod fuzz_checks;
pub mod held;
pub mod job;
pub mod lambda;
pub mod layers;
pub mod lease;
pub mod message;
pub mod ops;
pub mod outcome;
pub mod poll;
pub mod process;
pub mod progress;
pub mod report_line;
pub mod run;
pub mod schema;
pub mod section;
pub mod settle;
pub(crate) mod slot;
#[cfg(feature = "stoker")]
pub mod stoker;
pub mod summary;
pub mod task;
pub mod telemetry;
pub mod typed;
pub mod wait;

pub use backoff::RetryPolicy;
pub use config::WorkerConfig;
pub use error::JobError;
pub use event::{Announcement, Delivery, EventMeta, JobEvent, WorkerId};
pub use job::{FnHandler, Handler, Idempotency, JobCtx, Outcome, handler_fn};
pub use process::{Delivered, Disposition, Runtime};
pub use run::{RunError, run, run_configured, run_with, runtime, serve};
pub use summary::{MAX_REPORT_BYTES, Summary};
pub use typed::{Job, Request};
