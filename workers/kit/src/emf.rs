//! CloudWatch Embedded Metric Format: one JSON line per job on stdout. In Lambda, CloudWatch
//! Logs turns them into metrics (namespace `Stoker`, or `STOKER_METRICS_NAMESPACE`; dimension
//! `Worker`) without any API call. `STOKER_EMF=off` writes none. Both are read once per process.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

static COLD: AtomicBool = AtomicBool::new(true);

/// The namespace when `STOKER_METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "Stoker";

struct Settings {
    on: bool,
    namespace: String,
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings {
        on: std::env::var("STOKER_EMF").map_or(true, |v| v != "off"),
        namespace: namespace(std::env::var("STOKER_METRICS_NAMESPACE").ok()),
    })
}

/// The namespace this process's metrics go to (`STOKER_METRICS_NAMESPACE`, or
/// [`DEFAULT_NAMESPACE`]).
pub fn namespace_in_use() -> &'static str {
    &settings().namespace
}

/// The metrics' namespace: `requested` when CloudWatch would take it (1-255 characters:
/// letters, digits and `. - _ / # :` and space; not `AWS/...`, which is AWS's own), else
/// [`DEFAULT_NAMESPACE`] (with a warning).
fn namespace(requested: Option<String>) -> String {
    let valid = |ns: &str| {
        (1..=255).contains(&ns.chars().count())
            && !ns.starts_with("AWS/")
            && ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c))
    };
    match requested {
        Some(ns) if valid(&ns) => ns,
        Some(ns) => {
            tracing::warn!(namespace = %ns, "STOKER_METRICS_NAMESPACE is not a namespace CloudWatch takes (1-255 characters, not AWS/...): using {DEFAULT_NAMESPACE}");
            DEFAULT_NAMESPACE.to_owned()
        }
        None => DEFAULT_NAMESPACE.to_owned(),
    }
}

/// The metrics of one job.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobMetrics {
    /// Milliseconds since the kit started processing the message (`JobDuration`).
    pub duration_ms: f64,
    /// The job completed and its completion committed (`JobsCompleted`).
    pub completed: bool,
    /// The job failed on this delivery, for good or not (`JobsFailed`).
    pub failed: bool,
    /// The delivery replayed an already completed job (`JobReplays`).
    pub replayed: bool,
    /// Handler attempts in this delivery (`JobAttempts`); 0 when the handler did not run.
    pub attempts: u32,
    /// What the job cost on AWS, in USD (`JobCost`, [`crate::cost`]).
    pub cost_usd: f64,
}

/// The EMF document for one job (the first of the process is marked as a cold start).
pub fn document(worker: &str, m: &JobMetrics, timestamp_ms: i64) -> Value {
    let cold = COLD.swap(false, Ordering::Relaxed);
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": settings().namespace,
                "Dimensions": [["Worker"]],
                "Metrics": [
                    { "Name": "JobDuration", "Unit": "Milliseconds" },
                    { "Name": "JobsCompleted", "Unit": "Count" },
                    { "Name": "JobsFailed", "Unit": "Count" },
                    { "Name": "JobReplays", "Unit": "Count" },
                    { "Name": "JobAttempts", "Unit": "Count" },
                    { "Name": "JobCost", "Unit": "None" },
                    { "Name": "ColdStart", "Unit": "Count" }
                ]
            }]
        },
        "Worker": worker,
        "JobDuration": m.duration_ms,
        "JobsCompleted": u8::from(m.completed),
        "JobsFailed": u8::from(m.failed),
        "JobReplays": u8::from(m.replayed),
        "JobAttempts": m.attempts,
        "JobCost": m.cost_usd,
        "ColdStart": u8::from(cold),
    })
}

/// Writes the job's EMF line to stdout (unless `STOKER_EMF=off`).
pub fn emit(worker: &str, m: &JobMetrics) {
    if !settings().on {
        return;
    }
    println!(
        "{}",
        document(worker, m, chrono::Utc::now().timestamp_millis())
    );
}

/// One worker-specific metric (e.g. the warm-up worker's cold instances).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric<'a> {
    /// The metric's name, also its key in the EMF document.
    pub name: &'a str,
    /// A CloudWatch unit: `Count`, `Milliseconds`, `Bytes`, `Percent`, ...
    pub unit: &'a str,
    /// The value, in `unit`.
    pub value: f64,
}

impl<'a> Metric<'a> {
    /// A metric in unit `Count`.
    pub fn count(name: &'a str, value: f64) -> Self {
        Metric {
            name,
            unit: "Count",
            value,
        }
    }

