//! The readiness worker: checks the stack's tables, queues and alarms (or those a request
//! names) and reports go / no-go, each check with its evidence. Go when no check failed.
//!
//! A check that cannot read its resource (access denied, not found) fails with the error as
//! its evidence: what cannot be checked is not ready. The job itself fails only when its
//! request cannot be run at all.

pub mod age;
pub mod alarms;
pub mod bucket;
pub mod cache;
pub mod check;
pub mod cold_starts;
pub mod configuration;
pub mod drills;
pub mod encryption;
mod evidence;
pub mod functions;
pub mod metric;
pub mod per_use;
pub mod queues;
pub mod roles;
pub mod schedules;
pub mod scope;
pub mod select;
pub mod tables;
pub mod throttles;
pub mod warmed;

use stoker_events::Worker;
use stoker_events::payload::readiness::{
    DEFAULT_USD_PER_1000_INVOCATIONS, ReadinessReported, ReadinessRequest,
};
use stoker_kit::emf::{Metric, emit_metrics};
use stoker_kit::outcome::Publisher;
use stoker_kit::{Job, JobCtx, JobError, WorkerConfig};

pub use check::{Check, Report, Status, table};
pub use scope::Scope;

/// The readiness worker's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessSettings {
    /// The stack's name (`STOKER_STACK`, required): its queues and alarms are named after it.
    pub stack: String,
    /// The table the daily backup protects when not the ops table (`STOKER_BACKUP_TABLE`).
    pub backup_table: Option<String>,
    /// Tables a request may name besides those (`STOKER_BACKUP_TABLE_PREFIX`).
    pub table_prefix: Option<String>,
    /// Functions a request may name besides the stack's (`STOKER_FUNCTION_PREFIX`).
    pub function_prefix: Option<String>,
    /// The backup worker's export bucket (`STOKER_EXPORT_BUCKET`), checked on the stack's own
    /// verdict.
    pub export_bucket: Option<String>,
    /// The stack warms caches on a schedule (`STOKER_CACHE_SCHEDULED=true`): Redis is measured.
    pub cache_scheduled: bool,
    /// `cost.per_use` warns above this many USD per 1,000 warmed invocations unless the
    /// request sets its own (`STOKER_MAX_USD_PER_1000_INVOCATIONS`: the template passes the
    /// threshold of the alarm on the same figure).
    pub max_usd_per_1000_invocations: f64,
}

impl stoker_kit::section::Section for ReadinessSettings {
    fn read(vars: &stoker_kit::section::Vars<'_>) -> Result<Self, stoker_kit::config::ConfigError> {
        Ok(ReadinessSettings {
            stack: vars.required(
                "STOKER_STACK",
                "the stack's name: its queues and alarms are named after it",
            )?,
            backup_table: vars.text("STOKER_BACKUP_TABLE"),
            table_prefix: vars.text("STOKER_BACKUP_TABLE_PREFIX"),
            function_prefix: vars.text("STOKER_FUNCTION_PREFIX"),
            export_bucket: vars.text("STOKER_EXPORT_BUCKET"),
            cache_scheduled: vars.text("STOKER_CACHE_SCHEDULED").as_deref() == Some("true"),
            max_usd_per_1000_invocations: vars
                .number("STOKER_MAX_USD_PER_1000_INVOCATIONS")?
                .unwrap_or(DEFAULT_USD_PER_1000_INVOCATIONS),
        })
    }
}

/// The readiness worker's handler.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub ddb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub lambda: aws_sdk_lambda::Client,
    /// Lists the stack's schedule rules.
    pub rules: aws_sdk_eventbridge::Client,
    pub s3: aws_sdk_s3::Client,
    /// Reads the stack's roles back.
    pub iam: aws_sdk_iam::Client,
    /// Lists the alarms the stack declares.
    pub cfn: aws_sdk_cloudformation::Client,
    /// The export bucket to check on the stack's own verdict.
    pub export_bucket: Option<String>,
    /// Where the kit's and the workers' metrics are (`Stoker`, or `STOKER_METRICS_NAMESPACE`).
    pub namespace: String,
    /// Caches are warmed on a schedule: Redis measurements are expected.
    pub cache_scheduled: bool,
    /// `cost.per_use`'s limit when the request sets none (the stack's alarm's threshold).
    pub max_usd_per_1000_invocations: f64,
    /// Reads the optimizer's last applied change of a function (the ops table).
    pub optimizer: stoker_optimizer::apply::Applier,
    /// Where `stoker.readiness.reported` goes (`STOKER_BUS`); none sent when absent.
    pub events: Option<Publisher>,
    /// What it may look at: the stack's own resources.
    pub scope: Scope,
}

