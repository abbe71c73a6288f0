//! Typed jobs: a worker is an async function of its typed request, returning a typed report.
//! The kit finds the request in the event (a mismatch is the kit's permanent `wrong_kind`
//! error, never the handler's) and serializes the report into the job's outcome.
//!
//! ```
//! # #[cfg(feature = "stoker")] {
//! use stoker_events::Worker;
//! use stoker_events::payload::warmup::WarmupRequest;
//! use stoker_kit::{Job, JobCtx, JobError, WorkerId};
//!
//! struct Count;
//!
//! #[derive(serde::Serialize)]
//! struct Counted {
//!     targets: usize,
//! }
//!
//! impl stoker_kit::Summary for Counted {
//!     fn summary(&self) -> String {
//!         format!("{} targets", self.targets)
//!     }
//! }
//!
//! impl Job for Count {
//!     type Event = stoker_events::Event;
//!     type Request = WarmupRequest;
//!     type Report = Counted;
//!
//!     fn worker(&self) -> WorkerId {
//!         Worker::Warmup.into()
//!     }
//!
//!     async fn run(&self, req: WarmupRequest, _ctx: &JobCtx) -> Result<Counted, JobError> {
//!         Ok(Counted { targets: req.targets.len() })
//!     }
//! }
//! // `Count` is a `Handler`: stoker_kit::run(Count) serves it under Lambda or as a long poll.
//! # fn is_handler<H: stoker_kit::Handler>(_: &H) {}
//! # is_handler(&Count);
//! # }
//! ```

use std::future::Future;

use serde::Serialize;

use crate::error::JobError;
use crate::event::{JobEvent, WorkerId};
use crate::job::{Handler, Idempotency, JobCtx, Outcome};
use crate::summary::{MAX_REPORT_BYTES, Summary};

/// What a typed job takes, found by the kit in an event of type `E`.
pub trait Request<E>: Sized + Send + 'static {
    /// The kinds of event it is made from (named in the kit's error for any other kind).
    const KINDS: &'static [&'static str];

    /// The request in `event`, or `None` when the event is of another kind.
    fn from_event(event: &E) -> Option<Self>;
}

/// A worker's job logic, typed. Every `Job` is a [`Handler`]: the kit's idempotency, retries,
/// DLQ reasons, staged writes, metrics and outcome events come with it. Shared resources (SDK
/// clients, config) live in the implementing struct, built once at start-up.
pub trait Job: Send + Sync + 'static {
    /// The event type its queue carries.
    type Event: JobEvent;
    /// What the job takes.
    type Request: Request<Self::Event>;
    /// What it reports when it succeeds (the job's outcome, in its run record and its
    /// completion event), with its one-line [`Summary`] for people.
    type Report: Serialize + Summary + Send;

    /// The worker this job is.
    fn worker(&self) -> WorkerId;

    /// The idempotency key of an event: its id unless the job declares a better one.
    fn idempotency_key(&self, event: &Self::Event) -> String {
        event.meta().id
    }

    /// How the job's effect is kept to once: [`Idempotency::ClaimFirst`] unless the job
    /// declares [`Idempotency::Optimistic`] (every effect staged).
    fn idempotency(&self) -> Idempotency {
        Idempotency::ClaimFirst
    }

    /// Does the job. Must be safe to call again after a retryable error. The event's envelope
    /// (id, correlation id, time) is in `ctx.event`.
    fn run(
        &self,
        req: Self::Request,
        ctx: &JobCtx,
    ) -> impl Future<Output = Result<Self::Report, JobError>> + Send;
}

impl<J: Job> Handler for J {
    type Event = J::Event;

    fn worker(&self) -> WorkerId {
        Job::worker(self)
    }

    fn idempotency_key(&self, event: &J::Event) -> String {
        Job::idempotency_key(self, event)
    }

    fn idempotency(&self) -> Idempotency {
        Job::idempotency(self)
    }

    async fn handle(&self, event: &J::Event, ctx: &JobCtx) -> Result<Outcome, JobError> {
        let Some(req) = J::Request::from_event(event) else {
            return Err(wrong_kind(
                Job::worker(self),
                J::Request::KINDS,
                &ctx.event.kind,
            ));
        };
        let report = self.run(req, ctx).await?;
        ctx.set_summary(report.summary());
        let json = |r: &J::Report| {
            serde_json::to_value(r).map_err(|e| {
                JobError::permanent("report", format!("the report did not serialize: {e}"))
            })
        };
        let value = json(&report)?;
        if json_len(&value) <= MAX_REPORT_BYTES {
            return Ok(value);
        }
        // Too large for its run record: the report fits itself if it knows how.
        json(&report.fitted(MAX_REPORT_BYTES))
    }
}

