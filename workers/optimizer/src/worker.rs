//! The optimizer's handler: review each function of the pass, sweep where asked, apply within
//! the guardrails, advise on tables, and announce each recommendation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use stoker_events::payload::optimize::{OptimizeMode, OptimizeRequest};
use stoker_events::payload::outcome::{Finding, OptimizationRecommended};
use stoker_events::{Body, Event, Worker};
use stoker_kit::emf::{Metric, emit_metrics};
use stoker_kit::outcome::Publisher;
use stoker_kit::{Handler, JobCtx, JobError, Outcome};

use crate::apply::{Applier, DEFAULT_ALIAS};
use crate::bounds::bound_memory;
use crate::capacity::table_advice;
use crate::functions::{FunctionInfo, LEAVE_ALONE_TAG, resolve};
use crate::observe::Observer;
use crate::pricing::{DynamoPricing, Pricing};
use crate::recommend::recommend;
use crate::report::{FunctionReport, OptimizeReport};
use crate::{chart, sweep};

/// The optimizer worker's handler.
#[derive(Debug, Clone)]
pub struct Optimizer {
    pub lambda: aws_sdk_lambda::Client,
    pub observer: Observer,
    pub ddb: aws_sdk_dynamodb::Client,
    pub applier: Applier,
    pub pricing: Pricing,
    pub dynamo_pricing: DynamoPricing,
    /// Where `stoker.optimizer.recommended` events go (`STOKER_BUS`).
    pub events: Option<Publisher>,
    /// No second change of a function within this time of the last one.
    pub cooldown: Duration,
    /// A test seam: where a sweep stops dead (never set in production).
    pub halt: crate::halt::Halt,
}

