//! One attempt of the handler: within the job's deadline, a panic caught as a retryable
//! error, at most `MAX_STAGED` staged writes.

use super::*;

impl<H: Handler> Runtime<H> {
    /// One attempt of the handler: its outcome and staged writes, or why it failed (a panic
    /// and running out of time included).
    pub(super) async fn attempt(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        receive_count: u32,
        attempt: u32,
        deadline: Instant,
    ) -> Result<(Outcome, Vec<TransactWriteItem>, Option<String>), JobError> {
        let ctx = JobCtx::new(
            self.config.worker,
            meta.clone(),
            attempt,
            receive_count,
            deadline,
        );
        let work = AssertUnwindSafe(self.handler.handle(event, &ctx)).catch_unwind();
        match tokio::time::timeout(ctx.time_left(), work).await {
            Ok(Ok(Ok(outcome))) => {
                let staged = ctx.take_staged();
                if staged.len() <= MAX_STAGED {
                    return Ok((outcome, staged, ctx.take_summary()));
                }
                Err(JobError::permanent(
                    "too_many_staged_writes",
                    format!(
                        "the handler staged {} writes; a job may stage at most {MAX_STAGED} (write the rest itself, idempotently)",
                        staged.len()
                    ),
                ))
            }
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(panic)) => Err(JobError::retryable(format!(
                "the handler panicked: {}",
                panic_message(&panic)
            ))),
            Err(_) => Err(JobError::transient(
                "the job ran out of time (job timeout or Lambda remaining time)",
            )),
        }
    }
}

pub(super) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
