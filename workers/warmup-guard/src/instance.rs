//! Who this instance is: an id made at start-up, when it started, whether it has served yet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One Lambda execution environment (one process).
#[derive(Debug, Clone)]
pub struct Instance {
    id: String,
    version: Option<String>,
    started: Instant,
    served: Arc<AtomicBool>,
}

impl Default for Instance {
    fn default() -> Self {
        Instance {
            id: uuid::Uuid::new_v4().to_string(),
            version: std::env::var("AWS_LAMBDA_FUNCTION_VERSION").ok(),
            started: Instant::now(),
            served: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Instance {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Marks an invocation; true when it was the instance's first (a cold start).
    pub fn first_invocation(&self) -> bool {
        !self.served.swap(true, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_invocation_is_cold_and_clones_share_it() {
        let a = Instance::default();
        let b = a.clone();
        assert!(a.first_invocation());
        assert!(!b.first_invocation());
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), Instance::default().id());
    }
}
