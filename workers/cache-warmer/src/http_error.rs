//! A failed request as a job error, with no URL in it (reqwest's own messages carry the full
//! URL, query string included): the caller names the request by its redacted URL.

use std::error::Error;

use stoker_kit::JobError;

use crate::resolver;

/// `e` and its causes, without the URL.
pub fn describe(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn Error + 'static)> = e.source();
    while let Some(err) = cur {
        parts.push(err.to_string());
        cur = err.source();
    }
    let head = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    if parts.is_empty() {
        head.to_owned()
    } else {
        format!("{head}: {}", parts.join(": "))
    }
}

/// The job error for a request to `shown` (a redacted URL) that failed with `e`: permanent
/// when the host resolved to a refused address, retryable otherwise.
pub fn job_error(method: &str, shown: &str, e: &reqwest::Error) -> JobError {
    match resolver::refused_in(e) {
        Some(r) => JobError::permanent("address_refused", format!("{method} {shown}: {r}")),
        None => JobError::transient(format!("{method} {shown}: {}", describe(e))),
    }
}
