//! One function's review within a pass.
//!
//! A function that has not opted in gets a read-only review (metrics and logs), and a request
//! to sweep or apply is refused with the tag to add. For one that has, the pass takes the
//! function's lock (another pass holding it: this one reports that and leaves the function
//! alone), puts back a sweep that was killed on the way, reviews, sweeps if asked, applies if
//! asked and the guardrails allow, and gives the lock back.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use stoker_events::payload::optimize::{Bounds, OptimizeMode, OptimizeRequest, PowerTuning};
use stoker_events::payload::outcome::Finding;
use stoker_kit::JobError;

use crate::apply::{Applied, Change};
use crate::bounds::bound_memory;
use crate::functions::{FunctionInfo, LEAVE_ALONE_TAG, OPT_IN_TAG, OPT_IN_VALUE, describe};
use crate::lock::{GRACE, Holder};
use crate::recommend::{Observed, Recommendation, recommend, unmet};
use crate::report::FunctionReport;
use crate::{Optimizer, budget, chart, provisioned, sweep, undo, watch};

/// What a rollback after a watch needs of the job's time at most.
const ROLLBACK_TIME: Duration = Duration::from_secs(60);
/// What an apply (configure, publish, alias, prune) needs of the job's time at most.
const APPLY_TIME: Duration = Duration::from_secs(60);

