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

/// How long REPORT lines may take to reach CloudWatch Logs when the log tail has none.
pub const LOG_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The Lambda client, and CloudWatch Logs for REPORT lines a log tail does not carry.
#[derive(Debug, Clone, Copy)]
pub struct Clients<'a> {
    pub lambda: &'a aws_sdk_lambda::Client,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
}

/// Runs the sweep over `f`.
pub async fn sweep(
    c: Clients<'_>,
    f: &FunctionInfo,
    tuning: &PowerTuning,
    strategy: &Strategy,
    pricing: &Pricing,
    halt: &crate::halt::Halt,
) -> Result<SweepReport, JobError> {
    let mut sizes: Vec<u32> = tuning.memory_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut created: Vec<(String, String)> = Vec::new();
    let mut results = Vec::new();
    let outcome = measure_all(
        c,
        f,
        tuning,
        pricing,
        &sizes,
        &mut created,
        &mut results,
        halt,
    )
    .await;
    let cleaned = cleanup(c.lambda, f, &created).await;
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
    c: Clients<'_>,
    f: &FunctionInfo,
    tuning: &PowerTuning,
    pricing: &Pricing,
    sizes: &[u32],
    created: &mut Vec<(String, String)>,
    results: &mut Vec<SizeResult>,
    halt: &crate::halt::Halt,
) -> Result<(), JobError> {
    let lambda = c.lambda;
    for &memory in sizes {
        configure(lambda, &f.name, memory, None, None).await?;
        halt.check(crate::halt::Step::Configured).await;
        let version = publish(
            lambda,
            &f.name,
            &format!("stoker power tuning {memory} MB"),
            None,
        )
        .await?
        .version;
        let alias = format!("{ALIAS_PREFIX}{memory}");
        created.push((alias.clone(), version.clone()));
        // The original size rides on the alias, for a sweep interrupted before its clean-up.
        point_alias(lambda, &f.name, &alias, &version, &marker(f.memory_mb)).await?;
        let since = chrono::Utc::now().timestamp_millis() - 1000;
        let answers = invoke_all(lambda, &f.name, &alias, tuning).await?;
        let succeeded = answers.iter().filter(|a| a.succeeded).count();
        let mut billed: Vec<f64> = answers.iter().filter_map(|a| a.billed_ms).collect();
        if billed.len() < succeeded {
            // No REPORT line in the log tail (an emulator): read the version's from the logs.
            billed = logged_billed(c.logs, f, &version, since, answers.len()).await?;
        }
        let mean = trimmed_mean(&billed, TRIM).unwrap_or(0.0);
        results.push(SizeResult {
            memory_mb: memory,
            invocations: tuning.invocations,
            errors: (answers.len() - succeeded) as u32,
            billed_ms: mean,
            cost_per_invocation_usd: pricing.per_invocation(memory, mean, f.arch),
        });
    }
    Ok(())
}

/// One invocation's answer.
#[derive(Debug, Clone, Copy)]
struct Answer {
    succeeded: bool,
    /// From the log tail's REPORT line, when it has one.
    billed_ms: Option<f64>,
}

/// Invokes `function:alias` `tuning.invocations` times.
async fn invoke_all(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    tuning: &PowerTuning,
) -> Result<Vec<Answer>, JobError> {
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
) -> Result<Answer, JobError> {
    let out = lambda
        .invoke()
        .function_name(function)
        .qualifier(alias)
        .log_type(LogType::Tail)
        .payload(Blob::new(payload.as_bytes()))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Invoke {function}:{alias}"), e))?;
    let tail = out
        .log_result()
        .and_then(|b| aws_smithy_types::base64::decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(Answer {
        succeeded: out.function_error().is_none(),
        billed_ms: report_line::parse(&tail).map(|r| r.billed_ms),
    })
}

/// The billed durations of `version`'s REPORT lines since `since_ms` (log streams of a version
/// are named `…[<version>]…`), polled until all `want` have arrived or [`LOG_WAIT`] is up.
async fn logged_billed(
    logs: &aws_sdk_cloudwatchlogs::Client,
    f: &FunctionInfo,
    version: &str,
    since_ms: i64,
    want: usize,
) -> Result<Vec<f64>, JobError> {
    let marker = format!("[{version}]");
    let deadline = std::time::Instant::now() + LOG_WAIT;
    loop {
        let Some(lines) = report_line::read(logs, &f.log_group, since_ms, None, usize::MAX).await?
        else {
            return Err(JobError::permanent(
                "no_report_line",
                format!(
                    "{}:{version} has no REPORT line in its log tail, and its log group {} does not exist; does the function log to CloudWatch Logs?",
                    f.name, f.log_group
                ),
            ));
        };
        let billed: Vec<f64> = lines
            .iter()
            .filter(|(stream, _)| stream.contains(&marker))
            .map(|(_, r)| r.billed_ms)
            .collect();
        if billed.len() >= want {
            return Ok(billed);
        }
        if std::time::Instant::now() >= deadline {
            if billed.is_empty() {
                return Err(JobError::permanent(
                    "no_report_line",
                    format!(
                        "{}:{version} left no REPORT line in its log tail or in {} within {} s; does the function log to CloudWatch Logs?",
                        f.name,
                        f.log_group,
                        LOG_WAIT.as_secs()
                    ),
                ));
            }
            return Ok(billed);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

const MARKER: &str = "stoker power tuning; restore memory to ";

/// The description of a sweep's alias: it records the size to restore.
fn marker(original_mb: u32) -> String {
    format!("{MARKER}{original_mb} MB")
}

/// The size a sweep alias's description records ([`marker`] read back).
fn recorded_size(description: &str) -> Option<u32> {
    description
        .strip_prefix(MARKER)?
        .strip_suffix(" MB")?
        .parse()
        .ok()
}

/// Undoes what an interrupted sweep left on `f` (a crash or a kill between measuring and
/// cleaning up): `$LATEST`'s memory back to the size its `stoker-tune-*` aliases record, those
/// aliases and their versions deleted. Returns the function as it was before that sweep.
pub async fn recover(
    lambda: &aws_sdk_lambda::Client,
    f: &FunctionInfo,
) -> Result<FunctionInfo, JobError> {
    let mut left = Vec::new();
    let mut original = None;
    let mut pages = lambda
        .list_aliases()
        .function_name(&f.name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(&format!("ListAliases {}", f.name), e))?;
        for a in page.aliases() {
            let (Some(name), Some(version)) = (a.name(), a.function_version()) else {
                continue;
            };
            if !name.starts_with(ALIAS_PREFIX) {
                continue;
            }
            original = original.or(a.description().and_then(recorded_size));
            left.push((name.to_owned(), version.to_owned()));
        }
    }
    if left.is_empty() {
        return Ok(f.clone());
    }
    let before = FunctionInfo {
        memory_mb: original.unwrap_or(f.memory_mb),
        ..f.clone()
    };
    tracing::warn!(function = %f.name, aliases = left.len(), memory_mb = before.memory_mb, "an interrupted sweep left aliases: restoring and deleting them");
    cleanup(lambda, &before, &left).await?;
    Ok(before)
}

/// Puts `$LATEST`'s memory back and deletes the temporary aliases and versions; every step is
/// tried, the first error is returned.
async fn cleanup(
    lambda: &aws_sdk_lambda::Client,
    f: &FunctionInfo,
    created: &[(String, String)],
) -> Result<(), JobError> {
    let mut first: Option<JobError> = None;
    if let Err(e) = configure(lambda, &f.name, f.memory_mb, None, None).await {
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
