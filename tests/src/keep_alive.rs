//! Connections kept alive against LocalStack, as AWS keeps them (for the benchmarks).
//!
//! LocalStack answers every request with `Connection: close` unless the request itself says
//! `Connection: keep-alive` (a workaround for boto against its h11 server, localstack#6557).
//! An HTTP/1.1 client sends no such header (keep-alive is its default), so against LocalStack
//! every call of the SDK opens a new TCP connection, which it does not against AWS. A client
//! wrapped here says `Connection: keep-alive` on every request, and its pool reuses connections.
//! Set `STOKER_PEER_KEEPALIVE=1` to run `./scripts/bench-peer` this way (both sides).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;

/// Whether the benchmark asks for kept-alive connections (`STOKER_PEER_KEEPALIVE=1`).
pub fn wanted() -> bool {
    std::env::var("STOKER_PEER_KEEPALIVE").is_ok_and(|v| v == "1")
}

/// `http` adding `Connection: keep-alive` to every request.
pub fn client(http: SharedHttpClient) -> SharedHttpClient {
    KeepAlive(http).into_shared()
}

#[derive(Debug)]
struct KeepAlive(SharedHttpClient);

impl HttpClient for KeepAlive {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        Connector(self.0.http_connector(settings, components)).into_shared()
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_base_client_config(components, cfg)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }
}

#[derive(Debug)]
struct Connector(SharedHttpConnector);

impl HttpConnector for Connector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        request.headers_mut().insert("Connection", "keep-alive");
        self.0.call(request)
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::http::HttpConnector;
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::shared::IntoShared;
    use aws_smithy_types::body::SdkBody;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, Default)]
    struct Seen(Arc<Mutex<Vec<Option<String>>>>);

    impl HttpConnector for Seen {
        fn call(
            &self,
            request: HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            self.0
                .lock()
                .unwrap()
                .push(request.headers().get("connection").map(str::to_string));
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Err(
                aws_smithy_runtime_api::client::result::ConnectorError::user("seen".into()),
            ))
        }
    }

    #[tokio::test]
    async fn every_request_says_keep_alive() {
        let seen = Seen::default();
        let connector = super::Connector(seen.clone().into_shared());
        let request = HttpRequest::new(SdkBody::empty());
        let _ = connector.call(request).await;
        assert_eq!(*seen.0.lock().unwrap(), vec![Some("keep-alive".into())]);
    }
}
