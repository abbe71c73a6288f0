//! `stoker cost`: what the stack's jobs cost, by worker and by service, from the costs the kit
//! writes into each run record ([`stoker_kit::cost`]), with a monthly estimate at the current
//! rate; plus the stack's idle cost (alarms, custom metrics, log storage, queue polling),
//! read from the account.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;
use stoker_events::Worker;
use stoker_kit::cost::{JobCost, Prices};
use stoker_kit::ops::RunRecord;

use crate::context::{AwsArgs, Ctx, Output};
use crate::error::{CliError, aws};
use crate::table::Table;

/// Average hours in a month (365.25 / 12 days).
pub const HOURS_PER_MONTH: f64 = 365.25 / 12.0 * 24.0;
/// Lambda's SQS event source polls each queue with this many long polls at a time when idle.
const IDLE_POLLERS: f64 = 5.0;
/// Seconds each of those long polls waits.
const LONG_POLL_S: f64 = 20.0;
/// CloudWatch Logs storage, USD per GB-month (us-east-1).
const LOG_STORAGE_GB_MONTH: f64 = 0.03;

#[derive(Debug, Clone, Args)]
pub struct CostArgs {
    /// The window the rate is measured over, in hours (runs are kept 30 days).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub hours: u32,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// One worker's cost over the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerCost {
    pub worker: String,
    pub runs: usize,
    /// Runs recorded before the ledger existed (no cost on record).
    pub unpriced_runs: usize,
    pub usd: f64,
    pub usd_per_run: f64,
    pub monthly_usd: f64,
    pub calls: f64,
    pub by_service: BTreeMap<String, stoker_kit::cost::ServiceCost>,
}

impl WorkerCost {
    /// The cost of `runs` (one worker's, over `hours`), and its monthly estimate at that rate.
    pub fn of(worker: &str, runs: &[RunRecord], hours: f64) -> Self {
        let mut total = JobCost::default();
        let mut priced = 0;
        for c in runs.iter().filter_map(|r| r.cost.as_ref()) {
            total.merge(c);
            priced += 1;
        }
        WorkerCost {
            worker: worker.to_owned(),
            runs: runs.len(),
            unpriced_runs: runs.len() - priced,
            usd: total.usd,
            usd_per_run: if priced > 0 {
                total.usd / priced as f64
            } else {
                0.0
            },
            monthly_usd: total.usd * HOURS_PER_MONTH / hours,
            calls: total.calls,
            by_service: total.by_service,
        }
    }
}

