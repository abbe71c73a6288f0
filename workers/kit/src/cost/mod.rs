//! The cost ledger: what each job costs on AWS, counted where its requests leave (the HTTP
//! client every SDK client of the kit sends through), priced with public prices
//! ([`Prices`], overridable), and written into the job's run record.
//!
//! Each job runs in its own ledger ([`scope`], set by the runtime around the job's layers):
//! every request sent while the job runs — its claim, its handler's calls, its retries — is
//! priced ([`price`]) and added to it. A call the kit sends for several jobs at once (a
//! batch of claims or completions) is shared evenly among them. The run record carries the
//! ledger as it stands when the record is written, plus the record's own write (priced ahead,
//! since the record cannot hold the price of the request that stores it) and, under Lambda,
//! the job's compute: its duration times the function's memory at the GB-second price (an
//! upper bound when jobs of one invocation overlap). Each job also emits its cost as the EMF
//! metric `JobCost` (USD), which the stack's per-worker cost alarm watches.
//!
//! Read from the answers: the DynamoDB capacity a request consumed when it asked
//! (`ReturnConsumedCapacity`: the kit's claims, completions and run records, the backup's
//! scans; other DynamoDB requests are estimated per item), and the compute of a function a job
//! invokes when the answer carries its log tail (the warm-up's pings, the optimizer's sweeps).
//! An upload's bytes are priced as a month of S3 storage.
//!
//! Not counted: other storage (native backups, the ops table), log ingestion, and the event
//! source mapping's polling (part of the stack's idle cost, which `stoker cost` estimates).

mod meter;
mod prices;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::calls::Pending;

pub use meter::price;
pub use prices::Prices;

/// Requests and their price, of one service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceCost {
    /// Requests sent (each attempt; shares of batched calls are fractions).
    pub calls: f64,
    /// Their price in USD.
    pub usd: f64,
}

/// What one job cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobCost {
    /// In USD, every service together.
    pub usd: f64,
    /// Requests sent, every service together.
    pub calls: f64,
    /// By service: the signing name (`dynamodb`, `sqs`, `events`, `monitoring`, `lambda`,
    /// `s3`, ...), `compute` for the worker's own Lambda time and `invoked` for the functions
    /// it invoked.
    #[serde(default)]
    pub by_service: BTreeMap<String, ServiceCost>,
}

impl JobCost {
    /// Adds `calls` requests to `service` costing `usd`.
    pub fn add(&mut self, service: &str, calls: f64, usd: f64) {
        let s = self.by_service.entry(service.to_owned()).or_default();
        s.calls += calls;
        s.usd += usd;
        self.calls += calls;
        self.usd += usd;
    }

    /// Adds all of `other`.
    pub fn merge(&mut self, other: &JobCost) {
        for (service, c) in &other.by_service {
            self.add(service, c.calls, c.usd);
        }
    }

    /// This cost divided among `n` jobs: one job's share.
    pub fn share(&self, n: usize) -> JobCost {
        let f = 1.0 / n.max(1) as f64;
        let mut out = JobCost::default();
        for (service, c) in &self.by_service {
            out.add(service, c.calls * f, c.usd * f);
        }
        out
    }
}

#[derive(Debug, Default)]
struct Ledger(Mutex<JobCost>);

impl Ledger {
    fn with<T>(&self, f: impl FnOnce(&mut JobCost) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

tokio::task_local! {
    static LEDGER: Option<Arc<Ledger>>;
}

fn current() -> Option<Arc<Ledger>> {
    LEDGER.try_with(Clone::clone).ok().flatten()
}

/// Runs `job` in a ledger of its own: the requests it sends are priced into it.
pub async fn scope<F: Future>(job: F) -> F::Output {
    LEDGER.scope(Some(Arc::default()), job).await
}

/// The current job's cost so far (nothing outside a [`scope`]).
pub fn so_far() -> JobCost {
    current().map(|l| l.with(|c| c.clone())).unwrap_or_default()
}

/// Adds `cost` to the current job's ledger (nothing outside a [`scope`]).
pub fn charge(cost: &JobCost) {
    if let Some(l) = current() {
        l.with(|c| c.merge(cost));
    }
}

/// Runs `calls` (sent for several jobs at once) in a ledger of its own: their output and their
/// cost, for the caller to share among the jobs.
pub async fn apart<F: Future>(calls: F) -> (F::Output, JobCost) {
    let ledger = Arc::new(Ledger::default());
    let out = LEDGER.scope(Some(ledger.clone()), calls).await;
    (out, ledger.with(|c| c.clone()))
}

/// What a run record of the current job says it cost: the ledger so far, the record's own
/// write (`write_units` DynamoDB write units, priced ahead) and, under Lambda, the compute of
/// `duration_ms`.
pub fn for_record(duration_ms: u64, write_units: f64) -> JobCost {
    let prices = Prices::current();
    let mut cost = so_far();
    cost.add("dynamodb", 0.0, write_units * prices.dynamodb_write_unit);
    if let Some(mb) = lambda_memory_mb() {
        let gb_seconds = duration_ms as f64 / 1000.0 * mb / 1024.0;
        cost.add("compute", 0.0, gb_seconds * prices.lambda_gb_second());
    }
    cost
}

/// The function's memory under Lambda (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), read once.
fn lambda_memory_mb() -> Option<f64> {
    static MB: OnceLock<Option<f64>> = OnceLock::new();
    *MB.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()?
            .parse()
            .ok()
    })
}

