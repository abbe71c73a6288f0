//! The Lambda driver: real SQS records in, `batchItemFailures` out — through a real Lambda
//! Runtime API (the worker binary as `bootstrap` on ministack's Lambda) and, for FIFO groups,
//! through the driver's batch function directly.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde_json::{Value, json};
use stoker_it::kit::{KitEnv, test_event};
use stoker_it::lambda::{deploy_function, emulator_function_env, invoke_once};
use stoker_it::testworker::TestWorker;
use stoker_it::{emulator, receive_all};

const WORKER: &str = env!("CARGO_BIN_EXE_stoker-testworker");

/// Receives the queue's messages (real receipt handles and attributes) and shapes them as the
/// SQS event source delivers them to a function.
async fn sqs_event(env: &KitEnv, expected: usize) -> (Value, Vec<Message>) {
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let mut msgs = Vec::new();
    while msgs.len() < expected {
        let out = sqs
            .receive_message()
            .queue_url(&env.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        msgs.extend(out.messages.unwrap_or_default());
    }
    let records: Vec<Value> = msgs
        .iter()
        .map(|m| {
            let attrs: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone()))).collect())
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": attrs, "messageAttributes": {}, "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:test", "awsRegion": "us-east-1"
            })
        })
        .collect();
    (json!({ "Records": records }), msgs)
}

fn failures(response: &Value) -> BTreeSet<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_worker_binary_as_a_lambda_reports_only_its_failed_records() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "lambda", 5, false)
        .await
        .expect("resources");
    let (good, good_body) = test_event("good", json!({}));
    let (_, permanent_body) = test_event("permanent", json!({ "permanent": true }));
    let (_, retry_body) = test_event("retry", json!({ "fail_deliveries": 1 }));
    let (_, panic_body) = test_event("panic", json!({ "panic": true }));
    let good_id = env.send(&good_body, None).await.unwrap();
    let junk_id = env.send("not json at all", None).await.unwrap();
    let permanent_id = env.send(&permanent_body, None).await.unwrap();
    let retry_id = env.send(&retry_body, None).await.unwrap();
    let panic_id = env.send(&panic_body, None).await.unwrap();
    let (event, _) = sqs_event(&env, 5).await;

    // The real worker binary behind a real Lambda Runtime API (ministack runs it as a process).
    let name = env.name.clone();
    let binary = std::fs::read(WORKER).expect("worker binary");
    let mut vars = env.worker_env();
    vars.extend(emulator_function_env());
    deploy_function(&sdk, &name, &binary, &vars)
        .await
        .expect("CreateFunction");
    let response = invoke_once(&sdk, &name, &event).await;

    assert_eq!(
        failures(&response),
        BTreeSet::from([retry_id, panic_id]),
        "{response}"
    );
    assert_eq!(env.effects(&good).await.unwrap(), 1, "the good record ran");
    let dead: BTreeSet<String> = receive_all(&aws_sdk_sqs::Client::new(&sdk), &env.dlq_url, 2)
        .await
        .unwrap()
        .iter()
        .map(|m| m.body().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        dead,
        BTreeSet::from(["not json at all".to_owned(), permanent_body]),
        "poison records are in the DLQ"
    );
    let _ = (good_id, junk_id, permanent_id);
    env.delete().await;
}

#[tokio::test]
async fn a_failure_in_a_fifo_group_fails_the_rest_of_that_group_only() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "lfifo", 5, true)
        .await
        .expect("resources");
    let mut ids = Vec::new();
    for (f, group, behaviour) in [
        ("g1", "G", json!({})),
        ("g2", "G", json!({ "fail_deliveries": 1 })),
        ("g3", "G", json!({})),
        ("h1", "H", json!({})),
    ] {
        let (event_id, body) = test_event(f, behaviour);
        let message_id = env.send(&body, Some(group)).await.unwrap();
        ids.push((f, event_id, message_id));
    }
    let (event, _) = sqs_event(&env, 4).await;
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(event).expect("SQS event shape");
    let handler = TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&sdk),
        table: env.table.clone(),
    };
    let rt = Arc::new(stoker_kit::runtime(
        handler,
        &env.worker_sdk().await,
        env.config(),
    ));
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let response = stoker_kit::lambda::handle_batch(rt, batch, deadline).await;
    let failed: BTreeSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    let id = |f: &str| ids.iter().find(|(n, ..)| *n == f).expect("known").clone();
    assert_eq!(
        failed,
        BTreeSet::from([id("g2").2, id("g3").2]),
        "g2 failed and g3 was not tried"
    );
    for (f, effects) in [("g1", 1), ("g2", 0), ("g3", 0), ("h1", 1)] {
        assert_eq!(env.effects(&id(f).1).await.unwrap(), effects, "{f}");
    }
    env.delete().await;
}
