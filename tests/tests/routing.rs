//! An event of each kind put on the bus arrives on its own worker's queue and on no other;
//! outcome events reach no worker queue; job kinds from a worker's source reach none.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Value, json};
use stoker_events::{Kind, SOURCE_OPERATOR, SOURCE_SCHEDULE, SOURCE_WORKER, Worker};
use stoker_it::{Deadline, emulator, receive_all, with_stack};

#[tokio::test]
async fn each_kind_reaches_its_own_queue_and_no_other() {
    let sdk = emulator().await;
    let sdk2 = sdk.clone();
    with_stack(
        &sdk,
        "route",
        &[("SchedulesState", "DISABLED")],
        move |stack| async move {
            let eb = aws_sdk_eventbridge::Client::new(&sdk2);
            let sqs = aws_sdk_sqs::Client::new(&sdk2);
            let marker = |k: Kind| format!("{}-{}", stack.name, k.detail_type());

            // One event of every kind, job kinds and outcome kinds alike.
            for kind in Kind::ALL {
                let out = eb
                    .put_events()
                    .entries(
                        PutEventsRequestEntry::builder()
                            .event_bus_name(stack.output("BusName"))
                            .source(SOURCE_OPERATOR)
                            .detail_type(kind.detail_type())
                            .detail(json!({ "marker": marker(kind) }).to_string())
                            .build(),
                    )
                    .send()
                    .await?;
                assert_eq!(out.failed_entry_count(), 0, "PutEvents refused {kind}");
            }
            // The same job kinds from a worker's source (or a schedule's, which never comes
            // through the bus): no rule may route them, so no worker can request a job.
            for kind in Kind::ALL.into_iter().filter(|k| k.worker().is_some()) {
                for source in [SOURCE_WORKER, SOURCE_SCHEDULE] {
                    let out = eb
                        .put_events()
                        .entries(
                            PutEventsRequestEntry::builder()
                                .event_bus_name(stack.output("BusName"))
                                .source(source)
                                .detail_type(kind.detail_type())
                                .detail(
                                    json!({ "marker": format!("{source}-{}", marker(kind)) })
                                        .to_string(),
                                )
                                .build(),
                        )
                        .send()
                        .await?;
                    assert_eq!(out.failed_entry_count(), 0, "PutEvents refused {kind}");
                }
            }

            // What each queue must get: the markers of the kinds its worker owns.
            let expected: HashMap<Worker, BTreeSet<String>> = Worker::ALL
                .into_iter()
                .map(|w| (w, w.kinds().map(marker).collect()))
                .collect();
            let mut got: HashMap<Worker, BTreeSet<String>> = HashMap::new();
            let deadline = Deadline::after(Duration::from_secs(30), Duration::from_millis(100));
            let mut all_arrived = false;
            while !all_arrived && deadline.tick().await {
                for w in Worker::ALL {
                    let url = stack.output(&format!("{}QueueUrl", w.stem()));
                    for m in receive_all(&sqs, url, 0).await? {
                        got.entry(w).or_default().insert(marker_of(&m));
                    }
                }
                all_arrived = Worker::ALL
                    .iter()
                    .all(|w| got.get(w).is_some_and(|g| expected[w].is_subset(g)));
            }
            assert!(
                all_arrived,
                "not every event arrived within 30 s: got {got:?}"
            );

            // Stragglers: anything misrouted was put at the same moment; give it one long poll.
            for w in Worker::ALL {
                let url = stack.output(&format!("{}QueueUrl", w.stem()));
                for m in receive_all(&sqs, url, 1).await? {
                    got.entry(w).or_default().insert(marker_of(&m));
                }
            }
            for w in Worker::ALL {
                assert_eq!(
                    got[&w], expected[&w],
                    "queue of worker {w} got the wrong events"
                );
            }
            Ok(())
        },
    )
    .await;
}

/// The marker inside an EventBridge event delivered to SQS, checking its shape on the way.
fn marker_of(m: &aws_sdk_sqs::types::Message) -> String {
    let event: Value = serde_json::from_str(m.body().unwrap_or_default()).expect("body is JSON");
    assert_eq!(event["source"], SOURCE_OPERATOR, "source kept: {event}");
    let kind: Kind = event["detail-type"]
        .as_str()
        .expect("detail-type")
        .parse()
        .expect("a stoker kind");
    let marker = event["detail"]["marker"]
        .as_str()
        .expect("detail kept")
        .to_owned();
    assert!(
        marker.ends_with(kind.detail_type()),
        "detail-type and detail agree: {event}"
    );
    marker
}