impl Readiness {
    /// From the SDK config, the worker's config and its settings.
    pub fn from_config(
        sdk: &aws_config::SdkConfig,
        config: &WorkerConfig,
        settings: ReadinessSettings,
    ) -> Self {
        Readiness {
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            rules: aws_sdk_eventbridge::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            cfn: aws_sdk_cloudformation::Client::new(sdk),
            export_bucket: settings.export_bucket.clone(),
            namespace: stoker_kit::emf::namespace_in_use().to_owned(),
            cache_scheduled: settings.cache_scheduled,
            max_usd_per_1000_invocations: settings.max_usd_per_1000_invocations,
            optimizer: stoker_optimizer::apply::Applier {
                lambda: aws_sdk_lambda::Client::new(sdk),
                ddb: aws_sdk_dynamodb::Client::new(sdk),
                ops_table: config.ops_table.clone(),
                alias: stoker_optimizer::apply::DEFAULT_ALIAS.into(),
            },
            events: config
                .bus
                .clone()
                .map(|b| Publisher::new(aws_sdk_eventbridge::Client::new(sdk), b)),
            scope: Scope {
                stack: settings.stack,
                ops_table: config.ops_table.clone(),
                backup_table: settings.backup_table,
                table_prefix: settings.table_prefix,
                function_prefix: settings.function_prefix,
            },
        }
    }

