//! Loading a value from its source: an HTTP JSON endpoint (optionally a part of it, by JSON
//! pointer), a DynamoDB item, or the items of one DynamoDB partition.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};
use stoker_events::payload::cache::ValueSource;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::body::{self, Budget, Keep};
use crate::{http_error, placeholder, policy, redact};

/// Clients and limits for loading values.
#[derive(Debug, Clone)]
pub struct Sources {
    pub http: reqwest::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub allowed_hosts: Vec<String>,
    pub allow_private: bool,
    pub timeout: Duration,
    pub max_value_bytes: usize,
}

impl Sources {
    /// The JSON value of `source`, with `{id}` replaced by `id` where given (percent-encoded
    /// in URLs, as is in DynamoDB key values); HTTP bodies count against `budget`.
    pub async fn load(
        &self,
        source: &ValueSource,
        id: Option<&str>,
        budget: &Budget,
    ) -> Result<Value, JobError> {
        let sub = |s: &str| id.map_or_else(|| s.to_owned(), |id| s.replace("{id}", id));
        let sub_value = |v: &Value| match v {
            Value::String(s) => Value::String(sub(s)),
            other => other.clone(),
        };
        match source {
            ValueSource::Http { url, pointer } => {
                let url = match id {
                    Some(id) => placeholder::in_url(url, id)?,
                    None => url.clone(),
                };
                let body = self.get_json(&url, budget).await?;
                match pointer.as_deref().filter(|p| !p.is_empty()) {
                    None => Ok(body),
                    Some(p) => body.pointer(p).cloned().ok_or_else(|| {
                        JobError::permanent(
                            "pointer_not_found",
                            format!("{} has nothing at {p}", redact::url(&url)),
                        )
                    }),
                }
            }
            ValueSource::DynamodbItem { table, key } => {
                let mut req = self.ddb.get_item().table_name(table).consistent_read(true);
                for (k, v) in key {
                    req = req.key(k, attr(&sub_value(v)));
                }
                let out = req
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("GetItem {table}"), e))?;
                let item = out.item.ok_or_else(|| {
                    JobError::permanent(
                        "item_not_found",
                        format!("no item in {table} with key {}", json!(key)),
                    )
                })?;
                Ok(item_json(&item))
            }
            ValueSource::DynamodbQuery {
                table,
                index,
                partition_key,
                partition_value,
                limit,
            } => {
                let out = self
                    .ddb
                    .query()
                    .table_name(table)
                    .set_index_name(index.clone())
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", partition_key)
                    .expression_attribute_values(":pk", attr(&sub_value(partition_value)))
                    .limit(*limit as i32)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("Query {table}"), e))?;
                Ok(Value::Array(out.items().iter().map(item_json).collect()))
            }
        }
    }

    async fn get_json(&self, url: &str, budget: &Budget) -> Result<Value, JobError> {
        let shown = redact::url(url);
        let parsed = policy::check(url, &self.allowed_hosts, self.allow_private)
            .map_err(|e| JobError::permanent("url_not_allowed", e))?;
        let resp = self
            .http
            .get(parsed)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http_error::job_error("GET", &shown, &e))?;
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(JobError::transient(format!("GET {shown}: {status}")));
        }
        if !status.is_success() {
            return Err(JobError::permanent(
                "source_status",
                format!("GET {shown}: {status}"),
            ));
        }
        let shown_get = format!("GET {shown}");
        let (bytes, _) =
            body::read(resp, self.max_value_bytes, budget, Keep::All, &shown_get).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            JobError::permanent(
                "source_not_json",
                format!("GET {shown}: the answer is not JSON ({e})"),
            )
        })
    }
}

/// A JSON scalar as a DynamoDB key attribute.
fn attr(v: &Value) -> AttributeValue {
    match v {
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        other => AttributeValue::S(other.to_string()),
    }
}

/// A DynamoDB item as plain JSON (numbers as JSON numbers where they fit, sets as arrays).
pub fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), value_json(&item[k])))
            .collect::<Map<_, _>>(),
    )
}

fn value_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => serde_json::from_str(n).unwrap_or(Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => item_json(m),
        AttributeValue::L(l) => Value::Array(l.iter().map(value_json).collect()),
        AttributeValue::Ss(s) => json!(s),
        AttributeValue::Ns(n) => Value::Array(
            n.iter()
                .map(|x| serde_json::from_str(x).unwrap_or(Value::Null))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The ids of a key expansion: each element of a JSON array (its `field`, or itself).
pub fn ids(list: &Value, field: Option<&str>, max: usize) -> Result<Vec<String>, String> {
    let items = list
        .as_array()
        .ok_or("the expansion source is not a JSON array")?;
    let mut out = Vec::new();
    for (i, item) in items.iter().take(max).enumerate() {
        let v = match field {
            Some(f) => item
                .get(f)
                .ok_or_else(|| format!("element {i} has no field {f:?}"))?,
            None => item,
        };
        out.push(match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => return Err(format!("element {i}: {other} is not a string or number id")),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_become_plain_json() {
        let item = HashMap::from([
            ("id".to_owned(), AttributeValue::N("7".into())),
            ("name".to_owned(), AttributeValue::S("x".into())),
            (
                "tags".to_owned(),
                AttributeValue::L(vec![AttributeValue::Bool(true)]),
            ),
        ]);
        assert_eq!(
            item_json(&item),
            json!({"id": 7, "name": "x", "tags": [true]})
        );
    }

    #[test]
    fn ids_from_fields_or_elements_capped() {
        assert_eq!(
            ids(&json!([{"id": 1}, {"id": "b"}, {"id": 3}]), Some("id"), 2).unwrap(),
            ["1", "b"]
        );
        assert_eq!(ids(&json!(["x", "y"]), None, 10).unwrap(), ["x", "y"]);
        assert!(ids(&json!({"not": "a list"}), None, 10).is_err());
        assert!(
            ids(&json!([{"other": 1}]), Some("id"), 10)
                .unwrap_err()
                .contains("no field")
        );
    }
}
