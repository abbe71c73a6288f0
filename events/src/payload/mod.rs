//! One payload type per job kind, and the outcome events.

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
