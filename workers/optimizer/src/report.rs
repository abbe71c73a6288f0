//! What a pass found: one report per function, the tables' capacity advice, and a text table
//! of it for operators.

use serde::{Deserialize, Serialize};
use stoker_events::payload::outcome::Finding;

use crate::apply::Change;
use crate::capacity::CapacityAdvice;
use crate::functions::Missing;
use crate::recommend::Observed;
use crate::sweep::SweepReport;

/// One function's review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionReport {
    pub function: String,
    pub finding: Finding,
    pub reason: String,
    pub current_memory_mb: u32,
    pub current_timeout_s: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_memory_mb: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_timeout_s: Option<u32>,
    pub current_monthly_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_monthly_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_monthly_savings_usd: Option<f64>,
    /// An x86_64 function's monthly saving on arm64 at its current memory and its observed
    /// average duration (arm64's GB-second is 20 % cheaper; a measured arm64 duration would
    /// tell whether it also runs as fast: try it on a version first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm64_monthly_savings_usd: Option<f64>,
    /// A sweep with an arm64 twin: the twin's sweep and each architecture's monthly cost at
    /// its measured durations ([`crate::arm64`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arm64_measured: Option<crate::arm64::Arm64Measured>,
    /// Provisioned concurrency advised from the peak concurrency and cold starts, priced
    /// against warm-up pings (asked for with `provisioned_concurrency`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub provisioned: Option<crate::provisioned::ProvisionedAdvice>,
    pub observed: Observed,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepReport>,
    /// The sweep's chart (SVG), when a sweep ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_svg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Change>,
    /// The optimizer's older versions deleted after this apply (all but the newest few, never
    /// one an alias uses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned_versions: Vec<String>,
    /// Why the bounds cannot be met in the recommended direction: nothing is applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds_unmet: Option<String>,
    /// Why a change was not applied in mode `apply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
    /// The function's alarms read before an apply and watched after it
    /// ([`crate::watch`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub watched_alarms: Vec<String>,
    /// The alarm that went to ALARM while the applied change was watched: the change is
    /// rolled back (`applied` shows what was applied).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rolled_back: Option<crate::watch::Tripped>,
    /// A permanent problem with this function (the others went on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OptimizeReport {
    pub functions: Vec<FunctionReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<CapacityAdvice>,
    pub not_optimized: usize,
    pub applied: usize,
    /// Applied changes rolled back at once: an alarm went off while they were watched.
    #[serde(default)]
    pub rolled_back: usize,
    pub estimated_monthly_savings_usd: f64,
}

/// The columns of [`table`], read back from a stored report (JSON).
#[derive(Debug, Clone, Deserialize)]
struct Row {
    function: String,
    finding: String,
    current_memory_mb: u32,
    #[serde(default)]
    recommended_memory_mb: Option<u32>,
    current_timeout_s: u32,
    #[serde(default)]
    recommended_timeout_s: Option<u32>,
    #[serde(default)]
    estimated_monthly_savings_usd: Option<f64>,
    #[serde(default)]
    applied: Option<serde_json::Value>,
    reason: String,
}

/// A text table of a report (as stored: JSON), one line per function; `None` when `report`
/// is not an optimizer report.
pub fn table(report: &serde_json::Value) -> Option<String> {
    let rows: Vec<Row> = serde_json::from_value(report.get("functions")?.clone()).ok()?;
    let mut out = format!(
        "{:<28} {:<14} {:>13} {:>10} {:>12} {:<7} {}\n",
        "FUNCTION", "FINDING", "MEMORY MB", "TIMEOUT S", "SAVES $/MO", "APPLIED", "REASON"
    );
    let arrow = |from: u32, to: Option<u32>| match to {
        Some(t) if t != from => format!("{from} -> {t}"),
        _ => from.to_string(),
    };
    for r in rows {
        out.push_str(&format!(
            "{:<28} {:<14} {:>13} {:>10} {:>12} {:<7} {}\n",
            r.function,
            r.finding,
            arrow(r.current_memory_mb, r.recommended_memory_mb),
            arrow(r.current_timeout_s, r.recommended_timeout_s),
            r.estimated_monthly_savings_usd
                .map_or("-".to_owned(), |s| format!("{s:.2}")),
            if r.applied.is_some() { "yes" } else { "no" },
            r.reason
        ));
    }
    for t in report
        .get("tables")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let ranges = &t["applied"]["ranges"];
        let applied = if ranges.is_object() {
            format!(
                "; auto scaling applied: read {}-{}, write {}-{} units",
                ranges["read"]["min"],
                ranges["read"]["max"],
                ranges["write"]["min"],
                ranges["write"]["max"]
            )
        } else {
            t["not_applied"]
                .as_str()
                .map(|why| format!("; not applied: {why}"))
                .unwrap_or_default()
        };
        out.push_str(&format!(
            "table {}: {} -> {} ({}){applied}\n",
            t["table"].as_str().unwrap_or_default(),
            t["billing_mode"].as_str().unwrap_or_default(),
            t["recommended_mode"].as_str().unwrap_or_default(),
            t["reason"].as_str().unwrap_or_default()
        ));
    }
    Some(out)
}

