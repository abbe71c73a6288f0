//! What the kit reads of an SQS message, the same for both drivers: its id, body, receive
//! count and sent time. A message missing what the kit relies on is rejected (to the DLQ with
//! the reason), never given invented values: an empty id would merge unrelated schedule
//! inputs under one idempotency key, and a made-up receive count of 1 would retry forever
//! past the queue's redrive limit (and then let SQS dead-letter it without a reason).

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};

/// A message as the drivers received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered<'a> {
    /// The SQS message id, never blank.
    pub message_id: &'a str,
    /// The message body, an event to decode.
    pub body: &'a str,
    /// SQS' `ApproximateReceiveCount`, from 1.
    pub receive_count: u32,
    /// SQS' `SentTimestamp`, when the message has a valid one.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Why a message cannot be processed as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// A stable code: `missing_message_id`, `missing_body`, `missing_receive_count` or
    /// `bad_receive_count`.
    pub code: &'static str,
    /// What is missing or wrong, for the dead letter.
    pub reason: String,
}

/// Reads the delivery facts from a message's parts; `attr` looks up an SQS system attribute.
pub fn delivered<'a>(
    message_id: Option<&'a str>,
    body: Option<&'a str>,
    attr: impl Fn(&str) -> Option<&'a str>,
) -> Result<Delivered<'a>, Rejected> {
    let message_id = message_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| Rejected {
            code: "missing_message_id",
            reason: "the SQS message has no MessageId; stoker cannot key its idempotency on it"
                .into(),
        })?;
    let body = body.ok_or_else(|| Rejected {
        code: "missing_body",
        reason: format!("SQS message {message_id} has no body"),
    })?;
    let receive_count = match attr("ApproximateReceiveCount") {
        None => {
            return Err(Rejected {
                code: "missing_receive_count",
                reason: format!(
                    "SQS message {message_id} has no ApproximateReceiveCount attribute (receive it with MessageSystemAttributeNames=All)"
                ),
            });
        }
        Some(c) => match c.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(Rejected {
                    code: "bad_receive_count",
                    reason: format!(
                        "SQS message {message_id} has ApproximateReceiveCount `{}`, not a count from 1",
                        c.chars().take(32).collect::<String>()
                    ),
                });
            }
        },
    };
    let sent_at = attr("SentTimestamp")
        .and_then(|t| t.parse().ok())
        .and_then(DateTime::from_timestamp_millis);
    Ok(Delivered {
        message_id,
        body,
        receive_count,
        sent_at,
    })
}

/// A record of a Lambda SQS event.
pub fn from_lambda(record: &SqsMessage) -> Result<Delivered<'_>, Rejected> {
    delivered(
        record.message_id.as_deref(),
        record.body.as_deref(),
        |name| record.attributes.get(name).map(String::as_str),
    )
}

/// A message from ReceiveMessage (asked with every system attribute).
pub fn from_sqs(m: &Message) -> Result<Delivered<'_>, Rejected> {
    let attrs = m.attributes();
    delivered(m.message_id(), m.body(), |name| {
        attrs
            .and_then(|a| a.get(&MessageSystemAttributeName::from(name)))
            .map(String::as_str)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    #[test]
    fn a_complete_message_is_read() {
        let d = delivered(
            Some("m-1"),
            Some("{}"),
            attrs(&[
                ("ApproximateReceiveCount", "3"),
                ("SentTimestamp", "1700000000000"),
            ]),
        )
        .expect("complete");
        assert_eq!(d.receive_count, 3);
        assert_eq!(d.sent_at.map(|t| t.timestamp()), Some(1_700_000_000));
    }

    #[test]
    fn missing_or_bad_facts_are_rejected_not_invented() {
        let rc = [("ApproximateReceiveCount", "1")];
        assert_eq!(
            delivered(None, Some("{}"), attrs(&rc)).unwrap_err().code,
            "missing_message_id"
        );
        assert_eq!(
            delivered(Some(" "), Some("{}"), attrs(&rc))
                .unwrap_err()
                .code,
            "missing_message_id"
        );
        assert_eq!(
            delivered(Some("m"), None, attrs(&rc)).unwrap_err().code,
            "missing_body"
        );
        assert_eq!(
            delivered(Some("m"), Some("{}"), attrs(&[]))
                .unwrap_err()
                .code,
            "missing_receive_count"
        );
        for bad in ["0", "-1", "x", "1.5", ""] {
            let a = [("ApproximateReceiveCount", bad)];
            assert_eq!(
                delivered(Some("m"), Some("{}"), attrs(&a))
                    .unwrap_err()
                    .code,
                "bad_receive_count",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn both_drivers_read_the_same_facts() {
        let mut record = SqsMessage::default();
        record.message_id = Some("m-1".into());
        record.body = Some("{}".into());
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), "2".into());
        let m = Message::builder()
            .message_id("m-1")
            .body("{}")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .build();
        assert_eq!(from_lambda(&record), from_sqs(&m));
        assert_eq!(from_sqs(&m).map(|d| d.receive_count), Ok(2));
        let bare = Message::builder().message_id("m-1").body("{}").build();
        assert!(from_sqs(&bare).is_err());
    }
}
