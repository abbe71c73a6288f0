//! The warm-up worker: for each target, `concurrency` simultaneous invocations carrying the
//! warm-up marker; a report per target of the instances reached and how many were cold.
//!
//! A target that is missing or keeps failing never fails the others: its error is in its
//! report (`permanent` for not-found, `retryable` for throttling and timeouts). The job itself
//! is retried only when no invocation of any target succeeded and some failure was retryable
//! (the Lambda service itself is unreachable, say).

mod invoke;
mod report;
pub mod schedule;
mod target;

use std::sync::Arc;

use stoker_events::Worker;
use stoker_events::payload::warmup::WarmupRequest;
use stoker_kit::emf::{Metric, emit_metrics, emit_metrics_by};
use stoker_kit::{Job, JobCtx, JobError, RetryPolicy};
use tokio::sync::Semaphore;

pub use invoke::Invoked;
pub use report::{Report, TargetError, TargetReport, percentile};

/// The warm-up worker's handler: the Lambda client and a cap on invocations in flight.
#[derive(Debug, Clone)]
pub struct Warmup {
    pub lambda: aws_sdk_lambda::Client,
    /// At most this many invocations in flight across all targets of a job.
    pub max_in_flight: usize,
    /// Retries of throttled or timed-out invocations.
    pub retry: RetryPolicy,
}

/// The warm-up worker's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmupSettings {
    /// At most this many invocations in flight across a job's targets
    /// (`STOKER_WARMUP_MAX_IN_FLIGHT`, default 100; 0 means the default).
    pub max_in_flight: usize,
}

impl Default for WarmupSettings {
    fn default() -> Self {
        WarmupSettings { max_in_flight: 100 }
    }
}

impl stoker_kit::section::Section for WarmupSettings {
    fn read(vars: &stoker_kit::section::Vars<'_>) -> Result<Self, stoker_kit::config::ConfigError> {
        let d = WarmupSettings::default();
        Ok(WarmupSettings {
            max_in_flight: vars
                .number::<usize>("STOKER_WARMUP_MAX_IN_FLIGHT")?
                .filter(|n| *n > 0)
                .unwrap_or(d.max_in_flight),
        })
    }
}

impl Warmup {
    /// From the SDK config and the worker's settings.
    pub fn new(sdk: &aws_config::SdkConfig, settings: WarmupSettings) -> Self {
        Warmup {
            lambda: aws_sdk_lambda::Client::new(sdk),
            max_in_flight: settings.max_in_flight,
            retry: RetryPolicy::default(),
        }
    }

    /// One warm-up pass over every target of `req`.
    pub async fn warm(
        &self,
        req: &WarmupRequest,
        correlation_id: &str,
    ) -> Result<Report, JobError> {
        let started = std::time::Instant::now();
        let limit = Arc::new(Semaphore::new(self.max_in_flight));
        let passes = req.targets.iter().map(|t| {
            target::warm_target(
                &self.lambda,
                t,
                req,
                correlation_id,
                limit.clone(),
                &self.retry,
            )
        });
        let mut report = Report::new(correlation_id, futures::future::join_all(passes).await);
        report.duration_ms = started.elapsed().as_millis() as u64;
        if report.succeeded == 0 && report.targets.iter().any(|t| t.is_retryable()) {
            return Err(JobError::retryable(format!(
                "no target could be warmed ({}); check that the Lambda endpoint is reachable and not throttling, the job will be retried",
                report.first_error().unwrap_or("no answer")
            )));
        }
        Ok(report)
    }
}

impl Job for Warmup {
    type Event = stoker_events::Event;
    type Request = WarmupRequest;
    type Report = Report;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::Warmup.into()
    }

    async fn run(&self, req: WarmupRequest, ctx: &JobCtx) -> Result<Report, JobError> {
        let scheduled = schedule::by_schedule(&ctx.event.requested_by);
        let (due, later) = schedule::plan(&req, ctx.event.time, scheduled);
        let mut report = self.warm(&due, &ctx.event.correlation_id).await?;
        report.not_due = later;
        emit_metrics(
            Worker::Warmup.name(),
            &[
                Metric::count("WarmupInvocations", report.invoked as f64),
                Metric::count("WarmupInstances", report.instances as f64),
                Metric::count("WarmupColdInstances", report.cold as f64),
                Metric::count("WarmupTargetFailures", report.failed_targets as f64),
                Metric::millis("WarmupPassDuration", report.duration_ms as f64),
            ],
        );
        // Per function, for readiness's `function.warmed`: 1 warmed, 0 failed.
        for t in &report.targets {
            emit_metrics_by(
                Worker::Warmup.name(),
                ("Function", stoker_events::names::function_name(&t.function)),
                &[Metric::count(
                    "WarmupTargetWarmed",
                    f64::from(u8::from(t.warmed())),
                )],
            );
        }
        Ok(report)
    }
}
