//! The price of one request, read from the request the SDK is about to send: its service from
//! the SigV4 scope, its operation from `X-Amz-Target` (JSON protocols), the path (CloudWatch's
//! rpc-v2-cbor) or the method and path (Lambda, S3), and, for the few operations billed per
//! item, the items in its body.
//!
//! What each is priced as:
//! - DynamoDB: a request that asks for its consumed capacity (`ReturnConsumedCapacity`: the
//!   kit's claims, completions and run records, the backup's scans) at the units its answer
//!   says it consumed ([`capacity`]); any other, an estimate: a write of one item 1 write unit,
//!   a transactional write 2 per item, a read 1 read unit (an item up to 4 KB, strongly
//!   consistent); control-plane calls (backups, exports, describes) nothing per request (AWS
//!   bills their storage and bytes, not their calls);
//! - SQS: every request (a batch of 10 is one);
//! - EventBridge: `PutEvents` per entry; other calls nothing;
//! - CloudWatch: every request;
//! - Lambda: `Invoke` per request, and the invoked function's compute when the answer carries
//!   its log tail (`LogType=Tail`);
//! - S3: PUT, COPY, POST and LIST at the write price, the rest at the read price (`DELETE`
//!   is free); the bytes a `PutObject` or `UploadPart` sends, as a month of storage;
//! - every other service (CloudWatch Logs' API, SSM standard parameters, STS): nothing.

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

use super::prices::Prices;
use crate::calls::{Pending, Req, describe};

/// One request's service (its signing name) and price in USD (0 for what its answer prices).
pub fn price(request: &HttpRequest, prices: &Prices) -> (String, f64) {
    let (service, usd, _) = priced(request, prices);
    (service, usd)
}

/// [`price`], and what its answer will tell: the consumed capacity a DynamoDB request asked
/// for (then it is not estimated), an invocation's log tail.
pub(crate) fn priced(request: &HttpRequest, prices: &Prices) -> (String, f64, Option<Pending>) {
    let header = |name: &str| request.headers().get(name);
    let auth = header("authorization");
    let service = crate::calls::signing_service(auth).unwrap_or_else(|| "?".to_owned());
    let target_op = header("x-amz-target").map(|t| t.rsplit('.').next().unwrap_or(t));
    let body = || request.body().bytes().unwrap_or_default();
    if let (true, Some(op)) = (service == "dynamodb", target_op) {
        let estimate = dynamodb(op, body(), prices);
        return match (asks_capacity(body()), dynamodb_kind(op, estimate)) {
            (true, Some(kind)) => (service, 0.0, Some(kind)),
            _ => (service, estimate, None),
        };
    }
    let mut pending = None;
    let usd = match (service.as_str(), target_op) {
        ("sqs", _) => prices.sqs_request,
        ("events", Some("PutEvents")) => prices.events_entry * items_len(body()).max(1) as f64,
        ("events", _) => 0.0,
        ("monitoring", _) => prices.cloudwatch_request,
        ("lambda" | "s3", _) => {
            let call = describe(&Req {
                method: request.method(),
                uri: request.uri(),
                authorization: auth,
                copy_source: header("x-amz-copy-source"),
                ..Req::default()
            });
            if call.operation == "Invoke" {
                pending = Some(Pending::Invoke);
            }
            let stored = match call.operation.as_str() {
                "PutObject" | "UploadPart" => header("content-length")
                    .and_then(|l| l.parse::<f64>().ok())
                    .map_or(0.0, |bytes| bytes / 1e9 * prices.s3_gb_month),
                _ => 0.0,
            };
            rest(&service, &call.operation, prices) + stored
        }
        _ => 0.0,
    };
    (service, usd, pending)
}

/// Whether a DynamoDB request asks for its consumed capacity (`TOTAL` or `INDEXES`).
fn asks_capacity(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Asks {
        #[serde(rename = "ReturnConsumedCapacity", default)]
        capacity: Option<String>,
    }
    serde_json::from_slice::<Asks>(body)
        .ok()
        .and_then(|a| a.capacity)
        .is_some_and(|c| c != "NONE")
}