impl Optimizer {
    /// From the kit's environment (`STOKER_OPS_TABLE`, `STOKER_BUS`), prices from
    /// `STOKER_PRICE_*`, the alias from `STOKER_OPTIMIZER_ALIAS` (default `live`) and the
    /// cooldown from `STOKER_OPTIMIZER_COOLDOWN_HOURS` (default 24).
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut o = Self::new(
            sdk,
            &env("STOKER_OPS_TABLE").unwrap_or_default(),
            env("STOKER_BUS"),
        );
        o.pricing = Pricing::from_env();
        if let Some(alias) = env("STOKER_OPTIMIZER_ALIAS") {
            o.applier.alias = alias;
        }
        if let Some(h) = env("STOKER_OPTIMIZER_COOLDOWN_HOURS").and_then(|h| h.parse::<u64>().ok())
        {
            o.cooldown = Duration::from_secs(h * 3600);
        }
        o
    }

    pub fn new(sdk: &aws_config::SdkConfig, ops_table: &str, bus: Option<String>) -> Self {
        let lambda = aws_sdk_lambda::Client::new(sdk);
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        Optimizer {
            observer: Observer {
                cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            },
            applier: Applier {
                lambda: lambda.clone(),
                ddb: ddb.clone(),
                ops_table: ops_table.to_owned(),
                alias: DEFAULT_ALIAS.to_owned(),
            },
            lambda,
            ddb,
            pricing: Pricing::default(),
            dynamo_pricing: DynamoPricing::default(),
            events: bus.map(|b| Publisher::new(aws_sdk_eventbridge::Client::new(sdk), b)),
            cooldown: Duration::from_secs(24 * 3600),
            halt: crate::halt::Halt::default(),
        }
    }

    /// One optimization pass; `event_id` marks the changes it applies.
    pub async fn optimize(
        &self,
        req: &OptimizeRequest,
        event_id: &str,
    ) -> Result<OptimizeReport, JobError> {
        let (functions, missing) = resolve(&self.lambda, &req.functions).await?;
        let mut report = OptimizeReport {
            missing,
            ..Default::default()
        };
        for f in &functions {
            let r = self.review(f, req, event_id).await?;
            report.not_optimized += usize::from(r.finding == Finding::NotOptimized);
            report.applied += usize::from(r.applied.is_some());
            report.estimated_monthly_savings_usd += r.estimated_monthly_savings_usd.unwrap_or(0.0);
            report.functions.push(r);
        }
        for t in &req.tables {
            let advice = table_advice(
                &self.ddb,
                &self.observer.cloudwatch,
                t,
                req.lookback_days,
                &self.dynamo_pricing,
            )
            .await?;
            report.tables.push(advice);
        }
        Ok(report)
    }

    /// One function: passive recommendation, the sweep if asked, the apply if allowed.
    async fn review(
        &self,
        f: &FunctionInfo,
        req: &OptimizeRequest,
        event_id: &str,
    ) -> Result<FunctionReport, JobError> {
        let recovered;
        let f = if req.power_tuning.is_some() && !f.left_alone() {
            recovered = sweep::recover(&self.lambda, f).await?;
            &recovered
        } else {
            f
        };
        let observed = self.observer.observe(f, req.lookback_days).await?;
        let passive = recommend(&observed, &req.bounds, &self.pricing);
        let mut r = FunctionReport {
            function: f.name.clone(),
            finding: passive.finding,
            reason: passive.reason,
            current_memory_mb: f.memory_mb,
            current_timeout_s: f.timeout_s,
            recommended_memory_mb: passive.memory_mb,
            recommended_timeout_s: passive.timeout_s,
            current_monthly_usd: passive.current_monthly_usd,
            recommended_monthly_usd: passive.recommended_monthly_usd,
            estimated_monthly_savings_usd: passive
                .recommended_monthly_usd
                .map(|n| passive.current_monthly_usd - n),
            observed,
            sweep: None,
            chart_svg: None,
            applied: None,
            not_applied: None,
            error: None,
        };
        if let Some(tuning) = &req.power_tuning {
            if f.left_alone() {
                r.error = Some(format!(
                    "no sweep: the function is tagged {LEAVE_ALONE_TAG}, and a sweep changes its memory for a while"
                ));
            } else {
                match sweep::sweep(
                    self.sweep_clients(),
                    f,
                    tuning,
                    &req.strategy,
                    &self.pricing,
                    &self.halt,
                )
                .await
                {
                    Ok(s) => self.take_sweep(&mut r, f, req, s),
                    Err(e) if e.is_permanent() => r.error = Some(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
        }
        if req.mode == OptimizeMode::Apply && r.finding == Finding::NotOptimized {
            self.guarded_apply(&mut r, f, event_id).await?;
        }
        Ok(r)
    }

    fn sweep_clients(&self) -> sweep::Clients<'_> {
        sweep::Clients {
            lambda: &self.lambda,
            logs: &self.observer.logs,
        }
    }

    /// The sweep's choice replaces the passive memory recommendation (bounded the same way).
    fn take_sweep(
        &self,
        r: &mut FunctionReport,
        f: &FunctionInfo,
        req: &OptimizeRequest,
        s: sweep::SweepReport,
    ) {
        r.chart_svg = Some(chart::svg(&f.name, &s.sizes, s.chosen_memory_mb));
        if let Some(chosen) = s.chosen_memory_mb {
            let memory =
                bound_memory(f.memory_mb, f64::from(chosen), &req.bounds).unwrap_or(f.memory_mb);
            let at = |mb: u32| s.sizes.iter().find(|p| p.memory_mb == mb);
            let chosen_ms = at(chosen).map_or(0.0, |p| p.billed_ms);
            let current_ms = at(f.memory_mb).map_or(r.observed.avg_duration_ms, |p| p.billed_ms);
            let rate = r.observed.invocations_per_second();
            let current_usd = self.pricing.monthly(f.memory_mb, current_ms, f.arch, rate);
            let recommended_usd = self.pricing.monthly(memory, chosen_ms, f.arch, rate);
            let timeout = r.recommended_timeout_s.unwrap_or(f.timeout_s);
            r.finding = if memory == f.memory_mb && timeout == f.timeout_s {
                Finding::Optimized
            } else {
                Finding::NotOptimized
            };
            r.reason = format!(
                "power tuning ({} strategy): {chosen} MB measured best at {chosen_ms:.1} ms billed{}",
                req.strategy.name.as_str(),
                if memory == chosen {
                    String::new()
                } else {
                    format!(", bounded to {memory} MB this pass")
                }
            );
            r.recommended_memory_mb = Some(memory);
            r.recommended_timeout_s = Some(timeout);
            r.current_monthly_usd = current_usd;
            r.recommended_monthly_usd = Some(recommended_usd);
            r.estimated_monthly_savings_usd = Some(current_usd - recommended_usd);
        }
        r.sweep = Some(s);
    }

    /// Applies `r`'s recommendation unless a guardrail says no (the reason is reported).
    async fn guarded_apply(
        &self,
        r: &mut FunctionReport,
        f: &FunctionInfo,
        event_id: &str,
    ) -> Result<(), JobError> {
        let Some(memory) = r.recommended_memory_mb else {
            return Ok(());
        };
        let timeout = r.recommended_timeout_s.unwrap_or(f.timeout_s);
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
        if let Some(last) = self.applier.last(&f.name).await? {
            if last.event_id == event_id && last.status == "applied" {
                // A retry of this very pass: the change is already made.
                r.applied = Some(last);
                return Ok(());
            }
            let at = DateTime::parse_from_rfc3339(&last.at).map(|t| t.with_timezone(&Utc));
            let age = at.map(|t| Utc::now() - t).unwrap_or_default();
            if age.to_std().unwrap_or_default() < self.cooldown {
                r.not_applied = Some(format!(
                    "changed {} min ago ({}): the next change waits {} h so that metrics reflect the last one",
                    age.num_minutes(),
                    last.status,
                    self.cooldown.as_secs() / 3600
                ));
                return Ok(());
            }
        }
        self.halt.check(crate::halt::Step::Applying).await;
        let change = self
            .applier
            .apply(
                &f.name,
                (f.memory_mb, f.timeout_s),
                memory,
                timeout,
                event_id,
            )
            .await?;
        r.applied = Some(change);
        Ok(())
    }

    /// The outcome event of one function's review.
    pub fn announcement(r: &FunctionReport) -> OptimizationRecommended {
        OptimizationRecommended {
            function: r.function.clone(),
            finding: r.finding,
            reason: r.reason.clone(),
            current_memory_mb: r.current_memory_mb,
            recommended_memory_mb: r.recommended_memory_mb,
            current_timeout_s: r.current_timeout_s,
            recommended_timeout_s: r.recommended_timeout_s,
            estimated_monthly_savings_usd: r.estimated_monthly_savings_usd,
            applied: r.applied.is_some(),
        }
    }
}

impl Handler for Optimizer {
    fn worker(&self) -> Worker {
        Worker::Optimizer
    }

    async fn handle(&self, event: &Event, _ctx: &JobCtx) -> Result<Outcome, JobError> {
        let Body::Optimize(req) = &event.body else {
            return Err(JobError::permanent(
                "wrong_kind",
                format!(
                    "the optimizer takes stoker.optimize.requested, not {}",
                    event.meta.kind
                ),
            ));
        };
        let report = self.optimize(req, &event.meta.id.to_string()).await?;
        let count = |f: Finding| report.functions.iter().filter(|r| r.finding == f).count() as f64;
        emit_metrics(
            Worker::Optimizer.name(),
            &[
                Metric::count("FunctionsReviewed", report.functions.len() as f64),
                Metric::count("NotOptimized", count(Finding::NotOptimized)),
                Metric::count("Unavailable", count(Finding::Unavailable)),
                Metric::count("ChangesApplied", report.applied as f64),
                Metric {
                    name: "EstimatedMonthlySavingsUsd",
                    unit: "None",
                    value: report.estimated_monthly_savings_usd,
                },
            ],
        );
        if let Some(p) = &self.events {
            let news: Vec<_> = report.functions.iter().map(Self::announcement).collect();
            p.emit(Worker::Optimizer.name(), event, &news).await?;
        }
        serde_json::to_value(report).map_err(|e| JobError::permanent("report", e.to_string()))
    }
}
