//! Warming an HTTP endpoint (API Gateway, CDN): one request, the expected status, the bytes
//! (read as a stream, counted, not kept).

use std::time::{Duration, Instant};

use reqwest::Method;
use stoker_events::payload::cache::{HttpMethod, HttpTarget};
use stoker_kit::JobError;

use crate::body::{self, Budget, Keep};
use crate::report::TargetReport;
use crate::source::Sources;
use crate::{http_error, policy, redact};

pub async fn warm(sources: &Sources, t: &HttpTarget, budget: &Budget, report: &mut TargetReport) {
    match fetch(sources, t, budget).await {
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
    sources: &Sources,
    t: &HttpTarget,
    budget: &Budget,
) -> Result<(u16, u64, u64), JobError> {
    let shown = redact::url(&t.url);
    let url = policy::check(&t.url, &sources.allowed_hosts, sources.allow_private)
        .map_err(|e| JobError::permanent("url_not_allowed", e))?;
    let (method, name) = match t.method {
        HttpMethod::Get => (Method::GET, "GET"),
        HttpMethod::Head => (Method::HEAD, "HEAD"),
    };
    let mut req = sources
        .http
        .request(method, url)
        .timeout(Duration::from_millis(t.timeout_ms.into()));
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    let started = Instant::now();
    let resp = req
        .send()
        .await
        .map_err(|e| http_error::job_error(name, &shown, &e))?;
    let status = resp.status().as_u16();
    if status != t.expected_status {
        let msg = format!(
            "{name} {shown} answered {status}, expected {}",
            t.expected_status
        );
        return Err(if status >= 500 || status == 429 {
            JobError::transient(msg)
        } else {
            JobError::permanent("unexpected_status", msg)
        });
    }
    let bytes = match t.method {
        HttpMethod::Head => 0,
        HttpMethod::Get => {
            let what = format!("{name} {shown}");
            body::read(resp, sources.max_value_bytes, budget, Keep::Count, &what)
                .await?
                .1
        }
    };
    let ms = started.elapsed().as_millis() as u64;
    Ok((status, bytes, ms))
}
