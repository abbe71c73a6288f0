//! The cache-warmer: loads critical keys before users ask for them.
//!
//! - HTTP targets ([`http_target`]): one request each (GET or HEAD, headers, expected status,
//!   timeout), warming API Gateway / CDN caches.
//! - Redis targets ([`redis_target`]): each value loaded from its source ([`source`]: an HTTP
//!   JSON endpoint, a DynamoDB item or query), optionally one key per id of a list, size-checked,
//!   then all written with pipelined `SET key value EX ttl` ([`redis_io`]), the TTL explicit or by
//!   data class ([`config`]).
//! - Only allow-listed hosts are fetched, and never loopback, private, link-local or metadata
//!   addresses ([`address`]): IP-literal URLs are judged before the request ([`policy`]), host
//!   names at connect time by the client's resolver ([`resolver`]). No proxy is used.
//! - Bodies are read as streams, cut at `max_value_bytes` and at the job's byte budget
//!   ([`body`]); a request's keys are counted, headers checked, before any fetch ([`checks`]).
//! - The Redis URL comes from an SSM SecureString parameter ([`redis_url`]); no error, log or
//!   report shows a password or a URL's query ([`redact`]).
//! - A failing target never stops the others; Redis unreachable fails the job (retryable), and
//!   nothing half-written is reported as done. The report carries Redis' own hit rate before
//!   and after the run, also published as the CloudWatch metric `Stoker/RedisHitRate`.

pub mod address;
pub mod body;
pub mod checks;
pub mod config;
pub mod http_error;
pub mod http_target;
pub mod invalidate;
pub mod placeholder;
pub mod policy;
pub mod redact;
pub mod redis_io;
pub mod redis_target;
pub mod redis_url;
pub mod report;
pub mod resolver;
pub mod source;
pub mod window;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use stoker_events::Worker;
use stoker_events::payload::cache::{CacheTarget, CacheWarmRequest};
use stoker_kit::{Job, JobCtx, JobError, RunError};
use tokio::sync::Semaphore;

use body::Budget;
pub use config::{CacheConfig, RedisUrlFrom};
use redis_io::Redis;
use report::{Report, TargetReport};
use source::Sources;

/// The cache-warmer's handler.
#[derive(Debug, Clone)]
pub struct CacheWarmer {
    pub sources: Sources,
    pub redis: Redis,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub config: CacheConfig,
    /// Where the counters of the last run are kept (the ops table): without it, no window.
    pub counters: Option<window::Counters>,
}

impl CacheWarmer {
    pub fn new(sdk: &aws_config::SdkConfig, config: CacheConfig) -> Result<Self, String> {
        let redis = Redis {
            client: redis_url::client(&config.redis_url)?,
            url: config.redis_url.clone(),
        };
        let http = reqwest::Client::builder()
            .user_agent("stoker-cache-warmer")
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect on our behalf, past the resolver's checks.
            .no_proxy()
            .dns_resolver(Arc::new(resolver::GuardedResolver {
                allow_private: config.allow_private_networks,
            }))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"))?;
        Ok(CacheWarmer {
            sources: Sources {
                http,
                ddb: aws_sdk_dynamodb::Client::new(sdk),
                allowed_hosts: config.allowed_hosts.clone(),
                allow_private: config.allow_private_networks,
                timeout: Duration::from_secs(10),
                max_value_bytes: config.max_value_bytes,
            },
            redis,
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            config,
            counters: None,
        })
    }

    /// Keeps each run's Redis counters in the ops table `table`, so the next run reports the
    /// hit rate of the window in between.
    pub fn with_ops_table(mut self, table: &str) -> Self {
        self.counters = (!table.is_empty()).then(|| window::Counters {
            ddb: self.sources.ddb.clone(),
            table: table.to_owned(),
            server: self.redis.client.get_connection_info().addr().to_string(),
        });
        self
    }

