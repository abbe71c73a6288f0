//! Counting the AWS requests a process sends, per service, at the HTTP client every SDK client
//! of a config shares: no counter in the code that makes the calls. One count per attempt
//! (the SDK's retries included), as AWS bills them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

use super::describe::signing_scope;

/// Requests sent, by the service of their SigV4 signing scope (`dynamodb`, `sqs`, `events`,
/// ...; `?` when unsigned).
#[derive(Debug, Default)]
pub struct CallCount {
    by_service: Mutex<BTreeMap<String, u64>>,
}

impl CallCount {
    /// Requests sent to `service` so far.
    pub fn of(&self, service: &str) -> u64 {
        self.lock().get(service).copied().unwrap_or(0)
    }

    /// Every service's count so far.
    pub fn all(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.by_service.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, request: &HttpRequest) {
        let auth = request.headers().get("authorization");
        let service = signing_scope(auth).map_or_else(|| "?".to_owned(), |(service, _)| service);
        *self.lock().entry(service).or_default() += 1;
    }
}

/// `http` counting each request it sends in `count`. Build an SDK config with it
/// (`aws::config_loader().http_client(counting(...))`) and every client made from that config
/// is counted.
pub fn counting(http: SharedHttpClient, count: Arc<CallCount>) -> SharedHttpClient {
    super::observe::observed(http, count)
}

impl super::observe::Observe for Arc<CallCount> {
    fn observe(&self, request: &HttpRequest) -> Option<super::observe::Pending> {
        self.add(request);
        None
    }
}
