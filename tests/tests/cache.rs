//! The cache-warmer against a real redis-server, an HTTP source served by the test, and
//! DynamoDB on LocalStack.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use redis::AsyncCommands;
use serde_json::{Value, json};
use stoker_cache_warmer::{CacheConfig, CacheWarmer};
use stoker_events::payload::cache::CacheWarmRequest;
use stoker_events::{Envelope, SOURCE_OPERATOR, Worker};
use stoker_it::http::{RedisServer, TestServer};
use stoker_it::kit::{KitEnv, create_ops_table};
use stoker_it::{emulator, poll, unique, worker_sdk, workspace_bin};

fn redis_url() -> String {
    std::env::var("STOKER_REDIS_URL").expect("STOKER_REDIS_URL: run ./scripts/test, or eval \"$(./localstack/env)\" after ./localstack/up")
}

/// A source with a menu, guilds, per-guild boards, a failing endpoint and a large value.
async fn source() -> TestServer {
    TestServer::start(|path| match path {
        "/menu" => (
            200,
            json!({"items": ["soup", "bread"], "day": "mon"}).to_string(),
        ),
        "/guilds" => (200, json!([{"id": 1}, {"id": "two"}]).to_string()),
        p if p.starts_with("/guild/") => {
            (200, json!({"guild": &p[7..], "top": [3, 2, 1]}).to_string())
        }
        "/fail" => (503, "{}".into()),
        "/big" => (200, json!({"blob": "x".repeat(3000)}).to_string()),
        _ => (404, "{}".into()),
    })
    .await
}

fn warmer(sdk: &aws_config::SdkConfig, redis: &str) -> CacheWarmer {
    let config = CacheConfig {
        allow_private_networks: true, // the test's sources and Redis are on loopback
        max_value_bytes: 2048,
        ..CacheConfig::new(redis, &["127.0.0.1"])
    };
    CacheWarmer::new(sdk, config).expect("warmer")
}

fn request(v: Value) -> CacheWarmRequest {
    serde_json::from_value(v).expect("a valid request")
}

async fn conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

#[tokio::test]
async fn values_and_ttls_land_as_configured_from_http_and_dynamodb() {
    let sdk = emulator().await;
    let src = source().await;
    let p = unique("cache");
    let table = format!("{p}-src");
    create_ops_table(&sdk, &table).await.expect("table");
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("USER#7".into()))
        .item("sk", AttributeValue::S("PROFILE".into()))
        .item("name", AttributeValue::S("Ada".into()))
        .item("level", AttributeValue::N("42".into()))
        .send()
        .await
        .expect("PutItem");
    let req = request(json!({ "targets": [
        { "type": "http", "url": src.url("/menu") },
        { "type": "redis", "key": format!("{p}:menu"), "ttl_class": "daily_menu",
          "source": { "type": "http", "url": src.url("/menu"), "pointer": "/items" } },
        { "type": "redis", "key": format!("{p}:user:7"), "ttl_seconds": 300,
          "source": { "type": "dynamodb_item", "table": table, "key": { "pk": "USER#7", "sk": "PROFILE" } } },
        { "type": "redis", "key": format!("{p}:guild:{{id}}"), "ttl_class": "analytics",
          "source": { "type": "http", "url": src.url("/guild/{id}") },
          "expand": { "source": { "type": "http", "url": src.url("/guilds") }, "field": "id" } }
    ]}));
    let report = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis_url())
        .warm(&req)
        .await
        .expect("warm");
    assert_eq!(
        (report.urls_warmed, report.keys_warmed, report.failed),
        (1, 4, 0),
        "{report:?}"
    );
    assert_eq!(report.targets[0].status, Some(200));
    assert_eq!(report.redis_round_trips, 1, "one pipeline for four keys");

    let mut c = conn(&redis_url()).await;
    let menu: String = c.get(format!("{p}:menu")).await.expect("GET");
    assert_eq!(menu, r#"["soup","bread"]"#);
    let ttl: i64 = c.ttl(format!("{p}:menu")).await.expect("TTL");
    assert!(
        (7190..=7200).contains(&ttl),
        "daily_menu TTL 7200, got {ttl}"
    );
    let user: String = c.get(format!("{p}:user:7")).await.expect("GET");
    assert_eq!(
        serde_json::from_str::<Value>(&user).expect("json"),
        json!({"pk": "USER#7", "sk": "PROFILE", "name": "Ada", "level": 42})
    );
    let ttl: i64 = c.ttl(format!("{p}:user:7")).await.expect("TTL");
    assert!((290..=300).contains(&ttl), "{ttl}");
    let two: String = c.get(format!("{p}:guild:two")).await.expect("GET");
    assert_eq!(
        serde_json::from_str::<Value>(&two).expect("json")["guild"],
        "two"
    );
    let ttl: i64 = c.ttl(format!("{p}:guild:1")).await.expect("TTL");
    assert!(
        (3590..=3600).contains(&ttl),
        "analytics TTL 3600, got {ttl}"
    );
    let _ = aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(&table)
        .send()
        .await;
}

