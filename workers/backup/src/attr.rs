//! DynamoDB items as DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, ...), the export's line format,
//! and back; plus a canonical digest of an item for restore-drill comparisons.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub type Item = HashMap<String, AttributeValue>;

pub fn item_to_json(item: &Item) -> Value {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), to_json(&item[k])))
            .collect::<Map<_, _>>(),
    )
}

fn to_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": hex(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(n) => json!({ "NS": n }),
        AttributeValue::Bs(b) => {
            json!({ "BS": b.iter().map(|x| hex(x.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(l) => json!({ "L": l.iter().map(to_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_to_json(m) }),
        _ => json!({ "NULL": true }),
    }
}

pub fn item_from_json(v: &Value) -> Result<Item, String> {
    let obj = v.as_object().ok_or("an item line is not a JSON object")?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), from_json(v)?)))
        .collect()
}

fn from_json(v: &Value) -> Result<AttributeValue, String> {
    let (tag, inner) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("{v} is not a DynamoDB JSON value"))?;
    let strings = |x: &Value| -> Result<Vec<String>, String> {
        x.as_array()
            .ok_or("a set is not an array")?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "a set member is not a string".to_owned())
            })
            .collect()
    };
    let text = || {
        inner
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{tag} value is not a string"))
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "B" => AttributeValue::B(Blob::new(unhex(&text()?)?)),
        "BOOL" => AttributeValue::Bool(inner.as_bool().unwrap_or_default()),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(
            strings(inner)?
                .iter()
                .map(|s| unhex(s).map(Blob::new))
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or("L is not an array")?
                .iter()
                .map(from_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item_from_json(inner)?),
        other => return Err(format!("unknown DynamoDB type {other}")),
    })
}

/// A digest of an item that does not depend on attribute order.
pub fn digest(item: &Item) -> String {
    hex(&Sha256::digest(item_to_json(item).to_string().as_bytes()))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err("odd-length hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_and_digests_ignore_order() {
        let item: Item = HashMap::from([
            ("s".into(), AttributeValue::S("x".into())),
            ("n".into(), AttributeValue::N("1.5".into())),
            ("b".into(), AttributeValue::B(Blob::new(vec![0, 255]))),
            ("t".into(), AttributeValue::Bool(true)),
            ("z".into(), AttributeValue::Null(true)),
            ("ss".into(), AttributeValue::Ss(vec!["a".into()])),
            ("ns".into(), AttributeValue::Ns(vec!["2".into()])),
            (
                "l".into(),
                AttributeValue::L(vec![AttributeValue::S("y".into())]),
            ),
            (
                "m".into(),
                AttributeValue::M(HashMap::from([("k".into(), AttributeValue::N("3".into()))])),
            ),
        ]);
        let back = item_from_json(&item_to_json(&item)).unwrap();
        assert_eq!(back, item);
        assert_eq!(digest(&back), digest(&item));
        assert!(item_from_json(&json!({"a": {"X": 1}})).is_err());
    }
}
