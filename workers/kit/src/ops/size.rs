//! The size of a transaction's items, as DynamoDB counts it against its 4 MB limit: attribute
//! names and values (a string's UTF-8 bytes, a number's digits, a binary's bytes; sets, lists
//! and maps their elements plus a few bytes each), and each request's expressions. An
//! estimate on the high side: a batch is cut before the service would refuse it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

/// DynamoDB's limit of bytes per transaction.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of one value.
fn value(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(|s| s.len() + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len() + 1).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value(e)).sum::<usize>(),
        AttributeValue::M(m) => 3 + map(m),
        _ => 1,
    }
}

/// Bytes of an item or a key: names and values.
fn map(m: &HashMap<String, AttributeValue>) -> usize {
    m.iter().map(|(k, v)| k.len() + value(v)).sum()
}

fn names(m: Option<&HashMap<String, String>>) -> usize {
    m.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.len()).sum())
}

fn values(m: Option<&HashMap<String, AttributeValue>>) -> usize {
    m.map_or(0, map)
}

/// Bytes of one transaction item (its item or key, expressions, names and values).
pub fn item(i: &TransactWriteItem) -> usize {
    let text = |s: Option<&str>| s.map_or(0, str::len);
    let mut n = 0;
    if let Some(p) = i.put() {
        n += map(p.item()) + text(p.condition_expression());
        n += names(p.expression_attribute_names()) + values(p.expression_attribute_values());
    }
    if let Some(u) = i.update() {
        n += map(u.key()) + u.update_expression().len() + text(u.condition_expression());
        n += names(u.expression_attribute_names()) + values(u.expression_attribute_values());
    }
    if let Some(d) = i.delete() {
        n += map(d.key()) + text(d.condition_expression());
        n += names(d.expression_attribute_names()) + values(d.expression_attribute_values());
    }
    if let Some(c) = i.condition_check() {
        n += map(c.key()) + c.condition_expression().len();
        n += names(c.expression_attribute_names()) + values(c.expression_attribute_values());
    }
    // The table name and the request's framing.
    n + 64
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Put;

    #[test]
    fn an_items_names_and_values_count() {
        let put = |v: AttributeValue| {
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("t")
                        .item("pk", AttributeValue::S("a".into()))
                        .item("body", v)
                        .build()
                        .expect("put"),
                )
                .build()
        };
        assert_eq!(
            item(&put(AttributeValue::S("x".repeat(1000)))),
            2 + 1 + 4 + 1000 + 64
        );
        let nested = AttributeValue::M(HashMap::from([(
            "k".to_owned(),
            AttributeValue::L(vec![AttributeValue::N("12".into())]),
        )]));
        assert_eq!(item(&put(nested)), 2 + 1 + 4 + (3 + 1 + (3 + 1 + 2)) + 64);
    }
}
