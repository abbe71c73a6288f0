//! The kit never loses or doubles work around its idempotency claim (issue #16, part 1): a
//! completion that did not commit is not a completion, a claim never expires under a running
//! job, a lost claim stops the job, a message missing its delivery facts is dead-lettered with
//! the reason instead of being processed with invented values.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde_json::json;
use stoker_events::{Event, Worker};
use stoker_it::emulator;
use stoker_it::kit::{KitEnv, test_event};
use stoker_kit::calls::CallCount;
use stoker_kit::ops::RunOutcome;
use stoker_kit::process::{Delivered, Disposition, Runtime};
use stoker_kit::{JobCtx, JobError, Outcome, handler_fn, runtime};
use tokio::sync::watch;

fn delivered<'a>(body: &'a str, message_id: &'a str) -> Delivered<'a> {
    Delivered {
        message_id,
        body,
        receive_count: 1,
        sent_at: None,
    }
}

/// Overwrites the claim of `event_id` with another worker's live claim (a takeover).
async fn take_over(env: &KitEnv, event_id: &str) {
    aws_sdk_dynamodb::Client::new(&env.sdk)
        .update_item()
        .table_name(&env.table)
        .key("pk", AttributeValue::S(format!("IDEM#warmup#{event_id}")))
        .key("sk", AttributeValue::S("IDEM".into()))
        .update_expression("SET claim_id = :other, claim_expires_ms = :later")
        .expression_attribute_values(":other", AttributeValue::S("someone-else".into()))
        .expression_attribute_values(
            ":later",
            AttributeValue::N((chrono::Utc::now().timestamp_millis() + 600_000).to_string()),
        )
        .send()
        .await
        .expect("take the claim over");
}

fn never() -> watch::Receiver<bool> {
    watch::channel(false).1
}

/// A runtime whose outcome events go to the default bus, and the count of its calls.
async fn with_bus<H: stoker_kit::Handler>(
    env: &KitEnv,
    handler: H,
) -> (Runtime<H>, Arc<CallCount>) {
    let mut cfg = env.config();
    cfg.bus = Some("default".into());
    let count = Arc::new(CallCount::default());
    (runtime(handler, &env.counted_sdk(&count).await, cfg), count)
}

#[tokio::test]
async fn a_completion_refused_by_a_staged_condition_is_not_a_completion() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "refused", 5, false)
        .await
        .expect("resources");
    let table = env.table.clone();
    let handler = handler_fn(Worker::Warmup, move |event: Event, ctx: JobCtx| {
        let table = table.clone();
        async move {
            // A staged write whose own condition fails: the completion is cancelled.
            let put = Put::builder()
                .table_name(&table)
                .item("pk", AttributeValue::S(format!("EFFECT#{}", event.meta.id)))
                .item("sk", AttributeValue::S("EFFECT".into()))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(|e| JobError::permanent("put", e.to_string()))?;
            ctx.stage(TransactWriteItem::builder().put(put).build());
            Ok::<Outcome, JobError>(json!({}))
        }
    });
    let (rt, count) = with_bus(&env, handler).await;
    let (id, body) = test_event("refused", json!({}));
    let d = rt
        .process(&delivered(&body, "m-1"), Duration::from_secs(10), &never())
        .await;
    assert!(
        matches!(d, Disposition::Retry { .. }),
        "left for redelivery, not deleted: {d:?}"
    );
    assert_eq!(
        count.of("events"),
        0,
        "no stoker.job.completed was published"
    );
    let runs = env.runs(&id).await.expect("runs");
    assert!(
        runs.iter().all(|r| r.outcome != RunOutcome::Completed),
        "no completed run recorded: {runs:?}"
    );
    assert!(
        env.item(&format!("IDEM#warmup#{id}"), "IDEM")
            .await
            .expect("claim")
            .is_empty(),
        "the claim was released so the redelivery can run the job again"
    );
    env.delete().await;
}

#[tokio::test]
async fn a_job_whose_claim_was_taken_over_is_not_completed_by_it() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "takeover", 5, false)
        .await
        .expect("resources");
    let env2 = env.clone();
    let handler = handler_fn(Worker::Warmup, move |event: Event, _ctx: JobCtx| {
        let env = env2.clone();
        async move {
            take_over(&env, &event.meta.id.to_string()).await;
            Ok::<Outcome, JobError>(json!({}))
        }
    });
    let (rt, count) = with_bus(&env, handler).await;
    let (id, body) = test_event("takeover", json!({}));
    let d = rt
        .process(&delivered(&body, "m-2"), Duration::from_secs(10), &never())
        .await;
    assert!(matches!(d, Disposition::Retry { .. }), "not done: {d:?}");
    assert_eq!(count.of("events"), 0, "nothing published");
    let claim = env
        .item(&format!("IDEM#warmup#{id}"), "IDEM")
        .await
        .expect("claim");
    assert_eq!(
        claim["claim_id"].as_s().ok().map(String::as_str),
        Some("someone-else"),
        "the other worker's claim is left alone"
    );
    assert_eq!(
        claim["status"].as_s().ok().map(String::as_str),
        Some("INPROGRESS")
    );
    env.delete().await;
}

