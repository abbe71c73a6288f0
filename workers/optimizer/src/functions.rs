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
/// not fatal), or of every function whose tags match.
pub async fn resolve(
    lambda: &aws_sdk_lambda::Client,
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
            let mut pages = lambda.list_functions().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| sdk_error("ListFunctions", e))?;
                for f in page.functions() {
                    let Some(arn) = f.function_arn() else {
                        continue;
                    };
                    // A function the role may not read (outside WarmableFunctionPrefix: IAM
                    // denies ListTags) cannot have opted in here: skip it, do not fail the pass.
                    let tags = match tags(lambda, arn).await {
                        Ok(t) => t,
                        Err(e) if e.is_permanent() => {
                            tracing::debug!(arn, error = %e, "tags not readable: not selected");
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    if tags.get(&filter.key) == Some(&filter.value) {
                        found.push(FunctionInfo {
                            revision: f.revision_id().unwrap_or_default().to_owned(),
                            ..from_config(
                                f.function_name().unwrap_or_default(),
                                arn,
                                f.memory_size(),
                                f.timeout(),
                                f.architectures(),
                                f.logging_config().and_then(|l| l.log_group()),
                                tags,
                            )
                        });
                    }
                }
            }
        }
    }
    Ok((found, missing))
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
