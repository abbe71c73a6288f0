//! An HTTP client that shows each request to an observer before sending it, and each response
//! when it arrives: the one hook of the call recorder, the call counter and the cost ledger
//! (every SDK client of a config sends through it).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;

/// What looks at each request.
pub(crate) trait Observe: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Sees `request` just before it is sent; `Some` to see its answer too.
    fn observe(&self, request: &HttpRequest) -> Option<Pending>;

    /// Sees the answer to a request it asked to (`pending`), in the task that sent it, with
    /// the answer's body when `pending` wants it.
    fn answered(&self, _pending: Pending, _response: &HttpResponse, _body: Option<&[u8]>) {}
}

/// What an observer waits for in a request's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pending {
    /// A DynamoDB read that asked for its consumed capacity (in the body), and its price
    /// estimated from the request, for an answer that says none (an error: AWS still bills a
    /// failed condition).
    DynamoDbRead(f64),
    /// A DynamoDB write that asked for its consumed capacity (in the body), and its estimate.
    DynamoDbWrite(f64),
    /// A Lambda invocation (its log tail is a header).
    Invoke,
}

impl Pending {
    fn wants_body(self) -> bool {
        !matches!(self, Pending::Invoke)
    }
}

/// `http` showing each request to `observer` before sending it.
pub(crate) fn observed<O: Observe>(http: SharedHttpClient, observer: O) -> SharedHttpClient {
    ObservedClient(http, observer).into_shared()
}

#[derive(Debug)]
struct ObservedClient<O>(SharedHttpClient, O);

impl<O: Observe> HttpClient for ObservedClient<O> {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        ObservedConnector(self.0.http_connector(settings, components), self.1.clone()).into_shared()
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

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[derive(Debug)]
struct ObservedConnector<O>(SharedHttpConnector, O);

impl<O: Observe> HttpConnector for ObservedConnector<O> {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(pending) = self.1.observe(&request) else {
            return self.0.call(request);
        };
        let (sent, observer) = (self.0.call(request), self.1.clone());
        HttpConnectorFuture::new(async move {
            let mut response = sent.await?;
            if !pending.wants_body() {
                observer.answered(pending, &response, None);
                return Ok(response);
            }
            // Read the (small, JSON) body once and hand the SDK the same bytes.
            let body = std::mem::replace(response.body_mut(), SdkBody::taken());
            let bytes = ByteStream::new(body)
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .into_bytes();
            observer.answered(pending, &response, Some(&bytes));
            *response.body_mut() = SdkBody::from(bytes);
            Ok(response)
        })
    }
}
