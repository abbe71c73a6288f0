//! What one request to AWS is: its service, its operation, the resource it acts on and the
//! condition-key values IAM would see, read from the request the SDK is about to send.
//!
//! - the service and region come from the SigV4 signing scope (`Credential=.../us-east-1/dynamodb/...`);
//! - JSON protocols (DynamoDB, SQS, EventBridge, SSM, CloudWatch Logs) name the operation in
//!   `X-Amz-Target` and the resource in the JSON body;
//! - CloudWatch speaks rpc-v2-cbor: the operation is the path's last segment, the namespace a
//!   key of the CBOR body;
//! - REST services (Lambda, S3) are read from the method, the path and the query ([`super::rest`]).
//!
//! A request none of these recognise is described as `?METHOD /path`, so the check fails on it
//! rather than passing it unexamined.

use std::collections::BTreeMap;

use serde_json::Value;

use super::rest;
use super::{Call, Item};

/// The parts of an HTTP request the description reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Req<'a> {
    /// The HTTP method (`POST`, `GET`, ...).
    pub method: &'a str,
    /// The full request URI, host included (REST services, S3 among them, are read from it).
    pub uri: &'a str,
    /// The `Authorization` header: its SigV4 scope gives the service and region.
    pub authorization: Option<&'a str>,
    /// The `X-Amz-Target` header: the operation of JSON-protocol services.
    pub target: Option<&'a str>,
    /// `x-amz-copy-source` (S3 CopyObject).
    pub copy_source: Option<&'a str>,
    /// `content-encoding`: the SDK gzips large bodies (CloudWatch PutMetricData).
    pub content_encoding: Option<&'a str>,
    /// The body as sent (gzipped when `content_encoding` says so).
    pub body: &'a [u8],
}

/// Where a call goes: the signing name (`dynamodb`, `monitoring`, ...), the region and, when
/// the request shows it, the account.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    pub service: String,
    pub region: String,
    pub account: String,
}

/// The description of one request.
pub fn describe(req: &Req<'_>) -> Call {
    let (service, region) = signing_scope(req.authorization)
        .or_else(|| {
            req.target
                .and_then(service_of_target)
                .map(|s| (s, String::new()))
        })
        .unwrap_or_else(|| ("unknown".into(), String::new()));
    let scope = Scope {
        service,
        region,
        account: String::new(),
    };
    let uri = rest::Uri::parse(req.uri);
    let gunzipped;
    let body = if req.content_encoding == Some("gzip") {
        gunzipped = gunzip(req.body);
        &gunzipped[..]
    } else {
        req.body
    };
    let json = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let mut call = match (scope.service.as_str(), req.target) {
        ("lambda", _) => rest::lambda(&scope, req.method, &uri),
        ("s3", _) => rest::s3(&scope, req, &uri),
        ("monitoring", None) => cloudwatch(&uri, body),
        ("iam", None) => super::query::iam(&scope, body),
        ("cloudformation", None) => super::query::cloudformation(&scope, body),
        (_, Some(target)) => {
            let op = target.rsplit('.').next().unwrap_or(target).to_owned();
            json_call(&scope, op, &json())
        }
        _ => unknown(req.method, &uri),
    };
    call.service = scope.service;
    call
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match flate2::read::GzDecoder::new(body).read_to_end(&mut out) {
        Ok(_) => out,
        Err(_) => Vec::new(),
    }
}

fn unknown(method: &str, uri: &rest::Uri<'_>) -> Call {
    Call {
        operation: format!("?{method} {}", uri.path),
        resource: "*".into(),
        ..Call::default()
    }
}

/// `(service, region)` of a SigV4 `Authorization` header.
pub(super) fn signing_scope(auth: Option<&str>) -> Option<(String, String)> {
    let cred = auth?.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    let parts: Vec<&str> = cred.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, "aws4_request"] => Some((service.to_string(), region.to_string())),
        _ => None,
    }
}

fn service_of_target(target: &str) -> Option<String> {
    let prefix = target.split('.').next()?;
    Some(
        match prefix {
            p if p.starts_with("DynamoDB") => "dynamodb",
            "AmazonSQS" => "sqs",
            "AWSEvents" => "events",
            "AmazonSSM" => "ssm",
            p if p.starts_with("Logs_") => "logs",
            p if p.starts_with("GraniteService") => "monitoring",
            "AnyScaleFrontendService" => "application-autoscaling",
            _ => return None,
        }
        .to_owned(),
    )
}

