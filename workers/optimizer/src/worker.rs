//! The optimizer's handler: review each function of the pass ([`crate::review`]), advise on
//! tables, and announce each recommendation.

use std::time::{Duration, Instant};

use stoker_events::Worker;
use stoker_events::payload::optimize::{OptimizeMode, OptimizeRequest};
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

/// Tables advised (and applied to) at once.
const TABLES_AT_ONCE: usize = 4;

/// The optimizer worker's handler.
#[derive(Debug, Clone)]
pub struct Optimizer {
    pub lambda: aws_sdk_lambda::Client,
    pub observer: Observer,
    pub ddb: aws_sdk_dynamodb::Client,
    /// Application Auto Scaling: a table's auto-scaling target (mode `apply`, opted-in tables).
    pub scaling: aws_sdk_applicationautoscaling::Client,
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
    /// Functions a tag selects are looked for under this prefix (`STOKER_FUNCTION_PREFIX`,
    /// the stack's `WarmableFunctionPrefix`; empty: every function the role may read).
    pub function_prefix: String,
    /// The optimizer's versions of a function kept after an apply (the rest are pruned).
    pub keep_versions: u32,
}

/// The optimizer's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSettings {
    /// Prices (`STOKER_PRICE_*`, USD; the public us-east-1 prices by default).
    pub pricing: Pricing,
    /// The alias recommendations are applied to (`STOKER_OPTIMIZER_ALIAS`, default `live`).
    pub alias: Option<String>,
    /// Time between two changes of one function (`STOKER_OPTIMIZER_COOLDOWN_HOURS`, default 24).
    pub cooldown: Option<Duration>,
    /// Where a tag selection looks (`STOKER_FUNCTION_PREFIX`).
    pub function_prefix: Option<String>,
    /// Versions kept (`STOKER_OPTIMIZER_KEEP_VERSIONS`, default 3, at least 1).
    pub keep_versions: Option<u32>,
}

impl stoker_kit::section::Section for OptimizerSettings {
    fn read(vars: &stoker_kit::section::Vars<'_>) -> Result<Self, stoker_kit::config::ConfigError> {
        Ok(OptimizerSettings {
            pricing: Pricing::read(vars)?,
            alias: vars.text("STOKER_OPTIMIZER_ALIAS"),
            cooldown: vars
                .number::<u64>("STOKER_OPTIMIZER_COOLDOWN_HOURS")?
                .map(|h| Duration::from_secs(h * 3600)),
            function_prefix: vars.text("STOKER_FUNCTION_PREFIX"),
            keep_versions: vars.number("STOKER_OPTIMIZER_KEEP_VERSIONS")?,
        })
    }
}

impl Optimizer {
    /// From the kit's configuration (ops table, bus, job timeout) and the optimizer's own
    /// settings.
    pub fn from_config(
        sdk: &aws_config::SdkConfig,
        config: &stoker_kit::WorkerConfig,
        settings: OptimizerSettings,
    ) -> Self {
        let mut o = Self::new(sdk, &config.ops_table, config.bus.clone());
        o.pricing = settings.pricing;
        if let Some(alias) = settings.alias {
            o.applier.alias = alias;
        }
        if let Some(cooldown) = settings.cooldown {
            o.cooldown = cooldown;
        }
        o.job_timeout = config.job_timeout;
        o.function_prefix = settings.function_prefix.unwrap_or_default();
        if let Some(keep) = settings.keep_versions {
            o.keep_versions = keep.max(1);
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
            scaling: aws_sdk_applicationautoscaling::Client::new(sdk),
            pricing: Pricing::default(),
            dynamo_pricing: DynamoPricing::default(),
            events: bus.map(|b| Publisher::new(aws_sdk_eventbridge::Client::new(sdk), b)),
            cooldown: Duration::from_secs(24 * 3600),
            job_timeout: stoker_kit::stoker::default_timeout(Worker::Optimizer),
            halt: Halt::default(),
            function_prefix: String::new(),
            keep_versions: crate::prune::DEFAULT_KEEP,
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
        let cw = &self.observer.cloudwatch;
        let (functions, missing) =
            resolve(&self.lambda, cw, &self.function_prefix, &req.functions).await?;
        let mut report = OptimizeReport {
            missing,
            ..Default::default()
        };
        for f in &functions {
            let r = self.review(f, req, event_id, deadline).await?;
            if let Some(a) = crate::advice::Advice::of(&r) {
                // Readiness compares the deployed function with it; the pass does not depend on it.
                let (ddb, table) = (&self.applier.ddb, &self.applier.ops_table);
                if let Err(e) = crate::advice::record(ddb, table, &r.function, &a).await {
                    tracing::warn!(function = %r.function, error = %e, "could not record the optimizer's advice");
                }
            }
            report.not_optimized += usize::from(r.finding == Finding::NotOptimized);
            report.applied += usize::from(r.applied.is_some());
            report.rolled_back += usize::from(r.rolled_back.is_some());
            report.estimated_monthly_savings_usd += r.estimated_monthly_savings_usd.unwrap_or(0.0);
            report.functions.push(r);
        }
        // Tables one after another took ~0.6 s each on the emulators (mostly the two
        // consumed-capacity reads); a few at a time, in the request's order.
        for some in req.tables.chunks(TABLES_AT_ONCE) {
            let advised =
                futures::future::join_all(some.iter().map(|t| self.table(t, req, event_id))).await;
            for advice in advised {
                let advice = advice?;
                report.applied += usize::from(advice.applied.is_some());
                report.tables.push(advice);
            }
        }
        Ok(report)
    }

    /// One table's capacity advice, applied in mode `apply` when its guardrails allow.
    async fn table(
        &self,
        table: &str,
        req: &OptimizeRequest,
        event_id: &str,
    ) -> Result<crate::capacity::CapacityAdvice, JobError> {
        let read = table_advice(
            &self.ddb,
            &self.observer.cloudwatch,
            table,
            req.lookback_days,
            &self.dynamo_pricing,
        )
        .await;
        let mut advice = match read {
            Ok(a) => a,
            // A table missing or out of reach is reported; the pass goes on with the others
            // (their changes must not be lost in a failed job).
            Err(e) if e.is_permanent() => {
                tracing::warn!(table, error = %e, "could not read the table");
                return Ok(crate::capacity::CapacityAdvice::unread(
                    table,
                    e.to_string(),
                ));
            }
            Err(e) => return Err(e),
        };
        if req.mode == OptimizeMode::Apply {
            self.apply_table_advice(&mut advice, &req.bounds, event_id)
                .await?;
        }
        Ok(advice)
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
            rolled_back: r.rolled_back.as_ref().map(ToString::to_string),
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
                Metric::count("ChangesRolledBack", report.rolled_back as f64),
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