/// A handler that blocks its thread (CPU-bound work ignores the job's timeout) for longer
/// than its claim's first expiry: the lease keeps the claim, so a second delivery of the same
/// message meanwhile finds it busy instead of running the job a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_never_expires_under_a_running_job() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "lease", 5, false)
        .await
        .expect("resources");
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let handler = handler_fn(Worker::Warmup, move |_event: Event, _ctx: JobCtx| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(9)); // past the 1 s budget + 5 s grace
            Ok::<Outcome, JobError>(json!({}))
        }
    });
    // The blocked thread stalls the runtime's timers (tokio), a batch's linger too: the second
    // delivery's claim must go out while the job runs, so no linger here.
    let mut cfg = env.config();
    cfg.batch_linger = Duration::ZERO;
    let rt = Arc::new(runtime(handler, &env.worker_sdk().await, cfg));
    let (id, body) = test_event("lease", json!({}));
    let first = {
        let (rt, body) = (rt.clone(), body.clone());
        tokio::spawn(async move {
            rt.process(&delivered(&body, "m-3"), Duration::from_secs(1), &never())
                .await
        })
    };
    // The claim's first expiry is 1 s + 5 s away; look again after it.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let second = rt
        .process(&delivered(&body, "m-3"), Duration::from_secs(1), &never())
        .await;
    assert!(
        matches!(second, Disposition::Retry { .. }),
        "the second delivery found the job busy: {second:?}"
    );
    assert_eq!(first.await.expect("first"), Disposition::Done);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the job ran once");
    let done: Vec<_> = env
        .runs(&id)
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.outcome == RunOutcome::Completed)
        .collect();
    assert_eq!(done.len(), 1);
    env.delete().await;
}

#[tokio::test]
async fn a_job_that_loses_its_claim_stops_before_finishing() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "lost", 5, false)
        .await
        .expect("resources");
    let finished = Arc::new(AtomicU32::new(0));
    let counted = finished.clone();
    let handler = handler_fn(Worker::Warmup, move |_event: Event, _ctx: JobCtx| {
        let counted = counted.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(12)).await;
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<Outcome, JobError>(json!({}))
        }
    });
    let rt = Arc::new(runtime(handler, &env.worker_sdk().await, env.config()));
    let (id, body) = test_event("lost", json!({}));
    let started = Instant::now();
    let job = {
        let (rt, body) = (rt.clone(), body.clone());
        tokio::spawn(async move {
            rt.process(&delivered(&body, "m-4"), Duration::from_secs(13), &never())
                .await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    take_over(&env, &id).await;
    let d = job.await.expect("job");
    assert!(matches!(d, Disposition::Retry { .. }), "not done: {d:?}");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the handler was stopped"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped at the lease's next heartbeat (every 6 s), not after the 12 s job: {:?}",
        started.elapsed()
    );
    env.delete().await;
}

#[tokio::test]
async fn a_record_without_message_id_or_receive_count_is_dead_lettered_not_run() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "nofacts", 5, false)
        .await
        .expect("resources");
    let handler = stoker_it::testworker::TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&sdk),
        table: env.table.clone(),
    };
    let rt = Arc::new(runtime(handler, &env.worker_sdk().await, env.config()));
    let (no_id, body1) = test_event("no-id", json!({}));
    let (no_count, body2) = test_event("no-count", json!({}));
    let mut a = SqsMessage::default();
    a.body = Some(body1);
    a.attributes
        .insert("ApproximateReceiveCount".into(), "1".into());
    let mut b = SqsMessage::default();
    b.message_id = Some("m-5".into());
    b.body = Some(body2);
    let mut batch = SqsEvent::default();
    batch.records = vec![a, b];
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let response = stoker_kit::lambda::handle_batch(rt, batch, deadline).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "both are in the DLQ: {:?}",
        response.batch_item_failures
    );
    for id in [&no_id, &no_count] {
        assert_eq!(env.effects(id).await.unwrap(), 0, "{id} was not run");
    }
    let dead = env
        .dead_letters(2, Duration::from_secs(10))
        .await
        .expect("DLQ");
    let mut codes: Vec<String> = dead
        .iter()
        .filter_map(|m| {
            m.message_attributes()?
                .get(stoker_kit::dlq::ATTR_CODE)?
                .string_value()
                .map(str::to_owned)
        })
        .collect();
    codes.sort();
    assert_eq!(codes, ["missing_message_id", "missing_receive_count"]);
    env.delete().await;
}

