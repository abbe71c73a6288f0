//! DynamoDB items as DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, `{"B": "<base64>"}`, ...), the
//! export's line format, exactly as AWS writes it (binary values base64; a type this build does
//! not know is an error, never a NULL), and back; plus a canonical digest of an item for
//! restore-drill comparisons. Exports of format 1 wrote binary values in hex: they still
//! restore ([`Binary::Hex`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub type Item = HashMap<String, AttributeValue>;

/// How an export wrote binary values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// base64, as DynamoDB JSON has it (export format 2 on).
    Base64,
    /// hex (export format 1).
    Hex,
}

/// `item` as DynamoDB JSON, attributes in name order; an attribute of a type this build does not
/// know is an error (a newer DynamoDB type would otherwise be exported as something else).
pub fn item_to_json(item: &Item) -> Result<Value, String> {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            Ok((
                k.clone(),
                to_json(&item[k]).map_err(|e| format!("{k}: {e}"))?,
            ))
        })
        .collect::<Result<Map<_, _>, String>>()
        .map(Value::Object)
}

fn to_json(v: &AttributeValue) -> Result<Value, String> {
    let b64 = |b: &Blob| aws_smithy_types::base64::encode(b.as_ref());
    Ok(match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(n) => json!({ "NS": n }),
        AttributeValue::Bs(b) => json!({ "BS": b.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => {
            json!({ "L": l.iter().map(to_json).collect::<Result<Vec<_>, _>>()? })
        }
        AttributeValue::M(m) => json!({ "M": item_to_json(m)? }),
        other => {
            return Err(format!(
                "a DynamoDB type this build cannot export ({other:?})"
            ));
        }
    })
}

/// An item back from its DynamoDB JSON line, binary values written as `binary` says.
pub fn item_from_json(v: &Value, binary: Binary) -> Result<Item, String> {
    let obj = v.as_object().ok_or("an item line is not a JSON object")?;
    obj.iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                from_json(v, binary).map_err(|e| format!("{k}: {e}"))?,
            ))
        })
        .collect()
}

fn from_json(v: &Value, binary: Binary) -> Result<AttributeValue, String> {
    let (tag, inner) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .filter(|_| v.as_object().is_some_and(|o| o.len() == 1))
        .ok_or_else(|| format!("{v} is not a DynamoDB JSON value (one type tag)"))?;
    let bytes = |s: &str| -> Result<Vec<u8>, String> {
        match binary {
            Binary::Base64 => {
                aws_smithy_types::base64::decode(s).map_err(|e| format!("bad base64: {e}"))
            }
            Binary::Hex => unhex(s),
        }
    };
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
        "B" => AttributeValue::B(Blob::new(bytes(&text()?)?)),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL is not true or false")?),
        "NULL" if inner == &Value::Bool(true) => AttributeValue::Null(true),
        "NULL" => return Err("NULL is not true".into()),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(
            strings(inner)?
                .iter()
                .map(|s| bytes(s).map(Blob::new))
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or("L is not an array")?
                .iter()
                .map(|x| from_json(x, binary))
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item_from_json(inner, binary)?),
        other => return Err(format!("unknown DynamoDB type {other}")),
    })
}

/// A digest of an item that does not depend on attribute order (an item holding a type this
/// build does not know digests as its error: it can be compared, never exported).
pub fn digest(item: &Item) -> String {
    let text = item_to_json(item).map_or_else(|e| e, |v| v.to_string());
    hex(&Sha256::digest(text.as_bytes()))
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
        let line = item_to_json(&item).unwrap();
        assert_eq!(
            line["b"],
            json!({ "B": "AP8=" }),
            "binary is base64, as AWS writes it"
        );
        let back = item_from_json(&line, Binary::Base64).unwrap();
        assert_eq!(back, item);
        assert_eq!(digest(&back), digest(&item));
        for bad in [
            json!({"a": {"X": 1}}),
            json!({"a": {"BOOL": "yes"}}),
            json!({"a": {"NULL": false}}),
            json!({"a": {"B": "not base64!"}}),
            json!({"a": {"S": "x", "N": "1"}}),
        ] {
            assert!(item_from_json(&bad, Binary::Base64).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_format_1_export_still_reads_its_hex_binaries() {
        let line = json!({ "b": { "B": "00ff" }, "bs": { "BS": ["01"] } });
        let item = item_from_json(&line, Binary::Hex).unwrap();
        assert_eq!(item["b"], AttributeValue::B(Blob::new(vec![0, 255])));
        assert_eq!(item["bs"], AttributeValue::Bs(vec![Blob::new(vec![1])]));
    }
}
