//! The names a role's statements mean for one worker run: the template's `!Ref`, `!GetAtt` and
//! `!Sub` resolved with the names the worker was configured with.
//!
//! Each function's `Environment.Variables` in the template says which `STOKER_*` variable holds
//! which `!Ref` (`STOKER_OPS_TABLE: !Ref OpsTable`). The recorded bindings give the values, so
//! `!GetAtt OpsTable.Arn` becomes the ARN of the table the worker actually used, whatever the
//! test named it. `${AWS::StackName}` is `STOKER_STACK`, or inferred from a bound resource
//! whose template name is `${AWS::StackName}<suffix>` (the ops table `<stack>-ops`).
//!
//! A name left free (a parameter no variable carries, such as `WarmableFunctionPrefix`; the
//! stack when nothing tells it) is any string in an Allow statement, so the check cannot
//! refuse a call for a name it does not know. In a Deny statement a free name makes that
//! resource unevaluated (it denies nothing here) and the report counts it.

use std::collections::{BTreeMap, HashMap};

use serde_norway::{Mapping, Value};
use stoker_events::Worker;

use crate::cfn::resources;
use crate::iam::Tok;

/// Which effect a value is resolved for (free names differ, see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Allow,
    Deny,
}

/// The names of one worker run.
#[derive(Debug, Clone)]
pub struct Names<'t> {
    t: &'t Value,
    /// `!Ref` target (logical id, parameter, pseudo parameter) → its value.
    refs: HashMap<String, String>,
}

fn lit(s: &str) -> Vec<Tok> {
    s.chars().map(Tok::Lit).collect()
}

/// `*` (and `?`) as wildcards, as policies read them in resources and `...Like` conditions.
fn wild(s: &str) -> Vec<Tok> {
    crate::iam::glob(s)
}

/// The name property of a resource type, and whether its `!Ref` is that name.
fn name_property(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "AWS::DynamoDB::Table" => "TableName",
        "AWS::SQS::Queue" => "QueueName",
        "AWS::Events::EventBus" => "Name",
        "AWS::S3::Bucket" => "BucketName",
        _ => return None,
    })
}

