//! Queues: a dead-letter queue is empty (`queue.dlq_empty`); any other queue is below the depth
//! limit (`queue.depth`) and has a dead-letter queue (`queue.redrive`); every queue is
//! encrypted at rest (`queue.encryption`).

use std::collections::{HashMap, HashSet};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::check::Check;
use crate::evidence::unreadable;

/// What the checks read of one queue.
#[derive(Debug, Clone, Default)]
struct Queue {
    name: String,
    arn: String,
    /// Messages waiting, in flight and delayed: a dead letter someone is reading still counts.
    depth: u64,
    dead_letter_arn: Option<String>,
    encrypted: Option<String>,
}

/// The URLs of the queues `names`, and a failed `queue.exists` for each that does not exist.
pub async fn urls(sqs: &Client, names: &[String]) -> (Vec<String>, Vec<Check>) {
    let (mut out, mut missing) = (Vec::new(), Vec::new());
    for n in names {
        match sqs.get_queue_url().queue_name(n).send().await {
            Ok(o) => out.push(o.queue_url().unwrap_or_default().to_owned()),
            Err(e) => missing.push(Check::fail(
                "queue.exists",
                n,
                unreadable("GetQueueUrl", &e),
            )),
        }
    }
    (out, missing)
}

/// Every check of the queues at `urls`.
pub async fn check(sqs: &Client, urls: &[String], max_depth: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut queues = Vec::new();
    for url in urls {
        let name = url.rsplit('/').next().unwrap_or(url).to_owned();
        match read(sqs, url, &name).await {
            Ok(q) => queues.push(q),
            Err(c) => checks.push(c),
        }
    }
    let dead_letter: HashSet<&str> = queues
        .iter()
        .filter_map(|q| q.dead_letter_arn.as_deref())
        .collect();
    for q in &queues {
        let is_dlq = dead_letter.contains(q.arn.as_str()) || q.name.ends_with("-dlq");
        checks.push(if is_dlq {
            dlq_empty(q)
        } else {
            depth(q, max_depth)
        });
        if !is_dlq {
            checks.push(match &q.dead_letter_arn {
                Some(arn) => Check::pass("queue.redrive", &q.name, format!("dead letters go to {}", arn.rsplit(':').next().unwrap_or(arn))),
                None => Check::warn("queue.redrive", &q.name, "no dead-letter queue: a message that keeps failing is retried until it expires, then lost"),
            });
        }
        checks.push(match &q.encrypted {
            Some(how) => Check::pass(
                "queue.encryption",
                &q.name,
                format!("encrypted at rest ({how})"),
            ),
            None => Check::fail(
                "queue.encryption",
                &q.name,
                "not encrypted at rest: set SqsManagedSseEnabled or a KMS key",
            ),
        });
    }
    checks
}

async fn read(sqs: &Client, url: &str, name: &str) -> Result<Queue, Check> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| {
            Check::fail(
                "queue.attributes",
                name,
                unreadable("GetQueueAttributes", &e),
            )
        })?;
    let attrs: HashMap<String, String> = out
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let get = |k: &str| attrs.get(k).filter(|v| !v.is_empty()).cloned();
    let dead_letter_arn = get("RedrivePolicy").and_then(|p| {
        serde_json::from_str::<serde_json::Value>(&p)
            .ok()?
            .get("deadLetterTargetArn")?
            .as_str()
            .map(str::to_owned)
    });
    let encrypted = match (get("KmsMasterKeyId"), get("SqsManagedSseEnabled")) {
        (Some(key), _) => Some(format!("KMS key {key}")),
        (None, Some(on)) if on == "true" => Some("SQS-managed keys".into()),
        _ => None,
    };
    let count = |k: &str| get(k).and_then(|d| d.parse::<u64>().ok());
    let Some(waiting) = count("ApproximateNumberOfMessages") else {
        return Err(Check::fail(
            "queue.attributes",
            name,
            "no ApproximateNumberOfMessages in its attributes: its depth is unknown",
        ));
    };
    let depth = waiting
        + count("ApproximateNumberOfMessagesNotVisible").unwrap_or(0)
        + count("ApproximateNumberOfMessagesDelayed").unwrap_or(0);
    Ok(Queue {
        name: name.to_owned(),
        arn: get("QueueArn").unwrap_or_default(),
        depth,
        dead_letter_arn,
        encrypted,
    })
}

fn dlq_empty(q: &Queue) -> Check {
    if q.depth == 0 {
        Check::pass("queue.dlq_empty", &q.name, "empty")
    } else {
        Check::fail(
            "queue.dlq_empty",
            &q.name,
            format!(
                "{} dead-lettered message(s): inspect with `stoker dlq list`, fix, then redrive",
                q.depth
            ),
        )
    }
}

fn depth(q: &Queue, max: u64) -> Check {
    if q.depth <= max {
        Check::pass(
            "queue.depth",
            &q.name,
            format!("{} message(s) waiting", q.depth),
        )
    } else {
        Check::warn(
            "queue.depth",
            &q.name,
            format!(
                "{} messages waiting, more than {max}: is its worker keeping up?",
                q.depth
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    fn queue(name: &str, depth: u64) -> Queue {
        Queue {
            name: name.into(),
            depth,
            ..Queue::default()
        }
    }

    #[test]
    fn a_dead_letter_queue_with_messages_fails() {
        assert_eq!(dlq_empty(&queue("q-dlq", 0)).status, Status::Pass);
        let c = dlq_empty(&queue("q-dlq", 3));
        assert_eq!(c.status, Status::Fail);
        assert!(c.evidence.starts_with("3 dead-lettered"), "{}", c.evidence);
    }

    #[test]
    fn a_queue_over_the_limit_warns() {
        assert_eq!(depth(&queue("q", 100), 100).status, Status::Pass);
        assert_eq!(depth(&queue("q", 101), 100).status, Status::Warn);
    }
}
