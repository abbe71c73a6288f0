//! `./scripts/bench-readiness [JOBS]` (default 20)
//!
//! The readiness worker's benchmark on LocalStack, in one run: a stack of 6 queues with their
//! DLQs, 6 functions (metrics and log groups), 12 alarms and 2 tables; JOBS readiness checks of
//! all of it by the worker, against the baseline: the same reads issued one after another by a
//! plain SDK loop (no report, no evidence). Prints latency per job, AWS requests per job by
//! service (counted at the HTTP client), and what a check every 15 minutes costs a month at
//! public us-east-1 prices, as the kit's cost ledger prices each request
//! ([`stoker_kit::cost`]). Then the ledger's own price: the worker's client CPU per job with
//! the ledger on (each job in its scope) and off.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, Statistic};
use aws_sdk_sqs::types::QueueAttributeName;
use stoker_events::payload::readiness::ReadinessRequest;
use stoker_kit::calls::CallCount;
use stoker_readiness::{Readiness, Scope};

/// Jobs a month at one check every 15 minutes.
const JOBS_A_MONTH: f64 = 4.0 * 24.0 * 30.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let jobs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20);
    let sdk = stoker_it::emulator().await;
    let stack = stoker_it::unique("bench-rd");
    let workers = [
        "warmup",
        "cache",
        "backup",
        "rollup",
        "optimizer",
        "readiness",
    ];
    let req = setup(&sdk, &stack, &workers).await?;

    // The worker, counted.
    let count = Arc::new(CallCount::default());
    let counted =
        stoker_kit::aws::counted_config_loader(stoker_events::Worker::Readiness, count.clone())
            .load()
            .await;
    let worker = Readiness {
        ddb: aws_sdk_dynamodb::Client::new(&counted),
        sqs: aws_sdk_sqs::Client::new(&counted),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&counted),
        logs: aws_sdk_cloudwatchlogs::Client::new(&counted),
        lambda: aws_sdk_lambda::Client::new(&counted),
        rules: aws_sdk_eventbridge::Client::new(&counted),
        s3: aws_sdk_s3::Client::new(&counted),
        iam: aws_sdk_iam::Client::new(&counted),
        cfn: aws_sdk_cloudformation::Client::new(&counted),
        export_bucket: None,
        namespace: stoker_kit::emf::DEFAULT_NAMESPACE.into(),
        cache_scheduled: false,
        max_usd_per_1000_invocations:
            stoker_events::payload::readiness::DEFAULT_USD_PER_1000_INVOCATIONS,
        optimizer: stoker_optimizer::apply::Applier {
            lambda: aws_sdk_lambda::Client::new(&counted),
            ddb: aws_sdk_dynamodb::Client::new(&counted),
            ops_table: format!("{stack}-ops"),
            alias: "live".into(),
        },
        events: None,
        scope: Scope {
            stack: stack.clone(),
            ops_table: format!("{stack}-ops"),
            backup_table: None,
            table_prefix: Some(stack.clone()),
            function_prefix: Some(format!("{stack}-")),
        },
    };
    let mut ms = Vec::new();
    let mut checks = 0;
    let mut usd = 0.0;
    // Client CPU per job with the ledger on (each job in its scope) and off (no scope: no
    // request is priced), the two alternating so that neither gets the warm-up.
    let (mut cpu_on, mut cpu_off) = (0.0, 0.0);
    let cpu = || stoker_it::bench::own_usage().0;
    let mut counted_calls = None;
    for i in 0..jobs {
        let off_first = i % 2 == 1;
        if off_first {
            let c = cpu();
            worker.check(&req).await?;
            cpu_off += cpu() - c;
        }
        let before = count.all();
        let c = cpu();
        let t = Instant::now();
        let (r, cost) = stoker_kit::cost::scope(async {
            let r = worker.check(&req).await;
            (r, stoker_kit::cost::so_far())
        })
        .await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu_on += cpu() - c;
        let after = count.all();
        let mine = counted_calls.get_or_insert_with(std::collections::BTreeMap::new);
        for (service, n) in after {
            *mine.entry(service.clone()).or_insert(0) +=
                n - before.get(&service).copied().unwrap_or(0);
        }
        checks = r?.checks.len();
        usd += cost.usd;
        if !off_first {
            let c = cpu();
            worker.check(&req).await?;
            cpu_off += cpu() - c;
        }
    }
    let ours = counted_calls.unwrap_or_default();
    let cpu_ms = |total: f64| total * 1000.0 / jobs as f64;
    let p50_s = pct(&ms, 0.5) / 1000.0;

    // The baseline: the same reads (those of the checks as of this session), one after another,
    // nothing made of them.
    let base_count = Arc::new(CallCount::default());
    let base_sdk = stoker_kit::aws::counted_config_loader(
        stoker_events::Worker::Readiness,
        base_count.clone(),
    )
    .load()
    .await;
    let mut base_ms = Vec::new();
    let mut base_usd = 0.0;
    for _ in 0..jobs {
        let t = Instant::now();
        base_usd += stoker_kit::cost::scope(async {
            raw_reads(&base_sdk, &req).await;
            stoker_kit::cost::so_far().usd
        })
        .await;
        base_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let base = base_count.all();

    println!(
        "\n## Readiness: {jobs} checks of a stack of 6 queues + DLQs, 6 functions, 12 alarms, 2 tables ({checks} checks each)\n"
    );
    println!(
        "| run | p50 ms | p95 ms | requests/job | SQS | CloudWatch | Logs | DynamoDB | USD a month at every 15 min |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (label, lat, calls, usd) in [
        (
            "baseline: the same reads, a plain SDK loop",
            base_ms,
            base,
            base_usd,
        ),
        (
            "readiness worker (report, evidence, verdict)",
            ms,
            ours,
            usd,
        ),
    ] {
        let per = |s: &str| calls.get(s).copied().unwrap_or(0) as f64 / jobs as f64;
        let total: f64 = calls.values().sum::<u64>() as f64 / jobs as f64;
        let usd = usd / jobs as f64 * JOBS_A_MONTH;
        println!(
            "| {label} | {:.0} | {:.0} | {total:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {usd:.4} |",
            pct(&lat, 0.5),
            pct(&lat, 0.95),
            per("sqs"),
            per("monitoring"),
            per("logs"),
            per("dynamodb"),
        );
    }
    println!(
        "\nPrices, as the kit's cost ledger applies them (stoker_kit::cost): SQS $0.40 per \
         million requests, CloudWatch API $0.01 per 1,000 (applied to every CloudWatch request, \
         DescribeAlarms included, which is not billed: an upper bound); a DynamoDB read $0.125 \
         per million units; Lambda's, DynamoDB's and CloudWatch Logs' describe calls are not \
         billed; the free tiers (1M CloudWatch API and 1M SQS requests a month) are not \
         applied. The worker's own Lambda time is not in this figure (256 MB for the p50 \
         above: {:.4} USD a month at $0.0000166667 per GB-s).",
        p50_s * 0.25 * 0.000_016_666_7 * JOBS_A_MONTH
    );
    println!(
        "\n### The ledger's own price\n\n| run | client CPU ms per job |\n|---|---:|\n| ledger off (no job scope) | {:.2} |\n| ledger on (every request priced) | {:.2} |",
        cpu_ms(cpu_off),
        cpu_ms(cpu_on),
    );
    Ok(())
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

/// The stack: per worker a queue with its DLQ, a function (metrics, a log group) and two alarms;
/// two tables. Returns the request naming all of it.
async fn setup(
    sdk: &aws_config::SdkConfig,
    stack: &str,
    workers: &[&str],
) -> anyhow::Result<ReadinessRequest> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let mut queues = Vec::new();
    let mut functions = Vec::new();
    for w in workers {
        let name = format!("{stack}-{w}");
        let dlq = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(dlq.queue_url().unwrap_or_default())
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default();
        sqs.create_queue()
            .queue_name(&name)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": 5}).to_string(),
            )
            .send()
            .await?;
        queues.extend([name.clone(), format!("{name}-dlq")]);
        logs.create_log_group()
            .log_group_name(format!("/aws/lambda/{name}"))
            .send()
            .await?;
        cw.put_metric_data()
            .namespace("AWS/Lambda")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Invocations")
                    .dimensions(
                        Dimension::builder()
                            .name("FunctionName")
                            .value(&name)
                            .build(),
                    )
                    .value(100.0)
                    .build(),
            )
            .send()
            .await?;
        stoker_it::lambda::deploy_function(sdk, &name, b"#!/bin/sh\n", &[]).await?;
        functions.push(name.clone());
        for a in ["dlq-not-empty", "errors"] {
            cw.put_metric_alarm()
                .alarm_name(format!("{name}-{a}"))
                .namespace("Stoker/Bench")
                .metric_name(a)
                .statistic(Statistic::Sum)
                .period(60)
                .evaluation_periods(1)
                .threshold(0.0)
                .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                .alarm_actions("arn:aws:sns:us-east-1:000000000000:bench")
                .send()
                .await?;
        }
    }
    let tables = vec![format!("{stack}-ops"), format!("{stack}-orders")];
    for t in &tables {
        stoker_it::kit::create_ops_table(sdk, t).await?;
    }
    let _ = ddb;
    Ok(ReadinessRequest {
        tables,
        queues,
        functions,
        alarm_prefix: Some(format!("{stack}-")),
        ..ReadinessRequest::default()
    })
}

