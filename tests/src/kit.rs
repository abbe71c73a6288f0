//! Resources and helpers for the worker kit's tests: a uniquely named queue + DLQ and an ops
//! table created with the key schema of `infra/template.yaml`'s OpsTable, events for the test
//! worker, and counts of its side effects.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use stoker_events::payload::warmup::{WarmupRequest, WarmupTarget};
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_kit::WorkerConfig;
use stoker_kit::ops::{OpsTable, RunRecord};

/// A queue, its DLQ and an ops table, all named for one test.
#[derive(Debug, Clone)]
pub struct KitEnv {
    pub sdk: SdkConfig,
    pub name: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub table: String,
    /// The worker's limit; the queue redrives two deliveries later, as infra/ does.
    pub max_receive_count: u32,
}

impl KitEnv {
    /// Creates the resources; `fifo` makes FIFO queues. Workers get `max_receive_count`
    /// deliveries; the queue's redrive is two later (the margin infra/ keeps).
    pub async fn create(
        sdk: &SdkConfig,
        prefix: &str,
        max_receive_count: u32,
        fifo: bool,
    ) -> anyhow::Result<KitEnv> {
        let name = crate::unique(prefix);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let suffix = if fifo { ".fifo" } else { "" };
        let mut dlq = sqs.create_queue().queue_name(format!("{name}-dlq{suffix}"));
        if fifo {
            dlq = dlq.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let dlq_url = dlq.send().await?.queue_url.context("dlq url")?;
        let dlq_arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .context("dlq arn")?;
        let redrive =
            json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count + 2 })
                .to_string();
        let mut q = sqs
            .create_queue()
            .queue_name(format!("{name}{suffix}"))
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .attributes(QueueAttributeName::VisibilityTimeout, "30");
        if fifo {
            q = q
                .attributes(QueueAttributeName::FifoQueue, "true")
                .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
        }
        let queue_url = q.send().await?.queue_url.context("queue url")?;
        let table = format!("{name}-ops");
        create_ops_table(sdk, &table).await?;
        Ok(KitEnv {
            sdk: sdk.clone(),
            name,
            queue_url,
            dlq_url,
            table,
            max_receive_count,
        })
    }

    /// The SDK config of the worker these resources are for (its calls recorded as the
    /// worker's; the harness's own calls use [`KitEnv::sdk`], never recorded).
    pub async fn worker_sdk(&self) -> SdkConfig {
        crate::worker_sdk(self.config().worker).await
    }

    /// [`KitEnv::worker_sdk`] whose requests are also counted in `count`, per service (the
    /// kit's `calls::counting` at the HTTP client every client of the config shares).
    pub async fn counted_sdk(
        &self,
        count: &std::sync::Arc<stoker_kit::calls::CallCount>,
    ) -> SdkConfig {
        stoker_kit::aws::counted_config_loader(self.config().worker, count.clone())
            .load()
            .await
    }

    /// A worker config for these resources, tuned for fast tests.
    pub fn config(&self) -> WorkerConfig {
        let mut cfg =
            WorkerConfig::new(Worker::Warmup, &self.queue_url, &self.dlq_url, &self.table);
        cfg.wait = Duration::from_secs(1);
        cfg.job_timeout = Duration::from_secs(10);
        cfg.visibility = Duration::from_secs(6);
        cfg.shutdown_grace = Duration::from_secs(5);
        cfg.retry.redelivery_base = Duration::from_secs(1);
        cfg.max_receive_count = self.max_receive_count;
        cfg
    }

    /// The environment `stoker-testworker` reads (see [`WorkerConfig::from_env`]).
    pub fn worker_env(&self) -> Vec<(String, String)> {
        let max = self.max_receive_count.to_string();
        [
            ("STOKER_MAX_RECEIVE_COUNT", max.as_str()),
            ("STOKER_QUEUE_URL", self.queue_url.as_str()),
            ("STOKER_DLQ_URL", &self.dlq_url),
            ("STOKER_OPS_TABLE", &self.table),
            ("STOKER_WAIT_SECS", "1"),
            ("STOKER_REDELIVERY_BASE_SECS", "1"),
            ("STOKER_EMF", "off"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    pub fn ops(&self) -> OpsTable {
        OpsTable::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.table)
    }

    /// Sends a raw body; returns its message id.
    pub async fn send(&self, body: &str, group: Option<&str>) -> anyhow::Result<String> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut req = sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body);
        if let Some(g) = group {
            req = req.message_group_id(g);
        }
        Ok(req.send().await?.message_id.unwrap_or_default())
    }

    /// How many times the test worker's side effect ran for an event.
    pub async fn effects(&self, event_id: &str) -> anyhow::Result<u64> {
        let item = self.item(&format!("EFFECT#{event_id}"), "EFFECT").await?;
        Ok(item
            .get("effects")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// The order in which tagged events ran (their target function names).
    pub async fn order(&self, tag: &str) -> anyhow::Result<Vec<String>> {
        let item = self.item(&format!("ORDER#{tag}"), "ORDER").await?;
        Ok(item
            .get("seq")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default())
    }

    pub async fn item(
        &self,
        pk: &str,
        sk: &str,
    ) -> anyhow::Result<HashMap<String, AttributeValue>> {
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk);
        let out = ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.unwrap_or_default())
    }

    /// The stored outcome (the worker's report) of a completed job, if it completed.
    pub async fn outcome(&self, worker: &str, event_id: &str) -> anyhow::Result<Option<Value>> {
        Ok(self.ops().stored_outcome(worker, event_id).await?)
    }

    /// Waits up to `within` for the job of `event_id` to complete and returns its report.
    pub async fn wait_outcome(&self, worker: &str, event_id: &str, within: Duration) -> Value {
        crate::poll(within, Duration::from_millis(200), || async {
            self.outcome(worker, event_id).await.ok().flatten()
        })
        .await
        .unwrap_or_else(|| panic!("the {worker} job {event_id} did not complete within {within:?}"))
    }

    /// The reasons (`stoker-reason` attribute) of the first `n` dead letters, waiting up to
    /// `within` for them.
    pub async fn dead_reasons(&self, n: usize, within: Duration) -> Vec<String> {
        let dead = self.dead_letters(n, within).await.expect("DLQ");
        assert!(
            dead.len() >= n,
            "{} dead letters within {within:?}, expected {n}",
            dead.len()
        );
        dead.iter()
            .map(|m| {
                m.message_attributes()
                    .and_then(|a| a.get(stoker_kit::dlq::ATTR_REASON))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// Receives (without deleting) until `n` dead letters with their attributes are seen.
    pub async fn dead_letters(
        &self,
        n: usize,
        within: Duration,
    ) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut dead = Vec::new();
        let deadline = crate::Deadline::after(within, Duration::from_millis(200));
        while dead.len() < n && deadline.tick().await {
            let out = sqs
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .message_attribute_names("All")
                .send()
                .await?;
            dead.extend(out.messages.unwrap_or_default());
        }
        Ok(dead)
    }

    pub async fn runs(&self, event_id: &str) -> anyhow::Result<Vec<RunRecord>> {
        Ok(self.ops().runs_of("warmup", event_id).await?)
    }

    /// Starts `bin` (the `stoker-testworker` binary: `env!("CARGO_BIN_EXE_stoker-testworker")`
    /// in an integration test) as a long-poll process with extra environment.
    pub fn spawn_worker(&self, bin: &str, extra: &[(&str, &str)]) -> anyhow::Result<WorkerProcess> {
        let mut cmd = Command::new(bin);
        cmd.envs(self.worker_env())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Ok(WorkerProcess(cmd.spawn()?))
    }

    /// Deletes the queues and the table (best effort).
    pub async fn delete(&self) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let _ = sqs.delete_queue().queue_url(&self.queue_url).send().await;
        let _ = sqs.delete_queue().queue_url(&self.dlq_url).send().await;
        let _ = aws_sdk_dynamodb::Client::new(&self.sdk)
            .delete_table()
            .table_name(&self.table)
            .send()
            .await;
    }
}