impl stoker_kit::Summary for OptimizeReport {
    fn summary(&self) -> String {
        use stoker_kit::summary::serde_name;
        let mut parts: Vec<String> = self
            .functions
            .iter()
            .map(|f| {
                let to = f
                    .recommended_memory_mb
                    .map_or_else(|| "-".to_owned(), |m| m.to_string());
                let swept = f
                    .sweep
                    .as_ref()
                    .map(|s| {
                        s.sizes
                            .iter()
                            .map(|p| format!("{} MB {:.0} ms", p.memory_mb, p.billed_ms))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(" (swept {s})"))
                    .unwrap_or_default();
                let back = f
                    .rolled_back
                    .as_ref()
                    .map(|t| format!(" (rolled back: {} in ALARM)", t.alarm))
                    .unwrap_or_default();
                let measured = f
                    .arm64_measured
                    .as_ref()
                    .and_then(|m| m.monthly_savings_usd);
                let arm = match measured {
                    Some(s) => format!(", arm64 as measured saves {s:.2} $/mo"),
                    None => f
                        .arm64_monthly_savings_usd
                        .filter(|s| *s >= 0.01)
                        .map(|s| format!(", arm64 saves {s:.2} $/mo"))
                        .unwrap_or_default(),
                };
                let pc = f
                    .provisioned
                    .as_ref()
                    .filter(|p| p.recommended > 0)
                    .map(|p| {
                        format!(
                            ", provisioned concurrency {} ({:.2} $/mo against {:.2} for pings{})",
                            p.recommended,
                            p.provisioned_monthly_usd,
                            p.warmup_pings_monthly_usd,
                            if p.applied.is_some() { ", applied" } else { "" }
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "{}: {}, {} -> {to} MB{swept}{back}{arm}{pc}",
                    f.function,
                    serde_name(&f.finding),
                    f.current_memory_mb
                )
            })
            .collect();
        parts.extend(self.tables.iter().map(|t| {
            let applied = t
                .applied
                .as_ref()
                .map(|a| {
                    format!(
                        " (auto scaling read {}, write {})",
                        a.ranges.read, a.ranges.write
                    )
                })
                .unwrap_or_default();
            format!(
                "table {}: {}{applied}",
                t.table,
                t.recommended_mode.replace('_', "-")
            )
        }));
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_per_function_with_changes_as_arrows() {
        let t = table(&json!({
            "functions": [
                {"function": "api", "finding": "not_optimized", "current_memory_mb": 1024,
                 "recommended_memory_mb": 768, "current_timeout_s": 30, "recommended_timeout_s": 3,
                 "estimated_monthly_savings_usd": 1.5, "reason": "under-utilized"},
                {"function": "new", "finding": "unavailable", "current_memory_mb": 128,
                 "current_timeout_s": 3, "reason": "too few invocations"}
            ],
            "tables": [{"table": "orders", "billing_mode": "PAY_PER_REQUEST",
                        "recommended_mode": "on_demand", "reason": "spiky"},
                       {"table": "carts", "billing_mode": "PROVISIONED",
                        "recommended_mode": "provisioned", "reason": "steady",
                        "applied": {"ranges": {"read": {"min": 4, "max": 40},
                                               "write": {"min": 2, "max": 20}}}}]
        }))
        .expect("a table");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(
            lines[1].contains("1024 -> 768")
                && lines[1].contains("30 -> 3")
                && lines[1].contains("1.50")
        );
        assert!(lines[2].contains("unavailable") && lines[2].contains(" - "));
        assert!(lines[3].starts_with("table orders: PAY_PER_REQUEST -> on_demand"));
        assert!(
            lines[4].ends_with("auto scaling applied: read 4-40, write 2-20 units"),
            "{t}"
        );
        assert_eq!(table(&json!({"targets": []})), None);
    }
}
