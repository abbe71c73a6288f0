//! The worker kit's long-poll driver and idempotent retry helper on real SQS and DynamoDB.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use stoker_it::counted::CountedPoller;
use stoker_it::kit::{KitEnv, test_event};
use stoker_it::testworker::TestWorker;
use stoker_it::{emulator, wait_for};
use stoker_kit::calls::CallCount;
use stoker_kit::ops::RunOutcome;
use stoker_kit::poll::PollSummary;
use stoker_kit::{WorkerConfig, runtime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The test handler (claim-first), writing its effects to `env`'s table.
fn test_worker(env: &KitEnv) -> TestWorker {
    TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&env.sdk),
        table: env.table.clone(),
    }
}

/// An in-process long-poll worker running the test handler.
struct Poller {
    stop: oneshot::Sender<()>,
    task: JoinHandle<PollSummary>,
}

impl Poller {
    async fn start(env: &KitEnv, cfg: WorkerConfig) -> Poller {
        let rt = Arc::new(runtime(test_worker(env), &env.worker_sdk().await, cfg));
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(stoker_kit::poll::run(rt, async move {
            let _ = rx.await;
        }));
        Poller { stop, task }
    }

    async fn stop(self) -> PollSummary {
        let _ = self.stop.send(());
        self.task.await.expect("poller task")
    }
}

#[tokio::test]
async fn the_same_event_delivered_5_times_to_2_pollers_runs_once_and_replays_4_times() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "dup", 5, false)
        .await
        .expect("resources");
    let (id, body) = test_event("dup", json!({ "sleep_ms": 300 }));
    for _ in 0..5 {
        env.send(&body, None).await.expect("send");
    }
    // Two messages per receive each, so neither poller can take all five copies at once.
    let mut cfg = env.config();
    cfg.concurrency = 2;
    cfg.receive_batch = 2;
    let a = Poller::start(&env, cfg.clone()).await;
    let b = Poller::start(&env, cfg).await;
    wait_for(
        "1 completed + 4 replayed runs",
        Duration::from_secs(60),
        || async {
            let runs = env.runs(&id).await.unwrap_or_default();
            runs.iter()
                .filter(|r| r.outcome == RunOutcome::Completed)
                .count()
                == 1
                && runs
                    .iter()
                    .filter(|r| r.outcome == RunOutcome::Replayed)
                    .count()
                    == 4
        },
    )
    .await;
    let (sa, sb) = (a.stop().await, b.stop().await);
    assert_eq!(
        env.effects(&id).await.unwrap(),
        1,
        "exactly one side effect"
    );
    assert!(
        sa.received > 0 && sb.received > 0,
        "both pollers took deliveries: {sa:?} {sb:?}"
    );
    let runs = env.runs(&id).await.unwrap();
    assert_eq!(runs.len(), 5, "one run record per delivery: {runs:?}");
    env.delete().await;
}

#[tokio::test]
async fn transient_failures_are_retried_in_process_within_the_caps() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "transient", 5, false)
        .await
        .expect("resources");
    let (id, body) = test_event("flaky", json!({ "fail_attempts": 2 }));
    env.send(&body, None).await.expect("send");
    let p = Poller::start(&env, env.config()).await;
    wait_for("a completed run", Duration::from_secs(30), || async {
        env.runs(&id)
            .await
            .unwrap_or_default()
            .iter()
            .any(|r| r.outcome == RunOutcome::Completed)
    })
    .await;
    p.stop().await;
    let runs = env.runs(&id).await.unwrap();
    assert_eq!(runs.len(), 1, "all within one delivery: {runs:?}");
    assert_eq!((runs[0].attempts, runs[0].receive_count), (3, 1));
    assert_eq!(env.effects(&id).await.unwrap(), 1);
    let attempt =
        env.item(&format!("EFFECT#{id}"), "EFFECT").await.unwrap()["attempts_seen"].clone();
    assert_eq!(
        attempt.as_n().unwrap(),
        "3",
        "the side effect ran on the third attempt"
    );
    // Two backoff delays, each at most its cap (100 ms, 200 ms): the whole run stays short.
    let caps: Duration = env.config().retry.caps().take(2).sum();
    assert!(
        runs[0].duration_ms < (caps + Duration::from_secs(2)).as_millis() as u64,
        "{runs:?}"
    );
}

