//! Sending packed `PutMetricData` calls exactly once in effect: a checkpoint in the ops table
//! counts the calls already made for an event, so a retried job skips them instead of counting
//! its measurements twice.

use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::ops::items::{self, Item};

use crate::pack::Datum;

/// Where the checkpoints live and how to reach CloudWatch.
#[derive(Debug, Clone)]
pub struct Sender {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub table: String,
}

/// What publishing cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Sent {
    pub calls: usize,
    /// Calls a previous attempt had already made (skipped).
    pub skipped: usize,
    pub datums: usize,
    pub bytes: usize,
}

impl Sender {
    /// Sends `calls` into `namespace`, skipping those the checkpoint `key` says were sent.
    pub async fn send(
        &self,
        key: &str,
        namespace: &str,
        calls: &[Vec<Datum>],
    ) -> Result<Sent, JobError> {
        let done = self.checkpoint(key).await?.min(calls.len());
        let mut sent = Sent {
            skipped: done,
            ..Sent::default()
        };
        for (i, call) in calls.iter().enumerate().skip(done) {
            self.put(namespace, call).await?;
            self.advance(key, i + 1).await?;
            sent.calls += 1;
            sent.datums += call.len();
            sent.bytes += call.iter().map(Datum::wire_size).sum::<usize>();
        }
        Ok(sent)
    }

    /// One PutMetricData; the SDK retries it ([`stoker_kit::aws::sdk_retry_config`]), nothing
    /// else does in this delivery (the checkpoint makes a redelivery resume here).
    async fn put(&self, namespace: &str, call: &[Datum]) -> Result<(), JobError> {
        let data: Vec<_> = call.iter().map(Datum::to_sdk).collect();
        self.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("PutMetricData", e))
    }

    fn key(key: &str) -> Item {
        items::key(format!("ROLLUP#{key}"), "PUBLISHED")
    }

    async fn checkpoint(&self, key: &str) -> Result<usize, JobError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem (rollup checkpoint)", e))?;
        Ok(match out.item {
            Some(i) => items::from_item::<Checkpoint>(i, "rollup checkpoint")?.calls_done,
            None => 0,
        })
    }

    async fn advance(&self, key: &str, calls_done: usize) -> Result<(), JobError> {
        let item = Checkpoint {
            pk: format!("ROLLUP#{key}"),
            sk: "PUBLISHED".into(),
            calls_done,
            expires_at: chrono::Utc::now().timestamp() + 7 * 86_400,
        };
        items::put(&self.ddb, &self.table, &item, "rollup checkpoint").await
    }
}

/// How many PutMetricData calls of an event's rollup are done: `pk = ROLLUP#<key>`,
/// `sk = PUBLISHED`; kept a week.
#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    pk: String,
    sk: String,
    #[serde(default)]
    calls_done: usize,
    #[serde(default)]
    expires_at: i64,
}
