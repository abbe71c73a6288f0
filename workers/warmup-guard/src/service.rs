//! The tower layer and service.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::instance::Instance;
use crate::ping::{Detected, MARKER, MAX_HOLD_MS, Reply, detect};

/// Wraps `handler` so that warm-up pings are answered without running it.
pub fn guard<S, A>(handler: S) -> WarmupGuard<S, A>
where
    S: Service<LambdaEvent<A>>,
{
    WarmupGuardLayer::<A>::new().layer(handler)
}

/// The layer form of [`guard`], for `tower::ServiceBuilder` stacks; `A` is the handler's
/// event type (`ServiceBuilder::new().layer(WarmupGuardLayer::<MyEvent>::new())`).
#[derive(Debug)]
pub struct WarmupGuardLayer<A = Value> {
    instance: Instance,
    _event: PhantomData<fn(A)>,
}

impl<A> WarmupGuardLayer<A> {
    pub fn new() -> Self {
        WarmupGuardLayer {
            instance: Instance::default(),
            _event: PhantomData,
        }
    }
}

impl<A> Default for WarmupGuardLayer<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> Clone for WarmupGuardLayer<A> {
    fn clone(&self) -> Self {
        WarmupGuardLayer {
            instance: self.instance.clone(),
            _event: PhantomData,
        }
    }
}

impl<S, A> Layer<S> for WarmupGuardLayer<A> {
    type Service = WarmupGuard<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        WarmupGuard {
            inner,
            instance: self.instance.clone(),
            _event: PhantomData,
        }
    }
}

/// A handler behind the warm-up guard. It takes any JSON event: pings are answered here,
/// everything else is deserialized into `A` and handed to the handler.
#[derive(Debug)]
pub struct WarmupGuard<S, A> {
    inner: S,
    instance: Instance,
    _event: PhantomData<fn(A)>,
}

impl<S: Clone, A> Clone for WarmupGuard<S, A> {
    fn clone(&self) -> Self {
        WarmupGuard {
            inner: self.inner.clone(),
            instance: self.instance.clone(),
            _event: PhantomData,
        }
    }
}

/// The guarded function's response: the guard's reply to a ping, or the handler's own.
#[derive(Debug)]
pub enum Guarded<R> {
    Warm(Reply),
    Handler(R),
}

impl<R: Serialize> Serialize for Guarded<R> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        match self {
            Guarded::Warm(reply) => {
                let mut m = std::collections::BTreeMap::new();
                m.insert(MARKER, reply);
                m.serialize(s)
            }
            Guarded::Handler(r) => r.serialize(s),
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, A, R> Service<LambdaEvent<Value>> for WarmupGuard<S, A>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Future: Send + 'static,
    S::Error: Into<Diagnostic>,
    A: DeserializeOwned,
    R: Send + 'static,
{
    type Response = Guarded<R>;
    type Error = Diagnostic;
    type Future = BoxFuture<Result<Guarded<R>, Diagnostic>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Diagnostic>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<Value>) -> Self::Future {
        let cold = self.instance.first_invocation();
        let (hold, correlation_id, index) = match detect(&event.payload) {
            Detected::Stoker(p) => (p.hold_open_ms, Some(p.correlation_id), Some(p.index)),
            Detected::Plugin => (0, None, None),
            Detected::NotAPing => return self.pass_through(event),
        };
        let reply = Reply {
            instance_id: self.instance.id().to_owned(),
            cold,
            uptime_ms: self.instance.uptime().as_millis() as u64,
            version: self.instance.version().map(str::to_owned),
            correlation_id,
            index,
        };
        let hold =
            Duration::from_millis(hold.min(MAX_HOLD_MS)).min(time_left(event.context.deadline));
        Box::pin(async move {
            // Even a zero sleep waits for the timer's next tick (about 1 ms): skip it.
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            Ok(Guarded::Warm(reply))
        })
    }
}

