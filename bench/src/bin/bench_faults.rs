//! `./scripts/bench-faults [EVENTS]` (default 10000)
//!
//! The fault-injection run (see `stoker_it::faultrun`): EVENTS events of the six job kinds
//! through a fresh stack's bus, rules and queues to five stand-in worker processes that reach
//! the emulator through a proxy injecting 10 % errors (503 / throttling), losing 5 % of the
//! answers after forwarding (500 / dropped connection), and 0-20 ms of latency; workers
//! SIGKILLed and restarted 5 times; 2 % of the events published twice; 1 % poisoned (their
//! job fails for good). Prints what became of every event and the time to drain; exits 1 if
//! any was lost or done twice, a poisoned one is not in a DLQ with its reason, or a dead letter
//! has no reason.

use std::time::Duration;

use stoker_it::faultproxy::Faults;
use stoker_it::faultrun::{FaultRun, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let sdk = stoker_it::emulator().await;
    let cfg = FaultRun {
        events,
        faults: Faults {
            error_rate: 0.10,
            unavailable_only: false,
            lost_rate: 0.05,
            lose_first: 0,
            max_latency: Duration::from_millis(20),
            cancel_rate: 0.1,
        },
        kills: 5,
        kill_every: Duration::from_secs(10),
        pause_ms: 50,
        duplicate_share: 0.02,
        poison_share: 0.01,
        deadline: Duration::from_secs(3600),
    };
    let r = run(&sdk, cfg).await?;
    println!("\n## Fault-injection run ({events} events)\n");
    println!("| what | figure |\n|---|---:|");
    println!("| events published (distinct ids) | {} |", r.published);
    for (kind, n) in &r.per_kind {
        println!("| - of kind `{kind}` | {n} |");
    }
    println!("| published a second time (same id) | {} |", r.republished);
    println!(
        "| requests through the proxy | {} |",
        r.forwarded + r.injected_errors
    );
    println!(
        "| errors injected instead of answers (503 / throttling / cancelled transactions) | {} |",
        r.injected_errors
    );
    println!(
        "| - `TransactWriteItems` cancelled with throttling reasons (batched claims and completions) | {} |",
        r.cancelled_transactions
    );
    println!(
        "| answers lost after the work was done (500 / dropped) | {} |",
        r.lost_answers
    );
    for (op, n) in &r.lost_by_operation {
        println!("| - lost answers of `{op}` | {n} |");
    }
    println!("| workers SIGKILLed and restarted | {} |", r.kills);
    println!("| duplicate deliveries caught (replays) | {} |", r.replays);
    println!("| done exactly once | {} |", r.done_once);
    println!("| done twice or more | {} |", r.done_twice_or_more);
    println!("| poisoned (must fail for good) | {} |", r.poisoned);
    println!(
        "| poisoned, in a DLQ with their reason | {} |",
        r.dead_lettered
    );
    println!(
        "| dead letters without a reason | {} |",
        r.dead_without_reason
    );
    println!("| wrongly dead or done | {} |", r.wrongly_dead_or_done);
    println!("| lost | {} |", r.lost);
    println!("| time to drain | {:.1} s |", r.drain_seconds);
    for reason in &r.dead_reasons {
        println!("dead letter: {reason}");
    }
    anyhow::ensure!(
        r.clean(),
        "events lost, done twice, wrongly dead-lettered or without a reason"
    );
    Ok(())
}