/// An envelope for the test worker: `function` names it (and orders it), `behaviour` steers it.
pub fn test_event(function: &str, behaviour: Value) -> (String, String) {
    let req = WarmupRequest {
        targets: vec![WarmupTarget {
            function: function.into(),
            qualifier: None,
            concurrency: 1,
            payload: Some(behaviour),
            schedules: vec![],
        }],
        hold_open_ms: 0,
        invocation_timeout_ms: 1000,
        tick_minutes: 5,
    };
    let env = Envelope::new(req, SOURCE_OPERATOR, "operator:test");
    (
        env.id.to_string(),
        serde_json::to_string(&env).unwrap_or_default(),
    )
}

/// A table (the ops table's key schema) holding `n` order items (`pk = ORDER#i`).
pub async fn table_with_items(sdk: &aws_config::SdkConfig, name: &str, n: usize) {
    fill_on(&aws_sdk_dynamodb::Client::new(sdk), name, n).await;
}

/// Creates table `name` through `ddb` and puts `n` items in it.
pub async fn fill_on(ddb: &aws_sdk_dynamodb::Client, name: &str, n: usize) {
    create_ops_table_on(ddb, name).await.expect("table");
    let items: Vec<WriteRequest> = (0..n)
        .map(|i| {
            let item = HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("ORDER#{i}"))),
                ("sk".to_owned(), AttributeValue::S("ORDER".into())),
                (
                    "total".to_owned(),
                    AttributeValue::N(format!("{}.5", i * 3)),
                ),
                (
                    "lines".to_owned(),
                    AttributeValue::L(vec![AttributeValue::S("soup".into())]),
                ),
            ]);
            put(item)
        })
        .collect();
    load(ddb, name, items).await.expect("BatchWriteItem");
}

