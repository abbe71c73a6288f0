//! What a request must pass before the worker fetches or writes anything: every URL against
//! the allow-list and the address rules, no header that would redirect or reframe a request
//! (`Host` above all: it would send the request to another virtual host than the allow-listed
//! one), and no more keys than one job may warm.

use reqwest::header::{HeaderName, HeaderValue};
use stoker_events::payload::cache::{CacheTarget, CacheWarmRequest, ValueSource};
use stoker_kit::JobError;

use crate::config::CacheConfig;
use crate::policy;

/// Headers a request may not set: the target host and the message framing belong to the
/// worker (the decoder refuses them too).
use stoker_events::names::REFUSED_HEADERS as FORBIDDEN_HEADERS;

/// Refuses `req` (permanently, naming the field) when any check fails.
pub fn request(req: &CacheWarmRequest, config: &CacheConfig) -> Result<(), JobError> {
    let refuse =
        |code: &str, path: String, e: String| JobError::permanent(code, format!("{path}: {e}"));
    let check_url = |path: String, url: &str| {
        policy::check(url, &config.allowed_hosts, config.allow_private_networks)
            .map(|_| ())
            .map_err(|e| refuse("url_not_allowed", path, e))
    };
    let source_url = |s: &ValueSource| match s {
        ValueSource::Http { url, .. } => Some(url.replace("{id}", "id")),
        _ => None,
    };
    for (i, inv) in req.invalidate.iter().enumerate() {
        let under = config
            .invalidate_prefixes
            .iter()
            .any(|p| inv.pattern.starts_with(p.as_str()));
        if !under {
            let allowed = match config.invalidate_prefixes.is_empty() {
                true => "none is configured: set STOKER_CACHE_INVALIDATE_PREFIXES (stack parameter CacheInvalidatePrefixes)".to_owned(),
                false => format!("allowed: {}", config.invalidate_prefixes.join(", ")),
            };
            return Err(refuse(
                "pattern_not_allowed",
                format!("invalidate[{i}].pattern"),
                format!(
                    "{:?} is not under a prefix this worker may invalidate ({allowed})",
                    inv.pattern
                ),
            ));
        }
    }
    let mut keys = 0usize;
    for (i, t) in req.targets.iter().enumerate() {
        match t {
            CacheTarget::Http(h) => {
                keys += 1;
                check_url(format!("targets[{i}].url"), &h.url)?;
                for (name, value) in &h.headers {
                    header(name, value).map_err(|e| {
                        refuse("bad_header", format!("targets[{i}].headers.{name}"), e)
                    })?;
                }
            }
            CacheTarget::Redis(r) => {
                keys += r.expand.as_ref().map_or(1, |e| e.max_keys as usize);
                if let Some(u) = source_url(&r.source) {
                    check_url(format!("targets[{i}].source.url"), &u)?;
                }
                if let Some(u) = r.expand.as_ref().and_then(|e| source_url(&e.source)) {
                    check_url(format!("targets[{i}].expand.source.url"), &u)?;
                }
            }
        }
    }
    if keys > config.max_keys_per_job {
        return Err(JobError::permanent(
            "too_many_keys",
            format!(
                "targets: the request may warm up to {keys} keys (1 per HTTP target and plain key, max_keys per expansion), over the limit of {} per job (STOKER_CACHE_MAX_KEYS_PER_JOB): split it or lower max_keys",
                config.max_keys_per_job
            ),
        ));
    }
    Ok(())
}

fn header(name: &str, value: &str) -> Result<(), String> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    if FORBIDDEN_HEADERS.contains(&parsed.as_str()) {
        return Err(format!(
            "the {name} header is set by the worker, never by a request (it would change where or how the request goes)"
        ));
    }
    HeaderValue::from_str(value).map_err(|_| {
        "the value is not a valid header value (control characters such as CR/LF are refused)"
            .to_owned()
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn req(v: serde_json::Value) -> CacheWarmRequest {
        serde_json::from_value(v).expect("a request")
    }

    fn config() -> CacheConfig {
        CacheConfig::new("redis://x", &["api.example.com"])
    }

    #[test]
    fn host_and_framing_headers_are_refused_in_any_case() {
        for name in [
            "Host",
            "host",
            "HOST",
            "Transfer-Encoding",
            "Content-Length",
        ] {
            let r = req(
                json!({"targets": [{"type": "http", "url": "https://api.example.com/",
                "headers": {"accept": "application/json", name: "evil.example.org"}}]}),
            );
            let e = request(&r, &config()).unwrap_err();
            assert!(e.is_permanent(), "{e:?}");
            assert_eq!(e.code(), "bad_header");
            assert!(
                e.to_string()
                    .starts_with(&format!("targets[0].headers.{name}: ")),
                "{e}"
            );
        }
        let crlf = req(
            json!({"targets": [{"type": "http", "url": "https://api.example.com/",
            "headers": {"x-a": "b\r\nHost: evil"}}]}),
        );
        assert!(
            request(&crlf, &config())
                .unwrap_err()
                .to_string()
                .contains("CR/LF")
        );
        let ok = req(
            json!({"targets": [{"type": "http", "url": "https://api.example.com/",
            "headers": {"accept": "application/json", "x-warm": "1"}}]}),
        );
        assert!(request(&ok, &config()).is_ok());
    }

    #[test]
    fn the_keys_of_a_job_are_bounded_before_any_fetch() {
        let target = |max: u32| {
            json!({"type": "redis", "key": "k:{id}", "ttl_seconds": 60,
            "source": {"type": "http", "url": "https://api.example.com/{id}"},
            "expand": {"source": {"type": "http", "url": "https://api.example.com/ids"}, "max_keys": max}})
        };
        let mut c = config();
        c.max_keys_per_job = 15_000;
        assert!(
            request(
                &req(json!({"targets": [target(10_000), target(5_000)]})),
                &c
            )
            .is_ok()
        );
        let e = request(&req(json!({"targets": [target(10_000), target(5_000), {"type": "http", "url": "https://api.example.com/"}]})), &c)
            .unwrap_err();
        assert_eq!(e.code(), "too_many_keys");
        assert!(e.to_string().contains("up to 15001 keys"), "{e}");
    }
}
