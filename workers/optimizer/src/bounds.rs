//! The request's guardrails (`bounds`) applied to a recommendation without ever turning it
//! around. A memory size or timeout that fits stays as it is, even outside
//! `min_memory_mb..max_memory_mb`; a larger one is held to `max_change_pct` (at most double),
//! `max_memory_mb`/`max_timeout_s` and never ends up smaller or unchanged; a smaller one is held
//! to `max_change_pct` (never below half), `min_memory_mb` and the longest observed run, and
//! never ends up larger or unchanged. When the bounds leave no value in the recommended
//! direction, the answer is the reason, and nothing is applied.

use stoker_events::payload::optimize::Bounds;

/// Lambda's largest timeout.
pub const LAMBDA_MAX_TIMEOUT_S: u32 = 900;

/// `target` MB for a function at `current` MB, within `b`; the reason when no size in the
/// target's direction meets them.
pub fn bound_memory(current: u32, target: f64, b: &Bounds) -> Result<u32, String> {
    let wanted = target.max(0.0).round() as u32;
    within(
        current,
        wanted,
        b.max_change_pct,
        (b.min_memory_mb, b.max_memory_mb),
    )
    .ok_or_else(|| {
        format!(
            "{} memory is recommended ({wanted} MB), but no size {} than {current} MB is within max_change_pct {} % and min_memory_mb..max_memory_mb {}..{} MB; nothing is applied",
            more_or_less(wanted, current).0,
            more_or_less(wanted, current).1,
            b.max_change_pct,
            b.min_memory_mb,
            b.max_memory_mb
        )
    })
}

/// The timeout for a function at `current` s whose longest run in the lookback took
/// `max_duration_ms`: 1.5 x that run, bounded like memory, never at or below the run itself
/// (the smallest whole second above it). No duration data: the timeout stays.
pub fn bound_timeout(current: u32, max_duration_ms: f64, b: &Bounds) -> Result<u32, String> {
    if max_duration_ms <= 0.0 || !max_duration_ms.is_finite() {
        return Ok(current);
    }
    let above_run = (max_duration_ms / 1000.0).floor() as u32 + 1;
    let wanted = ((max_duration_ms * 1.5 / 1000.0).ceil() as u32).max(above_run);
    let highest = b.max_timeout_s.min(LAMBDA_MAX_TIMEOUT_S);
    if wanted != current && above_run > highest {
        return Err(format!(
            "the longest run took {max_duration_ms:.0} ms, so the timeout must stay above {} s, but max_timeout_s is {}; nothing is applied",
            above_run - 1,
            b.max_timeout_s
        ));
    }
    within(current, wanted, b.max_change_pct, (above_run.max(1), highest)).ok_or_else(|| {
        format!(
            "a {} timeout is recommended ({wanted} s: 1.5 x the longest run of {max_duration_ms:.0} ms), but no timeout {} than {current} s is within max_change_pct {} %, max_timeout_s {} s and above that run; nothing is applied",
            more_or_less(wanted, current).1,
            more_or_less(wanted, current).1,
            b.max_change_pct,
            b.max_timeout_s
        )
    })
}

/// `target` held within `pct` % of `current` (at most double, at least half) and within
/// `min..=max`, on the same side of `current` as `target`; `None` when nothing is left there.
fn within(current: u32, target: u32, pct: u32, (min, max): (u32, u32)) -> Option<u32> {
    if target == current {
        return Some(current);
    }
    let now = f64::from(current);
    let step = now * f64::from(pct) / 100.0;
    let mut lo = ((now - step).max(now / 2.0).ceil() as u32).max(min);
    let mut hi = ((now + step).min(now * 2.0).floor() as u32).min(max);
    if target > current {
        lo = lo.max(current + 1);
    } else {
        hi = hi.min(current - 1);
    }
    (lo <= hi).then(|| target.clamp(lo, hi))
}

