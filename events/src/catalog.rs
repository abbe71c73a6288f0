//! The one list of stoker's workers and event kinds: a new worker is a line in `workers`, its
//! job kinds lines in `kinds` (with their payload types, from `crate::payload`). Everything
//! else (the enums, names, routing, the typed `Body`, the schemas) is made from it.

use crate::payload::*;

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
