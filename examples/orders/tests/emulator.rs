//! The orders consumer on the emulators (LocalStack: `./localstack/up`, then
//! `eval "$(./localstack/env)"`), through both of the kit's drivers, with its own uniquely
//! named queue, DLQ, bus, ops table and orders table: nothing of stoker's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use orders_consumer::{QuarantineLayer, RecordOrder, WORKER};
use stoker_kit::ops::RunOutcome;
use stoker_kit::{WorkerConfig, dlq, lambda, poll, runtime};

struct Env {
    sdk: SdkConfig,
    name: String,
    queue: String,
    dlq: String,
    ops: String,
    orders: String,
}

async fn sdk() -> SdkConfig {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "no emulator: start LocalStack with ./localstack/up, then eval \"$(./localstack/env)\""
    );
    stoker_kit::aws::unrecorded_config_loader().load().await
}

fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("ex-{prefix}-{}", &id[..8])
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str, redrive: Option<String>) -> String {
    let mut q = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "30");
    if let Some(r) = redrive {
        q = q.attributes(QueueAttributeName::RedrivePolicy, r);
    }
    q.send()
        .await
        .expect("create queue")
        .queue_url
        .expect("url")
}

async fn arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("arn")
}

impl Env {
    async fn create(prefix: &str) -> Env {
        let sdk = sdk().await;
        let name = unique(prefix);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let dlq = queue(&sqs, &format!("{name}-dlq"), None).await;
        let redrive = format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":5}}"#,
            arn(&sqs, &dlq).await
        );
        let queue = queue(&sqs, &name, Some(redrive)).await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let ops = format!("{name}-ops");
        stoker_kit::schema::create_table(&ddb, &ops)
            .await
            .expect("ops table");
        let orders = format!("{name}-orders");
        ddb.create_table()
            .table_name(&orders)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key"),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attr"),
            )
            .send()
            .await
            .expect("orders table");
        Env {
            sdk,
            name,
            queue,
            dlq,
            ops,
            orders,
        }
    }

    fn config(&self) -> WorkerConfig {
        let mut cfg = WorkerConfig::new(WORKER, &self.queue, &self.dlq, &self.ops);
        cfg.wait = Duration::from_secs(1);
        cfg.visibility = Duration::from_secs(6);
        cfg.job_timeout = Duration::from_secs(10);
        cfg.shutdown_grace = Duration::from_secs(5);
        cfg.max_receive_count = 3;
        cfg.concurrency = 4;
        cfg.retry.redelivery_base = Duration::from_secs(1);
        cfg
    }

    fn job(&self) -> RecordOrder {
        RecordOrder::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.orders)
    }

    async fn send(&self, body: &str) {
        aws_sdk_sqs::Client::new(&self.sdk)
            .send_message()
            .queue_url(&self.queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    async fn item(&self, pk: &str) -> Option<HashMap<String, AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(&self.orders)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
    }

    /// Reads dead letters (code, reason) into `into` until it holds `n`, for at most `secs`.
    async fn dead_letters_until(&self, into: &mut Vec<(String, String)>, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while into.len() < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} dead letters: {into:?}"
            );
            self.dead_letters(into).await;
        }
    }

    /// The dead letters so far, by error code, with their reasons (deleted as read).
    async fn dead_letters(&self, into: &mut Vec<(String, String)>) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let out = sqs
            .receive_message()
            .queue_url(&self.dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive dlq");
        for m in out.messages() {
            let attr = |k: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(k))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned()
            };
            into.push((attr(dlq::ATTR_CODE), attr(dlq::ATTR_REASON)));
            if let Some(r) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(&self.dlq)
                    .receipt_handle(r)
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}

fn placed(id: &str, order: &str, customer: &str, total: u64) -> String {
    format!(
        r#"{{"id":"{id}","type":"order.placed","time":"2026-12-01T20:00:00Z","source":"checkout","correlation_id":"cart-{order}","detail":{{"order_id":"{order}","customer_id":"{customer}","total_cents":{total},"currency":"EUR","lines":1}}}}"#
    )
}

fn number(item: &HashMap<String, AttributeValue>, k: &str) -> u64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{k} missing in {item:?}"))
}

