//! The fault-injection run's stand-in worker (see `stoker_it::chaos`): the kit's real `run`
//! (long-poll driver, idempotency, retries, DLQ) on the queue of `STOKER_CHAOS_WORKER`
//! (a worker name), pausing up to `STOKER_CHAOS_PAUSE_MS` per job.

use stoker_it::chaos::ChaosWorker;

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let sdk = stoker_kit::aws::sdk_config().await;
    let worker = std::env::var("STOKER_CHAOS_WORKER")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(stoker_events::Worker::Warmup);
    let handler = ChaosWorker {
        worker,
        table: std::env::var("STOKER_OPS_TABLE").unwrap_or_default(),
        pause_ms: std::env::var("STOKER_CHAOS_PAUSE_MS")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
    };
    stoker_kit::run_with(handler, &sdk).await
}
