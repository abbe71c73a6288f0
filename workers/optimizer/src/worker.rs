//! The optimizer's handler: review each function of the pass ([`crate::review`]), advise on
//! tables, and announce each recommendation.

use std::time::{Duration, Instant};

use stoker_events::Worker;
use stoker_events::payload::optimize::OptimizeRequest;
use stoker_events::payload::outcome::{Finding, OptimizationRecommended};
use stoker_kit::emf::{Metric, emit_metrics};
use stoker_kit::outcome::Publisher;
use stoker_kit::{Job, JobCtx, JobError};

use crate::apply::{Applier, DEFAULT_ALIAS};
use crate::capacity::table_advice;
use crate::functions::resolve;
use crate::halt::Halt;
use crate::observe::Observer;
use crate::pricing::{DynamoPricing, Pricing};
use crate::report::{FunctionReport, OptimizeReport};

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
    /// The job's time (`STOKER_JOB_TIMEOUT_SECS`, else the kit's default for the optimizer):
    /// [`Optimizer::optimize`] ends by then, and a sweep must fit in it.
    pub job_timeout: Duration,
    /// A test seam: where a pass stops (never set in production).
    pub halt: Halt,
}

impl Optimizer {
    /// From the kit's environment (`STOKER_OPS_TABLE`, `STOKER_BUS`, `STOKER_JOB_TIMEOUT_SECS`), prices from
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
        if let Some(s) = env("STOKER_JOB_TIMEOUT_SECS").and_then(|s| s.parse::<u64>().ok()) {
            o.job_timeout = Duration::from_secs(s.max(1));
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
            job_timeout: stoker_kit::stoker::default_timeout(Worker::Optimizer),
            halt: Halt::default(),
        }
    }

    /// One optimization pass; `event_id` marks the changes it applies. It must end within
    /// [`Optimizer::job_timeout`].
    pub async fn optimize(
        &self,
        req: &OptimizeRequest,
        event_id: &str,
    ) -> Result<OptimizeReport, JobError> {
        self.optimize_by(req, event_id, Instant::now() + self.job_timeout)
            .await
    }

    /// One optimization pass that must end by `deadline` (the job's).
    pub async fn optimize_by(
        &self,
        req: &OptimizeRequest,
        event_id: &str,
        deadline: Instant,
    ) -> Result<OptimizeReport, JobError> {
        let (functions, missing) = resolve(&self.lambda, &req.functions).await?;
        let mut report = OptimizeReport {
            missing,
            ..Default::default()
        };
        for f in &functions {
            let r = self.review(f, req, event_id, deadline).await?;
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

impl Job for Optimizer {
    type Event = stoker_events::Event;
    type Request = OptimizeRequest;
    type Report = OptimizeReport;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::Optimizer.into()
    }

    async fn run(&self, req: OptimizeRequest, ctx: &JobCtx) -> Result<OptimizeReport, JobError> {
        let report = self
            .optimize_by(&req, &ctx.event.id.to_string(), ctx.deadline)
            .await?;
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
            p.emit(Worker::Optimizer.name(), &ctx.event, &news).await?;
        }
        Ok(report)
    }
}
