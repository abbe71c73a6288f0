//! Claim-first mode: claim the job, keep the claim alive while it runs, complete or release
//! it. A held, completed or conflicting claim decides without running the job.

use super::*;

impl Core {
    /// The claim-run-finish part of [`Runtime::process`](super::Runtime::process) for a claim-first job.
    pub(super) async fn claim_first<E: JobEvent>(
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
        let claim_ttl = job.budget + CLAIM_GRACE;
        let request = ClaimRequest {
            worker: self.worker().to_owned(),
            key: key.clone(),
            payload_hash: event.payload_hash(),
            event_id: meta.id.clone(),
            ttl: claim_ttl,
        };
        let claim = self.batches.claim(&self.ops, request).await;
        let claim_id = match claim {
            Ok(Claim::Acquired { claim_id }) if rc > self.config.max_receive_count => {
                let run = t.run(
                    self.worker(),
                    Some(meta),
                    RunOutcome::FailedRetryable,
                    0,
                    None,
                );
                self.release(key, &claim_id, &run).await;
                return self.past_the_limit(rc).into();
            }
            Ok(Claim::Acquired { claim_id }) => claim_id,
            Err(e) => {
                tracing::warn!(error = %e, "ops table unavailable; the message will be redelivered");
                let err = JobError::retryable(format!("ops table unavailable: {e}"));
                return self
                    .again(rc, self.config.retry.redelivery_delay(rc), &err)
                    .into();
            }
            Ok(Claim::Replay { .. }) => {
                tracing::info!("duplicate delivery of a completed job: replayed, no side effect");
                return self.replayed(meta, t, 0).await;
            }
            Ok(Claim::Busy { remaining }) if rc <= self.config.max_receive_count => {
                // Someone is running it (its lease keeps the claim alive) or died holding it.
                // A busy claim is not a failure: look again after the usual redelivery delay
                // (a duplicate of a short job replays soon), and from the last delivery on only
                // once the claim would have expired, so a long job's duplicate is never
                // dead-lettered while the job runs.
                let wait = if rc < self.config.max_receive_count {
                    remaining.min(self.config.retry.redelivery_delay(rc))
                } else {
                    remaining
                };
                tracing::info!(
                    ?remaining,
                    ?wait,
                    "another worker holds this job's claim; looking again later"
                );
                return Disposition::Retry {
                    delay: (wait + Duration::from_secs(1)).min(MAX_VISIBILITY_DELAY),
                }
                .into();
            }
            Ok(Claim::Busy { .. }) => {
                return self.past_the_limit(rc).into();
            }
            Ok(Claim::Conflict) => {
                let err = conflict(key);
                self.record(&t.run(
                    self.worker(),
                    Some(meta),
                    RunOutcome::FailedPermanent,
                    0,
                    Some(&err),
                ))
                .await;
                return dead(&err).into();
            }
        };

        // The claim lives as long as the job does, completion included.
        let lease = self
            .leases
            .keep(self.worker(), key.clone(), claim_id.clone(), claim_ttl);
        // The claim was taken with the other jobs of the receive; now wait for a slot to run.
        let turn = crate::slot::start().await;
        if turn == crate::slot::Turn::Refused {
            let err = JobError::retryable("shutdown before the job started: claim released");
            let run = t.run(
                self.worker(),
                Some(meta),
                RunOutcome::FailedRetryable,
                0,
                Some(&err),
            );
            self.release(key, &claim_id, &run).await;
            return self.not_started();
        }
        let t = &t.after(turn);
        // Lost while it waited for its slot: it must not run at all.
        let ran = if lease.is_lost() {
            Ran::ClaimLost
        } else {
            self.run_handler(stack, job, t, lease.lost()).await
        };
        let (err, attempts, release) = match ran {
            Ran::Ok(outcome, attempts, staged, summary) => {
                let mut run = t.run(
                    self.worker(),
                    Some(meta),
                    RunOutcome::Completed,
                    attempts,
                    None,
                );
                run.summary = summary;
                // Held until the job's layers are done (its outcome event included).
                let room = self.give_slot_back();
                let holder = Holder::Claim {
                    claim_id: claim_id.clone(),
                };
                let completion = self
                    .finish_completed(key, &holder, &outcome, &run, &staged)
                    .await;
                drop(lease);
                match completion {
                    Ok(Completion::Committed) => {
                        return self.completed(t, attempts, &run, outcome).with_room(room);
                    }
                    Ok(Completion::TakenOver | Completion::Replayed | Completion::Conflict) => (
                        JobError::retryable(
                            "the job outlived its claim and another worker took it over: nothing was committed; a redelivery replays the other worker's outcome",
                        ),
                        attempts,
                        false,
                    ),
                    Ok(Completion::StagedRefused) => (staged_refused(), attempts, true),
                    Err(e) => {
                        // It may have committed (an answer lost for good): not a failure. The
                        // next delivery replays it, or runs it once the claim expires.
                        tracing::warn!(error = %e, "completion not confirmed; the next delivery finds out");
                        return Disposition::Retry {
                            delay: claim_ttl.min(MAX_VISIBILITY_DELAY),
                        }
                        .into();
                    }
                }
            }
            Ran::Err(err, attempts) => (err, attempts, true),
            Ran::Stopped => (stopped_by_shutdown(), 0, true),
            Ran::ClaimLost => (
                JobError::retryable(
                    "the job's claim was taken over while it ran: stopped, nothing committed",
                ),
                0,
                false,
            ),
        };
        let release = release.then_some((key.as_str(), claim_id.as_str()));
        self.fail(meta, t, &err, attempts, stop, release).await
    }
}
