//! One payload type per job kind, and the outcome events; and the catalog, the one list of
//! stoker's workers and event kinds.
//!
//! A new worker is a module here (its payload), a line in the catalog's `workers`, and its job
//! kinds as lines in `kinds`. Everything else (the enums [`crate::Worker`], [`crate::Kind`] and
//! [`crate::Body`], names, routing, the schemas) is made from it.

pub mod backup;
pub mod cache;
pub mod optimize;
pub mod outcome;
pub mod readiness;
pub mod rollup;
pub mod warmup;

pub use backup::BackupRequest;
pub use cache::CacheWarmRequest;
pub use optimize::OptimizeRequest;
pub use outcome::{JobCompleted, JobFailed, OptimizationRecommended, RegressionDetected};
pub use readiness::{ReadinessReported, ReadinessRequest};
pub use rollup::{MeasurementBatch, RollupRequest};
pub use warmup::WarmupRequest;

/// The catalog. (A module of its own, so the enums it makes are named from the crate root.)
mod catalog {
    use super::*;

    crate::kind::catalog! {
        workers {
            // variant = name (queues, logs, metrics, the ops table), CloudFormation stem, job
            // timeout in seconds (its infra/src/workers/<name>.yaml says the same)
            Warmup = "warmup", "Warmup", 60;
            CacheWarmer = "cache-warmer", "CacheWarmer", 120;
            Backup = "backup", "Backup", 900;
            Rollup = "rollup", "Rollup", 60;
            Optimizer = "optimizer", "Optimizer", 900;
            Readiness = "readiness", "Readiness", 300;
        }
        kinds {
            // kind = detail-type, the worker whose queue receives it, Body variant(payload type)
            WarmupRequested = "stoker.warmup.requested", Some(Worker::Warmup), Warmup(WarmupRequest);
            CacheWarmRequested = "stoker.cache-warm.requested", Some(Worker::CacheWarmer), CacheWarm(CacheWarmRequest);
            BackupRequested = "stoker.backup.requested", Some(Worker::Backup), Backup(BackupRequest);
            MeasurementsReported = "stoker.rollup.measurements", Some(Worker::Rollup), Measurements(MeasurementBatch);
            RollupRequested = "stoker.rollup.requested", Some(Worker::Rollup), Rollup(RollupRequest);
            OptimizeRequested = "stoker.optimize.requested", Some(Worker::Optimizer), Optimize(OptimizeRequest);
            ReadinessRequested = "stoker.readiness.requested", Some(Worker::Readiness), Readiness(ReadinessRequest);
            // Outcome events: no queue of their own.
            JobCompleted = "stoker.job.completed", None, JobCompleted(JobCompleted);
            JobFailed = "stoker.job.failed", None, JobFailed(JobFailed);
            RegressionDetected = "stoker.rollup.regression-detected", None, RegressionDetected(RegressionDetected);
            OptimizationRecommended = "stoker.optimizer.recommended", None, OptimizationRecommended(OptimizationRecommended);
            ReadinessReported = "stoker.readiness.reported", None, ReadinessReported(ReadinessReported);
        }
    }
}

pub use catalog::{Body, Kind, Worker};
