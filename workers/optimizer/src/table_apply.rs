//! Whether a pass in mode `apply` may give a table the auto-scaling target its advice sizes
//! ([`crate::table_scaling`]): the table opted in (tagged `stoker:optimize` = `true`, not
//! `stoker:leave-alone`), is billed as provisioned, and the bound allows it. A refusal or a
//! permanent error is reported on the table (`not_applied`); the pass goes on.

use std::collections::HashMap;

use stoker_events::payload::optimize::Bounds;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::capacity::CapacityAdvice;
use crate::functions::{LEAVE_ALONE_TAG, OPT_IN_TAG, OPT_IN_VALUE};
use crate::table_scaling::ranges;
use crate::worker::Optimizer;

impl Optimizer {
    /// Applies `advice` to its table when every guardrail allows it, noting on it what came
    /// of that. A retryable error is returned (the job is retried; the apply is idempotent).
    pub async fn apply_table_advice(
        &self,
        advice: &mut CapacityAdvice,
        bounds: &Bounds,
        event_id: &str,
    ) -> Result<(), JobError> {
        match self.table_apply(advice, bounds, event_id).await {
            Ok(Ok(change)) => advice.applied = Some(change),
            Ok(Err(why)) => advice.not_applied = Some(why),
            Err(e) if !e.is_permanent() => return Err(e),
            Err(e) => {
                tracing::warn!(table = %advice.table, error = %e, "could not apply the table's capacity advice");
                advice.not_applied = Some(format!("error: {e}"));
            }
        }
        Ok(())
    }

    async fn table_apply(
        &self,
        advice: &CapacityAdvice,
        bounds: &Bounds,
        event_id: &str,
    ) -> Result<Result<crate::table_scaling::TableScaling, String>, JobError> {
        let table = &advice.table;
        let tags = table_tags(&self.ddb, &advice.arn).await?;
        if tags
            .get(LEAVE_ALONE_TAG)
            .is_some_and(|v| !v.eq_ignore_ascii_case("false"))
        {
            return Ok(Err(format!(
                "left alone: the table is tagged {LEAVE_ALONE_TAG}"
            )));
        }
        if tags.get(OPT_IN_TAG).map(String::as_str) != Some(OPT_IN_VALUE) {
            return Ok(Err(format!(
                "not changed: table {table} has not opted in to changes by the optimizer; tag it {OPT_IN_TAG}={OPT_IN_VALUE} to let a pass give it auto scaling"
            )));
        }
        if advice.billing_mode != "PROVISIONED" {
            return Ok(Err(format!(
                "billed on demand: auto scaling applies to provisioned capacity (the advice is {}; switching the billing mode is the table owner's call)",
                advice.recommended_mode.replace('_', "-")
            )));
        }
        if bounds.max_table_capacity == 0 {
            return Ok(Err("bounds.max_table_capacity is 0".into()));
        }
        if self.applier.ops_table.is_empty() {
            return Err(JobError::permanent(
                "no_ops_table",
                "mode apply records the previous auto scaling first: set STOKER_OPS_TABLE (the stack output OpsTableName)",
            ));
        }
        let ranges = match ranges(
            &advice.consumed,
            (advice.provisioned_rcu, advice.provisioned_wcu),
            bounds.max_table_capacity,
        ) {
            Ok(r) => r,
            Err(why) => return Ok(Err(why)),
        };
        let capacity = crate::table_scaling::Capacity {
            read: advice.provisioned_rcu,
            write: advice.provisioned_wcu,
        };
        self.applier
            .apply_table_scaling(
                &self.scaling,
                table,
                (ranges, capacity),
                event_id,
                self.cooldown,
            )
            .await
    }
}

/// A table's tags, every page.
async fn table_tags(
    ddb: &aws_sdk_dynamodb::Client,
    arn: &str,
) -> Result<HashMap<String, String>, JobError> {
    let mut tags = HashMap::new();
    let mut next = None;
    loop {
        let page = ddb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("ListTagsOfResource {arn}"), e))?;
        for t in page.tags() {
            tags.insert(t.key().to_owned(), t.value().to_owned());
        }
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            return Ok(tags);
        }
    }
}
