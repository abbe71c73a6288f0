//! Evaluating one IAM request against a role's statements, as IAM does for identity policies:
//! an explicit Deny wins, else an Allow whose action, resource and conditions all match, else
//! the request is denied.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::names::{Mode, Names, matches, show};
use super::requests::Request;
use crate::cfn::{statements, strings};
use crate::iam::glob;

/// One statement of a role's inline policies.
#[derive(Debug, Clone)]
pub struct Statement {
    pub role: String,
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resource: Value,
    pub condition: Value,
}

impl Statement {
    pub fn id(&self) -> String {
        format!("{}/{}", self.role, self.sid)
    }
}

/// The statements of `role` (a logical id, `BackupRole`), in template order.
pub fn role_statements(t: &Value, role: &str) -> Vec<Statement> {
    statements(t)
        .into_iter()
        .filter(|(id, s)| id == role && s.get("Resource").is_some())
        .enumerate()
        .map(|(i, (_, s))| Statement {
            role: role.to_owned(),
            sid: s["Sid"]
                .as_str()
                .map_or_else(|| format!("#{i}"), str::to_owned),
            allow: s["Effect"].as_str() != Some("Deny"),
            actions: strings(&s["Action"]),
            resource: s["Resource"].clone(),
            condition: s["Condition"].clone(),
        })
        .collect()
}

/// Condition keys whose values the recorded calls show. Any other key (`aws:ResourceTag/...`)
/// is assumed to hold, and the report lists it.
pub const KNOWN_KEYS: [&str; 7] = [
    "application-autoscaling:service-namespace",
    "application-autoscaling:scalable-dimension",
    "dynamodb:LeadingKeys",
    "events:source",
    "events:detail-type",
    "cloudwatch:namespace",
    "s3:prefix",
];

/// Why a statement does not apply to a request, or that it does (and which keys it assumed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Applies {
        assumed: Vec<String>,
    },
    NoAction,
    /// The resource is none of these patterns.
    NoResource(Vec<String>),
    /// A condition refuses the request.
    Condition(String),
    /// A Deny whose resource names what the run does not tell (the stack).
    Unevaluated,
}

fn action_matches(granted: &str, action: &str) -> bool {
    matches(
        &glob(&granted.to_ascii_lowercase()),
        &action.to_ascii_lowercase(),
    )
}

pub fn verdict(s: &Statement, req: &Request, names: &Names<'_>) -> Verdict {
    if !s.actions.iter().any(|a| action_matches(a, &req.action)) {
        return Verdict::NoAction;
    }
    let mode = if s.allow { Mode::Allow } else { Mode::Deny };
    let patterns = names.value(&s.resource, mode, true);
    let resolved: Vec<_> = patterns.iter().flatten().collect();
    if !resolved.iter().any(|p| matches(p, &req.resource)) {
        if resolved.len() < patterns.len() {
            return Verdict::Unevaluated;
        }
        return Verdict::NoResource(resolved.iter().map(|p| show(p)).collect());
    }
    let mut assumed = Vec::new();
    for (op, keys) in s.condition.as_mapping().into_iter().flatten() {
        let op = op.as_str().unwrap_or_default();
        for (key, values) in keys.as_mapping().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !KNOWN_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                assumed.push(key.to_owned());
                continue;
            }
            let got: &[String] = req
                .context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map_or(&[], |(_, v)| v.as_slice());
            if !condition_holds(op, values, got, names, mode) {
                return Verdict::Condition(format!(
                    "{op} {key} {} is not met by {got:?}",
                    brief(values)
                ));
            }
        }
    }
    Verdict::Applies { assumed }
}

fn brief(v: &Value) -> String {
    serde_norway::to_string(v)
        .unwrap_or_default()
        .trim()
        .replace('\n', " ")
}

