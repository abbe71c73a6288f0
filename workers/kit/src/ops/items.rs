//! A worker's own ops-table items as serde types: the same `serde_dynamo` mapping the kit's
//! claims and run records use, with the kit's errors. A worker declares its item as a struct
//! (`pk`, `sk`, its attributes, `expires_at`) and writes `to_item(&it, "…")` or reads
//! `from_item(item, "…")`; no attribute is written by hand.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::JobError;

/// An item as the SDK sends and returns it.
pub type Item = HashMap<String, AttributeValue>;

/// `value` as an item; `what` names it in the error (a value serde cannot map, such as a map
/// with non-string keys, is a permanent error: retrying cannot fix it).
pub fn to_item<T: Serialize>(value: &T, what: &str) -> Result<Item, JobError> {
    serde_dynamo::to_item(value)
        .map_err(|e| JobError::permanent("ops_table", format!("cannot store the {what}: {e}")))
}

/// The item read back as `T`; an item of another shape is a permanent `bad_record` error that
/// names it by `what` and its key.
pub fn from_item<T: DeserializeOwned>(item: Item, what: &str) -> Result<T, JobError> {
    let key = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let (pk, sk) = (key("pk"), key("sk"));
    serde_dynamo::from_item(item).map_err(|e| {
        JobError::permanent(
            "bad_record",
            format!("the ops table's {what} ({pk}, {sk}) is unreadable: {e}; delete it or fix it by hand"),
        )
    })
}

/// Writes `value` to `table` (an unconditional `PutItem`); `what` names it in errors.
pub async fn put<T: Serialize>(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    value: &T,
    what: &str,
) -> Result<(), JobError> {
    ddb.put_item()
        .table_name(table)
        .set_item(Some(to_item(value, what)?))
        .send()
        .await
        .map_err(|e| crate::classify::sdk_error(&format!("PutItem ({what})"), e))?;
    Ok(())
}

/// A `pk`/`sk` key.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// A field stored as its JSON text (an S attribute), for a nested record whose stored form
/// predates a typed item or must stay readable by tools that know no DynamoDB map:
/// `#[serde(with = "stoker_kit::ops::items::json_text")]`.
pub mod json_text {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `value` as its JSON text.
    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(value).map_err(S::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Reads the value back from its JSON text.
    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Lock {
        pk: String,
        sk: String,
        owner: String,
        until: i64,
    }

    #[test]
    fn an_item_round_trips_with_its_attribute_types() {
        let lock = Lock {
            pk: "OPTIMIZER#f".into(),
            sk: "LOCK".into(),
            owner: "e1".into(),
            until: 1_700_000_000,
        };
        let item = to_item(&lock, "lock").unwrap();
        assert_eq!(item["owner"], AttributeValue::S("e1".into()));
        assert_eq!(item["until"], AttributeValue::N("1700000000".into()));
        assert_eq!(from_item::<Lock>(item, "lock").unwrap(), lock);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Advice {
        pk: String,
        #[serde(with = "json_text")]
        advice: Vec<u32>,
    }

    #[test]
    fn a_json_text_field_is_an_s_attribute() {
        let a = Advice {
            pk: "p".into(),
            advice: vec![128, 256],
        };
        let item = to_item(&a, "advice").unwrap();
        assert_eq!(item["advice"], AttributeValue::S("[128,256]".into()));
        assert_eq!(from_item::<Advice>(item, "advice").unwrap(), a);
    }

    #[test]
    fn another_shape_is_a_bad_record_naming_its_key() {
        let mut item = key("OPTIMIZER#f", "LOCK");
        item.insert("until".into(), AttributeValue::S("soon".into()));
        let e = from_item::<Lock>(item, "lock").unwrap_err();
        assert!(e.to_string().contains("lock (OPTIMIZER#f, LOCK)"), "{e}");
    }
}
