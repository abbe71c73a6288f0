//! stoker's side of `./scripts/bench-peer`: the long-poll driver with the idempotent retry helper
//! around the test worker's handler (one DynamoDB UpdateItem per event), in its own process, until
//! it has done `STOKER_BENCH_EVENTS` jobs and drained (every commit and delete sent). Then one
//! JSON line: events, seconds (first poll to the end of the drain), CPU seconds, peak RSS (KiB),
//! SQS and DynamoDB requests (the kit's and the handler's, counted at the HTTP client:
//! `stoker_kit::calls::counting`).
//!
//! Environment: the kit's (`STOKER_QUEUE_URL`, `STOKER_DLQ_URL`, `STOKER_OPS_TABLE`),
//! `STOKER_CONCURRENCY`, `STOKER_BENCH_EVENTS`, `STOKER_BENCH_MODE` (`optimistic`, or the
//! default claim-first), `STOKER_PEER_KEEPALIVE=1` (connections kept alive against LocalStack,
//! as against AWS: `stoker_it::keep_alive`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use stoker_events::Worker;
use stoker_it::testworker::{Optimistic, TestWorker};
use stoker_kit::calls::CallCount;
use stoker_kit::{
    Handler, Idempotency, JobCtx, JobError, Outcome, WorkerConfig, WorkerId, runtime,
};

/// The handler, counting the distinct events it has done (a retry or a duplicate counts once),
/// and saying how many on `done` (the process waits on it: no polling loop of its own burning
/// CPU while it waits, so the CPU figure is the kit's).
struct Counted<H>(
    H,
    Arc<Mutex<HashSet<String>>>,
    tokio::sync::watch::Sender<u64>,
);

impl<H: Handler> Handler for Counted<H> {
    type Event = H::Event;

    fn worker(&self) -> WorkerId {
        self.0.worker()
    }

    fn idempotency(&self) -> Idempotency {
        self.0.idempotency()
    }

    async fn handle(&self, event: &H::Event, ctx: &JobCtx) -> Result<Outcome, JobError> {
        let out = self.0.handle(event, ctx).await;
        if out.is_ok()
            && let Ok(mut done) = self.1.lock()
            && done.insert(ctx.event.id.clone())
        {
            self.2.send_replace(done.len() as u64);
        }
        out
    }
}

// As the workers run (their mains): one thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::var("STOKER_BENCH_EVENTS")?.parse()?;
    // Every request of the process (the kit's and the handler's), counted at the HTTP client
    // of the one SDK config every client is built from.
    let count = Arc::new(CallCount::default());
    let mut loader = stoker_kit::aws::counted_config_loader(Worker::Warmup, count.clone());
    if stoker_it::keep_alive::wanted() {
        let http = stoker_kit::calls::counting(stoker_kit::aws::http_client(), count.clone());
        loader = loader.http_client(stoker_it::keep_alive::client(http));
    }
    let sdk = loader.load().await;
    let cfg = WorkerConfig::from_env(Worker::Warmup)?;
    let handler = TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&sdk),
        table: cfg.ops_table.clone(),
    };
    let jobs = Arc::new(Mutex::new(HashSet::new()));
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(0u64);
    let optimistic = std::env::var("STOKER_BENCH_MODE").is_ok_and(|m| m == "optimistic");
    let (start, stop, poller) = if optimistic {
        start_poller(runtime(
            Counted(Optimistic(handler), jobs.clone(), done_tx),
            &sdk,
            cfg,
        ))
    } else {
        start_poller(runtime(Counted(handler, jobs.clone(), done_tx), &sdk, cfg))
    };
    let done = || jobs.lock().map(|d| d.len() as u64).unwrap_or(0);
    let _ = done_rx.wait_for(|d| *d >= n).await;
    // Until every job's commit and delete went out: the poller drains before it returns.
    let _ = stop.send(());
    poller.await?;
    let secs = start.elapsed().as_secs_f64();
    let (cpu_s, rss_kib) = stoker_it::bench::own_usage();
    println!(
        "{}",
        serde_json::json!({
            "events": done(),
            "seconds": secs,
            "cpu_seconds": cpu_s,
            "rss_kib": rss_kib,
            "sqs_calls": count.of("sqs"),
            "dynamodb_calls": count.of("dynamodb"),
        })
    );
    Ok(())
}

type Started = (
    Instant,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<stoker_kit::poll::PollSummary>,
);

fn start_poller<H: Handler>(rt: stoker_kit::Runtime<H>) -> Started {
    let rt = Arc::new(rt);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let poller = tokio::spawn(stoker_kit::poll::run(rt, async move {
        let _ = rx.await;
    }));
    (start, stop, poller)
}
