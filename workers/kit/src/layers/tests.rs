use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tower::{Layer, ServiceExt, service_fn};

use super::*;
use crate::event::{Delivery, EventMeta, JobEvent};
use crate::{RetryPolicy, WorkerConfig, WorkerId, handler_fn};

#[derive(Debug, Clone)]
struct Ping;

impl JobEvent for Ping {
    fn decode(_: &str, _: &Delivery<'_>) -> Result<Self, JobError> {
        Ok(Ping)
    }
    fn meta(&self) -> EventMeta {
        EventMeta {
            id: "ping-1".into(),
            kind: "ping".into(),
            correlation_id: "c".into(),
            requested_by: "test".into(),
            time: chrono::Utc::now(),
        }
    }
    fn payload_hash(&self) -> String {
        "h".into()
    }
}

const WORKER: WorkerId = WorkerId::new("layers-test");

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(1),
        max: Duration::from_millis(2),
        ..RetryPolicy::default()
    }
}

fn attempt(within: Duration) -> Attempt<Ping> {
    Attempt {
        event: Arc::new(Ping),
        ctx: JobCtx::new(WORKER, Ping.meta(), 0, 1, Instant::now() + within),
    }
}

/// The kit's stack around a closure of the attempt's context.
fn stack<F, Fut>(f: F) -> JobService<Ping>
where
    F: Fn(JobCtx) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Outcome, JobError>> + Send + 'static,
{
    let inner = JobService::new(service_fn(move |a: Attempt<Ping>| f(a.ctx)));
    kit_stack(inner, fast())
}

#[tokio::test]
async fn transient_errors_are_retried_with_each_attempt_numbered_and_only_the_last_attempts_writes_kept()
 {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let svc = stack(move |ctx: JobCtx| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(ctx.attempt);
            ctx.stage(aws_sdk_dynamodb::types::TransactWriteItem::builder().build());
            if ctx.attempt < 3 {
                ctx.set_summary(format!("attempt {} failed", ctx.attempt));
                return Err(JobError::transient("throttled"));
            }
            Ok(serde_json::json!({ "attempt": ctx.attempt }))
        }
    });
    let a = attempt(Duration::from_secs(5));
    let ctx = a.ctx.clone();
    let out = call(svc, a).await.expect("the third attempt succeeds");
    assert_eq!(out["attempt"], 3);
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3]);
    assert_eq!(ctx.attempts.load(Ordering::Relaxed), 3);
    assert_eq!(
        ctx.take_staged().len(),
        1,
        "the failed attempts' writes are dropped"
    );
}

