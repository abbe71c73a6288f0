//! CloudWatch Embedded Metric Format: one JSON line per job on stdout. In Lambda, CloudWatch
//! Logs turns them into metrics (namespace `Stoker`, dimension `Worker`) without any API call.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

static COLD: AtomicBool = AtomicBool::new(true);

/// The metrics of one job.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobMetrics {
    pub duration_ms: f64,
    pub completed: bool,
    pub failed: bool,
    pub replayed: bool,
    pub attempts: u32,
}

/// The EMF document for one job (the first of the process is marked as a cold start).
pub fn document(worker: &str, m: &JobMetrics, timestamp_ms: i64) -> Value {
    let cold = COLD.swap(false, Ordering::Relaxed);
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "Stoker",
                "Dimensions": [["Worker"]],
                "Metrics": [
                    { "Name": "JobDuration", "Unit": "Milliseconds" },
                    { "Name": "JobsCompleted", "Unit": "Count" },
                    { "Name": "JobsFailed", "Unit": "Count" },
                    { "Name": "JobReplays", "Unit": "Count" },
                    { "Name": "JobAttempts", "Unit": "Count" },
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
        "ColdStart": u8::from(cold),
    })
}

/// Writes the job's EMF line to stdout (unless `STOKER_EMF=off`).
pub fn emit(worker: &str, m: &JobMetrics) {
    if std::env::var("STOKER_EMF").is_ok_and(|v| v == "off") {
        return;
    }
    println!(
        "{}",
        document(worker, m, chrono::Utc::now().timestamp_millis())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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