impl<'t> Names<'t> {
    /// The names `worker` ran with: `vars` are its recorded bindings (`STOKER_*` → value).
    pub fn new(t: &'t Value, worker: Worker, vars: &BTreeMap<String, String>) -> Names<'t> {
        let env = &resources(t)
            .get(format!("{}Function", worker.stem()).as_str())
            .map(|f| f["Properties"]["Environment"]["Variables"].clone())
            .unwrap_or(Value::Null);
        let mut refs = HashMap::new();
        for (var, expr) in env.as_mapping().into_iter().flatten() {
            let (Some(var), Value::Tagged(tag)) = (var.as_str(), expr) else {
                continue;
            };
            if tag.tag != "!Ref" {
                continue;
            }
            if let (Some(target), Some(value)) = (tag.value.as_str(), vars.get(var)) {
                refs.insert(target.to_owned(), value.clone());
            }
        }
        let mut names = Names { t, refs };
        if !names.refs.contains_key("AWS::StackName")
            && let Some(stack) = names.infer_stack()
        {
            names.refs.insert("AWS::StackName".into(), stack);
        }
        names
    }

    /// The stack, when it is not bound, from a bound resource named `${AWS::StackName}<suffix>`.
    fn infer_stack(&self) -> Option<String> {
        let mut bound: Vec<(&String, &String)> = self.refs.iter().collect();
        bound.sort();
        bound.into_iter().find_map(|(id, _)| {
            let res = resources(self.t).get(id.as_str())?;
            let prop = name_property(res["Type"].as_str()?)?;
            let Value::Tagged(tag) = &res["Properties"][prop] else {
                return None;
            };
            let suffix = tag.value.as_str()?.strip_prefix("${AWS::StackName}")?;
            if suffix.contains("${") {
                return None;
            }
            let name = self.bound_name(id)?;
            name.strip_suffix(suffix)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    }

    pub fn stack(&self) -> Option<&str> {
        self.refs.get("AWS::StackName").map(String::as_str)
    }

    /// The bound name of resource `id` (a queue's `!Ref` is its URL: the name is its last segment).
    fn bound_name(&self, id: &str) -> Option<String> {
        let v = self.refs.get(id)?;
        let ty = resources(self.t).get(id).and_then(|r| r["Type"].as_str());
        Some(if ty == Some("AWS::SQS::Queue") {
            v.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(v)
                .to_owned()
        } else {
            v.clone()
        })
    }

    fn free(mode: Mode) -> Option<Vec<Tok>> {
        match mode {
            Mode::Allow => Some(vec![Tok::Any]),
            Mode::Deny => None,
        }
    }

    /// What `!Ref name` stands for.
    fn reference(&self, name: &str, mode: Mode) -> Option<Vec<Tok>> {
        match name {
            "AWS::Partition" => return Some(lit("aws")),
            "AWS::Region" | "AWS::AccountId" | "AWS::URLSuffix" => return Some(vec![Tok::Any]),
            _ => {}
        }
        if let Some(v) = self.bound_name(name) {
            return Some(lit(&v));
        }
        match resources(self.t).get(name).and_then(|r| r["Type"].as_str()) {
            Some("AWS::SQS::Queue") | None => Self::free(mode),
            Some(_) => self.resource_name(name, mode),
        }
    }

    /// The name of resource `id`: bound, or its template name resolved.
    fn resource_name(&self, id: &str, mode: Mode) -> Option<Vec<Tok>> {
        if let Some(v) = self.bound_name(id) {
            return Some(lit(&v));
        }
        let res = resources(self.t).get(id)?;
        let prop = name_property(res["Type"].as_str()?)?;
        match &res["Properties"][prop] {
            Value::String(s) => Some(lit(s)),
            Value::Tagged(tag) if tag.tag == "!Sub" => {
                self.sub(tag.value.as_str()?, &Mapping::new(), mode, false)
            }
            _ => Self::free(mode),
        }
    }

    /// What `!GetAtt id.Arn` stands for.
    fn arn(&self, id: &str, mode: Mode) -> Option<Vec<Tok>> {
        let ty = resources(self.t).get(id).and_then(|r| r["Type"].as_str());
        let head = match ty {
            Some("AWS::DynamoDB::Table") => "arn:aws:dynamodb:*:*:table/",
            Some("AWS::SQS::Queue") => "arn:aws:sqs:*:*:",
            Some("AWS::Events::EventBus") => "arn:aws:events:*:*:event-bus/",
            Some("AWS::S3::Bucket") => "arn:aws:s3:::",
            _ => return Self::free(mode),
        };
        let mut out = wild(head);
        out.extend(self.resource_name(id, mode)?);
        Some(out)
    }

    /// A `!Sub` text: `${X}` is `!Ref X`, `${X.Arn}` is `!GetAtt X.Arn`, `${v}` a variable;
    /// `like` makes the text's own `*` a wildcard.
    fn sub(&self, text: &str, vars: &Mapping, mode: Mode, like: bool) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        let mut rest = text;
        let literal = |s: &str| if like { wild(s) } else { lit(s) };
        while let Some(start) = rest.find("${") {
            out.extend(literal(&rest[..start]));
            let end = rest[start..].find('}')? + start;
            let name = &rest[start + 2..end];
            let part = if let Some(v) = vars.get(name) {
                self.value(v, mode, like).into_iter().next().flatten()?
            } else if let Some(id) = name.strip_suffix(".Arn") {
                self.arn(id, mode)?
            } else {
                self.reference(name, mode)?
            };
            out.extend(part);
            rest = &rest[end + 1..];
        }
        out.extend(literal(rest));
        Some(out)
    }

    /// The patterns a policy value (a resource, a condition value, or a list of them) stands
    /// for; `None` for one that cannot be resolved in `Deny` mode.
    pub fn value(&self, v: &Value, mode: Mode, like: bool) -> Vec<Option<Vec<Tok>>> {
        match v {
            Value::Sequence(items) => items
                .iter()
                .flat_map(|i| self.value(i, mode, like))
                .collect(),
            Value::String(s) => vec![Some(if like { wild(s) } else { lit(s) })],
            Value::Bool(b) => vec![Some(lit(&b.to_string()))],
            Value::Number(n) => vec![Some(lit(&n.to_string()))],
            Value::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                match (tag.as_str(), &tagged.value) {
                    ("!GetAtt", Value::String(s)) => {
                        vec![s.strip_suffix(".Arn").and_then(|id| self.arn(id, mode))]
                    }
                    ("!Ref", Value::String(s)) => vec![self.reference(s, mode)],
                    ("!Sub", Value::String(s)) => vec![self.sub(s, &Mapping::new(), mode, like)],
                    ("!Sub", Value::Sequence(parts)) => {
                        let text = parts.first().and_then(Value::as_str).unwrap_or_default();
                        let vars = parts
                            .get(1)
                            .and_then(Value::as_mapping)
                            .cloned()
                            .unwrap_or_default();
                        vec![self.sub(text, &vars, mode, like)]
                    }
                    _ => vec![Self::free(mode)],
                }
            }
            _ => vec![Self::free(mode)],
        }
    }
}

/// A pattern for people to read (`*` for any string).
pub fn show(p: &[Tok]) -> String {
    p.iter()
        .map(|t| match t {
            Tok::Lit(c) => *c,
            Tok::Any | Tok::Segment => '*',
        })
        .collect()
}

/// Whether `value` (a literal) is one of the strings `pattern` stands for.
pub fn matches(pattern: &[Tok], value: &str) -> bool {
    crate::iam::intersects(pattern, &lit(value))
}
