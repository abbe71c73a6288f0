//! The Lambda configuration steps a sweep, an apply and a rollback share: change memory and
//! timeout and wait for the update to finish, publish a version, point an alias.

use std::time::{Duration, Instant};

use aws_sdk_lambda::types::LastUpdateStatus;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;

/// How long a configuration update may take to finish.
pub const UPDATE_WAIT: Duration = Duration::from_secs(120);

/// Sets `$LATEST`'s memory (and timeout, if given) and waits until the update is Successful.
pub async fn configure(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    memory_mb: u32,
    timeout_s: Option<u32>,
) -> Result<(), JobError> {
    wait_updated(lambda, function).await?;
    lambda
        .update_function_configuration()
        .function_name(function)
        .memory_size(memory_mb as i32)
        .set_timeout(timeout_s.map(|t| t as i32))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("UpdateFunctionConfiguration {function}"), e))?;
    wait_updated(lambda, function).await
}

/// Polls until the function's last update is no longer in progress; a failed update is a
/// permanent error with Lambda's reason.
pub async fn wait_updated(lambda: &aws_sdk_lambda::Client, function: &str) -> Result<(), JobError> {
    let deadline = Instant::now() + UPDATE_WAIT;
    let mut pause = Duration::from_millis(100);
    loop {
        let c = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetFunctionConfiguration {function}"), e))?;
        match c.last_update_status() {
            Some(LastUpdateStatus::InProgress) => {}
            Some(LastUpdateStatus::Failed) => {
                return Err(JobError::permanent(
                    "update_failed",
                    format!(
                        "the configuration update of {function} failed: {}; fix the function, then run the pass again",
                        c.last_update_status_reason().unwrap_or("no reason given")
                    ),
                ));
            }
            _ => return Ok(()),
        }
        if Instant::now() >= deadline {
            return Err(JobError::retryable(format!(
                "{function} is still updating after {} s; the pass will be retried",
                UPDATE_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Publishes `$LATEST` as a version; returns its number.
pub async fn publish(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    description: &str,
) -> Result<String, JobError> {
    let v = lambda
        .publish_version()
        .function_name(function)
        .description(description)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("PublishVersion {function}"), e))?;
    v.version().map(str::to_owned).ok_or_else(|| {
        JobError::retryable(format!(
            "PublishVersion {function} answered no version number"
        ))
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
        lambda
            .create_alias()
            .function_name(function)
            .name(alias)
            .function_version(version)
            .description(description)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("CreateAlias {function}:{alias}"), e))?;
    }
    Ok(())
}