/// The reads the checks need, one after another.
async fn raw_reads(sdk: &aws_config::SdkConfig, req: &ReadinessRequest) {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let now = chrono::Utc::now();
    let stat = |namespace: &'static str, metric: &'static str, dims: Vec<Dimension>, hours: i64| {
        cw.get_metric_statistics()
            .namespace(namespace)
            .metric_name(metric)
            .set_dimensions(Some(dims))
            .start_time(aws_smithy_types::DateTime::from_millis(
                (now - chrono::Duration::hours(hours)).timestamp_millis(),
            ))
            .end_time(aws_smithy_types::DateTime::from_millis(
                now.timestamp_millis(),
            ))
            .period((hours * 3600) as i32)
            .statistics(Statistic::Sum)
            .send()
    };
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    for t in &req.tables {
        let _ = ddb.describe_continuous_backups().table_name(t).send().await;
        let _ = ddb.describe_table().table_name(t).send().await;
        let _ = ddb.list_backups().table_name(t).send().await;
        let _ = stat(
            "AWS/DynamoDB",
            "ReadThrottleEvents",
            vec![dim("TableName", t)],
            1,
        )
        .await;
        let _ = stat(
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            vec![dim("TableName", t)],
            1,
        )
        .await;
        let _ = stat(
            "Stoker",
            "BackupDrillPassed",
            vec![dim("Worker", "backup"), dim("Table", t)],
            8 * 24,
        )
        .await;
        // The exports the backup worker recorded.
        let _ = ddb
            .query()
            .table_name(&req.tables[0])
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("BACKUP#{t}")),
            )
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await;
    }
    for q in &req.queues {
        if let Ok(u) = sqs.get_queue_url().queue_name(q).send().await {
            let _ = sqs
                .get_queue_attributes()
                .queue_url(u.queue_url().unwrap_or_default())
                .attribute_names(QueueAttributeName::All)
                .send()
                .await;
        }
        if !q.ends_with("-dlq") {
            let (age, d) = ("ApproximateAgeOfOldestMessage", dim("QueueName", q));
            let _ = stat("AWS/SQS", age, vec![d], 1).await;
        }
    }
    // The warm-up schedules (whose targets the warmed check holds to their interval).
    let _ = aws_sdk_eventbridge::Client::new(sdk)
        .list_rules()
        .name_prefix(format!("{}-", req.tables[0].trim_end_matches("-ops")))
        .send()
        .await;
    let start = aws_smithy_types::DateTime::from_millis(
        (now - chrono::Duration::hours(1)).timestamp_millis(),
    );
    let end = aws_smithy_types::DateTime::from_millis(now.timestamp_millis());
    let lambda = aws_sdk_lambda::Client::new(sdk);
    for f in &req.functions {
        let _ = lambda
            .get_function_configuration()
            .function_name(f)
            .send()
            .await;
        let _ = ddb
            .get_item()
            .table_name(&req.tables[0])
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("OPTIMIZER#{f}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("LATEST".into()),
            )
            .consistent_read(true)
            .send()
            .await;
        // The optimizer's advice, and the warm-up's passes.
        let _ = ddb
            .get_item()
            .table_name(&req.tables[0])
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("OPTIMIZER#{f}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("ADVICE".into()),
            )
            .send()
            .await;
        let warmed = vec![dim("Worker", "warmup"), dim("Function", f)];
        let _ = stat("Stoker", "WarmupTargetWarmed", warmed, 24).await;
        // As the worker reads them: a function's metrics together; the p95, and the maximum
        // where no percentile comes back (LocalStack).
        let dim = || Dimension::builder().name("FunctionName").value(f).build();
        let get = |m: &'static str, stat: Option<Statistic>| {
            let mut r = cw
                .get_metric_statistics()
                .namespace("AWS/Lambda")
                .metric_name(m)
                .dimensions(dim())
                .start_time(start)
                .end_time(end);
            r = match stat {
                Some(s) => r.period(60).statistics(s),
                None => r.period(3600).extended_statistics("p95"),
            };
            r.send()
        };
        let duration = async {
            let p95 = get("Duration", None).await;
            let given = p95.ok().is_some_and(|o| {
                o.datapoints().iter().any(|d| {
                    d.extended_statistics()
                        .is_some_and(|e| e.contains_key("p95"))
                })
            });
            if !given {
                let _ = get("Duration", Some(Statistic::Maximum)).await;
            }
        };
        let _ = futures::join!(
            get("Invocations", Some(Statistic::Sum)),
            get("Errors", Some(Statistic::Sum)),
            get("Throttles", Some(Statistic::Sum)),
            duration,
        );
        let _ = logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/aws/lambda/{f}"))
            .send()
            .await;
        let _ = logs
            .filter_log_events()
            .log_group_name(format!("/aws/lambda/{f}"))
            .filter_pattern("\"Init Duration\"")
            .start_time((now - chrono::Duration::hours(1)).timestamp_millis())
            .send()
            .await;
    }
    if let Some(p) = &req.alarm_prefix {
        let _ = cw.describe_alarms().alarm_name_prefix(p).send().await;
    }
}
