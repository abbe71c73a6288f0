//! The Lambda configuration steps a sweep, an apply and a rollback share: change memory and
//! timeout (passing the RevisionId read) and wait for the update to finish, publish a version,
//! point or create an alias.

use std::time::Duration;

use aws_sdk_lambda::types::LastUpdateStatus;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::wait::{self, Pace};

/// How long a configuration update may take to finish.
pub const UPDATE_WAIT: Duration = Duration::from_secs(120);

/// `$LATEST` as a read found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub revision: String,
    pub memory_mb: u32,
    pub timeout_s: u32,
}

/// Sets `$LATEST`'s memory (and timeout, if given) and waits until the update is Successful;
/// returns the RevisionId after it. The update passes the RevisionId it read: `revision` (the
/// caller's read, e.g. the one its recommendation is based on) or, when `None`, the one read
/// just before; a function changed since is refused ([`CHANGED`]), never overwritten. Nothing
/// is updated when the function already has that configuration.
pub async fn configure(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    memory_mb: u32,
    timeout_s: Option<u32>,
    revision: Option<&str>,
) -> Result<String, JobError> {
    let now = wait_updated(lambda, function).await?;
    let expected = revision.unwrap_or(&now.revision);
    if expected != now.revision {
        return Err(changed(function, expected));
    }
    if now.memory_mb == memory_mb && timeout_s.is_none_or(|t| t == now.timeout_s) {
        return Ok(now.revision);
    }
    lambda
        .update_function_configuration()
        .function_name(function)
        .memory_size(memory_mb as i32)
        .set_timeout(timeout_s.map(|t| t as i32))
        .revision_id(expected)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_precondition_failed_exception())
            {
                changed(function, expected)
            } else {
                sdk_error(&format!("UpdateFunctionConfiguration {function}"), e)
            }
        })?;
    Ok(wait_updated(lambda, function).await?.revision)
}

/// The code of the error for a function changed by someone else since it was read.
pub const CHANGED: &str = "changed_meanwhile";

fn changed(function: &str, revision: &str) -> JobError {
    JobError::permanent(
        CHANGED,
        format!(
            "{function} changed since this pass read it (RevisionId {revision} is no longer current); the optimizer left it as it is: run the pass again to review the new configuration"
        ),
    )
}

/// Polls until the function's last update is no longer in progress and returns `$LATEST` as
/// it then is; a failed update is a permanent error with Lambda's reason.
pub async fn wait_updated(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> Result<Current, JobError> {
    let pace = Pace {
        first: Duration::from_millis(100),
        max: Duration::from_secs(2),
    };
    let updated = wait::until(UPDATE_WAIT, pace, || async {
        let c = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetFunctionConfiguration {function}"), e))?;
        match c.last_update_status() {
            Some(LastUpdateStatus::InProgress) => Ok(None),
            Some(LastUpdateStatus::Failed) => Err(JobError::permanent(
                "update_failed",
                format!(
                    "the configuration update of {function} failed: {}; fix the function, then run the pass again",
                    c.last_update_status_reason().unwrap_or("no reason given")
                ),
            )),
            _ => Ok(Some(Current {
                revision: c.revision_id().unwrap_or_default().to_owned(),
                memory_mb: c.memory_size().unwrap_or(128).max(128) as u32,
                timeout_s: c.timeout().unwrap_or(3).max(1) as u32,
            })),
        }
    })
    .await?;
    updated.ok_or_else(|| {
        JobError::retryable(format!(
            "{function} is still updating after {} s; the pass will be retried",
            UPDATE_WAIT.as_secs()
        ))
    })
}

/// A version as PublishVersion answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: String,
    /// The version's description: another than the one asked for means Lambda answered a
    /// version that already existed (`$LATEST` had not changed since it was published).
    pub description: String,
}

/// Publishes `$LATEST` as a version, only if it is still at `revision` (when given).
pub async fn publish(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    description: &str,
    revision: Option<&str>,
) -> Result<Published, JobError> {
    let v = lambda
        .publish_version()
        .function_name(function)
        .description(description)
        .set_revision_id(revision.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_precondition_failed_exception())
            {
                changed(function, revision.unwrap_or_default())
            } else {
                sdk_error(&format!("PublishVersion {function}"), e)
            }
        })?;
    let version = v.version().map(str::to_owned).ok_or_else(|| {
        JobError::retryable(format!(
            "PublishVersion {function} answered no version number"
        ))
    })?;
    Ok(Published {
        version,
        description: v.description().unwrap_or_default().to_owned(),
    })
}

/// The version `alias` points at, or `None` when there is no such alias.
pub async fn alias_version(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
) -> Result<Option<String>, JobError> {
    match lambda
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
    {
        Ok(a) => Ok(a.function_version().map(str::to_owned)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(&format!("GetAlias {function}:{alias}"), e)),
    }
}

/// Points `alias` at `version` (with `description`), creating the alias when it does not exist.
pub async fn point_alias(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    version: &str,
    description: &str,
) -> Result<(), JobError> {
    if alias_version(lambda, function, alias).await?.is_some() {
        lambda
            .update_alias()
            .function_name(function)
            .name(alias)
            .function_version(version)
            .description(description)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("UpdateAlias {function}:{alias}"), e))?;
    } else {
        create_alias(lambda, function, alias, version, description).await?;
    }
    Ok(())
}

/// Creates `alias` on `version`; an alias of that name that exists already is an error, never
/// taken over.
pub async fn create_alias(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    version: &str,
    description: &str,
) -> Result<(), JobError> {
    lambda
        .create_alias()
        .function_name(function)
        .name(alias)
        .function_version(version)
        .description(description)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("CreateAlias {function}:{alias}"), e))?;
    Ok(())
}
