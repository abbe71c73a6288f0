//! A long-poll job's slot (one of `STOKER_CONCURRENCY`). Every job of a receive starts at once
//! and waits for its slot only where it needs one: a claim-first job after its claim (so the
//! claims of a whole receive go out in one transaction, even one job at a time), an optimistic
//! job before its handler. A job that needs no slot (a dead letter, a replay, a busy claim)
//! gives up its turn as soon as it is decided ([`forgo`]): its slot goes to the next job. A job
//! that ran gives its slot back once its handler is done (when there is room for its commit):
//! its commit waits with the commits of the jobs after it and goes out with them, in one
//! batch, while the next handler already runs.

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
    /// The job's share of the poller's room (crate::poll): given back with its slot, or when
    /// it is decided without its handler, so the next receive goes out while commits linger.
    static ROOM: RefCell<Option<OwnedSemaphorePermit>>;
}

/// Runs `job`, whose slot comes through `turn` when [`start`] asks for it, holding `room`
/// until its handler is done.
pub(crate) async fn wait_for<F: Future>(
    turn: oneshot::Receiver<OwnedSemaphorePermit>,
    room: OwnedSemaphorePermit,
    job: F,
) -> F::Output {
    let job = SLOT.scope(RefCell::new(Slot::Waiting(turn)), job);
    ROOM.scope(RefCell::new(Some(room)), job).await
}

/// The job no longer needs its room: the poller may receive for another.
fn leave_room() {
    let _ = ROOM.try_with(|r| r.borrow_mut().take());
}

/// What [`start`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Nothing to wait for: outside [`wait_for`] (the Lambda driver, a FIFO group), or the
    /// slot is held already.
    Now,
    /// The slot came after a wait: the job's clock starts now.
    Waited,
    /// It will never come (shutdown): the job must not start.
    Refused,
}

/// Waits for the current job's slot.
pub(crate) async fn start() -> Turn {
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
        return Turn::Now;
    };
    let (state, turn) = match turn.await {
        Ok(permit) => (Slot::Held { _permit: permit }, Turn::Waited),
        Err(_) => (Slot::Refused, Turn::Refused),
    };
    let _ = SLOT.try_with(|s| *s.borrow_mut() = state);
    turn
}

/// The current job will not run its handler: its turn (and a slot already sent for it) goes
/// to the next job.
pub(crate) fn forgo() {
    leave_room();
    let _ = SLOT.try_with(|s| {
        let mut s = s.borrow_mut();
        if matches!(*s, Slot::Waiting(_)) {
            *s = Slot::Given;
        }
    });
}

/// Whether the current job was refused its slot (shutdown came before its turn).
pub(crate) fn refused() -> bool {
    SLOT.try_with(|s| matches!(*s.borrow(), Slot::Refused))
        .unwrap_or(false)
}

/// Gives the current job's slot back (nothing when it holds none).
pub(crate) fn release() {
    leave_room();
    let _ = SLOT.try_with(|s| {
        let mut s = s.borrow_mut();
        if matches!(*s, Slot::Held { .. }) {
            *s = Slot::Given;
        }
    });
}
