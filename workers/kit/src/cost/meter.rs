//! The price of one request, read from the request the SDK is about to send: its service from
//! the SigV4 scope, its operation from `X-Amz-Target` (JSON protocols), the path (CloudWatch's
//! rpc-v2-cbor) or the method and path (Lambda, S3), and, for the few operations billed per
//! item, the items in its body.
//!
//! What each is priced as (an estimate: the response's consumed capacity is not read):
//! - DynamoDB: a write of one item 1 write unit, a transactional write 2 per item, a read
//!   1 read unit (an item up to 4 KB, strongly consistent; eventually consistent reads cost
//!   half, large queries more); control-plane calls (backups, exports, describes) nothing per
//!   request (AWS bills their storage and bytes, not their calls);
//! - SQS: every request (a batch of 10 is one);
//! - EventBridge: `PutEvents` per entry; other calls nothing;
//! - CloudWatch: every request;
//! - Lambda: `Invoke` per request (the invoked function's duration is billed to it, not here);
//! - S3: PUT, COPY, POST and LIST at the write price, the rest at the read price (`DELETE`
//!   is free);
//! - every other service (CloudWatch Logs' API, SSM standard parameters, STS): nothing.

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

use super::prices::Prices;
use crate::calls::{Req, describe};

/// One request's service (its signing name) and price in USD.
pub fn price(request: &HttpRequest, prices: &Prices) -> (String, f64) {
    let header = |name: &str| request.headers().get(name);
    let auth = header("authorization");
    let service = crate::calls::signing_service(auth).unwrap_or_else(|| "?".to_owned());
    let target_op = header("x-amz-target").map(|t| t.rsplit('.').next().unwrap_or(t));
    let body = || request.body().bytes().unwrap_or_default();
    let usd = match (service.as_str(), target_op) {
        ("dynamodb", Some(op)) => dynamodb(op, body(), prices),
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
            rest(&service, &call.operation, prices)
        }
        _ => 0.0,
    };
    (service, usd)
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
}
