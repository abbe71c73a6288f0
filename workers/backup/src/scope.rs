//! What the backup worker may touch: tables whose name starts with a required, non-empty prefix
//! (`STOKER_BACKUP_TABLE_PREFIX`), and its own restore-drill scratch tables, named
//! `<stack>-drill-<job id>-<delivery>-<attempt>` (`STOKER_STACK`) so that the role may create and
//! delete only `table/<stack>-drill-*`.

use stoker_kit::JobError;

/// The env var naming the tables the worker may back up.
pub const TABLE_PREFIX_VAR: &str = "STOKER_BACKUP_TABLE_PREFIX";
/// The env var naming the stack (scratch tables are named for it).
pub const STACK_VAR: &str = "STOKER_STACK";

/// The stack and the table prefix; both non-empty, checked when built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    stack: String,
    table_prefix: String,
    /// The stack's own ops table, in scope whatever its name (the daily backup protects it).
    own_table: Option<String>,
}

/// A missing or unusable scope setting, naming the variable and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}. {fix}")]
pub struct ScopeError {
    pub var: &'static str,
    pub problem: String,
    pub fix: &'static str,
}

impl Scope {
    /// A scope, or an error when either part is empty or not usable in a table name.
    pub fn new(stack: &str, table_prefix: &str) -> Result<Scope, ScopeError> {
        let table_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if stack.is_empty() || stack.len() > 128 || !stack.chars().all(table_chars) {
            return Err(ScopeError {
                var: STACK_VAR,
                problem: format!("`{stack}` is not a stack name (1-128 of A-Z a-z 0-9 - _ .)"),
                fix: "Set it to the CloudFormation stack's name (infra/template.yaml sets it on the function; `stoker run` sets it from --stack)",
            });
        }
        if table_prefix.is_empty()
            || table_prefix.len() > 200
            || !table_prefix.chars().all(table_chars)
        {
            return Err(ScopeError {
                var: TABLE_PREFIX_VAR,
                problem: format!(
                    "`{table_prefix}` is not a table-name prefix (1-200 of A-Z a-z 0-9 - _ .; empty would allow every table)"
                ),
                fix: "Set it to the prefix of the tables this stack may back up (stack parameter BackupTablePrefix)",
            });
        }
        Ok(Scope {
            stack: stack.to_owned(),
            table_prefix: table_prefix.to_owned(),
            own_table: None,
        })
    }

    /// Also allows the stack's own ops table (the role grants it by name).
    pub fn with_own_table(mut self, ops_table: &str) -> Scope {
        self.own_table = (!ops_table.is_empty()).then(|| ops_table.to_owned());
        self
    }

    /// [`Scope::new`] from `STOKER_STACK` and `STOKER_BACKUP_TABLE_PREFIX` through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Scope, ScopeError> {
        Scope::new(
            &get(STACK_VAR).unwrap_or_default(),
            &get(TABLE_PREFIX_VAR).unwrap_or_default(),
        )
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    pub fn table_prefix(&self) -> &str {
        &self.table_prefix
    }

    /// Refuses a table outside the prefix: a permanent error that names the prefix.
    pub fn check_table(&self, table: &str) -> Result<(), JobError> {
        if table.starts_with(&self.table_prefix) || self.own_table.as_deref() == Some(table) {
            return Ok(());
        }
        Err(JobError::permanent(
            "table_out_of_scope",
            format!(
                "table `{table}` is outside this stack's backup scope: the backup worker acts only on tables whose name starts with `{}` ({TABLE_PREFIX_VAR}); rename the request's table or redeploy with another BackupTablePrefix",
                self.table_prefix
            ),
        ))
    }

    /// Every scratch table of this stack starts with this.
    pub fn drill_prefix(&self) -> String {
        format!("{}-drill-", self.stack)
    }

    /// The scratch table of one attempt of one job.
    pub fn drill_table(&self, job: &JobTag) -> String {
        format!("{}{}-{}", self.drill_prefix(), job.id, job.attempt)
    }
}

/// Which job (and which attempt of it) is running: names what the job makes, so that a retry
/// finds the backup or export of an earlier attempt and scratch tables never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTag {
    /// The job's id (the event id, 32 hex digits): the same on every attempt.
    pub id: String,
    /// `<delivery>-<attempt within it>`: different on every attempt.
    pub attempt: String,
}

impl JobTag {
    /// A tag for attempt `attempt` of delivery `receive_count` of job `id`; characters other
    /// than ASCII letters and digits are dropped from the id (names stay valid).
    pub fn new(id: &str, receive_count: u32, attempt: u32) -> JobTag {
        JobTag {
            id: id.chars().filter(char::is_ascii_alphanumeric).collect(),
            attempt: format!("{receive_count}-{attempt}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_unusable_setting_is_refused_naming_its_variable() {
        let e = Scope::new("stoker", "").expect_err("empty prefix");
        assert_eq!(e.var, TABLE_PREFIX_VAR);
        assert!(e.to_string().contains("every table"), "{e}");
        assert_eq!(Scope::new("", "app-").expect_err("no stack").var, STACK_VAR);
        assert_eq!(
            Scope::new("stoker", "app/*").expect_err("bad chars").var,
            TABLE_PREFIX_VAR
        );
        let from_env = Scope::from_lookup(|k| (k == STACK_VAR).then(|| "stoker".to_owned()));
        assert_eq!(from_env.expect_err("no prefix").var, TABLE_PREFIX_VAR);
        assert!(Scope::new("stoker", "app-").is_ok());
    }

    #[test]
    fn the_stacks_own_ops_table_is_in_scope_by_name_only() {
        let scope = Scope::new("stoker", "app-")
            .expect("scope")
            .with_own_table("stoker-ops");
        assert!(scope.check_table("stoker-ops").is_ok());
        assert!(scope.check_table("stoker-ops-copy").is_err());
        assert!(scope.check_table("app-orders").is_ok());
    }

    #[test]
    fn a_table_outside_the_prefix_is_a_permanent_error_naming_the_prefix() {
        let s = Scope::new("stoker", "app-").expect("scope");
        assert!(s.check_table("app-orders").is_ok());
        for t in ["orders", "ap-orders", "xapp-orders", "stoker-ops"] {
            let e = s.check_table(t).expect_err(t);
            assert!(e.is_permanent(), "{e:?}");
            assert!(e.to_string().contains("`app-`"), "{e}");
        }
    }

    #[test]
    fn scratch_tables_are_named_for_the_stack_and_unique_per_job_and_attempt() {
        let s = Scope::new("prod-stoker", "app-").expect("scope");
        let a = JobTag::new("0198a5f2-7c1e-7000-8000-00000000000a", 1, 1);
        let b = JobTag::new("0198a5f2-7c1e-7000-8000-00000000000b", 1, 1);
        let name = s.drill_table(&a);
        assert_eq!(
            name,
            "prod-stoker-drill-0198a5f27c1e7000800000000000000a-1-1"
        );
        assert!(name.starts_with(&s.drill_prefix()));
        // Two jobs started in the same second, and two attempts of one job, never share one.
        assert_ne!(name, s.drill_table(&b));
        assert_ne!(name, s.drill_table(&JobTag::new(&a.id, 1, 2)));
        assert_ne!(name, s.drill_table(&JobTag::new(&a.id, 2, 1)));
        assert!(name.len() <= 255);
    }
}
