//! The check finds what AWS would deny, and passes what it would allow.

use std::collections::BTreeMap;

use serde_json::json;
use stoker_kit::calls::{Call, Record};

use super::*;
use crate::cfn::template;

fn call(worker: &str, c: serde_json::Value) -> Recorded {
    let call: Call = serde_json::from_value(c).expect("call");
    Recorded {
        record: Record {
            call,
            worker: Some(worker.into()),
            process: "test".into(),
        },
        bindings: vec![BTreeMap::from([
            ("STOKER_OPS_TABLE".into(), "it-kp-1-ops".into()),
            (
                "STOKER_QUEUE_URL".into(),
                "http://localhost:4566/000000000000/it-kp-1".into(),
            ),
            ("STOKER_BUS".into(), "it-kp-1-bus".into()),
        ])],
    }
}

fn put(worker: &str, pk: &str) -> Recorded {
    call(
        worker,
        json!({"service": "dynamodb", "operation": "PutItem",
               "resource": "arn:aws:dynamodb:us-east-1::table/it-kp-1-ops",
               "context": {"dynamodb:LeadingKeys": [pk]}}),
    )
}

#[test]
fn calls_the_role_allows_pass_and_the_others_are_reported() {
    let t = template();
    let allowed = [
        put("backup", "IDEM#backup#k"),
        call(
            "rollup",
            json!({"service": "events", "operation": "PutEvents", "resource": "arn:aws:events:us-east-1::event-bus/it-kp-1-bus",
                   "items": [{"operation": "Entry", "resource": "arn:aws:events:us-east-1::event-bus/it-kp-1-bus",
                              "context": {"events:source": ["stoker.worker"], "events:detail-type": ["stoker.job.completed"]}}]}),
        ),
        call(
            "warmup",
            json!({"service": "sqs", "operation": "DeleteMessageBatch",
                   "resource": "arn:aws:sqs:us-east-1:000000000000:it-kp-1"}),
        ),
    ];
    let r = check(&t, &allowed);
    assert!(r.passed(), "{r}");
    assert!(r.used.contains_key("BackupRole/OpsTable"), "{:?}", r.used);
    assert!(r.used.contains_key("WarmupRole/OwnQueue"), "{:?}", r.used);

    let denied = [
        // Another worker's claim: the LeadingKeys condition refuses it.
        put("backup", "IDEM#warmup#k"),
        // A job request forged through the bus: detail-type not an outcome.
        call(
            "rollup",
            json!({"service": "events", "operation": "PutEvents", "resource": "x",
                   "items": [{"operation": "Entry", "resource": "arn:aws:events:us-east-1::event-bus/it-kp-1-bus",
                              "context": {"events:source": ["stoker.worker"], "events:detail-type": ["stoker.backup.requested"]}}]}),
        ),
        // Someone else's queue.
        call(
            "warmup",
            json!({"service": "sqs", "operation": "DeleteMessage",
                   "resource": "arn:aws:sqs:us-east-1:000000000000:it-other"}),
        ),
        // A request the recorder could not name.
        call(
            "warmup",
            json!({"service": "lambda", "operation": "?PUT /x", "resource": "*"}),
        ),
    ];
    let r = check(&t, &denied);
    let found: Vec<(&str, &str)> = r
        .denied
        .keys()
        .map(|(w, a, _)| (w.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("backup", "dynamodb:PutItem"),
            ("rollup", "events:PutEvents"),
            ("warmup", "?PUT /x"),
            ("warmup", "sqs:DeleteMessage"),
        ],
        "{r}"
    );
    let d = &r.denied[&(
        "backup".into(),
        "dynamodb:PutItem".into(),
        "BackupRole/OpsTable".into(),
    )];
    assert!(d.why.contains("LeadingKeys"), "{}", d.why);
}

