//! `./scripts/bench-warmup [TARGETS] [CONCURRENCY]` (defaults: 50 targets x 5)
//!
//! The warm-up worker's benchmark, in one run on the running emulators:
//! - baseline: the latency of a single invocation (one ping to one warm instance), next to
//!   the wall time of one warm-up pass over TARGETS functions x CONCURRENCY instances, cold
//!   (first pass) and warm (second pass);
//! - the guard's overhead per ping in process (a guarded handler answering a ping) next to a
//!   plain handler answering an event, both without any I/O;
//! - per-target schedules: planning a scheduled job of 1,000 targets with 3 schedules each
//!   (which are due, at what concurrency) next to an operator's job of the same targets,
//!   which is only copied (no I/O).

use std::time::{Duration, Instant};

use lambda_runtime::tower::Service;
use lambda_runtime::{Context, LambdaEvent, service_fn};
use serde_json::{Value, json};
use stoker_events::payload::warmup::{TargetSchedule, WarmupRequest, WarmupTarget};
use stoker_it::kit::create_ops_table;
use stoker_it::lambda::deploy_example;
use stoker_warmup::{Warmup, percentile};
use stoker_warmup_guard::Ping;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>());
    let targets = args.next().transpose()?.unwrap_or(50);
    let concurrency = args.next().transpose()?.unwrap_or(5);
    let sdk = stoker_it::emulator().await;
    let (plain_ns, guard_ns) = guard_overhead(200_000).await;
    let (copy_us, plan_us, due) = schedule_planning(1_000, 200);

    let name = stoker_it::unique("bench-warm");
    let table = format!("{name}-hits");
    create_ops_table(&sdk, &table).await?;
    let functions: Vec<String> = (0..targets).map(|i| format!("{name}-{i}")).collect();
    let started = Instant::now();
    for f in &functions {
        deploy_example(&sdk, f, &table).await?;
    }
    let deploy_s = started.elapsed().as_secs_f64();

    let worker = Warmup::new(&sdk, Default::default());
    let req = |fs: &[String], c: u32| WarmupRequest {
        targets: fs
            .iter()
            .map(|f| WarmupTarget {
                function: f.clone(),
                qualifier: None,
                concurrency: c,
                payload: None,
                schedules: vec![],
            })
            .collect(),
        hold_open_ms: 100,
        invocation_timeout_ms: 30_000,
        tick_minutes: 5,
    };
    // Baseline: single pings to one instance, after a first (cold) one.
    let one = req(&functions[..1], 1);
    worker.warm(&one, "bench-single").await?;
    let mut single = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        worker.warm(&one, "bench-single").await?;
        single.push(t.elapsed().as_millis() as u64);
    }
    single.sort_unstable();

    let all = req(&functions, concurrency);
    let t = Instant::now();
    let cold = worker.warm(&all, "bench-cold").await?;
    let cold_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let warm = worker.warm(&all, "bench-warm").await?;
    let warm_s = t.elapsed().as_secs_f64();

    let lambda = aws_sdk_lambda::Client::new(&sdk);
    for f in &functions {
        let _ = lambda.delete_function().function_name(f).send().await;
    }
    let _ = aws_sdk_dynamodb::Client::new(&sdk)
        .delete_table()
        .table_name(&table)
        .send()
        .await;

    println!(
        "warm-up benchmark: {targets} targets x concurrency {concurrency}, hold_open_ms 100 (deployed in {deploy_s:.1} s)"
    );
    println!();
    println!("| run | wall time | invocations | succeeded | distinct instances | cold |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| baseline: one ping to one warm instance (p50 of 20) | {} ms | 1 | 1 | 1 | 0 |",
        percentile(&single, 50.0)
    );
    for (label, s, r) in [
        ("pass 1 (new functions)", cold_s, &cold),
        ("pass 2 (warm)", warm_s, &warm),
    ] {
        println!(
            "| warm-up {label} | {:.2} s | {} | {} | {} | {} |",
            s, r.invoked, r.succeeded, r.instances, r.cold
        );
    }
    println!();
    println!("| in process, no I/O | per call |");
    println!("|---|---:|");
    println!("| baseline: plain handler answering an event | {plain_ns:.0} ns |");
    println!("| warm-up guard answering a ping (hold 0) | {guard_ns:.0} ns |");
    println!();
    println!("| in process, 1,000 targets x 3 schedules (2 cron, 1 rate) | per job | per target |");
    println!("|---|---:|---:|");
    println!(
        "| baseline: an operator's job (every target warmed; the request copied) | {copy_us:.0} us | {:.2} us |",
        copy_us / 1000.0
    );
    println!(
        "| a scheduled job planned ({due} of 1,000 due at 09:00 UTC on a Tuesday) | {plan_us:.0} us | {:.2} us |",
        plan_us / 1000.0
    );
    Ok(())
}

/// Microseconds per job of `plan` for an operator's job (a copy) and for a scheduled job of
/// `targets` targets with three schedules each, over `rounds` rounds; and how many were due.
fn schedule_planning(targets: usize, rounds: u32) -> (f64, f64, usize) {
    use chrono::TimeZone;
    let schedules = vec![
        TargetSchedule {
            cron: Some("0/15 8-18 ? * MON-FRI *".into()),
            rate_minutes: None,
            concurrency: 5,
        },
        TargetSchedule {
            cron: Some("0 0-7,19-23 * * ? *".into()),
            rate_minutes: None,
            concurrency: 1,
        },
        TargetSchedule {
            cron: None,
            rate_minutes: Some(60),
            concurrency: 2,
        },
    ];
    let req = WarmupRequest {
        targets: (0..targets)
            .map(|i| WarmupTarget {
                function: format!("app-fn-{i}"),
                qualifier: None,
                concurrency: 1,
                payload: None,
                schedules: schedules.clone(),
            })
            .collect(),
        hold_open_ms: 100,
        invocation_timeout_ms: 30_000,
        tick_minutes: 5,
    };
    // A Tuesday, 09:00 UTC.
    let at = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let time = |scheduled: bool| {
        let t = Instant::now();
        let mut due = 0;
        for _ in 0..rounds {
            due = std::hint::black_box(stoker_warmup::schedule::plan(&req, at, scheduled))
                .0
                .targets
                .len();
        }
        (t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds), due)
    };
    let (copy_us, _) = time(false);
    let (plan_us, due) = time(true);
    (copy_us, plan_us, due)
}

/// Nanoseconds per call: a plain handler vs the guard answering a ping (no hold).
async fn guard_overhead(n: u32) -> (f64, f64) {
    let echo = |e: LambdaEvent<Value>| async move { Ok::<_, lambda_runtime::Error>(e.payload) };
    let event = json!({ "name": "alice" });
    let ping = Ping {
        correlation_id: "bench".into(),
        index: 0,
        concurrency: 1,
        hold_open_ms: 0,
    }
    .payload(None);
    let mut plain = service_fn(echo);
    let t = Instant::now();
    for _ in 0..n {
        let _ = plain
            .call(LambdaEvent::new(event.clone(), Context::default()))
            .await;
    }
    let plain_ns = per_call(t.elapsed(), n);
    let mut guarded = stoker_warmup_guard::guard(service_fn(echo));
    let t = Instant::now();
    for _ in 0..n {
        let _ = guarded
            .call(LambdaEvent::new(ping.clone(), Context::default()))
            .await;
    }
    (plain_ns, per_call(t.elapsed(), n))
}

fn per_call(d: Duration, n: u32) -> f64 {
    d.as_nanos() as f64 / f64::from(n)
}
