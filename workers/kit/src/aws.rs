//! Shared AWS SDK configuration.
//!
//! Build it once at start-up and hand clients to handlers; never inside a handler.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::{
    Builder,
    tls::{self, rustls_provider::CryptoMode},
};

/// Loads the SDK configuration from the standard sources (environment, profile, IMDS/container
/// credentials) with stoker's single HTTP client.
///
/// Endpoints come from the environment so one binary serves AWS and the emulators:
/// `AWS_ENDPOINT_URL` for every service, `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
/// `AWS_ENDPOINT_URL_LAMBDA`) to send one service elsewhere.
pub async fn sdk_config() -> SdkConfig {
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}
