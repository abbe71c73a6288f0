//! Architecture advice at measured durations: when a sweep names an arm64 twin (the same code
//! built for arm64, deployed as a function of its own), the twin is swept too, at the same
//! sizes, and each side's choice is priced at its own measured billed duration and its own
//! architecture's price, at the function's observed invocation rate.
//!
//! The twin is changed only as a sweep changes a function: it must opt in, not be left
//! alone, and it is locked, recorded first and put back like any swept function.

use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use stoker_kit::JobError;

use crate::functions::{FunctionInfo, LEAVE_ALONE_TAG, describe};
use crate::lock::GRACE;
use crate::pricing::{Arch, SECONDS_PER_MONTH};
use crate::report::FunctionReport;
use crate::sweep::{self, SweepReport};
use crate::{Optimizer, undo};

/// The twin's sweep, and the monthly cost of each architecture at its measured durations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arm64Measured {
    pub twin: String,
    /// What was compared, or why nothing was.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepReport>,
    /// The size the function's own sweep chose, and its monthly cost on x86_64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x86_64_memory_mb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x86_64_monthly_usd: Option<f64>,
    /// The size the twin's sweep chose, and its monthly cost on arm64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm64_memory_mb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm64_monthly_usd: Option<f64>,
    /// x86_64 less arm64, both as measured (negative: arm64 costs more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_savings_usd: Option<f64>,
}

impl Arm64Measured {
    fn not_measured(twin: &str, why: String) -> Self {
        Arm64Measured {
            twin: twin.to_owned(),
            reason: why,
            sweep: None,
            x86_64_memory_mb: None,
            x86_64_monthly_usd: None,
            arm64_memory_mb: None,
            arm64_monthly_usd: None,
            monthly_savings_usd: None,
        }
    }
}

/// Each sweep's chosen size priced for a month at `per_second` invocations (the sizes'
/// `cost_per_invocation_usd` already carry their architecture's price).
pub fn compare(twin: &str, x86: &SweepReport, arm: SweepReport, per_second: f64) -> Arm64Measured {
    let chosen = |s: &SweepReport| {
        let mb = s.chosen_memory_mb?;
        let p = s.sizes.iter().find(|p| p.memory_mb == mb)?;
        Some((
            mb,
            p.billed_ms,
            p.cost_per_invocation_usd * per_second * SECONDS_PER_MONTH,
        ))
    };
    let mut out = Arm64Measured::not_measured(twin, String::new());
    match (chosen(x86), chosen(&arm)) {
        (Some((xm, xms, xusd)), Some((am, ams, ausd))) => {
            out.reason = format!(
                "measured: x86_64 at {xm} MB {xms:.1} ms billed costs {xusd:.2} USD a month, arm64 at {am} MB {ams:.1} ms {ausd:.2}"
            );
            (out.x86_64_memory_mb, out.x86_64_monthly_usd) = (Some(xm), Some(xusd));
            (out.arm64_memory_mb, out.arm64_monthly_usd) = (Some(am), Some(ausd));
            out.monthly_savings_usd = Some(xusd - ausd);
        }
        (None, _) => out.reason = "the function's own sweep chose no size".into(),
        (_, None) => {
            out.reason = "the twin's sweep chose no size (every invocation failed?)".into()
        }
    }
    out.sweep = Some(arm);
    out
}

