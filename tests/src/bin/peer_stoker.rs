//! stoker's side of `./scripts/bench-peer`: the long-poll driver with the idempotent retry helper
//! around the test worker's handler (one DynamoDB UpdateItem per event), in its own process, until
//! it has done `STOKER_BENCH_EVENTS` jobs. Then one JSON line: events, seconds (first poll to
//! last job), CPU seconds, peak RSS (KiB), SQS and DynamoDB calls (the kit's and the handler's).
//!
//! Environment: the kit's (`STOKER_QUEUE_URL`, `STOKER_DLQ_URL`, `STOKER_OPS_TABLE`),
//! `STOKER_CONCURRENCY`, `STOKER_BENCH_EVENTS`, `STOKER_BENCH_MODE` (`optimistic`, or the
//! default claim-first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use stoker_events::Worker;
use stoker_it::calls::CallCounter;
use stoker_it::testworker::{Optimistic, TestWorker};
use stoker_kit::{Handler, Runtime, Stats, WorkerConfig, runtime};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::var("STOKER_BENCH_EVENTS")?.parse()?;
    let sdk = stoker_kit::aws::sdk_config().await;
    let cfg = WorkerConfig::from_env(Worker::Warmup)?;
    let counter = CallCounter::default();
    let handler = TestWorker {
        ddb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        ),
        table: cfg.ops_table.clone(),
    };
    let optimistic = std::env::var("STOKER_BENCH_MODE").is_ok_and(|m| m == "optimistic");
    let (stats, start, stop, poller) = if optimistic {
        start_poller(runtime(Optimistic(handler), &sdk, cfg))
    } else {
        start_poller(runtime(handler, &sdk, cfg))
    };
    while stats.counts().jobs < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    poller.await?;
    let c = stats.counts();
    let (cpu_s, rss_kib) = stoker_it::bench::own_usage();
    println!(
        "{}",
        serde_json::json!({
            "events": c.jobs,
            "seconds": secs,
            "cpu_seconds": cpu_s,
            "rss_kib": rss_kib,
            "sqs_calls": c.sqs_calls,
            "dynamodb_calls": c.dynamodb_calls + counter.take(),
        })
    );
    Ok(())
}

type Started = (
    Arc<Stats>,
    Instant,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<stoker_kit::poll::PollSummary>,
);

fn start_poller<H: Handler>(rt: Runtime<H>) -> Started {
    let rt = Arc::new(rt);
    let stats = rt.stats.clone();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let poller = tokio::spawn(stoker_kit::poll::run(rt, async move {
        let _ = rx.await;
    }));
    (stats, start, stop, poller)
}