/// A job that times out stops writing its progress: the reporter is tied to the job's future.
#[tokio::test]
async fn progress_reporting_stops_when_its_job_times_out() {
    use stoker_kit::progress::{self, Progress};
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "progress", 5, false)
        .await
        .expect("resources");
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let work = Arc::new(Progress::default());
    work.phase("exporting", 1_000);
    // The work counter keeps moving after the job is given up (as a blocking task would).
    let ticker = {
        let work = work.clone();
        tokio::spawn(async move {
            loop {
                work.add(1);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let job = {
        let (ddb, table, work) = (ddb.clone(), env.table.clone(), work.clone());
        async move {
            let _reporter = progress::report(
                ddb,
                table,
                "backup",
                "e-progress".into(),
                work,
                Duration::from_millis(100),
            );
            std::future::pending::<()>().await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(1), job)
            .await
            .is_err(),
        "the job timed out"
    );
    let done = || async {
        progress::read(&ddb, &env.table, "backup", "e-progress")
            .await
            .map(|(_, done, _)| done)
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // a write in flight lands
    let at_timeout = done()
        .await
        .expect("progress was written while the job ran");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        done().await,
        Some(at_timeout),
        "no progress written after the job ended"
    );
    ticker.abort();
    env.delete().await;
}

/// A message delivered past the worker's limit (its worker crashed or lost its answer at the
/// last delivery; the queue redrives two deliveries later) is dead-lettered with a reason by
/// the kit, not run, and not left for SQS to move without one.
#[tokio::test]
async fn a_delivery_past_the_limit_is_dead_lettered_with_its_reason_not_run() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "limit", 3, false)
        .await
        .expect("resources");
    let handler = stoker_it::testworker::TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&sdk),
        table: env.table.clone(),
    };
    let rt = runtime(handler, &env.worker_sdk().await, env.config());
    let (id, body) = test_event("limit", json!({}));
    let mut msg = delivered(&body, "m-limit");
    msg.receive_count = 4;
    let d = rt.process(&msg, Duration::from_secs(10), &never()).await;
    match d {
        Disposition::Dead { code, reason } => {
            assert_eq!(code, stoker_kit::process::DELIVERY_LIMIT);
            assert!(reason.contains("delivered 4 times"), "{reason}");
        }
        other => panic!("dead-lettered, not {other:?}"),
    }
    assert_eq!(env.effects(&id).await.unwrap(), 0, "not run");
    assert!(
        env.item(&format!("IDEM#warmup#{id}"), "IDEM")
            .await
            .expect("claim")
            .is_empty(),
        "its claim was released"
    );
    env.delete().await;
}

/// A claim held by another worker is not a failure: the message comes back when the claim
/// would expire, even at the worker's last delivery, instead of being dead-lettered while the
/// job is running.
#[tokio::test]
async fn a_busy_claim_waits_for_its_expiry_even_at_the_last_delivery() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "busy", 3, false)
        .await
        .expect("resources");
    let handler = stoker_it::testworker::TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&sdk),
        table: env.table.clone(),
    };
    let rt = runtime(handler, &env.worker_sdk().await, env.config());
    let (id, body) = test_event("busy", json!({}));
    // Another worker holds the claim for 10 minutes (a long backup, its lease alive).
    let event = stoker_events::decode(&body, &stoker_events::Delivery::default()).expect("event");
    let held = env
        .ops()
        .claim(
            "warmup",
            &id,
            &stoker_kit::JobEvent::payload_hash(&event),
            &id,
            Duration::from_secs(600),
        )
        .await
        .expect("claim");
    assert!(matches!(held, stoker_kit::ops::Claim::Acquired { .. }));
    let mut msg = delivered(&body, "m-busy");
    msg.receive_count = 3; // the worker's last delivery
    match rt.process(&msg, Duration::from_secs(10), &never()).await {
        Disposition::Retry { delay } => assert!(
            delay > Duration::from_secs(590),
            "looks again when the claim would expire: {delay:?}"
        ),
        other => panic!("left for later, not {other:?}"),
    }
    assert_eq!(env.effects(&id).await.unwrap(), 0);
    env.delete().await;
}

/// The outcome-event layer: a job that completed, or failed for good, is announced once; one
/// left for redelivery is not (its redelivery decides).
#[tokio::test]
async fn outcome_events_go_out_for_completed_and_failed_for_good_jobs_only() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "announce", 5, false)
        .await
        .expect("resources");
    let handler = handler_fn(Worker::Warmup, |event: Event, _ctx: JobCtx| async move {
        let stoker_events::Body::Warmup(req) = &event.body else {
            return Err(JobError::permanent("wrong_kind", "warm-up only"));
        };
        match req.targets[0].function.as_str() {
            "retry" => Err(JobError::retryable("try again later")),
            "bad" => Err(JobError::permanent("bad_input", "never")),
            _ => Ok::<Outcome, JobError>(json!({ "ok": true })),
        }
    });
    let (rt, count) = with_bus(&env, handler).await;
    let last = env.config().max_receive_count;
    // (behaviour, delivery, PutEvents calls so far)
    let cases = [
        ("ok", 1, 1),
        ("retry", 1, 1),
        ("bad", 1, 2),
        ("retry", last, 3),
    ];
    for (function, receive_count, announced) in cases {
        let (_, body) = test_event(function, json!({}));
        let msg = Delivered {
            receive_count,
            ..delivered(&body, "m-announce")
        };
        let d = rt.process(&msg, Duration::from_secs(10), &never()).await;
        assert_eq!(
            count.of("events"),
            announced,
            "{function} at delivery {receive_count} ({d:?}): {announced} events so far"
        );
    }
    env.delete().await;
}