/// Whether a DynamoDB operation consumes read or write units (none: control plane), with its
/// `estimate`.
fn dynamodb_kind(op: &str, estimate: f64) -> Option<Pending> {
    match op {
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems" => {
            Some(Pending::DynamoDbWrite(estimate))
        }
        "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems" => {
            Some(Pending::DynamoDbRead(estimate))
        }
        _ => None,
    }
}

/// The capacity units a DynamoDB answer says it consumed (`ConsumedCapacity`: one object, or
/// one per table for batches and transactions), priced as `kind`'s units; an answer that says
/// none (an error: a failed condition, a cancelled transaction) at the request's estimate.
pub(crate) fn capacity(kind: Pending, body: &[u8], prices: &Prices) -> f64 {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Consumed {
        One(Units),
        Many(Vec<Units>),
    }
    #[derive(serde::Deserialize)]
    struct Units {
        #[serde(rename = "CapacityUnits", default)]
        units: f64,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "ConsumedCapacity")]
        consumed: Option<Consumed>,
    }
    let (unit, estimate) = match kind {
        Pending::DynamoDbWrite(e) => (prices.dynamodb_write_unit, e),
        Pending::DynamoDbRead(e) => (prices.dynamodb_read_unit, e),
        Pending::Invoke => return 0.0,
    };
    match serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.consumed)
    {
        Some(Consumed::One(u)) => u.units * unit,
        Some(Consumed::Many(all)) => all.iter().map(|u| u.units).sum::<f64>() * unit,
        // AWS bills a failed condition and a cancelled transaction, not a throttled, invalid
        // or failed request.
        None if billed_error(body) => estimate,
        None => 0.0,
    }
}

/// A DynamoDB error answer AWS still bills capacity for.
fn billed_error(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(rename = "__type", default)]
        kind: String,
    }
    serde_json::from_slice::<Error>(body).is_ok_and(|e| {
        e.kind.ends_with("ConditionalCheckFailedException")
            || e.kind.ends_with("TransactionCanceledException")
    })
}

fn dynamodb(op: &str, body: &[u8], p: &Prices) -> f64 {
    match op {
        "PutItem" | "UpdateItem" | "DeleteItem" => p.dynamodb_write_unit,
        "GetItem" | "Query" | "Scan" => p.dynamodb_read_unit,
        "TransactWriteItems" => 2.0 * p.dynamodb_write_unit * items_len(body) as f64,
        "TransactGetItems" => 2.0 * p.dynamodb_read_unit * items_len(body) as f64,
        "BatchWriteItem" => p.dynamodb_write_unit * per_table_len(body, false) as f64,
        "BatchGetItem" => p.dynamodb_read_unit * per_table_len(body, true) as f64,
        _ => 0.0,
    }
}

fn rest(service: &str, op: &str, p: &Prices) -> f64 {
    match (service, op) {
        ("lambda", "Invoke") => p.lambda_request,
        ("lambda", _) => 0.0,
        (_, "DeleteObject" | "DeleteObjects" | "AbortMultipartUpload") => 0.0,
        (_, op)
            if op.starts_with("Put")
                || op.starts_with("List")
                || matches!(
                    op,
                    "CopyObject"
                        | "UploadPart"
                        | "CreateMultipartUpload"
                        | "CompleteMultipartUpload"
                ) =>
        {
            p.s3_write_request
        }
        _ => p.s3_read_request,
    }
}

/// The items of a transaction (`TransactItems`) or the entries of a `PutEvents` (`Entries`) in
/// a JSON body (0 when there are none). They are skipped, not parsed: this runs on every
/// batched claim and completion.
fn items_len(body: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(rename = "TransactItems", alias = "Entries", default)]
        items: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Top>(body).map_or(0, |t| t.items.len())
}

