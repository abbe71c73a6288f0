//! Optimistic mode (`Idempotency::Optimistic`): no claim, the staged effect commits with the
//! completion once; duplicates that ran alongside replay; a changed payload is a conflict.

use std::time::Duration;

use serde_json::json;
use stoker_it::counted::CountedPoller;
use stoker_it::kit::KitEnv;
use stoker_it::testworker::{Optimistic, TestWorker};
use stoker_it::{emulator, wait_for};
use stoker_kit::ops::RunOutcome;

/// The test handler in optimistic mode, writing its effects to `env`'s table.
fn optimistic(env: &KitEnv) -> Optimistic {
    Optimistic(TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&env.sdk),
        table: env.table.clone(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_jobs_commit_once_without_a_claim_and_their_duplicates_replay() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "optimistic", 5, false)
        .await
        .expect("resources");
    let events = env.send_events("o", 30, json!({ "stage": true })).await;
    env.send(&events[0].1, None).await.expect("send");
    env.send(&events[0].1, None).await.expect("send");
    let mut cfg = env.config();
    cfg.concurrency = 10;
    let poller = CountedPoller::start(&env, optimistic(&env), cfg).await;
    wait_for(
        "30 jobs committed and both duplicates replayed",
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

    // A changed payload under a completed event's id: refused for good, no second effect.
    let mut changed: serde_json::Value = serde_json::from_str(&events[1].1).expect("json");
    changed["payload"]["targets"][0]["function"] = "changed".into();
    env.send(&changed.to_string(), None).await.expect("send");
    let dead = env
        .dead_letters(1, Duration::from_secs(30))
        .await
        .expect("dlq");
    let count = poller.count.clone();
    poller.stop().await;

    let ddb = count.of("dynamodb");
    println!(
        "33 deliveries of 31 events at concurrency 10, optimistic: {ddb} ops-table calls ({:.2} per event)",
        ddb as f64 / 31.0
    );
    let code = dead
        .first()
        .and_then(|m| m.message_attributes())
        .and_then(|a| a.get("stoker-error-code"))
        .and_then(|v| v.string_value());
    assert_eq!(code, Some("idempotency_conflict"));
    for (id, _) in &events {
        assert_eq!(env.effects(id).await.expect("effects"), 1, "{id} once");
        let runs = env.runs(id).await.expect("runs");
        let completed = runs
            .iter()
            .filter(|r| r.outcome == RunOutcome::Completed)
            .count();
        assert_eq!(completed, 1, "{id} completed once: {runs:?}");
    }
    let claims = env.ops().stored_outcome("warmup", &events[5].0).await;
    assert!(
        matches!(claims, Ok(Some(_))),
        "the completion stores the outcome for replays: {claims:?}"
    );
    // Claim-first makes a claim and a completion per job (2 per event unbatched, 0.33 batched in
    // kit_poll); optimistic only the completion, shared. The two replays and the conflict
    // cost 2 calls each (the claim read after the refused commit, their run record).
    assert!(
        ddb as f64 / 31.0 <= 0.6,
        "{ddb} ops-table calls for 31 events"
    );
    env.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_concurrency_1_optimistic_commits_go_out_together_while_the_next_handler_runs() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "optimistic-c1", 5, false)
        .await
        .expect("resources");
    let events = env.send_events("p", 30, json!({ "stage": true })).await;
    let mut cfg = env.config();
    cfg.concurrency = 1;
    let poller = CountedPoller::start(&env, optimistic(&env), cfg).await;
    wait_for("30 jobs committed", Duration::from_secs(90), || {
        env.all_done(&events)
    })
    .await;
    let count = poller.count.clone();
    poller.stop().await;
    let ddb = count.of("dynamodb");
    println!(
        "30 events at concurrency 1, optimistic: {ddb} ops-table calls ({:.2} per event)",
        ddb as f64 / 30.0
    );
    for (id, _) in &events {
        let runs = env.runs(id).await.expect("runs");
        assert_eq!(runs.len(), 1, "{id} ran and committed once: {runs:?}");
    }
    // Holding the slot through the commit, one job at a time made one commit per event.
    assert!(
        ddb as f64 / 30.0 <= 0.5,
        "{ddb} ops-table calls for 30 events at concurrency 1"
    );
    env.delete().await;
}
