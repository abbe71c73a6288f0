//! Applying the capacity advice to a DynamoDB table (`mode: apply` with `tables`): an
//! Application Auto Scaling target on its read and write capacity, with a target-tracking
//! policy at the seeds' 75 % utilization. Opted in per table like every change (the table
//! tagged `stoker:optimize` = `true`, checked by the worker and by the stack's IAM), with the
//! apply's guardrails:
//!
//! - a bound: no range reaches above `bounds.max_table_capacity`, and a table already
//!   provisioned above it is left as it is (auto scaling would cut it down);
//! - never lower: the range's top is at least the table's current capacity;
//! - never over another's: a table some other tool auto-scales is left as it is;
//! - the cooldown: the previous ranges are recorded in the ops table *before* the change
//!   (`pk = OPTIMIZER#table/<table>`, `sk = AUTOSCALING`), with the cooldown's conditional
//!   write;
//! - a rollback ([`Applier::rollback_table_scaling`], `stoker rollback --table`) puts back the
//!   ranges from before the optimizer first changed the table, or removes the targets and
//!   policies when there were none; an apply refused half-way is put back at once;
//! - the table's lock (as a function's) keeps an apply and a rollback apart.

use std::time::Duration;

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

use crate::apply::Applier;
use crate::capacity::{Consumed, TARGET_UTILIZATION};

const SK: &str = "AUTOSCALING";
/// How long an apply or a rollback holds the table's lock at most.
const LOCK_FOR: Duration = Duration::from_secs(120);

/// One capacity range of an auto-scaling target, in capacity units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub min: u32,
    pub max: u32,
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == NONE {
            return write!(f, "none");
        }
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// A dimension without a target (the other has one).
const NONE: Range = Range { min: 0, max: 0 };

/// A table's read and write ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranges {
    pub read: Range,
    pub write: Range,
}

/// A table's provisioned read and write capacity units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub read: u32,
    pub write: u32,
}

/// One change of a table's auto scaling, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableScaling {
    pub table: String,
    /// The ranges before (none: the table had no auto-scaling target).
    pub previous: Option<Ranges>,
    /// The table's provisioned capacity before the optimizer first changed it: a rollback
    /// (or an apply refused half-way) sets it again once the targets are gone, since target
    /// tracking will have moved it meanwhile.
    #[serde(default)]
    pub capacity_before: Option<Capacity>,
    pub ranges: Ranges,
    /// The utilization the policies keep, in percent.
    pub target_utilization_pct: f64,
    /// `applying`, `applied`, `failed` (refused half-way and put back at once) or
    /// `rolled_back`.
    pub status: String,
    pub at: String,
    pub event_id: String,
}

/// The ranges for consumed capacity `c` on a table provisioned with `current` (read, write)
/// units, at most `bound`: the floor keeps the average at the target utilization, the top
/// keeps twice the busiest hour's need and never falls below what the table has now. `Err`
/// when the table already has more than the bound.
pub fn ranges(c: &Consumed, current: (u32, u32), bound: u32) -> Result<Ranges, String> {
    let one = |avg: f64, peak: f64, now: u32, what: &str| {
        if now > bound {
            return Err(format!(
                "it has {now} {what} capacity units provisioned, above bounds.max_table_capacity {bound}: auto scaling within the bound would lower it, so it is left as it is"
            ));
        }
        let need = |x: f64| (x / TARGET_UTILIZATION).ceil().max(1.0) as u32;
        let max = (2 * need(peak)).max(now).clamp(1, bound);
        Ok(Range {
            min: need(avg).min(max),
            max,
        })
    };
    Ok(Ranges {
        read: one(c.avg_read, c.peak_read, current.0, "read")?,
        write: one(c.avg_write, c.peak_write, current.1, "write")?,
    })
}

fn resource(table: &str) -> String {
    format!("table/{table}")
}

/// The ops table's key of a table's items: a function's name never has a `/`.
fn key(table: &str) -> String {
    resource(table)
}

const DIMENSIONS: [(ScalableDimension, MetricType, &str); 2] = [
    (
        ScalableDimension::DynamoDbTableReadCapacityUnits,
        MetricType::DynamoDbReadCapacityUtilization,
        "stoker-read-utilization",
    ),
    (
        ScalableDimension::DynamoDbTableWriteCapacityUnits,
        MetricType::DynamoDbWriteCapacityUtilization,
        "stoker-write-utilization",
    ),
];

