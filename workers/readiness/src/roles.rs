//! The stack's roles read back from IAM (`role.actions`): no worker's role allows a wildcard
//! action (`*`, `s3:*`, `s3:Get*`, `s3:?etObject`) or everything but some (`NotAction`), in its inline
//! policies or in the managed policies attached to it. The template test holds the template
//! to the same rule; this reads what is deployed, so a statement added by hand shows.

use serde_json::Value;
use stoker_events::Worker;

use crate::check::Check;
use crate::evidence::unreadable;

const CHECK: &str = "role.actions";

/// One check per worker role of `stack` (`<stack>-<worker>`, as the template names them).
pub async fn check(iam: &aws_sdk_iam::Client, stack: &str) -> Vec<Check> {
    let mut out = Vec::new();
    for w in Worker::ALL {
        let role = format!("{stack}-{}", w.name());
        out.push(match documents(iam, &role).await {
            Ok(docs) => verdict(&role, &docs),
            Err(evidence) => Check::fail(CHECK, &role, evidence),
        });
    }
    out
}

/// The verdict on a role from its policy documents (`(policy name, document)`).
pub fn verdict(role: &str, docs: &[(String, String)]) -> Check {
    let mut wild = Vec::new();
    for (policy, doc) in docs {
        match serde_json::from_str::<Value>(&decoded(doc)) {
            Ok(v) => wild.extend(wildcards(&v).into_iter().map(|a| format!("{a} ({policy})"))),
            Err(e) => {
                return Check::fail(
                    CHECK,
                    role,
                    format!("policy {policy} is not JSON ({e}): read it in the IAM console"),
                );
            }
        }
    }
    if wild.is_empty() {
        Check::pass(
            CHECK,
            role,
            format!("{} policies, no wildcard action", docs.len()),
        )
    } else {
        Check::fail(
            CHECK,
            role,
            format!(
                "allows wildcard actions: {}; name each action the worker calls (infra/template.yaml has them)",
                wild.join(", ")
            ),
        )
    }
}

/// Every action an `Allow` statement grants by wildcard, and `NotAction` lists.
pub fn wildcards(policy: &Value) -> Vec<String> {
    let statements = match &policy["Statement"] {
        Value::Array(s) => s.iter().collect(),
        s @ Value::Object(_) => vec![s],
        _ => vec![],
    };
    let mut out = Vec::new();
    for s in statements.into_iter().filter(|s| s["Effect"] == "Allow") {
        if !s["NotAction"].is_null() {
            out.push(format!("NotAction {}", s["NotAction"]));
        }
        let actions = match &s["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        out.extend(
            actions
                .into_iter()
                .filter(|a| a.contains(['*', '?']))
                .map(str::to_owned),
        );
    }
    out
}

/// A policy document as IAM returns it: URL-encoded (RFC 3986) on AWS, plain JSON on some
/// emulators.
pub fn decoded(doc: &str) -> String {
    if doc.trim_start().starts_with('{') {
        return doc.to_owned();
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The role's inline policies and the default versions of its attached managed policies.
async fn documents(iam: &aws_sdk_iam::Client, role: &str) -> Result<Vec<(String, String)>, String> {
    let missing = |e: &dyn aws_sdk_iam::error::ProvideErrorMetadata| {
        (e.code() == Some("NoSuchEntity")).then(|| {
            format!(
                "no role {role}: the stack is not deployed under this name, or the role was deleted"
            )
        })
    };
    let mut docs = Vec::new();
    let names = iam
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| missing(&e).unwrap_or_else(|| unreadable("ListRolePolicies", &e)))?;
    for name in names {
        let p = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| unreadable("GetRolePolicy", &e))?;
        docs.push((name, p.policy_document));
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| unreadable("ListAttachedRolePolicies", &e))?;
    for a in attached {
        let Some(arn) = a.policy_arn() else { continue };
        let version = iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| unreadable("GetPolicy", &e))?
            .policy
            .and_then(|p| p.default_version_id)
            .unwrap_or_else(|| "v1".into());
        let doc = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| unreadable("GetPolicyVersion", &e))?
            .policy_version
            .and_then(|v| v.document)
            .unwrap_or_default();
        docs.push((arn.to_owned(), doc));
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use serde_json::json;

    #[test]
    fn wildcard_and_not_actions_are_found_in_allow_statements_only() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "s3:Get*", "s3:?utObject"], "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        ]});
        assert_eq!(
            wildcards(&policy),
            ["s3:Get*", "s3:?utObject", "*", "NotAction \"iam:*\""],
            "a Deny with a wildcard is fine"
        );
        let single = json!({"Statement": {"Effect": "Allow", "Action": "logs:PutLogEvents"}});
        assert!(wildcards(&single).is_empty());
    }

    #[test]
    fn documents_are_read_url_encoded_or_plain() {
        let plain = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#;
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%7D%5D%7D";
        assert_eq!(decoded(encoded), plain);
        for doc in [plain, encoded] {
            let c = verdict("r", &[("worker".into(), doc.into())]);
            assert_eq!(c.status, Status::Fail);
            assert!(c.evidence.contains("s3:* (worker)"), "{}", c.evidence);
        }
        let ok = verdict(
            "r",
            &[(
                "worker".into(),
                r#"{"Statement":[{"Effect":"Allow","Action":["sqs:SendMessage"]}]}"#.into(),
            )],
        );
        assert_eq!(ok.status, Status::Pass, "{}", ok.evidence);
        let bad = verdict("r", &[("worker".into(), "%7Bnot json".into())]);
        assert_eq!(bad.status, Status::Fail);
    }
}
