//! Counters of the AWS calls the kit makes, for benchmarks and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one runtime's AWS calls and jobs; cheap to bump from any task.
#[derive(Debug, Default)]
pub struct Stats {
    ddb: AtomicU64,
    sqs: AtomicU64,
    events: AtomicU64,
    jobs: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// DynamoDB requests sent.
    pub dynamodb_calls: u64,
    /// SQS requests sent.
    pub sqs_calls: u64,
    /// EventBridge requests sent.
    pub eventbridge_calls: u64,
    /// Messages processed (one per [`Runtime::process`](crate::Runtime::process) call).
    pub jobs: u64,
}

impl Stats {
    /// Counts a DynamoDB request.
    pub fn ddb(&self) {
        self.ddb.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts an SQS request.
    pub fn sqs(&self) {
        self.sqs.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts an EventBridge request.
    pub fn events(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts a processed message.
    pub fn job(&self) {
        self.jobs.fetch_add(1, Ordering::Relaxed);
    }
    /// The counts so far.
    pub fn counts(&self) -> Counts {
        Counts {
            dynamodb_calls: self.ddb.load(Ordering::Relaxed),
            sqs_calls: self.sqs.load(Ordering::Relaxed),
            eventbridge_calls: self.events.load(Ordering::Relaxed),
            jobs: self.jobs.load(Ordering::Relaxed),
        }
    }
}