/// The table's auto-scaling ranges now (none: no target on either dimension).
pub async fn ranges_now(scaling: &Client, table: &str) -> Result<Option<Ranges>, JobError> {
    let out = scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Dynamodb)
        .resource_ids(resource(table))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeScalableTargets table/{table}"), e))?;
    let of = |d: &ScalableDimension| {
        out.scalable_targets()
            .iter()
            .find(|t| t.scalable_dimension() == d)
            .map(|t| Range {
                min: t.min_capacity().max(0) as u32,
                max: t.max_capacity().max(0) as u32,
            })
    };
    match (of(&DIMENSIONS[0].0), of(&DIMENSIONS[1].0)) {
        (None, None) => Ok(None),
        (read, write) => Ok(Some(Ranges {
            read: read.unwrap_or(NONE),
            write: write.unwrap_or(NONE),
        })),
    }
}

impl Applier {
    /// Gives `table` the auto-scaling `ranges` (75 % target tracking) unless its last such
    /// change is younger than `cooldown`; `Err(why)` in `Ok` when a guardrail said no. Holds
    /// the table's lock (a rollback is not interleaved with).
    pub async fn apply_table_scaling(
        &self,
        scaling: &Client,
        table: &str,
        (ranges, capacity): (Ranges, Capacity),
        event_id: &str,
        cooldown: Duration,
    ) -> Result<Result<TableScaling, String>, JobError> {
        let until = Utc::now() + LOCK_FOR + crate::lock::GRACE;
        if let Some(holder) = self.lock(&key(table), event_id, until).await? {
            return Ok(Err(holder.report(&format!("table {table}"))));
        }
        let done = self
            .apply_table_locked(scaling, table, (ranges, capacity), event_id, cooldown)
            .await;
        if let Err(e) = self.unlock(&key(table), event_id).await {
            tracing::warn!(table, error = %e, "the table's lock could not be given back; it expires on its own");
        }
        done
    }

    async fn apply_table_locked(
        &self,
        scaling: &Client,
        table: &str,
        (ranges, capacity): (Ranges, Capacity),
        event_id: &str,
        cooldown: Duration,
    ) -> Result<Result<TableScaling, String>, JobError> {
        let now = ranges_now(scaling, table).await?;
        let last = self.last_table_scaling(table).await?;
        // The optimizer's own earlier change, still in force: what this pass replaces.
        let mut in_force = None;
        let (previous, capacity_before) = match &last {
            // A retry of this very pass: done, undone since, or unfinished (its record holds
            // the state from before it).
            Some(l) if l.event_id == event_id => match l.status.as_str() {
                "applied" => return Ok(Ok(l.clone())),
                "rolled_back" => {
                    return Ok(Err(
                        "rolled back since this pass applied it (stoker rollback --table): a retry of the pass does not apply it again".into(),
                    ));
                }
                _ => (l.previous, l.capacity_before),
            },
            // The optimizer's own change, made or unfinished: what it replaced is still what
            // a rollback must put back, however many passes changed the ranges since.
            Some(l)
                if l.status == "applying" || (l.status == "applied" && Some(l.ranges) == now) =>
            {
                if now == Some(ranges) {
                    return Ok(Err(format!(
                        "its auto scaling is already read {}, write {}",
                        ranges.read, ranges.write
                    )));
                }
                if l.status == "applied" {
                    in_force = Some(l.clone());
                }
                (l.previous, l.capacity_before)
            }
            _ => {
                if let Some(have) = now {
                    return Ok(Err(format!(
                        "it is auto-scaled already (read {}, write {}) by something else: left as it is",
                        have.read, have.write
                    )));
                }
                (None, Some(capacity))
            }
        };
        let mut change = TableScaling {
            table: table.to_owned(),
            previous,
            capacity_before,
            ranges,
            target_utilization_pct: TARGET_UTILIZATION * 100.0,
            status: "applying".into(),
            at: Utc::now().to_rfc3339(),
            event_id: event_id.to_owned(),
        };
        if !self.record_table_scaling(&change, Some(cooldown)).await? {
            return Ok(Err(format!(
                "its auto scaling changed less than {} h ago",
                cooldown.as_secs() / 3600
            )));
        }
        if let Err(e) = set(scaling, table, ranges).await {
            if !e.is_permanent() {
                // Retried (the same event): the record holds what to put back.
                return Err(e);
            }
            // Refused half-way: back to the state before this pass at once, so that no
            // half-configured table is left: the earlier change still in force, or none.
            match in_force {
                Some(l) => {
                    set(scaling, table, l.ranges).await?;
                    self.record_table_scaling(&l, None).await?;
                }
                None => {
                    self.undo(scaling, table, previous, capacity_before).await?;
                    change.status = "failed".into();
                    change.at = Utc::now().to_rfc3339();
                    self.record_table_scaling(&change, None).await?;
                }
            }
            return Err(e);
        }
        change.status = "applied".into();
        self.record_table_scaling(&change, None).await?;
        Ok(Ok(change))
    }

