//! The ops table's items as serde types, mapped to and from DynamoDB attributes by
//! `serde_dynamo`.
//!
//! The layout is a contract: `stoker status`, the tests and ad-hoc scans read these attributes
//! by name, so the tests below pin every attribute's name and type (S or N).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::items::to_item;
use super::{RunOutcome, RunRecord};
use crate::error::JobError;

pub(super) use super::items::Item;

/// How long run records are kept.
const RUN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a completed claim answers replays.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Stored failure messages are cut to this many characters.
const MAX_ERROR_CHARS: usize = 2000;
/// Stored summaries are cut to this many characters.
const MAX_SUMMARY_CHARS: usize = 500;

/// A run record as stored: `pk = RUN#<worker>#<event id>`, `sk = <finished at>#<run id>`,
/// indexed by `gsi1pk = RUNS#<worker>`, `gsi1sk = sk`; `expires_at` (N, epoch seconds) is the
/// table's TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct RunItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    worker: String,
    event_id: String,
    #[serde(default)]
    kind: String,
    outcome: RunOutcome,
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    receive_count: u32,
    #[serde(default)]
    duration_ms: u64,
    #[serde(serialize_with = "offset_rfc3339")]
    started_at: DateTime<Utc>,
    #[serde(serialize_with = "offset_rfc3339")]
    finished_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default)]
    requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost: Option<crate::cost::JobCost>,
    expires_at: i64,
}

impl RunItem {
    /// The stored form of `run`, under a new run id.
    pub(super) fn new(run: &RunRecord) -> Self {
        Self::with_run_id(run, &uuid::Uuid::now_v7().simple().to_string())
    }

    fn with_run_id(run: &RunRecord, run_id: &str) -> Self {
        // A new field of RunRecord fails to compile in `From<RunItem>` until it is stored.
        let at = run
            .finished_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let cut = |t: &Option<String>, max| t.as_ref().map(|t| t.chars().take(max).collect());
        RunItem {
            pk: format!("RUN#{}#{}", run.worker, run.event_id),
            sk: format!("{at}#{run_id}"),
            gsi1pk: format!("RUNS#{}", run.worker),
            gsi1sk: format!("{at}#{run_id}"),
            worker: run.worker.clone(),
            event_id: run.event_id.clone(),
            kind: run.kind.clone(),
            outcome: run.outcome,
            attempts: run.attempts,
            receive_count: run.receive_count,
            duration_ms: run.duration_ms,
            started_at: run.started_at,
            finished_at: run.finished_at,
            error_code: run.error_code.clone(),
            error: cut(&run.error, MAX_ERROR_CHARS),
            requested_by: run.requested_by.clone(),
            summary: cut(&run.summary, MAX_SUMMARY_CHARS),
            cost: run.cost.clone(),
            expires_at: epoch_s(run.finished_at, RUN_TTL),
        }
    }

    /// The item's attributes.
    pub(super) fn to_item(&self) -> Result<Item, JobError> {
        to_item(self, "run record")
    }

    /// The run record of a stored item; `None` for an item that is not one.
    pub(super) fn record(item: Item) -> Option<RunRecord> {
        serde_dynamo::from_item::<_, RunItem>(item)
            .ok()
            .map(RunRecord::from)
    }
}

impl From<RunItem> for RunRecord {
    fn from(item: RunItem) -> Self {
        RunRecord {
            worker: item.worker,
            event_id: item.event_id,
            kind: item.kind,
            outcome: item.outcome,
            attempts: item.attempts,
            receive_count: item.receive_count,
            duration_ms: item.duration_ms,
            started_at: item.started_at,
            finished_at: item.finished_at,
            error_code: item.error_code,
            error: item.error,
            requested_by: item.requested_by,
            summary: item.summary,
            cost: item.cost,
        }
    }
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum ClaimStatus {
    /// `INPROGRESS`: a worker holds the claim until `claim_expires_ms`.
    InProgress,
    /// `COMPLETED`: the job ran; `outcome` answers replays.
    Completed,
}

impl ClaimStatus {
    /// The status as an expression attribute value.
    pub(super) fn value(self) -> AttributeValue {
        match self {
            ClaimStatus::InProgress => AttributeValue::S("INPROGRESS".into()),
            ClaimStatus::Completed => AttributeValue::S("COMPLETED".into()),
        }
    }
}

/// An idempotency claim as stored: `pk = IDEM#<worker>#<key>`, `sk = IDEM`; `expires_at` (N,
/// epoch seconds) is the table's TTL. The claim's PutItem writes it without `outcome` and
/// `completed_at`; the completion sets `status`, `outcome` and `completed_at` in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ClaimItem {
    pk: String,
    sk: String,
    pub(super) status: ClaimStatus,
    pub(super) claim_id: String,
    /// When the holder's claim runs out, in epoch milliseconds (N).
    pub(super) claim_expires_ms: i64,
    pub(super) payload_hash: String,
    event_id: String,
    expires_at: i64,
    /// The handler's report digest, as JSON text (S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) outcome: Option<String>,
    /// When the job completed, RFC 3339 (S).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completed_at: Option<String>,
}

