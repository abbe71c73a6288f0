//! What CloudWatch says of a function over the lookback: Duration (average, maximum, p99 where
//! the service answers percentiles), Invocations, Errors and Throttles from `AWS/Lambda`; peak
//! memory from the `REPORT` log lines, else from Lambda Insights.

use aws_sdk_cloudwatch::types::{Datapoint, Statistic};
use chrono::{Duration, Utc};
use stoker_kit::JobError;

use crate::functions::FunctionInfo;
use crate::recommend::Observed;
use crate::report_line;
use crate::statistics::{Query, datapoints};

/// At most this many `REPORT` lines are read per function and pass (newest pages first are
/// not guaranteed; the peak of 10,000 invocations is taken as the function's peak).
pub const MAX_REPORT_LINES: usize = 10_000;

/// The CloudWatch and CloudWatch Logs clients the observation reads from.
#[derive(Debug, Clone)]
pub struct Observer {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Observer {
    /// Reads `f`'s metrics and peak memory over the last `days` days.
    pub async fn observe(&self, f: &FunctionInfo, days: u32) -> Result<Observed, JobError> {
        let end = Utc::now();
        let start = end - Duration::days(i64::from(days));
        let sum = |name: &'static str| self.daily(f, name, start, end, false);
        let invocations = total(&sum("Invocations").await?);
        let errors = total(&sum("Errors").await?);
        let throttles = total(&sum("Throttles").await?);
        let duration = self.daily(f, "Duration", start, end, true).await?;
        let samples: f64 = duration.iter().filter_map(Datapoint::sample_count).sum();
        let sum_ms: f64 = duration.iter().filter_map(Datapoint::sum).sum();
        let max_ms = duration
            .iter()
            .filter_map(Datapoint::maximum)
            .fold(0.0, f64::max);
        // Daily p99s cannot be merged exactly; the highest day's is a safe upper bound.
        let p99 = duration
            .iter()
            .filter_map(|d| d.extended_statistics()?.get("p99").copied())
            .reduce(f64::max);
        let (memory, source) = match self.report_memory(f, start, end).await? {
            Some(m) => (Some(m), Some("report_lines")),
            None => match self.insights_memory(f, start, end).await? {
                Some(m) => (Some(m), Some("lambda_insights")),
                None => (None, None),
            },
        };
        Ok(Observed {
            memory_mb: f.memory_mb,
            timeout_s: f.timeout_s,
            arch: f.arch,
            invocations: invocations.round() as u64,
            errors: errors.round() as u64,
            throttles: throttles.round() as u64,
            lookback_days: days,
            avg_duration_ms: if samples > 0.0 { sum_ms / samples } else { 0.0 },
            max_duration_ms: max_ms,
            p99_duration_ms: p99,
            max_memory_used_mb: memory,
            memory_source: source.map(str::to_owned),
        })
    }

    /// One `AWS/Lambda` metric of `f` in daily periods (Sum; with `duration`,
    /// SampleCount/Sum/Maximum/p99).
    async fn daily(
        &self,
        f: &FunctionInfo,
        name: &str,
        start: chrono::DateTime<Utc>,
        end: chrono::DateTime<Utc>,
        duration: bool,
    ) -> Result<Vec<Datapoint>, JobError> {
        let (statistics, extended): (&[Statistic], &[&str]) = if duration {
            (
                &[Statistic::Sum, Statistic::SampleCount, Statistic::Maximum],
                &["p99"],
            )
        } else {
            (&[Statistic::Sum], &[])
        };
        let q = Query {
            namespace: "AWS/Lambda",
            metric: name,
            dimension: ("FunctionName", &f.name),
            start,
            end,
            period_s: 86_400,
            statistics,
            extended,
        };
        datapoints(&self.cloudwatch, &q).await
    }

    /// The highest `Max Memory Used` of the `REPORT` lines in the lookback; `None` when the
    /// function has no log group or no such lines.
    async fn report_memory(
        &self,
        f: &FunctionInfo,
        start: chrono::DateTime<Utc>,
        end: chrono::DateTime<Utc>,
    ) -> Result<Option<u32>, JobError> {
        let Some(lines) = report_line::read(
            &self.logs,
            &f.log_group,
            start.timestamp_millis(),
            Some(end.timestamp_millis()),
            MAX_REPORT_LINES,
        )
        .await?
        else {
            return Ok(None);
        };
        let peak = lines.iter().filter_map(|(_, r)| r.max_memory_used_mb).max();
        // A peak of 0 MB is an emulator that did not measure: no data.
        Ok(peak.filter(|p| *p > 0))
    }

    /// Lambda Insights' `used_memory_max`, where the extension publishes it.
    async fn insights_memory(
        &self,
        f: &FunctionInfo,
        start: chrono::DateTime<Utc>,
        end: chrono::DateTime<Utc>,
    ) -> Result<Option<u32>, JobError> {
        let q = Query {
            namespace: "LambdaInsights",
            metric: "used_memory_max",
            dimension: ("function_name", &f.name),
            start,
            end,
            period_s: 86_400,
            statistics: &[Statistic::Maximum],
            extended: &[],
        };
        Ok(datapoints(&self.cloudwatch, &q)
            .await?
            .iter()
            .filter_map(Datapoint::maximum)
            .reduce(f64::max)
            .filter(|m| *m > 0.0)
            .map(|m| m.ceil() as u32))
    }
}

fn total(points: &[Datapoint]) -> f64 {
    points.iter().filter_map(Datapoint::sum).sum()
}
