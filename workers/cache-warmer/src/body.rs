//! Reading a response body as a stream, never whole: at most `max_value_bytes` per body and
//! at most the job's byte budget over all bodies of one job. A body that would pass either is
//! cut there (the connection is dropped) and its target fails with the limit in the reason.

use std::sync::atomic::{AtomicU64, Ordering};

use stoker_kit::JobError;

/// The bytes one job may still read (`STOKER_CACHE_MAX_JOB_BYTES`), shared by its targets.
#[derive(Debug)]
pub struct Budget {
    total: u64,
    used: AtomicU64,
}

impl Budget {
    pub fn new(total: u64) -> Self {
        Budget {
            total,
            used: AtomicU64::new(0),
        }
    }

    /// Takes `n` bytes; refuses when the job would pass its budget.
    pub fn take(&self, n: u64) -> Result<(), JobError> {
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        if before + n > self.total {
            return Err(JobError::permanent(
                "job_bytes_exceeded",
                format!(
                    "the job has read {} bytes, its budget is {} (STOKER_CACHE_MAX_JOB_BYTES): split the request into smaller jobs",
                    before + n,
                    self.total
                ),
            ));
        }
        Ok(())
    }
}

/// What to do with the bytes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep them (a value to parse).
    All,
    /// Count them only (warming an HTTP cache).
    Count,
}

/// Reads `resp`'s body up to `cap` bytes and within `budget`; `shown` names it in errors.
/// Returns the bytes kept and the bytes read.
pub async fn read(
    mut resp: reqwest::Response,
    cap: usize,
    budget: &Budget,
    keep: Keep,
    shown: &str,
) -> Result<(Vec<u8>, u64), JobError> {
    let too_large = |what: String| {
        JobError::permanent(
            "value_too_large",
            format!(
                "{shown}: {what}, over the limit of {cap} bytes (STOKER_CACHE_MAX_VALUE_BYTES); raise the limit or warm a smaller resource"
            ),
        )
    };
    if let Some(len) = resp.content_length().filter(|l| *l > cap as u64) {
        return Err(too_large(format!("the answer declares {len} bytes")));
    }
    let mut kept = Vec::new();
    let mut read = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        JobError::transient(format!(
            "{shown}: reading the body: {}",
            crate::http_error::describe(&e)
        ))
    })? {
        read += chunk.len() as u64;
        if read > cap as u64 {
            return Err(too_large(format!("stopped reading after {read} bytes")));
        }
        budget.take(chunk.len() as u64)?;
        if keep == Keep::All {
            kept.extend_from_slice(&chunk);
        }
    }
    Ok((kept, read))
}