/// A small template: what AWS denies that the emulators never would.
const TINY: &str = r#"
Resources:
  OpsTable: { Type: AWS::DynamoDB::Table, Properties: { TableName: !Sub "${AWS::StackName}-ops" } }
  WarmupFunction:
    Type: AWS::Lambda::Function
    Properties: { Environment: { Variables: { STOKER_OPS_TABLE: !Ref OpsTable } } }
  WarmupRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - { Sid: Tables, Effect: Allow, Action: [dynamodb:ListBackups, dynamodb:DescribeTable], Resource: !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*" }
              - { Sid: Invoke, Effect: Allow, Action: lambda:InvokeFunction, Resource: "*" }
              - { Sid: NotOurs, Effect: Deny, Action: lambda:InvokeFunction, Resource: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-*" }
"#;

#[test]
fn star_only_actions_on_a_resource_and_explicit_denies_are_denied() {
    let t: Value = serde_norway::from_str(TINY).expect("yaml");
    let rec = |op: &str, svc: &str, res: &str| {
        let mut c = call(
            "warmup",
            json!({"service": svc, "operation": op, "resource": res}),
        );
        c.bindings = vec![BTreeMap::from([(
            "STOKER_OPS_TABLE".into(),
            "s-ops".into(),
        )])];
        c
    };
    let r = check(
        &t,
        &[
            rec("ListBackups", "dynamodb", "*"),
            rec(
                "DescribeTable",
                "dynamodb",
                "arn:aws:dynamodb:us-east-1::table/s-ops",
            ),
            rec(
                "Invoke",
                "lambda",
                "arn:aws:lambda:us-east-1::function:s-warmup",
            ),
            rec(
                "Invoke",
                "lambda",
                "arn:aws:lambda:us-east-1::function:app-fn",
            ),
        ],
    );
    let found: Vec<(&str, &str)> = r
        .denied
        .keys()
        .map(|(_, a, s)| (a.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("dynamodb:ListBackups", "WarmupRole/Tables"),
            ("lambda:InvokeFunction", "WarmupRole/NotOurs"),
        ],
        "{r}"
    );
    assert!(r.used.contains_key("WarmupRole/Invoke") && r.used.contains_key("WarmupRole/Tables"));
}

#[test]
fn a_worker_configured_twice_in_one_process_keeps_both_sets_of_names() {
    let common = BTreeMap::from([("STOKER_STACK".to_owned(), "s".to_owned())]);
    let line = |t: &str, bus: Option<&str>| {
        let mut m = BTreeMap::from([("STOKER_OPS_TABLE".to_owned(), t.to_owned())]);
        if let Some(b) = bus {
            m.insert("STOKER_BUS".into(), b.into());
        }
        m
    };
    let g = generations(
        &common,
        &[
            line("a-ops", None),
            line("a-ops", Some("bus")),
            line("b-ops", None),
        ],
    );
    let tables: Vec<(&str, Option<&str>)> = g
        .iter()
        .map(|n| {
            (
                n["STOKER_OPS_TABLE"].as_str(),
                n.get("STOKER_BUS").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(tables, [("a-ops", Some("bus")), ("b-ops", None)]);
    assert!(g.iter().all(|n| n["STOKER_STACK"] == "s"));
}

#[test]
fn auto_scaling_reaches_dynamodb_tables_only_and_needs_the_tables_own_permissions() {
    let t = template();
    let register = |namespace: &str, id: &str| {
        call(
            "optimizer",
            json!({"service": "application-autoscaling", "operation": "RegisterScalableTarget",
                   "resource": format!("arn:aws:application-autoscaling:us-east-1::scalable-target/{id}"),
                   "context": {"application-autoscaling:service-namespace": [namespace]},
                   "items": [{"operation": "Table", "resource": "arn:aws:dynamodb:us-east-1::table/orders"}]}),
        )
    };
    let r = check(&t, &[register("dynamodb", "table/orders")]);
    assert!(r.passed(), "{r}");
    assert!(
        r.used.contains_key("OptimizerRole/AutoScaleOptedInTables"),
        "UpdateTable on the table is asked too: {:?}",
        r.used
    );
    // Another service's scalable target (an ECS service, say) is out of reach.
    let r = check(&t, &[register("ecs", "service/c/s")]);
    let found: Vec<&str> = r.denied.keys().map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(
        found,
        ["application-autoscaling:RegisterScalableTarget"],
        "{r}"
    );
}
