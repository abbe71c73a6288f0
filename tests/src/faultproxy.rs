//! A fault-injecting HTTP proxy between the workers and the emulator: every request waits a
//! random latency, then a share of them is answered with an error the AWS SDKs retry (half
//! `503 ServiceUnavailable`, half `400 ThrottlingException`) without reaching the emulator;
//! another share is forwarded and then its answer is lost (half a `500 InternalServerError`,
//! half a dropped connection): the write happened, the caller cannot know; a share of
//! `TransactWriteItems` is cancelled as DynamoDB cancels a throttled or conflicting
//! transaction (`TransactionCanceledException`, a throttling reason per item); the rest are
//! forwarded unchanged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What to inject.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Share of requests answered with an error without reaching the emulator (0-1): half
    /// 503 ServiceUnavailable, half 400 ThrottlingException (a JSON body: for the JSON and
    /// query protocols, not CBOR ones such as CloudWatch's).
    pub error_rate: f64,
    /// Every injected error is a 503 (which every protocol's SDK retries).
    pub unavailable_only: bool,
    /// Share of requests forwarded whose answer is then lost (0-1).
    pub lost_rate: f64,
    /// The first this many answers of every operation are lost too (so that rare calls, such
    /// as a DLQ send, are covered in a short run).
    pub lose_first: u64,
    /// Each request waits a uniform 0..max_latency first.
    pub max_latency: Duration,
    /// Share of `TransactWriteItems` answered `TransactionCanceledException` without reaching
    /// the emulator, each item's reason `ThrottlingError`, `TransactionConflict` or
    /// `ProvisionedThroughputExceeded` (0-1).
    pub cancel_rate: f64,
}

impl Faults {
    /// No fault at all (set the ones wanted).
    pub const NONE: Faults = Faults {
        error_rate: 0.0,
        unavailable_only: false,
        lost_rate: 0.0,
        lose_first: 0,
        max_latency: Duration::ZERO,
        cancel_rate: 0.0,
    };
}

/// What the proxy did so far.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub forwarded: AtomicU64,
    pub unavailable: AtomicU64,
    pub throttled: AtomicU64,
    /// Transactions cancelled with throttling reasons.
    pub cancelled: AtomicU64,
    /// Forwarded, then answered 500.
    pub lost_500: AtomicU64,
    /// Forwarded, then the connection dropped.
    pub lost_dropped: AtomicU64,
    /// Lost answers per operation (`X-Amz-Target`, e.g. `DynamoDB_20120810.PutItem`).
    pub lost_by_operation: Mutex<BTreeMap<String, u64>>,
    /// Requests forwarded per operation.
    pub seen_by_operation: Mutex<BTreeMap<String, u64>>,
}

