//! What a readiness job may look at: the stack's own tables, queues, functions and alarms (and
//! the tables and functions under the stack's prefixes). A request naming anything else is
//! refused before any check runs (the job's permanent error: the message goes to the DLQ
//! with the reason), so that a request cannot use the worker to read other teams' tables,
//! queues or alarms. IAM backs the queues and the tables' recovery settings; `ListBackups` and
//! `DescribeAlarms` can only be granted on `*`, so for those this check is the boundary.

use stoker_events::Worker;
use stoker_events::payload::readiness::{ReadinessRequest, prefix_of};
use stoker_kit::JobError;

/// The stack's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The stack's name: its queues are `<stack>-<worker>` and `<stack>-<worker>-dlq`, its
    /// alarms `<stack>-<worker>-*`.
    pub stack: String,
    /// The stack's ops table.
    pub ops_table: String,
    /// The table the daily backup protects, when not the ops table (`STOKER_BACKUP_TABLE`).
    pub backup_table: Option<String>,
    /// Other tables a request may name: those starting with this (`STOKER_BACKUP_TABLE_PREFIX`,
    /// the backup role's own bound).
    pub table_prefix: Option<String>,
    /// Functions a request may name besides the stack's own (`STOKER_FUNCTION_PREFIX`, the
    /// warm-up and optimizer roles' bound).
    pub function_prefix: Option<String>,
}

/// Error code of a request naming something outside the stack.
pub const OUT_OF_SCOPE: &str = "out_of_scope";

