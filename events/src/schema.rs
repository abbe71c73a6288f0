//! JSON Schemas (draft 2020-12) generated from the Rust types: one per kind, describing the
//! envelope (an EventBridge entry's `detail`, or an SQS body) with that kind's payload.
//! Committed under `schemas/`; `STOKER_BLESS=1 cargo test -p stoker-events` regenerates them.

use serde_json::{Value, json};

use crate::body::Body;
use crate::envelope::SCHEMA_VERSION;
use crate::kind::Kind;

/// The file name of `kind`'s schema (and of its example) under `schemas/`.
pub fn file_name(kind: Kind) -> String {
    format!("{}.json", kind.detail_type())
}

/// The JSON Schema of an envelope carrying a payload of `kind`.
pub fn for_kind(kind: Kind) -> Value {
    let mut schema = Body::envelope_schema(kind).to_value();
    schema["$id"] = json!(format!("https://schemas.stoker.dev/{}", file_name(kind)));
    schema["title"] = json!(format!(
        "{} (stoker event, schema version {SCHEMA_VERSION})",
        kind.detail_type()
    ));
    schema["properties"]["kind"] = json!({ "const": kind.detail_type() });
    schema["properties"]["version"] =
        json!({ "type": "integer", "minimum": 1, "maximum": SCHEMA_VERSION });
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        defs.remove("Kind");
    }
    schema
}

/// Every kind's schema, pretty-printed with a trailing newline (the committed form).
pub fn all() -> Vec<(String, String)> {
    Kind::ALL
        .into_iter()
        .map(|k| {
            let text = serde_json::to_string_pretty(&for_kind(k)).unwrap_or_default();
            (file_name(k), text + "\n")
        })
        .collect()
}
