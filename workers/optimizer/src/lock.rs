//! One pass per function at a time: a lock item in the ops table (`pk = OPTIMIZER#<function>`,
//! `sk = LOCK`), taken with a conditional write before a pass may change a function (sweep,
//! apply, or put back an interrupted sweep) and given back when its review ends.
//!
//! A pass killed while it holds the lock holds it until its job's deadline plus [`GRACE`]
//! (the kit stops a job at its deadline); a redelivery of the same event takes it over at once.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::ops::items;

use crate::apply::{Applier, pk};

/// How long after its holder's deadline a lock stays.
pub const GRACE: Duration = Duration::from_secs(5);
const SK: &str = "LOCK";

/// The lock as stored: `until` and `expires_at` (the table's TTL, a day later) in epoch
/// seconds.
#[derive(Debug, Serialize, Deserialize)]
struct LockItem {
    pk: String,
    sk: String,
    #[serde(default)]
    owner: String,
    /// Missing: expired (the next try takes it).
    #[serde(default)]
    until: i64,
    #[serde(default)]
    expires_at: i64,
}

/// The pass that holds a function's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The event id of the holding pass.
    pub owner: String,
    pub until: DateTime<Utc>,
}

impl Holder {
    /// What a pass that found the lock taken reports.
    pub fn report(&self, function: &str) -> String {
        format!(
            "locked: another pass (event {}) is working on {function} until {}; this pass leaves it alone",
            self.owner,
            self.until.to_rfc3339()
        )
    }
}

impl Applier {
    /// Takes `function`'s lock for the pass `owner` until `until`; `Some(holder)` when another
    /// pass holds it.
    pub async fn lock(
        &self,
        function: &str,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Holder>, JobError> {
        for _ in 0..3 {
            let now = Utc::now().timestamp();
            let item = LockItem {
                pk: pk(function),
                sk: SK.into(),
                owner: owner.to_owned(),
                until: until.timestamp(),
                expires_at: until.timestamp() + 86_400,
            };
            let put = self
                .ddb
                .put_item()
                .table_name(&self.ops_table)
                .set_item(Some(items::to_item(&item, "optimizer lock")?))
                .condition_expression(
                    "attribute_not_exists(pk) OR #until < :now OR #owner = :owner",
                )
                .expression_attribute_names("#until", "until")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(None),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    // Held; unless it was given back since, say by whom.
                    if let Some(holder) = self.holder(function).await? {
                        return Ok(Some(holder));
                    }
                }
                Err(e) => return Err(sdk_error("PutItem (optimizer lock)", e)),
            }
        }
        Err(JobError::retryable(format!(
            "the lock of {function} changed hands three times while this pass tried to take it; the pass will be retried"
        )))
    }

    /// Gives `function`'s lock back, if `owner` still holds it.
    pub async fn unlock(&self, function: &str, owner: &str) -> Result<(), JobError> {
        let out = self
            .ddb
            .delete_item()
            .table_name(&self.ops_table)
            .set_key(Some(items::key(pk(function), SK)))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("DeleteItem (optimizer lock)", e)),
        }
    }

    async fn holder(&self, function: &str) -> Result<Option<Holder>, JobError> {
        let Some(lock) = self
            .item::<LockItem>(function, SK, "optimizer lock")
            .await?
        else {
            return Ok(None);
        };
        let until = DateTime::from_timestamp(lock.until, 0).unwrap_or_default();
        if until < Utc::now() {
            return Ok(None); // expired: the next try takes it
        }
        Ok(Some(Holder {
            owner: lock.owner,
            until,
        }))
    }
}
