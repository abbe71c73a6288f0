//! Event kinds (EventBridge detail-types) and the workers that own them.

use std::fmt;
use std::str::FromStr;

/// A single-purpose queue worker. Each owns one SQS queue (plus its DLQ) in `infra/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Worker {
    Warmup,
    CacheWarmer,
    Backup,
    Rollup,
    Optimizer,
}

impl Worker {
    pub const ALL: [Worker; 5] = [
        Worker::Warmup,
        Worker::CacheWarmer,
        Worker::Backup,
        Worker::Rollup,
        Worker::Optimizer,
    ];

    /// The worker's name as used in queue names, logs, metrics and the ops table.
    pub fn name(self) -> &'static str {
        match self {
            Worker::Warmup => "warmup",
            Worker::CacheWarmer => "cache-warmer",
            Worker::Backup => "backup",
            Worker::Rollup => "rollup",
            Worker::Optimizer => "optimizer",
        }
    }

    /// The CloudFormation logical-id stem used for this worker's resources and outputs
    /// (`<Stem>Queue`, `<Stem>QueueUrl`, `<Stem>DlqUrl`, ...).
    pub fn stem(self) -> &'static str {
        match self {
            Worker::Warmup => "Warmup",
            Worker::CacheWarmer => "CacheWarmer",
            Worker::Backup => "Backup",
            Worker::Rollup => "Rollup",
            Worker::Optimizer => "Optimizer",
        }
    }

    /// The job kinds routed to this worker's queue.
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        Kind::ALL
            .into_iter()
            .filter(move |k| k.worker() == Some(self))
    }
}

impl fmt::Display for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Worker {
    type Err = UnknownWorker;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Worker::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| UnknownWorker(s.to_owned()))
    }
}

/// A worker name that is not one of [`Worker::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown worker `{0}`; expected one of: warmup, cache-warmer, backup, rollup, optimizer")]
pub struct UnknownWorker(pub String);

/// The kind of an event: its EventBridge `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    WarmupRequested,
    CacheWarmRequested,
    BackupRequested,
    MeasurementsReported,
    RollupRequested,
    OptimizeRequested,
    JobCompleted,
    JobFailed,
    RegressionDetected,
    OptimizationRecommended,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::WarmupRequested,
        Kind::CacheWarmRequested,
        Kind::BackupRequested,
        Kind::MeasurementsReported,
        Kind::RollupRequested,
        Kind::OptimizeRequested,
        Kind::JobCompleted,
        Kind::JobFailed,
        Kind::RegressionDetected,
        Kind::OptimizationRecommended,
    ];

    /// The EventBridge detail-type of this kind.
    pub const fn detail_type(self) -> &'static str {
        match self {
            Kind::WarmupRequested => "stoker.warmup.requested",
            Kind::CacheWarmRequested => "stoker.cache-warm.requested",
            Kind::BackupRequested => "stoker.backup.requested",
            Kind::MeasurementsReported => "stoker.rollup.measurements",
            Kind::RollupRequested => "stoker.rollup.requested",
            Kind::OptimizeRequested => "stoker.optimize.requested",
            Kind::JobCompleted => "stoker.job.completed",
            Kind::JobFailed => "stoker.job.failed",
            Kind::RegressionDetected => "stoker.rollup.regression-detected",
            Kind::OptimizationRecommended => "stoker.optimizer.recommended",
        }
    }

    /// The worker whose queue receives this kind; `None` for outcome events.
    pub fn worker(self) -> Option<Worker> {
        match self {
            Kind::WarmupRequested => Some(Worker::Warmup),
            Kind::CacheWarmRequested => Some(Worker::CacheWarmer),
            Kind::BackupRequested => Some(Worker::Backup),
            Kind::MeasurementsReported | Kind::RollupRequested => Some(Worker::Rollup),
            Kind::OptimizeRequested => Some(Worker::Optimizer),
            Kind::JobCompleted
            | Kind::JobFailed
            | Kind::RegressionDetected
            | Kind::OptimizationRecommended => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail_type())
    }
}

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.detail_type() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A detail-type that is not a stoker event kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind `{0}`; stoker kinds start with `stoker.` (see schemas/)")]
pub struct UnknownKind(pub String);

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.detail_type())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Kind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Kind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.detail_type()).collect();
        schemars::json_schema!({
            "description": "The event kind: its EventBridge detail-type.",
            "type": "string",
            "enum": kinds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_detail_type() {
        for kind in Kind::ALL {
            assert_eq!(kind.detail_type().parse::<Kind>(), Ok(kind));
        }
    }

    #[test]
    fn every_worker_round_trips_through_its_name_and_owns_a_kind() {
        for w in Worker::ALL {
            assert_eq!(w.name().parse::<Worker>(), Ok(w));
            assert!(w.kinds().count() >= 1, "{w} owns no kind");
        }
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!("stoker.nope".parse::<Kind>().is_err());
        assert!("Warmup".parse::<Worker>().is_err());
    }
}