    /// Puts back the ranges from before the optimizer's change, or removes the targets (and
    /// the optimizer's policies) when the table had none; holds the table's lock.
    pub async fn rollback_table_scaling(
        &self,
        scaling: &Client,
        table: &str,
    ) -> Result<TableScaling, JobError> {
        let owner = format!("rollback {}", Utc::now().to_rfc3339());
        let until = Utc::now() + LOCK_FOR + crate::lock::GRACE;
        if let Some(holder) = self.lock(&key(table), &owner, until).await? {
            return Err(JobError::permanent(
                "locked",
                holder.report(&format!("table {table}")),
            ));
        }
        let done = self.rollback_table_locked(scaling, table).await;
        if let Err(e) = self.unlock(&key(table), &owner).await {
            tracing::warn!(table, error = %e, "the table's lock could not be given back; it expires on its own");
        }
        done
    }

    async fn rollback_table_locked(
        &self,
        scaling: &Client,
        table: &str,
    ) -> Result<TableScaling, JobError> {
        let Some(mut change) = self.last_table_scaling(table).await? else {
            return Err(JobError::permanent(
                "nothing_to_roll_back",
                format!("no auto-scaling change of table {table} is recorded"),
            ));
        };
        match change.status.as_str() {
            "rolled_back" => {
                return Err(JobError::permanent(
                    "already_rolled_back",
                    format!("the last auto-scaling change of table {table} is already rolled back"),
                ));
            }
            "failed" => {
                return Err(JobError::permanent(
                    "nothing_to_roll_back",
                    format!(
                        "the last auto-scaling change of table {table} failed and was put back at once"
                    ),
                ));
            }
            _ => {}
        }
        self.undo(scaling, table, change.previous, change.capacity_before)
            .await?;
        change.status = "rolled_back".into();
        change.at = Utc::now().to_rfc3339();
        self.record_table_scaling(&change, None).await?;
        Ok(change)
    }

    /// The last recorded auto-scaling change of `table`.
    pub async fn last_table_scaling(&self, table: &str) -> Result<Option<TableScaling>, JobError> {
        self.last_change(&key(table), SK, "table auto-scaling change")
            .await
    }

    /// Writes `change`; with `cooldown`, only if the last one is older or is this pass's.
    async fn record_table_scaling(
        &self,
        change: &TableScaling,
        cooldown: Option<Duration>,
    ) -> Result<bool, JobError> {
        let (k, event) = (key(&change.table), &change.event_id);
        self.record_change(&k, SK, change, event, cooldown, "table auto-scaling change")
            .await
    }
}

/// Both dimensions' targets and target-tracking policies.
async fn set(scaling: &Client, table: &str, ranges: Ranges) -> Result<(), JobError> {
    for ((dimension, metric, policy), range) in DIMENSIONS.iter().zip([ranges.read, ranges.write]) {
        register(scaling, table, dimension, range).await?;
        scaling
            .put_scaling_policy()
            .policy_name(*policy)
            .service_namespace(ServiceNamespace::Dynamodb)
            .resource_id(resource(table))
            .scalable_dimension(dimension.clone())
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(
                TargetTrackingScalingPolicyConfiguration::builder()
                    .target_value(TARGET_UTILIZATION * 100.0)
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(metric.clone())
                            .build()
                            .map_err(|e| JobError::permanent("bad_policy", e.to_string()))?,
                    )
                    .build()
                    .map_err(|e| JobError::permanent("bad_policy", e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| sdk_error(&format!("PutScalingPolicy table/{table} {policy}"), e))?;
    }
    Ok(())
}

impl Applier {
    /// Back to `previous`: its ranges, or no targets and none of the optimizer's policies,
    /// and then the table's provisioned capacity from before (`capacity`), which target
    /// tracking will have moved.
    async fn undo(
        &self,
        scaling: &Client,
        table: &str,
        previous: Option<Ranges>,
        capacity: Option<Capacity>,
    ) -> Result<(), JobError> {
        // The targets there now, read once.
        let now = ranges_now(scaling, table).await?;
        let there = now.map_or([NONE, NONE], |r| [r.read, r.write]);
        if let Some(p) = previous {
            let back = DIMENSIONS.iter().zip([p.read, p.write]).zip(there);
            for (((dimension, _, _), range), had) in back {
                if range != NONE {
                    register(scaling, table, dimension, range).await?;
                } else if had != NONE {
                    deregister(scaling, table, dimension).await?;
                }
            }
            return Ok(());
        }
        remove(scaling, table, there).await?;
        if let Some(c) = capacity {
            restore_capacity(&self.ddb, table, c).await?;
        }
        Ok(())
    }
}

/// No target and none of the optimizer's policies left on `table`, whose targets are `there`
/// (read and write; `NONE`: no target). Only what is there is deleted (moto answers a missing
/// one with a ValidationException, AWS with ObjectNotFound: neither is asked for).
async fn remove(scaling: &Client, table: &str, there: [Range; 2]) -> Result<(), JobError> {
    let ours: Vec<&str> = DIMENSIONS.iter().map(|(_, _, p)| *p).collect();
    let policies = scaling
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Dynamodb)
        .resource_id(resource(table))
        .set_policy_names(Some(ours.iter().map(|p| (*p).to_owned()).collect()))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeScalingPolicies table/{table}"), e))?;
    for p in policies.scaling_policies() {
        if !ours.contains(&p.policy_name()) {
            continue;
        }
        scaling
            .delete_scaling_policy()
            .policy_name(p.policy_name())
            .service_namespace(ServiceNamespace::Dynamodb)
            .resource_id(resource(table))
            .scalable_dimension(p.scalable_dimension().clone())
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DeleteScalingPolicy table/{table}"), e))?;
    }
    for ((dimension, _, _), had) in DIMENSIONS.iter().zip(there) {
        if had != NONE {
            deregister(scaling, table, dimension).await?;
        }
    }
    Ok(())
}