#[tokio::test]
async fn retryable_failures_come_back_later_with_growing_delays() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "redeliver", 5, false)
        .await
        .expect("resources");
    let (id, body) = test_event("slowpoke", json!({ "fail_deliveries": 2 }));
    env.send(&body, None).await.expect("send");
    let mut cfg = env.config();
    cfg.retry.redelivery_base = Duration::from_secs(2);
    let p = Poller::start(&env, cfg).await;
    wait_for("a completed run", Duration::from_secs(40), || async {
        env.runs(&id)
            .await
            .unwrap_or_default()
            .iter()
            .any(|r| r.outcome == RunOutcome::Completed)
    })
    .await;
    p.stop().await;
    let runs = env.runs(&id).await.unwrap();
    let outcomes: Vec<(RunOutcome, u32)> =
        runs.iter().map(|r| (r.outcome, r.receive_count)).collect();
    assert_eq!(
        outcomes,
        [
            (RunOutcome::FailedRetryable, 1),
            (RunOutcome::FailedRetryable, 2),
            (RunOutcome::Completed, 3)
        ]
    );
    let gap = |i: usize| (runs[i + 1].started_at - runs[i].finished_at).num_milliseconds();
    let (first, second) = (gap(0), gap(1));
    assert!(
        first >= 1_500,
        "first redelivery after {first} ms, expected about 2 s"
    );
    assert!(
        second >= 3_500,
        "second redelivery after {second} ms, expected about 4 s"
    );
    assert!(second > first, "delays grow: {first} ms then {second} ms");
    assert_eq!(env.effects(&id).await.unwrap(), 1);
}

#[tokio::test]
async fn permanent_errors_and_malformed_bodies_go_to_the_dlq_with_reasons_and_batch_mates_run() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "poison", 5, false)
        .await
        .expect("resources");
    let (good, good_body) = test_event("good", json!({}));
    let (bad, bad_body) = test_event("bad", json!({ "permanent": true }));
    env.send(&good_body, None).await.unwrap();
    let bad_msg = env.send(&bad_body, None).await.unwrap();
    let junk_msg = env
        .send("{\"kind\": \"stoker.warmup.requested\", oops", None)
        .await
        .unwrap();
    let (good2, good2_body) = test_event("good2", json!({}));
    env.send(&good2_body, None).await.unwrap();
    let p = Poller::start(&env, env.config()).await;

    let dead = env.dead_letters(2, Duration::from_secs(30)).await.unwrap();
    assert_eq!(dead.len(), 2, "both poison messages reach the DLQ");
    let attr = |m: &aws_sdk_sqs::types::Message, k: &str| {
        m.message_attributes()
            .and_then(|a| a.get(k))
            .and_then(|v| v.string_value())
            .unwrap_or_default()
            .to_owned()
    };
    for m in &dead {
        let source = attr(m, "stoker-source-message-id");
        let (code, reason) = (attr(m, "stoker-error-code"), attr(m, "stoker-reason"));
        if source == bad_msg {
            assert_eq!(code, "bad_input");
            assert!(reason.contains("fix the event"), "{reason}");
            assert_eq!(
                m.body(),
                Some(bad_body.as_str()),
                "the original body is kept"
            );
        } else {
            assert_eq!(source, junk_msg);
            assert_eq!(code, "invalid_json");
            assert!(reason.contains("not valid JSON"), "{reason}");
        }
        assert_eq!(attr(m, "stoker-worker"), "warmup");
        assert_eq!(attr(m, "stoker-error-kind"), "permanent");
    }
    wait_for("both good jobs done", Duration::from_secs(20), || async {
        env.effects(&good).await.unwrap_or(0) == 1 && env.effects(&good2).await.unwrap_or(0) == 1
    })
    .await;
    p.stop().await;
    assert_eq!(
        env.effects(&bad).await.unwrap(),
        0,
        "the permanent failure had no side effect"
    );
    let runs = env.runs(&bad).await.unwrap();
    assert_eq!(runs.len(), 1, "tried once, never retried: {runs:?}");
    assert_eq!(runs[0].outcome, RunOutcome::FailedPermanent);
    let left = aws_sdk_sqs::Client::new(&sdk)
        .get_queue_attributes()
        .queue_url(&env.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = left.attributes().unwrap();
    for k in [
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ] {
        assert_eq!(attrs[&k], "0", "{k:?}: the source queue is empty");
    }
    env.delete().await;
}

