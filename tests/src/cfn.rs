//! Reading `infra/template.yaml` in tests: its resources, tagged values and IAM statements.

use serde_norway::{Mapping, Value};

/// The template, parsed.
pub fn template() -> Value {
    serde_norway::from_str(crate::TEMPLATE).expect("infra/template.yaml is valid YAML")
}

pub fn resources(t: &Value) -> &Mapping {
    t["Resources"].as_mapping().expect("Resources")
}

/// Strips a CloudFormation short-form tag (`!Sub`, `!GetAtt`, ...) if present.
pub fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

/// The strings in a value or a list of values (tags stripped).
pub fn strings(v: &Value) -> Vec<String> {
    match untag(v) {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

/// Every IAM statement in the template, with the logical id of its resource: inline role
/// policies, managed policies, queue policies and trust policies.
pub fn statements(t: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (id, res) in resources(t) {
        let id = id.as_str().unwrap_or_default().to_owned();
        let props = &res["Properties"];
        let mut docs: Vec<&Value> = props["Policies"]
            .as_sequence()
            .map(|ps| ps.iter().map(|p| &p["PolicyDocument"]).collect())
            .unwrap_or_default();
        docs.push(&props["PolicyDocument"]);
        docs.push(&props["AssumeRolePolicyDocument"]);
        for doc in docs {
            for s in doc["Statement"].as_sequence().into_iter().flatten() {
                out.push((id.clone(), s.clone()));
            }
        }
    }
    out
}