#[tokio::test]
async fn a_failing_source_or_oversized_value_does_not_stop_the_others() {
    emulator().await;
    let src = source().await;
    let p = unique("cachef");
    let req = request(json!({ "targets": [
        { "type": "redis", "key": format!("{p}:down"), "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/fail") } },
        { "type": "redis", "key": format!("{p}:big"), "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/big") } },
        { "type": "http", "url": src.url("/fail") },
        { "type": "redis", "key": format!("{p}:ok"), "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/menu") } }
    ]}));
    let report = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis_url())
        .warm(&req)
        .await
        .expect("one target warmed: the job completes");
    let down = report.targets[0]
        .error
        .as_ref()
        .expect("the 5xx source failed");
    assert!(down.retryable, "{down:?}");
    // The body is read no further than the limit: the target fails, permanently.
    let big = report.targets[1]
        .error
        .as_ref()
        .expect("the large value failed");
    assert_eq!(
        (big.code.as_str(), big.retryable),
        ("value_too_large", false)
    );
    assert!(big.message.contains("over the limit of 2048"), "{big:?}");
    assert!(
        report.targets[2]
            .error
            .as_ref()
            .is_some_and(|e| e.retryable),
        "{:?}",
        report.targets[2]
    );
    assert_eq!(report.targets[3].warmed, 1);
    let mut c = conn(&redis_url()).await;
    let (down, big, ok): (Option<String>, Option<String>, Option<String>) = redis::pipe()
        .get(format!("{p}:down"))
        .get(format!("{p}:big"))
        .get(format!("{p}:ok"))
        .query_async(&mut c)
        .await
        .expect("GET");
    assert_eq!((down, big, ok.is_some()), (None, None, true));
}

/// A server's history of 1 hit and 3 misses.
async fn one_hit_three_misses(c: &mut redis::aio::MultiplexedConnection) {
    let _: () = c.set("seen", "1").await.expect("SET");
    let _: Option<String> = c.get("seen").await.expect("GET");
    for k in ["a", "b", "c"] {
        let _: Option<String> = c.get(k).await.expect("GET");
    }
}

#[tokio::test]
async fn hit_rate_is_reported_before_and_after_from_redis_counters() {
    emulator().await;
    let src = source().await;
    let redis = RedisServer::start().await;
    let mut c = conn(&redis.url).await;
    // 1 hit, 3 misses so far: 25 %.
    one_hit_three_misses(&mut c).await;
    let req = request(json!({ "targets": [
        { "type": "redis", "key": "menu", "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/menu") } } ]}));
    let report = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis.url)
        .warm(&req)
        .await
        .expect("warm");
    assert_eq!(report.hit_rate_before, Some(25.0));
    // Users now ask for the warmed key: hits go up.
    for _ in 0..4 {
        let _: Option<String> = c.get("menu").await.expect("GET");
    }
    let again = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis.url)
        .warm(&req)
        .await
        .expect("warm again");
    assert_eq!(again.hit_rate_before, Some(62.5), "5 hits, 3 misses");
}

#[tokio::test]
async fn redis_unreachable_fails_the_job_retryably_and_reports_nothing_done() {
    emulator().await;
    let src = source().await;
    let req = request(json!({ "targets": [
        { "type": "redis", "key": "k", "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/menu") } } ]}));
    let err = warmer(
        &worker_sdk(Worker::CacheWarmer).await,
        "redis://127.0.0.1:9",
    )
    .warm(&req)
    .await
    .expect_err("no Redis");
    assert!(!err.is_permanent(), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert_eq!(src.hits("/menu"), 0, "nothing loaded before Redis answered");
}

