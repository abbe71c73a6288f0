//! `./scripts/bench-optimizer [FUNCTIONS] [INVOCATIONS]` (defaults: 20 functions, 5 per size)
//!
//! The optimizer's benchmark, in one run on the running emulators:
//! - a passive pass over FUNCTIONS functions with seeded metrics, next to the raw SDK reads of
//!   the same data (configuration, tags, four metrics, the REPORT lines) issued one by one;
//! - a power-tuning sweep of one function over 128/256/512 MB x INVOCATIONS, next to the same
//!   number of plain invocations of `$LATEST` (the invocations alone);
//! - the same pass with provisioned-concurrency advice (the peak concurrency and the cold
//!   starts read too), next to the plain pass;
//! - table auto scaling (mode apply) over 10 opted-in provisioned tables, next to the bare
//!   calls that read the same capacity and set the same targets and policies;
//! - the same sweep with an arm64 twin (the twin swept too; ministack runs it on this
//!   machine's architecture);
//! - the decision core (recommend) per function, in process.
//!
//! API calls are counted per HTTP request (pages and retries included).

use std::time::Instant;

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_lambda::primitives::Blob;
use aws_smithy_types::DateTime;
use serde_json::json;
use stoker_events::payload::optimize::{
    Bounds, FunctionSelector, OptimizeMode, OptimizeRequest, PowerTuning, Strategy, StrategyName,
};
use stoker_it::calls::CallCounter;
use stoker_it::kit::create_ops_table;
use stoker_it::lambda::deploy_example;
use stoker_it::optimizer::seed;
use stoker_optimizer::Optimizer;
use stoker_optimizer::pricing::{Arch, Pricing};
use stoker_optimizer::recommend::{Observed, recommend};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let n = args.next().transpose()?.unwrap_or(20);
    let invocations = args.next().transpose()?.unwrap_or(5);
    let sdk = stoker_it::emulator().await;
    let name = stoker_it::unique("bench-opt");
    create_ops_table(&sdk, &name).await?;
    let functions: Vec<String> = (0..n).map(|i| format!("{name}-{i}")).collect();
    for f in &functions {
        deploy_example(&sdk, f, &name).await?;
        seed(&sdk, f, 1000.0, 120.0, 2000.0, 100).await;
    }

    let counter = CallCounter::default();
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .build(),
    );
    // The hits table doubles as the ops table (the sweep records what it changes there).
    let mut worker = Optimizer::new(&sdk, &name, None);
    worker.lambda = lambda.clone();
    worker.observer.cloudwatch = cloudwatch.clone();
    worker.observer.logs = logs.clone();

    // Baseline: the same reads, raw.
    counter.take();
    let t = Instant::now();
    for f in &functions {
        raw_reads(&lambda, &cloudwatch, &logs, f).await?;
    }
    let raw_s = t.elapsed().as_secs_f64();
    let raw_calls = counter.take();

    let req = OptimizeRequest {
        functions: FunctionSelector::Names(functions.clone()),
        lookback_days: 14,
        strategy: Strategy::default(),
        mode: OptimizeMode::Recommend,
        bounds: Bounds::default(),
        power_tuning: None,
        tables: vec![],
        provisioned_concurrency: false,
    };
    let t = Instant::now();
    let report = worker.optimize(&req, "bench").await?;
    let pass_s = t.elapsed().as_secs_f64();
    let pass_calls = counter.take();
    anyhow::ensure!(
        report.functions.len() == functions.len(),
        "every function reviewed"
    );

    // The same pass with provisioned-concurrency advice.
    let pc_req = OptimizeRequest {
        provisioned_concurrency: true,
        ..req.clone()
    };
    let t = Instant::now();
    let pc_report = worker.optimize(&pc_req, "bench-pc").await?;
    let pc_s = t.elapsed().as_secs_f64();
    let pc_calls = counter.take();
    anyhow::ensure!(
        pc_report.functions.iter().all(|f| f.provisioned.is_some()),
        "every function advised"
    );

    // Table auto scaling, next to the bare calls that set the same targets and policies.
    let tables_n = 10;
    let (table_s, table_calls, raw_table_s, raw_table_calls) =
        table_scaling(&sdk, &name, &counter, tables_n).await?;

    // The sweep, next to the invocations alone.
    let sizes = vec![128, 256, 512];
    let payload = json!({ "name": "bench", "work_ms": 20 });
    let target = &functions[0];
    // Only a function that opted in may be swept.
    let arn = lambda
        .get_function_configuration()
        .function_name(target)
        .send()
        .await?
        .function_arn
        .unwrap_or_default();
    let (key, value) = stoker_it::optimizer::OPT_IN;
    lambda
        .tag_resource()
        .resource(arn)
        .tags(key, value)
        .send()
        .await?;
    let total = invocations * sizes.len() as u32;
    let t = Instant::now();
    for _ in 0..total {
        lambda
            .invoke()
            .function_name(target)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await?;
    }
    let plain_s = t.elapsed().as_secs_f64();
    counter.take();
    let sweep_req = OptimizeRequest {
        functions: FunctionSelector::Names(vec![target.clone()]),
        strategy: Strategy {
            name: StrategyName::Balanced,
            weight: 0.5,
        },
        power_tuning: Some(PowerTuning {
            memory_sizes: sizes.clone(),
            invocations,
            parallel: false,
            sleep_ms: 0,
            payload: Some(payload.clone()),
            arm64_twin: None,
        }),
        ..req.clone()
    };
    let t = Instant::now();
    let swept = worker.optimize(&sweep_req, "bench-sweep").await?;
    let sweep_s = t.elapsed().as_secs_f64();
    let sweep_calls = counter.take();
    let sweep = swept.functions[0]
        .sweep
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no sweep: {:?}", swept.functions[0].error))?;

    // The same sweep with an arm64 twin (the same build declared arm64: ministack runs every
    // zip on this machine's architecture).
    let twin = format!("{name}-arm64");
    deploy_example(&sdk, &twin, &name).await?;
    let binary = std::fs::read(stoker_it::workspace_bin("warmed-example"))?;
    lambda
        .update_function_code()
        .function_name(&twin)
        .zip_file(Blob::new(stoker_it::zip_executables(&[(
            "bootstrap",
            &binary,
        )])))
        .architectures(aws_sdk_lambda::types::Architecture::Arm64)
        .send()
        .await?;
    let twin_arn = lambda
        .get_function_configuration()
        .function_name(&twin)
        .send()
        .await?
        .function_arn
        .unwrap_or_default();
    lambda
        .tag_resource()
        .resource(twin_arn)
        .tags(key, value)
        .send()
        .await?;
    let mut twin_req = sweep_req.clone();
    if let Some(t) = twin_req.power_tuning.as_mut() {
        t.arm64_twin = Some(twin.clone());
    }
    counter.take();
    let t = Instant::now();
    let both = worker.optimize(&twin_req, "bench-twin").await?;
    let twin_s = t.elapsed().as_secs_f64();
    let twin_calls = counter.take();
    let measured = both.functions[0]
        .arm64_measured
        .as_ref()
        .and_then(|m| m.monthly_savings_usd.map(|s| (s, m.reason.clone())))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no arm64 comparison: {:?}",
                both.functions[0].arm64_measured
            )
        })?;
    let _ = lambda.delete_function().function_name(&twin).send().await;

    // The decision core alone.
    let observed = Observed {
        memory_mb: 1024,
        timeout_s: 30,
        arch: Arch::Arm64,
        invocations: 10_000,
        errors: 0,
        throttles: 0,
        lookback_days: 14,
        avg_duration_ms: 120.0,
        max_duration_ms: 2000.0,
        p99_duration_ms: None,
        max_memory_used_mb: Some(200),
        memory_source: None,
    };
    let pricing = Pricing::default();
    let rounds: u32 = 1_000_000;
    let t = Instant::now();
    let mut keep = 0u64;
    for i in 0..rounds {
        let o = Observed {
            invocations: 10_000 + u64::from(i % 7),
            ..observed.clone()
        };
        keep += u64::from(
            recommend(&o, &req.bounds, &pricing)
                .memory_mb
                .unwrap_or_default(),
        );
    }
    let core_ns = t.elapsed().as_nanos() as f64 / f64::from(rounds);
    anyhow::ensure!(keep > 0);

    println!("\n## optimizer benchmark ({n} functions; sweep 3 sizes x {invocations})\n");
    println!("| run | wall s | per function ms | API calls | calls per function |");
    println!("|---|---|---|---|---|");
    let row = |label: &str, s: f64, calls: u64, per: u32| {
        println!(
            "| {label} | {s:.2} | {:.1} | {calls} | {:.1} |",
            s * 1000.0 / f64::from(per),
            calls as f64 / f64::from(per)
        )
    };
    row(
        "baseline: raw SDK reads of the same data",
        raw_s,
        raw_calls,
        n,
    );
    row("optimizer passive pass", pass_s, pass_calls, n);
    row(
        "optimizer passive pass + provisioned-concurrency advice",
        pc_s,
        pc_calls,
        n,
    );
    println!(
        "\n| {tables_n} opted-in provisioned tables | wall s | per table ms | API calls | calls per table |\n|---|---|---|---|---|"
    );
    row(
        "baseline: bare DescribeTable, GetMetricStatistics x2, RegisterScalableTarget x2, PutScalingPolicy x2",
        raw_table_s,
        raw_table_calls,
        tables_n,
    );
    row(
        "optimizer mode apply (advice, tags, record first, targets, policies, record)",
        table_s,
        table_calls,
        tables_n,
    );
    println!(
        "\n| sweep | wall s | API calls | chosen |\n|---|---|---|---|\n| baseline: {total} plain invocations | {plain_s:.2} | {total} | - |\n| power-tuning sweep (configure, publish, alias, {total} invocations, REPORT lines, clean-up) | {sweep_s:.2} | {sweep_calls} | {} MB |",
        sweep.chosen_memory_mb.unwrap_or_default()
    );
    println!(
        "| the same sweep with an arm64 twin (both swept, each choice priced as measured) | {twin_s:.2} | {twin_calls} | saving {:.4} USD a month |",
        measured.0
    );
    println!("\narm64 twin: {}", measured.1);
    println!("\nper size: {}", {
        let parts: Vec<String> = sweep
            .sizes
            .iter()
            .map(|s| {
                format!(
                    "{} MB {:.1} ms billed, {:.3e} USD/invocation",
                    s.memory_mb, s.billed_ms, s.cost_per_invocation_usd
                )
            })
            .collect();
        parts.join("; ")
    });
    println!("decision core: {core_ns:.0} ns per function (recommend, in process)");
    for f in &functions {
        let _ = lambda.delete_function().function_name(f).send().await;
    }
    let _ = aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(&name)
        .send()
        .await;
    Ok(())
}

