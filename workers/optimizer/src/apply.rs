//! Guarded apply and rollback.
//!
//! Apply changes `$LATEST`'s memory and timeout, publishes a version and moves the live alias
//! to it. The previous configuration is recorded in the ops table *before* anything changes
//! (`pk = OPTIMIZER#<function>`, `sk = LATEST`, and a history item per change), so a rollback
//! is always possible: it restores the recorded memory and timeout and points the alias back
//! at the version it had (or at a new version of the restored configuration).
//!
//! The cooldown is a conditional write: the first record of an apply is refused while the
//! last change of the function is younger than the cooldown (unless it is this very pass's).
//! The update passes the RevisionId the pass read, so a function changed since is left alone.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::ops::items;

use crate::functions::FunctionInfo;
use crate::lambda_config::{alias_version, configure, point_alias, publish};
use crate::lock::GRACE;

/// The alias an apply moves, unless `STOKER_OPTIMIZER_ALIAS` names another.
pub const DEFAULT_ALIAS: &str = "live";

/// One applied change, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub function: String,
    pub previous_memory_mb: u32,
    pub previous_timeout_s: u32,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub alias: String,
    /// The version the alias pointed at before (none: the apply created the alias).
    pub previous_alias_version: Option<String>,
    /// The version published with the new configuration.
    pub version: Option<String>,
    /// `applying`, `applied` or `rolled_back`.
    pub status: String,
    pub at: String,
    pub event_id: String,
}

/// Where changes are recorded and which alias they move.
#[derive(Debug, Clone)]
pub struct Applier {
    pub lambda: aws_sdk_lambda::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub ops_table: String,
    pub alias: String,
}

/// What became of an apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The change is made.
    Changed(Change),
    /// Refused: the function's last change (as recorded) is within the cooldown.
    Cooling(Option<Change>),
}

impl Applier {
    /// Applies `memory_mb`/`timeout_s` to `f` (as the pass read it, RevisionId included),
    /// unless its last change is younger than `cooldown`.
    pub async fn apply(
        &self,
        f: &FunctionInfo,
        memory_mb: u32,
        timeout_s: u32,
        event_id: &str,
        cooldown: Duration,
    ) -> Result<Applied, JobError> {
        if self.ops_table.is_empty() {
            return Err(JobError::permanent(
                "no_ops_table",
                "mode apply records the previous configuration first: set STOKER_OPS_TABLE (the stack output OpsTableName)",
            ));
        }
        let function = f.name.as_str();
        let mut change = Change {
            function: function.to_owned(),
            previous_memory_mb: f.memory_mb,
            previous_timeout_s: f.timeout_s,
            memory_mb,
            timeout_s,
            alias: self.alias.clone(),
            previous_alias_version: alias_version(&self.lambda, function, &self.alias).await?,
            version: None,
            status: "applying".into(),
            at: Utc::now().to_rfc3339(),
            event_id: event_id.to_owned(),
        };
        if !self.record(&change, Some(cooldown)).await? {
            return Ok(Applied::Cooling(self.last(function).await?));
        }
        let revision = configure(
            &self.lambda,
            function,
            memory_mb,
            Some(timeout_s),
            Some(&f.revision),
        )
        .await?;
        let version = publish(
            &self.lambda,
            function,
            &format!(
                "{} {memory_mb} MB, {timeout_s} s",
                crate::prune::DESCRIPTION_PREFIX
            ),
            Some(&revision),
        )
        .await?
        .version;
        point_alias(
            &self.lambda,
            function,
            &self.alias,
            &version,
            "stoker optimizer: the applied configuration",
        )
        .await?;
        change.version = Some(version);
        change.status = "applied".into();
        self.record(&change, None).await?;
        Ok(Applied::Changed(change))
    }

    /// Undoes the last recorded change of `function`.
    pub async fn rollback(&self, function: &str) -> Result<Change, JobError> {
        let owner = format!("rollback {}", Utc::now().to_rfc3339());
        let until = Utc::now() + ROLLBACK_LOCK + GRACE;
        if let Some(holder) = self.lock(function, &owner, until).await? {
            return Err(JobError::permanent("locked", holder.report(function)));
        }
        let done = self.rollback_locked(function).await;
        self.unlock(function, &owner).await?;
        done
    }

