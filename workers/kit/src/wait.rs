//! Waiting for AWS to reach a state (a backup AVAILABLE, a table ACTIVE, a function's update
//! done, log lines arrived): one helper instead of a hand-written loop per call site. The
//! state is read again on `backon`'s schedule (from `first`, doubling up to `max`, no jitter:
//! nothing contends) until it is reached, the read fails (the caller's error, at once), or
//! `within` has passed (`Ok(None)`: the caller says what timed out and whether a retry helps).
//! The reads themselves are retried by the SDK as configured in [`crate::aws`].

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use crate::error::JobError;

/// How often the state is read again: from `first`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The first pause.
    pub first: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Pace {
    /// The same pause every time.
    pub const fn every(pause: Duration) -> Self {
        Pace {
            first: pause,
            max: pause,
        }
    }
}

enum Wait {
    NotYet,
    Failed(JobError),
}

/// Reads the state with `check` until it returns `Some`, then gives that. `Ok(None)` when
/// `within` passed first; the first error of `check` at once.
pub async fn until<T, F, Fut>(
    within: Duration,
    pace: Pace,
    mut check: F,
) -> Result<Option<T>, JobError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, JobError>>,
{
    let deadline = Instant::now() + within;
    let schedule = ExponentialBuilder::new()
        .with_min_delay(pace.first)
        .with_max_delay(pace.max)
        .with_factor(if pace.first == pace.max { 1.0 } else { 2.0 })
        .without_max_times();
    let read = || {
        let state = check();
        async move {
            match state.await {
                Ok(Some(t)) => Ok(t),
                Ok(None) => Err(Wait::NotYet),
                Err(e) => Err(Wait::Failed(e)),
            }
        }
    };
    match read
        .retry(schedule)
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, Wait::NotYet) && Instant::now() < deadline)
        .await
    {
        Ok(t) => Ok(Some(t)),
        Err(Wait::NotYet) => Ok(None),
        Err(Wait::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn reads_until_the_state_is_reached() {
        let reads = AtomicU32::new(0);
        let got = until(
            Duration::from_secs(10),
            Pace::every(Duration::from_millis(5)),
            || async {
                let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
                Ok((n == 3).then_some(n))
            },
        )
        .await
        .unwrap();
        assert_eq!(got, Some(3));
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_none_after_the_deadline_and_an_error_at_once() {
        let reads = AtomicU32::new(0);
        let started = Instant::now();
        let got: Option<()> = until(
            Duration::from_millis(200),
            Pace {
                first: Duration::from_millis(10),
                max: Duration::from_millis(40),
            },
            || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            },
        )
        .await
        .unwrap();
        assert_eq!(got, None);
        // 10 + 20 + 40 + 40 + ... ms until 200 ms have passed: 6 or 7 reads (8 on a slow
        // machine's rounding), not one per millisecond.
        let n = reads.load(Ordering::SeqCst);
        assert!((5..=9).contains(&n), "{n} reads");
        assert!(started.elapsed() >= Duration::from_millis(200));

        let reads = AtomicU32::new(0);
        let e = until::<(), _, _>(
            Duration::from_secs(10),
            Pace::every(Duration::from_millis(5)),
            || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Err(JobError::permanent("gone", "the backup was deleted"))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "gone");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
