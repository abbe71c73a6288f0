//! A long-poll job's slot (one of `STOKER_CONCURRENCY`). Every job of a receive starts at once
//! and waits for its slot only where it needs one: a claim-first job after its claim (so the
//! claims of a whole receive go out in one transaction, even one job at a time), an optimistic
//! job before its handler. A job that needs no slot (a dead letter, a replay, a busy claim)
//! never takes one. A job gives its slot back once its handler is done: its commit waits with
//! the commits of the jobs after it and goes out with them, in one batch, while the next
//! handler already runs.

use std::cell::RefCell;
use std::future::Future;

use tokio::sync::{OwnedSemaphorePermit, oneshot};

enum Slot {
    /// The poller sends the slot when the job's turn comes; dropped at shutdown.
    Waiting(oneshot::Receiver<OwnedSemaphorePermit>),
    Held {
        _permit: OwnedSemaphorePermit,
    },
    /// Given back (or being waited for).
    Given,
    /// The turn never came: shutdown.
    Refused,
}

tokio::task_local! {
    static SLOT: RefCell<Slot>;
}

/// Runs `job`, whose slot comes through `turn` when [`start`] asks for it.
pub(crate) async fn wait_for<F: Future>(
    turn: oneshot::Receiver<OwnedSemaphorePermit>,
    job: F,
) -> F::Output {
    SLOT.scope(RefCell::new(Slot::Waiting(turn)), job).await
}

/// Waits for the current job's slot; false when it will never come (shutdown: the job must
/// not start). Outside [`wait_for`] (the Lambda driver, a FIFO group) there is nothing to wait
/// for.
pub(crate) async fn start() -> bool {
    let turn = SLOT
        .try_with(|s| {
            let mut s = s.borrow_mut();
            match std::mem::replace(&mut *s, Slot::Given) {
                Slot::Waiting(turn) => Some(turn),
                other => {
                    *s = other;
                    None
                }
            }
        })
        .ok()
        .flatten();
    let Some(turn) = turn else {
        return true;
    };
    let (state, started) = match turn.await {
        Ok(permit) => (Slot::Held { _permit: permit }, true),
        Err(_) => (Slot::Refused, false),
    };
    let _ = SLOT.try_with(|s| *s.borrow_mut() = state);
    started
}

/// Whether the current job was refused its slot (shutdown came before its turn).
pub(crate) fn refused() -> bool {
    SLOT.try_with(|s| matches!(*s.borrow(), Slot::Refused))
        .unwrap_or(false)
}

/// Gives the current job's slot back (nothing when it holds none).
pub(crate) fn release() {
    let _ = SLOT.try_with(|s| {
        let mut s = s.borrow_mut();
        if matches!(*s, Slot::Held { .. }) {
            *s = Slot::Given;
        }
    });
}
