//! What a job can fail with, decided by type: permanent (never retried) or retryable.

/// A job's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Bad input, validation, not found, access denied: retrying cannot help. The message goes
    /// to the worker's DLQ at once with `code` and the message as its reason.
    #[error("{message}")]
    Permanent {
        /// A stable code (e.g. `wrong_kind`): the dead letter's `stoker-error-code`.
        code: String,
        /// What went wrong, for people: the dead letter's `stoker-reason`.
        message: String,
    },
    /// Might work later. `transient` errors (a call nothing has retried yet: an HTTP fetch, a
    /// Redis command, a timeout of the job's own) are first retried in process with backoff;
    /// after that (or when not transient, e.g. an AWS call the SDK already retried) SQS
    /// redelivers with a growing delay until the DLQ.
    #[error("{message}")]
    Retryable {
        /// Retry in process first: nothing has retried the failing call yet.
        transient: bool,
        /// What went wrong, for people.
        message: String,
    },
}

impl JobError {
    /// A permanent failure: the message goes to the DLQ at once, with `code` and `message`.
    pub fn permanent(code: &str, message: impl Into<String>) -> Self {
        JobError::Permanent {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// Retryable, but not worth retrying within this delivery (e.g. a dependency is down).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError::Retryable {
            transient: false,
            message: message.into(),
        }
    }

    /// A failure that nothing retried yet (not an AWS call: the SDK retries those itself):
    /// retried in process first.
    pub fn transient(message: impl Into<String>) -> Self {
        JobError::Retryable {
            transient: true,
            message: message.into(),
        }
    }

    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, JobError::Permanent { .. })
    }

    /// Whether the failure is retried in process before SQS redelivers the message.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            JobError::Retryable {
                transient: true,
                ..
            }
        )
    }

    /// A stable code for DLQ attributes, run records and metrics.
    pub fn code(&self) -> &str {
        match self {
            JobError::Permanent { code, .. } => code,
            JobError::Retryable {
                transient: true, ..
            } => "transient",
            JobError::Retryable {
                transient: false, ..
            } => "retryable",
        }
    }
}
