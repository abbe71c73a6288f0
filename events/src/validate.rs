//! Validation with precise errors: a field path, what is wrong, what is allowed.
//!
//! ```
//! use stoker_events::validate::Validator;
//! let mut v = Validator::default();
//! v.at("targets", |v| v.at(2, |v| v.range("concurrency", 0, 1, 100)));
//! assert_eq!(v.errors()[0].to_string(), "targets[2].concurrency: 0 is below the minimum 1");
//! ```

use std::fmt;

/// One segment of a field path: a field name or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Field(String),
    Index(usize),
}

impl From<&str> for Segment {
    fn from(s: &str) -> Self {
        Segment::Field(s.to_owned())
    }
}

impl From<usize> for Segment {
    fn from(i: usize) -> Self {
        Segment::Index(i)
    }
}

/// A field that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The path from the payload root, e.g. `targets[2].concurrency`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

/// Joins path segments as `a.b[2].c`.
pub fn render_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Collects every rule a value breaks (not just the first), each with its path.
#[derive(Debug, Default)]
pub struct Validator {
    path: Vec<Segment>,
    errors: Vec<FieldError>,
}

/// Types that check their own rules.
pub trait Validate {
    fn validate(&self, v: &mut Validator);
}

impl Validator {
    /// Validates `value` from the root and returns all errors found.
    pub fn check<T: Validate + ?Sized>(value: &T) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::default();
        value.validate(&mut v);
        if v.errors.is_empty() {
            Ok(())
        } else {
            Err(v.errors)
        }
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Runs `f` one level down, at `segment`.
    pub fn at(&mut self, segment: impl Into<Segment>, f: impl FnOnce(&mut Validator)) {
        self.path.push(segment.into());
        f(self);
        self.path.pop();
    }

    /// Validates every item of a list at `field[i]`.
    pub fn each<T: Validate>(&mut self, field: &str, items: &[T]) {
        self.at(field, |v| {
            for (i, item) in items.iter().enumerate() {
                v.at(i, |v| item.validate(v));
            }
        });
    }

    /// Records an error at `field` (or at the current path when `field` is empty).
    pub fn fail(&mut self, field: &str, reason: impl Into<String>) {
        let mut segments = self.path.clone();
        if !field.is_empty() {
            segments.push(field.into());
        }
        self.errors.push(FieldError {
            path: render_path(&segments),
            reason: reason.into(),
        });
    }

    /// `min <= value <= max`.
    pub fn range(&mut self, field: &str, value: u64, min: u64, max: u64) {
        if value < min {
            self.fail(field, format!("{value} is below the minimum {min}"));
        } else if value > max {
            self.fail(field, format!("{value} is above the maximum {max}"));
        }
    }

    /// `min <= value <= max` for a finite float.
    pub fn range_f64(&mut self, field: &str, value: f64, min: f64, max: f64) {
        if !value.is_finite() {
            self.fail(field, format!("{value} is not a finite number"));
        } else if value < min || value > max {
            self.fail(field, format!("{value} is outside {min}..={max}"));
        }
    }

    /// A list's length within `min..=max`.
    pub fn count(&mut self, field: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.fail(field, format!("has {len} items; at least {min} required"));
        } else if len > max {
            self.fail(field, format!("has {len} items; at most {max} allowed"));
        }
    }

    /// A string's length (in bytes) within `min..=max`.
    pub fn length(&mut self, field: &str, s: &str, min: usize, max: usize) -> bool {
        if s.len() < min {
            self.fail(
                field,
                format!("is {} characters long; at least {min} required", s.len()),
            );
            false
        } else if s.len() > max {
            self.fail(
                field,
                format!("is {} characters long; at most {max} allowed", s.len()),
            );
            false
        } else {
            true
        }
    }

    /// Runs a name check (from [`crate::names`]) and records its complaint.
    pub fn name(&mut self, field: &str, value: &str, check: fn(&str) -> Result<(), String>) {
        if let Err(reason) = check(value) {
            self.fail(field, reason);
        }
    }
}