#[tokio::test]
async fn the_last_delivery_of_a_failing_job_goes_to_the_dlq_with_its_reason() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "exhaust", 2, false)
        .await
        .expect("resources");
    let (id, body) = test_event("never", json!({ "fail_deliveries": 99 }));
    env.send(&body, None).await.unwrap();
    let mut cfg = env.config();
    cfg.max_receive_count = 2;
    let p = Poller::start(&env, cfg).await;
    let dead = env.dead_letters(1, Duration::from_secs(30)).await.unwrap();
    p.stop().await;
    let dead = dead.first().expect("in the DLQ");
    let code = dead
        .message_attributes()
        .and_then(|a| a.get("stoker-error-code"))
        .and_then(|v| v.string_value());
    assert_eq!(code, Some("retries_exhausted"));
    let kind = dead
        .message_attributes()
        .and_then(|a| a.get("stoker-error-kind"))
        .and_then(|v| v.string_value());
    assert_eq!(kind, Some("retryable"));
    let runs = env.runs(&id).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs.iter()
            .all(|r| r.outcome == RunOutcome::FailedRetryable)
    );
    env.delete().await;
}

#[tokio::test]
async fn fifo_groups_keep_their_order_when_a_message_fails() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "fifo", 5, true)
        .await
        .expect("resources");
    let tag_a = format!("{}-a", env.name);
    let tag_b = format!("{}-b", env.name);
    for (f, extra) in [
        ("a1", json!({})),
        ("a2", json!({ "fail_deliveries": 1 })),
        ("a3", json!({})),
    ] {
        let mut b = extra;
        b["tag"] = tag_a.clone().into();
        env.send(&test_event(f, b).1, Some("A")).await.unwrap();
    }
    for f in ["b1", "b2"] {
        env.send(&test_event(f, json!({ "tag": tag_b })).1, Some("B"))
            .await
            .unwrap();
    }
    let p = Poller::start(&env, env.config()).await;
    wait_for("all five processed", Duration::from_secs(40), || async {
        env.order(&tag_a).await.unwrap_or_default().len() == 3
            && env.order(&tag_b).await.unwrap_or_default().len() == 2
    })
    .await;
    p.stop().await;
    assert_eq!(
        env.order(&tag_a).await.unwrap(),
        ["a1", "a2", "a3"],
        "a3 waited for the retried a2"
    );
    assert_eq!(env.order(&tag_b).await.unwrap(), ["b1", "b2"]);
    env.delete().await;
}

