//! The description of requests as the SDK sends them (shapes taken from recorded traffic).

use serde_json::json;

use super::*;

fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x"
    )
}

fn json_req(service: &str, target: &str, body: &serde_json::Value) -> Call {
    let auth = auth(service);
    let body = body.to_string();
    describe(&Req {
        method: "POST",
        uri: "http://localhost:4566/",
        authorization: Some(&auth),
        target: Some(target),
        body: body.as_bytes(),
        ..Req::default()
    })
}

fn rest_req(service: &str, method: &str, uri: &str) -> Call {
    let auth = auth(service);
    describe(&Req {
        method,
        uri,
        authorization: Some(&auth),
        ..Req::default()
    })
}

#[test]
fn dynamodb_calls_name_their_table_and_the_partition_key() {
    let c = json_req(
        "dynamodb",
        "DynamoDB_20120810.PutItem",
        &json!({"TableName": "s-ops", "Item": {"pk": {"S": "IDEM#backup#k"}, "sk": {"S": "IDEM"}}}),
    );
    assert_eq!(
        (
            c.service.as_str(),
            c.operation.as_str(),
            c.resource.as_str()
        ),
        (
            "dynamodb",
            "PutItem",
            "arn:aws:dynamodb:us-east-1::table/s-ops"
        )
    );
    assert_eq!(c.context["dynamodb:LeadingKeys"], ["IDEM#backup#k"]);

    let q = json_req(
        "dynamodb",
        "DynamoDB_20120810.Query",
        &json!({"TableName": "src", "IndexName": "by-user",
                "KeyConditionExpression": "#p = :v AND sk > :s",
                "ExpressionAttributeNames": {"#p": "pk"},
                "ExpressionAttributeValues": {":v": {"S": "USER#1"}, ":s": {"S": "a"}}}),
    );
    assert_eq!(
        q.resource,
        "arn:aws:dynamodb:us-east-1::table/src/index/by-user"
    );
    assert_eq!(q.context["dynamodb:LeadingKeys"], ["USER#1"]);

    let t = json_req(
        "dynamodb",
        "DynamoDB_20120810.TransactWriteItems",
        &json!({"TransactItems": [
            {"Update": {"TableName": "s-ops", "Key": {"pk": {"S": "IDEM#rollup#k"}}}},
            {"Put": {"TableName": "s-ops", "Item": {"pk": {"S": "RUN#rollup#e"}}}}]}),
    );
    let items: Vec<(&str, &str)> = t
        .items
        .iter()
        .map(|i| {
            (
                i.operation.as_str(),
                i.context["dynamodb:LeadingKeys"][0].as_str(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [("Update", "IDEM#rollup#k"), ("Put", "RUN#rollup#e")]
    );

    let restore = json_req(
        "dynamodb",
        "DynamoDB_20120810.RestoreTableFromBackup",
        &json!({"BackupArn": "arn:aws:dynamodb:us-east-1:1:table/t/backup/b", "TargetTableName": "s-drill-1"}),
    );
    assert_eq!(
        restore.resource,
        "arn:aws:dynamodb:us-east-1:1:table/t/backup/b"
    );
    assert_eq!(
        restore.items[0].resource,
        "arn:aws:dynamodb:us-east-1::table/s-drill-1"
    );

    let pitr = json_req(
        "dynamodb",
        "DynamoDB_20120810.RestoreTableToPointInTime",
        &json!({"SourceTableName": "t", "TargetTableName": "s-drill-1-pitr", "UseLatestRestorableTime": true}),
    );
    assert_eq!(pitr.resource, "arn:aws:dynamodb:us-east-1::table/t");
    assert_eq!(
        pitr.items[0].resource,
        "arn:aws:dynamodb:us-east-1::table/s-drill-1-pitr"
    );
}

#[test]
fn queues_buses_parameters_and_log_groups_become_arns() {
    let sqs = json_req(
        "sqs",
        "AmazonSQS.DeleteMessageBatch",
        &json!({"QueueUrl": "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/s-warmup"}),
    );
    assert_eq!(sqs.resource, "arn:aws:sqs:us-east-1:000000000000:s-warmup");

    let ev = json_req(
        "events",
        "AWSEvents.PutEvents",
        &json!({"Entries": [{"EventBusName": "s-bus", "Source": "stoker.worker", "DetailType": "stoker.job.completed", "Detail": "{}"}]}),
    );
    assert_eq!(ev.resource, "arn:aws:events:us-east-1::event-bus/s-bus");
    assert_eq!(ev.items[0].context["events:source"], ["stoker.worker"]);
    assert_eq!(
        ev.items[0].context["events:detail-type"],
        ["stoker.job.completed"]
    );

    let ssm = json_req(
        "ssm",
        "AmazonSSM.GetParameter",
        &json!({"Name": "/stoker/redis-url"}),
    );
    assert_eq!(
        ssm.resource,
        "arn:aws:ssm:us-east-1::parameter/stoker/redis-url"
    );

    let logs = json_req(
        "logs",
        "Logs_20140328.FilterLogEvents",
        &json!({"logGroupName": "/aws/lambda/fn"}),
    );
    assert_eq!(
        logs.resource,
        "arn:aws:logs:us-east-1::log-group:/aws/lambda/fn"
    );
}

#[test]
fn cloudwatch_cbor_bodies_give_the_namespace() {
    // {"Namespace": "Stoker/Rollups", "MetricData": []} in CBOR (definite map of 2).
    let mut body = vec![0xa2, 0x69];
    body.extend_from_slice(b"Namespace");
    body.push(0x6e);
    body.extend_from_slice(b"Stoker/Rollups");
    body.push(0x6a);
    body.extend_from_slice(b"MetricData");
    body.push(0x80);
    let auth = auth("monitoring");
    let c = describe(&Req {
        method: "POST",
        uri: "http://localhost:4566/service/GraniteServiceVersion20100801/operation/PutMetricData",
        authorization: Some(&auth),
        body: &body,
        ..Req::default()
    });
    assert_eq!(
        (c.operation.as_str(), c.resource.as_str()),
        ("PutMetricData", "*")
    );
    assert_eq!(c.context["cloudwatch:namespace"], ["Stoker/Rollups"]);
}

#[test]
fn lambda_and_s3_paths_give_the_operation_and_the_resource() {
    let inv = rest_req(
        "lambda",
        "POST",
        "http://localhost:4599/2015-03-31/functions/app-fn/invocations?Qualifier=live",
    );
    assert_eq!(
        (inv.operation.as_str(), inv.resource.as_str()),
        ("Invoke", "arn:aws:lambda:us-east-1::function:app-fn:live")
    );
    let tags = rest_req(
        "lambda",
        "GET",
        "http://localhost:4599/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aapp-fn",
    );
    assert_eq!(
        (tags.operation.as_str(), tags.resource.as_str()),
        ("ListTags", "arn:aws:lambda:us-east-1:1:function:app-fn")
    );
    let pc = rest_req(
        "lambda",
        "PUT",
        "http://localhost:4599/2019-09-30/functions/app-fn/provisioned-concurrency?Qualifier=live",
    );
    assert_eq!(
        (pc.operation.as_str(), pc.resource.as_str()),
        (
            "PutProvisionedConcurrencyConfig",
            "arn:aws:lambda:us-east-1::function:app-fn:live"
        )
    );
    let list = rest_req(
        "lambda",
        "GET",
        "http://localhost:4599/2015-03-31/functions/?MaxItems=50",
    );
    assert_eq!(
        (list.operation.as_str(), list.resource.as_str()),
        ("ListFunctions", "*")
    );

    let put = rest_req(
        "s3",
        "PUT",
        "http://localhost:4566/b/exports/t/1/part-0.json?x-id=PutObject",
    );
    assert_eq!(
        (put.operation.as_str(), put.resource.as_str()),
        ("PutObject", "arn:aws:s3:::b/exports/t/1/part-0.json")
    );
    let ls = rest_req(
        "s3",
        "GET",
        "https://b.s3.us-east-1.amazonaws.com/?list-type=2&prefix=exports%2Ft%2F",
    );
    assert_eq!(
        (ls.operation.as_str(), ls.resource.as_str()),
        ("ListObjectsV2", "arn:aws:s3:::b")
    );
    assert_eq!(ls.context["s3:prefix"], ["exports/t/"]);
    for (query, op) in [
        ("publicAccessBlock", "GetPublicAccessBlock"),
        ("versioning", "GetBucketVersioning"),
    ] {
        let get = rest_req("s3", "GET", &format!("http://localhost:4566/b?{query}"));
        assert_eq!(
            (get.operation.as_str(), get.resource.as_str()),
            (op, "arn:aws:s3:::b")
        );
    }

    let odd = rest_req(
        "lambda",
        "PUT",
        "http://localhost:4599/2015-03-31/functions/f/concurrency",
    );
    assert!(odd.operation.starts_with("?PUT "), "{odd:?}");
}

#[test]
fn record_lines_read_back() {
    let rec = Record {
        call: json_req("ssm", "AmazonSSM.GetParameter", &json!({"Name": "/p"})),
        worker: Some("cache-warmer".into()),
        process: "stoker-cache-warmer".into(),
    };
    let text = serde_json::to_string(&rec).expect("json");
    assert_eq!(
        serde_json::from_str::<Line>(&text).expect("line"),
        Line::Call(rec)
    );
    let bind = r#"{"bind": {"STOKER_STACK": "s"}, "worker": null, "process": "p"}"#;
    assert!(matches!(
        serde_json::from_str::<Line>(bind),
        Ok(Line::Bind(_))
    ));
}

#[test]
fn auto_scaling_calls_name_the_namespace_and_the_table_they_change() {
    let body = json!({"ServiceNamespace": "dynamodb", "ResourceId": "table/orders",
                      "ScalableDimension": "dynamodb:table:ReadCapacityUnits", "MinCapacity": 1, "MaxCapacity": 9});
    let c = json_req(
        "application-autoscaling",
        "AnyScaleFrontendService.RegisterScalableTarget",
        &body,
    );
    assert_eq!(
        (c.operation.as_str(), c.resource.as_str()),
        (
            "RegisterScalableTarget",
            "arn:aws:application-autoscaling:us-east-1::scalable-target/table/orders"
        )
    );
    assert_eq!(
        c.context["application-autoscaling:service-namespace"],
        ["dynamodb"]
    );
    assert_eq!(
        c.context["application-autoscaling:scalable-dimension"],
        ["dynamodb:table:ReadCapacityUnits"]
    );
    assert_eq!(c.items.len(), 1);
    assert_eq!(
        c.items[0].resource,
        "arn:aws:dynamodb:us-east-1::table/orders"
    );
    let d = json_req(
        "application-autoscaling",
        "AnyScaleFrontendService.DescribeScalableTargets",
        &json!({"ServiceNamespace": "dynamodb", "ResourceIds": ["table/orders"]}),
    );
    assert_eq!(
        (d.operation.as_str(), d.resource.as_str()),
        ("DescribeScalableTargets", "*")
    );
    assert!(d.items.is_empty());
}
