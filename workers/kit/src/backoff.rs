//! Delays between attempts.
//!
//! - In process (transient errors within one delivery): exponential backoff with **full
//!   jitter** — each delay uniform in `[0, cap]`, the cap doubling from `base` up to `max` —
//!   built on `backon`'s exponential schedule, capped in attempts and in total delay.
//! - Across deliveries (retryable errors SQS redelivers): the visibility timeout grows with
//!   the message's receive count, `base * 2^(receive_count - 1)` up to `max`, so a failing job
//!   backs off for real until `maxReceiveCount` sends it to the DLQ.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// Retry policy of one worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts within one delivery, the first included.
    pub max_attempts: u32,
    /// The first in-process backoff cap.
    pub base: Duration,
    /// The largest in-process backoff cap.
    pub max: Duration,
    /// In-process delays never add up to more than this.
    pub max_total: Duration,
    /// The first redelivery delay.
    pub redelivery_base: Duration,
    /// The largest redelivery delay (SQS allows at most 12 hours).
    pub redelivery_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            max_total: Duration::from_secs(10),
            redelivery_base: Duration::from_secs(10),
            redelivery_max: Duration::from_secs(900),
        }
    }
}

impl RetryPolicy {
    /// The caps of the in-process delays before attempts 2..=max_attempts (no jitter).
    pub fn caps(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::new()
            .with_min_delay(self.base)
            .with_max_delay(self.max)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_total_delay(Some(self.max_total))
            .build()
    }

    /// The in-process delays: each uniform in `[0, cap]` (full jitter).
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        self.caps().map(|cap| cap.mul_f64(fastrand::f64()))
    }

    /// How long SQS should hide a message before its next delivery.
    pub fn redelivery_delay(&self, receive_count: u32) -> Duration {
        let exp = receive_count.saturating_sub(1).min(20);
        self.redelivery_base
            .saturating_mul(1 << exp)
            .min(self.redelivery_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_double_and_stop_at_max_attempts() {
        let p = RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        };
        let caps: Vec<u128> = p.caps().map(|c| c.as_millis()).collect();
        assert_eq!(caps, [100, 200, 400]);
    }

    #[test]
    fn full_jitter_stays_within_each_cap() {
        let p = RetryPolicy {
            max_attempts: 6,
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            for (d, cap) in p.delays().zip(p.caps()) {
                assert!(d <= cap, "{d:?} > {cap:?}");
            }
        }
    }

    #[test]
    fn total_delay_is_capped() {
        let p = RetryPolicy {
            max_attempts: 50,
            max_total: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let total: Duration = p.caps().sum();
        assert!(total <= Duration::from_secs(2), "{total:?}");
    }

    #[test]
    fn redelivery_delay_grows_with_receive_count_up_to_max() {
        let p = RetryPolicy::default();
        let d: Vec<u64> = (1..=9).map(|rc| p.redelivery_delay(rc).as_secs()).collect();
        assert_eq!(d, [10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(p.redelivery_delay(u32::MAX), Duration::from_secs(900));
    }
}