/// A line of the stack's idle cost.
#[derive(Debug, Clone, Serialize)]
pub struct IdleCost {
    pub item: String,
    pub count: f64,
    pub monthly_usd: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Report {
    stack: String,
    hours: u32,
    workers: Vec<WorkerCost>,
    /// Invocations of the account's Lambda functions over the window (`AWS/Lambda`).
    invocations: f64,
    /// The jobs' cost per 1,000 of those: what running stoker costs per unit of use.
    usd_per_1000_invocations: Option<f64>,
    /// The functions the warm-up worker warmed (its `WarmupTargetWarmed` metric).
    warmed_functions: Vec<String>,
    /// Their invocations over the window.
    warmed_invocations: f64,
    /// The jobs' cost per 1,000 of those.
    usd_per_1000_warmed_invocations: Option<f64>,
    idle: Vec<IdleCost>,
    jobs_monthly_usd: f64,
    idle_monthly_usd: f64,
    monthly_usd: f64,
    prices: Prices,
}

impl CostArgs {
    pub async fn run(&self, aws_args: &AwsArgs) -> Result<(), CliError> {
        let ctx = aws_args.ctx().await?;
        let since = chrono::Utc::now() - chrono::Duration::hours(self.hours.into());
        let ops = ctx.ops()?;
        let mut workers = Vec::new();
        for w in Worker::ALL {
            let runs = ops
                .runs_since(w.name(), since)
                .await
                .map_err(|e| CliError::new(e.to_string()))?;
            workers.push(WorkerCost::of(w.name(), &runs, self.hours.into()));
        }
        let prices = *Prices::current();
        let idle = idle_cost(&ctx, &prices).await?;
        let account_invocations = invocations(&ctx, self.hours, None).await?;
        let warmed_functions = warmed(&ctx).await?;
        let mut warmed_invocations = 0.0;
        for f in &warmed_functions {
            warmed_invocations += invocations(&ctx, self.hours, Some(f)).await?;
        }
        let jobs_usd: f64 = workers.iter().map(|w| w.usd).sum();
        let per_1000 = |n: f64| (n > 0.0).then(|| jobs_usd * 1000.0 / n);
        let jobs_monthly_usd = workers.iter().map(|w| w.monthly_usd).sum::<f64>();
        let idle_monthly_usd = idle.iter().map(|i| i.monthly_usd).sum::<f64>();
        let report = Report {
            stack: ctx.stack.clone(),
            hours: self.hours,
            workers,
            invocations: account_invocations,
            usd_per_1000_invocations: per_1000(account_invocations),
            usd_per_1000_warmed_invocations: per_1000(warmed_invocations),
            warmed_functions,
            warmed_invocations,
            idle,
            jobs_monthly_usd,
            idle_monthly_usd,
            monthly_usd: jobs_monthly_usd + idle_monthly_usd,
            prices,
        };
        match self.output {
            Output::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
            Output::Text => print_report(&report),
        }
        Ok(())
    }
}

/// Invocations in the last `hours` of `function`, or of the account's Lambda functions (the
/// metric without dimensions), read as readiness reads its metrics.
async fn invocations(ctx: &Ctx, hours: u32, function: Option<&str>) -> Result<f64, CliError> {
    let dims: Vec<(&str, &str)> = function.map(|f| ("FunctionName", f)).into_iter().collect();
    // Hourly buckets (at most 1,440 of them): an emulator found no datum in one bucket of the
    // whole window.
    let window = (
        chrono::Duration::hours(hours.into()),
        chrono::Duration::hours(hours.div_ceil(1440).max(1).into()),
    );
    let points = stoker_readiness::metric::read(
        &aws_sdk_cloudwatch::Client::new(&ctx.sdk),
        "AWS/Lambda",
        "Invocations",
        &dims,
        window,
        aws_sdk_cloudwatch::types::Statistic::Sum,
        chrono::Utc::now(),
    )
    .await
    .map_err(CliError::new)?;
    Ok(stoker_readiness::metric::total(&points))
}

/// The functions the warm-up worker has warmed (the last two weeks of its per-function
/// `WarmupTargetWarmed` metric), as readiness's `cost.per_use` finds them.
async fn warmed(ctx: &Ctx) -> Result<Vec<String>, CliError> {
    let cw = aws_sdk_cloudwatch::Client::new(&ctx.sdk);
    stoker_readiness::select::warmed_functions(&cw, &metrics_namespace(ctx))
        .await
        .map_err(CliError::new)
}

/// Where the stack's workers publish their metrics.
fn metrics_namespace(ctx: &Ctx) -> String {
    ctx.outputs
        .get("MetricsNamespace")
        .cloned()
        .unwrap_or_else(|| stoker_kit::emf::DEFAULT_NAMESPACE.to_owned())
}

/// [`idle_cost`] a month, at the current prices (`stoker status`'s monthly estimate).
pub(crate) async fn idle_monthly_usd(ctx: &Ctx) -> Result<f64, CliError> {
    let idle = idle_cost(ctx, Prices::current()).await?;
    Ok(idle.iter().map(|i| i.monthly_usd).sum())
}

/// What the stack costs with no job running: its alarms, its custom metrics, its functions'
/// stored logs, and Lambda's long polls of its queues.
async fn idle_cost(ctx: &Ctx, prices: &Prices) -> Result<Vec<IdleCost>, CliError> {
    let prefix = format!("{}-", ctx.stack);
    let cw = aws_sdk_cloudwatch::Client::new(&ctx.sdk);
    // A metric alarm is billed per metric it reads (a metric-math alarm reads several).
    let (mut alarm_metrics, mut composites) = (0usize, 0usize);
    let mut pages = cw
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("DescribeAlarms"))?;
        alarm_metrics += page
            .metric_alarms()
            .iter()
            .map(|a| {
                a.metrics()
                    .iter()
                    .filter(|m| m.metric_stat().is_some())
                    .count()
                    .max(1)
            })
            .sum::<usize>();
        composites += page.composite_alarms().len();
    }
    let namespace = metrics_namespace(ctx);
    let mut metrics = 0usize;
    let mut pages = cw
        .list_metrics()
        .namespace(&namespace)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        metrics += page.map_err(aws("ListMetrics"))?.metrics().len();
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&ctx.sdk);
    let mut stored_bytes = 0i64;
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{prefix}"))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("DescribeLogGroups"))?;
        stored_bytes += page
            .log_groups()
            .iter()
            .filter_map(|g| g.stored_bytes())
            .sum::<i64>();
    }
    let queues = Worker::ALL.len() as f64;
    let polls_per_month = IDLE_POLLERS * HOURS_PER_MONTH * 3600.0 / LONG_POLL_S;
    let gb = stored_bytes as f64 / 1e9;
    Ok(vec![
        IdleCost {
            item: format!("metrics of the alarms named {prefix}*"),
            count: alarm_metrics as f64,
            monthly_usd: alarm_metrics as f64 * prices.alarm_month,
        },
        IdleCost {
            item: format!("composite alarms named {prefix}*"),
            count: composites as f64,
            monthly_usd: composites as f64 * prices.composite_alarm_month,
        },
        IdleCost {
            item: format!("custom metrics in {namespace}"),
            count: metrics as f64,
            monthly_usd: metrics as f64 * prices.metric_month,
        },
        IdleCost {
            item: "stored logs of the functions, GB".into(),
            count: gb,
            monthly_usd: gb * LOG_STORAGE_GB_MONTH,
        },
        IdleCost {
            item: format!(
                "queues long-polled by Lambda ({IDLE_POLLERS} polls of {LONG_POLL_S} s at a time)"
            ),
            count: queues,
            monthly_usd: queues * polls_per_month * prices.sqs_request,
        },
    ])
}

