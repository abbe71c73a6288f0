//! A sweep's time budget: it must measure every size and put the function back within the
//! optimizer's job, or a kill at the job's deadline leaves it half-swept until the next pass.
//!
//! Each invocation may take the function's whole timeout; a size also needs its configuration
//! update, its version and alias and the wait for REPORT lines ([`PER_SIZE`]); the clean-up
//! needs [`CLEAN_UP`]. A sweep whose worst case does not fit the time left is refused before
//! it changes anything, with the arithmetic; a sweep that runs slower than that stops before a
//! size it has no time for, and cleans up.

use std::time::Duration;

use stoker_events::payload::optimize::{self, PowerTuning};

/// One size's work besides its invocations: the update, the version, the alias, and the wait
/// for REPORT lines that a log tail does not carry ([`crate::measure::LOG_WAIT`]).
pub const PER_SIZE: Duration = Duration::from_secs(optimize::SWEEP_PER_SIZE_S);
/// Putting the function back and deleting the sweep's aliases and versions.
pub const CLEAN_UP: Duration = Duration::from_secs(optimize::SWEEP_CLEAN_UP_S);

/// The worst-case time of one size's invocations with a `timeout_s` function.
pub fn one_size(t: &PowerTuning, timeout_s: u32) -> Duration {
    let (rounds, pauses) = if t.parallel {
        (1, 0)
    } else {
        (t.invocations, t.invocations.saturating_sub(1))
    };
    Duration::from_secs(u64::from(rounds) * u64::from(timeout_s))
        + Duration::from_millis(u64::from(pauses) * u64::from(t.sleep_ms))
        + PER_SIZE
}

/// Refuses a sweep of `sizes` sizes of a `timeout_s` function that may not finish in `left`
/// (of a `job` job timeout), with the arithmetic and what to change.
pub fn check(
    t: &PowerTuning,
    sizes: usize,
    timeout_s: u32,
    left: Duration,
    job: Duration,
) -> Result<(), String> {
    let per_size = one_size(t, timeout_s);
    let need = per_size * sizes as u32 + CLEAN_UP;
    if need <= left {
        return Ok(());
    }
    let invocations = if t.parallel {
        format!("1 round of {} parallel invocations", t.invocations)
    } else {
        format!("{} invocations", t.invocations)
    };
    let pauses = if t.parallel || t.sleep_ms == 0 || t.invocations < 2 {
        String::new()
    } else {
        format!(
            " + {sizes} x {} pauses x {} ms",
            t.invocations - 1,
            t.sleep_ms
        )
    };
    Err(format!(
        "no sweep: {sizes} sizes x {invocations} x {timeout_s} s (the function's timeout){pauses} + {sizes} x {} s per size (update, version, alias, REPORT lines) + {} s clean-up = {} s, but {} s are left of the optimizer's {} s job; sweep fewer sizes or invocations, run them in parallel, or lower the function's timeout",
        PER_SIZE.as_secs(),
        CLEAN_UP.as_secs(),
        need.as_secs(),
        left.as_secs(),
        job.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning(invocations: u32, parallel: bool, sleep_ms: u32) -> PowerTuning {
        PowerTuning {
            memory_sizes: vec![128, 256, 512],
            invocations,
            parallel,
            sleep_ms,
            payload: None,
            arm64_twin: None,
        }
    }

    const JOB: Duration = Duration::from_secs(900);

    #[test]
    fn a_sweep_that_may_not_finish_is_refused_with_the_arithmetic() {
        let why = check(&tuning(10, false, 500), 3, 30, JOB, JOB).expect_err("too long");
        assert_eq!(
            why,
            "no sweep: 3 sizes x 10 invocations x 30 s (the function's timeout) + 3 x 9 pauses x 500 ms + 3 x 35 s per size (update, version, alias, REPORT lines) + 30 s clean-up = 1048 s, but 900 s are left of the optimizer's 900 s job; sweep fewer sizes or invocations, run them in parallel, or lower the function's timeout"
        );
    }

    #[test]
    fn parallel_invocations_count_once_per_size() {
        assert_eq!(check(&tuning(10, true, 0), 3, 30, JOB, JOB), Ok(()));
        let why = check(&tuning(10, true, 0), 3, 300, JOB, JOB).expect_err("3 x 300 s");
        assert!(
            why.contains("3 sizes x 1 round of 10 parallel invocations x 300 s"),
            "{why}"
        );
    }

    #[test]
    fn what_fits_the_time_left_passes() {
        // 3 x (4 x 3 s + 35 s) + 30 s = 171 s.
        assert_eq!(
            check(&tuning(4, false, 0), 3, 3, Duration::from_secs(171), JOB),
            Ok(())
        );
        assert!(check(&tuning(4, false, 0), 3, 3, Duration::from_secs(170), JOB).is_err());
    }
}
