//! Shared AWS SDK configuration.
//!
//! Build it once at start-up and hand clients to handlers; never inside a handler.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::{
    Builder,
    tls::{self, rustls_provider::CryptoMode},
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// A config loader with stoker's single HTTP client (rustls + ring), reading the standard
/// sources (environment, profile, IMDS/container credentials). Add overrides (region,
/// profile, endpoint) before `.load()`.
///
/// Endpoints come from the environment unless overridden, so one binary serves AWS and the
/// emulators: `AWS_ENDPOINT_URL` for every service, `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
/// `AWS_ENDPOINT_URL_LAMBDA`) to send one service elsewhere.
///
/// With `STOKER_RECORD_CALLS` set, every client built from it records its calls
/// ([`crate::calls`]).
pub fn config_loader() -> ConfigLoader {
    defaults().http_client(http_client())
}

/// Attempts the SDK makes of one AWS call, the first included.
pub const SDK_MAX_ATTEMPTS: u32 = 3;

/// The one retry policy of AWS calls, set here for every client of the kit: the SDK's standard
/// mode (exponential backoff with full jitter from 1 s up to 20 s, and its retry quota), at most
/// [`SDK_MAX_ATTEMPTS`] attempts, retrying throttling, 500/502/503/504, timeouts and dropped
/// connections. Nothing retries those calls again in process: an error the SDK gave up on
/// is [`crate::JobError::retryable`] ([`crate::classify::sdk_error`]) and the job waits for
/// its redelivery. It replaces `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` and the profile's retry
/// settings, which the SDK would otherwise read.
pub fn sdk_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(SDK_MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_secs(1))
        .with_max_backoff(Duration::from_secs(20))
}

fn defaults() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).retry_config(sdk_retry_config())
}

/// [`config_loader`] whose calls are recorded as `worker`'s (for a worker that runs in a
/// process that runs other code or other workers: a test, `stoker run`).
pub fn config_loader_for(worker: impl Into<crate::WorkerId>) -> ConfigLoader {
    let name = worker.into().name();
    defaults().http_client(crate::calls::wrap_as(connections(), Some(name)))
}

/// [`config_loader_for`] whose requests are also counted in `count` ([`crate::calls::counting`]):
/// what tests and benchmarks read a runtime's calls from.
pub fn counted_config_loader(
    worker: impl Into<crate::WorkerId>,
    count: std::sync::Arc<crate::calls::CallCount>,
) -> ConfigLoader {
    let name = worker.into().name();
    let http = crate::calls::wrap_as(connections(), Some(name));
    defaults().http_client(crate::calls::counting(http, count))
}

/// [`config_loader`] whose calls are never recorded: for code that does not act as a worker
/// (a test harness setting up and inspecting what the workers do).
pub fn unrecorded_config_loader() -> ConfigLoader {
    defaults().http_client(connections())
}

/// A new HTTP client (its own connection pool) of the kind every stoker client uses
/// (recording its calls when [`crate::calls`] records).
pub fn http_client() -> SharedHttpClient {
    crate::calls::wrap(connections())
}

/// The connection pool, its requests priced into the ledger of the job sending them
/// ([`crate::cost`]).
fn connections() -> SharedHttpClient {
    crate::cost::metered(
        Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    )
}

/// [`config_loader`] with no overrides, loaded.
pub async fn sdk_config() -> SdkConfig {
    config_loader().load().await
}
