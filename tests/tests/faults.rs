//! The smoke version of `./scripts/bench-faults` (small counts, correctness not speed): events
//! of every job kind through a fresh stack's routing to stand-in workers behind a fault proxy
//! (10 % errors, 5 % answers lost after the work was done, latency), two SIGKILLs, some events
//! published twice, some poisoned; none may be lost or done twice, every poisoned one must be in
//! a DLQ with its reason, and the claim, the completion, the DLQ send and the delete must each
//! have lost answers.

use std::time::Duration;

use stoker_it::emulator;
use stoker_it::faultproxy::Faults;
use stoker_it::faultrun::{FaultRun, run};

#[tokio::test]
async fn no_event_is_lost_or_done_twice_under_faults_kills_and_duplicates() {
    let sdk = emulator().await;
    let r = run(
        &sdk,
        FaultRun {
            events: 120,
            faults: Faults {
                error_rate: 0.10,
                unavailable_only: false,
                lost_rate: 0.05,
                lose_first: 2,
                max_latency: Duration::from_millis(20),
                cancel_rate: 0.2,
            },
            kills: 2,
            kill_every: Duration::from_secs(3),
            pause_ms: 100,
            duplicate_share: 0.05,
            poison_share: 0.05,
            deadline: Duration::from_secs(300),
        },
    )
    .await
    .expect("the run drains");
    eprintln!("{r:?}");
    assert_eq!(r.published, 120);
    let job_kinds = stoker_events::Kind::ALL
        .iter()
        .filter(|k| k.worker().is_some())
        .count();
    assert_eq!(
        r.per_kind.len(),
        job_kinds,
        "every job kind: {:?}",
        r.per_kind
    );
    assert!(r.injected_errors > 0, "the proxy injected errors");
    assert!(
        r.cancelled_transactions > 0,
        "batched claims and completions were cancelled for throttling: {r:?}"
    );
    assert_eq!(r.kills, 2);
    assert_eq!((r.lost, r.done_twice_or_more), (0, 0), "{r:?}");
    assert_eq!(
        r.dead_without_reason, 0,
        "every dead letter carries its reason: {r:?}"
    );
    assert_eq!(r.wrongly_dead_or_done, 0, "{r:?}");
    assert_eq!(
        r.dead_lettered, r.poisoned,
        "every poisoned event, with its reason: {r:?}"
    );
    assert!(r.poisoned >= 5, "{r:?}");
    assert!(r.clean(), "{r:?}");
    for op in [
        "PutItem",
        "TransactWriteItems",
        "SendMessage",
        "DeleteMessageBatch",
    ] {
        assert!(
            r.lost_by_operation.keys().any(|k| k.ends_with(op)),
            "no answer of {op} was lost: {:?}",
            r.lost_by_operation
        );
    }
    assert!(
        r.replays >= 1,
        "the republished events were caught as replays: {r:?}"
    );
}
