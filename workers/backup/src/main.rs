//! `stoker-backup`: the backup worker as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... STOKER_EXPORT_BUCKET=... STOKER_STACK=... STOKER_BACKUP_TABLE_PREFIX=... stoker-backup`

use stoker_backup::{Backup, BackupSettings};
use stoker_events::Worker;
use stoker_kit::WorkerConfig;

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let (config, settings) = WorkerConfig::from_env_with::<BackupSettings>(Worker::Backup)
        .map_err(|e| stoker_kit::RunError::Setup(format!("the backup worker cannot start: {e}")))?;
    let sdk = stoker_kit::aws::sdk_config().await;
    let backup = Backup::from_config(&sdk, &config, settings);
    stoker_kit::run_configured(backup, &sdk, config).await
}
