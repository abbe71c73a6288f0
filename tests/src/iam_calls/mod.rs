//! The IAM call check (issue #17): every AWS call each worker made in the integration tests,
//! evaluated against that worker's role in infra/template.yaml. The emulators enforce no IAM;
//! this is the check that stands in for AWS.
//!
//! The kit records the calls ([`stoker_kit::calls`], `STOKER_RECORD_CALLS=<dir>`): every
//! request sent by a client built from the kit's SDK config, in worker binaries and in workers
//! the tests run in their own process (the tests' own set-up and inspection use an unrecorded
//! config). Each call becomes the IAM requests AWS authorizes for it ([`requests`]: the
//! action names IAM uses, per item of a transaction, per entry of a PutEvents, the target
//! table's rights for a restore), each evaluated against `<Stem>Role`'s statements
//! (`policy`): an explicit Deny wins; else an Allow must match the action, the resource and
//! every condition.
//!
//! **What a pass proves**: for every call the tests made, with the names the worker was
//! configured with, the role allows it, including the conditions on `dynamodb:LeadingKeys`
//! (the `pk` of the item or the queried key), `events:source` and `events:detail-type` (each
//! PutEvents entry), `cloudwatch:namespace` and `s3:prefix`; no explicit Deny refuses it;
//! `*`-only actions are granted on `*`.
//!
//! **What it does not prove** (the approximations):
//! - Names: the role's `!Ref`/`!GetAtt`/`!Sub` are resolved with the names the worker ran with
//!   (see `names`); a name nothing binds (a parameter such as `WarmableFunctionPrefix`,
//!   `CacheSourceTablePrefix`, `BackupTablePrefix` for an in-process worker; the stack when
//!   neither `STOKER_STACK` nor a `<stack>-ops` table tells it) matches any string in an Allow,
//!   so a call outside the deployed prefix would pass. Region and account are never compared.
//! - Conditions on keys a request does not show (`aws:ResourceTag/stoker:optimize`) are assumed
//!   to hold; the report lists them. A Deny whose resource needs a free name is not evaluated
//!   (the report counts such requests).
//! - The test stand-in handlers' own items (`EFFECT#...`, staged through the kit's transaction
//!   by tests/src/testworker.rs and chaos.rs) are not a worker's: skipped and counted.
//! - Only the calls the tests made: a code path no test runs is not checked, and calls made
//!   by AWS on the worker's behalf (Lambda's log agent writing `logs:PutLogEvents`, the event
//!   source mapping's `sqs:ReceiveMessage`) are not SDK calls of the worker. Statements no call
//!   used are reported, not failed (the Lambda-only ones are expected among them).
//! - Permission boundaries, SCPs, resource policies, KMS key policies and session policies are
//!   outside the template's roles and outside this check.

mod names;
mod policy;
mod report;
mod requests;

use std::collections::BTreeMap;
use std::path::Path;

pub use names::Mode;
pub use policy::{Decision, Statement, decide, role_statements};
pub use report::{Denied, Report};
pub use requests::{Request, requests};
use serde_norway::Value;
use stoker_events::Worker;
use stoker_kit::calls::{Line, Record};

/// A recorded call with the names its worker may have been configured with.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub record: Record,
    /// One set of names per configuration of the call's worker in its process (a test may
    /// build the same worker twice, on different tables); the call is allowed when the role
    /// allows it under one of them.
    pub bindings: Vec<BTreeMap<String, String>>,
}

type Names = BTreeMap<String, String>;

/// The configurations of one worker in one file: a `bind` line adds to the current one,
/// unless it names a variable again with another value, which starts the next one.
fn generations(common: &Names, lines: &[Names]) -> Vec<Names> {
    let mut out: Vec<Names> = vec![common.clone()];
    let mut fresh = true;
    for line in lines {
        let current = out.last_mut().expect("one");
        let clash = line
            .iter()
            .any(|(k, v)| current.get(k).is_some_and(|c| c != v) && !common.contains_key(k));
        if clash && !fresh {
            let mut next = common.clone();
            next.extend(line.clone());
            out.push(next);
        } else {
            current.extend(line.clone());
        }
        fresh = false;
    }
    out
}