#[tokio::test]
async fn a_url_off_the_allow_list_or_at_the_metadata_service_is_permanent_with_its_path() {
    emulator().await;
    let w = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis_url());
    for (url, why) in [
        ("http://10.1.2.3/x", "not on the cache-warmer's allow-list"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "the instance metadata address: never fetched",
        ),
    ] {
        let req = request(json!({ "targets": [
            { "type": "http", "url": "http://127.0.0.1:9/ok" },
            { "type": "redis", "key": "k", "ttl_seconds": 60, "source": { "type": "http", "url": url } } ]}));
        let err = w.warm(&req).await.expect_err("refused");
        assert!(err.is_permanent(), "{err:?}");
        assert!(
            err.to_string().starts_with("targets[1].source.url: "),
            "{err}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[tokio::test]
async fn the_worker_binary_replays_a_redelivered_event_without_a_second_write() {
    let sdk = emulator().await;
    let src = source().await;
    let env = KitEnv::create(&sdk, "cacheq", 3, false)
        .await
        .expect("resources");
    let redis = redis_url();
    let _worker = env
        .spawn_worker(
            workspace_bin("stoker-cache-warmer").to_str().expect("path"),
            &[
                ("STOKER_REDIS_URL", &redis),
                ("STOKER_CACHE_ALLOWED_HOSTS", "127.0.0.1"),
                ("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS", "true"),
            ],
        )
        .expect("spawn the worker");
    let p = unique("cacheq");
    let req = request(json!({ "targets": [
        { "type": "redis", "key": format!("{p}:menu"), "ttl_class": "menu_items", "source": { "type": "http", "url": src.url("/menu") } } ]}));
    let event = Envelope::new(req, SOURCE_OPERATOR, "operator:test");
    let body = serde_json::to_string(&event).expect("json");
    env.send(&body, None).await.expect("send");
    let id = event.id.to_string();
    let done = env
        .wait_outcome("cache-warmer", &id, Duration::from_secs(60))
        .await;
    assert_eq!(done["keys_warmed"], 1, "{done}");
    env.send(&body, None)
        .await
        .expect("send the same event again");
    let runs = poll(Duration::from_secs(30), Duration::from_millis(200), || {
        let (env, id) = (&env, &id);
        async move {
            let runs = env.ops().runs_of("cache-warmer", id).await.ok()?;
            (runs.len() >= 2).then_some(runs)
        }
    })
    .await
    .expect("two runs");
    assert!(
        runs.iter()
            .any(|r| r.outcome == stoker_kit::ops::RunOutcome::Replayed),
        "{runs:?}"
    );
    assert_eq!(src.hits("/menu"), 1, "the replay loaded and wrote nothing");

    // A bad event (a key pattern without its expansion) goes to the DLQ with the field path.
    let mut bad = serde_json::to_value(&event).expect("json");
    bad["id"] = json!(uuid::Uuid::now_v7());
    bad["payload"]["targets"][0]["key"] = json!("menu:{id}");
    env.send(&bad.to_string(), None).await.expect("send");
    let reason = &env.dead_reasons(1, Duration::from_secs(30)).await[0];
    assert!(reason.contains("targets[0].key"), "reason: {reason}");
    env.delete().await;
}

/// Issue #20: pattern invalidation. Keys matching a glob are found with SCAN and deleted, at
/// most `max_keys` per pattern (the report says more matched); a dry run lists what would go and
/// changes nothing, warming included; an invalidation runs before the warming, so a pattern
/// covering a warmed key leaves the fresh value; a pattern that matches any key is refused
/// before any side effect, with its field path.
#[tokio::test]
async fn a_pattern_invalidation_deletes_what_matches_within_bounds_and_a_dry_run_only_lists() {
    emulator().await;
    let src = source().await;
    let redis = RedisServer::start().await;
    let mut c = conn(&redis.url).await;
    for i in 0..12 {
        let _: () = c.set(format!("menu:{i}"), "stale").await.expect("SET");
    }
    let _: () = c.set("user:1", "keep").await.expect("SET");
    let mut w = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis.url);
    w.config.invalidate_prefixes = vec!["menu:".into()];
    let count = |c: &mut redis::aio::MultiplexedConnection| {
        let mut c = c.clone();
        async move {
            let keys: Vec<String> = redis::cmd("KEYS") // the test may; the worker never does
                .arg("menu:*")
                .query_async(&mut c)
                .await
                .expect("KEYS");
            keys.len()
        }
    };

    // A dry run: lists at most max_keys, deletes nothing, warms nothing.
    let dry = w
        .warm(&request(json!({
            "targets": [{ "type": "redis", "key": "menu:today", "ttl_seconds": 60,
                          "source": { "type": "http", "url": src.url("/menu") } }],
            "invalidate": [{ "pattern": "menu:*", "max_keys": 5 }],
            "dry_run": true })))
        .await
        .expect("dry run");
    assert!(dry.dry_run);
    let inv = &dry.invalidated[0];
    assert_eq!(
        (inv.matched, inv.deleted, inv.more),
        (5, 0, true),
        "{dry:?}"
    );
    assert_eq!(inv.keys.len(), 5);
    assert!(inv.keys.iter().all(|k| k.starts_with("menu:")), "{inv:?}");
    assert_eq!(count(&mut c).await, 12, "a dry run deletes nothing");
    assert_eq!(src.hits("/menu"), 0, "a dry run warms nothing");
    let summary = stoker_kit::Summary::summary(&dry);
    assert!(summary.starts_with("dry run: 5 key(s)"), "{summary}");

    // For real, bounded: 10 of the 12 go, the report says more matched. The worker finds them
    // with SCAN, never KEYS (Redis' own command counters, read around the job).
    let before = (calls(&mut c, "keys").await, calls(&mut c, "scan").await);
    let bounded = w
        .warm(&request(
            json!({ "invalidate": [{ "pattern": "menu:*", "max_keys": 10 }] }),
        ))
        .await
        .expect("invalidate 10");
    let inv = &bounded.invalidated[0];
    assert_eq!(
        (inv.matched, inv.deleted, inv.more),
        (10, 10, true),
        "{bounded:?}"
    );
    assert_eq!(bounded.keys_invalidated, 10);
    let after = (calls(&mut c, "keys").await, calls(&mut c, "scan").await);
    assert_eq!(after.0, before.0, "the worker sent no KEYS");
    assert!(
        after.1 > before.1,
        "the worker scanned: {before:?} -> {after:?}"
    );
    assert_eq!(count(&mut c).await, 2);

    // The rest, then the warming: the fresh key stays, other keys are untouched.
    let r = w
        .warm(&request(json!({
            "targets": [{ "type": "redis", "key": "menu:today", "ttl_seconds": 60,
                          "source": { "type": "http", "url": src.url("/menu") } }],
            "invalidate": [{ "pattern": "menu:*" }] })))
        .await
        .expect("invalidate and warm");
    assert_eq!(
        (r.invalidated[0].deleted, r.invalidated[0].more),
        (2, false)
    );
    assert_eq!(r.keys_warmed, 1);
    let fresh: Option<String> = c.get("menu:today").await.expect("GET");
    assert!(
        fresh.is_some_and(|v| v.contains("soup")),
        "warmed after the invalidation"
    );
    let kept: Option<String> = c.get("user:1").await.expect("GET");
    assert_eq!(kept.as_deref(), Some("keep"));

    // Patterns that would reach any key, or keys outside the configured prefixes: refused
    // before anything happens, with the field's path.
    for wide in ["**", "[a-z]*", "*a*", "?*:*", "me*"] {
        let r = serde_json::from_value::<CacheWarmRequest>(
            json!({ "invalidate": [{ "pattern": wide }] }),
        )
        .expect("shape");
        let errors = stoker_events::validate::Validator::check(&r).expect_err(wide);
        assert_eq!(
            errors[0].path, "invalidate[0].pattern",
            "{wide}: {errors:?}"
        );
        assert!(
            errors[0].reason.contains("literal characters"),
            "{wide}: {errors:?}"
        );
    }
    let sessions = request(json!({ "invalidate": [{ "pattern": "user:*" }] }));
    let e = w
        .warm(&sessions)
        .await
        .expect_err("user: is not an allowed prefix");
    assert_eq!(e.code(), "pattern_not_allowed", "{e}");
    assert!(
        e.to_string().contains("invalidate[0].pattern") && e.to_string().contains("menu:"),
        "{e}"
    );
    let kept: Option<String> = c.get("user:1").await.expect("GET");
    assert_eq!(kept.as_deref(), Some("keep"), "nothing deleted");
    // Without any configured prefix, no invalidation at all.
    w.config.invalidate_prefixes.clear();
    let e = w
        .warm(&request(json!({ "invalidate": [{ "pattern": "menu:*" }] })))
        .await
        .expect_err("no prefixes configured");
    assert!(
        e.to_string().contains("STOKER_CACHE_INVALIDATE_PREFIXES"),
        "{e}"
    );
}

/// The largest datapoint of `metric` (dimension `Worker=cache-warmer`) in `ns` over the last
/// ten minutes, once CloudWatch has one.
async fn metric_max(sdk: &aws_config::SdkConfig, ns: &str, metric: &str) -> Option<f64> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let now = chrono::Utc::now().timestamp();
    let out = cw
        .get_metric_statistics()
        .namespace(ns)
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("Worker")
                .value("cache-warmer")
                .build(),
        )
        .start_time(DateTime::from_secs(now - 600))
        .end_time(DateTime::from_secs(now + 60))
        .period(600)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .ok()?;
    out.datapoints()
        .iter()
        .filter_map(|d| d.maximum())
        .reduce(f64::max)
}