impl Scope {
    /// The tables to check: those named (each within reach), or the ops table and the backed-up
    /// table.
    pub fn tables(&self, req: &ReadinessRequest) -> Result<Vec<String>, JobError> {
        if req.tables.is_empty() {
            let mut out = vec![self.ops_table.clone()];
            out.extend(
                self.backup_table
                    .iter()
                    .filter(|t| **t != self.ops_table)
                    .cloned(),
            );
            return Ok(out);
        }
        for t in &req.tables {
            let prefixed = self
                .table_prefix
                .as_deref()
                .is_some_and(|p| !p.is_empty() && t.starts_with(p));
            if !(prefixed || *t == self.ops_table || self.backup_table.as_ref() == Some(t)) {
                return Err(JobError::permanent(
                    OUT_OF_SCOPE,
                    format!(
                        "tables: `{t}` is outside what readiness may check: the ops table `{}`{}",
                        self.ops_table,
                        self.table_prefix
                            .as_deref()
                            .map(|p| format!(" and tables named `{p}*`"))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(req.tables.clone())
    }

    /// The queue names to check: those named (each the stack's), or every worker's queue and DLQ.
    pub fn queues(&self, req: &ReadinessRequest) -> Result<Vec<String>, JobError> {
        if req.queues.is_empty() {
            return Ok(Worker::ALL
                .iter()
                .flat_map(|w| {
                    let q = format!("{}-{}", self.stack, w.name());
                    [format!("{q}-dlq"), q]
                })
                .collect());
        }
        let own = format!("{}-", self.stack);
        match req.queues.iter().find(|q| !q.starts_with(&own)) {
            Some(q) => Err(JobError::permanent(
                OUT_OF_SCOPE,
                format!("queues: `{q}` is not one of the stack's queues (`{own}*`)"),
            )),
            None => Ok(req.queues.clone()),
        }
    }

    /// The functions to check, by plain name: those named (one of the stack's own, or one under
    /// the function prefix), or the stack's own (`<stack>-<worker>`).
    pub fn functions(&self, req: &ReadinessRequest) -> Result<Vec<String>, JobError> {
        let own = format!("{}-", self.stack);
        if req.functions.is_empty() {
            return Ok(Worker::ALL
                .iter()
                .map(|w| format!("{own}{}", w.name()))
                .collect());
        }
        let stacks: Vec<String> = Worker::ALL
            .iter()
            .map(|w| format!("{own}{}", w.name()))
            .collect();
        let allowed = |f: &str| {
            !f.contains(':')
                && (stacks.iter().any(|s| s == f)
                    || prefix_of(f)
                        .is_some_and(|p| stacks.iter().any(|s| p.starts_with(s.as_str())))
                    || self
                        .function_prefix
                        .as_deref()
                        .is_some_and(|p| !p.is_empty() && f.starts_with(p)))
        };
        match req.functions.iter().find(|f| !allowed(f)) {
            Some(f) => Err(JobError::permanent(
                OUT_OF_SCOPE,
                format!(
                    "functions: `{f}` is outside what readiness may check: the stack's own (`{own}<worker>`){}, by plain name",
                    self.function_prefix
                        .as_deref()
                        .map(|p| format!(" and those named `{p}*`"))
                        .unwrap_or_default()
                ),
            )),
            None => Ok(req.functions.clone()),
        }
    }

    /// The alarm name prefixes to check: the one named (within the stack's), or one per worker
    /// (`<stack>-<worker>-`: each worker should have alarms).
    pub fn alarm_prefixes(&self, req: &ReadinessRequest) -> Result<Vec<String>, JobError> {
        let own = format!("{}-", self.stack);
        match &req.alarm_prefix {
            None => Ok(Worker::ALL
                .iter()
                .map(|w| format!("{own}{}-", w.name()))
                .collect()),
            Some(p) if p.starts_with(&own) => Ok(vec![p.clone()]),
            Some(p) => Err(JobError::permanent(
                OUT_OF_SCOPE,
                format!("alarm_prefix: `{p}` does not start with the stack's `{own}`"),
            )),
        }
    }

    /// The worker's own no-go alarm: never one of its checks (it would keep itself firing).
    pub fn own_alarm(&self) -> String {
        format!("{}-readiness-no-go", self.stack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            stack: "stoker".into(),
            ops_table: "stoker-ops".into(),
            backup_table: Some("app-orders".into()),
            table_prefix: Some("app-".into()),
            function_prefix: Some("app-".into()),
        }
    }

    #[test]
    fn an_empty_request_is_the_stacks_own() {
        let req = ReadinessRequest::default();
        let s = scope();
        assert_eq!(s.tables(&req).unwrap(), ["stoker-ops", "app-orders"]);
        let queues = s.queues(&req).unwrap();
        assert_eq!(queues.len(), 2 * Worker::ALL.len());
        assert!(
            queues.contains(&"stoker-backup-dlq".to_owned()),
            "{queues:?}"
        );
        assert!(
            s.alarm_prefixes(&req)
                .unwrap()
                .contains(&"stoker-readiness-".to_owned())
        );
    }

    #[test]
    fn names_outside_the_stack_are_refused_for_good() {
        let s = scope();
        for req in [
            ReadinessRequest {
                tables: vec!["payroll".into()],
                ..Default::default()
            },
            ReadinessRequest {
                queues: vec!["stoker-staging-warmup".into(), "other-q".into()],
                ..Default::default()
            },
            ReadinessRequest {
                alarm_prefix: Some("prod-".into()),
                ..Default::default()
            },
            ReadinessRequest {
                functions: vec!["payroll-api".into()],
                ..Default::default()
            },
            // Another stack's function, and a qualified name.
            ReadinessRequest {
                functions: vec!["stoker-staging-warmup".into()],
                ..Default::default()
            },
            ReadinessRequest {
                functions: vec!["app-orders-api:live".into()],
                ..Default::default()
            },
            // Prefixes that would reach another stack's functions.
            ReadinessRequest {
                functions: vec!["stoker-staging-*".into()],
                ..Default::default()
            },
            ReadinessRequest {
                functions: vec!["stoker-*".into()],
                ..Default::default()
            },
        ] {
            let e = s
                .tables(&req)
                .and(s.queues(&req))
                .and(s.alarm_prefixes(&req))
                .and(s.functions(&req))
                .unwrap_err();
            assert_eq!(e.code(), OUT_OF_SCOPE, "{e}");
        }
        let ok = ReadinessRequest {
            tables: vec!["app-users".into(), "stoker-ops".into()],
            queues: vec!["stoker-warmup".into()],
            alarm_prefix: Some("stoker-backup-".into()),
            functions: vec![
                "app-orders-api".into(),
                "stoker-warmup".into(),
                "stoker-warmup*".into(),
                "app-orders-*".into(),
            ],
            ..Default::default()
        };
        assert!(
            s.tables(&ok)
                .and(s.queues(&ok))
                .and(s.alarm_prefixes(&ok))
                .and(s.functions(&ok))
                .is_ok()
        );
        assert_eq!(
            s.functions(&ReadinessRequest::default()).unwrap().len(),
            Worker::ALL.len()
        );
    }
}