impl Optimizer {
    /// Sweeps `twin` as `r`'s function was swept, and compares; a refusal or a permanent
    /// error is the comparison's reason, not the function's error.
    pub(crate) async fn arm64_twin(
        &self,
        twin: &str,
        f: &FunctionInfo,
        r: &FunctionReport,
        plan: sweep::Plan<'_>,
    ) -> Result<Arm64Measured, JobError> {
        let (event_id, deadline) = (plan.event_id, plan.deadline);
        let refuse = |why: String| Ok(Arm64Measured::not_measured(twin, why));
        let Some(x86) = r.sweep.as_ref() else {
            return refuse("the function's own sweep did not run".into());
        };
        if f.arch != Arch::X86_64 {
            return refuse(format!("{} runs on arm64 already", f.name));
        }
        let t = match describe(&self.lambda, twin).await {
            Ok(t) => t,
            Err(e) if e.is_permanent() => return refuse(format!("the twin: {e}")),
            Err(e) => return Err(e),
        };
        if t.arch != Arch::Arm64 {
            return refuse(format!("the twin {twin} is x86_64, not arm64"));
        }
        if !t.opted_in() {
            return refuse(t.not_opted_in());
        }
        if t.left_alone() {
            return refuse(format!(
                "the twin is tagged {LEAVE_ALONE_TAG}, and a sweep changes its memory for a while"
            ));
        }
        if let Err(why) = self.sweep_budget(plan.tuning, &t, deadline) {
            return refuse(format!("the twin: {why}"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let until = Utc::now() + left + GRACE;
        if let Some(holder) = self.applier.lock(twin, event_id, until).await? {
            return refuse(holder.report(twin));
        }
        let swept = self.twin_sweep(&t, plan).await;
        if let Err(e) = self.applier.unlock(twin, event_id).await {
            tracing::warn!(function = %twin, error = %e, "the twin's lock could not be given back; it expires at the pass's deadline");
        }
        match swept {
            Ok(arm) => Ok(compare(twin, x86, arm, r.observed.invocations_per_second())),
            Err(e) if e.is_permanent() => refuse(format!("the twin's sweep: {e}")),
            Err(e) => Err(e),
        }
    }

    async fn twin_sweep(
        &self,
        t: &FunctionInfo,
        plan: sweep::Plan<'_>,
    ) -> Result<SweepReport, JobError> {
        // A sweep of the twin killed on the way is put back first, as for any function.
        let t = if undo::recover(&self.lambda, &self.applier, &t.name).await? {
            describe(&self.lambda, &t.name).await?
        } else {
            t.clone()
        };
        sweep::sweep(self.sweep_clients(), &t, plan).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::SizeResult;

    fn swept(chosen: u32, sizes: &[(u32, f64, f64)]) -> SweepReport {
        SweepReport {
            sizes: sizes
                .iter()
                .map(|(mb, ms, usd)| SizeResult {
                    memory_mb: *mb,
                    invocations: 5,
                    errors: 0,
                    billed_ms: *ms,
                    cost_per_invocation_usd: *usd,
                })
                .collect(),
            chosen_memory_mb: Some(chosen),
            versions: vec![],
            cleaned_up: true,
        }
    }

    #[test]
    fn each_side_is_priced_at_its_own_choice_and_measured_cost() {
        let x86 = swept(256, &[(128, 300.0, 2e-6), (256, 140.0, 1e-6)]);
        let arm = swept(128, &[(128, 200.0, 0.5e-6), (256, 150.0, 0.9e-6)]);
        // One invocation a second: 2,629,800 a month.
        let m = compare("fn-arm", &x86, arm, 1.0);
        assert_eq!(
            (m.x86_64_memory_mb, m.arm64_memory_mb),
            (Some(256), Some(128))
        );
        let (x, a) = (m.x86_64_monthly_usd.unwrap(), m.arm64_monthly_usd.unwrap());
        assert!(
            (x - 2.6298).abs() < 1e-9 && (a - 1.3149).abs() < 1e-9,
            "{m:?}"
        );
        assert!((m.monthly_savings_usd.unwrap() - 1.3149).abs() < 1e-9);
        assert!(
            m.reason.contains("arm64 at 128 MB 200.0 ms"),
            "{}",
            m.reason
        );
    }

    #[test]
    fn no_choice_on_either_side_gives_no_saving() {
        let x86 = swept(256, &[(256, 140.0, 1e-6)]);
        let mut arm = swept(128, &[(128, 200.0, 0.5e-6)]);
        arm.chosen_memory_mb = None;
        let m = compare("fn-arm", &x86, arm, 1.0);
        assert_eq!(m.monthly_savings_usd, None);
        assert!(m.reason.contains("twin's sweep chose no size"));
        assert!(m.sweep.is_some(), "what it measured is still reported");
    }
}
