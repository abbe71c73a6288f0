//! `stoker-optimizer`: the optimizer worker as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... STOKER_BUS=... stoker-optimizer`

#[tokio::main]
async fn main() -> Result<(), stoker_kit::RunError> {
    let sdk = stoker_kit::aws::sdk_config().await;
    stoker_kit::run_with(stoker_optimizer::Optimizer::from_env(&sdk), &sdk).await
}
