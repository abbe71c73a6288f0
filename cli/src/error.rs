//! Errors that say what went wrong and which flag or step fixes it.

use std::fmt;

/// A failed command: a message, how to fix it, and the exit code (2 = invalid input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub fix: Option<String>,
    pub exit_code: i32,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            fix: None,
            exit_code: 1,
        }
    }

    /// Invalid input (exit code 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        CliError {
            exit_code: 2,
            ..CliError::new(message)
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

/// Wraps an AWS call's error with what was being done.
pub fn aws<E: std::error::Error>(doing: &str) -> impl Fn(E) -> CliError + '_ {
    move |e| {
        let mut detail = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            src = s.source();
        }
        CliError::new(format!("{doing}: {detail}"))
            .fix("check --endpoint-url / --region / --profile (or AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE); on the emulator run ./localstack/up first")
    }
}