impl Optimizer {
    /// Reviews `f` for the pass `event_id`, which must end by `deadline`.
    pub(crate) async fn review(
        &self,
        f: &FunctionInfo,
        req: &OptimizeRequest,
        event_id: &str,
        deadline: Instant,
    ) -> Result<FunctionReport, JobError> {
        let changes = req.mode == OptimizeMode::Apply || req.power_tuning.is_some();
        if !f.opted_in() || self.applier.ops_table.is_empty() {
            let (mut r, _) = self.passive(f, req).await?;
            if changes {
                r.error = Some(if f.opted_in() {
                    "not changed: a pass records what it changes in the ops table first; set STOKER_OPS_TABLE (the stack output OpsTableName)".into()
                } else {
                    f.not_opted_in()
                });
            }
            if !self.applier.ops_table.is_empty()
                && let Some(s) = self.applier.sweep_record(&f.name).await?
            {
                r.error = Some(format!(
                    "a sweep of {} by event {} did not finish (memory to put back: {} MB), and the function no longer opts in: tag it {OPT_IN_TAG}={OPT_IN_VALUE} again so that the next pass puts it back",
                    f.name, s.event_id, s.memory_mb
                ));
            }
            return Ok(r);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let until = Utc::now() + left + GRACE;
        if let Some(holder) = self.applier.lock(&f.name, event_id, until).await? {
            return Ok(locked(f, req, &holder));
        }
        let r = self.review_locked(f, req, event_id, deadline).await;
        if let Err(e) = self.applier.unlock(&f.name, event_id).await {
            tracing::warn!(function = %f.name, error = %e, "the lock could not be given back; it expires at the pass's deadline");
        }
        r
    }

    async fn review_locked(
        &self,
        f: &FunctionInfo,
        req: &OptimizeRequest,
        event_id: &str,
        deadline: Instant,
    ) -> Result<FunctionReport, JobError> {
        let mut f = match undo::recover(&self.lambda, &self.applier, &f.name).await {
            Ok(true) => describe(&self.lambda, &f.name).await?,
            Ok(false) => f.clone(),
            Err(e) if e.is_permanent() => {
                let (mut r, _) = self.passive(f, req).await?;
                r.error = Some(format!(
                    "an unfinished sweep of {} could not be put back ({e}); it stays recorded, and nothing else is changed until it is",
                    f.name
                ));
                return Ok(r);
            }
            Err(e) => return Err(e),
        };
        let (mut r, passive) = self.passive(&f, req).await?;
        if let Some(tuning) = &req.power_tuning {
            if f.left_alone() {
                r.error = Some(format!(
                    "no sweep: the function is tagged {LEAVE_ALONE_TAG}, and a sweep changes its memory for a while"
                ));
            } else if let Err(why) = self.sweep_budget(tuning, &f, deadline) {
                r.error = Some(why);
            } else {
                let plan = sweep::Plan {
                    tuning,
                    strategy: &req.strategy,
                    pricing: &self.pricing,
                    event_id,
                    deadline,
                };
                match sweep::sweep(self.sweep_clients(), &f, plan).await {
                    Ok(s) => {
                        self.take_sweep(&mut r, &f, req, s, &passive);
                        // The sweep put the function back: read the revision it left.
                        f = describe(&self.lambda, &f.name).await?;
                        if let Some(twin) = &tuning.arm64_twin {
                            let m = self.arm64_twin(twin, &f, &r, plan).await?;
                            r.arm64_measured = Some(m);
                        }
                    }
                    Err(e) if e.is_permanent() => r.error = Some(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
        }
        if req.mode == OptimizeMode::Apply && r.finding == Finding::NotOptimized {
            match self
                .guarded_apply(&mut r, &f, &req.bounds, event_id, deadline)
                .await
            {
                Err(e) if e.is_permanent() => r.error = Some(e.to_string()),
                other => other?,
            }
        }
        if req.mode == OptimizeMode::Apply && req.provisioned_concurrency {
            match self
                .apply_provisioned(&mut r, &f, &req.bounds, event_id)
                .await
            {
                Err(e) if e.is_permanent() => r.error = Some(e.to_string()),
                other => other?,
            }
        }
        Ok(r)
    }

    /// Applies `r`'s provisioned-concurrency advice unless a guardrail says no (the reason is
    /// reported beside the advice).
    async fn apply_provisioned(
        &self,
        r: &mut FunctionReport,
        f: &FunctionInfo,
        bounds: &Bounds,
        event_id: &str,
    ) -> Result<(), JobError> {
        let rolled_back = r.rolled_back.is_some();
        let error = r.error.clone();
        let Some(pc) = r.provisioned.as_mut() else {
            return Ok(());
        };
        let why = if pc.recommended == 0 {
            None
        } else if let Some(e) = &error {
            Some(format!("the pass met an error first: {e}"))
        } else if f.left_alone() {
            Some(format!(
                "left alone: the function is tagged {LEAVE_ALONE_TAG}"
            ))
        } else if rolled_back {
            Some("the memory change of this pass was rolled back: nothing else changes".into())
        } else if bounds.max_provisioned_concurrency == 0 {
            Some("bounds.max_provisioned_concurrency is 0".into())
        } else {
            None
        };
        if pc.recommended == 0 || why.is_some() {
            pc.not_applied = why;
            return Ok(());
        }
        // Only on a healthy function, as every change.
        let cw = &self.observer.cloudwatch;
        if let (_, Some(t)) = watch::alarms(cw, &f.name, &self.applier.alias).await? {
            pc.not_applied = Some(format!("the function is unhealthy: {t}"));
            return Ok(());
        }
        let n = pc.recommended.min(bounds.max_provisioned_concurrency);
        match self
            .applier
            .apply_provisioned(&f.name, n, event_id, self.cooldown)
            .await?
        {
            Ok(change) => pc.applied = Some(change),
            Err(why) => pc.not_applied = Some(why),
        }
        Ok(())
    }

    /// The read-only part: metrics, logs and the passive recommendation.
    async fn passive(
        &self,
        f: &FunctionInfo,
        req: &OptimizeRequest,
    ) -> Result<(FunctionReport, Recommendation), JobError> {
        let observed = self.observer.observe(f, req.lookback_days).await?;
        let p = recommend(&observed, &req.bounds, &self.pricing);
        let r = FunctionReport {
            function: f.name.clone(),
            finding: p.finding,
            reason: p.reason.clone(),
            current_memory_mb: f.memory_mb,
            current_timeout_s: f.timeout_s,
            recommended_memory_mb: p.memory_mb,
            recommended_timeout_s: p.timeout_s,
            current_monthly_usd: p.current_monthly_usd,
            recommended_monthly_usd: p.recommended_monthly_usd,
            estimated_monthly_savings_usd: p
                .recommended_monthly_usd
                .map(|n| p.current_monthly_usd - n),
            arm64_monthly_savings_usd: crate::recommend::arm64_saving(&observed, &self.pricing),
            arm64_measured: None,
            provisioned: if req.provisioned_concurrency {
                let days = req.lookback_days;
                Some(provisioned::advise(&self.observer, f, &observed, days, &self.pricing).await?)
            } else {
                None
            },
            observed,
            sweep: None,
            chart_svg: None,
            bounds_unmet: p.bounds_unmet(),
            applied: None,
            pruned_versions: Vec::new(),
            not_applied: None,
            watched_alarms: Vec::new(),
            rolled_back: None,
            error: None,
        };
        Ok((r, p))
    }

    pub(crate) fn sweep_budget(
        &self,
        tuning: &PowerTuning,
        f: &FunctionInfo,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut sizes = tuning.memory_sizes.clone();
        sizes.sort_unstable();
        sizes.dedup();
        let left = deadline.saturating_duration_since(Instant::now());
        budget::check(tuning, sizes.len(), f.timeout_s, left, self.job_timeout)
    }

    pub(crate) fn sweep_clients(&self) -> sweep::Clients<'_> {
        sweep::Clients {
            lambda: &self.lambda,
            logs: &self.observer.logs,
            ops: &self.applier,
            halt: &self.halt,
        }
    }

    /// The sweep's choice replaces the passive memory recommendation (bounded the same way).
    fn take_sweep(
        &self,
        r: &mut FunctionReport,
        f: &FunctionInfo,
        req: &OptimizeRequest,
        s: sweep::SweepReport,
        passive: &Recommendation,
    ) {
        r.chart_svg = Some(chart::svg(&f.name, &s.sizes, s.chosen_memory_mb));
        if let Some(chosen) = s.chosen_memory_mb {
            let at = |mb: u32| s.sizes.iter().find(|p| p.memory_mb == mb);
            let chosen_ms = at(chosen).map_or(0.0, |p| p.billed_ms);
            let measured = format!(
                "power tuning ({} strategy): {chosen} MB measured best at {chosen_ms:.1} ms billed",
                req.strategy.name.as_str()
            );
            let bounded = bound_memory(f.memory_mb, f64::from(chosen), &req.bounds);
            let memory = bounded.as_ref().ok().copied();
            let memory_unmet = bounded.err();
            r.bounds_unmet = unmet(memory_unmet.as_deref(), passive.timeout_unmet.as_deref());
            let timeout = r.recommended_timeout_s;
            r.finding = if r.bounds_unmet.is_none()
                && memory == Some(f.memory_mb)
                && timeout == Some(f.timeout_s)
            {
                Finding::Optimized
            } else {
                Finding::NotOptimized
            };
            r.reason = match (&r.bounds_unmet, memory) {
                (Some(why), _) => format!("{measured}; {why}"),
                (None, Some(m)) if m != chosen => {
                    format!("{measured}, bounded to {m} MB this pass")
                }
                _ => measured,
            };
            let current_ms = at(f.memory_mb).map_or(r.observed.avg_duration_ms, |p| p.billed_ms);
            let rate = r.observed.invocations_per_second();
            let current_usd = self.pricing.monthly(f.memory_mb, current_ms, f.arch, rate);
            let recommended_usd = memory.map(|m| self.pricing.monthly(m, chosen_ms, f.arch, rate));
            r.recommended_memory_mb = memory;
            r.current_monthly_usd = current_usd;
            r.recommended_monthly_usd = recommended_usd;
            r.estimated_monthly_savings_usd = recommended_usd.map(|n| current_usd - n);
        }
        r.sweep = Some(s);
    }

    /// Applies `r`'s recommendation unless a guardrail says no (the reason is reported).
    async fn guarded_apply(
        &self,
        r: &mut FunctionReport,
        f: &FunctionInfo,
        bounds: &Bounds,
        event_id: &str,
        deadline: Instant,
    ) -> Result<(), JobError> {
        if let Some(why) = &r.bounds_unmet {
            r.not_applied = Some(format!("the bounds cannot be met: {why}"));
            return Ok(());
        }
        let (Some(memory), Some(timeout)) = (r.recommended_memory_mb, r.recommended_timeout_s)
        else {
            return Ok(());
        };
        if f.left_alone() {
            r.not_applied = Some(format!(
                "left alone: the function is tagged {LEAVE_ALONE_TAG}"
            ));
            return Ok(());
        }
        if memory > f.memory_mb.saturating_mul(2) || memory.saturating_mul(2) < f.memory_mb {
            r.not_applied = Some(format!(
                "{} MB -> {memory} MB is more than a 2x change in one pass",
                f.memory_mb
            ));
            return Ok(());
        }
        let cw = &self.observer.cloudwatch;
        if let Some(last) = self.applier.last(&f.name).await? {
            if last.event_id == event_id && last.status == "applied" {
                // A retry of this very pass: the change is already made. Its watch may have
                // been cut off: an alarm in ALARM now rolls it back still.
                r.applied = Some(last);
                let (alarms, tripped) = watch::alarms(cw, &f.name, &self.applier.alias).await?;
                r.watched_alarms = alarms;
                if let Some(t) = tripped {
                    self.applier.rollback_locked(&f.name).await?;
                    r.rolled_back = Some(t);
                }
                return Ok(());
            }
            if last.event_id == event_id && last.status == "rolled_back" {
                // An earlier attempt of this pass rolled its change back: say so again.
                r.rolled_back = Some(watch::Tripped {
                    alarm: String::new(),
                    reason: "rolled back by an earlier attempt of this pass".into(),
                });
                r.applied = Some(last);
                return Ok(());
            }
            if let Some(why) = self.cooling(&last) {
                r.not_applied = Some(why);
                return Ok(());
            }
        }
        let (alarms, tripped) = watch::alarms(cw, &f.name, &self.applier.alias).await?;
        r.watched_alarms = alarms;
        if let Some(t) = tripped {
            r.not_applied = Some(format!("the function is unhealthy: {t}"));
            return Ok(());
        }
        // A change with alarms to watch is made only when the whole watch fits the job.
        let watch = Duration::from_secs(bounds.watch_secs.into());
        let left = deadline.saturating_duration_since(Instant::now());
        if !r.watched_alarms.is_empty() && left < watch + ROLLBACK_TIME + APPLY_TIME {
            r.not_applied = Some(format!(
                "{} s of the job's time are left, too few to apply and watch the change for {} s; the next pass applies it",
                left.as_secs(),
                watch.as_secs()
            ));
            return Ok(());
        }
        self.halt.check(crate::halt::Step::Applying).await;
        match self
            .applier
            .apply(f, memory, timeout, event_id, self.cooldown)
            .await?
        {
            Applied::Changed(change) => {
                r.applied = Some(change);
                // Watched until the job must end at the latest, less the time a rollback takes.
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(ROLLBACK_TIME);
                if let Some(t) = watch::watch(cw, &r.watched_alarms, watch.min(left)).await? {
                    tracing::warn!(function = %f.name, alarm = %t.alarm, reason = %t.reason, "an alarm went off after the apply: rolling it back");
                    // The pass holds the function's lock.
                    self.applier.rollback_locked(&f.name).await?;
                    r.rolled_back = Some(t);
                    return Ok(());
                }
                // The older versions go; a failure is retried by the next apply.
                match crate::prune::prune(&self.lambda, &f.name, self.keep_versions).await {
                    Ok(pruned) => r.pruned_versions = pruned,
                    Err(e) => {
                        tracing::warn!(function = %f.name, error = %e, "could not prune the optimizer's older versions");
                    }
                }
            }
            Applied::Cooling(last) => {
                r.not_applied = Some(last.as_ref().and_then(|l| self.cooling(l)).unwrap_or_else(
                    || "another change of the function was recorded meanwhile; the next pass reviews it".into(),
                ));
            }
        }
        Ok(())
    }

    /// Why `last` holds the next change back, if it is within the cooldown.
    fn cooling(&self, last: &Change) -> Option<String> {
        let at = DateTime::parse_from_rfc3339(&last.at).map(|t| t.with_timezone(&Utc));
        let age = at.map(|t| Utc::now() - t).unwrap_or_default();
        (age.to_std().unwrap_or_default() < self.cooldown).then(|| {
            format!(
                "changed {} min ago ({}): the next change waits {} h so that metrics reflect the last one",
                age.num_minutes(),
                last.status,
                self.cooldown.as_secs() / 3600
            )
        })
    }
}

/// The report of a function another pass holds.
fn locked(f: &FunctionInfo, req: &OptimizeRequest, holder: &Holder) -> FunctionReport {
    let why = holder.report(&f.name);
    FunctionReport {
        function: f.name.clone(),
        finding: Finding::Unavailable,
        reason: why.clone(),
        current_memory_mb: f.memory_mb,
        current_timeout_s: f.timeout_s,
        recommended_memory_mb: None,
        recommended_timeout_s: None,
        current_monthly_usd: 0.0,
        recommended_monthly_usd: None,
        estimated_monthly_savings_usd: None,
        arm64_monthly_savings_usd: None,
        arm64_measured: None,
        provisioned: None,
        observed: Observed::unread(f, req.lookback_days),
        sweep: None,
        chart_svg: None,
        bounds_unmet: None,
        applied: None,
        pruned_versions: Vec::new(),
        not_applied: (req.mode == OptimizeMode::Apply).then_some(why),
        watched_alarms: Vec::new(),
        rolled_back: None,
        error: None,
    }
}