/// A BatchWriteItem put of `item`.
pub fn put(item: HashMap<String, AttributeValue>) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("an item makes a put request"),
        )
        .build()
}

/// Writes `items` with BatchWriteItem, 16 calls in flight, putting unprocessed items back until
/// none are left.
pub async fn load(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<WriteRequest>,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let chunks: Vec<Vec<WriteRequest>> = items.chunks(25).map(<[WriteRequest]>::to_vec).collect();
    let mut calls = futures::stream::iter(chunks)
        .map(|mut pending: Vec<WriteRequest>| async move {
            while !pending.is_empty() {
                let out = ddb
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await?;
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(table))
                    .cloned()
                    .unwrap_or_default();
            }
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(16);
    while let Some(r) = calls.next().await {
        r?;
    }
    Ok(())
}

/// Creates a table with the OpsTable key schema and index of infra/template.yaml.
pub async fn create_ops_table(sdk: &SdkConfig, name: &str) -> anyhow::Result<()> {
    create_ops_table_on(&aws_sdk_dynamodb::Client::new(sdk), name).await
}

/// [`create_ops_table`] through a given client (e.g. one on the complement emulator).
pub async fn create_ops_table_on(ddb: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<()> {
    let t: serde_norway::Value = serde_norway::from_str(crate::TEMPLATE)?;
    let props = &t["Resources"]["OpsTable"]["Properties"];
    let s = |v: &serde_norway::Value| v.as_str().unwrap_or_default().to_owned();
    let keys = |v: &serde_norway::Value| -> Vec<KeySchemaElement> {
        v.as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(s(&k["AttributeName"]))
                    .key_type(KeyType::from(s(&k["KeyType"]).as_str()))
                    .build()
                    .ok()
            })
            .collect()
    };
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&props["KeySchema"])));
    for a in props["AttributeDefinitions"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(s(&a["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(s(&a["AttributeType"]).as_str()))
                .build()?,
        );
    }
    for g in props["GlobalSecondaryIndexes"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(s(&g["IndexName"]))
                .set_key_schema(Some(keys(&g["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        );
    }
    req.send()
        .await
        .with_context(|| format!("CreateTable {name}"))?;
    Ok(())
}

/// A worker child process, SIGKILLed if still running when dropped (a failing test leaks none).
#[derive(Debug)]
pub struct WorkerProcess(pub Child);

impl std::ops::Deref for WorkerProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for WorkerProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A completed run of `worker`'s event `event_id` (kind `kind`), just now: what a test writes
/// with a completion.
pub fn completed_run(worker: &str, event_id: &str, kind: &str) -> RunRecord {
    let now = chrono::Utc::now();
    RunRecord {
        worker: worker.into(),
        event_id: event_id.into(),
        kind: kind.into(),
        outcome: stoker_kit::ops::RunOutcome::Completed,
        attempts: 1,
        receive_count: 1,
        duration_ms: 1,
        started_at: now,
        finished_at: now,
        error_code: None,
        error: None,
        requested_by: "operator:test".into(),
        summary: None,
        cost: None,
    }
}
