//! Passive recommendations: Compute Optimizer's data-sufficiency gate (at least 50 invocations
//! in the lookback) and findings, the seeds' rules (memory -25 % when under-utilized, +50 %
//! when over-utilized; timeout = max duration x 1.5), bounded by the request's guardrails
//! ([`crate::bounds`]: never turned around, and nothing to apply when they cannot be met).

use serde::Serialize;
use stoker_events::payload::optimize::Bounds;
pub use stoker_events::payload::outcome::Finding;

use crate::bounds::{bound_memory, bound_timeout};
use crate::functions::FunctionInfo;
use crate::pricing::{Arch, Pricing};

pub const MIN_INVOCATIONS: u64 = 50;
/// Peak memory used below this share of the configured memory: under-utilized.
pub const UNDER: f64 = 0.5;
/// Above this share: over-utilized.
pub const OVER: f64 = 0.9;

/// What the metrics say of one function over the lookback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub arch: Arch,
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub lookback_days: u32,
    pub avg_duration_ms: f64,
    pub max_duration_ms: f64,
    /// Where the service answers percentiles (the highest daily p99).
    pub p99_duration_ms: Option<f64>,
    /// From the REPORT lines' Max Memory Used (or Lambda Insights).
    pub max_memory_used_mb: Option<u32>,
    /// `report_lines` or `lambda_insights`.
    pub memory_source: Option<String>,
}

impl Observed {
    /// Nothing read of `f` over `days` (a pass that left it alone).
    pub fn unread(f: &FunctionInfo, days: u32) -> Self {
        Observed {
            memory_mb: f.memory_mb,
            timeout_s: f.timeout_s,
            arch: f.arch,
            invocations: 0,
            errors: 0,
            throttles: 0,
            lookback_days: days,
            avg_duration_ms: 0.0,
            max_duration_ms: 0.0,
            p99_duration_ms: None,
            max_memory_used_mb: None,
            memory_source: None,
        }
    }

