//! The worker binary as a process: SIGTERM mid-batch loses and duplicates nothing; a worker
//! SIGKILLed after claiming is taken over once its claim expires, with one side effect.

use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use stoker_it::kit::{KitEnv, test_event};
use stoker_it::{Deadline, emulator};
use stoker_kit::ops::RunOutcome;

const WORKER: &str = env!("CARGO_BIN_EXE_stoker-testworker");

async fn claim_status(env: &KitEnv, event_id: &str) -> Option<String> {
    let item = env
        .item(&format!("IDEM#warmup#{event_id}"), "IDEM")
        .await
        .ok()?;
    item.get("status").and_then(|s| s.as_s().ok()).cloned()
}

async fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Deadline::after(within, Duration::from_millis(100));
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            deadline.tick().await,
            "worker did not exit within {within:?}"
        );
    }
}

#[tokio::test]
async fn sigterm_mid_batch_releases_in_flight_jobs_and_loses_nothing() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "sigterm", 5, false)
        .await
        .expect("resources");
    let events: Vec<(String, String)> = (0..5)
        .map(|i| test_event(&format!("slow{i}"), json!({ "sleep_ms": 4000 })))
        .collect();
    for (_, body) in &events {
        env.send(body, None).await.unwrap();
    }
    // Three jobs at a time that take 4 s, and only 1 s to finish after SIGTERM: they must be released.
    let mut first = env
        .spawn_worker(
            WORKER,
            &[
                ("STOKER_CONCURRENCY", "3"),
                ("STOKER_SHUTDOWN_GRACE_SECS", "1"),
            ],
        )
        .unwrap();
    let deadline = Deadline::after(Duration::from_secs(20), Duration::from_millis(100));
    loop {
        let mut claimed = 0;
        for (id, _) in &events {
            claimed += usize::from(claim_status(&env, id).await.as_deref() == Some("INPROGRESS"));
        }
        // Three run; the other two of the receive are claimed too, waiting for a slot.
        if claimed >= 3 {
            break;
        }
        assert!(deadline.tick().await, "the worker never claimed 3 jobs");
    }
    let signalled = Instant::now();
    kill(Pid::from_raw(first.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_exit(&mut first, Duration::from_secs(15)).await;
    assert!(status.success(), "graceful exit: {status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "it did not wait for the 4 s jobs: {:?}",
        signalled.elapsed()
    );
    for (id, _) in &events {
        assert_eq!(
            env.effects(id).await.unwrap(),
            0,
            "no job finished before the release"
        );
        assert_eq!(
            claim_status(&env, id).await,
            None,
            "claims (of running and of waiting jobs) were released, not left to expire"
        );
    }

    // A second worker finds every message at once (released with visibility 0) and finishes them.
    let started = Instant::now();
    let mut second = env
        .spawn_worker(WORKER, &[("STOKER_CONCURRENCY", "5")])
        .unwrap();
    let deadline = Deadline::after(Duration::from_secs(40), Duration::from_millis(200));
    loop {
        let mut done = 0;
        for (id, _) in &events {
            done += usize::from(env.effects(id).await.unwrap() == 1);
        }
        if done == events.len() {
            break;
        }
        assert!(
            deadline.tick().await,
            "only {done} of {} jobs were done after the restart",
            events.len()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "released messages were not available at once"
    );
    kill(Pid::from_raw(second.id() as i32), Signal::SIGTERM).unwrap();
    wait_exit(&mut second, Duration::from_secs(15)).await;
    for (id, _) in &events {
        assert_eq!(
            env.effects(id).await.unwrap(),
            1,
            "{id}: exactly one side effect"
        );
    }
    env.delete().await;
}

#[tokio::test]
async fn sigterm_lets_short_in_flight_jobs_finish() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "drain", 5, false)
        .await
        .expect("resources");
    let (id, body) = test_event("short", json!({ "sleep_ms": 1500 }));
    env.send(&body, None).await.unwrap();
    let mut worker = env
        .spawn_worker(WORKER, &[("STOKER_SHUTDOWN_GRACE_SECS", "10")])
        .unwrap();
    let deadline = Deadline::after(Duration::from_secs(20), Duration::from_millis(50));
    while claim_status(&env, &id).await.as_deref() != Some("INPROGRESS") {
        assert!(deadline.tick().await, "never claimed");
    }
    kill(Pid::from_raw(worker.id() as i32), Signal::SIGTERM).unwrap();
    assert!(
        wait_exit(&mut worker, Duration::from_secs(15))
            .await
            .success()
    );
    assert_eq!(
        env.effects(&id).await.unwrap(),
        1,
        "the in-flight job finished during the grace period"
    );
    assert_eq!(claim_status(&env, &id).await.as_deref(), Some("COMPLETED"));
    env.delete().await;
}

#[tokio::test]
async fn a_worker_killed_after_claiming_is_taken_over_when_the_claim_expires() {
    let sdk = emulator().await;
    let env = KitEnv::create(&sdk, "sigkill", 5, false)
        .await
        .expect("resources");
    let (id, body) = test_event("victim", json!({ "sleep_ms": 1500 }));
    env.send(&body, None).await.unwrap();
    // Job budget 2 s (claim valid 2 s + 5 s), visibility 3 s: after a crash the message is back
    // within 3 s and the claim is free within 7 s.
    let settings = [
        ("STOKER_JOB_TIMEOUT_SECS", "2"),
        ("STOKER_VISIBILITY_SECS", "3"),
    ];
    let mut first = env.spawn_worker(WORKER, &settings).unwrap();
    let deadline = Deadline::after(Duration::from_secs(20), Duration::from_millis(20));
    while claim_status(&env, &id).await.as_deref() != Some("INPROGRESS") {
        assert!(deadline.tick().await, "never claimed");
    }
    first.kill().unwrap(); // SIGKILL, mid-job, before its side effect
    first.wait().unwrap();
    assert_eq!(env.effects(&id).await.unwrap(), 0);

    let mut second = env.spawn_worker(WORKER, &settings).unwrap();
    let deadline = Deadline::after(Duration::from_secs(40), Duration::from_millis(200));
    let completed = |runs: &[stoker_kit::ops::RunRecord]| {
        runs.iter().any(|r| r.outcome == RunOutcome::Completed)
    };
    while !completed(&env.runs(&id).await.unwrap()) {
        assert!(deadline.tick().await, "the job was never taken over");
    }
    let runs = env.runs(&id).await.unwrap();
    let done: Vec<_> = runs
        .iter()
        .filter(|r| r.outcome == RunOutcome::Completed)
        .collect();
    assert_eq!(done.len(), 1, "{runs:?}");
    assert!(
        done[0].receive_count >= 2,
        "completed on a redelivery: {runs:?}"
    );
    kill(Pid::from_raw(second.id() as i32), Signal::SIGTERM).unwrap();
    wait_exit(&mut second, Duration::from_secs(15)).await;
    assert_eq!(env.effects(&id).await.unwrap(), 1, "one side effect");
    env.delete().await;
}
