//! The smoke version of `./scripts/bench-peer`: a few events through stoker's driver (its own
//! process) and through the Powertools peer, each on its own queue and table. This checks
//! correctness, not speed: every event is done exactly once and the figures are reported.

use std::process::Command;

use stoker_it::bench::{effects, fill, run_json};
use stoker_it::kit::KitEnv;
use stoker_it::{emulator, workspace_bin};

const EVENTS: usize = 30;

/// The `pk`s of `env`'s table that start with `prefix`.
async fn keys(env: &KitEnv, prefix: &str) -> Vec<String> {
    aws_sdk_dynamodb::Client::new(&env.sdk)
        .scan()
        .table_name(&env.table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()),
        )
        .send()
        .await
        .expect("Scan")
        .items()
        .iter()
        .filter_map(|i| i.get("pk")?.as_s().ok().cloned())
        .collect()
}

#[tokio::test]
async fn stoker_and_the_powertools_peer_each_do_every_event_once() {
    let sdk = emulator().await;
    let python = std::env::var("STOKER_PEER_PYTHON")
        .expect("STOKER_PEER_PYTHON is not set: run ./scripts/test (it installs the peer with ./scripts/peer-venv)");

    let env = KitEnv::create(&sdk, "smoke-stoker", 5, false)
        .await
        .expect("resources");
    fill(&env, EVENTS).await.expect("fill");
    let mut cmd = Command::new(workspace_bin("peer-stoker"));
    cmd.envs(env.worker_env())
        .env("STOKER_CONCURRENCY", "4")
        .env("STOKER_BENCH_EVENTS", EVENTS.to_string());
    let s = run_json(cmd).expect("stoker's peer runs");
    assert_eq!(s["events"], EVENTS, "{s}");
    // The handler's own write per event, and the kit's claims and completions shared by the
    // jobs running together: more than one call per event, fewer than three.
    let ddb = s["dynamodb_calls"].as_u64().unwrap_or(0);
    assert!((EVENTS as u64 + 1..3 * EVENTS as u64).contains(&ddb), "{s}");
    assert_eq!(
        effects(&env).await.expect("effects"),
        (EVENTS as u64, EVENTS as u64),
        "every event done, none twice"
    );
    env.delete().await;

    let env = KitEnv::create(&sdk, "smoke-pt", 5, false)
        .await
        .expect("resources");
    fill(&env, EVENTS).await.expect("fill");
    let mut cmd = Command::new(&python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/peers/powertools/peer.py"
    ))
    .env("QUEUE_URL", &env.queue_url)
    .env("TABLE", &env.table)
    .env("BENCH_EVENTS", EVENTS.to_string());
    let p = run_json(cmd).expect("the Powertools peer runs");
    assert_eq!(p["events"], EVENTS, "{p}");
    assert!(p["cpu_seconds"].as_f64().unwrap_or(0.0) > 0.0, "{p}");
    assert_eq!(
        effects(&env).await.expect("effects"),
        (EVENTS as u64, EVENTS as u64),
        "every event done, none twice"
    );
    // Powertools' idempotency records sit in the same table design (pk/sk).
    let records = keys(&env, "idempotency#").await;
    assert_eq!(records.len(), EVENTS, "one idempotency record per event");
    env.delete().await;
}
