//! A long-poll job's slot (one of `STOKER_CONCURRENCY`), held by the job's task while its
//! handler runs. An optimistic job gives it back once its handler is done: its commit waits
//! with the commits of the jobs after it and goes out with them, in one batch, while the next
//! handler already runs (so even one job at a time shares its commits).

use std::cell::RefCell;
use std::future::Future;

use tokio::sync::OwnedSemaphorePermit;

tokio::task_local! {
    static SLOT: RefCell<Option<OwnedSemaphorePermit>>;
}

/// Runs `job` holding `permit` as its slot (given back at the end unless released before).
pub(crate) async fn hold<F: Future>(permit: OwnedSemaphorePermit, job: F) -> F::Output {
    SLOT.scope(RefCell::new(Some(permit)), job).await
}

/// Gives the current job's slot back (nothing outside [`hold`]).
pub(crate) fn release() {
    let _ = SLOT.try_with(|slot| slot.borrow_mut().take());
}
