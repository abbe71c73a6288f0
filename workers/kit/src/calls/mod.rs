//! Recording every AWS call a worker makes, for the check that each one is allowed by the
//! worker's role in infra/template.yaml (issue #17; the emulators enforce no IAM).
//!
//! With `STOKER_RECORD_CALLS=<dir>` set, every request sent by a client built from
//! [`crate::aws::config_loader`] (every client of every worker: they are all built from that
//! SDK config) appends one JSON line to `<dir>/<process>-<pid>.jsonl`: the service, the
//! operation, the resource and the condition-key values the request shows ([`Record`]).
//! Unset, nothing is wrapped and nothing is recorded: the cost is one environment lookup.
//!
//! The hook is the SDK config's HTTP client: aws-config's `SdkConfig` carries no interceptors
//! (only each service's client config does), and the workers build their clients from the
//! `SdkConfig` with `Client::new(&sdk)`. Every client so built sends through the recording
//! connector, whichever crate builds it; one recorded line per attempt (retries included).
//!
//! Which worker made a call: the one its SDK config was built for
//! ([`crate::aws::config_loader_for`]); else the one the process named ([`set_worker`], or the
//! kit's runtime through [`register`]); else the process's own name (`stoker-backup`). A
//! process that names several workers (`stoker run`) records its untagged calls as `null`
//! (unattributable). The names a worker was
//! configured with (its queue, DLQ, ops table, bus, and the `STOKER_*` names the template
//! sets in each function's environment) are recorded as [`Bind`] lines, so the check can
//! resolve the role's resources with the names the worker actually used.

mod count;
mod describe;
mod observe;
mod query;
mod rest;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use serde::{Deserialize, Serialize};

pub use count::{CallCount, counting};
pub use describe::{PARTITION_KEY, Req, describe};
pub(crate) use observe::{Observe, Pending, observed};

/// The service of a SigV4 `Authorization` header's scope (`dynamodb`, `monitoring`, ...).
pub(crate) fn signing_service(auth: Option<&str>) -> Option<String> {
    describe::signing_scope(auth).map(|(service, _)| service)
}

use crate::config::WorkerConfig;

/// The variable that turns recording on: the directory the records go to.
pub const VAR: &str = "STOKER_RECORD_CALLS";

/// The names a worker's function gets in its environment (infra/template.yaml), recorded as
/// bindings when set. Never secrets: `STOKER_REDIS_URL` is not among them.
pub const BOUND_VARS: [&str; 8] = [
    "STOKER_STACK",
    "STOKER_OPS_TABLE",
    "STOKER_BUS",
    "STOKER_QUEUE_URL",
    "STOKER_DLQ_URL",
    "STOKER_EXPORT_BUCKET",
    "STOKER_BACKUP_TABLE_PREFIX",
    "STOKER_REDIS_URL_PARAMETER",
];

/// One part of a call that IAM authorizes on its own: an item of a TransactWriteItems
/// (`Put`, `Update`, `Delete`, `ConditionCheck`), an entry of a PutEvents (`Entry`), a table of
/// a batch (`Table`), the target table of a restore (`TargetTable`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item {
    /// What IAM authorizes for this part (`PutItem`, `UpdateItem`, `PutEvents`, ...).
    pub operation: String,
    /// The ARN this part acts on, or `*`.
    pub resource: String,
    /// Condition-key values this part shows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
}

/// What one request does.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Call {
    /// The signing name: `dynamodb`, `sqs`, `events`, `monitoring` (CloudWatch), `logs`,
    /// `ssm`, `lambda`, `s3`.
    pub service: String,
    /// The SDK's operation name (`PutItem`, `Invoke`, `ListObjectsV2`), or `?METHOD /path`
    /// for a request the recorder does not recognise.
    pub operation: String,
    /// The ARN the call acts on (the account is empty when the request does not show it), or
    /// `*` when it names none.
    pub resource: String,
    /// Condition-key values the request shows (`dynamodb:LeadingKeys`, `cloudwatch:namespace`,
    /// `s3:prefix`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
    /// The parts of the call IAM authorizes on their own (empty for a single-resource call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
}

/// A recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What the request does.
    #[serde(flatten)]
    pub call: Call,
    /// The worker (`backup`), or `null` when the process cannot tell.
    pub worker: Option<String>,
    /// The process's executable name (`stoker-backup`).
    pub process: String,
}

/// Names a worker was configured with: `STOKER_*` variable → value. `worker: null` binds them
/// for every worker of the process (its environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// The bound `STOKER_*` variables (`BOUND_VARS`) and the values the worker used.
    pub bind: BTreeMap<String, String>,
    /// The worker the names are for; `null` for every worker of the process.
    pub worker: Option<String>,
    /// The process's executable name (`stoker-backup`).
    pub process: String,
}

/// One line of a record file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Line {
    /// The names a worker was configured with.
    Bind(Bind),
    /// One AWS request.
    Call(Record),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    Unset,
    One(&'static str),
    Several,
}

#[derive(Debug)]
struct Recorder {
    path: PathBuf,
    process: String,
    file: Mutex<Option<File>>,
    identity: Mutex<Identity>,
}

