//! DynamoDB capacity advice: on-demand or provisioned, from the consumed capacity over the
//! lookback. Provisioned capacity is sized for the busiest hour at the seeds' 75 % target
//! utilization. Applying it (an auto-scaling target, opted-in tables only) is
//! [`crate::table_scaling`]'s.

use aws_sdk_cloudwatch::types::Statistic;
use aws_sdk_dynamodb::types::BillingMode;
use chrono::{Duration, Utc};
use serde::Serialize;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::pricing::{DynamoPricing, SECONDS_PER_MONTH};
use crate::statistics::{Query, datapoints};

/// Provisioned capacity is sized so the busiest hour uses this share of it.
pub const TARGET_UTILIZATION: f64 = 0.75;
const HOURS_PER_MONTH: f64 = SECONDS_PER_MONTH / 3600.0;

/// Consumed capacity over the lookback, in units per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Consumed {
    pub avg_read: f64,
    pub peak_read: f64,
    pub avg_write: f64,
    pub peak_write: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityAdvice {
    pub table: String,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: String,
    pub consumed: Consumed,
    pub on_demand_monthly_usd: f64,
    /// At the recommended provisioned capacity.
    pub provisioned_monthly_usd: f64,
    pub recommended_rcu: u32,
    pub recommended_wcu: u32,
    /// `on_demand` or `provisioned`.
    pub recommended_mode: String,
    pub reason: String,
    /// The table's provisioned read and write capacity now (0 on demand).
    pub provisioned_rcu: u32,
    pub provisioned_wcu: u32,
    /// The auto-scaling target this pass gave the table (mode `apply`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<crate::table_scaling::TableScaling>,
    /// Why mode `apply` left the table as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
    /// The table's ARN (its tags are read by it).
    #[serde(skip)]
    pub arn: String,
    /// Why the table could not be read (the pass went on with the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CapacityAdvice {
    /// The report of a table that could not be read.
    pub fn unread(table: &str, error: String) -> Self {
        let idle = Consumed {
            avg_read: 0.0,
            peak_read: 0.0,
            avg_write: 0.0,
            peak_write: 0.0,
        };
        let mut a = advise(table, "UNKNOWN", idle, &DynamoPricing::default());
        a.recommended_mode = "unknown".into();
        (
            a.provisioned_monthly_usd,
            a.recommended_rcu,
            a.recommended_wcu,
        ) = (0.0, 0, 0);
        a.reason = format!("not read: {error}");
        a.error = Some(error);
        a
    }
}

/// The advice for consumed capacity `c` on a table currently billed as `mode`.
pub fn advise(table: &str, mode: &str, c: Consumed, p: &DynamoPricing) -> CapacityAdvice {
    let rcu = (c.peak_read / TARGET_UTILIZATION).ceil().max(1.0) as u32;
    let wcu = (c.peak_write / TARGET_UTILIZATION).ceil().max(1.0) as u32;
    let on_demand = (c.avg_read * p.per_read_request_unit + c.avg_write * p.per_write_request_unit)
        * SECONDS_PER_MONTH;
    let provisioned =
        (f64::from(rcu) * p.per_rcu_hour + f64::from(wcu) * p.per_wcu_hour) * HOURS_PER_MONTH;
    let (recommended, reason) = if c.peak_read == 0.0 && c.peak_write == 0.0 {
        (
            "on_demand",
            "no consumed capacity in the lookback: on-demand costs nothing while idle".to_owned(),
        )
    } else if provisioned < on_demand {
        (
            "provisioned",
            format!(
                "steady traffic: {rcu} RCU / {wcu} WCU provisioned (busiest hour at {:.0} %) cost {provisioned:.2} USD a month against {on_demand:.2} on demand",
                TARGET_UTILIZATION * 100.0
            ),
        )
    } else {
        (
            "on_demand",
            format!(
                "spiky or light traffic: on demand costs {on_demand:.2} USD a month against {provisioned:.2} for {rcu} RCU / {wcu} WCU sized for the busiest hour"
            ),
        )
    };
    CapacityAdvice {
        table: table.to_owned(),
        billing_mode: mode.to_owned(),
        consumed: c,
        on_demand_monthly_usd: on_demand,
        provisioned_monthly_usd: provisioned,
        recommended_rcu: rcu,
        recommended_wcu: wcu,
        recommended_mode: recommended.to_owned(),
        reason,
        provisioned_rcu: 0,
        provisioned_wcu: 0,
        applied: None,
        not_applied: None,
        arn: String::new(),
        error: None,
    }
}