fn more_or_less(target: u32, current: u32) -> (&'static str, &'static str) {
    if target > current {
        ("more", "larger")
    } else {
        ("less", "smaller")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(min: u32, max: u32, pct: u32) -> Bounds {
        Bounds {
            min_memory_mb: min,
            max_memory_mb: max,
            max_timeout_s: 900,
            max_change_pct: pct,
            watch_secs: 0,
            max_provisioned_concurrency: 5,
            max_table_capacity: 100,
        }
    }

    #[test]
    fn memory_that_fits_stays_even_outside_the_bounds() {
        // Clamped to max_memory_mb last, a 4096 MB function that fits was given 3008 MB.
        assert_eq!(bound_memory(4096, 4096.0, &Bounds::default()), Ok(4096));
        assert_eq!(bound_memory(128, 128.0, &bounds(256, 3008, 50)), Ok(128));
    }

    #[test]
    fn over_utilized_memory_never_gets_smaller() {
        let why = bound_memory(4096, 6144.0, &Bounds::default()).expect_err("no larger size");
        assert!(
            why.contains("more memory is recommended (6144 MB)")
                && why.contains("min_memory_mb..max_memory_mb 128..3008")
                && why.contains("nothing is applied"),
            "{why}"
        );
        assert!(
            bound_memory(3008, 4512.0, &Bounds::default()).is_err(),
            "none above max"
        );
        assert_eq!(
            bound_memory(1024, 1536.0, &bounds(128, 3008, 20)),
            Ok(1228),
            "+20 %"
        );
        assert_eq!(
            bound_memory(512, 3008.0, &bounds(128, 3008, 100)),
            Ok(1024),
            "2x"
        );
        assert!(bound_memory(128, 129.0, &bounds(128, 3008, 50)).is_ok_and(|m| m > 128));
    }

    #[test]
    fn under_utilized_memory_never_gets_larger() {
        let why = bound_memory(200, 150.0, &bounds(256, 3008, 50)).expect_err("no smaller size");
        assert!(
            why.starts_with("less memory is recommended (150 MB)"),
            "{why}"
        );
        assert!(
            bound_memory(256, 192.0, &bounds(256, 3008, 50)).is_err(),
            "min is current"
        );
        assert_eq!(
            bound_memory(300, 150.0, &bounds(256, 2048, 20)),
            Ok(256),
            "min"
        );
        assert_eq!(
            bound_memory(1024, 128.0, &bounds(128, 3008, 100)),
            Ok(512),
            "half"
        );
        // Above max_memory_mb, a smaller size is moved into the bounds as far as the step allows.
        assert_eq!(bound_memory(4096, 3072.0, &Bounds::default()), Ok(3008));
        assert!(
            bound_memory(4096, 3072.0, &bounds(128, 3008, 10)).is_err(),
            "too far"
        );
    }

    #[test]
    fn the_timeout_is_held_to_the_step_and_above_the_longest_run() {
        let b = Bounds::default();
        // 1.5 x 2 s = 3 s, but at most -50 % of 30 s in one pass.
        assert_eq!(bound_timeout(30, 2000.0, &b), Ok(15));
        assert_eq!(bound_timeout(4, 2000.0, &b), Ok(3));
        assert_eq!(bound_timeout(3, 2000.0, &b), Ok(3), "fits");
        // A run of 2.5 s in a 3 s timeout: 4 s (1.5 x is 3.75 s).
        assert_eq!(bound_timeout(3, 2500.0, &b), Ok(4));
        let low = Bounds {
            max_timeout_s: 4,
            ..Bounds::default()
        };
        let why = bound_timeout(10, 5000.0, &low).expect_err("below the longest run");
        assert!(
            why.contains("must stay above 5 s, but max_timeout_s is 4"),
            "{why}"
        );
        let three = Bounds {
            max_timeout_s: 3,
            ..Bounds::default()
        };
        let why = bound_timeout(3, 2900.0, &three).expect_err("no larger timeout");
        assert!(why.contains("no timeout larger than 3 s"), "{why}");
        assert_eq!(
            bound_timeout(30, 0.0, &b),
            Ok(30),
            "no duration data: no change"
        );
    }
}
