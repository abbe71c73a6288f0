//! `stoker-rollup`: the rollup worker as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... [STOKER_BUS=...] stoker-rollup`

use stoker_events::Worker;
use stoker_kit::WorkerConfig;

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let config = WorkerConfig::from_env(Worker::Rollup)?;
    let sdk = stoker_kit::aws::sdk_config().await;
    let rollup = stoker_rollup::Rollup::from_config(&sdk, &config);
    stoker_kit::run_configured(rollup, &sdk, config).await
}
