//! Alarms whose names start with a prefix: at least one exists (`alarm.exists`); each is not
//! in ALARM (`alarm.state`) and tells someone when it fires (`alarm.action`).

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
/// worker's own no-go alarm: checking it would keep it firing once it fired).
pub async fn check(cw: &Client, prefix: &str, skip: &str) -> Vec<Check> {
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
                return vec![Check::fail(
                    "alarm.exists",
                    &format!("{prefix}*"),
                    unreadable("DescribeAlarms", &e),
                )];
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
    alarms.retain(|a| a.name != skip);
    if alarms.is_empty() {
        return vec![Check::fail(
            "alarm.exists",
            &format!("{prefix}*"),
            "no alarm has this prefix: nothing would tell anyone that the system is failing",
        )];
    }
    alarms.iter().flat_map(|a| [state(a), action(a)]).collect()
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