fn recorder() -> Option<&'static Recorder> {
    static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            let dir = std::env::var_os(VAR).filter(|d| !d.is_empty())?;
            let process = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "process".into());
            let path = PathBuf::from(dir).join(format!("{process}-{}.jsonl", std::process::id()));
            Some(Recorder {
                path,
                process,
                file: Mutex::new(None),
                identity: Mutex::new(Identity::Unset),
            })
        })
        .as_ref()
}

impl Recorder {
    fn write(&self, line: &impl Serialize) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.is_none() {
            *file = self.open();
        }
        if let Some(f) = file.as_mut()
            && let Err(e) = f.write_all(text.as_bytes())
        {
            tracing::warn!(error = %e, path = %self.path.display(), "{VAR}: a call was not recorded");
        }
    }

    /// Opens the file and writes the environment's bindings first.
    fn open(&self) -> Option<File> {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut f = match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, path = %self.path.display(), "{VAR}: cannot record calls");
                return None;
            }
        };
        let bind: BTreeMap<String, String> = BOUND_VARS
            .iter()
            .filter_map(|v| Some((v.to_string(), std::env::var(v).ok()?)))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        if !bind.is_empty() {
            let line = Bind {
                bind,
                worker: None,
                process: self.process.clone(),
            };
            if let Ok(text) = serde_json::to_string(&line) {
                let _ = writeln!(f, "{text}");
            }
        }
        Some(f)
    }

    fn worker(&self, tag: Option<&'static str>) -> Option<String> {
        if let Some(w) = tag {
            return Some(w.to_owned());
        }
        match *self.identity.lock().unwrap_or_else(|e| e.into_inner()) {
            Identity::One(w) => Some(w.to_owned()),
            Identity::Several => None,
            Identity::Unset => process_worker(&self.process).map(str::to_owned),
        }
    }

    fn record(&self, request: &HttpRequest, tag: Option<&'static str>) {
        let header = |name: &str| request.headers().get(name);
        let req = Req {
            method: request.method(),
            uri: request.uri(),
            authorization: header("authorization"),
            target: header("x-amz-target"),
            copy_source: header("x-amz-copy-source"),
            content_encoding: header("content-encoding"),
            body: request.body().bytes().unwrap_or_default(),
        };
        self.write(&Record {
            call: describe(&req),
            worker: self.worker(tag),
            process: self.process.clone(),
        });
    }
}

/// Whether calls are being recorded (`STOKER_RECORD_CALLS` is set).
pub fn recording() -> bool {
    recorder().is_some()
}

/// `http` itself when calls are not recorded; else `http` behind a connector that records
/// each request before sending it.
pub fn wrap(http: SharedHttpClient) -> SharedHttpClient {
    wrap_as(http, None)
}

/// [`wrap`], recording the calls as `worker`'s whatever the process runs.
pub fn wrap_as(http: SharedHttpClient, worker: Option<&'static str>) -> SharedHttpClient {
    if recording() {
        observe::observed(http, Recording(worker))
    } else {
        http
    }
}

/// Names the worker whose calls this process makes. A second, different worker makes the
/// process's calls unattributable (recorded with `worker: null`).
pub fn set_worker(worker: &'static str) {
    let Some(r) = recorder() else { return };
    let mut id = r.identity.lock().unwrap_or_else(|e| e.into_inner());
    *id = match *id {
        Identity::Unset => Identity::One(worker),
        Identity::One(w) if w == worker => Identity::One(w),
        _ => Identity::Several,
    };
}

/// Records names `worker` was configured with (`STOKER_*` variable → value).
pub fn bind(worker: &str, vars: &[(&str, &str)]) {
    let Some(r) = recorder() else { return };
    r.write(&Bind {
        bind: vars
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        worker: Some(worker.to_owned()),
        process: r.process.clone(),
    });
}

/// What the kit's runtime tells the recorder: whose calls follow, and with which names.
pub fn register(config: &WorkerConfig) {
    if !recording() {
        return;
    }
    set_worker(config.worker.name());
    bind(
        config.worker.name(),
        &[
            ("STOKER_QUEUE_URL", &config.queue_url),
            ("STOKER_DLQ_URL", &config.dlq_url),
            ("STOKER_OPS_TABLE", &config.ops_table),
            ("STOKER_BUS", config.bus.as_deref().unwrap_or_default()),
        ],
    );
}

/// Records each request as `.0`'s (or the process's worker's) before it is sent.
#[derive(Debug, Clone, Copy)]
struct Recording(Option<&'static str>);

impl observe::Observe for Recording {
    fn observe(&self, request: &HttpRequest) -> Option<observe::Pending> {
        if let Some(r) = recorder() {
            r.record(request, self.0);
        }
        None
    }
}

#[cfg(test)]
mod tests;

/// The worker a process is by its executable's name, before the kit's runtime names one.
fn process_worker(process: &str) -> Option<&'static str> {
    #[cfg(feature = "stoker")]
    {
        crate::stoker::worker_of_process(process)
    }
    #[cfg(not(feature = "stoker"))]
    {
        let _ = process;
        None
    }
}
