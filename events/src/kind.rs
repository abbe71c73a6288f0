//! Event kinds (EventBridge detail-types) and the workers that own them.

use std::fmt;
use std::str::FromStr;

/// Makes [`Worker`], [`Kind`] and `Body` from the catalog's lists (the catalog in `crate::payload`,
/// the only place that names them).
macro_rules! catalog {
    (
        workers { $($w:ident = $name:literal, $stem:literal, $timeout:literal;)* }
        kinds { $($k:ident = $dt:literal, $owner:expr, $variant:ident($ty:ty);)* }
    ) => {
        /// A single-purpose queue worker. Each owns one SQS queue (plus its DLQ) in `infra/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Worker {
            $($w),*
        }

        impl Worker {
            /// Every worker, in the catalog's order.
            pub const ALL: [Worker; [$($name),*].len()] = [$(Worker::$w),*];

            /// The worker's name as used in queue names, logs, metrics and the ops table.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Worker::$w => $name),*
                }
            }

            /// The CloudFormation logical-id stem used for this worker's resources and outputs
            /// (`<Stem>Queue`, `<Stem>QueueUrl`, `<Stem>DlqUrl`, ...).
            pub const fn stem(self) -> &'static str {
                match self {
                    $(Worker::$w => $stem),*
                }
            }

            /// The seconds a job of this worker may run: its Lambda's timeout in `infra/`
            /// (a test holds them equal).
            pub const fn timeout_secs(self) -> u64 {
                match self {
                    $(Worker::$w => $timeout),*
                }
            }
        }

        /// The kind of an event: its EventBridge `detail-type`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($k),*
        }

        impl Kind {
            /// Every kind, in the catalog's order.
            pub const ALL: [Kind; [$($dt),*].len()] = [$(Kind::$k),*];

            /// The EventBridge detail-type of this kind.
            pub const fn detail_type(self) -> &'static str {
                match self {
                    $(Kind::$k => $dt),*
                }
            }

            /// The worker whose queue receives this kind; `None` for outcome events.
            pub fn worker(self) -> Option<Worker> {
                match self {
                    $(Kind::$k => $owner),*
                }
            }
        }

        $crate::body::bodies! {
            $($variant($ty) = $k),*
        }
    };
}
pub(crate) use catalog;

pub use crate::payload::{Kind, Worker};

impl Worker {
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
#[error("unknown worker `{0}`; expected one of: {names}", names = Worker::ALL.map(Worker::name).join(", "))]
pub struct UnknownWorker(pub String);

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
