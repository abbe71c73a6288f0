//! `cargo run --release -p stoker-bench --bin bench-kit -- [EVENTS]`
//!
//! The worker kit's benchmark on the running emulator (./localstack/up; eval "$(./localstack/env)").
//! In one run, on the same emulator and fresh resources:
//! - baseline: a raw SQS loop (ReceiveMessage 10 + DeleteMessageBatch, no handler): the
//!   emulator's own ceiling;
//! - stoker: the long-poll driver with the idempotent retry helper around a no-op handler.
//!
//! Prints events/s, end-to-end latency percentiles, API calls per event, and the peak RSS of
//! the worker binary (`stoker-testworker`, whose handler adds one DynamoDB write per event).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use stoker_events::Worker;
use stoker_it::bench::{fill, peak_rss_kib, pending, raw_loop};
use stoker_it::kit::{KitEnv, test_event};
use stoker_kit::{handler_fn, runtime};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let sdk = stoker_it::emulator().await;
    println!(
        "stoker kit benchmark: {events} events per run, emulator {}",
        std::env::var("AWS_ENDPOINT_URL")?
    );

    let raw_env = KitEnv::create(&sdk, "bench-raw", 5, false).await?;
    let (raw_rate, raw_sqs) = raw_loop(&raw_env, events).await?;
    raw_env.delete().await;

    let kit_env = KitEnv::create(&sdk, "bench-kit", 5, false).await?;
    let kit = kit_run(&kit_env, events, 10, None).await?;
    kit_env.delete().await;

    // Latency at an offered load of about half the measured throughput.
    let rate = (kit.rate / 2.0).max(1.0);
    let paced_env = KitEnv::create(&sdk, "bench-paced", 5, false).await?;
    let paced_n = (rate * 10.0) as usize;
    let paced = kit_run(&paced_env, paced_n, 10, Some(rate)).await?;
    paced_env.delete().await;

    let rss_env = KitEnv::create(&sdk, "bench-rss", 5, false).await?;
    let rss = worker_rss(&rss_env, events.min(300)).await?;
    rss_env.delete().await;

    println!();
    println!(
        "| run | events/s | p50 ms | p95 ms | p99 ms | SQS calls/event | DynamoDB calls/event |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| baseline: raw receive + delete-batch loop | {:.0} | - | - | - | {:.2} | 0 |",
        raw_rate, raw_sqs
    );
    println!(
        "| stoker long-poll driver + idempotency, queue pre-filled (concurrency 10) | {:.0} | - | - | - | {:.2} | {:.2} |",
        kit.rate, kit.sqs_per_event, kit.ddb_per_event
    );
    println!(
        "| same, {paced_n} events sent at {rate:.0}/s (latency = sent -> handler) | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
        paced.rate, paced.p50, paced.p95, paced.p99, paced.sqs_per_event, paced.ddb_per_event
    );
    println!();
    println!("stoker / baseline throughput: {:.2}", kit.rate / raw_rate);
    println!(
        "worker binary peak RSS (stoker-testworker, {} events): {:.1} MiB",
        events.min(300),
        rss as f64 / 1024.0
    );
    Ok(())
}

struct Figures {
    rate: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    sqs_per_event: f64,
    ddb_per_event: f64,
}

/// `pace`: `None` queues everything before the clock starts (throughput); `Some(rate)` sends
/// one event every 1/rate s while the worker runs (latency at that offered load).
async fn kit_run(
    env: &KitEnv,
    n: usize,
    concurrency: usize,
    pace: Option<f64>,
) -> anyhow::Result<Figures> {
    if pace.is_none() {
        fill(env, n).await?;
    }
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let lat = latencies.clone();
    let handler = handler_fn(Worker::Warmup, move |event: stoker_events::Event, _ctx| {
        let lat = lat.clone();
        async move {
            let ms = (chrono::Utc::now() - event.meta.time)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            lat.lock().map(|mut l| l.push(ms)).ok();
            Ok(json!({}))
        }
    });
    let mut cfg = env.config();
    cfg.concurrency = concurrency;
    // The kit's calls, counted at the HTTP client its SDK config gives every client.
    let count = Arc::new(stoker_kit::calls::CallCount::default());
    let rt = Arc::new(runtime(handler, &env.counted_sdk(&count).await, cfg));
    // Everything is queued before the clock starts; latency is measured from each event's
    // creation, so it includes the time spent waiting in the queue.
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let poller = tokio::spawn(stoker_kit::poll::run(rt, async move {
        let _ = rx.await;
    }));
    if let Some(rate) = pace {
        let every = Duration::from_secs_f64(1.0 / rate);
        for i in 0..n {
            let next = start + every * i as u32;
            tokio::time::sleep_until(next.into()).await;
            env.send(&test_event(&format!("p{i}"), json!({})).1, None)
                .await?;
        }
    }
    while latencies.lock().map(|l| l.len()).unwrap_or(0) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    poller.await?;

    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| l[((l.len() as f64 - 1.0) * p).round() as usize];
    Ok(Figures {
        rate: n as f64 / secs,
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        sqs_per_event: count.of("sqs") as f64 / n as f64,
        ddb_per_event: count.of("dynamodb") as f64 / n as f64,
    })
}

/// Runs the worker binary over `n` events and returns its peak RSS in KiB (VmHWM).
async fn worker_rss(env: &KitEnv, n: usize) -> anyhow::Result<u64> {
    fill(env, n).await?;
    let bin = std::env::current_exe()?.with_file_name("stoker-testworker");
    let mut child = env.spawn_worker(bin.to_str().unwrap_or_default(), &[])?;
    let pid = child.id().to_string();
    let mut peak = 0;
    loop {
        peak = peak_rss_kib(&pid).unwrap_or(peak);
        let visible = pending(&env.sdk, &env.queue_url).await?;
        if visible == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    Ok(peak)
}
