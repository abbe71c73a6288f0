//! Secrets stay secret: the cache-warmer binary, given Redis URLs with passwords and source
//! URLs with tokens in their query (and credentials, which the decoder refuses), is driven
//! into every error path (unreachable Redis, wrong password, a bad URL at start, 5xx source,
//! unreachable source, refused host); none of the secrets appears in its stdout/stderr, the ops table, the DLQ's
//! reasons or the outcome events.

use crate::cache_support;

use std::time::Duration;

use aws_sdk_eventbridge::types::Target;
use serde_json::{Value, json};
use stoker_cache_warmer::redact;
use stoker_events::payload::cache::CacheWarmRequest;
use stoker_events::{Envelope, SOURCE_OPERATOR, SOURCE_WORKER};
use stoker_it::http::TestServer;
use stoker_it::kit::KitEnv;
use stoker_it::{emulator, receive_all, unique};

use cache_support::{LoggedWorker, PrivateRedis};

const TOKEN: &str = "t0kenS3cretQ";
const USERINFO_PW: &str = "uS3cretInfo";
const RIGHT_PW: &str = "rightS3cretPw";
const WRONG_PW: &str = "wrongS3cretPw";
const UNREACHABLE_PW: &str = "unreachS3cretPw";
const BAD_URL_PW: &str = "badUrlS3cretPw";

/// A bus whose worker events land on a queue the test reads; returns (bus, queue URL).
async fn outcome_queue(sdk: &aws_config::SdkConfig) -> (String, String) {
    let name = unique("cacheout");
    let eb = aws_sdk_eventbridge::Client::new(sdk);
    eb.create_event_bus().name(&name).send().await.expect("bus");
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue");
    let arn = format!("arn:aws:sqs:us-east-1:000000000000:{name}");
    eb.put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(json!({ "source": [SOURCE_WORKER] }).to_string())
        .send()
        .await
        .expect("rule");
    eb.put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(Target::builder().id("q").arn(arn).build().expect("target"))
        .send()
        .await
        .expect("target");
    (name, queue.queue_url.expect("url"))
}

fn request(v: Value) -> CacheWarmRequest {
    serde_json::from_value(v).expect("a valid request")
}

async fn send(env: &KitEnv, targets: Value) -> String {
    let event = Envelope::new(
        request(json!({ "targets": targets })),
        SOURCE_OPERATOR,
        "operator:test",
    );
    env.send(&serde_json::to_string(&event).expect("json"), None)
        .await
        .expect("send");
    event.id.to_string()
}

/// At least `n` new dead letters (received with their attributes, hidden for a minute).
async fn dead_letters(env: &KitEnv, n: usize) -> Vec<aws_sdk_sqs::types::Message> {
    let dead = env
        .dead_letters(n, Duration::from_secs(60))
        .await
        .expect("DLQ");
    assert!(dead.len() >= n, "{} dead letters, expected {n}", dead.len());
    dead
}

fn assert_clean(place: &str, text: &str) {
    for secret in [
        TOKEN,
        USERINFO_PW,
        RIGHT_PW,
        WRONG_PW,
        UNREACHABLE_PW,
        BAD_URL_PW,
    ] {
        assert!(
            !text.contains(secret),
            "{place} contains the secret {secret}:\n{text}"
        );
    }
}

