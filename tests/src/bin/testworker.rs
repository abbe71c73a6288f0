//! A worker for the kit's tests: the kit's real `run` (Lambda or long-poll driver, chosen by
//! the environment) around [`stoker_it::testworker::TestWorker`].

use stoker_it::testworker::TestWorker;

// One thread: a worker waits on I/O; fewer thread hand-offs cost less CPU (bench-peer).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), stoker_kit::RunError> {
    let sdk = stoker_kit::aws::sdk_config().await;
    let table = std::env::var("STOKER_OPS_TABLE").unwrap_or_default();
    // The test handler's own writes are the test's, not a worker's: never recorded for the
    // IAM call check (the kit's calls around it are).
    let unrecorded = stoker_kit::aws::unrecorded_config_loader().load().await;
    let handler = TestWorker {
        ddb: aws_sdk_dynamodb::Client::new(&unrecorded),
        table,
    };
    stoker_kit::run_with(handler, &sdk).await
}