impl ClaimItem {
    /// The claim's partition key.
    pub(super) fn pk(worker: &str, key: &str) -> String {
        format!("IDEM#{worker}#{key}")
    }

    /// The claim's sort key.
    pub(super) const SK: &'static str = "IDEM";

    /// A new claim held by `claim_id` until `claim_expires_ms`, written at `now`.
    pub(super) fn in_progress(
        worker: &str,
        key: &str,
        claim_id: &str,
        claim_expires_ms: i64,
        payload_hash: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Self {
        ClaimItem {
            pk: Self::pk(worker, key),
            sk: Self::SK.to_owned(),
            status: ClaimStatus::InProgress,
            claim_id: claim_id.to_owned(),
            claim_expires_ms,
            payload_hash: payload_hash.to_owned(),
            event_id: event_id.to_owned(),
            expires_at: epoch_s(now, IDEMPOTENCY_TTL),
            outcome: None,
            completed_at: None,
        }
    }

    /// A job committed without a claim (optimistic mode): COMPLETED at once with its outcome.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn completed(
        worker: &str,
        key: &str,
        claim_id: &str,
        payload_hash: &str,
        event_id: &str,
        outcome: String,
        now: DateTime<Utc>,
    ) -> Self {
        let mut c = Self::in_progress(worker, key, claim_id, 0, payload_hash, event_id, now);
        c.status = ClaimStatus::Completed;
        c.outcome = Some(outcome);
        c.completed_at = Some(rfc3339(now));
        c
    }

    /// The item's attributes.
    pub(super) fn to_item(&self) -> Result<Item, JobError> {
        to_item(self, "claim")
    }

    /// The claim in a stored item; `None` when there is none (no item, or an empty one).
    pub(super) fn from_stored(item: Option<Item>) -> Result<Option<ClaimItem>, JobError> {
        let Some(item) = item.filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let pk = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        serde_dynamo::from_item(item).map(Some).map_err(|e| {
            JobError::retryable(format!(
                "the ops table's claim item {pk:?} is not a claim ({e}); delete it to let the job run"
            ))
        })
    }
}

