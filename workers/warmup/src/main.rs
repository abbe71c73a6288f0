//! `stoker-warmup`: the warm-up worker as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... stoker-warmup`

use stoker_events::Worker;
use stoker_kit::WorkerConfig;
use stoker_warmup::{Warmup, WarmupSettings};

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let (config, settings) = WorkerConfig::from_env_with::<WarmupSettings>(Worker::Warmup)?;
    let sdk = stoker_kit::aws::sdk_config().await;
    stoker_kit::run_configured(Warmup::new(&sdk, settings), &sdk, config).await
}