/// The length of `value`'s JSON text, counted as it is written, not kept.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// The kit's error for an event of a kind the worker does not take.
pub fn wrong_kind(worker: WorkerId, takes: &[&str], got: &str) -> JobError {
    JobError::permanent(
        "wrong_kind",
        format!(
            "the {} worker takes {}, not {got}",
            worker.name(),
            takes.join(" and "),
        ),
    )
}

#[cfg(all(test, feature = "stoker"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};
    use stoker_events::payload::rollup::RollupRequest;
    use stoker_events::payload::warmup::{WarmupRequest, WarmupTarget};
    use stoker_events::{Envelope, Event, Payload, SOURCE_OPERATOR, Worker, decode};

    struct Targets;

    impl Job for Targets {
        type Event = Event;
        type Request = WarmupRequest;
        type Report = usize;

        fn worker(&self) -> WorkerId {
            Worker::Warmup.into()
        }

        async fn run(&self, req: WarmupRequest, ctx: &JobCtx) -> Result<usize, JobError> {
            assert_eq!(ctx.event.kind, "stoker.warmup.requested");
            Ok(req.targets.len())
        }
    }

    fn event<P: Serialize + Payload>(p: P) -> Event {
        let body = serde_json::to_string(&Envelope::new(p, SOURCE_OPERATOR, "operator:test"))
            .expect("json");
        decode(&body, &Default::default()).expect("decode")
    }

    fn ctx(e: &Event) -> JobCtx {
        JobCtx::new(
            Worker::Warmup.into(),
            e.meta(),
            1,
            1,
            Instant::now() + Duration::from_secs(5),
        )
    }

    fn warmup() -> WarmupRequest {
        WarmupRequest {
            targets: vec![WarmupTarget {
                function: "f".into(),
                qualifier: None,
                concurrency: 1,
                payload: None,
                schedules: vec![],
            }],
            hold_open_ms: 0,
            invocation_timeout_ms: 1000,
            tick_minutes: 5,
        }
    }

    #[tokio::test]
    async fn a_typed_job_gets_its_request_and_its_report_becomes_the_outcome() {
        let e = event(warmup());
        let ctx = ctx(&e);
        let out = Targets.handle(&e, &ctx).await.expect("ran");
        assert_eq!(out, serde_json::json!(1));
        assert_eq!(ctx.take_summary().as_deref(), Some("1"));
    }

    /// A report of `n` lines that keeps its first lines when cut.
    #[derive(Serialize)]
    struct Lines(Vec<String>);

    impl Summary for Lines {
        fn summary(&self) -> String {
            format!("{} lines", self.0.len())
        }

        fn fitted(mut self, max_bytes: usize) -> Self {
            let size = |l: &Self| serde_json::to_string(l).map_or(0, |j| j.len());
            while size(&self) > max_bytes {
                let keep = self.0.len() * max_bytes / size(&self);
                self.0.truncate(keep.min(self.0.len() - 1));
            }
            self
        }
    }

    struct Long(usize);

    impl Job for Long {
        type Event = Event;
        type Request = WarmupRequest;
        type Report = Lines;

        fn worker(&self) -> WorkerId {
            Worker::Warmup.into()
        }

        async fn run(&self, _: WarmupRequest, _: &JobCtx) -> Result<Lines, JobError> {
            Ok(Lines((0..self.0).map(|i| format!("line {i:06}")).collect()))
        }
    }

    #[tokio::test]
    async fn a_report_too_large_for_its_run_record_fits_itself() {
        let e = event(warmup());
        let small = Long(3).handle(&e, &ctx(&e)).await.expect("ran");
        assert_eq!(small.as_array().map(Vec::len), Some(3), "small: unchanged");
        let ctx = ctx(&e);
        let out = Long(5000).handle(&e, &ctx).await.expect("ran");
        let json = out.to_string();
        assert!(json.len() <= MAX_REPORT_BYTES, "{} bytes", json.len());
        assert_eq!(json_len(&out), json.len());
        let kept = out.as_array().map_or(0, Vec::len);
        assert!(kept > 1000 && kept < 5000, "kept {kept} lines");
        assert_eq!(out[0], "line 000000");
        assert_eq!(
            ctx.take_summary().as_deref(),
            Some("5000 lines"),
            "of the whole"
        );
    }

    #[tokio::test]
    async fn another_kind_is_the_kits_permanent_wrong_kind_error() {
        let e = event(RollupRequest {
            namespace: "App/Api".into(),
            window_minutes: 5,
            period_seconds: 60,
            percentiles: vec![50.0],
            output_namespace: "App/Rollups".into(),
            baseline_days: 7,
        });
        let err = Targets.handle(&e, &ctx(&e)).await.expect_err("refused");
        assert_eq!(err.code(), "wrong_kind");
        assert!(
            err.to_string()
                .contains("takes stoker.warmup.requested, not stoker.rollup.requested"),
            "{err}"
        );
    }
}
