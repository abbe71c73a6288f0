//! One check's verdict, and the report of them all: go when none failed.

use serde::{Deserialize, Serialize};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// Worth a look; does not stop a release.
    Warn,
    /// No-go.
    Fail,
}

/// One check of one resource, with what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked, e.g. `table.pitr`, `queue.dlq_empty`, `alarm.state`.
    pub check: String,
    /// The resource's name.
    pub resource: String,
    pub status: Status,
    /// What was seen, and for a warning or failure what to do.
    pub evidence: String,
}

impl Check {
    pub fn new(check: &str, resource: &str, status: Status, evidence: impl Into<String>) -> Self {
        Check {
            check: check.to_owned(),
            resource: resource.to_owned(),
            status,
            evidence: evidence.into(),
        }
    }

    pub fn pass(check: &str, resource: &str, evidence: impl Into<String>) -> Self {
        Check::new(check, resource, Status::Pass, evidence)
    }

    pub fn warn(check: &str, resource: &str, evidence: impl Into<String>) -> Self {
        Check::new(check, resource, Status::Warn, evidence)
    }

    pub fn fail(check: &str, resource: &str, evidence: impl Into<String>) -> Self {
        Check::new(check, resource, Status::Fail, evidence)
    }
}

/// Every check of a readiness job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// No check failed.
    pub go: bool,
    pub passed: u32,
    pub warned: u32,
    pub failed: u32,
    /// Failures first, then warnings, then passes; by check and resource within each.
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(mut checks: Vec<Check>) -> Self {
        let rank = |s: Status| match s {
            Status::Fail => 0,
            Status::Warn => 1,
            Status::Pass => 2,
        };
        checks.sort_by(|a, b| {
            (rank(a.status), &a.check, &a.resource).cmp(&(rank(b.status), &b.check, &b.resource))
        });
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count() as u32;
        let failed = count(Status::Fail);
        Report {
            go: failed == 0,
            passed: count(Status::Pass),
            warned: count(Status::Warn),
            failed,
            checks,
        }
    }

    /// The report cut to at most `max_bytes` of JSON, so that the run record keeps it whole
    /// enough to print (the kit asks when it is over [`stoker_kit::MAX_REPORT_BYTES`]): first the passed
    /// checks' evidence is shortened, then dropped, then the passed checks themselves (their
    /// count stays). Failures and warnings are never cut.
    pub fn fitted(mut self, max_bytes: usize) -> Report {
        let size = |r: &Report| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
        let passed = |c: &Check| c.status == Status::Pass;
        for keep in [40, 0] {
            if size(&self) <= max_bytes {
                return self;
            }
            for c in self.checks.iter_mut().filter(|c| passed(c)) {
                if c.evidence.chars().count() > keep {
                    c.evidence = c.evidence.chars().take(keep).collect::<String>() + "…";
                }
            }
        }
        if size(&self) > max_bytes {
            self.checks.retain(|c| !passed(c));
        }
        self
    }

    /// The failed checks as `<check> <resource>: <evidence>`.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| format!("{} {}: {}", c.check, c.resource, c.evidence))
            .collect()
    }
}

impl stoker_kit::Summary for Report {
    /// [`Report::fitted`]: the stack's own verdict outgrows the run record's 16 KiB.
    fn fitted(self, max_bytes: usize) -> Self {
        Report::fitted(self, max_bytes)
    }

    /// `go: 12 passed, 1 warned, 0 failed` or `no-go: ... (first failure)`.
    fn summary(&self) -> String {
        let counts = format!(
            "{} passed, {} warned, {} failed",
            self.passed, self.warned, self.failed
        );
        match self.failures().first() {
            None => format!("go: {counts}"),
            Some(first) => format!("no-go: {counts}; first: {first}"),
        }
    }
}

/// The report as a table for people (`stoker readiness`), from its JSON; `None` when `report`
/// is not a readiness report.
pub fn table(report: &serde_json::Value) -> Option<String> {
    let report: Report = serde_json::from_value(report.clone()).ok()?;
    let mut out = format!(
        "{}: {} passed, {} warned, {} failed\n",
        if report.go { "GO" } else { "NO-GO" },
        report.passed,
        report.warned,
        report.failed
    );
    out.push_str(&format!(
        "{:<6} {:<20} {:<40} {}\n",
        "STATUS", "CHECK", "RESOURCE", "EVIDENCE"
    ));
    for c in &report.checks {
        let status = match c.status {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        out.push_str(&format!(
            "{status:<6} {:<20} {:<40} {}\n",
            c.check, c.resource, c.evidence
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoker_kit::Summary;

    #[test]
    fn one_failure_is_no_go_and_failures_sort_first() {
        let r = Report::new(vec![
            Check::pass("table.pitr", "t", "on"),
            Check::warn("queue.depth", "q", "150 messages"),
            Check::fail("queue.dlq_empty", "q-dlq", "3 messages"),
        ]);
        assert!(!r.go);
        assert_eq!((r.passed, r.warned, r.failed), (1, 1, 1));
        assert_eq!(r.checks[0].check, "queue.dlq_empty");
        assert_eq!(
            r.summary(),
            "no-go: 1 passed, 1 warned, 1 failed; first: queue.dlq_empty q-dlq: 3 messages"
        );
    }

    #[test]
    fn warnings_alone_are_go() {
        let r = Report::new(vec![Check::warn("alarm.action", "a", "no action")]);
        assert!(r.go);
        assert_eq!(r.summary(), "go: 0 passed, 1 warned, 0 failed");
    }

    #[test]
    fn the_table_reads_back_from_json() {
        let r = Report::new(vec![Check::fail("table.pitr", "orders", "off")]);
        let t = table(&serde_json::to_value(&r).unwrap()).unwrap();
        assert!(
            t.starts_with("NO-GO: 0 passed, 0 warned, 1 failed\n"),
            "{t}"
        );
        assert!(t.contains("FAIL   table.pitr"), "{t}");
        assert_eq!(table(&serde_json::json!({"functions": []})), None);
    }

    #[test]
    fn a_large_report_is_fitted_by_cutting_passes_never_failures() {
        let long = "e".repeat(300);
        let mut checks: Vec<Check> = (0..100)
            .map(|i| Check::pass("table.pitr", &format!("t{i}"), long.clone()))
            .collect();
        checks.push(Check::fail("table.backup", "t0", long.clone()));
        let r = Report::new(checks).fitted(8 * 1024);
        assert!(serde_json::to_vec(&r).unwrap().len() <= 8 * 1024);
        assert_eq!((r.passed, r.failed), (100, 1), "the counts stay");
        assert_eq!(r.checks[0].evidence, long, "a failure keeps its evidence");
        let small = Report::new(vec![Check::pass("a", "b", "c")]);
        assert_eq!(small.clone().fitted(8 * 1024), small);
    }
}
