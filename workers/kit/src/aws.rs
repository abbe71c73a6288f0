//! Shared AWS SDK configuration.
//!
//! Build it once at start-up and hand clients to handlers; never inside a handler.

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
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// [`config_loader`] whose calls are recorded as `worker`'s (for a worker that runs in a
/// process that runs other code or other workers: a test, `stoker run`).
pub fn config_loader_for(worker: stoker_events::Worker) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::calls::wrap_as(connections(), Some(worker)))
}

/// [`config_loader`] whose calls are never recorded: for code that does not act as a worker
/// (a test harness setting up and inspecting what the workers do).
pub fn unrecorded_config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(connections())
}

/// A new HTTP client (its own connection pool) of the kind every stoker client uses
/// (recording its calls when [`crate::calls`] records).
pub fn http_client() -> SharedHttpClient {
    crate::calls::wrap(connections())
}

fn connections() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// [`config_loader`] with no overrides, loaded.
pub async fn sdk_config() -> SdkConfig {
    config_loader().load().await
}