/// Seconds and calls of a pass in mode apply over `n` opted-in provisioned tables, and of the
/// bare calls giving `n` other tables the same targets and policies.
async fn table_scaling(
    sdk: &aws_config::SdkConfig,
    ops: &str,
    counter: &CallCounter,
    n: u32,
) -> anyhow::Result<(f64, u64, f64, u64)> {
    use aws_sdk_applicationautoscaling::types::{
        MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
        TargetTrackingScalingPolicyConfiguration,
    };
    let opt_in = [stoker_it::optimizer::OPT_IN];
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..n {
        ours.push(stoker_it::optimizer::table(sdk, "bench-as", Some((5, 5)), &opt_in).await);
        bare.push(stoker_it::optimizer::table(sdk, "bench-as-raw", Some((5, 5)), &opt_in).await);
    }
    let scaling = aws_sdk_applicationautoscaling::Client::from_conf(
        aws_sdk_applicationautoscaling::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    counter.take();
    let t = Instant::now();
    for table in &bare {
        // The reads the advice needs: the table, and its consumed capacity (hourly, 14 days).
        ddb.describe_table().table_name(table).send().await?;
        for metric in ["ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"] {
            let now = chrono::Utc::now();
            cloudwatch
                .get_metric_statistics()
                .namespace("AWS/DynamoDB")
                .metric_name(metric)
                .dimensions(Dimension::builder().name("TableName").value(table).build())
                .start_time(DateTime::from_secs(
                    (now - chrono::Duration::days(14)).timestamp(),
                ))
                .end_time(DateTime::from_secs(now.timestamp()))
                .period(3600)
                .statistics(Statistic::Sum)
                .send()
                .await?;
        }
        for (dimension, metric) in [
            (
                ScalableDimension::DynamoDbTableReadCapacityUnits,
                MetricType::DynamoDbReadCapacityUtilization,
            ),
            (
                ScalableDimension::DynamoDbTableWriteCapacityUnits,
                MetricType::DynamoDbWriteCapacityUtilization,
            ),
        ] {
            scaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Dynamodb)
                .resource_id(format!("table/{table}"))
                .scalable_dimension(dimension.clone())
                .min_capacity(1)
                .max_capacity(5)
                .send()
                .await?;
            scaling
                .put_scaling_policy()
                .policy_name(format!("bare-{}", metric.as_str()))
                .service_namespace(ServiceNamespace::Dynamodb)
                .resource_id(format!("table/{table}"))
                .scalable_dimension(dimension)
                .policy_type(PolicyType::TargetTrackingScaling)
                .target_tracking_scaling_policy_configuration(
                    TargetTrackingScalingPolicyConfiguration::builder()
                        .target_value(75.0)
                        .predefined_metric_specification(
                            PredefinedMetricSpecification::builder()
                                .predefined_metric_type(metric)
                                .build()?,
                        )
                        .build()?,
                )
                .send()
                .await?;
        }
    }
    let raw_s = t.elapsed().as_secs_f64();
    let raw_calls = counter.take();

    let mut worker = Optimizer::new(sdk, ops, None);
    worker.scaling = scaling;
    worker.ddb = ddb.clone();
    worker.applier.ddb = ddb;
    worker.observer.cloudwatch = cloudwatch;
    let req = OptimizeRequest {
        functions: FunctionSelector::Names(vec![]),
        lookback_days: 14,
        strategy: Strategy::default(),
        mode: OptimizeMode::Apply,
        bounds: Bounds::default(),
        power_tuning: None,
        tables: ours.clone(),
        provisioned_concurrency: false,
    };
    let t = Instant::now();
    let report = worker.optimize(&req, "bench-tables").await?;
    let s = t.elapsed().as_secs_f64();
    let calls = counter.take();
    anyhow::ensure!(
        report.tables.iter().all(|t| t.applied.is_some()),
        "every table given auto scaling: {:?}",
        report
            .tables
            .iter()
            .map(|t| &t.not_applied)
            .collect::<Vec<_>>()
    );
    let plain = aws_sdk_dynamodb::Client::new(sdk);
    for t in ours.iter().chain(&bare) {
        let _ = plain.delete_table().table_name(t).send().await;
    }
    Ok((s, calls, raw_s, raw_calls))
}

/// The reads a passive review makes of one function, issued directly.
async fn raw_reads(
    lambda: &aws_sdk_lambda::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    f: &str,
) -> anyhow::Result<()> {
    let c = lambda
        .get_function_configuration()
        .function_name(f)
        .send()
        .await?;
    lambda
        .list_tags()
        .resource(c.function_arn().unwrap_or_default())
        .send()
        .await?;
    let end = chrono::Utc::now();
    let start = end - chrono::Duration::days(14);
    for m in ["Invocations", "Errors", "Throttles", "Duration"] {
        cloudwatch
            .get_metric_statistics()
            .namespace("AWS/Lambda")
            .metric_name(m)
            .dimensions(Dimension::builder().name("FunctionName").value(f).build())
            .start_time(DateTime::from_millis(start.timestamp_millis()))
            .end_time(DateTime::from_millis(end.timestamp_millis()))
            .period(86_400)
            .statistics(Statistic::Sum)
            .send()
            .await?;
    }
    logs.filter_log_events()
        .log_group_name(format!("/aws/lambda/{f}"))
        .filter_pattern("REPORT")
        .start_time(start.timestamp_millis())
        .send()
        .await?;
    Ok(())
}