/// Items of a batch call: per table under `RequestItems`, an array (`BatchWriteItem`) or the
/// array under `Keys` (`BatchGetItem`, `keys`). The items are skipped, not parsed.
fn per_table_len(body: &[u8], keys: bool) -> usize {
    use serde::de::IgnoredAny;
    use std::collections::HashMap;
    #[derive(serde::Deserialize)]
    struct Writes {
        #[serde(rename = "RequestItems", default)]
        tables: HashMap<String, Vec<IgnoredAny>>,
    }
    #[derive(serde::Deserialize)]
    struct Reads {
        #[serde(rename = "RequestItems", default)]
        tables: HashMap<String, Keys>,
    }
    #[derive(serde::Deserialize)]
    struct Keys {
        #[serde(rename = "Keys", default)]
        keys: Vec<IgnoredAny>,
    }
    if keys {
        serde_json::from_slice::<Reads>(body)
            .map_or(0, |r| r.tables.values().map(|t| t.keys.len()).sum())
    } else {
        serde_json::from_slice::<Writes>(body).map_or(0, |w| w.tables.values().map(Vec::len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        service: &str,
        target: Option<&str>,
        uri: &str,
        method: &str,
        body: &str,
    ) -> HttpRequest {
        let mut r = HttpRequest::new(aws_smithy_types::body::SdkBody::from(body.to_owned()));
        r.set_uri(uri).unwrap();
        r.set_method(method).unwrap();
        r.headers_mut().insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x"),
        );
        if let Some(t) = target {
            r.headers_mut().insert("x-amz-target", t.to_owned());
        }
        r
    }

    #[test]
    fn each_service_is_priced_as_aws_bills_it() {
        let p = Prices::default();
        let cases = [
            (
                request(
                    "dynamodb",
                    Some("DynamoDB_20120810.PutItem"),
                    "https://dynamodb.us-east-1.amazonaws.com/",
                    "POST",
                    "{}",
                ),
                "dynamodb",
                p.dynamodb_write_unit,
            ),
            (
                request(
                    "dynamodb",
                    Some("DynamoDB_20120810.Query"),
                    "https://dynamodb.us-east-1.amazonaws.com/",
                    "POST",
                    "{}",
                ),
                "dynamodb",
                p.dynamodb_read_unit,
            ),
            (
                request(
                    "dynamodb",
                    Some("DynamoDB_20120810.TransactWriteItems"),
                    "https://dynamodb.us-east-1.amazonaws.com/",
                    "POST",
                    r#"{"TransactItems":[{},{},{}]}"#,
                ),
                "dynamodb",
                6.0 * p.dynamodb_write_unit,
            ),
            (
                request(
                    "dynamodb",
                    Some("DynamoDB_20120810.BatchWriteItem"),
                    "https://dynamodb.us-east-1.amazonaws.com/",
                    "POST",
                    r#"{"RequestItems":{"a":[{},{}],"b":[{}]}}"#,
                ),
                "dynamodb",
                3.0 * p.dynamodb_write_unit,
            ),
            (
                request(
                    "dynamodb",
                    Some("DynamoDB_20120810.CreateBackup"),
                    "https://dynamodb.us-east-1.amazonaws.com/",
                    "POST",
                    "{}",
                ),
                "dynamodb",
                0.0,
            ),
            (
                request(
                    "sqs",
                    Some("AmazonSQS.DeleteMessageBatch"),
                    "https://sqs.us-east-1.amazonaws.com/",
                    "POST",
                    "{}",
                ),
                "sqs",
                p.sqs_request,
            ),
            (
                request(
                    "events",
                    Some("AWSEvents.PutEvents"),
                    "https://events.us-east-1.amazonaws.com/",
                    "POST",
                    r#"{"Entries":[{},{}]}"#,
                ),
                "events",
                2.0 * p.events_entry,
            ),
            (
                request(
                    "monitoring",
                    None,
                    "https://monitoring.us-east-1.amazonaws.com/service/GraniteServiceVersion20100801/operation/PutMetricData",
                    "POST",
                    "",
                ),
                "monitoring",
                p.cloudwatch_request,
            ),
            (
                request(
                    "lambda",
                    None,
                    "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/invocations",
                    "POST",
                    "",
                ),
                "lambda",
                p.lambda_request,
            ),
            (
                request(
                    "lambda",
                    None,
                    "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/configuration",
                    "GET",
                    "",
                ),
                "lambda",
                0.0,
            ),
            (
                request(
                    "s3",
                    None,
                    "https://b.s3.us-east-1.amazonaws.com/k",
                    "PUT",
                    "",
                ),
                "s3",
                p.s3_write_request,
            ),
            (
                request(
                    "s3",
                    None,
                    "https://b.s3.us-east-1.amazonaws.com/k",
                    "GET",
                    "",
                ),
                "s3",
                p.s3_read_request,
            ),
            (
                request(
                    "s3",
                    None,
                    "https://b.s3.us-east-1.amazonaws.com/k",
                    "DELETE",
                    "",
                ),
                "s3",
                0.0,
            ),
            (
                request(
                    "logs",
                    Some("Logs_20140328.DescribeLogGroups"),
                    "https://logs.us-east-1.amazonaws.com/",
                    "POST",
                    "{}",
                ),
                "logs",
                0.0,
            ),
        ];
        for (req, service, usd) in cases {
            let (s, got) = price(&req, &p);
            assert_eq!(s, service);
            assert!(
                (got - usd).abs() < 1e-15,
                "{} {}: {got} != {usd}",
                req.method(),
                req.uri()
            );
        }
    }

    #[test]
    fn a_dynamodb_request_asking_for_its_capacity_is_priced_by_its_answer() {
        let p = Prices::default();
        let put = request(
            "dynamodb",
            Some("DynamoDB_20120810.PutItem"),
            "https://dynamodb.us-east-1.amazonaws.com/",
            "POST",
            r#"{"TableName":"t","ReturnConsumedCapacity":"TOTAL"}"#,
        );
        let (service, usd, pending) = priced(&put, &p);
        assert_eq!((service.as_str(), usd), ("dynamodb", 0.0), "not estimated");
        assert_eq!(pending, Some(Pending::DynamoDbWrite(p.dynamodb_write_unit)));
        // A 3 KB item: 3 write units.
        let one = br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":3.0}}"#;
        assert_eq!(
            capacity(Pending::DynamoDbWrite(p.dynamodb_write_unit), one, &p),
            3.0 * p.dynamodb_write_unit
        );
        // A transaction over two tables.
        let many = br#"{"ConsumedCapacity":[{"TableName":"a","CapacityUnits":4.0},{"TableName":"b","CapacityUnits":2.0}]}"#;
        assert_eq!(
            capacity(Pending::DynamoDbWrite(p.dynamodb_write_unit), many, &p),
            6.0 * p.dynamodb_write_unit
        );
        // A failed condition says no capacity: the estimate, as AWS still bills it.
        let failed = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
        assert_eq!(
            capacity(Pending::DynamoDbWrite(p.dynamodb_write_unit), failed, &p),
            p.dynamodb_write_unit
        );
        // A throttled request is not billed.
        let throttled = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
        assert_eq!(
            capacity(Pending::DynamoDbWrite(p.dynamodb_write_unit), throttled, &p),
            0.0
        );
        // An eventually consistent scan page: half units, at the read price.
        let scan = br#"{"Items":[],"ConsumedCapacity":{"TableName":"t","CapacityUnits":12.5}}"#;
        assert_eq!(
            capacity(Pending::DynamoDbRead(p.dynamodb_read_unit), scan, &p),
            12.5 * p.dynamodb_read_unit
        );
        // NONE asks for nothing: estimated.
        let none = request(
            "dynamodb",
            Some("DynamoDB_20120810.GetItem"),
            "https://dynamodb.us-east-1.amazonaws.com/",
            "POST",
            r#"{"ReturnConsumedCapacity":"NONE"}"#,
        );
        assert_eq!(priced(&none, &p).1, p.dynamodb_read_unit);
        assert_eq!(priced(&none, &p).2, None);
    }

    #[test]
    fn an_upload_adds_a_month_of_storage_of_its_bytes() {
        let p = Prices::default();
        let mut put = request(
            "s3",
            None,
            "https://b.s3.us-east-1.amazonaws.com/exports/part-0.json.gz",
            "PUT",
            "",
        );
        put.headers_mut().insert("content-length", "2000000000");
        let (_, usd, _) = priced(&put, &p);
        let expected = p.s3_write_request + 2.0 * p.s3_gb_month;
        assert!((usd - expected).abs() < 1e-12, "{usd} vs {expected}");
    }
}
