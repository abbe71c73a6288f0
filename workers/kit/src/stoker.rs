//! stoker's own events as kit jobs (the `stoker` feature, on by default): its
//! `stoker_events::Event` is a [`JobEvent`], its workers are [`WorkerId`]s, its payloads are
//! [`Request`]s, and its outcome events are `stoker.job.completed` / `stoker.job.failed`.

use std::time::Duration;

use sha2::{Digest, Sha256};
use stoker_events::payload::outcome::{ErrorKind, JobCompleted, JobFailed};
use stoker_events::{DecodeError, Envelope, Event, Meta, Payload, SOURCE_WORKER, Worker};

use crate::error::JobError;
use crate::event::{Announcement, Completed, Delivery, EventMeta, Failed, JobEvent, WorkerId};
use crate::typed::Request;

impl From<Worker> for WorkerId {
    fn from(w: Worker) -> Self {
        WorkerId::new(w.name())
            .with_outputs(w.stem())
            .with_job_timeout(default_timeout(w))
    }
}

/// The worker timeouts infra/template.yaml gives the functions (stoker-events' catalog).
pub fn default_timeout(worker: Worker) -> Duration {
    Duration::from_secs(worker.timeout_secs())
}

/// The name of the worker a stoker process is, from its executable's name (`stoker-backup`).
pub fn worker_of_process(process: &str) -> Option<&'static str> {
    Worker::ALL
        .into_iter()
        .find(|w| process == format!("stoker-{}", w.name()))
        .map(Worker::name)
}

impl From<DecodeError> for JobError {
    fn from(e: DecodeError) -> Self {
        JobError::permanent(e.code(), e.to_string())
    }
}

impl From<&Meta> for EventMeta {
    fn from(m: &Meta) -> Self {
        EventMeta {
            id: m.id.to_string(),
            kind: m.kind.detail_type().to_owned(),
            correlation_id: m.correlation_id.clone(),
            requested_by: m.requested_by.clone(),
            time: m.time,
        }
    }
}

impl JobEvent for Event {
    fn decode(body: &str, delivery: &Delivery<'_>) -> Result<Self, JobError> {
        let d = stoker_events::Delivery {
            message_id: delivery.message_id,
            sent_at: delivery.sent_at,
        };
        Ok(stoker_events::decode(body, &d)?)
    }

    fn meta(&self) -> EventMeta {
        EventMeta::from(&self.meta)
    }

    /// SHA-256 of the event's kind and canonical payload (object keys sorted).
    fn payload_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.meta.kind.detail_type().as_bytes());
        h.update(b"\n");
        h.update(self.body.to_value().to_string().as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn completed(&self, done: &Completed<'_>) -> Option<Announcement> {
        let payload = JobCompleted {
            worker: done.worker.to_owned(),
            job_id: self.meta.id,
            job_kind: self.meta.kind.detail_type().to_owned(),
            attempts: done.attempts,
            duration_ms: done.duration_ms,
            report: done.report.clone(),
        };
        announce(done.worker, &self.meta.correlation_id, payload)
    }

    fn failed(&self, failed: &Failed<'_>) -> Option<Announcement> {
        let payload = JobFailed {
            worker: failed.worker.to_owned(),
            job_id: self.meta.id,
            job_kind: self.meta.kind.detail_type().to_owned(),
            attempts: failed.attempts,
            error_kind: if failed.error.is_permanent() {
                ErrorKind::Permanent
            } else {
                ErrorKind::Retryable
            },
            reason: failed.error.to_string(),
        };
        announce(failed.worker, &self.meta.correlation_id, payload)
    }
}

/// A stoker event from `worker`, in the operation `correlation_id`, as an EventBridge entry.
pub fn announce<P: Payload>(
    worker: &str,
    correlation_id: &str,
    payload: P,
) -> Option<Announcement> {
    let mut env = Envelope::new(payload, SOURCE_WORKER, &format!("worker:{worker}"));
    env.correlation_id = Some(correlation_id.to_owned());
    let detail = serde_json::to_string(&env).ok()?;
    Some(Announcement {
        source: SOURCE_WORKER.to_owned(),
        detail_type: P::KIND.detail_type().to_owned(),
        detail,
    })
}

/// Every stoker payload is a request of the worker its kind routes to: a new payload needs
/// nothing here.
impl<P: Payload + Clone + Send + 'static> Request<Event> for P {
    const KINDS: &'static [&'static str] = &[P::KIND.detail_type()];

    fn from_event(event: &Event) -> Option<Self> {
        P::from_body(&event.body).cloned()
    }
}

impl crate::outcome::Publisher {
    /// Publishes stoker events of `worker`'s own (e.g. regressions found), in the operation of
    /// the job `cause`, 10 per PutEvents call: a failure is the job's error
    /// ([`Publisher::put`](crate::outcome::Publisher::put)).
    pub async fn emit<P: Payload + Clone>(
        &self,
        worker: &str,
        cause: &EventMeta,
        payloads: &[P],
    ) -> Result<usize, JobError> {
        let events = payloads
            .iter()
            .map(|p| {
                announce(worker, &cause.correlation_id, p.clone())
                    .ok_or_else(|| JobError::permanent("serialize", "an event did not serialize"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.put(events).await
    }
}
