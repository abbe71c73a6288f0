//! A test seam: stop a pass at a chosen step, dead as a kill would (no clean-up runs), or
//! paused until the test lets it go on.
//!
//! When the pass reaches the step, [`Halt`] notifies the test and then never returns (the test
//! drops the pass's future) or waits to be resumed. Production code never sets one
//! ([`Halt::default`] does nothing).

use std::sync::Arc;

use tokio::sync::Notify;

/// The steps of a sweep a test can stop it at, in the order a sweep takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The configuration to restore is recorded; nothing is changed yet.
    Recorded,
    /// The first `UpdateFunctionConfiguration` is done.
    Configured,
    /// The first version is published, before its alias is created.
    Published,
    /// The first temporary alias is created, before any invocation.
    Aliased,
    /// An apply is about to change the function (its guardrails passed).
    Applying,
}

/// Where a pass stops, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct Halt(Option<Stop>);

#[derive(Debug, Clone)]
struct Stop {
    step: Step,
    reached: Arc<Notify>,
    /// `None`: stopped dead.
    resume: Option<Arc<Notify>>,
}

impl Halt {
    /// Stops dead at `step` after notifying `reached`.
    pub fn kill_at(step: Step, reached: Arc<Notify>) -> Self {
        Halt(Some(Stop {
            step,
            reached,
            resume: None,
        }))
    }

    /// Pauses at `step` after notifying `reached`, until `resume` is notified.
    pub fn pause_at(step: Step, reached: Arc<Notify>, resume: Arc<Notify>) -> Self {
        Halt(Some(Stop {
            step,
            reached,
            resume: Some(resume),
        }))
    }

    /// At `step`: returns at once unless the pass must stop here.
    pub async fn check(&self, step: Step) {
        let Some(stop) = self.0.as_ref().filter(|s| s.step == step) else {
            return;
        };
        stop.reached.notify_one();
        match &stop.resume {
            Some(resume) => resume.notified().await,
            None => std::future::pending::<()>().await,
        }
    }
}
