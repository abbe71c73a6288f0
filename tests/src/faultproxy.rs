//! A fault-injecting HTTP proxy between the workers and the emulator: every request waits a
//! random latency, then a share of them is answered with an error the AWS SDKs retry (half
//! `503 ServiceUnavailable`, half `400 ThrottlingException`) without reaching the emulator;
//! the rest are forwarded unchanged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Share of requests answered with an error (0-1).
    pub error_rate: f64,
    /// Each request waits a uniform 0..max_latency first.
    pub max_latency: Duration,
}

/// What the proxy did so far.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub forwarded: AtomicU64,
    pub unavailable: AtomicU64,
    pub throttled: AtomicU64,
}

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
                            Ok::<_, Infallible>(handle(req, upstream, *faults, stats, client).await)
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

    /// Errors injected so far.
    pub fn injected(&self) -> u64 {
        self.stats.unavailable.load(Ordering::Relaxed)
            + self.stats.throttled.load(Ordering::Relaxed)
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: &str,
    faults: Faults,
    stats: &ProxyStats,
    client: &reqwest::Client,
) -> Response<Full<Bytes>> {
    let wait = faults.max_latency.mul_f64(fastrand::f64());
    tokio::time::sleep(wait).await;
    let roll = fastrand::f64();
    if roll < faults.error_rate / 2.0 {
        stats.unavailable.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    }
    if roll < faults.error_rate {
        stats.throttled.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::BAD_REQUEST, "ThrottlingException");
    }
    stats.forwarded.fetch_add(1, Ordering::Relaxed);
    match forward(req, upstream, client).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(e.to_string())));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}

fn error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    let body = format!(r#"{{"__type": "{code}", "message": "injected by the fault proxy"}}"#);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        "application/x-amz-json-1.0".parse().expect("header"),
    );
    h.insert("x-amzn-errortype", code.parse().expect("header"));
    h.insert(
        "x-amzn-query-error",
        format!("{code};Sender").parse().expect("header"),
    );
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
