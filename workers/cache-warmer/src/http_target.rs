//! Warming an HTTP endpoint (API Gateway, CDN): one request, the expected status, the bytes.

use std::time::{Duration, Instant};

use reqwest::Method;
use stoker_events::payload::cache::{HttpMethod, HttpTarget};
use stoker_kit::JobError;

use crate::policy;
use crate::report::TargetReport;

pub async fn warm(
    http: &reqwest::Client,
    t: &HttpTarget,
    allowed: &[String],
    report: &mut TargetReport,
) {
    match fetch(http, t, allowed).await {
        Ok((status, bytes, ms)) => {
            report.status = Some(status);
            report.latency_ms = ms;
            report.bytes = bytes;
            report.warmed = 1;
        }
        Err(e) => report.fail(&e),
    }
}

async fn fetch(
    http: &reqwest::Client,
    t: &HttpTarget,
    allowed: &[String],
) -> Result<(u16, u64, u64), JobError> {
    let url =
        policy::check(&t.url, allowed).map_err(|e| JobError::permanent("url_not_allowed", e))?;
    policy::check_resolved(&url)
        .await
        .map_err(|e| JobError::permanent("url_not_allowed", e))?;
    let method = match t.method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
    };
    let mut req = http
        .request(method, url)
        .timeout(Duration::from_millis(t.timeout_ms.into()));
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let started = Instant::now();
    let resp = req
        .send()
        .await
        .map_err(|e| JobError::transient(format!("{} {}: {e}", t.method_name(), t.url)))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| JobError::transient(format!("{}: reading the body: {e}", t.url)))?;
    let ms = started.elapsed().as_millis() as u64;
    if status != t.expected_status {
        let msg = format!(
            "{} answered {status}, expected {}",
            t.url, t.expected_status
        );
        return Err(if status >= 500 || status == 429 {
            JobError::transient(msg)
        } else {
            JobError::permanent("unexpected_status", msg)
        });
    }
    Ok((status, body.len() as u64, ms))
}

trait MethodName {
    fn method_name(&self) -> &'static str;
}

impl MethodName for HttpTarget {
    fn method_name(&self) -> &'static str {
        match self.method {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}
