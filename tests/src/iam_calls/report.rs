//! What the IAM call check found, for people: denied calls (grouped), statements no call used,
//! assumed conditions, unattributed calls.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::policy::Statement;

/// Denied requests of one worker, action and closest statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denied {
    pub count: usize,
    /// Up to three of the resources (with the request's condition values).
    pub examples: BTreeSet<String>,
    /// Why the closest statement did not apply (for the first one seen).
    pub why: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// (worker, action, closest statement) → the denials.
    pub denied: BTreeMap<(String, String, String), Denied>,
    /// Statement ids (`BackupRole/OpsTable`) that allowed at least one request → the actions
    /// they allowed, with counts.
    pub used: BTreeMap<String, BTreeMap<String, usize>>,
    /// Every Allow statement of the five roles.
    pub statements: Vec<Statement>,
    /// Condition keys assumed to hold (`Role/Sid: key`) → requests.
    pub assumed: BTreeMap<String, usize>,
    /// Calls checked, per worker.
    pub calls: BTreeMap<String, usize>,
    /// Calls no worker could be named for, per process.
    pub unattributed: BTreeMap<String, usize>,
    /// Deny statements left unevaluated for a free name (summed over requests).
    pub unevaluated_denies: usize,
    /// Requests on the test handlers' own items, skipped.
    pub test_effects: usize,
}

impl Report {
    pub fn deny(&mut self, worker: &str, action: &str, resource: &str, closest: &str, why: &str) {
        let d = self
            .denied
            .entry((worker.into(), action.into(), closest.into()))
            .or_default();
        d.count += 1;
        if d.examples.len() < 3 {
            d.examples.insert(resource.to_owned());
        }
        if d.why.is_empty() {
            d.why = why.to_owned();
        }
    }

    pub fn passed(&self) -> bool {
        self.denied.is_empty()
    }

    /// Allow statements that allowed nothing, with their actions.
    pub fn unused(&self) -> Vec<&Statement> {
        self.statements
            .iter()
            .filter(|s| !self.used.contains_key(&s.id()))
            .collect()
    }
}

/// Statements whose actions only Lambda itself uses on the function's behalf.
fn lambda_only(s: &Statement) -> bool {
    s.actions
        .iter()
        .all(|a| a == "logs:CreateLogStream" || a == "logs:PutLogEvents")
}

impl Report {
    /// What each statement allowed (`iam-calls -v`).
    pub fn allowed(&self) -> String {
        let mut out = String::from("allowed (statement: action x requests):\n");
        for (s, actions) in &self.used {
            let list: Vec<String> = actions.iter().map(|(a, n)| format!("{a} x{n}")).collect();
            out.push_str(&format!("  {s}: {}\n", list.join(", ")));
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self.calls.values().sum();
        writeln!(f, "IAM call check: {total} recorded calls of the workers")?;
        for (w, n) in &self.calls {
            writeln!(f, "  {w}: {n}")?;
        }
        for w in stoker_events::Worker::ALL {
            if !self.calls.contains_key(w.name()) {
                writeln!(
                    f,
                    "  {}: no calls recorded (its role is not exercised)",
                    w.name()
                )?;
            }
        }
        if !self.unattributed.is_empty() {
            writeln!(
                f,
                "not checked, no worker named (process → calls): {:?}",
                self.unattributed
            )?;
        }
        if self.denied.is_empty() {
            writeln!(f, "DENIED: none")?;
        } else {
            let n: usize = self.denied.values().map(|d| d.count).sum();
            writeln!(f, "DENIED: {n} requests would be refused by AWS:")?;
            for ((worker, action, closest), d) in &self.denied {
                writeln!(
                    f,
                    "- {worker}: {action} x{} (closest: {closest}: {})",
                    d.count, d.why
                )?;
                for e in &d.examples {
                    writeln!(f, "    on {e}")?;
                }
            }
        }
        let unused = self.unused();
        writeln!(f, "statements no recorded call used ({}):", unused.len())?;
        for s in unused {
            let note = if lambda_only(s) {
                " (used by Lambda's log agent, not by SDK calls)"
            } else {
                ""
            };
            writeln!(f, "  {} {:?}{note}", s.id(), s.actions)?;
        }
        let idle: Vec<String> = self
            .statements
            .iter()
            .filter_map(|s| {
                let used = self.used.get(&s.id())?;
                let idle: Vec<&String> = s
                    .actions
                    .iter()
                    .filter(|a| !used.keys().any(|u| u.eq_ignore_ascii_case(a)))
                    .collect();
                let note = if idle.iter().any(|a| *a == "sqs:GetQueueAttributes") {
                    " (GetQueueAttributes: the SQS event source mapping's, not the worker's)"
                } else {
                    ""
                };
                (!idle.is_empty()).then(|| format!("  {} {idle:?}{note}", s.id()))
            })
            .collect();
        if !idle.is_empty() {
            writeln!(f, "actions of used statements that no recorded call used:")?;
            for line in idle {
                writeln!(f, "{line}")?;
            }
        }
        if !self.assumed.is_empty() {
            writeln!(
                f,
                "conditions assumed to hold (the requests do not show these keys):"
            )?;
            for (k, n) in &self.assumed {
                writeln!(f, "  {k} ({n} requests)")?;
            }
        }
        if self.test_effects > 0 {
            writeln!(
                f,
                "skipped: {} requests on the test handlers' own EFFECT# items",
                self.test_effects
            )?;
        }
        if self.unevaluated_denies > 0 {
            writeln!(
                f,
                "Deny statements not evaluated for a name the run did not tell (the stack): {} times",
                self.unevaluated_denies
            )?;
        }
        Ok(())
    }
}
