//! One warm-up invocation: synchronous, with a timeout, throttling and timeouts retried with
//! full-jitter backoff.

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use backon::Retryable;
use serde_json::Value;
use stoker_kit::classify::sdk_error;
use stoker_kit::{JobError, RetryPolicy};
use stoker_warmup_guard::Reply;

/// A successful invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    /// From sending the successful attempt to its answer.
    pub latency_ms: u64,
    /// The guard's reply, `None` when the function answered from its handler.
    pub reply: Option<Reply>,
}

/// Invokes `function` (at `qualifier`) with `payload`. The SDK retries the call itself
/// (throttling included); what it gave up on is not retried here. A call with no answer within
/// `timeout` (the SDK's own backoff included) is tried again with `retry`'s backoff, as are
/// the few answers the SDK does not retry (429 without a code, 501).
pub async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    qualifier: Option<&str>,
    payload: &Value,
    timeout: Duration,
    retry: &RetryPolicy,
) -> Result<Invoked, JobError> {
    (|| invoke_once(lambda, function, qualifier, payload, timeout))
        .retry(retry.delays())
        .when(JobError::is_transient)
        .await
}

async fn invoke_once(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    qualifier: Option<&str>,
    payload: &Value,
    timeout: Duration,
) -> Result<Invoked, JobError> {
    let started = Instant::now();
    let call = lambda
        .invoke()
        .function_name(function)
        .set_qualifier(qualifier.map(str::to_owned))
        // The log tail's REPORT line prices the ping in the job's cost ledger (its compute).
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(Blob::new(payload.to_string()))
        .send();
    let out = tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| {
            JobError::transient(format!(
                "Invoke {function}: no answer within {} ms; raise invocation_timeout_ms or check the function's own timeout",
                timeout.as_millis()
            ))
        })?
        .map_err(|e| sdk_error(&format!("Invoke {function}"), e))?;
    let latency_ms = started.elapsed().as_millis() as u64;
    let body: Value = out
        .payload()
        .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
        .unwrap_or(Value::Null);
    if let Some(kind) = out.function_error() {
        return Err(JobError::retryable(format!(
            "Invoke {function}: the function failed ({kind}): {}; is it wrapped with the warm-up guard?",
            truncate(&body.to_string(), 300)
        )));
    }
    Ok(Invoked {
        latency_ms,
        reply: Reply::from_response(&body),
    })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("ab", 5), "ab");
    }
}
