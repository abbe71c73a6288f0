//! One line per report, for people: what a job did (`stoker publish --wait --output json`,
//! `./scripts/pipeline`). Stored with the job's run record.

use serde::Serialize;

/// The most JSON of a report a run record keeps: a larger report is first given to its
/// [`Summary::fitted`], and stored as `{"truncated": true, "bytes": N}` if still larger.
pub const MAX_REPORT_BYTES: usize = 16 * 1024;

/// A report's one-line summary, and how it shrinks to fit its run record.
pub trait Summary {
    /// What the job did, in one line (no trailing newline).
    fn summary(&self) -> String;

    /// The report cut to at most `max_bytes` of JSON, keeping what matters most (the failures
    /// of a long list, say). The kit calls it only for a report whose JSON is larger than
    /// [`MAX_REPORT_BYTES`]; by default the report is unchanged (and stored as truncated).
    fn fitted(self, max_bytes: usize) -> Self
    where
        Self: Sized,
    {
        let _ = max_bytes;
        self
    }
}

/// An enum as JSON shows it (`not_optimized`, `completed`): the same name in text and JSON.
pub fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Two decimals, or `-` for nothing.
pub fn two_places(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

impl Summary for () {
    fn summary(&self) -> String {
        "done".to_owned()
    }
}

impl Summary for usize {
    fn summary(&self) -> String {
        self.to_string()
    }
}

impl Summary for serde_json::Value {
    fn summary(&self) -> String {
        self.to_string().chars().take(100).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_read_as_their_serde_names() {
        assert_eq!(
            serde_name(&crate::ops::RunOutcome::FailedPermanent),
            "failed_permanent"
        );
        assert_eq!(two_places(Some(1.0 / 3.0)), "0.33");
        assert_eq!(two_places(None), "-");
    }
}
