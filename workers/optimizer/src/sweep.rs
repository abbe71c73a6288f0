//! The active power-tuning sweep: per memory size, a published version behind a temporary
//! alias, invoked N times; billed durations from the invocation log tails, trimmed means, cost
//! per invocation.
//!
//! Before it changes anything, the sweep records the configuration to put back
//! ([`crate::undo`]); whether it ends, fails or stops for lack of time, it puts the function
//! back and deletes the aliases and versions it created, and only then forgets the record. A
//! sweep killed on the way is undone from the record by the next pass on the function.

use std::time::Instant;

use serde::Serialize;
use stoker_events::payload::optimize::{PowerTuning, Strategy};
use stoker_kit::JobError;

use crate::apply::Applier;
use crate::budget::{self, CLEAN_UP};
use crate::functions::FunctionInfo;
use crate::halt::{Halt, Step};
use crate::lambda_config::{configure, create_alias, publish};
use crate::measure::{invoke_all, logged_billed};
use crate::pricing::Pricing;
use crate::tuning::{Point, choose, trimmed_mean};
use crate::undo::{SweepRecord, undo};

/// The fraction of the fastest and the slowest invocations left out of each mean (as AWS
/// Lambda Power Tuning does by default).
pub const TRIM: f64 = 0.2;

/// One memory size's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeResult {
    pub memory_mb: u32,
    pub invocations: u32,
    pub errors: u32,
    /// Trimmed mean of the billed durations.
    pub billed_ms: f64,
    /// Billed GB-s at the architecture's price + the request fee.
    pub cost_per_invocation_usd: f64,
}

/// What a sweep measured and chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    pub sizes: Vec<SizeResult>,
    pub chosen_memory_mb: Option<u32>,
    /// Temporary versions the sweep published (all deleted again); a version PublishVersion
    /// answered that existed before is measured but not listed, and never deleted.
    pub versions: Vec<String>,
    pub cleaned_up: bool,
}

/// What a sweep works with: Lambda, CloudWatch Logs for REPORT lines a log tail does not
/// carry, the ops table for its record, and the test seam.
#[derive(Debug, Clone, Copy)]
pub struct Clients<'a> {
    pub lambda: &'a aws_sdk_lambda::Client,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
    pub ops: &'a Applier,
    pub halt: &'a Halt,
}

/// One sweep's request.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub tuning: &'a PowerTuning,
    pub strategy: &'a Strategy,
    pub pricing: &'a Pricing,
    pub event_id: &'a str,
    /// The sweep stops before a size it has no time left for.
    pub deadline: Instant,
}

/// Runs the sweep over `f` (as the pass read it).
pub async fn sweep(
    c: Clients<'_>,
    f: &FunctionInfo,
    plan: Plan<'_>,
) -> Result<SweepReport, JobError> {
    let mut sizes: Vec<u32> = plan.tuning.memory_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let record = SweepRecord::new(f, plan.event_id);
    c.ops.begin_sweep(&f.name, &record).await?;
    c.halt.check(Step::Recorded).await;
    let mut published = Vec::new();
    let mut results = Vec::new();
    let outcome = measure_all(c, f, plan, &sizes, &record, &mut published, &mut results).await;
    let undone = undo(c.lambda, &f.name, &record).await;
    if let Err(e) = undone {
        return Err(JobError::retryable(format!(
            "the sweep of {} could not put it back ({e}); the configuration to restore stays recorded, and the next pass puts it back",
            f.name
        )));
    }
    c.ops.end_sweep(&f.name).await?;
    outcome?;
    let points: Vec<Point> = results
        .iter()
        .filter(|r| r.errors < r.invocations)
        .map(|r| Point {
            memory_mb: r.memory_mb,
            duration_ms: r.billed_ms,
            cost_usd: r.cost_per_invocation_usd,
        })
        .collect();
    Ok(SweepReport {
        chosen_memory_mb: choose(&points, plan.strategy),
        sizes: results,
        versions: published,
        cleaned_up: true,
    })
}

async fn measure_all(
    c: Clients<'_>,
    f: &FunctionInfo,
    plan: Plan<'_>,
    sizes: &[u32],
    record: &SweepRecord,
    published: &mut Vec<String>,
    results: &mut Vec<SizeResult>,
) -> Result<(), JobError> {
    let (lambda, tuning) = (c.lambda, plan.tuning);
    for &memory in sizes {
        let need = budget::one_size(tuning, f.timeout_s) + CLEAN_UP;
        if plan.deadline.saturating_duration_since(Instant::now()) < need {
            return Err(JobError::permanent(
                "out_of_time",
                format!(
                    "the sweep of {} stopped before {memory} MB: a size may take {} s and the clean-up {} s, more than this pass has left; the sizes measured are put back",
                    f.name,
                    (need - CLEAN_UP).as_secs(),
                    CLEAN_UP.as_secs()
                ),
            ));
        }
        let revision = configure(lambda, &f.name, memory, None, None).await?;
        c.halt.check(Step::Configured).await;
        let description = record.version_description(memory);
        let version = publish(lambda, &f.name, &description, Some(&revision)).await?;
        if version.description == description {
            published.push(version.version.clone());
        }
        c.halt.check(Step::Published).await;
        let alias = record.alias(memory);
        create_alias(lambda, &f.name, &alias, &version.version, &description).await?;
        c.halt.check(Step::Aliased).await;
        let since = chrono::Utc::now().timestamp_millis() - 1000;
        let answers = invoke_all(lambda, &f.name, &alias, tuning).await?;
        let succeeded = answers.iter().filter(|a| a.succeeded).count();
        let mut billed: Vec<f64> = answers.iter().filter_map(|a| a.billed_ms).collect();
        if billed.len() < succeeded {
            // No REPORT line in the log tail (an emulator): read the version's from the logs.
            billed = logged_billed(c.logs, f, &version.version, since, answers.len()).await?;
        }
        let mean = trimmed_mean(&billed, TRIM).unwrap_or(0.0);
        results.push(SizeResult {
            memory_mb: memory,
            invocations: tuning.invocations,
            errors: (answers.len() - succeeded) as u32,
            billed_ms: mean,
            cost_per_invocation_usd: plan.pricing.per_invocation(memory, mean, f.arch),
        });
    }
    Ok(())
}
