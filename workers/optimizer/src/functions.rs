//! The functions of a pass: named ones, or every function carrying a tag; their configuration
//! and tags.
//!
//! Only a function that opted in ([`OPT_IN_TAG`] = `true`) may be changed: swept, applied to,
//! or put back after an interrupted sweep. Any other function, named or matched by a tag
//! filter, gets a read-only review (its metrics and logs), and a request to change it is
//! refused with the tag to add. Selecting by `stoker:optimize` = `true` selects only
//! functions that opted in. The stack's IAM holds the optimizer to the same tag.

use std::collections::HashMap;

use aws_sdk_lambda::types::Architecture;
use serde::Serialize;
use stoker_events::payload::optimize::FunctionSelector;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::pricing::Arch;

/// Functions tagged with this key (any value but `false`) are never changed by `apply`.
pub const LEAVE_ALONE_TAG: &str = "stoker:leave-alone";
/// A function lets the optimizer change it with this tag set to [`OPT_IN_VALUE`].
pub const OPT_IN_TAG: &str = "stoker:optimize";
pub const OPT_IN_VALUE: &str = "true";

/// One function's configuration as the pass found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub arch: Arch,
    /// Where its logs go (`/aws/lambda/<name>` unless its logging config says otherwise).
    pub log_group: String,
    /// `$LATEST`'s RevisionId as read: an update passes it, so a function changed since is
    /// never overwritten.
    #[serde(skip)]
    pub revision: String,
    #[serde(skip)]
    pub tags: HashMap<String, String>,
}

impl FunctionInfo {
    /// Whether the function carries the leave-alone tag.
    pub fn left_alone(&self) -> bool {
        self.tags
            .get(LEAVE_ALONE_TAG)
            .is_some_and(|v| !v.eq_ignore_ascii_case("false"))
    }

    /// Whether the function opted in to changes ([`OPT_IN_TAG`] = [`OPT_IN_VALUE`], exactly,
    /// as the IAM condition compares it).
    pub fn opted_in(&self) -> bool {
        self.tags.get(OPT_IN_TAG).map(String::as_str) == Some(OPT_IN_VALUE)
    }

    /// Why a change of this function is refused when it has not opted in.
    pub fn not_opted_in(&self) -> String {
        format!(
            "not changed: {} has not opted in to changes by the optimizer (this pass only read its metrics); tag it {OPT_IN_TAG}={OPT_IN_VALUE} to let a pass sweep or apply",
            self.name
        )
    }
}

/// A function the pass could not look at, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    pub name: String,
    pub error: String,
}

/// Resolves the selector: configurations of the named functions (a missing one is reported,
/// not fatal), or of every function under `prefix` whose tags match among those CloudWatch
/// saw invoked in the last two weeks ([`invoked`]): a function with no invocations has no
/// metrics to review.
pub async fn resolve(
    lambda: &aws_sdk_lambda::Client,
    cw: &aws_sdk_cloudwatch::Client,
    prefix: &str,
    selector: &FunctionSelector,
) -> Result<(Vec<FunctionInfo>, Vec<Missing>), JobError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match selector {
        FunctionSelector::Names(names) => {
            for name in names {
                match describe(lambda, name).await {
                    Ok(f) => found.push(f),
                    Err(e) if e.is_permanent() => missing.push(Missing {
                        name: name.clone(),
                        error: e.to_string(),
                    }),
                    Err(e) => return Err(e),
                }
            }
        }
        FunctionSelector::Tag(filter) => {
            let names = invoked(cw, prefix)
                .await
                .map_err(|e| sdk_error("ListMetrics", e))?;
            for name in names {
                // Deleted since it was invoked, or one the role may not read (IAM holds it to
                // WarmableFunctionPrefix): not selected, and the pass goes on.
                let f = match describe(lambda, &name).await {
                    Ok(f) => f,
                    Err(e) if e.is_permanent() => {
                        tracing::debug!(function = %name, error = %e, "not readable: not selected");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if f.tags.get(&filter.key) == Some(&filter.value) {
                    found.push(f);
                }
            }
        }
    }
    Ok((found, missing))
}

/// The functions under `prefix` CloudWatch has seen invoked in the last two weeks (the
/// `AWS/Lambda` `Invocations` series of each, `ListMetrics`), by name, sorted.
///
/// Not `lambda:ListFunctions`: it returns every function's configuration, environment
/// variables included, and supports no resource type, so a role granted it could read the
/// account's secrets.
pub async fn invoked(
    cw: &aws_sdk_cloudwatch::Client,
    prefix: &str,
) -> Result<
    Vec<String>,
    aws_sdk_cloudwatch::error::SdkError<
        aws_sdk_cloudwatch::operation::list_metrics::ListMetricsError,
    >,
> {
    let pages = cw
        .list_metrics()
        .namespace("AWS/Lambda")
        .metric_name("Invocations")
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?;
    let mut names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.metrics())
        .filter_map(|m| match m.dimensions() {
            // The function's own series (not per version or alias: `Resource` is added).
            [d] if d.name() == Some("FunctionName") => d.value(),
            _ => None,
        })
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// One function's configuration and tags.
pub async fn describe(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<FunctionInfo, JobError> {
    let c = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("GetFunctionConfiguration {name}"), e))?;
    let arn = c.function_arn().unwrap_or_default().to_owned();
    let tags = tags(lambda, &arn).await?;
    Ok(FunctionInfo {
        revision: c.revision_id().unwrap_or_default().to_owned(),
        ..from_config(
            c.function_name().unwrap_or(name),
            &arn,
            c.memory_size(),
            c.timeout(),
            c.architectures(),
            c.logging_config().and_then(|l| l.log_group()),
            tags,
        )
    })
}

async fn tags(
    lambda: &aws_sdk_lambda::Client,
    arn: &str,
) -> Result<HashMap<String, String>, JobError> {
    let out = lambda
        .list_tags()
        .resource(arn)
        .send()
        .await
        .map_err(|e| sdk_error("ListTags", e))?;
    Ok(out.tags().cloned().unwrap_or_default())
}

fn from_config(
    name: &str,
    arn: &str,
    memory: Option<i32>,
    timeout: Option<i32>,
    archs: &[Architecture],
    log_group: Option<&str>,
    tags: HashMap<String, String>,
) -> FunctionInfo {
    FunctionInfo {
        log_group: log_group
            .filter(|g| !g.is_empty())
            .map_or_else(|| format!("/aws/lambda/{name}"), str::to_owned),
        name: name.to_owned(),
        arn: arn.to_owned(),
        revision: String::new(),
        memory_mb: memory.unwrap_or(128).max(128) as u32,
        timeout_s: timeout.unwrap_or(3).max(1) as u32,
        arch: if archs.contains(&Architecture::Arm64) {
            Arch::Arm64
        } else {
            Arch::X86_64
        },
        tags,
    }
}
