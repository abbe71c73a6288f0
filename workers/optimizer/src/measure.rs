//! Measuring one size of a sweep: invocations of its alias (in parallel or one after another),
//! and their billed durations from the log tails' REPORT lines, or from CloudWatch Logs when a
//! tail carries none (an emulator).

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use stoker_events::payload::optimize::PowerTuning;
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::wait::{self, Pace};

use crate::functions::FunctionInfo;
use crate::report_line;

/// How long REPORT lines may take to reach CloudWatch Logs when the log tail has none.
pub const LOG_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One invocation's answer.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub succeeded: bool,
    /// From the log tail's REPORT line, when it has one.
    pub billed_ms: Option<f64>,
}

/// Invokes `function:alias` `tuning.invocations` times.
pub async fn invoke_all(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    tuning: &PowerTuning,
) -> Result<Vec<Answer>, JobError> {
    let payload = tuning
        .payload
        .as_ref()
        .map_or_else(|| "{}".to_owned(), ToString::to_string);
    if tuning.parallel {
        let calls = (0..tuning.invocations).map(|_| invoke(lambda, function, alias, &payload));
        return futures::future::join_all(calls).await.into_iter().collect();
    }
    let mut out = Vec::new();
    for i in 0..tuning.invocations {
        if i > 0 && tuning.sleep_ms > 0 {
            // A pause the request asks for between invocations, not a synchronisation.
            tokio::time::sleep(std::time::Duration::from_millis(tuning.sleep_ms.into())).await;
        }
        out.push(invoke(lambda, function, alias, &payload).await?);
    }
    Ok(out)
}

async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    payload: &str,
) -> Result<Answer, JobError> {
    let out = lambda
        .invoke()
        .function_name(function)
        .qualifier(alias)
        .log_type(LogType::Tail)
        .payload(Blob::new(payload.as_bytes()))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Invoke {function}:{alias}"), e))?;
    let tail = out
        .log_result()
        .and_then(|b| aws_smithy_types::base64::decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(Answer {
        succeeded: out.function_error().is_none(),
        billed_ms: report_line::parse(&tail).map(|r| r.billed_ms),
    })
}

/// The billed durations of `version`'s REPORT lines since `since_ms` (log streams of a version
/// are named `…[<version>]…`), polled until all `want` have arrived or [`LOG_WAIT`] is up.
pub async fn logged_billed(
    logs: &aws_sdk_cloudwatchlogs::Client,
    f: &FunctionInfo,
    version: &str,
    since_ms: i64,
    want: usize,
) -> Result<Vec<f64>, JobError> {
    let marker = format!("[{version}]");
    let read = || async {
        let Some(lines) = report_line::read(logs, &f.log_group, since_ms, None, usize::MAX).await?
        else {
            return Err(JobError::permanent(
                "no_report_line",
                format!(
                    "{}:{version} has no REPORT line in its log tail, and its log group {} does not exist; does the function log to CloudWatch Logs?",
                    f.name, f.log_group
                ),
            ));
        };
        Ok(lines
            .iter()
            .filter(|(stream, _)| stream.contains(&marker))
            .map(|(_, r)| r.billed_ms)
            .collect::<Vec<f64>>())
    };
    let pace = Pace::every(std::time::Duration::from_millis(500));
    let all = wait::until(LOG_WAIT, pace, || async {
        let billed = read().await?;
        Ok((billed.len() >= want).then_some(billed))
    })
    .await?;
    // Time is up: what arrived will do, if anything did.
    let billed = match all {
        Some(billed) => billed,
        None => read().await?,
    };
    if billed.is_empty() {
        return Err(JobError::permanent(
            "no_report_line",
            format!(
                "{}:{version} left no REPORT line in its log tail or in {} within {} s; does the function log to CloudWatch Logs?",
                f.name,
                f.log_group,
                LOG_WAIT.as_secs()
            ),
        ));
    }
    Ok(billed)
}
