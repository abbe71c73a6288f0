//! One change kept under its own sort key of a function's (or a table's) optimizer items:
//! provisioned concurrency (`sk = PROVISIONED`) and table auto scaling (`sk = AUTOSCALING`).
//! The change is JSON text in `change`; its time (`changed_at`, epoch seconds: the cooldown's
//! condition reads it) and event id stand beside it; kept 400 days.

use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::ops::items;

use crate::apply::{Applier, pk};

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "T: Serialize + DeserializeOwned")]
struct Item<T> {
    pk: String,
    sk: String,
    #[serde(with = "items::json_text")]
    change: T,
    #[serde(default)]
    changed_at: i64,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    expires_at: i64,
}

impl Applier {
    /// The change recorded under `key` (a function's name, or `table/<name>`) and `sk`.
    pub(crate) async fn last_change<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        sk: &str,
        what: &str,
    ) -> Result<Option<T>, JobError> {
        let item: Option<Item<T>> = self.item(key, sk, what).await?;
        Ok(item.map(|i| i.change))
    }

    /// Writes `change` of the pass `event_id`; with `cooldown`, only if the last one is older
    /// or is this pass's (`false` when it is not).
    pub(crate) async fn record_change<T: Serialize + DeserializeOwned + Clone>(
        &self,
        key: &str,
        sk: &str,
        change: &T,
        event_id: &str,
        cooldown: Option<Duration>,
        what: &str,
    ) -> Result<bool, JobError> {
        let now = Utc::now().timestamp();
        let item = Item {
            pk: pk(key),
            sk: sk.into(),
            change: change.clone(),
            changed_at: now,
            event_id: event_id.to_owned(),
            expires_at: now + 400 * 86_400,
        };
        self.put_cooled(&item, cooldown, event_id, what).await
    }
}
