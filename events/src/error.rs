//! Why an event could not be decoded. Every variant is permanent: retrying the same bytes gives
//! the same answer, so the message goes to the DLQ with [`DecodeError::code`] and the message.

use crate::kind::Kind;
use crate::validate::FieldError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "event is {size} bytes; the limit is {limit} (EventBridge's entry size). Send large data by reference (S3 key, table name)"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("event is not UTF-8 text; stoker events are JSON")]
    NotUtf8,
    #[error("event is not valid JSON (line {line}, column {column}): {message}")]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("event is JSON but not an object; expected a stoker envelope or an EventBridge event")]
    NotAnObject,
    #[error(
        "event has an unknown shape (keys: {keys}); expected a stoker envelope (kind, version, payload, ...), \
         an EventBridge event (detail-type, detail) or a schedule input (kind, version, payload)"
    )]
    UnknownShape { keys: String },
    #[error("unknown event kind `{0}`; stoker kinds: {kinds}. A schedule rule needs a constant Input holding a stoker envelope", kinds = all_kinds())]
    UnknownKind(String),
    #[error(
        "{kind} version {version} is not supported by this build (supported: 1..={supported}); upgrade the worker before the publisher"
    )]
    UnsupportedVersion {
        kind: Kind,
        version: u64,
        supported: u32,
    },
    #[error("detail-type `{detail_type}` does not match the envelope's kind `{envelope_kind}`")]
    KindMismatch {
        detail_type: String,
        envelope_kind: String,
    },
    #[error("{}{}: {message}", context(kind.as_ref()), if path.is_empty() { String::new() } else { format!(" at {path}") })]
    Malformed {
        kind: Option<Kind>,
        path: String,
        message: String,
    },
    #[error("{}: {}", context(Some(kind)), render(errors))]
    Invalid { kind: Kind, errors: Vec<FieldError> },
    #[error("a schedule input carries no id; decode it with the SQS message id of its delivery")]
    MissingDeliveryId,
    #[error(
        "{kind} may not come from source `{from}`: workers publish outcome events only; jobs are requested by operators (`stoker.operator`) and schedules (`stoker.schedule`)"
    )]
    ForbiddenSource { kind: Kind, from: String },
}

impl DecodeError {
    /// Decoding errors are never retried.
    pub fn is_permanent(&self) -> bool {
        true
    }

    /// A stable, machine-readable code (for DLQ message attributes and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::NotUtf8 => "not_utf8",
            DecodeError::InvalidJson { .. } => "invalid_json",
            DecodeError::NotAnObject => "not_an_object",
            DecodeError::UnknownShape { .. } => "unknown_shape",
            DecodeError::UnknownKind(_) => "unknown_kind",
            DecodeError::UnsupportedVersion { .. } => "unsupported_version",
            DecodeError::KindMismatch { .. } => "kind_mismatch",
            DecodeError::Malformed { .. } => "malformed",
            DecodeError::Invalid { .. } => "invalid",
            DecodeError::MissingDeliveryId => "missing_delivery_id",
            DecodeError::ForbiddenSource { .. } => "forbidden_source",
        }
    }
}

fn context(kind: Option<&Kind>) -> String {
    match kind {
        Some(k) => format!("invalid {k} payload"),
        None => "invalid envelope".to_owned(),
    }
}

fn render(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn all_kinds() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.detail_type())
        .collect::<Vec<_>>()
        .join(", ")
}