/// `http` pricing each request into the ledger of the job that sends it.
pub(crate) fn metered(http: SharedHttpClient) -> SharedHttpClient {
    crate::calls::observed(http, Meter)
}

#[derive(Debug, Clone, Copy)]
struct Meter;

impl crate::calls::Observe for Meter {
    fn observe(&self, request: &HttpRequest) -> Option<Pending> {
        let l = current()?;
        let (service, usd, pending) = meter::priced(request, Prices::current());
        l.with(|c| c.add(&service, 1.0, usd));
        pending
    }

    /// What the answer says: the DynamoDB capacity consumed, or an invocation's compute from
    /// the REPORT line of its log tail (`LogType=Tail`: the warm-up's pings and the optimizer's
    /// sweeps ask for it).
    fn answered(&self, pending: Pending, response: &HttpResponse, body: Option<&[u8]>) {
        let Some(l) = current() else { return };
        let prices = Prices::current();
        match (pending, body) {
            (Pending::Invoke, _) => {
                if let Some(usd) = invoked_compute(response, prices) {
                    l.with(|c| c.add("invoked", 0.0, usd));
                }
            }
            (kind, Some(body)) => {
                let usd = meter::capacity(kind, body, prices);
                l.with(|c| c.add("dynamodb", 0.0, usd));
            }
            (_, None) => {}
        }
    }
}

/// The USD of the invocation a response answers, from its log tail's REPORT line: billed
/// duration x memory, at the x86_64 price (the tail does not say the architecture; arm64 is
/// about 20 % cheaper).
pub fn invoked_compute(response: &HttpResponse, prices: &Prices) -> Option<f64> {
    let tail = response.headers().get("x-amz-log-result")?;
    let text = aws_smithy_types::base64::decode(tail).ok()?;
    let report = crate::report_line::parse(&String::from_utf8_lossy(&text))?;
    let gb = f64::from(report.memory_size_mb?) / 1024.0;
    Some(report.billed_ms / 1000.0 * gb * prices.lambda_x86_64_gb_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_is_charged_its_own_calls_and_its_share_of_batched_ones() {
        let (mine, batch) = scope(async {
            charge(&{
                let mut c = JobCost::default();
                c.add("sqs", 1.0, 0.4e-6);
                c
            });
            let ((), batch) = apart(async {
                charge(&{
                    let mut c = JobCost::default();
                    c.add("dynamodb", 1.0, 4e-6);
                    c
                });
            })
            .await;
            charge(&batch.share(4));
            (so_far(), batch)
        })
        .await;
        assert_eq!(
            batch.by_service["dynamodb"].usd, 4e-6,
            "the batch's own ledger"
        );
        assert!((mine.usd - 1.4e-6).abs() < 1e-15, "{mine:?}");
        assert_eq!(mine.by_service["dynamodb"].calls, 0.25);
        assert_eq!(so_far(), JobCost::default(), "nothing outside a scope");
    }

    #[tokio::test]
    async fn a_record_adds_its_own_write() {
        let c = scope(async { for_record(1000, 2.0) }).await;
        assert!(
            (c.by_service["dynamodb"].usd - 2.0 * Prices::default().dynamodb_write_unit).abs()
                < 1e-15
        );
        assert_eq!(c.calls, 0.0);
    }

    #[test]
    fn an_invocation_is_priced_from_its_log_tails_report_line() {
        use aws_smithy_types::body::SdkBody;
        let report = "END RequestId: 1\nREPORT RequestId: 1\tDuration: 1.20 ms\tBilled Duration: 2 ms\tMemory Size: 1024 MB\tMax Memory Used: 20 MB\t\n";
        let mut answered = HttpResponse::new(200u16.try_into().expect("status"), SdkBody::empty());
        answered
            .headers_mut()
            .insert("X-Amz-Log-Result", aws_smithy_types::base64::encode(report));
        let prices = Prices::default();
        let usd = invoked_compute(&answered, &prices).expect("priced");
        // 2 ms at 1 GB.
        assert!(
            (usd - 0.002 * prices.lambda_x86_64_gb_second).abs() < 1e-15,
            "{usd}"
        );
        let untailed = HttpResponse::new(200u16.try_into().expect("status"), SdkBody::empty());
        assert_eq!(
            invoked_compute(&untailed, &prices),
            None,
            "no tail: not priced"
        );
    }
}
