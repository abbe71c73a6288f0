//! The stack's own schedules (the EventBridge rules named `<stack>-<worker>-…` or
//! `<stack>-<Worker>…ScheduleRule-…`):
//! each enabled (`schedule.enabled`), and its worker seen completing a job within two of its
//! intervals (`schedule.ran`, from the kit's `JobsCompleted` metric): "warmed within its
//! schedule", "backed up on schedule".

use aws_sdk_cloudwatch::types::Statistic;
use aws_sdk_eventbridge::types::{Rule, RuleState};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use stoker_events::Worker;

use crate::check::Check;
use crate::evidence::unreadable;
use crate::metric;

/// Every check of the stack's schedules `rules` ([`list`]; the workers' metrics in
/// `namespace`).
pub async fn check(
    rules: &Result<Vec<Rule>, String>,
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    stack: &str,
    now: DateTime<Utc>,
) -> Vec<Check> {
    let rules = match rules {
        Ok(r) => r,
        Err(why) => {
            return vec![Check::fail(
                "schedule.enabled",
                &format!("{stack}-*"),
                why.clone(),
            )];
        }
    };
    let mut out = Vec::new();
    for rule in rules {
        let (Some(name), Some(expr)) = (rule.name(), rule.schedule_expression()) else {
            continue;
        };
        // Only this stack's own schedules: `stoker-staging-...` shares the prefix `stoker-`.
        let Some(worker) = worker_of(stack, name) else {
            continue;
        };
        let enabled = rule.state() == Some(&RuleState::Enabled);
        out.push(if enabled {
            Check::pass("schedule.enabled", name, format!("{expr}, enabled"))
        } else {
            Check::warn(
                "schedule.enabled",
                name,
                format!(
                    "{expr}, {}: its jobs only run when asked (the stack's SchedulesState parameter)",
                    rule.state().map_or("no state", RuleState::as_str)
                ),
            )
        });
        if enabled {
            out.push(ran(cw, namespace, name, expr, worker, now).await);
        }
    }
    out
}

/// The rules named `<stack>-…` (read once per job: the schedules' checks and the warm-up
/// intervals share them).
pub async fn list(events: &aws_sdk_eventbridge::Client, stack: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let mut token = None;
    loop {
        let out = events
            .list_rules()
            .name_prefix(format!("{stack}-"))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| unreadable("ListRules", &e))?;
        rules.extend(out.rules().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(rules),
        }
    }
}

/// Per function a warm-up schedule names: twice the shortest `rate(...)` of the stack's
/// enabled warm-up schedules naming it (at least 10 minutes: metrics arrive late). The targets
/// are read from each rule's input (`ListTargetsByRule`). A function named only by `cron(...)`
/// schedules (the office-hours peak) is not held to an interval: between its hours nothing
/// warms it, by design.
#[derive(Debug, Default)]
pub struct WarmGaps {
    gaps: HashMap<String, Duration>,
    /// Why some schedules could not be read (the rules, or a rule's targets).
    unread: Vec<String>,
}

impl WarmGaps {
    /// `function`'s gap, none when no readable `rate(...)` schedule names it; an error when it
    /// is named by none and some schedule could not be read (it may have been that one).
    pub fn of(&self, function: &str) -> Result<Option<Duration>, String> {
        match self.gaps.get(function) {
            Some(gap) => Ok(Some(*gap)),
            None if self.unread.is_empty() => Ok(None),
            None => Err(self.unread.join("; ")),
        }
    }
}

/// The [`WarmGaps`] of the stack's schedules `rules` ([`list`]).
pub async fn warm_gaps(
    events: &aws_sdk_eventbridge::Client,
    rules: &Result<Vec<Rule>, String>,
    stack: &str,
) -> WarmGaps {
    let mut out = WarmGaps::default();
    let rules = match rules {
        Ok(rules) => rules,
        Err(why) => {
            out.unread
                .push(format!("the warm-up schedules' intervals: {why}"));
            return out;
        }
    };
    for r in rules
        .iter()
        .filter(|r| r.state() == Some(&RuleState::Enabled))
    {
        let (Some(name), Some(expr)) = (r.name(), r.schedule_expression()) else {
            continue;
        };
        if worker_of(stack, name) != Some(Worker::Warmup) || !expr.starts_with("rate(") {
            continue;
        }
        let gap = (interval(expr) * 2).max(Duration::minutes(10));
        let targets = match events.list_targets_by_rule().rule(name).send().await {
            Ok(t) => t,
            Err(e) => {
                let why = unreadable("ListTargetsByRule", &e);
                out.unread.push(format!("the targets of {name}: {why}"));
                continue;
            }
        };
        for input in targets.targets().iter().filter_map(|t| t.input()) {
            for f in warmed_by(input) {
                let g = out.gaps.entry(f).or_insert(gap);
                *g = (*g).min(gap);
            }
        }
    }
    out
}

/// The functions a warm-up request (a schedule's input: the envelope) names, by plain name.
pub fn warmed_by(input: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(input) else {
        return vec![];
    };
    v["payload"]["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"].as_str())
        .map(|f| stoker_events::names::function_name(f).to_owned())
        .collect()
}

