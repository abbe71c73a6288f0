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

/// What a stack-specific `${...}` stands for when a resource is matched against ARN formats:
/// pseudo parameters become example values, template parameters (prefixes we cannot know)
/// become `*`.
fn pseudo(name: &str) -> Option<&'static str> {
    Some(match name {
        "AWS::Partition" => "aws",
        "AWS::Region" => "us-east-1",
        "AWS::AccountId" => "123456789012",
        "AWS::StackName" => "stack",
        _ => return None,
    })
}

/// The ARN of a resource of the template (what `!GetAtt X.Arn` gives), by its type.
pub fn arn_of(t: &Value, logical_id: &str) -> String {
    let ty = resources(t)
        .get(logical_id)
        .and_then(|r| r["Type"].as_str())
        .unwrap_or_else(|| panic!("no resource {logical_id}"));
    let name = logical_id.to_lowercase();
    match ty {
        "AWS::DynamoDB::Table" => format!("arn:aws:dynamodb:us-east-1:123456789012:table/{name}"),
        "AWS::SQS::Queue" => format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
        "AWS::Events::EventBus" => {
            format!("arn:aws:events:us-east-1:123456789012:event-bus/{name}")
        }
        "AWS::S3::Bucket" => format!("arn:aws:s3:::{name}"),
        "AWS::SNS::Topic" => format!("arn:aws:sns:us-east-1:123456789012:{name}"),
        "AWS::Logs::LogGroup" => format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}:*"),
        "AWS::SSM::Parameter" => format!("arn:aws:ssm:us-east-1:123456789012:parameter/{name}"),
        other => panic!("arn_of: add the ARN form of {other} ({logical_id})"),
    }
}

/// Resolves a `!Sub` string for matching (see [`pseudo`]).
fn substitute(t: &Value, text: &str, vars: &Mapping) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + end];
        let value = if let Some(v) = pseudo(name) {
            v.to_owned()
        } else if let Some(v) = vars.get(name).and_then(|v| v.as_str()) {
            v.to_owned()
        } else if let Some(id) = name.strip_suffix(".Arn") {
            arn_of(t, id)
        } else {
            "*".to_owned()
        };
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The resource patterns a statement's `Resource` grants (tags resolved, see `substitute`).
pub fn resource_patterns(t: &Value, resource: &Value) -> Vec<String> {
    match resource {
        Value::Sequence(items) => items.iter().flat_map(|r| resource_patterns(t, r)).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            match (tag.as_str(), &tagged.value) {
                ("!GetAtt", Value::String(s)) => {
                    let id = s
                        .strip_suffix(".Arn")
                        .unwrap_or_else(|| panic!("GetAtt {s}"));
                    vec![arn_of(t, id)]
                }
                ("!Sub", Value::String(s)) => vec![substitute(t, s, &Mapping::new())],
                ("!Sub", Value::Sequence(parts)) => {
                    let text = parts[0].as_str().unwrap_or_default();
                    let vars = parts
                        .get(1)
                        .and_then(Value::as_mapping)
                        .cloned()
                        .unwrap_or_default();
                    vec![substitute(t, text, &vars)]
                }
                ("!Ref", _) => vec!["*".to_owned()],
                other => panic!("resource_patterns: {other:?}"),
            }
        }
        other => panic!("resource_patterns: {other:?}"),
    }
}
