//! The cache-warmer cannot be turned against its own network: loopback (the Lambda Runtime
//! API), private and metadata addresses are refused, bodies are cut, keys are bounded, `Host`
//! cannot be set and ids stay in their URL segment and key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::{Value, json};
use stoker_cache_warmer::{CacheConfig, CacheWarmer};
use stoker_events::payload::cache::CacheWarmRequest;
use stoker_events::{Envelope, SOURCE_OPERATOR};
use stoker_it::http::TestServer;
use stoker_it::kit::KitEnv;
use stoker_it::{emulator, unique, workspace_bin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn redis_url() -> String {
    std::env::var("STOKER_REDIS_URL").expect("STOKER_REDIS_URL: eval \"$(./localstack/env)\"")
}

fn warmer(sdk: &aws_config::SdkConfig, allow_private: bool, hosts: &[&str]) -> CacheWarmer {
    let config = CacheConfig {
        allow_private_networks: allow_private,
        ..CacheConfig::new(redis_url(), hosts)
    };
    CacheWarmer::new(sdk, config).expect("warmer")
}

fn request(v: Value) -> CacheWarmRequest {
    serde_json::from_value(v).expect("a valid request")
}

/// A listener standing in for the Lambda Runtime API on 127.0.0.1:9001 (when the port is
/// free): whether anything connected to it.
struct RuntimeApi(Option<std::net::TcpListener>);

impl RuntimeApi {
    fn bind() -> Self {
        let l = std::net::TcpListener::bind("127.0.0.1:9001").ok();
        if let Some(l) = &l {
            l.set_nonblocking(true).expect("nonblocking");
        }
        RuntimeApi(l)
    }

    /// A connection made before now is in the accept queue already.
    fn was_reached(&self) -> bool {
        self.0.as_ref().is_some_and(|l| l.accept().is_ok())
    }
}

#[tokio::test]
async fn the_runtime_api_on_loopback_is_refused_without_the_opt_in() {
    let sdk = emulator().await;
    let api = RuntimeApi::bind();
    let w = warmer(&sdk, false, &["127.0.0.1", "localhost"]);
    // An IP literal: refused before anything happens, naming the field.
    let literal = request(json!({ "targets": [
        { "type": "http", "url": "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next" } ]}));
    let err = w.warm(&literal).await.expect_err("refused");
    assert!(err.is_permanent(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("targets[0].url: 127.0.0.1 is loopback (127.0.0.0/8): refused"),
        "{err}"
    );
    // A name that resolves to loopback: refused by the resolver at connect time.
    let named = request(json!({ "targets": [
        { "type": "http", "url": "http://localhost:9001/2018-06-01/runtime/invocation/next" } ]}));
    let report = w
        .warm(&named)
        .await
        .expect("the job completes, the target fails");
    let failure = report.targets[0].error.as_ref().expect("refused");
    assert_eq!(
        (failure.code.as_str(), failure.retryable),
        ("address_refused", false)
    );
    assert!(
        failure.message.starts_with("GET http://localhost:9001/2018-06-01/runtime/invocation/next: localhost resolves to a refused address: ")
            && failure.message.contains(" is loopback"),
        "{failure:?}"
    );
    assert!(!api.was_reached(), "a request reached 127.0.0.1:9001");

    // With the opt-in (local development), the same name reaches a local server.
    let src = TestServer::start(|_| (200, "{}".into())).await;
    let port = src.base.rsplit(':').next().expect("port");
    let local = request(json!({ "targets": [
        { "type": "http", "url": format!("http://localhost:{port}/ok") } ]}));
    let opted = warmer(&sdk, true, &["localhost"]);
    let report = opted.warm(&local).await.expect("warm");
    assert_eq!(report.urls_warmed, 1, "{report:?}");
    assert_eq!(src.hits("/ok"), 1);
}

#[tokio::test]
async fn the_keys_of_a_job_are_bounded_and_host_is_refused_before_any_fetch() {
    let sdk = emulator().await;
    let src = TestServer::start(|_| (200, "[1, 2, 3]".into())).await;
    let mut w = warmer(&sdk, true, &["127.0.0.1"]);
    w.config.max_keys_per_job = 5;
    let too_many = request(json!({ "targets": [
        { "type": "redis", "key": "k:{id}", "ttl_seconds": 60, "source": { "type": "http", "url": src.url("/v/{id}") },
          "expand": { "source": { "type": "http", "url": src.url("/ids") }, "max_keys": 10 } } ]}));
    let err = w.warm(&too_many).await.expect_err("refused");
    assert_eq!(err.code(), "too_many_keys", "{err}");
    assert!(
        err.to_string().contains("over the limit of 5 per job"),
        "{err}"
    );
    let host = request(json!({ "targets": [
        { "type": "http", "url": src.url("/ok"), "headers": { "Host": "169.254.169.254" } } ]}));
    let err = w.warm(&host).await.expect_err("refused");
    assert_eq!(err.code(), "bad_header", "{err}");
    assert!(
        err.to_string().starts_with("targets[0].headers.Host: "),
        "{err}"
    );
    assert_eq!(src.hits("/ids") + src.hits("/ok"), 0, "nothing was fetched");
}

#[tokio::test]
async fn ids_with_reserved_characters_stay_in_their_segment_and_key() {
    let sdk = emulator().await;
    let src = TestServer::start(|path| match path {
        "/ids" => (
            200,
            json!(["a/b", "c?d", "e#f", "..", "g@h", "i j"]).to_string(),
        ),
        p if p.starts_with("/guild/") => (200, json!({ "path": p }).to_string()),
        _ => (404, "{}".into()),
    })
    .await;
    let p = unique("cacheid");
    let req = request(json!({ "targets": [
        { "type": "redis", "key": format!("{p}:guild:{{id}}"), "ttl_seconds": 60,
          "source": { "type": "http", "url": src.url("/guild/{id}/top?v=1") },
          "expand": { "source": { "type": "http", "url": src.url("/ids") } } } ]}));
    let report = warmer(&sdk, true, &["127.0.0.1"])
        .warm(&req)
        .await
        .expect("warm");
    assert_eq!((report.keys_warmed, report.failed), (5, 1), "{report:?}");
    let dots = report.targets[0].error.as_ref().expect("'..' refused");
    assert!(
        dots.message.contains("\"..\" cannot be placed in a URL"),
        "{dots:?}"
    );
    let mut c = redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for (id, encoded) in [
        ("a/b", "a%2Fb"),
        ("c?d", "c%3Fd"),
        ("e#f", "e%23f"),
        ("g@h", "g%40h"),
        ("i j", "i%20j"),
    ] {
        let path = format!("/guild/{encoded}/top?v=1");
        assert_eq!(src.hits(&path), 1, "{id} was requested as {path}");
        let v: String = c
            .get(format!("{p}:guild:{encoded}"))
            .await
            .expect("the key");
        assert_eq!(
            serde_json::from_str::<Value>(&v).expect("json")["path"],
            path.as_str()
        );
    }
    assert_eq!(
        src.hits("/top?v=1") + src.hits("/guild/top?v=1"),
        0,
        "'..' never left its segment"
    );
}

#[tokio::test]
async fn the_job_byte_budget_cuts_the_targets_that_pass_it() {
    let sdk = emulator().await;
    let src = TestServer::start(|_| (200, json!({ "blob": "x".repeat(3000) }).to_string())).await;
    let mut w = warmer(&sdk, true, &["127.0.0.1"]);
    w.config.max_job_bytes = 10_000;
    let p = unique("cachebudget");
    let targets: Vec<Value> = (0..5)
        .map(|i| {
            json!({ "type": "redis", "key": format!("{p}:{i}"), "ttl_seconds": 60,
            "source": { "type": "http", "url": src.url(&format!("/v/{i}")) } })
        })
        .collect();
    let report = w
        .warm(&request(json!({ "targets": targets, "concurrency": 1 })))
        .await
        .expect("three fit");
    assert_eq!((report.keys_warmed, report.failed), (3, 2), "{report:?}");
    let over = report.targets[3].error.as_ref().expect("over budget");
    assert_eq!(over.code, "job_bytes_exceeded");
    assert!(
        over.message.contains("STOKER_CACHE_MAX_JOB_BYTES"),
        "{over:?}"
    );
}

/// A source that streams 1 GiB (chunked at `/chunked`, with its length declared at
/// `/declared`) and counts the bytes it managed to send; `/ok` is small.
struct Flood {
    base: String,
    sent: Arc<AtomicU64>,
}

const GIB: u64 = 1 << 30;

async fn flood() -> Flood {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let n = sock.read(&mut head).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                if path == "/ok" {
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                        )
                        .await;
                    return;
                }
                let chunked = path == "/chunked";
                let header = if chunked {
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
                } else {
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {GIB}\r\n\r\n")
                };
                if sock.write_all(header.as_bytes()).await.is_err() {
                    return;
                }
                let data = vec![b'1'; 64 * 1024];
                let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
                frame.extend_from_slice(&data);
                frame.extend_from_slice(b"\r\n");
                let piece = if chunked { &frame } else { &data };
                let mut total = 0;
                while total < GIB {
                    if sock.write_all(piece).await.is_err() {
                        return;
                    }
                    total += data.len() as u64;
                    counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    Flood { base, sent }
}

#[tokio::test]
async fn a_1_gib_body_is_cut_and_the_worker_binary_stays_small() {
    let sdk = emulator().await;
    let src = flood().await;
    let env = KitEnv::create(&sdk, "cacheflood", 3, false)
        .await
        .expect("resources");
    let redis = redis_url();
    let worker = env
        .spawn_worker(
            workspace_bin("stoker-cache-warmer").to_str().expect("path"),
            &[
                ("STOKER_REDIS_URL", &redis),
                ("STOKER_CACHE_ALLOWED_HOSTS", "127.0.0.1"),
                ("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS", "true"),
                ("STOKER_CACHE_MAX_VALUE_BYTES", "1048576"),
            ],
        )
        .expect("spawn the worker");
    let p = unique("flood");
    let url = |path: &str| format!("{}{path}", src.base);
    let req = request(json!({ "targets": [
        { "type": "redis", "key": format!("{p}:chunked"), "ttl_seconds": 60, "source": { "type": "http", "url": url("/chunked") } },
        { "type": "http", "url": url("/chunked") },
        { "type": "redis", "key": format!("{p}:declared"), "ttl_seconds": 60, "source": { "type": "http", "url": url("/declared") } },
        { "type": "redis", "key": format!("{p}:ok"), "ttl_seconds": 60, "source": { "type": "http", "url": url("/ok") } } ]}));
    let event = Envelope::new(req, SOURCE_OPERATOR, "operator:test");
    env.send(&serde_json::to_string(&event).expect("json"), None)
        .await
        .expect("send");
    let done = env
        .wait_outcome(
            "cache-warmer",
            &event.id.to_string(),
            Duration::from_secs(90),
        )
        .await;
    let peak_kib = stoker_it::bench::peak_rss_kib(&worker.id().to_string()).expect("VmHWM");
    let sent = src.sent.load(Ordering::Relaxed);
    eprintln!("the worker peaked at {peak_kib} KiB; the source sent {sent} bytes");
    env.delete().await;
    for i in 0..3 {
        let e = &done["targets"][i]["error"];
        assert_eq!(e["code"], "value_too_large", "target {i}: {done}");
        assert!(
            e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("over the limit of 1048576 bytes"),
            "{e}"
        );
    }
    assert_eq!(done["keys_warmed"], 1, "{done}");
    // Reading a whole body would take 1 GiB (1,048,576 KiB). The debug worker idles at about
    // 20-30 MiB; the bodies add at most 1 MiB each plus socket buffers: 100 MiB leaves room
    // for allocator slack and is still a tenth of one body.
    assert!(peak_kib < 100 * 1024, "the worker peaked at {peak_kib} KiB");
    // The worker stopped reading: the source could send only what the sockets buffered.
    assert!(sent < 64 << 20, "the source sent {sent} bytes");
}
