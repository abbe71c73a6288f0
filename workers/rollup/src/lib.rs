//! The rollup worker.
//!
//! - `stoker.rollup.measurements`: raw measurements in. Bad series and samples are rejected one
//!   by one with a reason ([`screen`](mod@screen)); the rest are bucketed per period, their distribution
//!   published with Values/Counts (so CloudWatch computes any percentile), counters published
//!   as sums with their rates ([`ingest`]), all packed to the `PutMetricData` limits
//!   ([`pack`]) and sent once in effect ([`publish`]).
//! - `stoker.rollup.requested`: a window read back, derived rollups published, and regressions
//!   against the baseline days announced as `stoker.rollup.regression-detected` ([`rollup`]).

pub mod aggregate;
pub mod ingest;
pub mod pack;
pub mod publish;
pub mod regression;
pub mod rollup;
pub mod screen;
pub mod window;

use serde::Serialize;
use stoker_events::payload::outcome::RegressionDetected;
use stoker_events::payload::rollup::{MeasurementBatch, RollupRequest};
use stoker_events::{Body, Event, Kind, Worker};
use stoker_kit::emf::{Metric, emit_metrics};
use stoker_kit::outcome::Publisher;
use stoker_kit::{Job, JobCtx, JobError, Request};

use crate::ingest::SeriesSummary;
use crate::publish::{Sender, Sent};
use crate::rollup::RollupReport;
use crate::screen::{Rejection, screen};

/// The rollup worker's handler.
#[derive(Debug, Clone)]
pub struct Rollup {
    pub sender: Sender,
    /// Where regression events go (`STOKER_BUS`); without a bus they are only reported.
    pub events: Option<Publisher>,
}

/// What a measurement batch came to.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub series_accepted: usize,
    pub samples_accepted: usize,
    pub samples_rejected: u64,
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<Rejection>,
    pub published: Sent,
    /// The first 20 series' aggregates and rates.
    pub series: Vec<SeriesSummary>,
}

impl Rollup {
    /// From the kit's configuration: its ops table (checkpoints) and bus (events).
    pub fn from_config(sdk: &aws_config::SdkConfig, config: &stoker_kit::WorkerConfig) -> Self {
        Self::new(sdk, &config.ops_table, config.bus.clone())
    }

    /// With the ops table for checkpoints and the bus for regression events.
    pub fn new(sdk: &aws_config::SdkConfig, ops_table: &str, bus: Option<String>) -> Self {
        Rollup {
            sender: Sender {
                cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
                ddb: aws_sdk_dynamodb::Client::new(sdk),
                table: ops_table.to_owned(),
            },
            events: bus.map(|bus| Publisher::new(aws_sdk_eventbridge::Client::new(sdk), bus)),
        }
    }

    /// Ingests a measurement batch; `key` names its publishing checkpoint.
    pub async fn ingest(
        &self,
        batch: &MeasurementBatch,
        key: &str,
        at: i64,
    ) -> Result<IngestReport, JobError> {
        let now = chrono::Utc::now();
        let screened = screen(batch, now);
        let mut datums = Vec::new();
        let mut series = Vec::new();
        let mut samples = 0;
        for s in &screened.accepted {
            let (d, summary) = ingest::datums(s, batch.high_resolution, at);
            samples += s.samples.len();
            datums.extend(d);
            series.push(summary);
        }
        let calls = pack::pack(datums);
        let published = self.sender.send(key, &batch.namespace, &calls).await?;
        series.truncate(20);
        Ok(IngestReport {
            series_accepted: screened.accepted.len(),
            samples_accepted: samples,
            samples_rejected: screened.rejected_total(),
            rejected: screened.rejected.clone(),
            rejections: screened.examples,
            published,
            series,
        })
    }