/// A time as `DateTime::to_rfc3339` writes it (`+00:00`, where chrono's serde form has `Z`):
/// the run records' `started_at` and `finished_at`, and the claim's `completed_at`.
pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn offset_rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn epoch_s(t: DateTime<Utc>, plus: Duration) -> i64 {
    t.timestamp() + plus.as_secs() as i64
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }
    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_owned())
    }
    fn m(pairs: &[(&str, AttributeValue)]) -> AttributeValue {
        AttributeValue::M(item(pairs))
    }
    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().to_utc()
    }
    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }
    /// Sorted by name, for a readable diff when a layout changes.
    fn sorted(item: &Item) -> BTreeMap<&str, &AttributeValue> {
        item.iter().map(|(k, v)| (k.as_str(), v)).collect()
    }

    fn run() -> RunRecord {
        RunRecord {
            worker: "rollup".into(),
            event_id: "e-1".into(),
            kind: "rollup.requested".into(),
            outcome: RunOutcome::FailedRetryable,
            attempts: 3,
            receive_count: 2,
            duration_ms: 1234,
            started_at: at("2026-05-01T12:00:00.123456789Z"),
            finished_at: at("2026-05-01T12:00:01.5Z"),
            error_code: Some("transient".into()),
            error: Some("timed out".into()),
            requested_by: "cli:me".into(),
            summary: Some("3 rows".into()),
            cost: Some({
                let mut c = crate::cost::JobCost::default();
                c.add("dynamodb", 2.0, 0.5);
                c
            }),
        }
    }

    // The layout the hand-written attribute code wrote before serde_dynamo (checked against
    // it): times with `+00:00`, counts and the TTL as N, the outcome as its serde name.
    #[test]
    fn a_run_record_is_stored_with_the_same_attributes_and_types() {
        let stored = RunItem::with_run_id(&run(), "r1").to_item().unwrap();
        let key = "2026-05-01T12:00:01.500Z#r1";
        let expected = item(&[
            ("pk", s("RUN#rollup#e-1")),
            ("sk", s(key)),
            ("gsi1pk", s("RUNS#rollup")),
            ("gsi1sk", s(key)),
            ("worker", s("rollup")),
            ("event_id", s("e-1")),
            ("kind", s("rollup.requested")),
            ("outcome", s("failed_retryable")),
            ("attempts", n("3")),
            ("receive_count", n("2")),
            ("duration_ms", n("1234")),
            ("started_at", s("2026-05-01T12:00:00.123456789+00:00")),
            ("finished_at", s("2026-05-01T12:00:01.500+00:00")),
            ("error_code", s("transient")),
            ("error", s("timed out")),
            ("requested_by", s("cli:me")),
            ("summary", s("3 rows")),
            (
                "cost",
                m(&[
                    ("usd", n("0.5")),
                    ("calls", n("2")),
                    (
                        "by_service",
                        m(&[("dynamodb", m(&[("calls", n("2")), ("usd", n("0.5"))]))]),
                    ),
                ]),
            ),
            ("expires_at", n("1780228801")),
        ]);
        assert_eq!(sorted(&stored), sorted(&expected));
        assert_eq!(RunItem::record(stored), Some(run()));
    }

    #[test]
    fn a_run_record_stores_no_absent_fields_and_cuts_long_texts() {
        let mut r = run();
        r.error_code = None;
        r.summary = None;
        r.cost = None;
        r.error = Some("x".repeat(MAX_ERROR_CHARS + 10));
        let stored = RunItem::new(&r).to_item().unwrap();
        assert!(!stored.contains_key("error_code") && !stored.contains_key("summary"));
        assert!(!stored.contains_key("cost"));
        assert_eq!(
            stored["error"].as_s().unwrap().chars().count(),
            MAX_ERROR_CHARS
        );
        let back = RunItem::record(stored).unwrap();
        assert_eq!((back.error_code, back.summary), (None, None));
    }

    #[test]
    fn an_item_that_is_not_a_run_is_skipped() {
        let claim = item(&[("pk", s("IDEM#w#k")), ("sk", s("IDEM"))]);
        assert_eq!(RunItem::record(claim), None);
    }

    #[test]
    fn a_claim_is_stored_with_the_same_attributes_and_types() {
        let now = at("2026-05-01T12:00:00Z");
        let claim =
            ClaimItem::in_progress("warmup", "k-1", "c-1", 1_777_636_860_000, "h", "e-1", now);
        let stored = claim.to_item().unwrap();
        let expected = item(&[
            ("pk", s("IDEM#warmup#k-1")),
            ("sk", s("IDEM")),
            ("status", s("INPROGRESS")),
            ("claim_id", s("c-1")),
            ("claim_expires_ms", n("1777636860000")),
            ("payload_hash", s("h")),
            ("event_id", s("e-1")),
            ("expires_at", n("1778241600")),
        ]);
        assert_eq!(sorted(&stored), sorted(&expected));
        assert_eq!(ClaimItem::from_stored(Some(stored)).unwrap(), Some(claim));
    }

    #[test]
    fn a_completed_claim_reads_back_with_its_outcome() {
        // As the completion's UpdateItem leaves it.
        let mut stored = ClaimItem::in_progress("w", "k", "c-1", 1, "h", "e-1", Utc::now())
            .to_item()
            .unwrap();
        stored.insert("status".into(), ClaimStatus::Completed.value());
        stored.insert("outcome".into(), s("{\"n\":1}"));
        stored.insert("completed_at".into(), s(&rfc3339(Utc::now())));
        let claim = ClaimItem::from_stored(Some(stored.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(claim.status, ClaimStatus::Completed);
        assert_eq!(claim.outcome.as_deref(), Some("{\"n\":1}"));
        assert_eq!(claim.to_item().unwrap(), stored);
        assert_eq!(
            ClaimStatus::InProgress.value(),
            serde_dynamo::to_attribute_value(ClaimStatus::InProgress).unwrap()
        );
    }

    #[test]
    fn no_claim_and_a_broken_claim() {
        assert_eq!(ClaimItem::from_stored(None).unwrap(), None);
        assert_eq!(ClaimItem::from_stored(Some(Item::new())).unwrap(), None);
        let broken = item(&[("pk", s("IDEM#w#k")), ("status", s("INPROGRESS"))]);
        let err = ClaimItem::from_stored(Some(broken)).unwrap_err();
        assert!(err.to_string().contains("IDEM#w#k"), "{err}");
    }
}
