//! A one-off fault injector for the backup tests: an HTTP proxy in front of a DynamoDB endpoint
//! that answers chosen operations (by `X-Amz-Target`, optionally only for one table or table
//! prefix) with an error instead of forwarding them, or forwards them and rewrites the answer
//! (a backup still CREATING); everything else is forwarded unchanged. Rules can be added and
//! cleared while it runs; every call is counted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Answer `action` calls (e.g. `DescribeTable`) whose `TableName` starts with `table` (any
/// table when empty) with `answer`, at most `times` times (`None`: always).
#[derive(Debug, Clone)]
pub struct Rule {
    pub action: &'static str,
    pub table: String,
    pub answer: Answer,
    pub times: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Answer {
    /// This HTTP status and error code, without forwarding.
    Error { status: u16, code: &'static str },
    /// Forwarded; every `from` in the answer's body replaced by `to`.
    Rewrite {
        from: &'static str,
        to: &'static str,
    },
}

impl Rule {
    /// `action` on tables starting with `table` fails with `status` and `code`, always.
    pub fn error(action: &'static str, table: &str, status: u16, code: &'static str) -> Rule {
        Rule {
            action,
            table: table.to_owned(),
            answer: Answer::Error { status, code },
            times: None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    /// Calls seen per action (forwarded or not).
    calls: HashMap<String, u32>,
    /// Calls answered with an injected error per action.
    injected: HashMap<String, u32>,
}

/// The running proxy; it stops when dropped.
#[derive(Debug)]
pub struct Injector {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Injector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Injector {
    /// Starts a proxy to `upstream` on a free local port.
    pub async fn start(upstream: &str) -> Injector {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = (
            Arc::new(upstream.trim_end_matches('/').to_owned()),
            state.clone(),
            reqwest::Client::new(),
        );
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (upstream, state, client) = shared.clone();
                        async move { Ok::<_, Infallible>(handle(req, &upstream, &state, &client).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), service)
                        .await;
                });
            }
        });
        Injector { url, state, task }
    }

    pub fn add(&self, rule: Rule) {
        self.state.lock().expect("state").rules.push(rule);
    }

    pub fn clear(&self) {
        self.state.lock().expect("state").rules.clear();
    }

    /// Calls of `action` seen so far.
    pub fn calls(&self, action: &str) -> u32 {
        let s = self.state.lock().expect("state");
        s.calls.get(action).copied().unwrap_or(0)
    }

    /// Calls of `action` answered with an injected error so far.
    pub fn injected(&self, action: &str) -> u32 {
        let s = self.state.lock().expect("state");
        s.injected.get(action).copied().unwrap_or(0)
    }

    /// A DynamoDB client with `sdk`'s settings, through this proxy (set on the client: an
    /// endpoint set on the `SdkConfig` loses to `AWS_ENDPOINT_URL` from the environment).
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .endpoint_url(&self.url)
                .build(),
        )
    }
}

async fn handle(
    req: Request<Incoming>,
    upstream: &str,
    state: &Mutex<State>,
    client: &reqwest::Client,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let action = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    let table = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["TableName"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let fault = {
        let mut s = state.lock().expect("state");
        *s.calls.entry(action.clone()).or_default() += 1;
        let hit = s
            .rules
            .iter_mut()
            .find(|r| r.action == action && table.starts_with(&r.table) && r.times != Some(0));
        let fault = hit.map(|r| {
            r.times = r.times.map(|n| n - 1);
            r.answer.clone()
        });
        if fault.is_some() {
            *s.injected.entry(action.clone()).or_default() += 1;
        }
        fault
    };
    let rewrite = match fault {
        Some(Answer::Error { status, code }) => return error(status, code),
        Some(Answer::Rewrite { from, to }) => Some((from, to)),
        None => None,
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = client.request(parts.method, format!("{upstream}{path}"));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    match out.body(body).send().await {
        Ok(answer) => {
            let mut r = Response::builder().status(answer.status());
            for (k, v) in answer.headers() {
                // A rewritten body no longer matches DynamoDB's CRC32 of it.
                let stale = rewrite.is_some() && k == "x-amz-crc32";
                if k != "content-length" && k != "transfer-encoding" && k != "connection" && !stale
                {
                    r = r.header(k, v);
                }
            }
            let mut bytes = answer.bytes().await.unwrap_or_default();
            if let Some((from, to)) = rewrite {
                let text = String::from_utf8_lossy(&bytes).replace(from, to);
                bytes = Bytes::from(text);
            }
            r.body(Full::new(bytes)).expect("response")
        }
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(e.to_string())));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}

fn error(status: u16, code: &str) -> Response<Full<Bytes>> {
    let body = format!(
        r#"{{"__type": "com.amazonaws.dynamodb.v20120810#{code}", "message": "injected by the test"}}"#
    );
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).expect("status");
    let h = r.headers_mut();
    h.insert(
        "content-type",
        "application/x-amz-json-1.0".parse().expect("header"),
    );
    h.insert("x-amzn-errortype", code.parse().expect("header"));
    r
}
