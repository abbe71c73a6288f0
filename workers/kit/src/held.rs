//! The messages of one receive that the long-poll driver still holds (waiting for a free slot,
//! or running), kept invisible with one `ChangeMessageVisibilityBatch` per heartbeat for all of
//! them instead of one call per message.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use tokio::sync::Mutex;

use crate::job::Handler;
use crate::process::Runtime;
use crate::task::AbortOnDrop;

/// Receipts of one receive still held, and the heartbeat extending them.
#[derive(Debug)]
pub struct Held {
    receipts: Arc<Mutex<BTreeSet<String>>>,
    _heartbeat: AbortOnDrop,
}

impl Held {
    /// Holds `receipts`: every `visibility / 3` their visibility is set to `visibility` again,
    /// in one batch call, until each is [`Held::let_go`] (or this is dropped).
    pub fn start<H: Handler>(rt: &Arc<Runtime<H>>, receipts: Vec<String>) -> Held {
        let receipts = Arc::new(Mutex::new(receipts.into_iter().collect::<BTreeSet<_>>()));
        let heartbeat = {
            let (rt, receipts) = (rt.clone(), receipts.clone());
            AbortOnDrop::spawn(async move {
                let every = rt.config.visibility / 3;
                let mut wait = every;
                loop {
                    tokio::time::sleep(wait).await;
                    // The set is locked while the call is out (at most `every`), so a message
                    // let go meanwhile gets its own visibility after this call. A call given up
                    // after `every` may still land later: then a retry delay or a release
                    // becomes `visibility` (the message comes back later, never lost).
                    let held = receipts.lock().await;
                    if held.is_empty() {
                        return;
                    }
                    let list: Vec<&String> = held.iter().collect();
                    let extend = change_visibility_batch(&rt, &list, rt.config.visibility);
                    wait = match tokio::time::timeout(every, extend).await {
                        Ok(true) => every,
                        Ok(false) => Duration::from_secs(1),
                        Err(_) => {
                            tracing::warn!(
                                "ChangeMessageVisibilityBatch got no answer in time; trying again in 1 s"
                            );
                            Duration::from_secs(1)
                        }
                    };
                }
            })
        };
        Held {
            receipts,
            _heartbeat: heartbeat,
        }
    }

    /// Stops extending `receipt` (its job has ended); returns after any heartbeat call in
    /// flight, so that what the caller does with the message next is not overwritten.
    pub async fn let_go(&self, receipt: &str) {
        self.receipts.lock().await.remove(receipt);
    }
}

/// Sets the visibility of up to 10 messages in one call (more are split into calls of 10);
/// `true` when every change was made.
pub async fn change_visibility_batch<H: Handler>(
    rt: &Runtime<H>,
    receipts: &[&String],
    to: Duration,
) -> bool {
    let each: Vec<(&str, Duration)> = receipts.iter().map(|r| (r.as_str(), to)).collect();
    change_visibilities(rt, &each).await
}

/// Sets each message's visibility to its own timeout, 10 to a `ChangeMessageVisibilityBatch`;
/// `true` when every change was made.
pub async fn change_visibilities<H: Handler>(
    rt: &Runtime<H>,
    changes: &[(&str, Duration)],
) -> bool {
    let mut all = true;
    for chunk in changes.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (r, to))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*r)
                    .visibility_timeout(crate::settle::visibility_secs(*to))
                    .build()
                    .ok()
            })
            .collect();
        match rt
            .sqs
            .change_message_visibility_batch()
            .queue_url(&rt.config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) if out.failed().is_empty() => {}
            Ok(out) => {
                all = false;
                tracing::warn!(
                    failed = out.failed().len(),
                    "some visibility changes failed; those messages reappear after their current timeout"
                );
            }
            Err(e) => {
                all = false;
                tracing::warn!(
                    error = %e,
                    "ChangeMessageVisibilityBatch failed; those messages reappear after their current timeout"
                );
            }
        }
    }
    all
}
