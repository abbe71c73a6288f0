//! Applying the provisioned-concurrency advice (`mode: apply` with `provisioned_concurrency`),
//! opted in per function like every change, with the apply's guardrails: a bound
//! (`bounds.max_provisioned_concurrency`), the cooldown, a record first and a rollback.
//!
//! The count is set on the alias an apply moves (`live`), never on `$LATEST` (Lambda refuses
//! it there). The previous count (none, or a number) is recorded in the ops table *before*
//! the change (`pk = OPTIMIZER#<function>`, `sk = PROVISIONED`), with a conditional write that
//! is also the cooldown; [`Applier::rollback_provisioned`] puts the previous count back (or
//! removes the configuration when there was none).

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::apply::Applier;

const SK: &str = "PROVISIONED";
/// How long a rollback holds the function's lock at most.
const ROLLBACK_LOCK: Duration = Duration::from_secs(120);

/// One change of a function's provisioned concurrency, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedChange {
    pub function: String,
    pub alias: String,
    /// The count before (none: no configuration).
    pub previous: Option<u32>,
    pub provisioned: u32,
    /// `applying`, `applied` or `rolled_back`.
    pub status: String,
    pub at: String,
    pub event_id: String,
}

impl Applier {
    /// Sets `n` provisioned instances on the alias of `function` unless its last such change
    /// is younger than `cooldown`; `Err(why)` in `Ok` when a guardrail said no.
    pub async fn apply_provisioned(
        &self,
        function: &str,
        n: u32,
        event_id: &str,
        cooldown: Duration,
    ) -> Result<Result<ProvisionedChange, String>, JobError> {
        let qualified = format!("{function}:{}", self.alias);
        if crate::lambda_config::alias_version(&self.lambda, function, &self.alias)
            .await?
            .is_none()
        {
            return Ok(Err(format!(
                "no alias {qualified}: provisioned concurrency is set on an alias, not on $LATEST"
            )));
        }
        let last = self.last_provisioned(function).await?;
        let previous = match last.filter(|l| l.event_id == event_id) {
            // A retry of this very pass: its change is made, or its record holds the count
            // from before it (what a rollback must put back, not the pass's own).
            Some(l) if l.status == "applied" => return Ok(Ok(l)),
            Some(l) if l.status == "rolled_back" => {
                return Ok(Err(format!(
                    "rolled back since this pass set it (stoker rollback {function} --provisioned-concurrency): a retry of the pass does not set it again"
                )));
            }
            Some(l) => l.previous,
            None => {
                let now = self.provisioned_now(function).await?;
                if let Some(have) = now.filter(|have| *have >= n) {
                    // It never lowers a count: fewer warm instances is the operator's call.
                    return Ok(Err(format!(
                        "{qualified} already has {have} provisioned (the advice, bounded, is {n}); it is left as it is"
                    )));
                }
                now
            }
        };
        let mut change = ProvisionedChange {
            function: function.to_owned(),
            alias: self.alias.clone(),
            previous,
            provisioned: n,
            status: "applying".into(),
            at: Utc::now().to_rfc3339(),
            event_id: event_id.to_owned(),
        };
        if !self.record_provisioned(&change, Some(cooldown)).await? {
            return Ok(Err(format!(
                "its provisioned concurrency changed less than {} h ago",
                cooldown.as_secs() / 3600
            )));
        }
        self.lambda
            .put_provisioned_concurrency_config()
            .function_name(function)
            .qualifier(&self.alias)
            .provisioned_concurrent_executions(n as i32)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("PutProvisionedConcurrencyConfig {qualified}"), e))?;
        change.status = "applied".into();
        self.record_provisioned(&change, None).await?;
        Ok(Ok(change))
    }

    /// Puts back the count the last recorded change replaced, holding the function's lock (a
    /// pass that holds it is not interleaved with).
    pub async fn rollback_provisioned(
        &self,
        function: &str,
    ) -> Result<ProvisionedChange, JobError> {
        let owner = format!("rollback {}", Utc::now().to_rfc3339());
        let until = Utc::now() + ROLLBACK_LOCK + crate::lock::GRACE;
        if let Some(holder) = self.lock(function, &owner, until).await? {
            return Err(JobError::permanent("locked", holder.report(function)));
        }
        let done = self.rollback_provisioned_locked(function).await;
        self.unlock(function, &owner).await?;
        done
    }

    async fn rollback_provisioned_locked(
        &self,
        function: &str,
    ) -> Result<ProvisionedChange, JobError> {
        let Some(mut change) = self.last_provisioned(function).await? else {
            return Err(JobError::permanent(
                "nothing_to_roll_back",
                format!("no provisioned-concurrency change of {function} is recorded"),
            ));
        };
        if change.status == "rolled_back" {
            return Err(JobError::permanent(
                "already_rolled_back",
                format!(
                    "the last provisioned-concurrency change of {function} is already rolled back"
                ),
            ));
        }
        let qualified = format!("{function}:{}", change.alias);
        match change.previous {
            Some(p) => {
                self.lambda
                    .put_provisioned_concurrency_config()
                    .function_name(function)
                    .qualifier(&change.alias)
                    .provisioned_concurrent_executions(p as i32)
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(&format!("PutProvisionedConcurrencyConfig {qualified}"), e)
                    })?;
            }
            None => {
                self.lambda
                    .delete_provisioned_concurrency_config()
                    .function_name(function)
                    .qualifier(&change.alias)
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(
                            &format!("DeleteProvisionedConcurrencyConfig {qualified}"),
                            e,
                        )
                    })?;
            }
        }
        change.status = "rolled_back".into();
        change.at = Utc::now().to_rfc3339();
        self.record_provisioned(&change, None).await?;
        Ok(change)
    }

    /// The count requested on the alias now (`None`: no configuration).
    pub async fn provisioned_now(&self, function: &str) -> Result<Option<u32>, JobError> {
        match self
            .lambda
            .get_provisioned_concurrency_config()
            .function_name(function)
            .qualifier(&self.alias)
            .send()
            .await
        {
            Ok(c) => Ok(c
                .requested_provisioned_concurrent_executions()
                .map(|n| n.max(0) as u32)),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_provisioned_concurrency_config_not_found_exception()
                        || s.is_resource_not_found_exception()
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(
                &format!("GetProvisionedConcurrencyConfig {function}:{}", self.alias),
                e,
            )),
        }
    }

    /// The last recorded provisioned-concurrency change of `function`.
    pub async fn last_provisioned(
        &self,
        function: &str,
    ) -> Result<Option<ProvisionedChange>, JobError> {
        self.last_change(function, SK, "provisioned change").await
    }

    /// Writes `change`; with `cooldown`, only if the last one is older or is this pass's.
    async fn record_provisioned(
        &self,
        change: &ProvisionedChange,
        cooldown: Option<Duration>,
    ) -> Result<bool, JobError> {
        let (f, event) = (&change.function, &change.event_id);
        self.record_change(f, SK, change, event, cooldown, "provisioned change")
            .await
    }
}
