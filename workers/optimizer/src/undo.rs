//! What a sweep changes is recorded before it changes anything, and undone from that record:
//! by the sweep itself when it ends, or by the next pass on the function when it was killed.
//!
//! The record (`pk = OPTIMIZER#<function>`, `sk = SWEEP`) holds the memory and timeout to put
//! back and the sweep's token. Everything the sweep creates carries the token: its aliases are
//! named `stoker-tune-<token>-<MB>`, its versions described `… [sweep <token>]`. Undoing puts
//! the configuration back and deletes exactly those aliases and versions: never a version the
//! sweep did not publish (PublishVersion answers the existing version when `$LATEST` has not
//! changed since it was published; that version keeps its own description).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::ops::items;

use crate::apply::{Applier, pk};
use crate::functions::FunctionInfo;
use crate::lambda_config::configure;

/// A sweep's temporary aliases start with this.
pub const ALIAS_PREFIX: &str = "stoker-tune-";
const SK: &str = "SWEEP";

/// What a sweep must put back, and the token that marks what it creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRecord {
    pub token: String,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub event_id: String,
    pub at: String,
}

impl SweepRecord {
    /// A new sweep of `f` (as it is now) by the pass `event_id`.
    pub fn new(f: &FunctionInfo, event_id: &str) -> Self {
        let now = Utc::now();
        SweepRecord {
            token: format!("{:x}", now.timestamp_micros()),
            memory_mb: f.memory_mb,
            timeout_s: f.timeout_s,
            event_id: event_id.to_owned(),
            at: now.to_rfc3339(),
        }
    }

    /// The temporary alias of `memory_mb`.
    pub fn alias(&self, memory_mb: u32) -> String {
        format!("{ALIAS_PREFIX}{}-{memory_mb}", self.token)
    }

    /// The description of the version the sweep publishes at `memory_mb`.
    pub fn version_description(&self, memory_mb: u32) -> String {
        format!("stoker power tuning {memory_mb} MB {}", self.mark())
    }

    fn mark(&self) -> String {
        format!("[sweep {}]", self.token)
    }

    fn owns_alias(&self, name: &str) -> bool {
        name.strip_prefix(ALIAS_PREFIX)
            .and_then(|rest| rest.strip_prefix(self.token.as_str()))
            .is_some_and(|rest| rest.starts_with('-'))
    }

    fn owns_version(&self, version: &str, description: &str) -> bool {
        version != "$LATEST"
            && description.starts_with("stoker power tuning ")
            && description.ends_with(&self.mark())
    }
}

/// An unfinished sweep as stored: the [`SweepRecord`] as JSON text in `sweep`, kept 400 days.
#[derive(Debug, Serialize, Deserialize)]
struct SweepItem {
    pk: String,
    sk: String,
    #[serde(with = "items::json_text")]
    sweep: SweepRecord,
    #[serde(default)]
    expires_at: i64,
}

