//! The handler's attempts: transient errors retried in process with backon (the worker's
//! `RetryPolicy`, never past the deadline), until the job stops or its claim is lost.

use super::*;

impl<H: Handler> Runtime<H> {
    /// Runs the handler, retrying its transient errors in process (backon, the worker's
    /// [`crate::RetryPolicy`], never past the deadline) until the job stops or its claim is lost.
    pub(super) async fn run_handler(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        receive_count: u32,
        deadline: Instant,
        stop: &Stop,
        lost: impl Future<Output = ()>,
    ) -> Ran {
        let attempts = AtomicU32::new(0);
        let one = || {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(event, meta, receive_count, attempt, deadline)
        };
        let retried = one
            .retry(self.config.retry.delays())
            .when(JobError::is_transient)
            .adjust(|_, delay| delay.filter(|d| Instant::now() + *d < deadline))
            .notify(|err, delay| {
                tracing::info!(attempt = attempts.load(Ordering::Relaxed), error = %err, delay_ms = delay.as_millis() as u64, "transient failure; retrying in process");
            });
        let mut stop = stop.clone();
        let result = tokio::select! {
            // A stop or a lost claim first: the handler is not polled once either is known.
            biased;
            _ = stopped(&mut stop) => return Ran::Stopped,
            _ = lost => return Ran::ClaimLost,
            r = retried => r,
        };
        let attempt = attempts.load(Ordering::Relaxed);
        match result {
            Ok((outcome, staged, summary)) => Ran::Ok(outcome, attempt, staged, summary),
            Err(err) => Ran::Err(err, attempt),
        }
    }
}

/// Resolves when a stop is raised; never, if nobody can raise one (the sender is gone).
pub(super) async fn stopped(stop: &mut Stop) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
