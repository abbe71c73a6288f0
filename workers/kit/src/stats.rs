//! Counters of the AWS calls the kit makes, for benchmarks and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

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
    pub dynamodb_calls: u64,
    pub sqs_calls: u64,
    pub eventbridge_calls: u64,
    pub jobs: u64,
}

impl Stats {
    pub fn ddb(&self) {
        self.ddb.fetch_add(1, Ordering::Relaxed);
    }
    pub fn sqs(&self) {
        self.sqs.fetch_add(1, Ordering::Relaxed);
    }
    pub fn events(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
    pub fn job(&self) {
        self.jobs.fetch_add(1, Ordering::Relaxed);
    }
    pub fn counts(&self) -> Counts {
        Counts {
            dynamodb_calls: self.ddb.load(Ordering::Relaxed),
            sqs_calls: self.sqs.load(Ordering::Relaxed),
            eventbridge_calls: self.events.load(Ordering::Relaxed),
            jobs: self.jobs.load(Ordering::Relaxed),
        }
    }
}