    /// From the environment ([`CacheConfig`]), reading the Redis URL from SSM when
    /// `STOKER_REDIS_URL_PARAMETER` names a parameter.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, RunError> {
        let get = |k: &str| std::env::var(k).ok();
        let from = RedisUrlFrom::from_lookup(get).map_err(RunError::Setup)?;
        let url = redis_url::read(from, &aws_sdk_ssm::Client::new(sdk))
            .await
            .map_err(RunError::Setup)?;
        CacheConfig::from_lookup(get, url)
            .and_then(|c| Self::new(sdk, c))
            .map_err(RunError::Setup)
    }

    /// Warms every target of `req`.
    pub async fn warm(&self, req: &CacheWarmRequest) -> Result<Report, JobError> {
        let started = Instant::now();
        checks::request(req, &self.config)?;
        let has_redis = !req.invalidate.is_empty()
            || req
                .targets
                .iter()
                .any(|t| matches!(t, CacheTarget::Redis(_)));
        let mut conn = match has_redis {
            true => Some(redis_io::connect(&self.redis).await?),
            false => None,
        };
        let before = match conn.as_mut() {
            Some(c) => Some(redis_io::hits_misses(&self.redis, c).await?),
            None => None,
        };
        // Invalidations first, so that the warming below writes fresh values.
        let mut invalidated = Vec::new();
        let mut trips = 0;
        if let Some(c) = conn.as_mut() {
            for inv in &req.invalidate {
                let (r, t) =
                    invalidate::run(&self.redis, c, inv, req.dry_run, self.config.pipeline).await?;
                invalidated.push(r);
                trips += t;
            }
        }
        if req.dry_run {
            let mut report = Report {
                invalidated,
                redis_round_trips: trips,
                dry_run: true,
                ..Report::default()
            };
            report.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }
        let limit = Arc::new(Semaphore::new(req.concurrency as usize));
        let budget = Budget::new(self.config.max_job_bytes);
        let jobs = req.targets.iter().enumerate().map(|(i, t)| {
            let (limit, budget) = (limit.clone(), &budget);
            async move { self.target(i, t, limit, budget).await }
        });
        let results = futures::future::join_all(jobs).await;
        let mut report = Report {
            keys_invalidated: invalidated.iter().map(|i| i.deleted).sum(),
            invalidated,
            ..Report::default()
        };
        let mut writes = Vec::new();
        // Keys each target loaded: counted as warmed only once Redis took them all.
        let mut pending = Vec::new();
        for (r, w) in results {
            pending.push(w.len() as u32);
            writes.extend(w);
            report.targets.push(r);
        }
        if let Some(c) = conn.as_mut() {
            report.redis_round_trips =
                trips + redis_io::set_all(&self.redis, c, &writes, self.config.pipeline).await?;
            for (t, n) in report.targets.iter_mut().zip(pending) {
                t.warmed += n;
            }
            let after = redis_io::hits_misses(&self.redis, c).await?;
            report.hit_rate_before = before.and_then(redis_io::hit_rate);
            report.hit_rate_after = redis_io::hit_rate(after);
            if let (Some(counters), Some(before)) = (&self.counters, before)
                && let Some(w) = counters.window(before, after).await
            {
                report.hit_rate_window = w.hit_rate();
                report.window_lookups = Some(w.hits + w.misses);
                report.window_s = Some(w.seconds);
            }
        }
        report.miss_latency();
        report.total();
        report.duration_ms = started.elapsed().as_millis() as u64;
        let warmed = report.keys_warmed + report.urls_warmed;
        let retryable = report
            .targets
            .iter()
            .any(|t| t.error.as_ref().is_some_and(|e| e.retryable));
        if warmed == 0 && retryable {
            let first = report
                .targets
                .iter()
                .find_map(|t| t.error.as_ref())
                .map(|e| e.message.clone())
                .unwrap_or_default();
            return Err(JobError::retryable(format!(
                "nothing could be warmed ({first}); the job will be retried"
            )));
        }
        self.publish_metrics(&report).await;
        Ok(report)
    }

    async fn target(
        &self,
        i: usize,
        t: &CacheTarget,
        limit: Arc<Semaphore>,
        budget: &Budget,
    ) -> (TargetReport, Vec<redis_io::Write>) {
        let mut r = TargetReport {
            target: format!("targets[{i}]"),
            ..TargetReport::default()
        };
        match t {
            CacheTarget::Http(h) => {
                r.kind = "http";
                r.name = redact::url(&h.url);
                let _permit = limit.acquire_owned().await;
                http_target::warm(&self.sources, h, budget, &mut r).await;
                (r, vec![])
            }
            CacheTarget::Redis(rt) => {
                r.kind = "redis";
                r.name = rt.key.clone();
                let w = redis_target::load(&self.sources, &self.config, rt, limit, budget, &mut r)
                    .await;
                (r, w)
            }
        }
    }

    /// The hit rate and keys warmed as CloudWatch metrics (the kit's namespace, `Stoker` unless
    /// `STOKER_METRICS_NAMESPACE` says otherwise, as readiness reads them); a failure to
    /// publish is logged, it does not undo the warming.
    async fn publish_metrics(&self, r: &Report) {
        let dim = Dimension::builder()
            .name("Worker")
            .value(Worker::CacheWarmer.name())
            .build();
        let mut data = vec![
            MetricDatum::builder()
                .metric_name("CacheKeysWarmed")
                .dimensions(dim.clone())
                .unit(StandardUnit::Count)
                .value(f64::from(r.keys_warmed))
                .build(),
            MetricDatum::builder()
                .metric_name("CacheKeysInvalidated")
                .dimensions(dim.clone())
                .unit(StandardUnit::Count)
                .value(f64::from(r.keys_invalidated))
                .build(),
            MetricDatum::builder()
                .metric_name("CacheTargetFailures")
                .dimensions(dim.clone())
                .unit(StandardUnit::Count)
                .value(f64::from(r.failed))
                .build(),
        ];
        let optional = [
            ("RedisHitRate", StandardUnit::Percent, r.hit_rate_after),
            (
                "RedisHitRateWindow",
                StandardUnit::Percent,
                r.hit_rate_window,
            ),
            (
                "CacheMissLatencyMs",
                StandardUnit::Milliseconds,
                r.miss_latency_p50_ms.map(|ms| ms as f64),
            ),
        ];
        for (name, unit, value) in optional {
            if let Some(v) = value {
                data.push(
                    MetricDatum::builder()
                        .metric_name(name)
                        .dimensions(dim.clone())
                        .unit(unit)
                        .value(v)
                        .build(),
                );
            }
        }
        if let Err(e) = self
            .cloudwatch
            .put_metric_data()
            .namespace(stoker_kit::emf::namespace_in_use())
            .set_metric_data(Some(data))
            .send()
            .await
        {
            tracing::warn!(error = %e, "cache-warmer metrics not published");
        }
    }
}

impl Job for CacheWarmer {
    type Event = stoker_events::Event;
    type Request = CacheWarmRequest;
    type Report = Report;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::CacheWarmer.into()
    }

    async fn run(&self, req: CacheWarmRequest, _ctx: &JobCtx) -> Result<Report, JobError> {
        self.warm(&req).await
    }
}