    /// Every check of `req`; a request naming anything outside the stack is refused
    /// ([`scope::OUT_OF_SCOPE`]).
    pub async fn check(&self, req: &ReadinessRequest) -> Result<Report, JobError> {
        let tables = self.scope.tables(req)?;
        let queue_names = self.scope.queues(req)?;
        let alarm_prefixes = self.scope.alarm_prefixes(req)?;
        let functions = self.scope.functions(req)?;
        let now = chrono::Utc::now();
        let (tables, queue_names, functions, mut checks) =
            self.select(req, tables, queue_names, functions).await;
        for t in &tables {
            // The optimizer's reader holds the ops table's client and name.
            let ops = tables::Ops {
                ddb: &self.optimizer.ddb,
                table: &self.optimizer.ops_table,
            };
            checks.extend(
                tables::check(&self.ddb, &ops, t, req.thresholds.max_backup_age_hours, now).await,
            );
            checks.push(encryption::check(&self.ddb, t).await);
            checks.push(throttles::check(&self.cloudwatch, t, now).await);
            checks.push(drills::check(&self.cloudwatch, &self.namespace, t, now).await);
        }
        let (urls, missing) = queues::urls(&self.sqs, &queue_names).await;
        checks.extend(missing);
        let queue_checks = queues::check(&self.sqs, &urls, req.thresholds.max_queue_depth).await;
        // The queues that are not dead-letter queues (those with a depth check): how old their
        // oldest message is.
        let live: Vec<String> = queue_checks
            .iter()
            .filter(|c| c.check == "queue.depth")
            .map(|c| c.resource.clone())
            .collect();
        checks.extend(queue_checks);
        for q in &live {
            let max_age_s = req.thresholds.max_message_age_s;
            checks.push(age::check(&self.cloudwatch, q, max_age_s, now).await);
        }
        let limits = functions::Limits {
            max_error_rate_pct: f64::from(req.thresholds.max_error_rate_pct),
            max_throttles_per_minute: req.thresholds.max_throttles_per_minute,
            max_p95_ms: req.thresholds.max_p95_ms,
        };
        // The stack's rules, read once: the warm-up intervals of the functions and, on the
        // stack's verdict, the schedules' checks.
        let rules = if functions.is_empty() && !names_nothing(req) {
            Ok(Vec::new())
        } else {
            schedules::list(&self.rules, &self.scope.stack).await
        };
        let warm_gaps = if functions.is_empty() {
            schedules::WarmGaps::default()
        } else {
            schedules::warm_gaps(&self.rules, &rules, &self.scope.stack).await
        };
        for f in &functions {
            match configuration::check(&self.lambda, &self.optimizer, f).await {
                None => checks.push(configuration::missing(f)),
                Some(found) => {
                    checks.extend(found);
                    checks.extend(
                        functions::check(&self.cloudwatch, &self.logs, f, limits, now).await,
                    );
                    checks.push(
                        cold_starts::check(&self.logs, f, req.thresholds.max_cold_start_ms, now)
                            .await,
                    );
                    checks.push(
                        warmed::check(
                            &self.cloudwatch,
                            &self.namespace,
                            f,
                            warm_gaps.of(f).as_ref().map_err(String::as_str).copied(),
                            now,
                        )
                        .await,
                    );
                }
            }
        }
        // The stack's schedules, when the request asks for the stack's own verdict (it names
        // nothing).
        if names_nothing(req) {
            checks.extend(
                schedules::check(
                    &rules,
                    &self.cloudwatch,
                    &self.namespace,
                    &self.scope.stack,
                    now,
                )
                .await,
            );
            checks.push(
                cache::check(&self.cloudwatch, &self.namespace, self.cache_scheduled, now).await,
            );
            let max_usd = req
                .thresholds
                .max_usd_per_1000_invocations
                .unwrap_or(self.max_usd_per_1000_invocations);
            let (check, per) =
                per_use::check(&self.cloudwatch, &self.namespace, max_usd, now).await;
            checks.push(check);
            if let Some(per) = per {
                // The stack's alarm of the same name watches it.
                emit_metrics(
                    Worker::Readiness.name(),
                    &[Metric {
                        name: "CostPer1000WarmedInvocations",
                        unit: "None",
                        value: per,
                    }],
                );
            }
            if let Some(b) = &self.export_bucket {
                checks.extend(bucket::check(&self.s3, b).await);
            }
            checks.extend(roles::check(&self.iam, &self.scope.stack).await);
        }
        let own = self.scope.own_alarm();
        let mut found = Some(Vec::new());
        for prefix in &alarm_prefixes {
            let (c, names) = alarms::check(&self.cloudwatch, prefix, &own).await;
            checks.extend(c);
            // An unread prefix (its failure is reported) leaves the declared alarms unchecked:
            // they would all look deleted.
            found = found.zip(names).map(|(mut all, names)| {
                all.extend(names);
                all
            });
        }
        if let (true, Some(found)) = (names_nothing(req), found) {
            let stack = &self.scope.stack;
            match alarms::declared(&self.cfn, stack).await {
                Ok(Some(declared)) => {
                    checks.extend(alarms::declared_exist(stack, &declared, &found));
                }
                Ok(None) => {}
                Err(why) => checks.push(Check::fail("alarm.exists", stack, why)),
            }
        }
        Ok(Report::new(checks))
    }
}

