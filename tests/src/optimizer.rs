//! Functions and metrics for the optimizer's tests: the example function at a given size, and
//! a day of seeded `AWS/Lambda` metrics and REPORT lines.

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput as FunctionConfiguration;
use aws_smithy_types::DateTime;
use stoker_optimizer::lambda_config::configure;

use crate::kit::create_ops_table;
use crate::lambda::deploy_example;
use crate::unique;

/// The example function (on ministack) as `<prefix>-…` with `memory`/`timeout` and `tags`; its
/// hits table (LocalStack) shares the name.
pub async fn function(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    memory: u32,
    timeout: u32,
    tags: &[(&str, &str)],
) -> String {
    let name = unique(prefix);
    create_ops_table(sdk, &name).await.expect("hits table");
    deploy_example(sdk, &name, &name)
        .await
        .expect("CreateFunction");
    let lambda = aws_sdk_lambda::Client::new(sdk);
    configure(&lambda, &name, memory, Some(timeout), None)
        .await
        .expect("configure");
    if !tags.is_empty() {
        let arn = config(sdk, &name).await.function_arn.expect("arn");
        let mut t = lambda.tag_resource().resource(arn);
        for (k, v) in tags {
            t = t.tags(*k, *v);
        }
        t.send().await.expect("TagResource");
    }
    name
}

pub async fn config(sdk: &aws_config::SdkConfig, name: &str) -> FunctionConfiguration {
    aws_sdk_lambda::Client::new(sdk)
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .expect("GetFunctionConfiguration")
}

pub async fn cleanup(sdk: &aws_config::SdkConfig, functions: &[&str]) {
    for f in functions {
        let _ = aws_sdk_lambda::Client::new(sdk)
            .delete_function()
            .function_name(*f)
            .send()
            .await;
        let _ = aws_sdk_dynamodb::Client::new(sdk)
            .delete_table()
            .table_name(*f)
            .send()
            .await;
    }
}

pub fn ago(hours: i64) -> DateTime {
    DateTime::from_millis((chrono::Utc::now() - chrono::Duration::hours(hours)).timestamp_millis())
}

/// Seeds a day of `AWS/Lambda` metrics (yesterday) and REPORT lines peaking at `used_mb`.
pub async fn seed(
    sdk: &aws_config::SdkConfig,
    function: &str,
    invocations: f64,
    avg_ms: f64,
    max_ms: f64,
    used_mb: u32,
) {
    let dim = Dimension::builder()
        .name("FunctionName")
        .value(function)
        .build();
    let count = |name: &str, v: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(dim.clone())
            .timestamp(ago(24))
            .unit(StandardUnit::Count)
            .value(v)
            .build()
    };
    let duration = MetricDatum::builder()
        .metric_name("Duration")
        .dimensions(dim.clone())
        .timestamp(ago(24))
        .unit(StandardUnit::Milliseconds)
        .statistic_values(
            StatisticSet::builder()
                .sample_count(invocations)
                .sum(avg_ms * invocations)
                .minimum(1.0)
                .maximum(max_ms)
                .build(),
        )
        .build();
    aws_sdk_cloudwatch::Client::new(sdk)
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(count("Invocations", invocations))
        .metric_data(count("Errors", 0.0))
        .metric_data(count("Throttles", 0.0))
        .metric_data(duration)
        .send()
        .await
        .expect("PutMetricData");
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let group = format!("/aws/lambda/{function}");
    let _ = logs.create_log_group().log_group_name(&group).send().await;
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("seed")
        .send()
        .await
        .expect("CreateLogStream");
    let at = (chrono::Utc::now() - chrono::Duration::hours(2)).timestamp_millis();
    let mut put = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name("seed");
    for (i, used) in [used_mb / 2, used_mb, used_mb - 10].into_iter().enumerate() {
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp(at + i as i64)
                .message(format!(
                    "REPORT RequestId: {i}\tDuration: {avg_ms} ms\tBilled Duration: {avg_ms} ms\tMemory Size: 1024 MB\tMax Memory Used: {used} MB\t"
                ))
                .build()
                .expect("log event"),
        );
    }
    put.send().await.expect("PutLogEvents");
}

/// The names of `function`'s aliases.
pub async fn aliases(sdk: &aws_config::SdkConfig, function: &str) -> Vec<String> {
    aws_sdk_lambda::Client::new(sdk)
        .list_aliases()
        .function_name(function)
        .send()
        .await
        .expect("ListAliases")
        .aliases()
        .iter()
        .filter_map(|a| a.name().map(str::to_owned))
        .collect()
}

/// The tag a function carries to let the optimizer change it.
pub const OPT_IN: (&str, &str) = ("stoker:optimize", "true");

/// The version numbers of `function` (`$LATEST` first).
pub async fn versions(sdk: &aws_config::SdkConfig, function: &str) -> Vec<String> {
    aws_sdk_lambda::Client::new(sdk)
        .list_versions_by_function()
        .function_name(function)
        .send()
        .await
        .expect("ListVersionsByFunction")
        .versions()
        .iter()
        .filter_map(|v| v.version().map(str::to_owned))
        .collect()
}

/// Moves the pass lock of `function` in `ops` into the past, as if its holder's time was up.
pub async fn expire_lock(sdk: &aws_config::SdkConfig, ops: &str, function: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let _ = aws_sdk_dynamodb::Client::new(sdk)
        .update_item()
        .table_name(ops)
        .key("pk", AttributeValue::S(format!("OPTIMIZER#{function}")))
        .key("sk", AttributeValue::S("LOCK".into()))
        .update_expression("SET #until = :past")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#until", "until")
        .expression_attribute_values(":past", AttributeValue::N("0".into()))
        .send()
        .await;
}

/// An ops table for one test (deleted with [`drop_table`]).
/// The optimizer as its function would run it, on ops table `ops` ("" for none), its calls
/// recorded for the IAM call check (see [`crate::worker_sdk`]).
pub async fn worker(ops: &str) -> stoker_optimizer::Optimizer {
    let w = stoker_events::Worker::Optimizer;
    crate::bind_names(w, &[("STOKER_OPS_TABLE", ops)]);
    stoker_optimizer::Optimizer::new(&crate::worker_sdk(w).await, ops, None)
}

pub async fn ops_table(sdk: &aws_config::SdkConfig) -> String {
    let ops = unique("opt-ops");
    create_ops_table(sdk, &ops).await.expect("ops table");
    ops
}

pub async fn drop_table(sdk: &aws_config::SdkConfig, table: &str) {
    let _ = aws_sdk_dynamodb::Client::new(sdk)
        .delete_table()
        .table_name(table)
        .send()
        .await;
}

/// A table with `capacity` (read, write) provisioned, or on demand, and `tags`.
pub async fn table(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    capacity: Option<(i64, i64)>,
    tags: &[(&str, &str)],
) -> String {
    let name = unique(prefix);
    let mut create = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .expect("key"),
        );
    create = match capacity {
        Some((r, w)) => create
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::Provisioned)
            .provisioned_throughput(
                aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
                    .read_capacity_units(r)
                    .write_capacity_units(w)
                    .build()
                    .expect("throughput"),
            ),
        None => create.billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest),
    };
    for (k, v) in tags {
        create = create.tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .expect("tag"),
        );
    }
    create.send().await.expect("CreateTable");
    name
}