#[tokio::test]
async fn passwords_and_url_tokens_never_leave_the_worker() {
    let sdk = emulator().await;
    let src = TestServer::start(|path| match path.split('?').next().unwrap_or_default() {
        "/ok" => (200, json!({ "v": 1 }).to_string()),
        _ => (503, "{}".into()),
    })
    .await;
    let redis = PrivateRedis::with_password(RIGHT_PW).await;
    let env = KitEnv::create(&sdk, "cachesecret", 1, false)
        .await
        .expect("resources");
    let (bus, outcomes) = outcome_queue(&sdk).await;
    let port = src.base.rsplit(':').next().expect("port").to_owned();
    let with_token = |path: &str| format!("{}{path}?token={TOKEN}", src.base);
    let common = [
        ("STOKER_CACHE_ALLOWED_HOSTS", "127.0.0.1"),
        ("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS", "true"),
        ("STOKER_MAX_RECEIVE_COUNT", "1"),
        ("STOKER_BUS", bus.as_str()),
        ("RUST_LOG", "debug"),
    ];
    // One queue per worker: LocalStack hands a message to the long poll of a killed worker.
    let (second, third) = (
        KitEnv::create(&sdk, "cachesecret", 1, false)
            .await
            .expect("resources"),
        KitEnv::create(&sdk, "cachesecret", 1, false)
            .await
            .expect("resources"),
    );
    let run = |env: &KitEnv, redis_url: String| {
        let mut vars = common.to_vec();
        vars.push(("STOKER_REDIS_URL", redis_url.leak()));
        LoggedWorker::spawn(env, &vars, &["STOKER_REDIS_URL_PARAMETER"])
    };
    let key = |k: &str| format!("{}:{k}", env.name);

    // 1. The right password: failing sources (5xx, unreachable, refused) with tokens.
    let right = format!("redis://:{RIGHT_PW}@127.0.0.1:{}/0", redis.port);
    let mut worker = run(&env, right);
    let failing = send(&env, json!([
        { "type": "redis", "key": key("5xx"), "ttl_seconds": 60, "source": { "type": "http", "url": with_token("/fail") } },
        { "type": "http", "url": format!("http://127.0.0.1:9/down?token={TOKEN}") } ])).await;
    let mixed = send(&env, json!([
        { "type": "redis", "key": key("ok"), "ttl_seconds": 60,
          "source": { "type": "http", "url": with_token("/ok") } },
        { "type": "http", "url": with_token("/fail") },
        { "type": "redis", "key": key("down"), "ttl_seconds": 60, "source": { "type": "http", "url": format!("http://127.0.0.1:9/down?token={TOKEN}") } } ])).await;
    let refused = send(
        &env,
        json!([
        { "type": "http", "url": format!("https://evil.example.org/x?token={TOKEN}") } ]),
    )
    .await;
    // Credentials in a URL are refused by the decoder (to the DLQ, without them).
    send(&env, json!([
        { "type": "http", "url": format!("http://app:{USERINFO_PW}@127.0.0.1:{port}/ok?token={TOKEN}") } ])).await;
    let report = env
        .wait_outcome("cache-warmer", &mixed, Duration::from_secs(60))
        .await;
    assert_eq!(report["keys_warmed"], 1, "{report}");
    assert_eq!(report["targets"][0]["name"], key("ok"));
    assert_eq!(report["targets"][1]["name"], format!("{}/fail", src.base));
    let down = report["targets"][2]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        down.starts_with("GET http://127.0.0.1:9/down: could not connect"),
        "{report}"
    );
    let mut dead = dead_letters(&env, 3).await;
    worker.stop();
    let first = worker.output();

    // 2. The wrong password, 3. an unreachable Redis: the job fails, to the DLQ.
    let mut wrong = run(
        &second,
        format!("redis://:{WRONG_PW}@127.0.0.1:{}/0", redis.port),
    );
    send(&second, json!([{ "type": "redis", "key": key("w"), "ttl_seconds": 60, "source": { "type": "http", "url": with_token("/ok") } }])).await;
    dead.extend(dead_letters(&second, 1).await);
    wrong.stop();
    let mut unreachable = run(
        &third,
        format!("redis://app:{UNREACHABLE_PW}@127.0.0.1:9/0"),
    );
    send(&third, json!([{ "type": "redis", "key": key("u"), "ttl_seconds": 60, "source": { "type": "http", "url": with_token("/ok") } }])).await;
    dead.extend(dead_letters(&third, 1).await);
    unreachable.stop();

    // 4. A Redis URL that does not parse: the worker stops at start.
    let mut bad = run(
        &third,
        format!("redis://app:{BAD_URL_PW}@127.0.0.1:notaport/0"),
    );
    assert!(!bad.exit(Duration::from_secs(30)).await.success());

    // Every path was taken, and said so without its secrets.
    let logs = [first, wrong.output(), unreachable.output(), bad.output()].join("\n");
    let reasons: Vec<String> = dead
        .iter()
        .map(|m| {
            m.message_attributes()
                .and_then(|a| a.get(stoker_kit::dlq::ATTR_REASON))
                .and_then(|v| v.string_value())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    let all_reasons = reasons.join("\n");
    for said in [
        "/fail: 503 Service Unavailable",
        "refused the credentials",
        "Redis at 127.0.0.1:9 is unreachable",
        "host evil.example.org is not on the cache-warmer's allow-list",
        "URLs must not carry credentials",
    ] {
        assert!(all_reasons.contains(said), "no {said:?} in {all_reasons}");
    }
    assert!(logs.contains("redis://***@127.0.0.1:notaport/0"), "{logs}");
    assert!(!failing.is_empty() && !refused.is_empty());
    let attributes: Vec<String> = dead
        .iter()
        .map(|m| format!("{:?}", m.message_attributes()))
        .collect();
    assert_clean("the DLQ attributes", &attributes.join("\n"));
    assert_clean("the worker's stdout/stderr", &logs);
    let mut items = Vec::new();
    for e in [&env, &second, &third] {
        let out = aws_sdk_dynamodb::Client::new(&sdk)
            .scan()
            .table_name(&e.table)
            .send()
            .await
            .expect("Scan");
        items.extend(out.items.unwrap_or_default());
    }
    assert!(items.len() >= 6, "runs and outcomes recorded: {items:?}");
    assert_clean("the ops table", &format!("{items:?}"));
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut bodies = Vec::new();
    let deadline = stoker_it::Deadline::after(Duration::from_secs(30), Duration::from_millis(200));
    while bodies.len() < 5 && deadline.tick().await {
        let got = receive_all(&sqs, &outcomes, 1)
            .await
            .expect("outcome events");
        bodies.extend(got.iter().filter_map(|m| m.body().map(str::to_owned)));
    }
    assert_eq!(
        bodies.len(),
        5,
        "a completed and four failed events: {bodies:?}"
    );
    assert_clean("the outcome events", &bodies.join("\n"));
    for e in [&env, &second, &third] {
        e.delete().await;
    }
}

#[test]
fn the_redacted_forms_used_above_are_what_the_worker_prints() {
    assert_eq!(
        redact::url(&format!("http://app:{USERINFO_PW}@h:1/ok?token={TOKEN}")),
        "http://app:***@h:1/ok"
    );
}
