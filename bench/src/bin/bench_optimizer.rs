//! `./scripts/bench-optimizer [FUNCTIONS] [INVOCATIONS]` (defaults: 20 functions, 5 per size)
//!
//! The optimizer's benchmark, in one run on the running emulators:
//! - a passive pass over FUNCTIONS functions with seeded metrics, next to the raw SDK reads of
//!   the same data (configuration, tags, four metrics, the REPORT lines) issued one by one;
//! - a power-tuning sweep of one function over 128/256/512 MB x INVOCATIONS, next to the same
//!   number of plain invocations of `$LATEST` (the invocations alone);
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
    println!(
        "\n| sweep | wall s | API calls | chosen |\n|---|---|---|---|\n| baseline: {total} plain invocations | {plain_s:.2} | {total} | - |\n| power-tuning sweep (configure, publish, alias, {total} invocations, REPORT lines, clean-up) | {sweep_s:.2} | {sweep_calls} | {} MB |",
        sweep.chosen_memory_mb.unwrap_or_default()
    );
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
