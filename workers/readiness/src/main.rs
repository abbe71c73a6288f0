//! `stoker-readiness`: the readiness worker as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... STOKER_STACK=... stoker-readiness`

use stoker_events::Worker;
use stoker_kit::WorkerConfig;
use stoker_readiness::{Readiness, ReadinessSettings};

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let (config, settings) = WorkerConfig::from_env_with::<ReadinessSettings>(Worker::Readiness)?;
    let sdk = stoker_kit::aws::sdk_config().await;
    let readiness = Readiness::from_config(&sdk, &config, settings);
    stoker_kit::run_configured(readiness, &sdk, config).await
}
