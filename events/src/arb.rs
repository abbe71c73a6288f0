//! proptest strategies for the fields derive(Arbitrary) cannot invent on its own.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

pub fn json_object() -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(
        proptest::collection::btree_map("[a-z]{1,6}", scalar(), 0..3).prop_map(|m| json!(m)),
    )
}

pub fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z0-9]{0,8}".prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

pub fn item_key() -> impl Strategy<Value = BTreeMap<String, Value>> {
    proptest::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![
            "[a-z0-9]{1,8}".prop_map(Value::from),
            any::<u32>().prop_map(Value::from)
        ],
        1..3,
    )
}

pub fn headers() -> impl Strategy<Value = BTreeMap<String, String>> {
    // X- names: never Host or a framing header, which validation refuses.
    proptest::collection::btree_map("X-[A-Z][a-z-]{1,10}", "[ -~]{0,12}", 0..3)
}

pub fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 .. 2026-09: the decoder refuses times before 2000 or ahead of its clock.
    (946_684_800i64..1_790_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or_default())
}

pub fn uuid() -> impl Strategy<Value = uuid::Uuid> {
    // Never the nil UUID, which the decoder refuses.
    any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n.max(1)))
}

pub fn json_value() -> impl Strategy<Value = Value> {
    json_object().prop_map(Option::unwrap_or_default)
}