    /// [`Applier::rollback`] by a caller that holds the function's lock (a pass).
    pub(crate) async fn rollback_locked(&self, function: &str) -> Result<Change, JobError> {
        let Some(mut change) = self.last(function).await? else {
            return Err(JobError::permanent(
                "nothing_to_roll_back",
                format!(
                    "no change of {function} is recorded in {}: there is nothing to roll back",
                    self.ops_table
                ),
            ));
        };
        if change.status == "rolled_back" {
            return Err(JobError::permanent(
                "already_rolled_back",
                format!(
                    "the last change of {function} ({} MB -> {} MB at {}) is already rolled back",
                    change.previous_memory_mb, change.memory_mb, change.at
                ),
            ));
        }
        configure(
            &self.lambda,
            function,
            change.previous_memory_mb,
            Some(change.previous_timeout_s),
            None,
        )
        .await?;
        let target = match &change.previous_alias_version {
            Some(v) => v.clone(),
            None => {
                publish(&self.lambda, function, "stoker optimizer: rollback", None)
                    .await?
                    .version
            }
        };
        point_alias(
            &self.lambda,
            function,
            &change.alias,
            &target,
            "stoker optimizer: rolled back",
        )
        .await?;
        change.status = "rolled_back".into();
        change.at = Utc::now().to_rfc3339();
        self.record(&change, None).await?;
        Ok(change)
    }

    /// The last recorded change of `function`.
    pub async fn last(&self, function: &str) -> Result<Option<Change>, JobError> {
        let item: Option<ChangeItem> = self.item(function, LATEST, "optimizer change").await?;
        Ok(item.map(|c| c.change))
    }

    /// The optimizer's item `sk` of `function` (`what` names it in errors), read consistently.
    pub(crate) async fn item<T: serde::de::DeserializeOwned>(
        &self,
        function: &str,
        sk: &str,
        what: &str,
    ) -> Result<Option<T>, JobError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.ops_table)
            .set_key(Some(items::key(pk(function), sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetItem ({what})"), e))?;
        out.item.map(|i| items::from_item(i, what)).transpose()
    }

    /// Writes `change` as the function's latest and as a history item. With `cooldown`, the
    /// latest is written only if the last change is older than that or is this pass's own;
    /// `false` when it is not.
    async fn record(&self, change: &Change, cooldown: Option<Duration>) -> Result<bool, JobError> {
        let expires_at = Utc::now().timestamp() + 400 * 86_400;
        let changed_at = DateTime::parse_from_rfc3339(&change.at)
            .map(|t| t.timestamp())
            .unwrap_or_else(|_| Utc::now().timestamp());
        for sk in [
            LATEST.to_owned(),
            format!("CHANGE#{}#{}", change.at, change.status),
        ] {
            let latest = sk == LATEST;
            let item = ChangeItem {
                pk: pk(&change.function),
                sk,
                change: change.clone(),
                status: change.status.clone(),
                changed_at,
                event_id: change.event_id.clone(),
                expires_at,
            };
            let cooldown = cooldown.filter(|_| latest);
            let event = &change.event_id;
            if !self
                .put_cooled(&item, cooldown, event, "optimizer change")
                .await?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes the optimizer's item `item` (`what` names it in errors); with `cooldown`, only
    /// if the item there is older than that (`changed_at`) or is `event`'s own: `false` when
    /// it is not. The conditional write is the cooldown, not only a read before it.
    pub(crate) async fn put_cooled<T: Serialize>(
        &self,
        item: &T,
        cooldown: Option<Duration>,
        event: &str,
        what: &str,
    ) -> Result<bool, JobError> {
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.ops_table)
            .set_item(Some(items::to_item(item, what)?));
        if let Some(cooldown) = cooldown {
            let cutoff = Utc::now().timestamp() - cooldown.as_secs() as i64;
            put = put
                .condition_expression(
                    "attribute_not_exists(pk) OR attribute_not_exists(changed_at) OR changed_at <= :cutoff OR event_id = :event",
                )
                .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string()))
                .expression_attribute_values(":event", AttributeValue::S(event.to_owned()));
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(&format!("PutItem ({what})"), e)),
        }
    }
}

/// A change as stored, under `sk = LATEST` (the function's last) and `sk =
/// CHANGE#<at>#<status>` (its history): the [`Change`] as JSON text in `change`, with its
/// status, time (`changed_at`, epoch seconds: the cooldown's condition reads it) and event id
/// beside it; kept 400 days.
#[derive(Debug, Serialize, Deserialize)]
struct ChangeItem {
    pk: String,
    sk: String,
    #[serde(with = "items::json_text")]
    change: Change,
    // The rest is beside the change for the cooldown's condition; a reader needs only the change.
    #[serde(default)]
    status: String,
    #[serde(default)]
    changed_at: i64,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    expires_at: i64,
}

/// The sort key of a function's last change.
const LATEST: &str = "LATEST";

/// How long a rollback holds the function's lock at most.
const ROLLBACK_LOCK: Duration = Duration::from_secs(300);

/// The ops table's partition of `function`'s optimizer items.
pub(crate) fn pk(function: &str) -> String {
    format!("OPTIMIZER#{function}")
}
