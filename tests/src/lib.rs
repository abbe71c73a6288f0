//! Harness for stoker's integration tests against the emulators.
//!
//! Tests take every endpoint from the environment (`AWS_ENDPOINT_URL`, and per-service
//! overrides such as `AWS_ENDPOINT_URL_LAMBDA`), exactly as the workers do, so the same tests
//! can run against another emulator or a real account. `./scripts/test` sets that up; by hand:
//! `./localstack/up && eval "$(./localstack/env)" && cargo nextest run -p stoker-it`.
//!
//! Every test that changes state deploys its own uniquely named copy of `infra/template.yaml`
//! ([`Stack::deploy`]) and deletes it afterwards ([`with_stack`]); the `stoker` stack deployed by
//! `./localstack/up` is only ever read ([`Stack::shared`]).

pub mod awscli;
pub mod bench;
pub mod calls;
pub mod cfn;
pub mod chaos;
pub mod counted;
pub mod docs;
pub mod faultproxy;
pub mod faultrun;
pub mod http;
pub mod iam;
pub mod iam_calls;
pub mod keep_alive;
pub mod kit;
pub mod lambda;
pub mod optimizer;
mod poll;
mod stack;
pub mod testworker;
mod zip;

pub use poll::{Deadline, poll, receive_all, wait_for};
pub use stack::{Stack, with_stack};
pub use zip::zip_executables;

use aws_config::SdkConfig;

/// The path of the one infra template, relative to this crate.
pub const TEMPLATE: &str = include_str!("../../infra/template.yaml");

/// The SDK configuration for the emulators, or a panic that says how to start them.
///
/// Never skips: an integration test without its emulator is a failure. The harness's own
/// calls (setting up, inspecting) are never recorded for the IAM call check: build the
/// workers a test runs in its process from [`worker_sdk`].
pub async fn emulator() -> SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: integration tests need the emulators. \
         Run ./scripts/test, or: ./localstack/up && eval \"$(./localstack/env)\""
    );
    let health = format!("{endpoint}/_localstack/health");
    let ok = tokio::task::spawn_blocking(move || http_ok(&health))
        .await
        .unwrap_or(false);
    assert!(
        ok,
        "LocalStack does not answer at {endpoint}. Start it with ./localstack/up \
         (logs: ./localstack/logs localstack)"
    );
    stoker_kit::aws::unrecorded_config_loader().load().await
}

/// Tells the IAM call check which names a worker run in the test's process was given, by the
/// `STOKER_*` variable its function reads them from (`STOKER_OPS_TABLE`, `STOKER_BUS`,
/// `STOKER_STACK`, ...; see `iam_calls::names`). Names left unbound match by the template's
/// own naming (`<stack>-ops`) or, for parameters, anything.
pub fn bind_names(worker: stoker_events::Worker, vars: &[(&str, &str)]) {
    stoker_kit::calls::bind(worker.name(), vars);
}

/// The SDK configuration a worker that runs in the test's process builds its clients from:
/// the kit's own, whose calls are recorded as `worker`'s when `STOKER_RECORD_CALLS` is set
/// (`./scripts/test` sets it; `iam-calls` checks them against the worker's role).
pub async fn worker_sdk(worker: impl Into<stoker_kit::WorkerId>) -> SdkConfig {
    stoker_kit::aws::config_loader_for(worker).load().await
}

/// The path of a binary built from this workspace (beside the test's own `target/<profile>`),
/// or a panic that says how to build it. `cargo nextest run --workspace` builds them all.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // Tests run from target/<profile>/deps, binaries from target/<profile>.
    let mut dir = exe.parent().expect("target dir");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target dir");
    }
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is not built: run the tests with `cargo nextest run --workspace` (or `cargo build --workspace --bins`)",
        bin.display()
    );
    bin
}

/// A name no other test (or earlier run) uses: `it-<prefix>-<8 hex chars>`, lower case.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("it-{prefix}-{}", &id[..8])
}

/// A plain HTTP GET returning whether the status was 2xx (for health probes only).
pub fn http_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut conn) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let req = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if conn.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head[9] == b'2'
}
