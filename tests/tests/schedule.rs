//! Every worker's schedule rule delivers its typed constant input to its queue.
//! (A test-only stack with every schedule at `rate(1 minute)`; LocalStack fires after ~60 s.)

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use stoker_events::{Kind, SOURCE_SCHEDULE, Worker};
use stoker_it::{Deadline, emulator, receive_all, with_stack};

#[tokio::test]
async fn schedules_deliver_their_typed_input_within_a_deadline() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    let every_minute = "rate(1 minute)";
    let params = [
        ("WarmupSchedule", every_minute),
        ("CacheWarmSchedule", every_minute),
        ("BackupSchedule", every_minute),
        ("RollupSchedule", every_minute),
        ("OptimizeSchedule", every_minute),
        ("ReadinessSchedule", every_minute),
        // Schedules without targets are left out of the stack.
        (
            "WarmupTargetsJson",
            r#"[{"function": "it-sched-fn", "concurrency": 2}]"#,
        ),
        (
            "CacheTargetsJson",
            r#"[{"type": "http", "url": "https://a.example.com/"}]"#,
        ),
    ];
    with_stack(&sdk, "sched", &params, move |stack| async move {
        let sqs = aws_sdk_sqs::Client::new(&sdk2);
        let mut got: HashMap<Worker, Value> = HashMap::new();
        let deadline = Deadline::after(Duration::from_secs(150), Duration::from_secs(1));
        while got.len() < Worker::ALL.len() && deadline.tick().await {
            for w in Worker::ALL {
                if got.contains_key(&w) {
                    continue;
                }
                let url = stack.output(&format!("{}QueueUrl", w.stem()));
                if let Some(m) = receive_all(&sqs, url, 0).await?.first() {
                    got.insert(w, serde_json::from_str(m.body().unwrap_or_default())?);
                }
            }
        }
        assert!(
            got.len() == Worker::ALL.len(),
            "schedules delivered only to {:?} within 150 s",
            got.keys()
        );
        for (w, input) in &got {
            let kind: Kind = input["kind"].as_str().unwrap_or_default().parse()?;
            assert_eq!(kind.worker(), Some(*w), "{w} got {input}");
            assert_eq!(input["source"], SOURCE_SCHEDULE, "{input}");
            assert_eq!(input["version"], 1, "{input}");
            assert!(input["payload"].is_object(), "{input}");
        }
        Ok(())
    })
    .await;
}
