//! `stoker-backup`: the backup worker as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... STOKER_EXPORT_BUCKET=... STOKER_STACK=... STOKER_BACKUP_TABLE_PREFIX=... stoker-backup`

#[tokio::main]
async fn main() -> Result<(), stoker_kit::RunError> {
    let sdk = stoker_kit::aws::sdk_config().await;
    let backup = stoker_backup::Backup::from_env(&sdk)
        .map_err(|e| stoker_kit::RunError::Setup(format!("the backup worker cannot start: {e}")))?;
    stoker_kit::run_with(backup, &sdk).await
}
