//! A queue's oldest message (`queue.age`): not older than `max_message_age_s`, from SQS's
//! `ApproximateAgeOfOldestMessage` (AWS/SQS, by `QueueName`): the newest 5-minute maximum of
//! the last 15 minutes. A job
//! that waits long is late whatever the queue's depth: a stuck worker, a poison message
//! retried until its receive count runs out.

use aws_sdk_cloudwatch::types::Statistic;
use chrono::{DateTime, Duration, Utc};

use crate::check::Check;
use crate::metric;

const CHECK: &str = "queue.age";

/// `queue.age` of queue `name`.
pub async fn check(
    cw: &aws_sdk_cloudwatch::Client,
    name: &str,
    max_age_s: u32,
    now: DateTime<Utc>,
) -> Check {
    let dims = [("QueueName", name)];
    let points = metric::read(
        cw,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        &dims,
        (Duration::minutes(15), Duration::minutes(5)),
        Statistic::Maximum,
        now,
    );
    match points.await {
        Ok(points) => {
            // The newest period's: a queue drained since is not late.
            let newest = points
                .iter()
                .max_by_key(|p| p.timestamp().map(|t| t.secs()));
            let oldest = newest.and_then(|p| p.maximum());
            judge(name, oldest, max_age_s)
        }
        Err(why) => Check::fail(CHECK, name, why),
    }
}

/// The verdict on the oldest message's age in seconds (`None`: nothing measured).
pub fn judge(name: &str, oldest_s: Option<f64>, max_age_s: u32) -> Check {
    match oldest_s {
        None => Check::pass(CHECK, name, "no message age measured in 15 minutes (empty)"),
        Some(age) if age <= f64::from(max_age_s) => Check::pass(
            CHECK,
            name,
            format!("oldest message {age:.0} s old, at most {max_age_s} s"),
        ),
        Some(age) => Check::warn(
            CHECK,
            name,
            format!(
                "oldest message {age:.0} s old, more than {max_age_s} s: is its worker running, or is one message failing again and again (`stoker status`)?"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn an_old_message_warns() {
        assert_eq!(judge("q", None, 900).status, Status::Pass);
        assert_eq!(judge("q", Some(900.0), 900).status, Status::Pass);
        assert_eq!(judge("q", Some(3600.0), 900).status, Status::Warn);
    }
}
