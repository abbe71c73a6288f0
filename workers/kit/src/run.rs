//! One binary, two drivers: under the Lambda Runtime API it serves SQS batches; anywhere
//! else it long-polls its queue until SIGTERM/SIGINT.

use std::sync::Arc;

use crate::batching::OpsBatches;
use crate::config::{ConfigError, WorkerConfig};
use crate::error::JobError;
use crate::job::{Handler, Outcome};
use crate::layers::{Attempt, HandlerService, JobService, kit_stack};
use crate::lease::Leases;
use crate::ops::OpsTable;
use crate::outcome::Publisher;
use crate::process::{Core, Runtime};

/// Why a worker could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting is missing or unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Lambda runtime failed (its error, as text).
    #[error("Lambda runtime: {0}")]
    Lambda(String),
    /// The worker's own settings are unusable (what, and how to fix it).
    #[error("{0}")]
    Setup(String),
}

/// Builds the runtime for `handler` from an SDK config and a worker config.
pub fn runtime<H: Handler>(
    handler: H,
    sdk: &aws_config::SdkConfig,
    config: WorkerConfig,
) -> Runtime<H> {
    crate::calls::register(&config);
    let publisher = config
        .bus
        .clone()
        .map(|bus| Publisher::new(aws_sdk_eventbridge::Client::new(sdk), bus));
    let ops = OpsTable::new(aws_sdk_dynamodb::Client::new(sdk), config.ops_table.clone());
    let handler = Arc::new(handler);
    let inner = JobService::new(HandlerService(handler.clone()));
    let core = Core {
        batches: OpsBatches::new(config.batch_linger),
        commit_room: Arc::new(tokio::sync::Semaphore::new(
            config.concurrency + crate::batching::MAX_BATCH,
        )),
        leases: Leases::start(&ops).expect("start the claim-lease thread"),
        ops,
        sqs: aws_sdk_sqs::Client::new(sdk),
        publisher,
        config,
    };
    Runtime {
        stack: kit_stack(inner.clone(), core.config.retry),
        inner,
        core: Arc::new(core),
        handler,
    }
}

impl<H: Handler> Runtime<H> {
    /// Wraps the handler in a [`tower::Layer`] of the crate's own (a tracing span, a limit on a
    /// downstream, a check of the event). Layers added later wrap those added before; the
    /// kit's retry, timeout, panic catch and staged-write limit ([`crate::layers`]) wrap them
    /// all, so a layer sees every attempt of a job and its panics are caught.
    ///
    /// A whole layer of a crate's own: `examples/orders` (`QuarantineLayer`).
    ///
    /// ```no_run
    /// # async fn f<H: stoker_kit::Handler>(rt: stoker_kit::Runtime<H>) {
    /// use stoker_kit::layers::Attempt;
    /// // Each attempt logged before the handler runs.
    /// let log = tower::util::MapRequestLayer::new(|a: Attempt<H::Event>| {
    ///     tracing::info!(attempt = a.ctx.attempt, "attempt");
    ///     a
    /// });
    /// stoker_kit::serve(rt.layer(log)).await.unwrap();
    /// # }
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<JobService<H::Event>>,
        L::Service: tower::Service<Attempt<H::Event>, Response = Outcome, Error = JobError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<Attempt<H::Event>>>::Future: Send + 'static,
    {
        self.inner = JobService::new(layer.layer(self.inner));
        self.stack = kit_stack(self.inner.clone(), self.config.retry);
        self
    }
}

/// The whole `main` of a worker binary: logs, config from the environment, the right driver.
///
/// ```no_run
/// # #[cfg(feature = "stoker")] mod example {
/// use stoker_events::{Body, Event, Worker};
/// use stoker_kit::{handler_fn, JobCtx, JobError, Outcome};
///
/// async fn warm(event: Event, _ctx: JobCtx) -> Result<Outcome, JobError> {
///     let Body::Warmup(req) = &event.body else {
///         return Err(JobError::permanent("wrong_kind", "the warm-up worker takes warm-up requests"));
///     };
///     Ok(serde_json::json!({ "targets": req.targets.len() }))
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), stoker_kit::RunError> {
///     stoker_kit::run(handler_fn(Worker::Warmup, warm)).await
/// }
/// # }
/// # fn main() {}
/// ```
pub async fn run<H: Handler>(handler: H) -> Result<(), RunError> {
    run_with(handler, &crate::aws::sdk_config().await).await
}

/// [`run`] with an SDK config the caller already loaded (to build the handler's own clients
/// from the same config instead of loading it twice).
pub async fn run_with<H: Handler>(handler: H, sdk: &aws_config::SdkConfig) -> Result<(), RunError> {
    let config = WorkerConfig::from_env(handler.worker())?;
    run_configured(handler, sdk, config).await
}

/// [`run_with`] with the configuration the caller already read (with its worker's own
/// section: [`WorkerConfig::from_env_with`]), so nothing is read twice.
pub async fn run_configured<H: Handler>(
    handler: H,
    sdk: &aws_config::SdkConfig,
    config: WorkerConfig,
) -> Result<(), RunError> {
    serve(runtime(handler, sdk, config)).await
}

/// Runs a runtime built with [`runtime`] (and its own layers: [`Runtime::layer`]) under the
/// right driver: the Lambda Runtime API when the process runs in Lambda, else the long-poll
/// loop until SIGTERM/SIGINT.
pub async fn serve<H: Handler>(rt: Runtime<H>) -> Result<(), RunError> {
    crate::telemetry::init();
    let rt = Arc::new(rt);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        crate::lambda::run(rt)
            .await
            .map_err(|e| RunError::Lambda(e.to_string()))
    } else {
        let worker = rt.config.worker.name();
        let s = crate::poll::run(rt, crate::poll::shutdown_signal()).await;
        tracing::info!(
            worker,
            received = s.received,
            released = s.released_at_shutdown,
            "{worker} stopped after {} messages ({} released at shutdown)",
            s.received,
            s.released_at_shutdown
        );
        Ok(())
    }
}