impl<S, A, R> WarmupGuard<S, A>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Future: Send + 'static,
    S::Error: Into<Diagnostic>,
    A: DeserializeOwned,
    R: Send + 'static,
{
    fn pass_through(
        &mut self,
        event: LambdaEvent<Value>,
    ) -> BoxFuture<Result<Guarded<R>, Diagnostic>> {
        let payload = match serde_json::from_value::<A>(event.payload) {
            Ok(p) => p,
            Err(e) => {
                let d = Diagnostic {
                    error_type: "Runtime.UnmarshalError".into(),
                    error_message: format!("the event does not match the handler's type: {e}"),
                };
                return Box::pin(async move { Err(d) });
            }
        };
        let fut = self.inner.call(LambdaEvent::new(payload, event.context));
        Box::pin(async move { fut.await.map(Guarded::Handler).map_err(Into::into) })
    }
}

/// Time left before the invocation's deadline (epoch ms), less a margin to answer in.
fn time_left(deadline_ms: u64) -> Duration {
    if deadline_ms == 0 {
        return Duration::MAX;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms.saturating_sub(now).saturating_sub(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ping::Ping;
    use lambda_runtime::{Context as LambdaContext, Error, service_fn};
    use serde_json::json;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, LambdaContext::default())
    }

    #[derive(serde::Deserialize)]
    struct Order {
        id: u32,
    }

    fn counted() -> (
        Arc<AtomicU32>,
        impl Service<LambdaEvent<Order>, Response = Value, Error = Error, Future: Send + 'static>
        + Clone,
    ) {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let svc = service_fn(move |e: LambdaEvent<Order>| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Error>(json!({ "handled": e.payload.id }))
            }
        });
        (calls, svc)
    }

    fn to_json<R: Serialize>(r: &Guarded<R>) -> Value {
        serde_json::to_value(r).unwrap()
    }

    #[tokio::test]
    async fn a_ping_is_answered_without_the_handler_and_only_the_first_is_cold() {
        let (calls, svc) = counted();
        let mut g = guard(svc);
        let ping = Ping {
            correlation_id: "c1".into(),
            index: 2,
            concurrency: 3,
            hold_open_ms: 0,
        };
        let first = to_json(&g.call(event(ping.payload(None))).await.unwrap());
        let second = to_json(&g.call(event(ping.payload(None))).await.unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let (a, b) = (
            Reply::from_response(&first).unwrap(),
            Reply::from_response(&second).unwrap(),
        );
        assert!(a.cold && !b.cold);
        assert_eq!(a.instance_id, b.instance_id);
        assert_eq!(a.correlation_id.as_deref(), Some("c1"));
        assert_eq!(a.index, Some(2));
    }

    #[tokio::test]
    async fn other_events_run_the_handler_with_its_own_type() {
        let (calls, svc) = counted();
        let mut g = guard(svc);
        let out = to_json(&g.call(event(json!({"id": 7}))).await.unwrap());
        assert_eq!(out, json!({"handled": 7}));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The handler's call made the instance warm: a later ping says so.
        let ping = g
            .call(event(json!({"source": "serverless-plugin-warmup"})))
            .await
            .unwrap();
        assert!(!Reply::from_response(&to_json(&ping)).unwrap().cold);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_event_of_the_wrong_shape_is_an_unmarshal_error_not_a_panic() {
        let (calls, svc) = counted();
        let err = guard(svc)
            .call(event(json!({"nope": true})))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, "Runtime.UnmarshalError");
        assert!(err.error_message.contains("id"), "{}", err.error_message);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_ping_is_held_open_for_the_requested_delay() {
        let (_, svc) = counted();
        let mut g = guard(svc);
        let ping = Ping {
            correlation_id: "c".into(),
            index: 0,
            concurrency: 1,
            hold_open_ms: 250,
        };
        let started = tokio::time::Instant::now();
        g.call(event(ping.payload(None))).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(250));
    }

    #[test]
    fn no_deadline_means_no_cap_and_a_past_deadline_means_none_left() {
        assert_eq!(time_left(0), Duration::MAX);
        assert_eq!(time_left(1), Duration::ZERO);
    }
}
