//! Waiting by polling with a deadline (never by sleeping a fixed time).

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::Message;

/// Calls `probe` every `every` until it returns `Some`, or returns `None` after `deadline`.
pub async fn poll<T, F, Fut>(deadline: Duration, every: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() + every > until {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Receives (and deletes) everything currently deliverable on a queue, long-polling
/// `wait_s` seconds for the first batch.
pub async fn receive_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_s: i32,
) -> anyhow::Result<Vec<Message>> {
    let mut all = Vec::new();
    let mut wait = wait_s;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .send()
            .await?;
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            return Ok(all);
        }
        for m in &batch {
            if let Some(h) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(h)
                    .send()
                    .await?;
            }
        }
        all.extend(batch);
        wait = 0;
    }
}

/// A deadline for hand-written polling loops that keep state between probes.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    until: Instant,
    every: Duration,
}

impl Deadline {
    pub fn after(within: Duration, every: Duration) -> Self {
        Deadline {
            until: Instant::now() + within,
            every,
        }
    }

    /// Waits one polling interval; `false` once the deadline has passed.
    pub async fn tick(&self) -> bool {
        if Instant::now() >= self.until {
            return false;
        }
        tokio::time::sleep(self.every).await;
        true
    }
}

/// Polls `probe` every 200 ms until it is true; panics naming `what` after `within`.
pub async fn wait_for<F, Fut>(what: &str, within: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Deadline::after(within, Duration::from_millis(200));
    while !probe().await {
        assert!(
            deadline.tick().await,
            "timed out after {within:?} waiting for {what}"
        );
    }
}
