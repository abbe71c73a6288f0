//! Alarms whose names start with a prefix: at least one exists (`alarm.exists`); each is not
//! in ALARM (`alarm.state`) and tells someone when it fires (`alarm.action`). On the stack's
//! own verdict, every alarm its CloudFormation stack declares exists (`alarm.exists`: one
//! deleted outside CloudFormation fails).

use std::collections::HashSet;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};

use crate::check::Check;
use crate::evidence::unreadable;

/// What the checks read of one alarm.
#[derive(Debug, Clone)]
struct Alarm {
    name: String,
    state: StateValue,
    reason: String,
    actions: usize,
    actions_enabled: bool,
    /// Its description starts `[warning]` (the template's warning level of a two-level
    /// alarm): in ALARM it warns, it does not stop a release.
    warning: bool,
}

/// Every check of the alarms named `prefix*`, metric and composite, except `skip` (the
/// worker's own no-go alarm: checking it would keep it firing once it fired), and the names
/// of the alarms found (`skip` included); `None` when they could not be read.
pub async fn check(cw: &Client, prefix: &str, skip: &str) -> (Vec<Check>, Option<Vec<String>>) {
    let mut alarms = Vec::new();
    let mut token = None;
    loop {
        let page = match cw
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let why = unreadable("DescribeAlarms", &e);
                return (
                    vec![Check::fail("alarm.exists", &format!("{prefix}*"), why)],
                    None,
                );
            }
        };
        alarms.extend(page.metric_alarms().iter().map(|a| {
            Alarm {
                name: a.alarm_name().unwrap_or_default().to_owned(),
                state: a
                    .state_value()
                    .cloned()
                    .unwrap_or(StateValue::InsufficientData),
                reason: a.state_reason().unwrap_or_default().to_owned(),
                actions: a.alarm_actions().len(),
                actions_enabled: a.actions_enabled().unwrap_or(true),
                warning: is_warning(a.alarm_description()),
            }
        }));
        alarms.extend(page.composite_alarms().iter().map(|a| {
            Alarm {
                name: a.alarm_name().unwrap_or_default().to_owned(),
                state: a
                    .state_value()
                    .cloned()
                    .unwrap_or(StateValue::InsufficientData),
                reason: a.state_reason().unwrap_or_default().to_owned(),
                actions: a.alarm_actions().len(),
                actions_enabled: a.actions_enabled().unwrap_or(true),
                warning: is_warning(a.alarm_description()),
            }
        }));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let names = alarms.iter().map(|a| a.name.clone()).collect();
    alarms.retain(|a| a.name != skip);
    if alarms.is_empty() {
        let none = Check::fail(
            "alarm.exists",
            &format!("{prefix}*"),
            "no alarm has this prefix: nothing would tell anyone that the system is failing",
        );
        return (vec![none], Some(names));
    }
    let checks = alarms.iter().flat_map(|a| [state(a), action(a)]).collect();
    (checks, Some(names))
}

/// The alarms CloudFormation stack `stack` declares, `(logical id, alarm name)`
/// (`ListStackResources`); `None` when no CloudFormation stack has that name (a stack deployed
/// otherwise: its alarms are checked by prefix only).
pub async fn declared(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Option<Vec<(String, String)>>, String> {
    let pages = cfn
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    let resources = match pages {
        Ok(r) => r,
        Err(e)
            if e.code() == Some("ValidationError")
                && e.message().is_some_and(|m| m.contains("does not exist")) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(unreadable("ListStackResources", &e)),
    };
    Ok(Some(
        resources
            .iter()
            .filter(|r| {
                matches!(
                    r.resource_type(),
                    Some("AWS::CloudWatch::Alarm" | "AWS::CloudWatch::CompositeAlarm")
                )
            })
            .filter_map(|r| {
                Some((
                    r.logical_resource_id()?.to_owned(),
                    r.physical_resource_id()?.to_owned(),
                ))
            })
            .collect(),
    ))
}

/// `alarm.exists` of the alarms `stack` declares against those `found`: each missing one
/// fails; all there passes once, for the stack (nothing when it declares none).
pub fn declared_exist(stack: &str, declared: &[(String, String)], found: &[String]) -> Vec<Check> {
    if declared.is_empty() {
        return vec![];
    }
    let found: HashSet<&str> = found.iter().map(String::as_str).collect();
    let missing: Vec<Check> = declared
        .iter()
        .filter(|(_, name)| !found.contains(name.as_str()))
        .map(|(id, name)| {
            Check::fail(
                "alarm.exists",
                name,
                format!(
                    "the stack declares it ({id}) but CloudWatch has no such alarm: deleted outside CloudFormation? Update the stack to put it back"
                ),
            )
        })
        .collect();
    if !missing.is_empty() {
        return missing;
    }
    vec![Check::pass(
        "alarm.exists",
        stack,
        format!("all {} alarms the stack declares exist", declared.len()),
    )]
}

/// The prefix of a warning-level alarm's description.
pub const WARNING: &str = "[warning]";

fn is_warning(description: Option<&str>) -> bool {
    description.is_some_and(|d| d.starts_with(WARNING))
}

fn state(a: &Alarm) -> Check {
    match a.state {
        StateValue::Alarm if a.warning => Check::warn(
            "alarm.state",
            &a.name,
            format!(
                "in ALARM (warning level): {}",
                a.reason.chars().take(200).collect::<String>()
            ),
        ),
        StateValue::Alarm => Check::fail(
            "alarm.state",
            &a.name,
            format!(
                "in ALARM: {}",
                a.reason.chars().take(200).collect::<String>()
            ),
        ),
        ref s => Check::pass("alarm.state", &a.name, s.as_str().to_owned()),
    }
}

fn action(a: &Alarm) -> Check {
    if a.actions > 0 && a.actions_enabled {
        Check::pass("alarm.action", &a.name, format!("{} action(s)", a.actions))
    } else if a.actions > 0 {
        Check::warn(
            "alarm.action",
            &a.name,
            "its actions are disabled: nobody is told when it fires",
        )
    } else {
        Check::warn(
            "alarm.action",
            &a.name,
            "no action: nobody is told when it fires",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    fn alarm(state: StateValue, actions: usize, enabled: bool) -> Alarm {
        Alarm {
            name: "a".into(),
            state,
            reason: "Threshold Crossed".into(),
            actions,
            actions_enabled: enabled,
            warning: false,
        }
    }

    #[test]
    fn a_warning_level_alarm_in_alarm_warns() {
        let mut a = alarm(StateValue::Alarm, 1, true);
        a.warning = is_warning(Some("[warning] The slowest series' p95 ..."));
        assert_eq!(state(&a).status, Status::Warn);
        assert!(!is_warning(Some("[critical] ...")));
        assert!(!is_warning(None));
    }

    #[test]
    fn an_alarm_in_alarm_fails_and_one_without_action_warns() {
        assert_eq!(
            state(&alarm(StateValue::Alarm, 1, true)).status,
            Status::Fail
        );
        assert_eq!(state(&alarm(StateValue::Ok, 1, true)).status, Status::Pass);
        assert_eq!(
            state(&alarm(StateValue::InsufficientData, 1, true)).status,
            Status::Pass
        );
        assert_eq!(action(&alarm(StateValue::Ok, 1, true)).status, Status::Pass);
        assert_eq!(action(&alarm(StateValue::Ok, 0, true)).status, Status::Warn);
        assert_eq!(
            action(&alarm(StateValue::Ok, 1, false)).status,
            Status::Warn
        );
    }
}
