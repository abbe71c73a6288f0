//! `stoker-cache-warmer`: the cache-warmer as a Lambda (SQS event source) or a long-poll process.
//! Run: `STOKER_QUEUE_URL=... STOKER_DLQ_URL=... STOKER_OPS_TABLE=... \
//!       STOKER_REDIS_URL_PARAMETER=/stoker/redis-url STOKER_CACHE_ALLOWED_HOSTS=api.example.com \
//!       stoker-cache-warmer` (locally: `STOKER_REDIS_URL=redis://...` instead of the parameter)

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let sdk = stoker_kit::aws::sdk_config().await;
    let config = stoker_kit::WorkerConfig::from_env(stoker_events::Worker::CacheWarmer)?;
    let warmer = stoker_cache_warmer::CacheWarmer::from_env(&sdk)
        .await?
        .with_ops_table(&config.ops_table);
    stoker_kit::run_configured(warmer, &sdk, config).await
}
