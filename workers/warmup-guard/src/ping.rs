//! The warm-up protocol: what a ping looks like and what the guard answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The key that marks a stoker warm-up ping.
pub const MARKER: &str = "stoker_warmup";

/// serverless-plugin-warmup's default payload source.
const PLUGIN_SOURCE: &str = "serverless-plugin-warmup";

/// The longest hold the guard honours, whatever the ping asks.
pub const MAX_HOLD_MS: u64 = 10_000;

/// A stoker warm-up ping, carried as `{"stoker_warmup": Ping, ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    /// Ties the replies of one warm-up pass together.
    pub correlation_id: String,
    /// Which of the `concurrency` pings this is (from 0).
    pub index: u32,
    pub concurrency: u32,
    /// How long to hold the ping open before answering.
    #[serde(default)]
    pub hold_open_ms: u64,
}

impl Ping {
    /// The JSON payload of this ping, with `extra` (a target's own fields) merged in.
    pub fn payload(&self, extra: Option<&Value>) -> Value {
        let mut out = match extra {
            Some(Value::Object(m)) => Value::Object(m.clone()),
            _ => Value::Object(Default::default()),
        };
        out[MARKER] = serde_json::to_value(self).unwrap_or_default();
        out
    }
}

/// The guard's answer to a ping, carried as `{"stoker_warmup": Reply}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub instance_id: String,
    /// Whether the ping was this instance's first invocation.
    pub cold: bool,
    pub uptime_ms: u64,
    /// The function version the instance runs (`AWS_LAMBDA_FUNCTION_VERSION`): an alias
    /// target shows its version here, not `$LATEST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl Reply {
    /// Reads a reply out of a function's response; `None` when the function did not answer
    /// as a guarded function does (it ran its handler instead).
    pub fn from_response(v: &Value) -> Option<Reply> {
        serde_json::from_value(v.get(MARKER)?.clone()).ok()
    }
}

/// What kind of event arrived.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Detected {
    Stoker(Ping),
    Plugin,
    NotAPing,
}

pub(crate) fn detect(event: &Value) -> Detected {
    if let Some(marker) = event.get(MARKER)
        && let Ok(ping) = serde_json::from_value::<Ping>(marker.clone())
    {
        return Detected::Stoker(ping);
    }
    if event.get("source").and_then(Value::as_str) == Some(PLUGIN_SOURCE) {
        return Detected::Plugin;
    }
    Detected::NotAPing
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ping() -> Ping {
        Ping {
            correlation_id: "c".into(),
            index: 1,
            concurrency: 3,
            hold_open_ms: 50,
        }
    }

    #[test]
    fn a_ping_payload_is_detected_with_its_fields() {
        let p = ping().payload(Some(&json!({"tenant": "a"})));
        assert_eq!(p["tenant"], "a");
        assert_eq!(detect(&p), Detected::Stoker(ping()));
    }

    #[test]
    fn the_plugin_default_payload_is_a_ping() {
        assert_eq!(
            detect(&json!({"source": "serverless-plugin-warmup"})),
            Detected::Plugin
        );
    }

    #[test]
    fn ordinary_events_are_not_pings() {
        for e in [
            json!({"name": "x"}),
            json!({"source": "aws.events"}),
            json!({"stoker_warmup": "not an object"}),
            json!([1, 2]),
            json!(null),
        ] {
            assert_eq!(detect(&e), Detected::NotAPing, "{e}");
        }
    }

    #[test]
    fn replies_round_trip_and_handler_answers_are_not_replies() {
        let r = Reply {
            instance_id: "i".into(),
            cold: true,
            uptime_ms: 3,
            version: None,
            correlation_id: None,
            index: Some(2),
        };
        let v = json!({ MARKER: r });
        assert_eq!(Reply::from_response(&v), Some(r));
        assert_eq!(Reply::from_response(&json!({"greeting": "hi"})), None);
    }
}
