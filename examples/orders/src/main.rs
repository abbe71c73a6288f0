//! `orders-consumer`: under Lambda (SQS event source) it serves batches; anywhere else it
//! long-polls its queue until SIGTERM. Settings: the kit's (`STOKER_QUEUE_URL`,
//! `STOKER_DLQ_URL`, `STOKER_OPS_TABLE`, optional `STOKER_BUS`, ...) and `ORDERS_TABLE`.

use orders_consumer::RecordOrder;

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
    stoker_kit::run_with(job, &sdk).await
}