#[tokio::test]
async fn a_retryable_or_permanent_error_is_not_retried_in_process() {
    for err in [
        JobError::retryable("later"),
        JobError::permanent("bad", "no"),
    ] {
        let calls = Arc::new(AtomicU32::new(0));
        let n = calls.clone();
        let svc = stack(move |_| {
            n.fetch_add(1, Ordering::Relaxed);
            let err = err.clone();
            async move { Err(err) }
        });
        assert!(call(svc, attempt(Duration::from_secs(5))).await.is_err());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}

#[tokio::test]
async fn a_panic_is_a_retryable_error_with_its_message() {
    let svc = stack(|_| async { panic!("boom in the handler") });
    let err = call(svc, attempt(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(!err.is_permanent() && !err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("boom in the handler"), "{err}");
}

#[tokio::test]
async fn an_attempt_past_the_deadline_is_stopped_and_not_retried() {
    let svc = stack(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(serde_json::Value::Null)
    });
    let started = Instant::now();
    let a = attempt(Duration::from_millis(50));
    let ctx = a.ctx.clone();
    let err = call(svc, a).await.unwrap_err();
    assert!(err.to_string().contains("ran out of time"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        ctx.attempts.load(Ordering::Relaxed),
        1,
        "no time left to retry"
    );
}

#[tokio::test]
async fn more_staged_writes_than_a_transaction_holds_fail_for_good() {
    let svc = stack(|ctx: JobCtx| async move {
        for _ in 0..=crate::job::MAX_STAGED {
            ctx.stage(aws_sdk_dynamodb::types::TransactWriteItem::builder().build());
        }
        Ok(serde_json::Value::Null)
    });
    let err = call(svc, attempt(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "too_many_staged_writes");
}

/// What a crate's layer under test does wrong, if anything.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    PanicInCall,
    NeverReady,
    PanicWhenReady,
}

/// A crate's own layer: counts the calls it sees, and misbehaves as told.
#[derive(Clone)]
struct Probe {
    calls: Arc<AtomicU32>,
    fault: Fault,
}

impl<S> Layer<S> for Probe {
    type Service = ProbeService<S>;
    fn layer(&self, inner: S) -> ProbeService<S> {
        ProbeService {
            inner,
            probe: self.clone(),
        }
    }
}

#[derive(Clone)]
struct ProbeService<S> {
    inner: S,
    probe: Probe,
}

impl<S: Service<Attempt<Ping>>> Service<Attempt<Ping>> for ProbeService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        match self.probe.fault {
            Fault::NeverReady => Poll::Pending,
            Fault::PanicWhenReady => panic!("poll_ready panicked"),
            _ => self.inner.poll_ready(cx),
        }
    }

    fn call(&mut self, req: Attempt<Ping>) -> S::Future {
        self.probe.calls.fetch_add(1, Ordering::Relaxed);
        assert!(self.probe.fault != Fault::PanicInCall, "the layer panicked");
        self.inner.call(req)
    }
}

fn runtime_with(layer: Probe) -> crate::Runtime<impl Handler<Event = Ping>> {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let mut config = WorkerConfig::new(WORKER, "q", "dlq", "ops");
    config.retry = fast();
    let handler = handler_fn(WORKER, |_: Ping, ctx: JobCtx| async move {
        if ctx.attempt < 2 {
            return Err(JobError::transient("throttled"));
        }
        Ok(serde_json::json!("ok"))
    });
    crate::runtime(handler, &sdk, config).layer(layer)
}

#[tokio::test]
async fn a_crates_own_layer_runs_inside_the_kits_retries_and_its_panics_are_caught() {
    let calls = Arc::new(AtomicU32::new(0));
    let rt = runtime_with(Probe {
        calls: calls.clone(),
        fault: Fault::None,
    });
    let out = call(rt.stack.clone(), attempt(Duration::from_secs(5))).await;
    assert_eq!(out.expect("second attempt"), serde_json::json!("ok"));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "the layer sees every attempt"
    );

    let rt = runtime_with(Probe {
        calls: Arc::default(),
        fault: Fault::PanicInCall,
    });
    let err = rt
        .stack
        .clone()
        .oneshot(attempt(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the layer panicked"), "{err}");
}

#[test]
fn the_metric_line_of_each_report() {
    use crate::process::Report;
    let elapsed = Duration::from_millis(20);
    let completed = metrics(&Report::Completed {
        attempts: 2,
        outcome: serde_json::Value::Null,
        duration_ms: 20,
        elapsed,
    })
    .expect("a completed job has a line");
    assert!(completed.completed && !completed.failed && completed.attempts == 2);
    assert_eq!(completed.duration_ms, 20.0);
    let failed = |stopped| Report::Failed {
        attempts: 1,
        error: JobError::retryable("x"),
        for_good: false,
        stopped,
        elapsed,
    };
    assert!(
        metrics(&failed(false))
            .expect("a failure has a line")
            .failed
    );
    assert!(
        metrics(&failed(true)).is_none(),
        "a job stopped by shutdown did not fail"
    );
    assert!(
        metrics(&Report::Replayed { elapsed })
            .expect("a replay")
            .replayed
    );
    assert!(
        metrics(&Report::Undecodable { elapsed })
            .expect("undecodable")
            .failed
    );
    assert!(metrics(&Report::Undecided).is_none());
}

fn stuck(panic: bool) -> JobService<Ping> {
    let handler = service_fn(|_: Attempt<Ping>| async { Ok(serde_json::Value::Null) });
    let probe = Probe {
        calls: Arc::default(),
        fault: if panic {
            Fault::PanicWhenReady
        } else {
            Fault::NeverReady
        },
    };
    kit_stack(JobService::new(probe.layer(handler)), fast())
}

#[tokio::test]
async fn a_layer_that_never_gets_ready_is_held_to_the_deadline_and_one_that_panics_is_caught() {
    let started = Instant::now();
    let err = call(stuck(false), attempt(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ran out of time"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let err = call(stuck(true), attempt(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("poll_ready panicked"), "{err}");
}

#[tokio::test]
async fn a_handler_that_panics_before_its_future_is_caught_too() {
    let svc = stack(
        |_: JobCtx| -> std::future::Ready<Result<Outcome, JobError>> {
            panic!("before the future")
        },
    );
    let err = call(svc, attempt(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("before the future"), "{err}");
}
