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
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// A new HTTP client (its own connection pool) of the kind every stoker client uses.
pub fn http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// [`config_loader`] with no overrides, loaded.
pub async fn sdk_config() -> SdkConfig {
    config_loader().load().await
}