    /// The average invocation rate over the lookback.
    pub fn invocations_per_second(&self) -> f64 {
        self.invocations as f64 / (f64::from(self.lookback_days.max(1)) * 86_400.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub finding: Finding,
    pub reason: String,
    pub memory_mb: Option<u32>,
    pub timeout_s: Option<u32>,
    pub current_monthly_usd: f64,
    pub recommended_monthly_usd: Option<f64>,
    /// Why the bounds leave no memory size in the recommended direction (then nothing is
    /// applied).
    pub memory_unmet: Option<String>,
    /// Why they leave no timeout in the recommended direction.
    pub timeout_unmet: Option<String>,
}

impl Recommendation {
    /// Why the bounds cannot be met, if they cannot.
    pub fn bounds_unmet(&self) -> Option<String> {
        unmet(self.memory_unmet.as_deref(), self.timeout_unmet.as_deref())
    }
}

/// The reasons the bounds cannot be met, joined.
pub fn unmet(memory: Option<&str>, timeout: Option<&str>) -> Option<String> {
    let all: Vec<&str> = [memory, timeout].into_iter().flatten().collect();
    (!all.is_empty()).then(|| all.join("; "))
}

/// What moving an x86_64 function to arm64 would save a month at the same memory and
/// duration; none for an arm64 function or one not invoked.
pub fn arm64_saving(o: &Observed, pricing: &Pricing) -> Option<f64> {
    if o.arch != Arch::X86_64 || o.invocations == 0 {
        return None;
    }
    let rate = o.invocations_per_second();
    let at = |arch| pricing.monthly(o.memory_mb, o.avg_duration_ms, arch, rate);
    Some(at(Arch::X86_64) - at(Arch::Arm64))
}

pub fn recommend(o: &Observed, bounds: &Bounds, pricing: &Pricing) -> Recommendation {
    let rate = o.invocations_per_second();
    let current_monthly_usd = pricing.monthly(o.memory_mb, o.avg_duration_ms, o.arch, rate);
    let unavailable = |reason: String| Recommendation {
        finding: Finding::Unavailable,
        reason,
        memory_mb: None,
        timeout_s: None,
        current_monthly_usd,
        recommended_monthly_usd: None,
        memory_unmet: None,
        timeout_unmet: None,
    };
    if o.invocations < MIN_INVOCATIONS {
        return unavailable(format!(
            "too few invocations: {} in {} days (at least {MIN_INVOCATIONS} are needed)",
            o.invocations, o.lookback_days
        ));
    }
    let Some(used) = o.max_memory_used_mb else {
        return unavailable(
            "no memory data: no REPORT lines or Lambda Insights in the lookback".into(),
        );
    };
    let share = f64::from(used) / f64::from(o.memory_mb.max(1));
    let (target, why) = if share < UNDER {
        (
            f64::from(o.memory_mb) * 0.75,
            format!(
                "under-utilized: peak memory {used} MB is {:.0} % of {} MB",
                share * 100.0,
                o.memory_mb
            ),
        )
    } else if share > OVER {
        (
            f64::from(o.memory_mb) * 1.5,
            format!(
                "over-utilized: peak memory {used} MB is {:.0} % of {} MB",
                share * 100.0,
                o.memory_mb
            ),
        )
    } else {
        (
            f64::from(o.memory_mb),
            format!(
                "memory fits: peak {used} MB is {:.0} % of {} MB",
                share * 100.0,
                o.memory_mb
            ),
        )
    };
    let memory = bound_memory(o.memory_mb, target, bounds);
    let timeout = bound_timeout(o.timeout_s, o.max_duration_ms, bounds);
    let (memory_unmet, timeout_unmet) = (memory.clone().err(), timeout.clone().err());
    let (memory_mb, timeout_s) = (memory.ok(), timeout.ok());
    let finding = if memory_unmet.is_none()
        && timeout_unmet.is_none()
        && memory_mb == Some(o.memory_mb)
        && timeout_s == Some(o.timeout_s)
    {
        Finding::Optimized
    } else {
        Finding::NotOptimized
    };
    // Same billed duration at the new size: the saving of a smaller size is a floor (a CPU-bound
    // function gets slower with less memory; a power-tuning sweep measures that).
    let recommended_monthly_usd =
        memory_mb.map(|m| pricing.monthly(m, o.avg_duration_ms, o.arch, rate));
    Recommendation {
        finding,
        reason: match unmet(memory_unmet.as_deref(), timeout_unmet.as_deref()) {
            Some(u) => format!("{why}; {u}"),
            None => why,
        },
        memory_mb,
        timeout_s,
        current_monthly_usd,
        recommended_monthly_usd,
        memory_unmet,
        timeout_unmet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(used: Option<u32>, invocations: u64) -> Observed {
        Observed {
            memory_mb: 1024,
            timeout_s: 30,
            arch: Arch::Arm64,
            invocations,
            errors: 0,
            throttles: 0,
            lookback_days: 14,
            avg_duration_ms: 120.0,
            max_duration_ms: 2_000.0,
            p99_duration_ms: None,
            max_memory_used_mb: used,
            memory_source: None,
        }
    }

    #[test]
    fn the_seeds_rules_give_these_numbers() {
        let b = Bounds::default();
        let p = Pricing::default();
        let under = recommend(&observed(Some(200), 10_000), &b, &p);
        assert_eq!(
            (under.finding, under.memory_mb, under.timeout_s),
            (Finding::NotOptimized, Some(768), Some(15))
        );
        assert!(under.recommended_monthly_usd.unwrap() < under.current_monthly_usd);
        let over = recommend(&observed(Some(1000), 10_000), &b, &p);
        assert_eq!(over.memory_mb, Some(1536));
        let fits = recommend(
            &Observed {
                timeout_s: 3,
                ..observed(Some(700), 10_000)
            },
            &b,
            &p,
        );
        assert_eq!(
            (fits.finding, fits.memory_mb),
            (Finding::Optimized, Some(1024))
        );
    }

    #[test]
    fn too_little_data_is_unavailable_with_the_reason() {
        let b = Bounds::default();
        let r = recommend(&observed(Some(200), 49), &b, &Pricing::default());
        assert_eq!(r.finding, Finding::Unavailable);
        assert!(
            r.reason.contains("too few invocations: 49 in 14 days"),
            "{}",
            r.reason
        );
        let r = recommend(&observed(None, 1000), &b, &Pricing::default());
        assert!(r.reason.contains("no memory data"));
    }

    #[test]
    fn unmet_bounds_are_said_and_leave_nothing_to_apply() {
        let b = Bounds::default();
        let p = Pricing::default();
        let big = |used| Observed {
            memory_mb: 4096,
            timeout_s: 3,
            ..observed(Some(used), 10_000)
        };
        let fits = recommend(&big(3000), &b, &p);
        assert_eq!(
            (fits.finding, fits.memory_mb, fits.bounds_unmet()),
            (Finding::Optimized, Some(4096), None),
            "a 4096 MB function that fits keeps its 4096 MB"
        );
        let over = recommend(&big(4000), &b, &p);
        assert_eq!(
            (over.finding, over.memory_mb),
            (Finding::NotOptimized, None)
        );
        let why = over.bounds_unmet().expect("the reason");
        assert!(over.reason.contains(&why), "{}", over.reason);
        assert!(why.contains("max_memory_mb 128..3008"), "{why}");
    }
}
