//! A worker's own settings: the typed section of its configuration, read once at start-up
//! with the kit's ([`WorkerConfig::from_env_with`]), never again by the worker.
//!
//! ```
//! use stoker_kit::config::ConfigError;
//! use stoker_kit::section::{Section, Vars};
//!
//! struct Settings {
//!     max_in_flight: usize,
//! }
//!
//! impl Section for Settings {
//!     fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
//!         Ok(Settings {
//!             max_in_flight: vars.number("MY_MAX_IN_FLIGHT")?.unwrap_or(100),
//!         })
//!     }
//! }
//! let env = |k: &str| (k == "MY_MAX_IN_FLIGHT").then(|| "7".to_owned());
//! let s = Settings::read(&Vars::new(&env)).unwrap();
//! assert_eq!(s.max_in_flight, 7);
//! ```

use std::str::FromStr;

use crate::config::{ConfigError, WorkerConfig};
use crate::event::WorkerId;

/// The environment as the kit reads it: an empty value is unset, a number that does not
/// parse is an error naming the variable.
pub struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Vars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vars").finish_non_exhaustive()
    }
}

impl<'a> Vars<'a> {
    /// Variables looked up with `get`.
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars { get }
    }

    /// `var`'s value, unless unset or empty.
    pub fn text(&self, var: &str) -> Option<String> {
        (self.get)(var).filter(|v| !v.is_empty())
    }

    /// `var`'s value, or an error saying it must be set and how.
    pub fn required(&self, var: &'static str, how: &str) -> Result<String, ConfigError> {
        self.text(var).ok_or_else(|| ConfigError {
            var,
            problem: format!("not set ({how})"),
            output: None,
        })
    }

    /// `var` as a number (`None` when unset).
    pub fn number<T: FromStr>(&self, var: &'static str) -> Result<Option<T>, ConfigError> {
        match self.text(var) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| ConfigError {
                var,
                problem: format!("`{v}` is not a number of the expected kind"),
                output: None,
            }),
        }
    }
}

/// A worker's own settings, read from its variables.
pub trait Section: Sized {
    /// Reads the section; an unusable value is an error naming its variable.
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError>;

    /// [`read`](Self::read) from the process's environment.
    fn from_env() -> Result<Self, ConfigError> {
        let get = |k: &str| std::env::var(k).ok();
        Self::read(&Vars::new(&get))
    }
}

/// No settings of its own.
impl Section for () {
    fn read(_: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(())
    }
}

impl WorkerConfig {
    /// The kit's settings ([`WorkerConfig::from_env`]) and the worker's own section, read once.
    pub fn from_env_with<S: Section>(
        worker: impl Into<WorkerId>,
    ) -> Result<(Self, S), ConfigError> {
        Self::from_lookup_with(worker, |k| std::env::var(k).ok())
    }

    /// [`from_env_with`](Self::from_env_with) over any lookup (tests).
    pub fn from_lookup_with<S: Section>(
        worker: impl Into<WorkerId>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, S), ConfigError> {
        // The worker's own section first: its errors say what the worker itself needs.
        let section = S::read(&Vars::new(&get))?;
        let kit = Self::from_lookup(worker, &get)?;
        Ok((kit, section))
    }
}