fn arn(scope: &Scope, service: &str, rest: &str) -> String {
    format!(
        "arn:aws:{service}:{}:{}:{rest}",
        scope.region, scope.account
    )
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// A JSON-protocol call.
fn json_call(scope: &Scope, operation: String, body: &Value) -> Call {
    let mut call = Call {
        operation,
        resource: "*".into(),
        ..Call::default()
    };
    match scope.service.as_str() {
        "dynamodb" => dynamodb(scope, &mut call, body),
        "sqs" => {
            if let Some(url) = str_at(body, "QueueUrl") {
                call.resource = queue_arn(scope, url);
            } else if let Some(name) = str_at(body, "QueueName") {
                call.resource = arn(scope, "sqs", name);
            }
        }
        "events" => events(scope, &mut call, body),
        "ssm" => {
            if let Some(name) = str_at(body, "Name") {
                call.resource = parameter_arn(scope, name);
            }
        }
        "logs" => {
            let group = str_at(body, "logGroupIdentifier").or(str_at(body, "logGroupName"));
            if let Some(group) = group {
                let mut r = if group.starts_with("arn:") {
                    group.trim_end_matches(":*").to_owned()
                } else {
                    arn(scope, "logs", &format!("log-group:{group}"))
                };
                if let Some(stream) = str_at(body, "logStreamName") {
                    r = format!("{r}:log-stream:{stream}");
                }
                call.resource = r;
            }
        }
        "application-autoscaling" => application_autoscaling(scope, &mut call, body),
        "monitoring" => {
            if let Some(ns) = str_at(body, "Namespace") {
                call.context
                    .insert("cloudwatch:namespace".into(), vec![ns.into()]);
            }
        }
        _ => {}
    }
    call
}

/// Application Auto Scaling: the service namespace and dimension (the condition keys IAM
/// tests), and the scaled resource as an item (`Table` for a DynamoDB table: AWS also checks
/// the caller may describe and update it). A scalable target's ARN carries an id AWS makes
/// up at registration, so the call's resource is `scalable-target/<ResourceId>`, which only a
/// policy granting `scalable-target/*` matches.
fn application_autoscaling(scope: &Scope, call: &mut Call, body: &Value) {
    for (field, key) in [
        (
            "ServiceNamespace",
            "application-autoscaling:service-namespace",
        ),
        (
            "ScalableDimension",
            "application-autoscaling:scalable-dimension",
        ),
    ] {
        if let Some(v) = str_at(body, field) {
            call.context.insert(key.into(), vec![v.into()]);
        }
    }
    let id = str_at(body, "ResourceId").or_else(|| {
        body.get("ResourceIds")
            .and_then(Value::as_array)
            .and_then(|ids| ids.first())
            .and_then(Value::as_str)
    });
    let Some(id) = id else { return };
    if call.operation.starts_with("Describe") {
        return; // no resource type: granted on "*" only
    }
    call.resource = arn(
        scope,
        "application-autoscaling",
        &format!("scalable-target/{id}"),
    );
    if str_at(body, "ServiceNamespace") == Some("dynamodb")
        && let Some(table) = id.strip_prefix("table/")
    {
        let table = table.split('/').next().unwrap_or(table);
        call.items.push(Item {
            operation: "Table".into(),
            resource: table_arn(scope, table),
            context: BTreeMap::new(),
        });
    }
}

/// `https://sqs.us-east-1.amazonaws.com/123456789012/name` → `arn:aws:sqs:us-east-1:123456789012:name`.
fn queue_arn(scope: &Scope, url: &str) -> String {
    let path = rest::Uri::parse(url).path;
    let mut segs = path.trim_matches('/').rsplit('/');
    let name = segs.next().unwrap_or_default();
    let account = segs.next().unwrap_or_default();
    format!("arn:aws:sqs:{}:{account}:{name}", scope.region)
}

fn parameter_arn(scope: &Scope, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let sep = if name.starts_with('/') { "" } else { "/" };
    arn(scope, "ssm", &format!("parameter{sep}{name}"))
}

fn table_arn(scope: &Scope, table: &str) -> String {
    if table.starts_with("arn:") {
        table.to_owned()
    } else {
        arn(scope, "dynamodb", &format!("table/{table}"))
    }
}

/// The ops table's partition key attribute (`pk`, see infra/template.yaml), whose values are
/// what `dynamodb:LeadingKeys` conditions test.
pub const PARTITION_KEY: &str = "pk";

fn leading_key(request: &Value) -> Option<String> {
    let key = request.get("Key").or_else(|| request.get("Item"))?;
    key.get(PARTITION_KEY)?
        .get("S")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The partition-key value a `pk = :v` key condition asks for.
fn queried_key(body: &Value) -> Option<String> {
    let expr = str_at(body, "KeyConditionExpression")?;
    for clause in expr.split(" AND ").chain(expr.split(" and ")) {
        let Some((lhs, rhs)) = clause.split_once('=') else {
            continue;
        };
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        let name = match lhs.strip_prefix('#') {
            Some(_) => body
                .get("ExpressionAttributeNames")
                .and_then(|n| n.get(lhs))
                .and_then(Value::as_str)
                .unwrap_or(lhs),
            None => lhs,
        };
        if name == PARTITION_KEY {
            return body
                .get("ExpressionAttributeValues")
                .and_then(|v| v.get(rhs))
                .and_then(|v| v.get("S"))
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
    }
    None
}

fn keys_context(keys: impl IntoIterator<Item = String>) -> BTreeMap<String, Vec<String>> {
    let keys: Vec<String> = keys.into_iter().collect();
    if keys.is_empty() {
        BTreeMap::new()
    } else {
        BTreeMap::from([("dynamodb:LeadingKeys".to_owned(), keys)])
    }
}

fn dynamodb(scope: &Scope, call: &mut Call, body: &Value) {
    if let Some(table) = str_at(body, "TableName").or_else(|| str_at(body, "SourceTableName")) {
        call.resource = table_arn(scope, table);
        if let Some(index) = str_at(body, "IndexName") {
            call.resource = format!("{}/index/{index}", call.resource);
        }
    }
    for arn_key in ["BackupArn", "ResourceArn"] {
        if let Some(a) = str_at(body, arn_key) {
            call.resource = a.to_owned();
        }
    }
    call.context = keys_context(leading_key(body).or_else(|| queried_key(body)));
    if let Some(target) = str_at(body, "TargetTableName") {
        call.items.push(Item {
            operation: "TargetTable".into(),
            resource: table_arn(scope, target),
            context: BTreeMap::new(),
        });
    }
    for t in body
        .get("TransactItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some((op, req)) = t.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        call.items.push(Item {
            operation: op.clone(),
            resource: table_arn(scope, str_at(req, "TableName").unwrap_or_default()),
            context: keys_context(leading_key(req)),
        });
    }
    for (table, requests) in body
        .get("RequestItems")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let keys: Vec<String> = match requests {
            // BatchWriteItem: [{PutRequest: {Item}} | {DeleteRequest: {Key}}]
            Value::Array(reqs) => reqs
                .iter()
                .filter_map(|r| r.as_object().and_then(|o| o.values().next()))
                .filter_map(leading_key)
                .collect(),
            // BatchGetItem: {Keys: [...]}
            other => other
                .get("Keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|k| {
                    k.get(PARTITION_KEY)
                        .and_then(|v| v.get("S"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect(),
        };
        call.items.push(Item {
            operation: "Table".into(),
            resource: table_arn(scope, table),
            context: keys_context(keys),
        });
    }
}

fn bus_arn(scope: &Scope, bus: Option<&str>) -> String {
    match bus {
        Some(b) if b.starts_with("arn:") => b.to_owned(),
        b => arn(
            scope,
            "events",
            &format!("event-bus/{}", b.unwrap_or("default")),
        ),
    }
}

fn events(scope: &Scope, call: &mut Call, body: &Value) {
    if let Some(bus) = str_at(body, "EventBusName").or(str_at(body, "Name")) {
        call.resource = bus_arn(scope, Some(bus));
    }
    // A call on one rule's targets (`ListTargetsByRule`, `PutTargets`): the rule's ARN.
    if let Some(rule) = str_at(body, "Rule") {
        let path = match str_at(body, "EventBusName").filter(|b| *b != "default") {
            Some(bus) => format!("rule/{bus}/{rule}"),
            None => format!("rule/{rule}"),
        };
        call.resource = arn(scope, "events", &path);
    }
    for e in body
        .get("Entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let bus = bus_arn(scope, str_at(e, "EventBusName"));
        call.resource = bus.clone();
        let mut context = BTreeMap::new();
        for (field, key) in [
            ("Source", "events:source"),
            ("DetailType", "events:detail-type"),
        ] {
            if let Some(v) = str_at(e, field) {
                context.insert(key.to_owned(), vec![v.to_owned()]);
            }
        }
        call.items.push(Item {
            operation: "Entry".into(),
            resource: bus,
            context,
        });
    }
}

/// CloudWatch over rpc-v2-cbor: `/service/GraniteServiceVersion20100801/operation/<Op>`.
fn cloudwatch(uri: &rest::Uri<'_>, body: &[u8]) -> Call {
    let Some(op) = uri.path.split("/operation/").nth(1) else {
        return unknown("POST", uri);
    };
    let mut call = Call {
        operation: op.trim_matches('/').to_owned(),
        resource: "*".into(),
        ..Call::default()
    };
    if let Some(ns) = cbor_top_level_str(body, "Namespace") {
        call.context.insert("cloudwatch:namespace".into(), vec![ns]);
    }
    call
}

/// The text value of `key` in a CBOR body's top-level map.
fn cbor_top_level_str(body: &[u8], key: &str) -> Option<String> {
    use aws_smithy_cbor::data::Type;
    let mut d = aws_smithy_cbor::Decoder::new(body);
    let len = d.map().ok()?;
    let mut i = 0u64;
    loop {
        match len {
            Some(n) if i >= n => return None,
            None if matches!(d.datatype().ok()?, Type::Break) => return None,
            _ => {}
        }
        i += 1;
        let k = d.str().ok()?;
        if k == key {
            return d.str().ok().map(|s| s.into_owned());
        }
        d.skip().ok()?;
    }
}
