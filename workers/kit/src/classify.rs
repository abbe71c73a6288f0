//! Classifying AWS SDK errors by type and service error code, never by message text.
//!
//! The SDK has already retried what it retries ([`crate::aws::sdk_retry_config`]): an error of
//! that kind is not retried again in process, it waits for the job's redelivery.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::error::SdkError;

use crate::error::JobError;

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

/// Status codes the SDK's standard retry retries.
const SDK_RETRIED_STATUS: &[u16] = &[500, 502, 503, 504];

/// Turns an SDK error into a [`JobError`].
///
/// - What the SDK retries (timeouts, dropped connections, unreadable answers, throttling codes,
///   500/502/503/504) reached us after its last attempt: [`JobError::retryable`], so that the
///   kit does not retry it in process too; the job is redelivered later.
/// - Other 5xx and 429 without a throttling code, which the SDK does not retry:
///   [`JobError::transient`], retried in process.
/// - Known bad-input / not-found codes and other 4xx: [`JobError::permanent`] with the code.
pub fn sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> JobError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let after = crate::aws::SDK_MAX_ATTEMPTS;
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            JobError::retryable(format!(
                "{operation}: {} (after the SDK's retries, at most {after} attempts)",
                describe(&err)
            ))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default().to_owned();
            let status = service.raw().status().as_u16();
            let message = format!(
                "{operation}: {code}: {}",
                service.err().message().unwrap_or_default()
            );
            if THROTTLING_ERRORS.contains(&code.as_str())
                || TRANSIENT_ERRORS.contains(&code.as_str())
                || SDK_RETRIED_STATUS.contains(&status)
            {
                JobError::retryable(format!(
                    "{message} (after the SDK's retries, at most {after} attempts)"
                ))
            } else if status == 429 || status >= 500 {
                JobError::transient(message)
            } else if PERMANENT.contains(&code.as_str()) || (400..500).contains(&status) {
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
    fn what_the_sdk_retried_is_not_retried_in_process() {
        for (code, status) in [
            ("ProvisionedThroughputExceededException", 400),
            ("ThrottlingException", 400),
            ("RequestTimeout", 400),
            ("InternalServerError", 500),
            ("", 503),
        ] {
            let e = sdk_error("GetItem", service_error(code, status));
            assert!(!e.is_permanent(), "{code} {status}: {e:?}");
            assert!(
                !e.is_transient(),
                "{code} {status}: retried again in process: {e:?}"
            );
            assert!(e.to_string().contains("after the SDK's retries"), "{e}");
        }
    }

    #[test]
    fn what_the_sdk_does_not_retry_is_retried_in_process() {
        assert!(sdk_error("GetItem", service_error("", 429)).is_transient());
        assert!(sdk_error("GetItem", service_error("", 501)).is_transient());
    }

    #[test]
    fn not_found_and_validation_are_permanent_with_their_code() {
        let e = sdk_error("GetItem", service_error("ResourceNotFoundException", 400));
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert!(e.is_permanent());
        assert!(sdk_error("GetItem", service_error("ValidationException", 400)).is_permanent());
    }

    #[test]
    fn timeouts_wait_for_the_redelivery() {
        let e: SdkError<GetItemError, HttpResponse> = SdkError::timeout_error("slow");
        let e = sdk_error("GetItem", e);
        assert!(!e.is_transient() && !e.is_permanent(), "{e:?}");
    }
}