/// Issue #20: the hit rate of the window between runs (the deltas of Redis' counters, kept in
/// the ops table), not since the server started, and the miss latency (the time to load a
/// warmed key's value from its source), both in the report and published, read back from
/// CloudWatch. A first run has no window; between two runs users look up 3 hits and 1 miss:
/// 75 %, while the server's lifetime rate (hit_rate_before) also counts the lookups before.
#[tokio::test]
async fn the_hit_rate_of_the_window_between_runs_and_the_miss_latency_are_reported_and_published() {
    let sdk = emulator().await;
    let src = source().await;
    let redis = RedisServer::start().await;
    let mut c = conn(&redis.url).await;
    // Before the first run: 1 hit, 3 misses (the server's own history).
    one_hit_three_misses(&mut c).await;
    // Names the cache-warmer's role allows (the IAM call check holds the test to them): an ops
    // table named `*-ops`, the `Stoker` namespace.
    let table = format!("{}-ops", unique("cache-win"));
    create_ops_table(&sdk, &table).await.expect("ops table");
    let ns = stoker_kit::emf::namespace_in_use().to_owned();
    let w = warmer(&worker_sdk(Worker::CacheWarmer).await, &redis.url).with_ops_table(&table);
    let req = request(json!({ "targets": [
        { "type": "redis", "key": "menu", "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/menu") } } ]}));

    let first = w.warm(&req).await.expect("first run");
    assert_eq!(first.hit_rate_window, None, "no run before: no window");
    assert_eq!(first.hit_rate_before, Some(25.0));
    let (p50, max) = (first.miss_latency_p50_ms, first.miss_latency_max_ms);
    assert!(p50.is_some() && p50 <= max, "{first:?}");

    // Between the runs: 3 hits on the warmed key, 1 miss.
    for _ in 0..3 {
        let _: Option<String> = c.get("menu").await.expect("GET");
    }
    let _: Option<String> = c.get("gone").await.expect("GET");
    let second = w.warm(&req).await.expect("second run");
    assert_eq!(second.window_lookups, Some(4), "{second:?}");
    assert_eq!(
        second.hit_rate_window,
        Some(75.0),
        "3 hits, 1 miss since the last run"
    );
    assert_eq!(
        second.hit_rate_before,
        Some(50.0),
        "the server's lifetime: 4 hits, 4 misses"
    );

    let published = poll(
        Duration::from_secs(20),
        Duration::from_millis(250),
        || async {
            let window = metric_max(&sdk, &ns, "RedisHitRateWindow").await?;
            let miss = metric_max(&sdk, &ns, "CacheMissLatencyMs").await?;
            Some((window, miss))
        },
    )
    .await;
    let (window, miss) =
        published.expect("RedisHitRateWindow and CacheMissLatencyMs in CloudWatch");
    // Only this test has a window (the others keep no counters); other tests publish their own
    // miss latencies in the same namespace, so that one is checked for being there.
    assert_eq!(window, 75.0);
    assert!(miss >= 0.0);
    let _ = aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(&table)
        .send()
        .await;
}

/// How many times Redis ran `command` (lower case), from `INFO commandstats`.
async fn calls(c: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .expect("INFO");
    let key = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