#[tokio::test]
async fn reusing_an_event_id_with_a_different_payload_is_a_permanent_conflict() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "conflict", 5, false)
        .await
        .expect("resources");
    let (id, first) = test_event("original", json!({}));
    let mut second: serde_json::Value = serde_json::from_str(&first).unwrap();
    second["payload"]["targets"][0]["function"] = "changed".into(); // same id, other payload
    env.send(&first, None).await.unwrap();
    let p = Poller::start(&env, env.config()).await;
    wait_for("the first job done", Duration::from_secs(20), || async {
        env.effects(&id).await.unwrap_or(0) == 1
    })
    .await;
    env.send(&second.to_string(), None).await.unwrap();
    let dead = env.dead_letters(1, Duration::from_secs(20)).await.unwrap();
    p.stop().await;
    let code = dead
        .first()
        .and_then(|m| m.message_attributes())
        .and_then(|a| a.get("stoker-error-code"))
        .and_then(|v| v.string_value());
    assert_eq!(code, Some("idempotency_conflict"));
    assert_eq!(
        env.effects(&id).await.unwrap(),
        1,
        "the conflicting copy had no side effect"
    );
    env.delete().await;
}

#[tokio::test]
async fn a_staged_side_effect_commits_once_with_the_completion_where_a_direct_one_repeats() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "staged", 5, false)
        .await
        .expect("resources");
    // Both fail their first two attempts after the side effect, then succeed.
    let (direct, body_d) = test_event("direct", json!({ "fail_after_effect": 2 }));
    let (staged, body_s) = test_event("staged", json!({ "fail_after_effect": 2, "stage": true }));
    env.send(&body_d, None).await.expect("send");
    env.send(&body_s, None).await.expect("send");
    let p = Poller::start(&env, env.config()).await;
    wait_for("both completed", Duration::from_secs(30), || async {
        let mut done = 0;
        for id in [&direct, &staged] {
            done += usize::from(
                env.runs(id)
                    .await
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r.outcome == RunOutcome::Completed),
            );
        }
        done == 2
    })
    .await;
    p.stop().await;
    assert_eq!(
        env.effects(&direct).await.unwrap(),
        3,
        "written by every attempt"
    );
    assert_eq!(env.effects(&staged).await.unwrap(), 1, "committed once");
    let attempt = env
        .item(&format!("EFFECT#{staged}"), "EFFECT")
        .await
        .unwrap()["attempts_seen"]
        .clone();
    assert_eq!(
        attempt.as_n().unwrap(),
        "3",
        "the successful attempt's write"
    );
}

#[tokio::test]
async fn a_retried_completion_never_commits_staged_writes_twice() {
    use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
    use stoker_kit::ops::{Claim, Completion};

    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "recomplete", 5, false)
        .await
        .expect("resources");
    let ops = env.ops();
    let Claim::Acquired { claim_id } = ops
        .claim("warmup", "k-1", "hash", "e-1", Duration::from_secs(60))
        .await
        .expect("claim")
    else {
        panic!("a fresh key is claimed");
    };
    let effect = TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(&env.table)
                .key("pk", AttributeValue::S("EFFECT#e-1".into()))
                .key("sk", AttributeValue::S("EFFECT".into()))
                .update_expression("ADD effects :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build()
                .expect("update"),
        )
        .build();
    let run = stoker_it::kit::completed_run("warmup", "e-1", "stoker.warmup.requested");
    let first = ops
        .complete(
            "warmup",
            "k-1",
            &claim_id,
            &json!({}),
            &run,
            std::slice::from_ref(&effect),
        )
        .await
        .expect("complete");
    // As if the first answer had been lost: the same completion again.
    let second = ops
        .complete("warmup", "k-1", &claim_id, &json!({}), &run, &[effect])
        .await
        .expect("complete again");
    // The resend finds its own first send committed: committed, and the staged write once.
    assert_eq!(
        (first, second),
        (Completion::Committed, Completion::Committed)
    );
    assert_eq!(env.effects("e-1").await.unwrap(), 1);
}

/// 30 events that behave as told, through a counted poller at concurrency 1 until all are
/// done: their environment, the events, the calls made and the poller's summary.
async fn thirty_at_concurrency_1(
    name: &str,
    behaviour: serde_json::Value,
) -> (KitEnv, Vec<(String, String)>, Arc<CallCount>, PollSummary) {
    thirty_at_concurrency_1_with(name, behaviour, |_| {}).await
}

