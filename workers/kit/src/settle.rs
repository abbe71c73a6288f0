//! What a driver does with a message once its job has a disposition: the same SQS actions for
//! the Lambda driver and the long-poll driver.
//!
//! | disposition | SQS action here | then the message is |
//! |---|---|---|
//! | `Done` | - | deleted (long poll: in a batch; Lambda: not reported failed) |
//! | `Retry { delay }` | - | kept for its redelivery; the driver makes it visible after `delay` (long poll: in a batch with others; Lambda: in one batch per invocation) |
//! | `Dead` | sent to the DLQ with its reason | deleted; kept when the DLQ send failed |

use std::time::Duration;

use crate::job::Handler;
use crate::message::{Delivered, Rejected};
use crate::process::{Disposition, Runtime, Stop};

/// A message as SQS handed it over, whichever driver received it.
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    /// The SQS message id (empty when SQS gave none).
    pub message_id: &'a str,
    /// The message body as delivered (empty when SQS gave none).
    pub body: &'a str,
}

/// What is left for the driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Delete the message: done, or in the DLQ with its reason.
    Delete,
    /// Leave it: it comes back after `delay` (a retry: the driver sets its visibility to it,
    /// [`crate::held::change_visibilities`]), or after its visibility timeout.
    Keep {
        /// The retry's redelivery delay; `None` when the message waits out its visibility timeout.
        delay: Option<Duration>,
    },
}

/// Runs the job of a message, or dead-letters a message without its delivery facts.
pub async fn run_job<H: Handler>(
    rt: &Runtime<H>,
    facts: &Result<Delivered<'_>, Rejected>,
    budget: Duration,
    stop: &Stop,
) -> Disposition {
    match facts {
        Ok(msg) => rt.process(msg, budget, stop).await,
        Err(r) => {
            tracing::warn!(code = r.code, reason = %r.reason, "unusable SQS message: to the DLQ");
            Disposition::Dead {
                code: r.code.to_owned(),
                reason: r.reason.clone(),
            }
        }
    }
}

/// Carries out a disposition: see the module's table. The receive count comes from the
/// message's delivery facts (0 when it came without them).
pub async fn settle<H: Handler>(
    rt: &Runtime<H>,
    raw: Raw<'_>,
    facts: &Result<Delivered<'_>, Rejected>,
    disposition: Disposition,
) -> Settled {
    let receive_count = facts.as_ref().map_or(0, |d| d.receive_count);
    match disposition {
        Disposition::Done => Settled::Delete,
        Disposition::Retry { delay } => Settled::Keep { delay: Some(delay) },
        Disposition::Dead { code, reason } => {
            match rt
                .dead_letter(raw.body, raw.message_id, receive_count, &code, &reason)
                .await
            {
                Ok(()) => Settled::Delete,
                Err(e) => {
                    tracing::error!(error = %e, "could not send to the DLQ; the message stays on its queue");
                    Settled::Keep { delay: None }
                }
            }
        }
    }
}

/// A visibility timeout in whole seconds, at most SQS' 12 hours.
pub fn visibility_secs(d: Duration) -> i32 {
    d.as_secs().min(43_200) as i32
}