impl Readiness {
    /// The request's prefixes expanded and its tag's tables and functions added (the default
    /// tag for a request that names nothing), with the checks of what could not be selected.
    async fn select(
        &self,
        req: &ReadinessRequest,
        tables: Vec<String>,
        queues: Vec<String>,
        functions: Vec<String>,
    ) -> (Vec<String>, Vec<String>, Vec<String>, Vec<Check>) {
        let (mut tables, mut checks) =
            select::expand(tables, "table", || select::all_tables(&self.ddb)).await;
        let own = format!("{}-", self.scope.stack);
        let (queues, found) =
            select::expand(queues, "queue", || select::queues_under(&self.sqs, &own)).await;
        checks.extend(found);
        // The functions CloudWatch saw, listed at most once for the prefixes and the tag.
        let seen = tokio::sync::OnceCell::new();
        let seen = || async {
            seen.get_or_init(|| select::functions_seen(&self.cloudwatch))
                .await
                .clone()
        };
        let (mut functions, found) = select::expand(functions, "function", seen).await;
        checks.extend(found);
        let tag = req.tag.clone().or_else(|| {
            names_nothing(req).then(|| stoker_events::payload::readiness::DEFAULT_TAG.to_owned())
        });
        if let Some(tag) = tag {
            if let Some(p) = &self.scope.table_prefix {
                match select::tagged_tables(&self.ddb, p, &tag).await {
                    Ok(found) => tables.extend(found),
                    Err(why) => checks.push(Check::fail("select.tag", &format!("{p}* {tag}"), why)),
                }
            }
            if let Some(p) = &self.scope.function_prefix {
                let found = match seen().await {
                    Ok(seen) => select::tagged_functions(&self.lambda, &seen, p, &tag).await,
                    Err(why) => Err(why),
                };
                match found {
                    Ok(found) => functions.extend(found),
                    Err(why) => checks.push(Check::fail("select.tag", &format!("{p}* {tag}"), why)),
                }
            }
            select::dedup(&mut tables);
            select::dedup(&mut functions);
        }
        checks.extend(select::cap(&mut tables, select::MAX_TABLES, "tables"));
        checks.extend(select::cap(
            &mut functions,
            select::MAX_FUNCTIONS,
            "functions",
        ));
        (tables, queues, functions, checks)
    }
}

/// The metrics of a verdict (what the stack's no-go alarm watches), for the stack's own verdict
/// at the stack's own thresholds only: a narrowed request (one table, say) or one with looser
/// limits is reported but neither sets off nor clears the stack's alarm.
pub fn verdict_metrics(req: &ReadinessRequest, report: &Report) -> Option<[Metric<'static>; 3]> {
    (*req == ReadinessRequest::default()).then(|| {
        [
            Metric::count("ReadinessChecksFailed", report.failed as f64),
            Metric::count("ReadinessChecksWarned", report.warned as f64),
            Metric::count("ReadinessChecksPassed", report.passed as f64),
        ]
    })
}

/// The request asks for the stack's own verdict: it names nothing and no tag.
fn names_nothing(req: &ReadinessRequest) -> bool {
    req.tables.is_empty()
        && req.queues.is_empty()
        && req.functions.is_empty()
        && req.alarm_prefix.is_none()
        && req.tag.is_none()
}

impl Job for Readiness {
    type Event = stoker_events::Event;
    type Request = ReadinessRequest;
    type Report = Report;

    fn worker(&self) -> stoker_kit::WorkerId {
        Worker::Readiness.into()
    }

    async fn run(&self, req: ReadinessRequest, ctx: &JobCtx) -> Result<Report, JobError> {
        let report = self.check(&req).await?;
        if let Some(metrics) = verdict_metrics(&req, &report) {
            emit_metrics(Worker::Readiness.name(), &metrics);
        }
        if let Some(p) = &self.events {
            let mut failures = report.failures();
            failures.truncate(20);
            let verdict = ReadinessReported {
                go: report.go,
                passed: report.passed,
                warned: report.warned,
                failed: report.failed,
                failures,
            };
            p.emit(Worker::Readiness.name(), &ctx.event, &[verdict])
                .await?;
        }
        // Too large for its run record, the kit has it fitted ([`Report::fitted`]), so that
        // `stoker readiness` can print it.
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The no-go alarm's metric comes from the stack's own verdict only (EMF lines on stdout:
    /// the emulators do not turn them into metrics, so this is a unit test).
    #[test]
    fn only_the_stacks_own_verdict_is_counted() {
        let report = Report::new(vec![
            Check::fail("table.pitr", "t", "off"),
            Check::pass("queue.depth", "q", "0"),
        ]);
        let m = verdict_metrics(&ReadinessRequest::default(), &report).expect("counted");
        assert_eq!((m[0].name, m[0].value), ("ReadinessChecksFailed", 1.0));
        assert_eq!((m[2].name, m[2].value), ("ReadinessChecksPassed", 1.0));
        let narrowed = ReadinessRequest {
            tables: vec!["t".into()],
            ..ReadinessRequest::default()
        };
        assert!(verdict_metrics(&narrowed, &report).is_none());
        let mut looser = ReadinessRequest::default();
        looser.thresholds.max_queue_depth = 1000;
        assert!(verdict_metrics(&looser, &report).is_none());
    }
}
