//! Background tasks tied to a job: they end when the job ends, however it ends (completed,
//! failed, timed out, panicked, or its future dropped), because the guard aborts them on drop.

use std::future::Future;

use tokio::task::JoinHandle;

/// A spawned task that is aborted when this guard is dropped.
#[derive(Debug)]
#[must_use = "the task is aborted as soon as the guard is dropped"]
pub struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    /// Spawns `work` on the current runtime, tied to the returned guard.
    pub fn spawn(work: impl Future<Output = ()> + Send + 'static) -> Self {
        AbortOnDrop(tokio::spawn(work))
    }

    /// Spawns `work` on another runtime.
    pub fn spawn_on(
        runtime: &tokio::runtime::Handle,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        AbortOnDrop(runtime.spawn(work))
    }

    /// Stops the task now (the same as dropping the guard).
    pub fn abort(self) {}

    /// Whether the task has ended (finished or aborted).
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    /// A job that times out drops its future: the tasks it started must stop with it.
    #[tokio::test]
    async fn a_timed_out_job_stops_its_background_task() {
        let ticks = Arc::new(AtomicU64::new(0));
        let job = {
            let ticks = ticks.clone();
            async move {
                let _reporter = AbortOnDrop::spawn(async move {
                    loop {
                        ticks.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                });
                std::future::pending::<()>().await;
            }
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(200), job)
                .await
                .is_err()
        );
        let at_timeout = ticks.load(Ordering::Relaxed);
        assert!(at_timeout >= 5, "it ran while the job ran: {at_timeout}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            ticks.load(Ordering::Relaxed),
            at_timeout,
            "no tick after the job ended"
        );
    }
}