/// USD with enough digits for a millionth of a dollar.
pub fn usd(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v < 0.01 {
        format!("{v:.6}")
    } else {
        format!("{v:.2}")
    }
}

fn print_report(r: &Report) {
    println!("Jobs of stack `{}` over the last {} h:", r.stack, r.hours);
    let services: Vec<String> = {
        let mut s: Vec<String> = r
            .workers
            .iter()
            .flat_map(|w| w.by_service.keys().cloned())
            .collect();
        s.sort();
        s.dedup();
        s
    };
    let mut t = Table::new([
        "WORKER",
        "RUNS",
        "USD",
        "USD/RUN",
        "USD/MONTH",
        "CALLS",
        "BY SERVICE (USD)",
    ]);
    for w in &r.workers {
        let by = services
            .iter()
            .filter_map(|s| w.by_service.get(s).map(|c| format!("{s} {}", usd(c.usd))))
            .collect::<Vec<_>>()
            .join(", ");
        t.row([
            w.worker.clone(),
            if w.unpriced_runs > 0 {
                format!("{} ({} unpriced)", w.runs, w.unpriced_runs)
            } else {
                w.runs.to_string()
            },
            usd(w.usd),
            usd(w.usd_per_run),
            usd(w.monthly_usd),
            format!("{:.1}", w.calls),
            if by.is_empty() { "-".into() } else { by },
        ]);
    }
    print!("{t}");
    match r.usd_per_1000_invocations {
        Some(per) => println!(
            "Per use: {} USD per 1,000 of the account's {:.0} Lambda invocations in those {} h.",
            usd(per),
            r.invocations,
            r.hours
        ),
        None => println!(
            "Per use: no Lambda invocations in the account in those {} h.",
            r.hours
        ),
    }
    if let Some(per) = r.usd_per_1000_warmed_invocations {
        println!(
            "         {} USD per 1,000 of the {:.0} invocations of the {} warmed functions.",
            usd(per),
            r.warmed_invocations,
            r.warmed_functions.len()
        );
    }
    println!();
    println!("Idle (per month, whether jobs run or not):");
    let mut t = Table::new(["WHAT", "COUNT", "USD/MONTH"]);
    for i in &r.idle {
        let count = if i.count.fract() == 0.0 {
            format!("{}", i.count)
        } else {
            format!("{:.3}", i.count)
        };
        t.row([i.item.clone(), count, usd(i.monthly_usd)]);
    }
    print!("{t}");
    println!();
    println!(
        "Monthly estimate: {} (jobs at the current rate {} + idle {}). Prices: public us-east-1, STOKER_PRICE_* to override; free tiers not deducted.",
        usd(r.monthly_usd),
        usd(r.jobs_monthly_usd),
        usd(r.idle_monthly_usd)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cost: Option<f64>) -> RunRecord {
        let mut r = stoker_it::kit::completed_run("rollup", "e", "k");
        r.cost = cost.map(|usd| {
            let mut c = JobCost::default();
            c.add("sqs", 1.0, usd);
            c
        });
        r
    }

    #[test]
    fn a_workers_cost_sums_its_priced_runs_and_scales_to_a_month() {
        let w = WorkerCost::of("rollup", &[run(Some(1.0)), run(Some(3.0)), run(None)], 24.0);
        assert_eq!((w.runs, w.unpriced_runs), (3, 1));
        assert_eq!(w.usd, 4.0);
        assert_eq!(w.usd_per_run, 2.0);
        assert!(
            (w.monthly_usd - 4.0 * 30.4375).abs() < 1e-9,
            "{}",
            w.monthly_usd
        );
        assert_eq!(w.by_service["sqs"].calls, 2.0);
    }

    #[test]
    fn usd_shows_millionths() {
        assert_eq!(usd(0.0000042), "0.000004");
        assert_eq!(usd(1.234), "1.23");
        assert_eq!(usd(0.0), "0");
    }
}
