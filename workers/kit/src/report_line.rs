//! Lambda's `REPORT` log line: the billed duration and the peak memory of one invocation.
//!
//! `REPORT RequestId: … Duration: 12.34 ms Billed Duration: 13 ms Memory Size: 128 MB
//! Max Memory Used: 57 MB` (tab separated; `Init Duration` on cold starts). The cost ledger
//! reads it from an invocation's log tail; the optimizer and readiness from CloudWatch Logs.

/// The figures of one `REPORT` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportLine {
    /// `Duration`, in ms.
    pub duration_ms: f64,
    /// `Billed Duration`, in ms.
    pub billed_ms: f64,
    /// `Memory Size`, in MB.
    pub memory_size_mb: Option<u32>,
    /// `Max Memory Used`, in MB.
    pub max_memory_used_mb: Option<u32>,
    /// `Init Duration` (a cold start), in ms.
    pub init_ms: Option<f64>,
}

/// Parses the `REPORT` line in `text` (a log tail or one log event), if there is one.
pub fn parse(text: &str) -> Option<ReportLine> {
    let line = text.lines().rev().find(|l| l.starts_with("REPORT "))?;
    let field = |name: &str| -> Option<f64> {
        line.split('\t')
            .flat_map(|part| part.split("  "))
            .find_map(|part| {
                let rest = part.trim().strip_prefix(name)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse().ok()
            })
    };
    let billed_ms = field("Billed Duration")?;
    Some(ReportLine {
        duration_ms: field("Duration").unwrap_or(billed_ms),
        billed_ms,
        memory_size_mb: field("Memory Size").map(|m| m as u32),
        max_memory_used_mb: field("Max Memory Used").map(|m| m as u32),
        init_ms: field("Init Duration"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_report_lines() {
        let r = parse(
            "START RequestId: 1 Version: $LATEST\nEND RequestId: 1\nREPORT RequestId: 1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 57 MB\tInit Duration: 20.50 ms\t\n",
        )
        .expect("a REPORT line");
        assert_eq!(r.duration_ms, 12.34);
        assert_eq!(r.billed_ms, 13.0);
        assert_eq!(r.memory_size_mb, Some(128));
        assert_eq!(r.max_memory_used_mb, Some(57));
        assert_eq!(r.init_ms, Some(20.5));
    }

    #[test]
    fn no_report_line_is_none() {
        assert_eq!(parse("START RequestId: 1\nhello\n"), None);
        assert_eq!(parse("REPORT RequestId: 1\tDuration: x ms"), None);
    }
}
