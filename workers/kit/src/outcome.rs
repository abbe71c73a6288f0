//! Outcome events back to the bus: what the event type announces when a job is done or failed
//! for good ([`crate::JobEvent::completed`], [`crate::JobEvent::failed`]), and a worker's own
//! events ([`Publisher::put`]).

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::error::JobError;
use crate::event::Announcement;

/// Publishes events to one EventBridge bus.
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

    /// Publishes a job's outcome event, if its event type announces one; a failure is logged,
    /// never fails the job.
    pub async fn announce(&self, announcement: Option<Announcement>) {
        let Some(a) = announcement else { return };
        match self.client.put_events().entries(self.entry(a)).send().await {
            Ok(out) if out.failed_entry_count() == 0 => {}
            Ok(out) => {
                tracing::warn!(code = ?out.entries().first().and_then(|e| e.error_code()), "outcome event refused by EventBridge")
            }
            Err(e) => tracing::warn!(error = %e, "outcome event not published"),
        }
    }

    /// Publishes a worker's own events (e.g. regressions found), 10 per PutEvents call. Unlike
    /// outcome events, these are part of the job: a failure is an error (retryable unless the
    /// bus refuses the entries for good).
    pub async fn put(&self, events: Vec<Announcement>) -> Result<usize, JobError> {
        let mut sent = 0;
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let chunk: Vec<PutEventsRequestEntry> =
                events.by_ref().take(10).map(|a| self.entry(a)).collect();
            let n = chunk.len();
            let out = self
                .client
                .put_events()
                .set_entries(Some(chunk))
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
                    "EventBridge refused {} of {n} events ({code}); check the bus {} exists and the role may put events on it",
                    out.failed_entry_count(),
                    self.bus
                )));
            }
            sent += n;
        }
        Ok(sent)
    }

    fn entry(&self, a: Announcement) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(a.source)
            .detail_type(a.detail_type)
            .detail(a.detail)
            .build()
    }
}
