//! Optimistic mode ([`Idempotency::Optimistic`](crate::Idempotency::Optimistic)): no claim.
//! The job runs, then its staged writes commit with its completion, conditioned on the job not
//! having completed (and no claim-first worker holding it). A duplicate that ran alongside
//! finds it completed: a replay, its own staged writes dropped. One ops-table write per job,
//! shared with the jobs committing alongside.

use super::*;

impl Core {
    /// The run-and-commit part of [`Runtime::process`](super::Runtime::process) for an optimistic job.
    pub(super) async fn optimistic<E: JobEvent>(
        &self,
        stack: &JobService<E>,
        job: &Decoded<'_, E>,
    ) -> Finished {
        let Decoded {
            event,
            meta,
            key,
            stop,
            t,
            ..
        } = job;
        let rc = t.msg.receive_count;
        if rc > self.config.max_receive_count {
            // Its job may have committed at the last delivery (an answer lost): replay it then.
            if let Ok(Claim::Replay { .. }) = self
                .ops
                .completed(self.worker(), key, &event.payload_hash())
                .await
            {
                return self.replayed(meta, t, 0).await;
            }
            return self.past_the_limit(rc).into();
        }
        let turn = crate::slot::start().await;
        if turn == crate::slot::Turn::Refused {
            return self.not_started();
        }
        let t = &t.after(turn);
        let ran = self
            .run_handler(stack, job, t, std::future::pending())
            .await;
        let (outcome, attempts, staged, summary) = match ran {
            Ran::Ok(outcome, attempts, staged, summary) => (outcome, attempts, staged, summary),
            Ran::Err(err, attempts) => {
                return self.fail(meta, t, &err, attempts, stop, None).await;
            }
            Ran::Stopped | Ran::ClaimLost => {
                let err = stopped_by_shutdown();
                return self.fail(meta, t, &err, 0, stop, None).await;
            }
        };
        // Held until the job's layers are done (its outcome event included).
        let room = self.give_slot_back();
        let mut run = t.run(
            self.worker(),
            Some(meta),
            RunOutcome::Completed,
            attempts,
            None,
        );
        run.summary = summary;
        let holder = Holder::Nobody {
            claim_id: uuid::Uuid::now_v7().to_string(),
            payload_hash: event.payload_hash(),
            event_id: meta.id.clone(),
        };
        let err = match self
            .finish_completed(key, &holder, &outcome, &run, &staged)
            .await
        {
            Ok(Completion::Committed) => {
                return self.completed(t, attempts, &run, outcome).with_room(room);
            }
            Ok(Completion::Replayed) => {
                tracing::info!("a duplicate of a completed job: ran, nothing committed, replayed");
                return self.replayed(meta, t, attempts).await;
            }
            Ok(Completion::Conflict) => conflict(key),
            Ok(Completion::TakenOver) => {
                // A claim-first worker of the same key (a deploy switching modes) holds it: not
                // a failure; look again later, when it has completed (a replay) or let go.
                tracing::info!(
                    "a claim-first worker holds this job's key: nothing committed; looking again later"
                );
                return Disposition::Retry {
                    delay: self.config.retry.redelivery_delay(rc),
                }
                .into();
            }
            Ok(Completion::StagedRefused) => staged_refused(),
            Err(e) => {
                // It may have committed (an answer lost for good): the next delivery runs it
                // again and replays if it did.
                tracing::warn!(error = %e, "commit not confirmed; the next delivery finds out");
                return Disposition::Retry {
                    delay: self.config.retry.redelivery_delay(rc),
                }
                .into();
            }
        };
        self.fail(meta, t, &err, attempts, stop, None)
            .await
            .with_room(room)
    }
}
