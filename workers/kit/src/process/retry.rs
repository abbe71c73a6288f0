//! The handler's stack ([`crate::layers`]: retries, timeout, panic catch, staged writes, the
//! crate's own layers) run for one job, until it is done, the job stops or its claim is lost.

use super::*;

impl Core {
    /// Runs the job's stack ([`crate::layers`]) until it answers, the job stops or its claim
    /// is lost; the answer with the attempts made, the staged writes and the report's summary.
    /// `t` is the job's timing once its slot came: its budget counts from then.
    pub(super) async fn run_handler<E: JobEvent>(
        &self,
        stack: &JobService<E>,
        job: &Decoded<'_, E>,
        t: &Timing<'_>,
        lost: impl Future<Output = ()>,
    ) -> Ran {
        let ctx = JobCtx::new(
            self.config.worker,
            job.meta.clone(),
            0,
            t.msg.receive_count,
            t.clock + job.budget,
        );
        let attempt = Attempt {
            event: job.event.clone(),
            ctx: ctx.clone(),
        };
        let work = crate::layers::call(stack.clone(), attempt);
        let mut stop = job.stop.clone();
        let result = tokio::select! {
            // A stop or a lost claim first: the handler is not polled once either is known.
            biased;
            _ = stopped(&mut stop) => return Ran::Stopped,
            _ = lost => return Ran::ClaimLost,
            r = work => r,
        };
        let attempts = ctx.attempts.load(Ordering::Relaxed);
        match result {
            Ok(outcome) => Ran::Ok(outcome, attempts, ctx.take_staged(), ctx.take_summary()),
            Err(err) => Ran::Err(err, attempts),
        }
    }
}

/// Resolves when a stop is raised; never, if nobody can raise one (the sender is gone).
pub(super) async fn stopped(stop: &mut Stop) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