    /// Runs a rollup request ending now; regressions go to the bus.
    pub async fn roll_up(
        &self,
        req: &RollupRequest,
        key: &str,
        cause: &stoker_kit::EventMeta,
    ) -> Result<RolledUp, JobError> {
        let now = chrono::Utc::now().timestamp();
        let (report, datums) = rollup::roll_up(&self.sender.cloudwatch, req, now).await?;
        let published = self
            .sender
            .send(key, &req.output_namespace, &pack::pack(datums))
            .await?;
        let found: Vec<RegressionDetected> = report
            .comparisons
            .iter()
            .filter(|c| c.regressed)
            .map(|c| RegressionDetected {
                namespace: req.namespace.clone(),
                series: c.series.clone(),
                dimensions: c.dimensions.iter().cloned().collect(),
                metric: c.metric.to_owned(),
                current: c.current,
                baseline: c.baseline,
                ratio: c.ratio.unwrap_or_default(),
                threshold: c.threshold,
            })
            .collect();
        let announced = match &self.events {
            Some(p) if !found.is_empty() => p.emit(Worker::Rollup.name(), cause, &found).await?,
            _ => 0,
        };
        emit_metrics(
            Worker::Rollup.name(),
            &[Metric::count("RegressionsDetected", found.len() as f64)],
        );
        Ok(RolledUp {
            rollup: report,
            published,
            regressions_announced: announced,
        })
    }
}

/// What the rollup worker takes: raw measurements, or a rollup to run.
#[derive(Debug, Clone)]
pub enum RollupJob {
    Measurements(MeasurementBatch),
    Rollup(RollupRequest),
}

impl Request<Event> for RollupJob {
    const KINDS: &'static [&'static str] = &[
        Kind::MeasurementsReported.detail_type(),
        Kind::RollupRequested.detail_type(),
    ];

    fn from_event(event: &Event) -> Option<Self> {
        match &event.body {
            Body::Measurements(b) => Some(RollupJob::Measurements(b.clone())),
            Body::Rollup(r) => Some(RollupJob::Rollup(r.clone())),
            _ => None,
        }
    }
}

/// A rollup run's report.
#[derive(Debug, Clone, Serialize)]
pub struct RolledUp {
    pub rollup: RollupReport,
    pub published: Sent,
    pub regressions_announced: usize,
}

/// What the rollup worker reports, by what it took (serialized as the inner report).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RollupOutcome {
    Ingested(IngestReport),
    RolledUp(RolledUp),
}

impl Job for Rollup {
    type Event = stoker_events::Event;
    type Request = RollupJob;
    type Report = RollupOutcome;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::Rollup.into()
    }

    async fn run(&self, job: RollupJob, ctx: &JobCtx) -> Result<RollupOutcome, JobError> {
        let key = ctx.event.id.to_string();
        match job {
            RollupJob::Measurements(batch) => {
                let report = self
                    .ingest(&batch, &key, ctx.event.time.timestamp())
                    .await?;
                emit_metrics(
                    Worker::Rollup.name(),
                    &[
                        Metric::count("SamplesAccepted", report.samples_accepted as f64),
                        Metric::count("SamplesRejected", report.samples_rejected as f64),
                        Metric::count("PutMetricDataCalls", report.published.calls as f64),
                    ],
                );
                Ok(RollupOutcome::Ingested(report))
            }
            RollupJob::Rollup(req) => Ok(RollupOutcome::RolledUp(
                self.roll_up(&req, &key, &ctx.event).await?,
            )),
        }
    }
}

impl stoker_kit::Summary for IngestReport {
    fn summary(&self) -> String {
        format!(
            "{} samples accepted, {} rejected, {} datums in {} PutMetricData call(s)",
            self.samples_accepted,
            self.samples_rejected,
            self.published.datums,
            self.published.calls
        )
    }
}

impl stoker_kit::Summary for RolledUp {
    fn summary(&self) -> String {
        use stoker_kit::summary::two_places;
        let r = &self.rollup;
        let counts = format!(
            "{} series + {} counter series rolled up, error rate {} %, cache hit rate {} %, {} regression(s)",
            r.series,
            r.counter_series,
            two_places(r.error_rate),
            two_places(r.cache_hit_rate),
            r.regressions
        );
        // The first regression, named: its series, figure, baseline and factor.
        match r.comparisons.iter().find(|c| c.regressed) {
            Some(c) => format!(
                "{counts}; first: {} {} {:.2} against a baseline of {:.2} (x{:.2}, above x{})",
                c.series,
                c.metric,
                c.current,
                c.baseline,
                c.ratio.unwrap_or_default(),
                c.threshold
            ),
            None => counts,
        }
    }
}

impl stoker_kit::Summary for RollupOutcome {
    fn summary(&self) -> String {
        match self {
            RollupOutcome::Ingested(r) => r.summary(),
            RollupOutcome::RolledUp(r) => r.summary(),
        }
    }
}
