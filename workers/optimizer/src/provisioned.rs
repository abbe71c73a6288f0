//! Provisioned concurrency (seeds 001, 002: "Provisioned 2-3 instances"): advice from the
//! function's observed concurrency and cold starts, and what it costs a month next to warm-up
//! pings keeping as many instances warm. Advice only: nothing is changed.
//!
//! - Observed over the lookback: the peak of `ConcurrentExecutions` (daily Maximum, from
//!   `AWS/Lambda`), and the cold starts (the `REPORT` lines with an `Init Duration`).
//! - Advice: as many provisioned instances as the observed peak (1-100) when at least 1 % of
//!   invocations started cold (and there were at least 50); none otherwise.
//! - Cost, per month (30 days) at the advised count N and the function's memory:
//!   provisioned = N x GB x 2,592,000 s x the provisioned price, less what the invocations save
//!   on the lower duration price of provisioned instances; warm-up pings = one ping per
//!   instance every 5 minutes (8,640 a month each), each a request plus `PING_BILLED_MS` of
//!   duration. Pings keep instances warm only as long as Lambda keeps them; provisioned ones
//!   are kept ready, so the cheaper is not always the answer: the report gives both.

use aws_sdk_cloudwatch::types::{Datapoint, Statistic};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;

use crate::functions::FunctionInfo;
use crate::observe::{MAX_REPORT_LINES, Observer};
use crate::pricing::{Arch, Pricing};
use crate::recommend::Observed;
use crate::report_line;
use crate::statistics::{Query, datapoints};

/// AWS's public prices for provisioned concurrency (us-east-1), per GB-second: the instances
/// kept ready, and the duration of invocations they serve.
pub const PROVISIONED_X86_64_GB_SECOND: f64 = 0.000_004_166_7;
pub const PROVISIONED_ARM64_GB_SECOND: f64 = 0.000_003_333_4;
pub const PROVISIONED_DURATION_X86_64_GB_SECOND: f64 = 0.000_009_722_2;
pub const PROVISIONED_DURATION_ARM64_GB_SECOND: f64 = 0.000_007_777_8;
/// A warm-up ping's billed time (the guard holds it open 100 ms by default).
pub const PING_BILLED_MS: f64 = 100.0;
/// Pings per instance a month: one every 5 minutes.
pub const PINGS_PER_MONTH: f64 = 8_640.0;
const MONTH_S: f64 = 2_592_000.0;
/// Cold starts below this share of invocations need neither.
const COLD_SHARE: f64 = 0.01;

/// The provisioned-concurrency advice of one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionedAdvice {
    /// The highest concurrency CloudWatch saw in the lookback (`None`: no data).
    pub peak_concurrency: Option<u32>,
    /// Invocations that started cold (`REPORT` lines with an `Init Duration`), of those read.
    pub cold_starts: u64,
    /// Cold starts per invocation (0-1).
    pub cold_start_share: f64,
    /// Provisioned instances advised (0: none).
    pub recommended: u32,
    pub reason: String,
    /// At `recommended` (or the peak, when none is advised): provisioned concurrency's monthly
    /// cost, net of the duration it saves.
    pub provisioned_monthly_usd: f64,
    /// Warm-up pings keeping as many instances warm, a month.
    pub warmup_pings_monthly_usd: f64,
    /// In mode `apply`: the change made on the alias ([`crate::provisioned_apply`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<crate::provisioned_apply::ProvisionedChange>,
    /// In mode `apply`: why the advice was not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
}

/// Reads `f`'s peak concurrency and cold starts over `days`, and advises.
pub async fn advise(
    observer: &Observer,
    f: &FunctionInfo,
    observed: &Observed,
    days: u32,
    pricing: &Pricing,
) -> Result<ProvisionedAdvice, JobError> {
    let end = Utc::now();
    let start = end - Duration::days(i64::from(days));
    let q = Query {
        namespace: "AWS/Lambda",
        metric: "ConcurrentExecutions",
        dimension: ("FunctionName", &f.name),
        start,
        end,
        period_s: 86_400,
        statistics: &[Statistic::Maximum],
        extended: &[],
    };
    let peak = datapoints(&observer.cloudwatch, &q)
        .await?
        .iter()
        .filter_map(Datapoint::maximum)
        .reduce(f64::max)
        .map(|p| p.ceil() as u32);
    let cold = report_line::read_matching(
        &observer.logs,
        &f.log_group,
        "Init Duration",
        start.timestamp_millis(),
        Some(end.timestamp_millis()),
        MAX_REPORT_LINES,
    )
    .await?
    .map_or(0, |lines| {
        lines.iter().filter(|(_, l)| l.init_ms.is_some()).count() as u64
    });
    Ok(advice(peak, cold, observed, pricing))
}

