//! One line per report, for people: what a job did (`stoker publish --wait --output json`,
//! `./scripts/pipeline`). Stored with the job's run record.

use serde::Serialize;

/// A report's one-line summary.
pub trait Summary {
    /// What the job did, in one line (no trailing newline).
    fn summary(&self) -> String;
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