    /// A metric in unit `Milliseconds`.
    pub fn millis(name: &'a str, value: f64) -> Self {
        Metric {
            name,
            unit: "Milliseconds",
            value,
        }
    }
}

/// The EMF document for a worker's own metrics, in the namespace (`Stoker` by default) with
/// dimension `Worker`.
pub fn metrics_document(worker: &str, metrics: &[Metric<'_>], timestamp_ms: i64) -> Value {
    metrics_document_by(worker, None, metrics, timestamp_ms)
}

/// [`metrics_document`] with a second dimension (`Table`, say) besides `Worker`.
pub fn metrics_document_by(
    worker: &str,
    by: Option<(&str, &str)>,
    metrics: &[Metric<'_>],
    timestamp_ms: i64,
) -> Value {
    let declared: Vec<Value> = metrics
        .iter()
        .map(|m| json!({ "Name": m.name, "Unit": m.unit }))
        .collect();
    let dimensions = match by {
        Some((name, _)) => json!([["Worker", name]]),
        None => json!([["Worker"]]),
    };
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": settings().namespace,
                "Dimensions": dimensions,
                "Metrics": declared
            }]
        },
        "Worker": worker,
    });
    if let Some((name, value)) = by {
        doc[name] = json!(value);
    }
    for m in metrics {
        doc[m.name] = json!(m.value);
    }
    doc
}

/// Writes a worker's own metrics with a second dimension (`("Table", "orders")`) as one EMF
/// line (unless `STOKER_EMF=off`).
pub fn emit_metrics_by(worker: &str, by: (&str, &str), metrics: &[Metric<'_>]) {
    if !settings().on || metrics.is_empty() {
        return;
    }
    println!(
        "{}",
        metrics_document_by(
            worker,
            Some(by),
            metrics,
            chrono::Utc::now().timestamp_millis()
        )
    );
}

/// Writes a worker's own metrics as one EMF line (unless `STOKER_EMF=off`).
pub fn emit_metrics(worker: &str, metrics: &[Metric<'_>]) {
    if !settings().on || metrics.is_empty() {
        return;
    }
    println!(
        "{}",
        metrics_document(worker, metrics, chrono::Utc::now().timestamp_millis())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_cloudwatch_would_refuse_falls_back_to_the_default() {
        assert_eq!(namespace(None), "Stoker");
        assert_eq!(namespace(Some("Orders".into())), "Orders");
        assert_eq!(namespace(Some(String::new())), "Stoker");
        assert_eq!(namespace(Some("AWS/Lambda".into())), "Stoker");
        assert_eq!(namespace(Some("x".repeat(256))), "Stoker");
        assert_eq!(namespace(Some("Orders/Prod".into())), "Orders/Prod");
        assert_eq!(namespace(Some("orders{prod}".into())), "Stoker");
    }

    #[test]
    fn a_second_dimension_is_declared_and_carried() {
        let d = metrics_document_by(
            "backup",
            Some(("Table", "orders")),
            &[Metric::count("BackupDrillPassed", 1.0)],
            1,
        );
        assert_eq!(
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Worker", "Table"]])
        );
        assert_eq!(
            (d["Worker"].as_str(), d["Table"].as_str()),
            (Some("backup"), Some("orders"))
        );
        assert_eq!(d["BackupDrillPassed"], 1.0);
    }

    #[test]
    fn a_metrics_document_declares_and_carries_each_metric() {
        let d = metrics_document(
            "warmup",
            &[
                Metric::count("ColdInstances", 3.0),
                Metric::millis("PassDuration", 12.5),
            ],
            7,
        );
        let declared = &d["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        assert_eq!(declared[0]["Name"], "ColdInstances");
        assert_eq!(declared[1]["Unit"], "Milliseconds");
        assert_eq!(d["ColdInstances"], 3.0);
        assert_eq!(d["PassDuration"], 12.5);
        assert_eq!(d["Worker"], "warmup");
    }

    #[test]
    fn document_declares_every_metric_it_carries() {
        let d = document(
            "warmup",
            &JobMetrics {
                duration_ms: 12.5,
                completed: true,
                attempts: 1,
                ..Default::default()
            },
            1,
        );
        let declared: Vec<&str> = d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in &declared {
            assert!(
                d.get(*name).is_some_and(Value::is_number),
                "{name} has no value"
            );
        }
        assert_eq!(d["Worker"], "warmup");
        assert_eq!(d["JobsCompleted"], 1);
        assert_eq!(
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Worker"
        );
    }
}