/// One condition operator on one key: `got` are the request's values for it.
fn condition_holds(
    op: &str,
    values: &Value,
    got: &[String],
    names: &Names<'_>,
    mode: Mode,
) -> bool {
    let (set, op) = match op.split_once(':') {
        Some((set, op)) => (Some(set), op),
        None => (None, op),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(op) => (op, true),
        None => (op, false),
    };
    let negated = op.contains("Not");
    let like = op.ends_with("Like");
    let patterns: Vec<_> = names
        .value(values, mode, like)
        .into_iter()
        .flatten()
        .collect();
    // (…IgnoreCase operators compare exactly here: stricter than IAM, never looser.)
    let one = |v: &String| patterns.iter().any(|p| matches(p, v));
    match set {
        Some("ForAllValues") => got.iter().all(|v| one(v) != negated),
        Some("ForAnyValue") => got.iter().any(|v| one(v) != negated),
        _ if got.is_empty() => negated || if_exists,
        _ if negated => !got.iter().any(one),
        _ => got.iter().any(one),
    }
}

/// What the role decides for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by these statements (ids), with the condition keys they assumed.
    Allowed {
        by: Vec<String>,
        assumed: Vec<String>,
    },
    /// Denied: the explicit Deny, or the statement that came closest and why it did not apply.
    Denied { closest: String, why: String },
}

/// The role's decision, and how many Deny statements could not be evaluated.
pub fn decide(statements: &[Statement], req: &Request, names: &Names<'_>) -> (Decision, usize) {
    let mut unevaluated = 0;
    let verdicts: Vec<(&Statement, Verdict)> = statements
        .iter()
        .map(|s| (s, verdict(s, req, names)))
        .collect();
    for (s, v) in &verdicts {
        match (s.allow, v) {
            (false, Verdict::Applies { .. }) => {
                return (
                    Decision::Denied {
                        closest: s.id(),
                        why: "explicitly denied".into(),
                    },
                    unevaluated,
                );
            }
            (false, Verdict::Unevaluated) => unevaluated += 1,
            _ => {}
        }
    }
    let mut by = Vec::new();
    let mut assumed = Vec::new();
    for (s, v) in &verdicts {
        if let (true, Verdict::Applies { assumed: a }) = (s.allow, v) {
            by.push(s.id());
            assumed.extend(a.iter().map(|k| format!("{}: {k}", s.id())));
        }
    }
    if !by.is_empty() {
        return (Decision::Allowed { by, assumed }, unevaluated);
    }
    // The closest: a statement with the action (its resource or condition failed), else any
    // statement of the same service.
    let service = req.action.split(':').next().unwrap_or_default();
    let closest = verdicts
        .iter()
        .filter(|(s, _)| s.allow)
        .find_map(|(s, v)| match v {
            Verdict::Condition(why) => Some((s.id(), why.clone())),
            _ => None,
        })
        .or_else(|| {
            verdicts
                .iter()
                .filter(|(s, _)| s.allow)
                .find_map(|(s, v)| match v {
                    Verdict::NoResource(ps) => Some((
                        s.id(),
                        format!("grants it on {ps:?}, not on {}", req.resource),
                    )),
                    _ => None,
                })
        })
        .or_else(|| {
            // A statement of the same service on this resource, else any of the service.
            let of_service = |s: &Statement| {
                s.allow
                    && s.actions
                        .iter()
                        .any(|a| a.starts_with(&format!("{service}:")))
            };
            let on_resource = |s: &Statement| {
                names
                    .value(&s.resource, Mode::Allow, true)
                    .iter()
                    .flatten()
                    .any(|p| matches(p, &req.resource))
            };
            verdicts
                .iter()
                .find(|(s, _)| of_service(s) && on_resource(s))
                .or_else(|| verdicts.iter().find(|(s, _)| of_service(s)))
                .map(|(s, _)| {
                    (
                        s.id(),
                        format!("does not grant {} (grants {:?})", req.action, s.actions),
                    )
                })
        })
        .unwrap_or_else(|| {
            (
                "-".into(),
                format!("no statement grants any {service}: action"),
            )
        });
    (
        Decision::Denied {
            closest: closest.0,
            why: closest.1,
        },
        unevaluated,
    )
}

/// Context for reports: the request's condition values, briefly.
pub fn context_brief(c: &BTreeMap<String, Vec<String>>) -> String {
    if c.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = c
        .iter()
        .map(|(k, v)| format!("{k}={}", v.join("|")))
        .collect();
    format!(" [{}]", parts.join(", "))
}
