//! After an apply, the function's alarms watched for a while: one that goes to ALARM rolls
//! the change back (seed 003: "automatic rollback: triggered by health check failures or
//! alarms"). Before the apply they are read once: a function with an alarm already in ALARM
//! is not changed (the change would be blamed for it, or hide it).
//!
//! A function's alarms are those CloudWatch has on its `AWS/Lambda` `Errors`, `Duration` and
//! `Throttles`, on the function (`FunctionName`) or on the alias an apply moves
//! (`FunctionName` + `Resource` = `<function>:<alias>`).

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, StateValue};
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::wait::{self, Pace};

/// The metrics whose alarms guard a change.
pub const METRICS: [&str; 3] = ["Errors", "Duration", "Throttles"];

/// How often the alarms are read while watched.
const PACE: Pace = Pace::every(Duration::from_secs(2));

/// An alarm in ALARM, and CloudWatch's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tripped {
    pub alarm: String,
    pub reason: String,
}

impl std::fmt::Display for Tripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "alarm {} in ALARM: {}", self.alarm, self.reason)
    }
}

/// The names of `function`'s alarms (see the module's docs), and the first in ALARM now.
pub async fn alarms(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    alias: &str,
) -> Result<(Vec<String>, Option<Tripped>), JobError> {
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let on_function = vec![dim("FunctionName", function)];
    let on_alias = vec![
        dim("FunctionName", function),
        dim("Resource", &format!("{function}:{alias}")),
    ];
    let mut names: Vec<String> = Vec::new();
    for metric in METRICS {
        for dims in [&on_function, &on_alias] {
            let out = cw
                .describe_alarms_for_metric()
                .namespace("AWS/Lambda")
                .metric_name(metric)
                .set_dimensions(Some(dims.clone()))
                .send()
                .await
                .map_err(|e| sdk_error("DescribeAlarmsForMetric", e))?;
            for name in out.metric_alarms().iter().filter_map(|a| a.alarm_name()) {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
        }
    }
    // Their states as DescribeAlarms reads them, as the watch does.
    let tripped = in_alarm(cw, &names).await?;
    Ok((names, tripped))
}

/// Reads `names` until one is in ALARM (that one) or `within` has passed (`None`).
pub async fn watch(
    cw: &aws_sdk_cloudwatch::Client,
    names: &[String],
    within: Duration,
) -> Result<Option<Tripped>, JobError> {
    if names.is_empty() || within.is_zero() {
        return Ok(None);
    }
    wait::until(within, PACE, || in_alarm(cw, names)).await
}

/// The first of `names` in ALARM now.
async fn in_alarm(
    cw: &aws_sdk_cloudwatch::Client,
    names: &[String],
) -> Result<Option<Tripped>, JobError> {
    // DescribeAlarms takes at most 100 names.
    for chunk in names.chunks(100) {
        let out = cw
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .max_records(100)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAlarms", e))?;
        // The state is checked here, not by DescribeAlarms' StateValue filter (which
        // LocalStack ignores).
        let alarm = out
            .metric_alarms()
            .iter()
            .find(|a| a.state_value() == Some(&StateValue::Alarm));
        if let Some(a) = alarm {
            let name = a.alarm_name().unwrap_or_default();
            return Ok(Some(tripped_of(name, a.state_reason())));
        }
    }
    Ok(None)
}

fn tripped_of(name: &str, reason: Option<&str>) -> Tripped {
    Tripped {
        alarm: name.to_owned(),
        reason: reason
            .unwrap_or("no reason given")
            .chars()
            .take(300)
            .collect(),
    }
}