impl Applier {
    /// Records `r` before the sweep changes anything; refused while another record is there.
    pub async fn begin_sweep(&self, function: &str, r: &SweepRecord) -> Result<(), JobError> {
        let item = SweepItem {
            pk: pk(function),
            sk: SK.into(),
            sweep: r.clone(),
            expires_at: Utc::now().timestamp() + 400 * 86_400,
        };
        self.ddb
            .put_item()
            .table_name(&self.ops_table)
            .set_item(Some(items::to_item(&item, "optimizer sweep record")?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem (optimizer sweep record)", e))?;
        Ok(())
    }

    /// The record of an unfinished sweep of `function`.
    pub async fn sweep_record(&self, function: &str) -> Result<Option<SweepRecord>, JobError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.ops_table)
            .set_key(Some(items::key(pk(function), SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem (optimizer sweep record)", e))?;
        out.item
            .map(|i| {
                items::from_item::<SweepItem>(
                    i,
                    "sweep record (check the function's memory before deleting it)",
                )
                .map(|s| s.sweep)
            })
            .transpose()
    }

    /// Forgets the sweep once everything it changed is undone.
    pub async fn end_sweep(&self, function: &str) -> Result<(), JobError> {
        self.ddb
            .delete_item()
            .table_name(&self.ops_table)
            .set_key(Some(items::key(pk(function), SK)))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem (optimizer sweep record)", e))?;
        Ok(())
    }
}

/// Puts an unfinished sweep of `function` back, if one is recorded; returns whether there
/// was one. A killed sweep is undone by the next pass this way, whatever that pass asks for.
pub async fn recover(
    lambda: &aws_sdk_lambda::Client,
    ops: &Applier,
    function: &str,
) -> Result<bool, JobError> {
    let Some(r) = ops.sweep_record(function).await? else {
        return Ok(false);
    };
    // A record no sweep could have written is not obeyed (Lambda's own limits).
    if !(128..=10_240).contains(&r.memory_mb) || !(1..=900).contains(&r.timeout_s) {
        tracing::error!(
            function,
            memory_mb = r.memory_mb,
            timeout_s = r.timeout_s,
            "a sweep record outside Lambda's limits: not restoring it; inspect the ops table"
        );
        return Ok(false);
    }
    tracing::warn!(function, token = %r.token, memory_mb = r.memory_mb, event = %r.event_id, "an unfinished sweep is recorded: putting the function back");
    undo(lambda, function, &r).await?;
    ops.end_sweep(function).await?;
    Ok(true)
}

/// Puts `function`'s memory and timeout back as `r` records them and deletes the aliases and
/// versions carrying `r`'s token (aliases first: a version an alias points at cannot be
/// deleted). Every step is tried; the first error is returned.
pub async fn undo(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    r: &SweepRecord,
) -> Result<(), JobError> {
    let mut first: Option<JobError> = None;
    if let Err(e) = configure(lambda, function, r.memory_mb, Some(r.timeout_s), None).await {
        first.get_or_insert(e);
    }
    let mut aliases = lambda
        .list_aliases()
        .function_name(function)
        .into_paginator()
        .items()
        .send();
    let mut ours = Vec::new();
    while let Some(a) = aliases.next().await {
        match a {
            Ok(a) => ours.extend(a.name().filter(|n| r.owns_alias(n)).map(str::to_owned)),
            Err(e) => {
                first.get_or_insert(sdk_error(&format!("ListAliases {function}"), e));
                break;
            }
        }
    }
    for alias in &ours {
        if let Err(e) = lambda
            .delete_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
        {
            first.get_or_insert(sdk_error(&format!("DeleteAlias {function}:{alias}"), e));
        }
    }
    let mut versions = lambda
        .list_versions_by_function()
        .function_name(function)
        .into_paginator()
        .items()
        .send();
    let mut published = Vec::new();
    while let Some(v) = versions.next().await {
        match v {
            Ok(v) => {
                let (n, d) = (v.version().unwrap_or("$LATEST"), v.description());
                if r.owns_version(n, d.unwrap_or_default()) {
                    published.push(n.to_owned());
                }
            }
            Err(e) => {
                first.get_or_insert(sdk_error(&format!("ListVersionsByFunction {function}"), e));
                break;
            }
        }
    }
    for version in &published {
        if let Err(e) = lambda
            .delete_function()
            .function_name(function)
            .qualifier(version)
            .send()
            .await
        {
            first.get_or_insert(sdk_error(
                &format!("DeleteFunction {function}:{version}"),
                e,
            ));
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SweepRecord {
        SweepRecord {
            token: "5f3a".into(),
            memory_mb: 256,
            timeout_s: 30,
            event_id: "e".into(),
            at: String::new(),
        }
    }

    #[test]
    fn only_what_carries_the_token_is_the_sweeps() {
        let r = record();
        assert!(r.owns_alias(&r.alias(512)));
        assert!(!r.owns_alias("stoker-tune-5f3ab-512"), "another token");
        assert!(!r.owns_alias("stoker-tune-512"), "an older sweep's name");
        assert!(!r.owns_alias("live"));
        assert!(r.owns_version("7", &r.version_description(512)));
        assert!(!r.owns_version("1", "the owner's release"));
        assert!(!r.owns_version("3", "stoker power tuning 512 MB [sweep 5f3b]"));
        assert!(!r.owns_version("$LATEST", &r.version_description(512)));
    }
}
