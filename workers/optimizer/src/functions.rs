//! The functions of a pass: named ones, or every function carrying a tag; their configuration
//! and tags.

use std::collections::HashMap;

use aws_sdk_lambda::types::Architecture;
use serde::Serialize;
use stoker_events::payload::optimize::FunctionSelector;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::pricing::Arch;

/// Functions tagged with this key (any value but `false`) are never changed by `apply`.
pub const LEAVE_ALONE_TAG: &str = "stoker:leave-alone";

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
                    let tags = tags(lambda, arn).await?;
                    if tags.get(&filter.key) == Some(&filter.value) {
                        found.push(from_config(
                            f.function_name().unwrap_or_default(),
                            arn,
                            f.memory_size(),
                            f.timeout(),
                            f.architectures(),
                            f.logging_config().and_then(|l| l.log_group()),
                            tags,
                        ));
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
    Ok(from_config(
        c.function_name().unwrap_or(name),
        &arn,
        c.memory_size(),
        c.timeout(),
        c.architectures(),
        c.logging_config().and_then(|l| l.log_group()),
        tags,
    ))
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
