//! What happens to a message that failed: redelivered after a delay, or dead-lettered with
//! its reason on its last delivery (the kit's, not SQS' silent redrive).

use super::*;

impl Core {
    /// A message delivered more times than the kit's limit: its worker crashed, was cut off or
    /// lost its answer at the last delivery the kit counts (the queue's redrive allows a margin
    /// above it so that this is seen here, with a reason, instead of moved by SQS without one).
    pub(super) fn past_the_limit(&self, receive_count: u32) -> Disposition {
        tracing::warn!(receive_count, "delivered past the kit's limit: to the DLQ");
        Disposition::Dead {
            code: DELIVERY_LIMIT.to_owned(),
            reason: format!(
                "delivered {receive_count} times, more than the worker's limit of {}: a worker crashed, timed out or lost its answer at the last delivery; see `stoker status` and the worker's logs, then redrive",
                self.config.max_receive_count
            ),
        }
    }

    /// Leave the message for redelivery after `delay`, unless this is its last delivery: then
    /// the kit dead-letters it itself with the reason (SQS' own redrive would move it silently).
    pub(super) fn again(&self, receive_count: u32, delay: Duration, err: &JobError) -> Disposition {
        if err.is_permanent() {
            return dead(err);
        }
        if receive_count < self.config.max_receive_count {
            return Disposition::Retry { delay };
        }
        Disposition::Dead {
            code: crate::dlq::RETRIES_EXHAUSTED.to_owned(),
            reason: format!("gave up after {receive_count} deliveries: {err}"),
        }
    }
}

pub(crate) fn dead(err: &JobError) -> Disposition {
    Disposition::Dead {
        code: err.code().to_owned(),
        reason: err.to_string(),
    }
}