/// Every call recorded under `dir` (`*.jsonl`), each with its bindings: the file's `bind`
/// lines for every worker, then those for the call's worker (`generations`).
pub fn load(dir: &Path) -> std::io::Result<Vec<Recorded>> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let mut common = BTreeMap::new();
        let mut per_worker: BTreeMap<String, Vec<Names>> = BTreeMap::new();
        let mut calls = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Line>(line) {
                Ok(Line::Bind(b)) => match b.worker {
                    Some(w) => per_worker.entry(w).or_default().push(b.bind),
                    None => common.extend(b.bind),
                },
                Ok(Line::Call(r)) => calls.push(r),
                Err(e) => {
                    return Err(std::io::Error::other(format!(
                        "{}: a line is not a record ({e}): {line}",
                        path.display()
                    )));
                }
            }
        }
        let none = Vec::new();
        for record in calls {
            let lines = record
                .worker
                .as_ref()
                .and_then(|w| per_worker.get(w))
                .unwrap_or(&none);
            let bindings = generations(&common, lines);
            out.push(Recorded { record, bindings });
        }
    }
    Ok(out)
}

/// The test handlers' own side-effect items (`pk = EFFECT#<event id>`, tests/src/testworker.rs
/// and chaos.rs), staged through the kit's transaction: a stand-in's writes, not a worker's.
pub const TEST_EFFECT_PREFIX: &str = "EFFECT#";

fn is_test_effect(req: &Request) -> bool {
    req.context
        .get("dynamodb:LeadingKeys")
        .is_some_and(|ks| !ks.is_empty() && ks.iter().all(|k| k.starts_with(TEST_EFFECT_PREFIX)))
}

/// Evaluates every recorded call against its worker's role.
pub fn check(t: &Value, calls: &[Recorded]) -> Report {
    let mut report = Report::default();
    let roles: BTreeMap<&str, (Worker, Vec<Statement>)> = Worker::ALL
        .into_iter()
        .map(|w| {
            (
                w.name(),
                (w, role_statements(t, &format!("{}Role", w.stem()))),
            )
        })
        .collect();
    for (_, statements) in roles.values() {
        report
            .statements
            .extend(statements.iter().filter(|s| s.allow).cloned());
    }
    for c in calls {
        let Some((worker, statements)) = c.record.worker.as_deref().and_then(|w| roles.get(w))
        else {
            *report
                .unattributed
                .entry(c.record.process.clone())
                .or_default() += 1;
            continue;
        };
        *report.calls.entry(worker.name().to_owned()).or_default() += 1;
        let names: Vec<names::Names<'_>> = c
            .bindings
            .iter()
            .map(|b| names::Names::new(t, *worker, b))
            .collect();
        let reqs = match requests(&c.record.call) {
            Ok(r) => r,
            Err(why) => {
                report.deny(
                    worker.name(),
                    &c.record.call.operation,
                    &c.record.call.resource,
                    "-",
                    &why,
                );
                continue;
            }
        };
        for req in reqs {
            if is_test_effect(&req) {
                report.test_effects += 1;
                continue;
            }
            let mut tries = names.iter().map(|n| decide(statements, &req, n));
            let first = tries.next().expect("one set of names at least");
            let (decision, unevaluated) = match first {
                (Decision::Allowed { .. }, _) => first,
                denied => tries
                    .find(|(d, _)| matches!(d, Decision::Allowed { .. }))
                    .unwrap_or(denied),
            };
            report.unevaluated_denies += unevaluated;
            match decision {
                Decision::Allowed { by, assumed } => {
                    for s in by {
                        *report
                            .used
                            .entry(s)
                            .or_default()
                            .entry(req.action.clone())
                            .or_default() += 1;
                    }
                    for a in assumed {
                        *report.assumed.entry(a).or_default() += 1;
                    }
                }
                Decision::Denied { closest, why } => {
                    let resource =
                        format!("{}{}", req.resource, policy::context_brief(&req.context));
                    report.deny(worker.name(), &req.action, &resource, &closest, &why);
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests;