/// `table`'s target on `dimension` deregistered.
async fn deregister(
    scaling: &Client,
    table: &str,
    dimension: &ScalableDimension,
) -> Result<(), JobError> {
    scaling
        .deregister_scalable_target()
        .service_namespace(ServiceNamespace::Dynamodb)
        .resource_id(resource(table))
        .scalable_dimension(dimension.clone())
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DeregisterScalableTarget table/{table}"), e))?;
    Ok(())
}

/// Sets `table`'s provisioned capacity to `c` unless it has it already (DynamoDB refuses an
/// update that changes nothing).
async fn restore_capacity(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    c: Capacity,
) -> Result<(), JobError> {
    let d = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeTable {table}"), e))?;
    if crate::capacity::provisioned(d.table()) == (c.read, c.write) {
        return Ok(());
    }
    ddb.update_table()
        .table_name(table)
        .provisioned_throughput(
            aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
                .read_capacity_units(i64::from(c.read))
                .write_capacity_units(i64::from(c.write))
                .build()
                .map_err(|e| JobError::permanent("bad_capacity", e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| sdk_error(&format!("UpdateTable {table} (capacity back)"), e))?;
    Ok(())
}

async fn register(
    scaling: &Client,
    table: &str,
    dimension: &ScalableDimension,
    range: Range,
) -> Result<(), JobError> {
    scaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Dynamodb)
        .resource_id(resource(table))
        .scalable_dimension(dimension.clone())
        .min_capacity(range.min as i32)
        .max_capacity(range.max as i32)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("RegisterScalableTarget table/{table}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumed(avg: f64, peak: f64) -> Consumed {
        Consumed {
            avg_read: avg,
            peak_read: peak,
            avg_write: avg / 2.0,
            peak_write: peak / 2.0,
        }
    }

    #[test]
    fn the_floor_carries_the_average_and_the_top_twice_the_busiest_hour() {
        let r = ranges(&consumed(3.0, 15.0), (5, 5), 100).unwrap();
        // 3 / 0.75 = 4; 2 x (15 / 0.75) = 40.
        assert_eq!(r.read, Range { min: 4, max: 40 });
        // 1.5 / 0.75 = 2; 2 x ceil(7.5 / 0.75) = 20.
        assert_eq!(r.write, Range { min: 2, max: 20 });
    }

    #[test]
    fn the_bound_caps_the_top_and_the_floor_stays_below_it() {
        let r = ranges(&consumed(90.0, 300.0), (5, 5), 50).unwrap();
        assert_eq!(r.read, Range { min: 50, max: 50 });
        assert_eq!(r.write, Range { min: 50, max: 50 });
    }

    #[test]
    fn the_top_never_falls_below_the_capacity_the_table_has() {
        let r = ranges(&consumed(0.0, 0.0), (25, 10), 100).unwrap();
        assert_eq!(r.read, Range { min: 1, max: 25 });
        assert_eq!(r.write, Range { min: 1, max: 10 });
    }

    #[test]
    fn a_table_provisioned_above_the_bound_is_left_alone() {
        let why = ranges(&consumed(1.0, 2.0), (500, 5), 100).unwrap_err();
        assert!(
            why.contains("500 read") && why.contains("left as it is"),
            "{why}"
        );
    }
}
