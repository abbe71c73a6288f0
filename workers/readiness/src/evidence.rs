//! What an AWS error says, as evidence: the call, its code and message.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

/// `<call>: <code>: <message>`, or the transport's failure when AWS did not answer.
pub fn unreadable<E>(call: &str, e: &aws_sdk_dynamodb::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("could not read ({call}: {code}: {msg})"),
        (Some(code), None) => format!("could not read ({call}: {code})"),
        _ => format!(
            "could not read ({call}: {})",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ),
    }
}

/// A duration in hours, as people read it: `3 h`, `2 d 4 h`.
pub fn age(hours: i64) -> String {
    if hours < 48 {
        format!("{hours} h")
    } else {
        format!("{} d {} h", hours / 24, hours % 24)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_in_hours_then_days() {
        assert_eq!(super::age(3), "3 h");
        assert_eq!(super::age(50), "2 d 2 h");
    }
}
