//! Outcome events back to the bus: `stoker.job.completed` / `stoker.job.failed`.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use stoker_events::payload::outcome::{ErrorKind, JobCompleted, JobFailed};
use stoker_events::{Envelope, Event, Meta, Payload, SOURCE_WORKER};

use crate::error::JobError;
use crate::stats::Stats;

/// Publishes outcome events; a failure to publish is logged, never fails the job.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub(crate) client: Client,
    pub(crate) bus: String,
}

impl Publisher {
    /// Publishes to the EventBridge bus `bus`.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Publisher {
            client,
            bus: bus.into(),
        }
    }

    /// Publishes `stoker.job.completed` for a committed job, with its report.
    pub async fn completed(
        &self,
        stats: &Stats,
        worker: &str,
        event: &Event,
        attempts: u32,
        duration_ms: u64,
        report: &serde_json::Value,
    ) {
        let payload = JobCompleted {
            worker: worker.to_owned(),
            job_id: event.meta.id,
            job_kind: event.meta.kind.detail_type().to_owned(),
            attempts,
            duration_ms,
            report: report.clone(),
        };
        self.put(stats, worker, &event.meta, payload).await;
    }

    /// Publishes `stoker.job.failed` for a job that failed for good, with its error kind and
    /// reason.
    pub async fn failed(
        &self,
        stats: &Stats,
        worker: &str,
        event: &Event,
        attempts: u32,
        err: &JobError,
    ) {
        let payload = JobFailed {
            worker: worker.to_owned(),
            job_id: event.meta.id,
            job_kind: event.meta.kind.detail_type().to_owned(),
            attempts,
            error_kind: if err.is_permanent() {
                ErrorKind::Permanent
            } else {
                ErrorKind::Retryable
            },
            reason: err.to_string(),
        };
        self.put(stats, worker, &event.meta, payload).await;
    }

    /// Publishes a worker's own events (e.g. regressions found), 10 per PutEvents call. Unlike
    /// outcome events, these are part of the job: a failure is an error (retryable unless the
    /// bus refuses the entries for good).
    pub async fn emit<P: Payload + Clone>(
        &self,
        worker: &str,
        cause: &Meta,
        payloads: &[P],
    ) -> Result<usize, JobError> {
        let mut sent = 0;
        for chunk in payloads.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for p in chunk {
                let mut env = Envelope::new(p.clone(), SOURCE_WORKER, &format!("worker:{worker}"));
                env.correlation_id = Some(cause.correlation_id.clone());
                let detail = serde_json::to_string(&env)
                    .map_err(|e| JobError::permanent("serialize", e.to_string()))?;
                entries.push(
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE_WORKER)
                        .detail_type(P::KIND.detail_type())
                        .detail(detail)
                        .build(),
                );
            }
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| crate::classify::sdk_error("PutEvents", e))?;
            if out.failed_entry_count() > 0 {
                let code = out
                    .entries()
                    .iter()
                    .find_map(|e| e.error_code())
                    .unwrap_or("unknown");
                return Err(JobError::retryable(format!(
                    "EventBridge refused {} of {} events ({code}); check the bus {} exists and the role may put events on it",
                    out.failed_entry_count(),
                    chunk.len(),
                    self.bus
                )));
            }
            sent += chunk.len();
        }
        Ok(sent)
    }

    async fn put<P: Payload>(&self, stats: &Stats, worker: &str, cause: &Meta, payload: P) {
        let mut env = Envelope::new(payload, SOURCE_WORKER, &format!("worker:{worker}"));
        env.correlation_id = Some(cause.correlation_id.clone());
        let Ok(detail) = serde_json::to_string(&env) else {
            return;
        };
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE_WORKER)
            .detail_type(P::KIND.detail_type())
            .detail(detail)
            .build();
        stats.events();
        match self.client.put_events().entries(entry).send().await {
            Ok(out) if out.failed_entry_count() == 0 => {}
            Ok(out) => {
                tracing::warn!(code = ?out.entries().first().and_then(|e| e.error_code()), "outcome event refused by EventBridge")
            }
            Err(e) => tracing::warn!(error = %e, "outcome event not published"),
        }
    }
}
