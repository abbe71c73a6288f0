//! How a job ends: its completion committed (retried until it is not lost); or its failure
//! recorded, and its redelivery or dead letter. What happened goes up in a [`Report`] to the
//! metrics and outcome-event layers.

use super::*;

impl Core {
    /// Completing must not be lost after the side effect happened: whatever is not permanent
    /// is retried (the claim's lease keeps it ours meanwhile), even an AWS error the SDK gave up
    /// on; what the last try found is returned.
    pub(super) async fn finish_completed(
        &self,
        key: &str,
        holder: &Holder,
        outcome: &Outcome,
        run: &RunRecord,
        staged: &[TransactWriteItem],
    ) -> Result<Completion, JobError> {
        let complete = || {
            let request = CompletionRequest {
                worker: self.worker().to_owned(),
                key: key.to_owned(),
                holder: holder.clone(),
                outcome: outcome.clone(),
                run: run.clone(),
                staged: staged.to_vec(),
            };
            self.batches.complete(&self.ops, request)
        };
        match complete
            .retry(self.config.retry.delays())
            .when(|e: &JobError| !e.is_permanent())
            .await
        {
            Ok(c) => {
                if c != Completion::Committed {
                    tracing::warn!(completion = ?c, "job done but its completion was refused: nothing committed");
                }
                Ok(c)
            }
            Err(e) => {
                tracing::error!(error = %e, "job done but not recorded as completed; it runs again once its claim expires");
                Err(e)
            }
        }
    }

    /// A committed job.
    pub(super) fn completed(
        &self,
        t: &Timing<'_>,
        attempts: u32,
        run: &RunRecord,
        outcome: Outcome,
    ) -> Finished {
        Finished::new(
            Disposition::Done,
            Report::Completed {
                attempts,
                outcome,
                duration_ms: run.duration_ms,
                elapsed: t.clock.elapsed(),
            },
        )
    }

    /// A job that failed: its run record (releasing its claim, when given), and its
    /// redelivery, or its dead letter once it failed for good.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn fail(
        &self,
        meta: &EventMeta,
        t: &Timing<'_>,
        err: &JobError,
        attempts: u32,
        stop: &Stop,
        release: Option<(&str, &str)>,
    ) -> Finished {
        let rc = t.msg.receive_count;
        let outcome = if err.is_permanent() {
            RunOutcome::FailedPermanent
        } else {
            RunOutcome::FailedRetryable
        };
        let run = t.run(self.worker(), Some(meta), outcome, attempts, Some(err));
        match release {
            Some((key, claim_id)) => self.release(key, claim_id, &run).await,
            None => self.record(&run).await,
        }
        let stopped = *stop.borrow();
        let report = |for_good| Report::Failed {
            attempts,
            error: err.clone(),
            for_good,
            stopped,
            elapsed: t.clock.elapsed(),
        };
        if !err.is_permanent() && rc < self.config.max_receive_count {
            let delay = if stopped {
                Duration::ZERO
            } else {
                self.config.retry.redelivery_delay(rc)
            };
            tracing::info!(error = %err, ?delay, "job failed; redelivery after a delay");
            return Finished::new(Disposition::Retry { delay }, report(false));
        }
        tracing::warn!(error = %err, code = err.code(), attempts, "job failed for good: to the DLQ");
        Finished::new(self.again(rc, Duration::ZERO, err), report(true))
    }

    /// A duplicate of a completed job: its run record; nothing else happens.
    pub(super) async fn replayed(
        &self,
        meta: &EventMeta,
        t: &Timing<'_>,
        attempts: u32,
    ) -> Finished {
        self.record(&t.run(
            self.worker(),
            Some(meta),
            RunOutcome::Replayed,
            attempts,
            None,
        ))
        .await;
        Finished::new(
            Disposition::Done,
            Report::Replayed {
                elapsed: t.clock.elapsed(),
            },
        )
    }
}