impl ProxyStats {
    /// Lost answers of one operation (`PutItem`, `TransactWriteItems`, `SendMessage`, ...).
    pub fn lost(&self, operation: &str) -> u64 {
        self.lost_by_operation
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.rsplit('.').next() == Some(operation))
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// The connection was dropped on purpose (the answer is lost).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    pub url: String,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. `http://127.0.0.1:4566`) on a free local port.
    pub async fn start(upstream: &str, faults: Faults) -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let stats = Arc::new(ProxyStats::default());
        let state = Arc::new((
            upstream.trim_end_matches('/').to_owned(),
            faults,
            stats.clone(),
            reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        ));
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move {
                            let (upstream, faults, stats, client) = &*state;
                            handle(req, upstream, *faults, stats, client).await
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy {
            url: format!("http://{addr}"),
            stats,
            task,
        })
    }

    /// Errors injected so far (instead of forwarding).
    pub fn injected(&self) -> u64 {
        self.stats.unavailable.load(Ordering::Relaxed)
            + self.stats.throttled.load(Ordering::Relaxed)
            + self.stats.cancelled.load(Ordering::Relaxed)
    }

    /// Transactions cancelled with throttling reasons so far.
    pub fn cancelled(&self) -> u64 {
        self.stats.cancelled.load(Ordering::Relaxed)
    }

    /// Answers lost so far (after forwarding).
    pub fn lost(&self) -> u64 {
        self.stats.lost_500.load(Ordering::Relaxed)
            + self.stats.lost_dropped.load(Ordering::Relaxed)
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: &str,
    faults: Faults,
    stats: &ProxyStats,
    client: &reqwest::Client,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let wait = faults.max_latency.mul_f64(fastrand::f64());
    tokio::time::sleep(wait).await;
    let roll = fastrand::f64();
    if roll < faults.error_rate / 2.0 || (faults.unavailable_only && roll < faults.error_rate) {
        stats.unavailable.fetch_add(1, Ordering::Relaxed);
        return Ok(error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"));
    }
    if roll < faults.error_rate {
        stats.throttled.fetch_add(1, Ordering::Relaxed);
        return Ok(error(StatusCode::BAD_REQUEST, "ThrottlingException"));
    }
    let operation = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    if operation.ends_with(".TransactWriteItems") && fastrand::f64() < faults.cancel_rate {
        let body = req.into_body().collect().await.map_err(|_| Dropped)?;
        stats.cancelled.fetch_add(1, Ordering::Relaxed);
        return Ok(cancelled(&body.to_bytes()));
    }
    stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let answer = match forward(req, upstream, client).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(e.to_string())));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    };
    // The request reached the emulator and did its work; now lose the answer.
    let seen = stats
        .seen_by_operation
        .lock()
        .map(|mut m| {
            let n = m.entry(operation.clone()).or_default();
            *n += 1;
            *n
        })
        .unwrap_or(u64::MAX);
    let lost = roll - faults.error_rate;
    if seen <= faults.lose_first || (lost >= 0.0 && lost < faults.lost_rate) {
        if let Ok(mut m) = stats.lost_by_operation.lock() {
            *m.entry(operation).or_default() += 1;
        }
        if fastrand::bool() {
            stats.lost_500.fetch_add(1, Ordering::Relaxed);
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
            ));
        }
        stats.lost_dropped.fetch_add(1, Ordering::Relaxed);
        return Err(Dropped);
    }
    Ok(answer)
}

/// DynamoDB's answer to a transaction it cancelled for throttling or a conflict: one reason
/// per item of the request.
fn cancelled(request: &[u8]) -> Response<Full<Bytes>> {
    let items = serde_json::from_slice::<serde_json::Value>(request)
        .ok()
        .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
        .unwrap_or(1);
    let codes = [
        "ThrottlingError",
        "TransactionConflict",
        "ProvisionedThroughputExceeded",
    ];
    let reasons: Vec<serde_json::Value> = (0..items)
        .map(|i| serde_json::json!({"Code": codes[i % codes.len()], "Message": "injected"}))
        .collect();
    let code = "TransactionCanceledException";
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        "CancellationReasons": reasons,
    });
    json_error(StatusCode::BAD_REQUEST, code, body.to_string())
}

fn error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    let body = format!(r#"{{"__type": "{code}", "message": "injected by the fault proxy"}}"#);
    let mut r = json_error(status, code, body);
    r.headers_mut().insert(
        "x-amzn-query-error",
        format!("{code};Sender").parse().expect("header"),
    );
    r
}

/// An AWS JSON-protocol error answer: `status`, the error `code` in its header, `body`.
fn json_error(status: StatusCode, code: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        "application/x-amz-json-1.0".parse().expect("header"),
    );
    h.insert("x-amzn-errortype", code.parse().expect("header"));
    r
}

async fn forward(
    req: Request<Incoming>,
    upstream: &str,
    client: &reqwest::Client,
) -> anyhow::Result<Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut out = client.request(parts.method, format!("{upstream}{path}"));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    let answer = out.body(body).send().await?;
    let mut r = Response::builder().status(answer.status());
    for (k, v) in answer.headers() {
        if k != "content-length" && k != "transfer-encoding" && k != "connection" {
            r = r.header(k, v);
        }
    }
    Ok(r.body(Full::new(answer.bytes().await?))?)
}
