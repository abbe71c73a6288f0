//! `orders-consumer`: under Lambda (SQS event source) it serves batches; anywhere else it
//! long-polls its queue until SIGTERM. Settings: the kit's (`STOKER_QUEUE_URL`,
//! `STOKER_DLQ_URL`, `STOKER_OPS_TABLE`, optional `STOKER_BUS`, ...), and its own section:
//! `ORDERS_TABLE` and the optional `ORDERS_QUARANTINE` (order ids the job refuses:
//! `QuarantineLayer`).

use orders_consumer::{QuarantineLayer, RecordOrder, WORKER};
use stoker_kit::WorkerConfig;
use stoker_kit::config::ConfigError;
use stoker_kit::section::{Section, Vars};

/// The consumer's own settings, read once with the kit's configuration.
struct OrdersSettings {
    table: String,
    quarantine: Option<String>,
}

impl Section for OrdersSettings {
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(OrdersSettings {
            table: vars.required("ORDERS_TABLE", "the orders table's name")?,
            quarantine: vars.text("ORDERS_QUARANTINE"),
        })
    }
}

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let (config, settings) = WorkerConfig::from_env_with::<OrdersSettings>(WORKER)?;
    let sdk = stoker_kit::aws::sdk_config().await;
    let job = RecordOrder::new(aws_sdk_dynamodb::Client::new(&sdk), settings.table);
    let quarantine = QuarantineLayer::from_list(settings.quarantine.as_deref().unwrap_or(""));
    stoker_kit::serve(stoker_kit::runtime(job, &sdk, config).layer(quarantine)).await
}