/// The worker a schedule rule feeds, from its name: `<stack>-<worker>[-...]` for the rules the
/// template names (`<stack>-warmup-peak`, `<stack>-cache-warmer`), or
/// `<stack>-<Worker>…ScheduleRule-…` as CloudFormation names the others after their logical id.
pub fn worker_of(stack: &str, rule: &str) -> Option<Worker> {
    let rest = rule.strip_prefix(stack)?.strip_prefix('-')?;
    let named = Worker::ALL
        .into_iter()
        .filter(|w| rest == w.name() || rest.starts_with(&format!("{}-", w.name())))
        .max_by_key(|w| w.name().len());
    if named.is_some() {
        return named;
    }
    let id = rest.split('-').next()?;
    if !id.ends_with("ScheduleRule") {
        return None;
    }
    Worker::ALL
        .into_iter()
        .filter(|w| id.starts_with(w.stem()))
        .max_by_key(|w| w.stem().len())
}

/// How often `expr` fires: `rate(N unit)` exactly; a `cron(...)` by its fields: weekly when it
/// names days of the week, monthly when it names days of the month, else daily (at worst the
/// window is longer than it should be).
pub fn interval(expr: &str) -> Duration {
    if let Some(cron) = expr.strip_prefix("cron(").and_then(|c| c.strip_suffix(')')) {
        let fields: Vec<&str> = cron.split_whitespace().collect();
        let any = |f: Option<&&str>| matches!(f.copied(), None | Some("*") | Some("?"));
        return if !any(fields.get(4)) {
            Duration::days(7)
        } else if !any(fields.get(2)) {
            Duration::days(31)
        } else {
            Duration::days(1)
        };
    }
    let Some(rate) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) else {
        return Duration::days(1);
    };
    let mut parts = rate.split_whitespace();
    // EventBridge takes at most a few years; anything out of range reads as a year.
    let n: i64 = parts
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .clamp(1, 100_000_000);
    let d = match parts.next().unwrap_or("") {
        u if u.starts_with("minute") => Duration::try_minutes(n),
        u if u.starts_with("hour") => Duration::try_hours(n),
        _ => Duration::try_days(n),
    };
    d.unwrap_or(Duration::days(365)).min(Duration::days(365))
}

/// `schedule.ran`: some job of `worker` completed within two intervals of `expr` (at least 10
/// minutes: metrics arrive a few minutes late).
async fn ran(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    rule: &str,
    expr: &str,
    worker: Worker,
    now: DateTime<Utc>,
) -> Check {
    const CHECK: &str = "schedule.ran";
    let window = (interval(expr) * 2).max(Duration::minutes(10));
    let dims = [("Worker", worker.name())];
    let completed = metric::read(
        cw,
        namespace,
        "JobsCompleted",
        &dims,
        (window, window),
        Statistic::Sum,
        now,
    );
    let completed = match completed.await {
        Ok(points) => metric::total(&points),
        Err(why) => return Check::fail(CHECK, rule, why),
    };
    let hours = window.num_minutes() as f64 / 60.0;
    if completed > 0.0 {
        Check::pass(
            CHECK,
            rule,
            format!("{completed:.0} {worker} jobs completed in the last {hours:.1} h ({expr})"),
        )
    } else {
        Check::warn(
            CHECK,
            rule,
            format!(
                "no {worker} job completed in the last {hours:.1} h although it runs {expr}: see `stoker status` and its DLQ (a stack deployed since is not yet due)"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_rule_fails_only_the_functions_no_readable_rule_names() {
        let gaps = WarmGaps {
            gaps: HashMap::from([("api".to_owned(), Duration::minutes(30))]),
            unread: vec!["the targets of st-warmup-peak: denied".into()],
        };
        assert_eq!(gaps.of("api"), Ok(Some(Duration::minutes(30))));
        assert_eq!(
            gaps.of("web"),
            Err("the targets of st-warmup-peak: denied".to_owned())
        );
        assert_eq!(WarmGaps::default().of("web"), Ok(None));
    }

    #[test]
    fn a_schedules_input_names_its_targets_by_plain_name() {
        let input = r#"{"kind": "stoker.warmup.requested", "version": 1, "payload": {"targets": [{"function": "api", "concurrency": 3}, {"function": "arn:aws:lambda:us-east-1:123456789012:function:web:live"}]}}"#;
        assert_eq!(warmed_by(input), ["api", "web"]);
        assert!(warmed_by("not json").is_empty());
    }

    #[test]
    fn a_rule_is_its_workers_by_its_logical_id() {
        assert_eq!(
            worker_of("st", "st-WarmupScheduleRule-AB12"),
            Some(Worker::Warmup)
        );
        assert_eq!(
            worker_of("st", "st-WarmupBaselineScheduleRule-AB12"),
            Some(Worker::Warmup)
        );
        assert_eq!(
            worker_of("st", "st-CacheWarmerScheduleRule-X"),
            Some(Worker::CacheWarmer)
        );
        assert_eq!(worker_of("st", "st-warmup-peak"), Some(Worker::Warmup));
        assert_eq!(
            worker_of("st", "st-cache-warmer"),
            Some(Worker::CacheWarmer)
        );
        assert_eq!(worker_of("st", "st-staging-warmup-peak"), None);
        assert_eq!(worker_of("st", "st-WarmupRequestedRule-X"), None);
        assert_eq!(worker_of("st", "other-WarmupScheduleRule-X"), None);
    }

    #[test]
    fn intervals_of_rates_and_crons() {
        assert_eq!(interval("rate(15 minutes)"), Duration::minutes(15));
        assert_eq!(interval("rate(1 hour)"), Duration::hours(1));
        assert_eq!(interval("rate(2 days)"), Duration::days(2));
        assert_eq!(interval("cron(0 3 * * ? *)"), Duration::days(1));
        assert_eq!(interval("cron(0 4 ? * SUN *)"), Duration::days(7));
        assert_eq!(interval("cron(0 4 1 * ? *)"), Duration::days(31));
        assert_eq!(interval("rate(99999999999 days)"), Duration::days(365));
    }
}
