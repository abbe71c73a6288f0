//! Sending a message to the worker's DLQ with its reason (send-then-delete: nothing is lost).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::classify::sdk_error;
use crate::error::JobError;

/// Dead-letter attribute: the error code (see [`DeadLetter::code`]). The `ATTR_*` constants
/// name the message attributes stoker puts on dead letters.
pub const ATTR_CODE: &str = "stoker-error-code";
/// `permanent` (never retried) or `retryable` (retries exhausted).
pub const ATTR_KIND: &str = "stoker-error-kind";
/// Dead-letter attribute: why, in words (cut to 1000 characters).
pub const ATTR_REASON: &str = "stoker-reason";
/// Dead-letter attribute: the worker's name.
pub const ATTR_WORKER: &str = "stoker-worker";
/// Dead-letter attribute: the SQS message id of the original message.
pub const ATTR_SOURCE_MESSAGE: &str = "stoker-source-message-id";
/// Dead-letter attribute: how many times the original was delivered (0 when SQS gave no count).
pub const ATTR_RECEIVE_COUNT: &str = "stoker-receive-count";
/// Dead-letter attribute: when the kit dead-lettered the message (RFC 3339, UTC).
pub const ATTR_FAILED_AT: &str = "stoker-failed-at";

/// Why a message is dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// The worker's name.
    pub worker: &'a str,
    /// The original message body, sent unchanged.
    pub body: &'a str,
    /// The original message's SQS id.
    pub message_id: &'a str,
    /// Deliveries of the original message so far.
    pub receive_count: u32,
    /// A stable code: [`RETRIES_EXHAUSTED`] for a retryable failure out of deliveries, any other
    /// for a permanent one ([`error_kind`]).
    pub code: &'a str,
    /// Why, in words.
    pub reason: &'a str,
}

fn attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(if v.is_empty() { "-" } else { v })
        .build()
        .unwrap_or_else(|_| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("-")
                .build()
                .expect("static attribute")
        })
}

/// The error kind a dead letter's code stands for.
pub fn error_kind(code: &str) -> &'static str {
    if code == RETRIES_EXHAUSTED {
        "retryable"
    } else {
        "permanent"
    }
}

/// The code of a retryable failure that ran out of deliveries.
pub const RETRIES_EXHAUSTED: &str = "retries_exhausted";

/// Sends the original body to the DLQ with the reason as message attributes.
pub async fn send(sqs: &Client, dlq_url: &str, dead: &DeadLetter<'_>) -> Result<(), JobError> {
    let reason: String = dead.reason.chars().take(1000).collect();
    sqs.send_message()
        .queue_url(dlq_url)
        .message_body(dead.body)
        .message_attributes(ATTR_CODE, attr(dead.code))
        .message_attributes(ATTR_KIND, attr(error_kind(dead.code)))
        .message_attributes(ATTR_REASON, attr(&reason))
        .message_attributes(ATTR_WORKER, attr(dead.worker))
        .message_attributes(ATTR_SOURCE_MESSAGE, attr(dead.message_id))
        .message_attributes(ATTR_RECEIVE_COUNT, attr(&dead.receive_count.to_string()))
        .message_attributes(ATTR_FAILED_AT, attr(&chrono::Utc::now().to_rfc3339()))
        .send()
        .await
        .map_err(|e| sdk_error("SQS SendMessage (DLQ)", e))?;
    Ok(())
}

impl<H: crate::job::Handler> crate::process::Runtime<H> {
    /// Sends a message's body to this worker's DLQ with the reason; the caller deletes the
    /// original only when this succeeded.
    pub async fn dead_letter(
        &self,
        body: &str,
        message_id: &str,
        receive_count: u32,
        code: &str,
        reason: &str,
    ) -> Result<(), JobError> {
        let dead = DeadLetter {
            worker: self.config.worker.name(),
            body,
            message_id,
            receive_count,
            code,
            reason,
        };
        send(&self.sqs, &self.config.dlq_url, &dead).await
    }
}
