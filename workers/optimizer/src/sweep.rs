//! The active power-tuning sweep: per memory size, a published version behind a temporary
//! alias, invoked N times; billed durations from the invocation log tails, trimmed means, cost
//! per invocation. `$LATEST`'s memory is restored and the temporary aliases and versions are
//! deleted afterwards, whether the sweep succeeded or not.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use serde::Serialize;
use stoker_events::payload::optimize::{PowerTuning, Strategy};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::functions::FunctionInfo;
use crate::lambda_config::{configure, point_alias, publish};
use crate::pricing::Pricing;
use crate::report_line;
use crate::tuning::{Point, choose, trimmed_mean};

/// The fraction of the fastest and the slowest invocations left out of each mean (as AWS
/// Lambda Power Tuning does by default).
pub const TRIM: f64 = 0.2;
/// Temporary aliases are named `stoker-tune-<MB>`.
pub const ALIAS_PREFIX: &str = "stoker-tune-";

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
    /// Temporary versions published (all deleted again).
    pub versions: Vec<String>,
    pub cleaned_up: bool,
}

/// Runs the sweep over `f`.
pub async fn sweep(
    lambda: &aws_sdk_lambda::Client,
    f: &FunctionInfo,
    tuning: &PowerTuning,
    strategy: &Strategy,
    pricing: &Pricing,
) -> Result<SweepReport, JobError> {
    let mut sizes: Vec<u32> = tuning.memory_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut created: Vec<(String, String)> = Vec::new();
    let mut results = Vec::new();
    let outcome = measure_all(
        lambda,
        f,
        tuning,
        pricing,
        &sizes,
        &mut created,
        &mut results,
    )
    .await;
    let cleaned = cleanup(lambda, f, &created).await;
    outcome?;
    if let Err(e) = cleaned {
        return Err(JobError::retryable(format!(
            "the sweep of {} measured every size but could not clean up ({e}); the retry deletes the leftover {ALIAS_PREFIX}* aliases",
            f.name
        )));
    }
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
        chosen_memory_mb: choose(&points, strategy),
        sizes: results,
        versions: created.into_iter().map(|(_, v)| v).collect(),
        cleaned_up: true,
    })
}

async fn measure_all(
    lambda: &aws_sdk_lambda::Client,
    f: &FunctionInfo,
    tuning: &PowerTuning,
    pricing: &Pricing,
    sizes: &[u32],
    created: &mut Vec<(String, String)>,
    results: &mut Vec<SizeResult>,
) -> Result<(), JobError> {
    for &memory in sizes {
        configure(lambda, &f.name, memory, None).await?;
        let version = publish(lambda, &f.name, &format!("stoker power tuning {memory} MB")).await?;
        let alias = format!("{ALIAS_PREFIX}{memory}");
        created.push((alias.clone(), version.clone()));
        // An alias left by an interrupted earlier sweep is moved, not an error.
        point_alias(lambda, &f.name, &alias, &version).await?;
        let billed = invoke_all(lambda, &f.name, &alias, tuning).await?;
        let ok: Vec<f64> = billed.iter().filter_map(|b| *b).collect();
        let mean = trimmed_mean(&ok, TRIM).unwrap_or(0.0);
        results.push(SizeResult {
            memory_mb: memory,
            invocations: tuning.invocations,
            errors: (billed.len() - ok.len()) as u32,
            billed_ms: mean,
            cost_per_invocation_usd: pricing.per_invocation(memory, mean, f.arch),
        });
    }
    Ok(())
}

/// Invokes `function:alias` `tuning.invocations` times; each answer's billed duration, or
/// `None` for an invocation that failed.
async fn invoke_all(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    tuning: &PowerTuning,
) -> Result<Vec<Option<f64>>, JobError> {
    let payload = tuning
        .payload
        .as_ref()
        .map_or_else(|| "{}".to_owned(), ToString::to_string);
    if tuning.parallel {
        let calls = (0..tuning.invocations).map(|_| invoke(lambda, function, alias, &payload));
        return futures::future::join_all(calls).await.into_iter().collect();
    }
    let mut out = Vec::new();
    for i in 0..tuning.invocations {
        if i > 0 && tuning.sleep_ms > 0 {
            // A pause the request asks for between invocations, not a synchronisation.
            tokio::time::sleep(std::time::Duration::from_millis(tuning.sleep_ms.into())).await;
        }
        out.push(invoke(lambda, function, alias, &payload).await?);
    }
    Ok(out)
}

async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    payload: &str,
) -> Result<Option<f64>, JobError> {
    let out = lambda
        .invoke()
        .function_name(function)
        .qualifier(alias)
        .log_type(LogType::Tail)
        .payload(Blob::new(payload.as_bytes()))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Invoke {function}:{alias}"), e))?;
    if out.function_error().is_some() {
        return Ok(None);
    }
    let tail = out
        .log_result()
        .and_then(|b| aws_smithy_types::base64::decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    match report_line::parse(&tail) {
        Some(r) => Ok(Some(r.billed_ms)),
        None => Err(JobError::permanent(
            "no_report_line",
            format!(
                "the log tail of {function}:{alias} has no REPORT line to take the billed duration from; does the function log to CloudWatch Logs in the standard format?"
            ),
        )),
    }
}

/// Puts `$LATEST`'s memory back and deletes the temporary aliases and versions; every step is
/// tried, the first error is returned.
async fn cleanup(
    lambda: &aws_sdk_lambda::Client,
    f: &FunctionInfo,
    created: &[(String, String)],
) -> Result<(), JobError> {
    let mut first: Option<JobError> = None;
    if let Err(e) = configure(lambda, &f.name, f.memory_mb, None).await {
        first.get_or_insert(e);
    }
    for (alias, version) in created {
        if let Err(e) = lambda
            .delete_alias()
            .function_name(&f.name)
            .name(alias)
            .send()
            .await
        {
            first.get_or_insert(sdk_error(&format!("DeleteAlias {}:{alias}", f.name), e));
        }
        if let Err(e) = lambda
            .delete_function()
            .function_name(&f.name)
            .qualifier(version)
            .send()
            .await
        {
            first.get_or_insert(sdk_error(
                &format!("DeleteFunction {}:{version}", f.name),
                e,
            ));
        }
    }
    first.map_or(Ok(()), Err)
}
