//! Every payload type round-trips through JSON; every envelope through `decode`.

use proptest::prelude::*;

use crate::arb;
use crate::payload::*;
use crate::{Body, Delivery, Envelope, Payload, decode};

fn round_trips<T: Payload + PartialEq + std::fmt::Debug + Clone>(
    value: T,
) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: T =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, &value);
    Ok(())
}

macro_rules! round_trip_tests {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest! {
            $(
                #[test]
                fn $name(value in any::<$ty>()) {
                    round_trips(value)?;
                }
            )*
        }
    };
}

round_trip_tests! {
    warmup_request: WarmupRequest,
    cache_warm_request: CacheWarmRequest,
    backup_request: BackupRequest,
    measurement_batch: MeasurementBatch,
    rollup_request: RollupRequest,
    optimize_request: OptimizeRequest,
    job_completed: JobCompleted,
    job_failed: JobFailed,
    regression_detected: RegressionDetected,
    optimization_recommended: OptimizationRecommended,
}

proptest! {
    #[test]
    fn envelopes_round_trip_through_decode(
        req in any::<BackupRequest>(),
        id in arb::uuid(),
        time in arb::time(),
        corr in proptest::option::of("[a-z0-9-]{1,20}"),
    ) {
        // Only valid payloads decode; make the generated one valid.
        let mut req = req;
        req.table = format!("t-{}", req.table);
        req.retention.keep_last = req.retention.keep_last % 1000 + 1;
        req.retention.min_keep = 1;
        req.retention.max_age_days = req.retention.max_age_days.map(|d| d % 3650 + 1);
        let mut env = Envelope::new(req.clone(), "stoker.operator", "operator:test");
        env.id = id;
        env.time = time;
        env.correlation_id = corr.clone();
        let event = decode(&serde_json::to_string(&env).map_err(|e| TestCaseError::fail(e.to_string()))?, &Delivery::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(event.meta.id, id);
        prop_assert_eq!(event.meta.time, time);
        prop_assert_eq!(&event.meta.correlation_id, &corr.unwrap_or_else(|| id.to_string()));
        prop_assert_eq!(&event.body, &Body::Backup(req));
        let again = decode(&serde_json::to_string(&event.to_envelope()).unwrap_or_default(), &Delivery::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again.body, event.body);
    }
}
