//! Guarded apply and rollback.
//!
//! Apply changes `$LATEST`'s memory and timeout, publishes a version and moves the live alias
//! to it. The previous configuration is recorded in the ops table *before* anything changes
//! (`pk = OPTIMIZER#<function>`, `sk = LATEST`, and a history item per change), so a rollback
//! is always possible: it restores the recorded memory and timeout and points the alias back
//! at the version it had (or at a new version of the restored configuration).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::lambda_config::{alias_version, configure, point_alias, publish};

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

impl Applier {
    /// Applies `memory_mb`/`timeout_s` to `function` (currently `previous`).
    pub async fn apply(
        &self,
        function: &str,
        previous: (u32, u32),
        memory_mb: u32,
        timeout_s: u32,
        event_id: &str,
    ) -> Result<Change, JobError> {
        if self.ops_table.is_empty() {
            return Err(JobError::permanent(
                "no_ops_table",
                "mode apply records the previous configuration first: set STOKER_OPS_TABLE (the stack output OpsTableName)",
            ));
        }
        let mut change = Change {
            function: function.to_owned(),
            previous_memory_mb: previous.0,
            previous_timeout_s: previous.1,
            memory_mb,
            timeout_s,
            alias: self.alias.clone(),
            previous_alias_version: alias_version(&self.lambda, function, &self.alias).await?,
            version: None,
            status: "applying".into(),
            at: Utc::now().to_rfc3339(),
            event_id: event_id.to_owned(),
        };
        self.record(&change).await?;
        configure(&self.lambda, function, memory_mb, Some(timeout_s), None).await?;
        let version = publish(
            &self.lambda,
            function,
            &format!("stoker optimizer: {memory_mb} MB, {timeout_s} s"),
            None,
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
        self.record(&change).await?;
        Ok(change)
    }

    /// Undoes the last recorded change of `function`.
    pub async fn rollback(&self, function: &str) -> Result<Change, JobError> {
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
        self.record(&change).await?;
        Ok(change)
    }

    /// The last recorded change of `function`.
    pub async fn last(&self, function: &str) -> Result<Option<Change>, JobError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.ops_table)
            .key("pk", AttributeValue::S(pk(function)))
            .key("sk", AttributeValue::S("LATEST".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem (optimizer change)", e))?;
        let Some(json) = out.item().and_then(|i| i.get("change")?.as_s().ok()) else {
            return Ok(None);
        };
        serde_json::from_str(json).map(Some).map_err(|e| {
            JobError::permanent(
                "bad_record",
                format!("the recorded change of {function} is unreadable: {e}"),
            )
        })
    }

    /// Writes `change` as the function's latest and as a history item.
    async fn record(&self, change: &Change) -> Result<(), JobError> {
        let json = serde_json::to_string(change)
            .map_err(|e| JobError::permanent("serialize", e.to_string()))?;
        let expires = (Utc::now().timestamp() + 400 * 86_400).to_string();
        for sk in [
            "LATEST".to_owned(),
            format!("CHANGE#{}#{}", change.at, change.status),
        ] {
            self.ddb
                .put_item()
                .table_name(&self.ops_table)
                .item("pk", AttributeValue::S(pk(&change.function)))
                .item("sk", AttributeValue::S(sk))
                .item("change", AttributeValue::S(json.clone()))
                .item("status", AttributeValue::S(change.status.clone()))
                .item("expires_at", AttributeValue::N(expires.clone()))
                .send()
                .await
                .map_err(|e| sdk_error("PutItem (optimizer change)", e))?;
        }
        Ok(())
    }
}

fn pk(function: &str) -> String {
    format!("OPTIMIZER#{function}")
}