/// Polls `check` until it returns `Some` or the deadline passes.
async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_poll_driver_records_each_order_once_and_dead_letters_bad_events_with_their_reason()
 {
    let env = Env::create("poll").await;
    // With a layer of the crate's own: a quarantined order is refused before the job runs.
    let rt =
        Arc::new(runtime(env.job(), &env.sdk, env.config()).layer(QuarantineLayer::new(["o-q"])));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let poller = tokio::spawn(poll::run(rt.clone(), async {
        let _ = stopped.await;
    }));

    let a = placed("e-a1", "o-a", "c-1", 1000);
    env.send(&a).await; // the event
    env.send(&a).await; // delivered twice
    env.send(&placed("e-a2", "o-a", "c-1", 1000)).await; // the same order again, another event
    env.send(&placed("e-b1", "o-b", "c-1", 500)).await;
    env.send("{not json").await;
    env.send(&placed("e-q1", "o-q", "c-2", 700)).await; // quarantined
    env.send(r#"{"id":"e-x1","type":"order.cancelled","time":"2026-12-01T20:00:00Z","source":"checkout","detail":{"order_id":"o-a"}}"#).await;

    eventually("both orders", 60, || {
        let env = &env;
        async move {
            let both =
                env.item("ORDER#o-a").await.is_some() && env.item("ORDER#o-b").await.is_some();
            both.then_some(())
        }
    })
    .await;
    let mut dead = Vec::new();
    env.dead_letters_until(&mut dead, 3, 60).await;

    // The same order with another total, once the first is recorded: a conflict, not a second
    // order.
    env.send(&placed("e-a3", "o-a", "c-1", 2000)).await;
    env.dead_letters_until(&mut dead, 4, 60).await;
    // Everything else has settled: the duplicates replayed and were deleted.
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    eventually("an empty queue", 60, || {
        let sqs = &sqs;
        let env = &env;
        async move {
            let a = sqs
                .get_queue_attributes()
                .queue_url(&env.queue)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .ok()?;
            let n = |k| {
                a.attributes()
                    .and_then(|m| m.get(&k))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1)
            };
            (n(QueueAttributeName::ApproximateNumberOfMessages) == 0
                && n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible) == 0)
                .then_some(())
        }
    })
    .await;
    let _ = stop.send(());
    let summary = poller.await.expect("poller");

    let order = env.item("ORDER#o-a").await.expect("o-a");
    assert_eq!(number(&order, "total_cents"), 1000, "{order:?}");
    let totals = env.item("CUSTOMER#c-1").await.expect("totals");
    assert_eq!(
        (number(&totals, "orders"), number(&totals, "spent_cents")),
        (2, 1500),
        "each order counted once: {totals:?}"
    );
    let mut codes: Vec<&str> = dead.iter().map(|(c, _)| c.as_str()).collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "idempotency_conflict",
            "malformed_event",
            "quarantined",
            "wrong_kind"
        ],
        "{dead:?}"
    );
    let reason = |code: &str| &dead.iter().find(|(c, _)| c == code).expect(code).1;
    assert!(
        reason("wrong_kind").contains("the orders worker takes order.placed, not order.cancelled"),
        "{dead:?}"
    );
    assert!(
        reason("malformed_event").contains("not an orders event"),
        "{dead:?}"
    );
    assert!(
        reason("quarantined").contains("order o-q is quarantined"),
        "{dead:?}"
    );
    assert!(
        env.item("ORDER#o-q").await.is_none(),
        "a quarantined order is not recorded"
    );

    // The run records say what happened to each event.
    let ops = rt.ops.clone();
    // o-a came three times (e-a1 twice, e-a2 once) and whichever ran first committed: one
    // completed run, two replays.
    let mut runs = ops.runs_of("orders", "e-a1").await.expect("runs");
    runs.extend(ops.runs_of("orders", "e-a2").await.expect("runs"));
    let count = |o: RunOutcome| runs.iter().filter(|r| r.outcome == o).count();
    assert_eq!(
        (count(RunOutcome::Completed), count(RunOutcome::Replayed)),
        (1, 2),
        "{runs:?}"
    );
    let runs = ops.runs_of("orders", "e-b1").await.expect("runs");
    let done = runs
        .iter()
        .find(|r| r.outcome == RunOutcome::Completed)
        .expect("o-b completed");
    assert_eq!(
        done.summary.as_deref(),
        Some("order o-b of c-1 recorded (500 cents)")
    );
    assert_eq!(summary.released_at_shutdown, 0, "{}", env.name);
}

/// Receives what the queue holds, as the Lambda event source mapping would hand it over.
async fn lambda_batch(env: &Env, n: usize) -> SqsEvent {
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} received",
            records.len()
        );
        let out = sqs
            .receive_message()
            .queue_url(&env.queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        for m in out.messages() {
            let mut r = SqsMessage::default();
            r.message_id = m.message_id().map(str::to_owned);
            r.receipt_handle = m.receipt_handle().map(str::to_owned);
            r.body = m.body().map(str::to_owned);
            for (k, v) in m.attributes().into_iter().flatten() {
                r.attributes.insert(k.as_str().to_owned(), v.clone());
            }
            records.push(r);
        }
    }
    let mut batch = SqsEvent::default();
    batch.records = records;
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_driver_serves_a_batch_and_reports_no_failure_for_a_dead_letter() {
    let env = Env::create("lambda").await;
    // The crate's own layer under the Lambda driver too.
    let rt =
        Arc::new(runtime(env.job(), &env.sdk, env.config()).layer(QuarantineLayer::new(["o-q2"])));
    env.send(&placed("e-c1", "o-c", "c-2", 700)).await;
    env.send(&placed("e-d1", "o-d", "c-2", 300)).await;
    env.send(&placed("e-e1", "o-e", "c-2", 0)).await; // a zero total: refused
    env.send(&placed("e-q2", "o-q2", "c-2", 900)).await; // quarantined
    let batch = lambda_batch(&env, 4).await;
    let deadline_ms = chrono::Utc::now().timestamp_millis() + 30_000;

    let response = lambda::handle_batch(rt, batch, deadline_ms).await;

    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let totals = env.item("CUSTOMER#c-2").await.expect("totals");
    assert_eq!(
        (number(&totals, "orders"), number(&totals, "spent_cents")),
        (2, 1000)
    );
    let mut dead = Vec::new();
    env.dead_letters_until(&mut dead, 2, 30).await;
    dead.sort();
    assert_eq!(dead[0].0, "invalid_field", "{dead:?}");
    assert!(
        dead[0].1.contains("total_cents must be 1 to 100000000"),
        "{dead:?}"
    );
    assert_eq!(dead[1].0, "quarantined", "{dead:?}");
    assert!(env.item("ORDER#o-q2").await.is_none(), "not recorded");
}
