//! The bus cannot be used to escalate (issue #16, part 2), read from `infra/template.yaml`:
//! every rule that starts a job filters on the sources allowed to request it (never a
//! worker's), and every worker role may put only its own outcome kinds on the bus.

use serde_norway::Value;
use stoker_events::{Kind, SOURCE_WORKER, Worker};
use stoker_it::cfn::{resources, statements, strings, template, untag};

/// The sources a rule's pattern lets through: `Ok(list)` for an explicit list, `Err(list)`
/// for `anything-but: list`.
fn pattern_sources(pattern: &Value) -> Option<Result<Vec<String>, Vec<String>>> {
    let items = untag(&pattern["source"]).as_sequence()?;
    let mut allowed = Vec::new();
    for item in items {
        if let Some(but) = item.get("anything-but") {
            return Some(Err(strings(but)));
        }
        allowed.extend(strings(item));
    }
    Some(Ok(allowed))
}

fn job_rules_refuse(t: &Value, source: &str) -> Result<usize, String> {
    let mut checked = 0;
    for (id, r) in resources(t) {
        let pattern = &r["Properties"]["EventPattern"];
        let kinds = strings(&pattern["detail-type"]);
        let job = kinds
            .iter()
            .any(|k| k.parse::<Kind>().is_ok_and(|k| k.worker().is_some()));
        if !job {
            continue;
        }
        checked += 1;
        let id = id.as_str().unwrap_or_default();
        match pattern_sources(pattern) {
            None => return Err(format!("{id} routes {kinds:?} from any source")),
            Some(Ok(allowed)) if allowed.iter().any(|s| s == source) => {
                return Err(format!("{id} lets {source} request {kinds:?}"));
            }
            Some(Err(but)) if !but.iter().any(|s| s == source) => {
                return Err(format!(
                    "{id} lets {source} request {kinds:?} (anything-but {but:?})"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(checked)
}

#[test]
fn every_job_rule_refuses_a_workers_source() {
    let checked = job_rules_refuse(&template(), SOURCE_WORKER).expect("job rules");
    let job_kinds = stoker_events::Kind::ALL
        .iter()
        .filter(|k| k.worker().is_some())
        .count();
    assert_eq!(checked, job_kinds, "one rule per job kind");
}

#[test]
fn the_rule_check_would_catch_a_rule_without_a_source_filter() {
    let bad = stoker_it::TEMPLATE.replacen(
        "EventPattern: { source: [stoker.operator], detail-type: [stoker.backup.requested] }",
        "EventPattern: { detail-type: [stoker.backup.requested] }",
        1,
    );
    assert_ne!(bad, stoker_it::TEMPLATE, "the backup rule was found");
    let t: Value = serde_norway::from_str(&bad).expect("yaml");
    assert!(job_rules_refuse(&t, SOURCE_WORKER).is_err());
}

/// The detail-types a statement lets its holder put, if it grants PutEvents.
fn put_events_kinds(s: &Value) -> Option<(Vec<String>, Vec<String>)> {
    if !strings(&s["Action"])
        .iter()
        .any(|a| a == "events:PutEvents")
    {
        return None;
    }
    let eq = &s["Condition"]["StringEquals"];
    Some((
        strings(&eq["events:source"]),
        strings(&eq["events:detail-type"]),
    ))
}

#[test]
fn worker_roles_put_only_their_outcome_kinds() {
    let t = template();
    let outcome: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| k.worker().is_none())
        .map(Kind::detail_type)
        .collect();
    let mut roles = 0;
    for (id, s) in statements(&t) {
        if !id.ends_with("Role") {
            continue;
        }
        let Some((sources, kinds)) = put_events_kinds(&s) else {
            continue;
        };
        roles += 1;
        assert_eq!(sources, [SOURCE_WORKER], "{id}: PutEvents as a worker only");
        assert!(!kinds.is_empty(), "{id}: PutEvents for any detail-type");
        for k in &kinds {
            assert!(
                outcome.contains(&k.as_str()),
                "{id} may put {k}, which is not an outcome kind"
            );
        }
    }
    assert_eq!(
        roles,
        Worker::ALL.len(),
        "one PutEvents statement per worker role"
    );
}

#[test]
fn operators_and_applications_put_only_requests() {
    let t = template();
    for policy in ["OperatorPublishPolicy", "AppMeasurementsPolicy"] {
        let found: Vec<_> = statements(&t)
            .into_iter()
            .filter(|(id, _)| id == policy)
            .filter_map(|(_, s)| put_events_kinds(&s))
            .collect();
        assert_eq!(found.len(), 1, "{policy}");
        for k in &found[0].1 {
            let kind: Kind = k.parse().expect("a stoker kind");
            assert!(
                kind.worker().is_some(),
                "{policy} may put the outcome kind {k}"
            );
        }
        // Operators may request every job kind: a kind left out is one `stoker publish` (and
        // `stoker readiness`, the deploy gate) cannot request on AWS.
        if policy == "OperatorPublishPolicy" {
            for kind in Kind::ALL.iter().filter(|k| k.worker().is_some()) {
                assert!(
                    found[0].1.iter().any(|k| k == kind.detail_type()),
                    "OperatorPublishPolicy does not let operators request {}",
                    kind.detail_type()
                );
            }
        }
    }
}
