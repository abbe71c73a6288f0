//! A long-poll runtime running in the test process with every request it makes counted, and the
//! events it is fed: for the tests that measure calls per event (`kit_poll`, `kit_optimistic`).

use std::sync::Arc;

use serde_json::Value;
use stoker_kit::calls::CallCount;
use stoker_kit::poll::PollSummary;
use stoker_kit::{Handler, WorkerConfig, runtime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::kit::{KitEnv, test_event};

/// A poller of `handler` over a [`KitEnv`]'s queue; every request of its runtime is counted.
#[derive(Debug)]
pub struct CountedPoller {
    /// The runtime's requests, per service.
    pub count: Arc<CallCount>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<PollSummary>,
}

impl CountedPoller {
    /// Starts polling.
    pub async fn start<H: Handler>(env: &KitEnv, handler: H, cfg: WorkerConfig) -> Self {
        let count = Arc::new(CallCount::default());
        let rt = Arc::new(runtime(handler, &env.counted_sdk(&count).await, cfg));
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(stoker_kit::poll::run(rt, async move {
            let _ = rx.await;
        }));
        CountedPoller { count, stop, task }
    }

    /// Stops it (it drains: every commit and delete sent) and says what it received.
    pub async fn stop(self) -> PollSummary {
        let _ = self.stop.send(());
        self.task.await.expect("poller task")
    }
}

impl KitEnv {
    /// Sends `n` test events (`<prefix><i>`, asking the test worker for `behaviour`), one
    /// message each; returns their ids and bodies.
    pub async fn send_events(
        &self,
        prefix: &str,
        n: usize,
        behaviour: Value,
    ) -> Vec<(String, String)> {
        let events: Vec<(String, String)> = (0..n)
            .map(|i| test_event(&format!("{prefix}{i}"), behaviour.clone()))
            .collect();
        for (_, body) in &events {
            self.send(body, None).await.expect("send");
        }
        events
    }

    /// Whether the test worker's effect of every one of `events` is there, once.
    pub async fn all_done(&self, events: &[(String, String)]) -> bool {
        for (id, _) in events {
            if self.effects(id).await.unwrap_or(0) != 1 {
                return false;
            }
        }
        true
    }
}