/// The advice from what was read (see the module's docs).
pub fn advice(
    peak: Option<u32>,
    cold_starts: u64,
    observed: &Observed,
    pricing: &Pricing,
) -> ProvisionedAdvice {
    let invocations = observed.invocations;
    let share = if invocations > 0 {
        (cold_starts as f64 / invocations as f64).min(1.0)
    } else {
        0.0
    };
    let (recommended, reason) = match peak {
        _ if invocations < 50 => (0, format!("too few invocations ({invocations}) to tell")),
        None => (0, "no ConcurrentExecutions data".to_owned()),
        Some(_) if share < COLD_SHARE => (
            0,
            format!(
                "cold starts are rare ({:.2} % of invocations): neither provisioned concurrency nor pings are needed",
                share * 100.0
            ),
        ),
        Some(p) => (
            p.clamp(1, 100),
            format!(
                "{:.1} % of invocations started cold; the peak concurrency was {p}",
                share * 100.0
            ),
        ),
    };
    let n = if recommended > 0 {
        recommended
    } else {
        peak.unwrap_or(1).clamp(1, 100)
    };
    let (provisioned_monthly_usd, warmup_pings_monthly_usd) = monthly(n, observed, pricing);
    ProvisionedAdvice {
        peak_concurrency: peak,
        cold_starts,
        cold_start_share: share,
        recommended,
        reason,
        provisioned_monthly_usd,
        warmup_pings_monthly_usd,
        applied: None,
        not_applied: None,
    }
}

/// (provisioned, pings) a month for `n` instances of the observed function.
pub fn monthly(n: u32, o: &Observed, pricing: &Pricing) -> (f64, f64) {
    let gb = f64::from(o.memory_mb) / 1024.0;
    let (kept, served, on_demand) = match o.arch {
        Arch::Arm64 => (
            PROVISIONED_ARM64_GB_SECOND,
            PROVISIONED_DURATION_ARM64_GB_SECOND,
            pricing.arm64_per_gb_second,
        ),
        Arch::X86_64 => (
            PROVISIONED_X86_64_GB_SECOND,
            PROVISIONED_DURATION_X86_64_GB_SECOND,
            pricing.x86_64_per_gb_second,
        ),
    };
    let per_month = 30.0 / f64::from(o.lookback_days.max(1));
    let busy_gb_s = o.invocations as f64 * per_month * o.avg_duration_ms / 1000.0 * gb;
    let saved = busy_gb_s * (on_demand - served).max(0.0);
    let provisioned = (f64::from(n) * gb * MONTH_S * kept - saved).max(0.0);
    let pings = f64::from(n)
        * PINGS_PER_MONTH
        * (pricing.per_request + PING_BILLED_MS / 1000.0 * gb * on_demand);
    (provisioned, pings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(invocations: u64, memory_mb: u32) -> Observed {
        Observed {
            memory_mb,
            timeout_s: 30,
            arch: Arch::X86_64,
            invocations,
            errors: 0,
            throttles: 0,
            lookback_days: 30,
            avg_duration_ms: 100.0,
            max_duration_ms: 500.0,
            p99_duration_ms: None,
            max_memory_used_mb: Some(100),
            memory_source: None,
        }
    }

    #[test]
    fn frequent_cold_starts_advise_the_peak_and_price_both_ways() {
        let p = Pricing::default();
        let a = advice(Some(3), 500, &observed(10_000, 1024), &p);
        assert_eq!(a.recommended, 3, "{a:?}");
        assert!(
            a.reason.contains("5.0 % of invocations started cold"),
            "{a:?}"
        );
        // 3 instances x 1 GB x 30 days at $0.0000041667 = $32.40, less the duration saved by
        // 10,000 x 0.1 s x 1 GB at ($0.0000166667 - $0.0000097222) = $0.0069.
        assert!((a.provisioned_monthly_usd - 32.393).abs() < 0.01, "{a:?}");
        // 3 x 8,640 pings x ($0.0000002 + 0.1 s x 1 GB x $0.0000166667) = $0.0484.
        assert!((a.warmup_pings_monthly_usd - 0.0484).abs() < 0.001, "{a:?}");
    }

    #[test]
    fn rare_cold_starts_or_too_little_data_advise_none() {
        let p = Pricing::default();
        let rare = advice(Some(4), 5, &observed(10_000, 512), &p);
        assert_eq!(rare.recommended, 0);
        assert!(
            rare.reason.contains("cold starts are rare (0.05 %"),
            "{rare:?}"
        );
        // Priced anyway at the peak, for comparison.
        assert!(rare.provisioned_monthly_usd > rare.warmup_pings_monthly_usd);
        let few = advice(Some(2), 10, &observed(20, 512), &p);
        assert_eq!(few.recommended, 0);
        assert!(few.reason.contains("too few invocations (20)"), "{few:?}");
        let none = advice(None, 900, &observed(10_000, 512), &p);
        assert_eq!(none.recommended, 0);
        assert!(none.reason.contains("no ConcurrentExecutions data"));
    }
}
