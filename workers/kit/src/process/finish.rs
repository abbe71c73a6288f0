//! How a job ends: its completion committed (retried until it is not lost), its metric and
//! outcome event; or its failure recorded, its metric, and its redelivery or dead letter.

use super::*;

impl<H: Handler> Runtime<H> {
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

    /// A committed job: its metric and its outcome event.
    pub(super) async fn completed(
        &self,
        event: &H::Event,
        t: &Timing<'_>,
        attempts: u32,
        run: &RunRecord,
        outcome: &Outcome,
    ) -> Disposition {
        emf::emit(
            self.worker(),
            &JobMetrics {
                completed: true,
                attempts,
                ..t.metrics()
            },
        );
        if let Some(p) = &self.publisher {
            let done = Completed {
                worker: self.worker(),
                attempts,
                duration_ms: run.duration_ms,
                report: outcome,
            };
            p.announce(event.completed(&done)).await;
        }
        Disposition::Done
    }

    /// A job that failed: its run record (releasing its claim, when given), its metric, and its
    /// redelivery, or its dead letter and outcome event once it failed for good.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn fail(
        &self,
        event: &H::Event,
        meta: &EventMeta,
        t: &Timing<'_>,
        err: &JobError,
        attempts: u32,
        stop: &Stop,
        release: Option<(&str, &str)>,
    ) -> Disposition {
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
        if !stopped {
            emf::emit(
                self.worker(),
                &JobMetrics {
                    failed: true,
                    attempts,
                    ..t.metrics()
                },
            );
        }
        if !err.is_permanent() && rc < self.config.max_receive_count {
            let delay = if stopped {
                Duration::ZERO
            } else {
                self.config.retry.redelivery_delay(rc)
            };
            tracing::info!(error = %err, ?delay, "job failed; redelivery after a delay");
            return Disposition::Retry { delay };
        }
        tracing::warn!(error = %err, code = err.code(), attempts, "job failed for good: to the DLQ");
        if let Some(p) = &self.publisher {
            let failed = Failed {
                worker: self.worker(),
                attempts,
                error: err,
            };
            p.announce(event.failed(&failed)).await;
        }
        self.again(rc, Duration::ZERO, err)
    }

    /// A duplicate of a completed job: its run record and metric; nothing else happens.
    pub(super) async fn replayed(
        &self,
        meta: &EventMeta,
        t: &Timing<'_>,
        attempts: u32,
    ) -> Disposition {
        self.record(&t.run(
            self.worker(),
            Some(meta),
            RunOutcome::Replayed,
            attempts,
            None,
        ))
        .await;
        emf::emit(
            self.worker(),
            &JobMetrics {
                replayed: true,
                ..t.metrics()
            },
        );
        Disposition::Done
    }
}