/// [`thirty_at_concurrency_1`] with the worker's configuration changed by `tweak`.
async fn thirty_at_concurrency_1_with(
    name: &str,
    behaviour: serde_json::Value,
    tweak: impl FnOnce(&mut stoker_kit::WorkerConfig),
) -> (KitEnv, Vec<(String, String)>, Arc<CallCount>, PollSummary) {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, name, 5, false)
        .await
        .expect("resources");
    let events = env.send_events(name, 30, behaviour).await;
    let mut cfg = env.config();
    cfg.concurrency = 1;
    tweak(&mut cfg);
    let poller = CountedPoller::start(&env, test_worker(&env), cfg).await;
    wait_for("30 jobs done", Duration::from_secs(90), || {
        env.all_done(&events)
    })
    .await;
    let count = poller.count.clone();
    let summary = poller.stop().await;
    (env, events, count, summary)
}

/// Issue #18: at concurrency 1 the poller still receives 10 messages per call, keeps the ones
/// waiting for their turn invisible, and deletes in batches: 30 events cost fewer SQS calls
/// than events (one receive and one delete per message before: 60 and more), and none is
/// delivered twice.
#[tokio::test]
async fn at_concurrency_1_the_poller_receives_and_deletes_ten_messages_per_call() {
    let (env, events, count, summary) = thirty_at_concurrency_1("batch", json!({})).await;
    let sqs = count.of("sqs");
    println!(
        "30 events at concurrency 1: {sqs} SQS calls ({:.2} per event)",
        sqs as f64 / 30.0
    );
    assert_eq!(
        summary.received, 30,
        "each message received once: {summary:?}"
    );
    // Before: one receive per event at concurrency 1, then its delete: 60 and more.
    assert!(
        sqs < 30,
        "{sqs} SQS calls for 30 events: fewer than one per event expected"
    );
    for (id, _) in &events {
        let runs = env.runs(id).await.expect("runs");
        assert_eq!(runs.len(), 1, "{id} delivered once: {runs:?}");
    }
    env.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_running_together_share_their_claim_and_completion_transactions() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "txbatch", 5, false)
        .await
        .expect("resources");
    let events = env.send_events("t", 30, json!({ "stage": true })).await;
    // Two more deliveries of the first event (LocalStack hands them out last, not in the
    // first event's batch: ops::batch keeps two requests of one key apart anyway).
    env.send(&events[0].1, None).await.expect("send");
    env.send(&events[0].1, None).await.expect("send");
    let mut cfg = env.config();
    cfg.concurrency = 10;
    let poller = CountedPoller::start(&env, test_worker(&env), cfg).await;
    wait_for(
        "30 jobs done and both duplicates replayed",
        Duration::from_secs(90),
        || async {
            let replays = env
                .runs(&events[0].0)
                .await
                .unwrap_or_default()
                .iter()
                .filter(|r| r.outcome == RunOutcome::Replayed)
                .count();
            env.all_done(&events).await && replays == 2
        },
    )
    .await;
    let count = poller.count.clone();
    poller.stop().await;
    let ddb = count.of("dynamodb");
    println!(
        "32 deliveries of 30 events at concurrency 10: {ddb} ops-table calls ({:.2} per event)",
        ddb as f64 / 30.0
    );
    for (id, _) in &events {
        assert_eq!(env.effects(id).await.expect("effects"), 1, "{id} once");
        let runs = env.runs(id).await.expect("runs");
        let completed = runs
            .iter()
            .filter(|r| r.outcome == RunOutcome::Completed)
            .count();
        assert_eq!(completed, 1, "{id} completed once: {runs:?}");
    }
    // One claim and one completion call per job before (2.0 per event, 2 more per replay).
    assert!(
        ddb as f64 / 30.0 <= 1.0,
        "{ddb} ops-table calls for 30 events: claims and completions should share transactions"
    );
    env.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_concurrency_1_a_receive_is_claimed_in_one_transaction_and_completions_share_theirs() {
    let (env, events, count, summary) =
        thirty_at_concurrency_1("c1claims", json!({ "stage": true })).await;
    let ddb = count.of("dynamodb");
    println!(
        "30 events at concurrency 1, claim-first: {ddb} ops-table calls ({:.2} per event)",
        ddb as f64 / 30.0
    );
    assert_eq!(summary.received, 30, "each received once: {summary:?}");
    for (id, _) in &events {
        assert_eq!(env.effects(id).await.expect("effects"), 1, "{id} once");
        let runs = env.runs(id).await.expect("runs");
        assert_eq!(runs.len(), 1, "{id} ran and completed once: {runs:?}");
        assert_eq!(runs[0].outcome, RunOutcome::Completed, "{id}: {runs:?}");
    }
    // Before: a claim, then a completion, per job (2.00 per event).
    assert!(
        ddb as f64 / 30.0 <= 0.6,
        "{ddb} ops-table calls for 30 events at concurrency 1"
    );
    env.delete().await;
}