/// A table's provisioned read and write capacity units (0 on demand).
pub(crate) fn provisioned(t: Option<&aws_sdk_dynamodb::types::TableDescription>) -> (u32, u32) {
    let p = t.and_then(|t| t.provisioned_throughput());
    let units = |n: Option<i64>| n.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
    (
        units(p.and_then(|p| p.read_capacity_units())),
        units(p.and_then(|p| p.write_capacity_units())),
    )
}

/// Reads `table`'s billing mode and consumed capacity, and advises.
pub async fn table_advice(
    ddb: &aws_sdk_dynamodb::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    table: &str,
    days: u32,
    pricing: &DynamoPricing,
) -> Result<CapacityAdvice, JobError> {
    let d = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeTable {table}"), e))?;
    let (rcu, wcu) = provisioned(d.table());
    let arn = d
        .table()
        .and_then(|t| t.table_arn())
        .unwrap_or_default()
        .to_owned();
    let mode = d
        .table()
        .and_then(|t| t.billing_mode_summary())
        .and_then(|b| b.billing_mode())
        .cloned()
        .unwrap_or(BillingMode::Provisioned);
    let (avg_read, peak_read) =
        consumed(cloudwatch, table, "ConsumedReadCapacityUnits", days).await?;
    let (avg_write, peak_write) =
        consumed(cloudwatch, table, "ConsumedWriteCapacityUnits", days).await?;
    let mut advice = advise(
        table,
        mode.as_str(),
        Consumed {
            avg_read,
            peak_read,
            avg_write,
            peak_write,
        },
        pricing,
    );
    (advice.provisioned_rcu, advice.provisioned_wcu, advice.arn) = (rcu, wcu, arn);
    Ok(advice)
}

/// Average and busiest-period units per second of one consumed-capacity metric.
async fn consumed(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    table: &str,
    metric: &str,
    days: u32,
) -> Result<(f64, f64), JobError> {
    let end = Utc::now();
    let start = end - Duration::days(i64::from(days));
    // Hourly periods, wider when the lookback would exceed 1,440 datapoints.
    let period = 3600 * (days * 24).div_ceil(1440).max(1) as i32;
    let q = Query {
        namespace: "AWS/DynamoDB",
        metric,
        dimension: ("TableName", table),
        start,
        end,
        period_s: period,
        statistics: &[Statistic::Sum],
        extended: &[],
    };
    let points = datapoints(cloudwatch, &q).await?;
    let sums: Vec<f64> = points.iter().filter_map(|d| d.sum()).collect();
    let total: f64 = sums.iter().sum();
    let peak = sums.iter().copied().fold(0.0, f64::max) / f64::from(period);
    Ok((total / (f64::from(days) * 86_400.0), peak))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_traffic_is_cheaper_provisioned() {
        // 100 reads/s and 20 writes/s all month, never above.
        let c = Consumed {
            avg_read: 100.0,
            peak_read: 100.0,
            avg_write: 20.0,
            peak_write: 20.0,
        };
        let a = advise("t", "PAY_PER_REQUEST", c, &DynamoPricing::default());
        assert_eq!((a.recommended_rcu, a.recommended_wcu), (134, 27));
        // On demand: (100 x 0.125 + 20 x 0.625) / 1e6 x 2,629,800 s = 65.745 USD.
        assert!(
            (a.on_demand_monthly_usd - 65.745).abs() < 1e-6,
            "{}",
            a.on_demand_monthly_usd
        );
        // Provisioned: (134 x 0.00013 + 27 x 0.00065) x 730.5 h = 25.546 USD.
        assert!(
            (a.provisioned_monthly_usd - 25.545_585).abs() < 1e-3,
            "{}",
            a.provisioned_monthly_usd
        );
        assert_eq!(a.recommended_mode, "provisioned");
    }

    #[test]
    fn spiky_or_idle_traffic_stays_on_demand() {
        // 0.1 reads/s on average, one hour at 500/s.
        let c = Consumed {
            avg_read: 0.1,
            peak_read: 500.0,
            avg_write: 0.01,
            peak_write: 5.0,
        };
        let a = advise("t", "PROVISIONED", c, &DynamoPricing::default());
        assert_eq!(a.recommended_mode, "on_demand");
        assert!(a.reason.starts_with("spiky or light"), "{}", a.reason);
        let idle = Consumed {
            avg_read: 0.0,
            peak_read: 0.0,
            avg_write: 0.0,
            peak_write: 0.0,
        };
        let a = advise("t", "PROVISIONED", idle, &DynamoPricing::default());
        assert_eq!(a.recommended_mode, "on_demand");
        assert!(a.reason.starts_with("no consumed capacity"));
    }
}
