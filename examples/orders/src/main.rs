//! `orders-consumer`: under Lambda (SQS event source) it serves batches; anywhere else it
//! long-polls its queue until SIGTERM. Settings: the kit's (`STOKER_QUEUE_URL`,
//! `STOKER_DLQ_URL`, `STOKER_OPS_TABLE`, optional `STOKER_BUS`, ...), `ORDERS_TABLE` and the
//! optional `ORDERS_QUARANTINE` (order ids the job refuses: `QuarantineLayer`).

use orders_consumer::{QuarantineLayer, RecordOrder, WORKER};
use stoker_kit::WorkerConfig;

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let table = std::env::var("ORDERS_TABLE")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            stoker_kit::RunError::Setup(
                "ORDERS_TABLE: not set. Set it to the orders table's name".into(),
            )
        })?;
    let sdk = stoker_kit::aws::sdk_config().await;
    let job = RecordOrder::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let quarantine =
        QuarantineLayer::from_list(&std::env::var("ORDERS_QUARANTINE").unwrap_or_default());
    let config = WorkerConfig::from_env(WORKER)?;
    stoker_kit::serve(stoker_kit::runtime(job, &sdk, config).layer(quarantine)).await
}