/// Issue #18: retries change their messages' visibility in batches too. 30 events that each
/// fail once at concurrency 1: before, one `ChangeMessageVisibility` per retry (30 of them,
/// besides the receives and deletes); now 10 to a `ChangeMessageVisibilityBatch`.
#[tokio::test]
async fn retries_set_their_visibility_in_batches() {
    let (env, events, count, _) =
        thirty_at_concurrency_1_with("retrybatch", json!({ "fail_deliveries": 1 }), |cfg| {
            cfg.retry.redelivery_base = Duration::from_secs(1);
        })
        .await;
    let sqs = count.of("sqs");
    println!("30 events failing once at concurrency 1: {sqs} SQS calls");
    assert!(
        sqs < 30,
        "{sqs} SQS calls for 30 retries and 30 completions: one visibility change per retry?"
    );
    for (id, _) in &events {
        assert_eq!(env.effects(id).await.expect("effects"), 1, "{id}");
    }
    env.delete().await;
}

/// Issue #18: the next receive (and its claims) goes out while the jobs of the receive before
/// still run, so a claim-first poller at concurrency 10 does not wait for a handler to finish
/// before it asks for more work. 20 jobs that each sleep 6 s: all 20 messages are held (10
/// running, 10 claimed and waiting for a slot) before any handler has written its effect.
/// Before, the second receive waited for a slot: a first handler had finished (and written its
/// effect) before the 11th message was received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_receive_goes_out_while_the_jobs_before_it_run() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "prefetch", 5, false)
        .await
        .expect("resources");
    let events = env.send_events("p", 20, json!({ "sleep_ms": 6000 })).await;
    let mut cfg = env.config();
    cfg.concurrency = 10;
    cfg.receive_batch = 10;
    let poller = Poller::start(&env, cfg).await;
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let in_flight = || async {
        sqs.get_queue_attributes()
            .queue_url(&env.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.attributes()?
                    .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0)
    };
    wait_for("all 20 messages held", Duration::from_secs(30), || async {
        in_flight().await == 20
    })
    .await;
    let mut done = 0;
    for (id, _) in &events {
        done += env.effects(id).await.expect("effects");
    }
    assert_eq!(
        done, 0,
        "20 messages were held only after {done} handler(s) had finished: the second receive waited for a slot"
    );
    wait_for("20 jobs done", Duration::from_secs(60), || {
        env.all_done(&events)
    })
    .await;
    let summary = poller.stop().await;
    assert_eq!(summary.received, 20, "each received once: {summary:?}");
    for (id, _) in &events {
        assert_eq!(env.runs(id).await.expect("runs").len(), 1, "{id} ran once");
    }
    env.delete().await;
}
