//! Classifying AWS SDK errors by type and service error code, never by message text.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;

use crate::error::JobError;

/// Error codes AWS services use for throttling.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes that mean the input or the target is wrong: retrying cannot help.
const PERMANENT: &[&str] = &[
    "ValidationException",
    "ValidationError",
    "ResourceNotFoundException",
    "NotFoundException",
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidParameterValueException",
    "InvalidParameterException",
    "InvalidRequestContentException",
    "SerializationException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "TableNotFoundException",
];

/// Turns an SDK error into a [`JobError`]: timeouts, connection failures, throttling and 5xx
/// are transient; known bad-input / not-found codes and other 4xx are permanent.
pub fn sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> JobError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            JobError::transient(format!("{operation}: {}", describe(&err)))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default().to_owned();
            let status = Some(service.raw().status().as_u16());
            let message = format!(
                "{operation}: {code}: {}",
                service.err().message().unwrap_or_default()
            );
            if THROTTLING.contains(&code.as_str())
                || status == Some(429)
                || status.is_some_and(|s| s >= 500)
            {
                JobError::transient(message)
            } else if PERMANENT.contains(&code.as_str())
                || status.is_some_and(|s| (400..500).contains(&s))
            {
                JobError::permanent(&code_or(&code, "aws_client_error"), message)
            } else {
                JobError::retryable(message)
            }
        }
        _ => JobError::retryable(format!("{operation}: {}", describe(&err))),
    }
}

fn code_or(code: &str, default: &str) -> String {
    if code.is_empty() {
        default.to_owned()
    } else {
        code.to_owned()
    }
}

fn describe<E: std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> String {
    let mut s = err.to_string();
    let mut src = std::error::Error::source(err);
    while let Some(e) = src {
        s.push_str(": ");
        s.push_str(&e.to_string());
        src = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
    use aws_smithy_types::body::SdkBody;

    fn service_error(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        let meta = aws_sdk_dynamodb::error::ErrorMetadata::builder()
            .code(code)
            .message("m")
            .build();
        let err = if code == "ResourceNotFoundException" {
            GetItemError::ResourceNotFoundException(
                ResourceNotFoundException::builder().meta(meta).build(),
            )
        } else {
            GetItemError::generic(meta)
        };
        let raw = HttpResponse::new(status.try_into().expect("status"), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn throttling_and_5xx_are_transient() {
        assert!(
            sdk_error(
                "GetItem",
                service_error("ProvisionedThroughputExceededException", 400)
            )
            .is_transient()
        );
        assert!(sdk_error("GetItem", service_error("ThrottlingException", 400)).is_transient());
        assert!(sdk_error("GetItem", service_error("InternalServerError", 500)).is_transient());
        assert!(sdk_error("GetItem", service_error("", 503)).is_transient());
    }

    #[test]
    fn not_found_and_validation_are_permanent_with_their_code() {
        let e = sdk_error("GetItem", service_error("ResourceNotFoundException", 400));
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert!(e.is_permanent());
        assert!(sdk_error("GetItem", service_error("ValidationException", 400)).is_permanent());
    }

    #[test]
    fn timeouts_are_transient() {
        let e: SdkError<GetItemError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(sdk_error("GetItem", e).is_transient());
    }
}
