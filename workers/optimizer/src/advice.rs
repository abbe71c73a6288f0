//! The optimizer's last recommendation for a function, kept in the ops table
//! (`pk = OPTIMIZER#<function>`, `sk = ADVICE`) whether or not it was applied, so that
//! readiness can tell a function that runs with other memory or timeout than recommended.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use stoker_kit::JobError;
use stoker_kit::classify::sdk_error;
use stoker_kit::ops::items;

use crate::apply::pk;
use crate::recommend::Finding;
use crate::report::FunctionReport;

const SK: &str = "ADVICE";
/// Advice older than this is not kept (the item expires).
const KEEP_DAYS: i64 = 30;

/// What a review recommended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    pub finding: Finding,
    /// The memory and timeout the review found, and those it recommends (none: keep them).
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub recommended_memory_mb: Option<u32>,
    pub recommended_timeout_s: Option<u32>,
    pub estimated_monthly_savings_usd: Option<f64>,
    /// When (RFC 3339).
    pub at: String,
}

impl Advice {
    /// The advice of a review (none for a function that could not be reviewed).
    pub fn of(r: &FunctionReport) -> Option<Advice> {
        (r.finding != Finding::Unavailable).then(|| Advice {
            finding: r.finding,
            memory_mb: r.current_memory_mb,
            timeout_s: r.current_timeout_s,
            recommended_memory_mb: r.recommended_memory_mb,
            recommended_timeout_s: r.recommended_timeout_s,
            estimated_monthly_savings_usd: r.estimated_monthly_savings_usd,
            at: Utc::now().to_rfc3339(),
        })
    }

    /// The memory and timeout it recommends running with.
    pub fn wanted(&self) -> (u32, u32) {
        (
            self.recommended_memory_mb.unwrap_or(self.memory_mb),
            self.recommended_timeout_s.unwrap_or(self.timeout_s),
        )
    }
}

/// Records `advice` as `function`'s last.
pub async fn record(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    function: &str,
    advice: &Advice,
) -> Result<(), JobError> {
    let item = AdviceItem {
        pk: pk(function),
        sk: SK.into(),
        advice: advice.clone(),
        expires_at: Utc::now().timestamp() + KEEP_DAYS * 86_400,
    };
    items::put(ddb, table, &item, "optimizer advice").await
}

/// `function`'s last recorded advice.
pub async fn last(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    function: &str,
) -> Result<Option<Advice>, JobError> {
    let out = ddb
        .get_item()
        .table_name(table)
        .set_key(Some(items::key(pk(function), SK)))
        .send()
        .await
        .map_err(|e| sdk_error("GetItem (optimizer advice)", e))?;
    out.item
        .map(|i| items::from_item::<AdviceItem>(i, "optimizer advice").map(|a| a.advice))
        .transpose()
}

/// The advice as stored: the [`Advice`] as JSON text in `advice`, kept [`KEEP_DAYS`].
#[derive(Debug, Serialize, Deserialize)]
struct AdviceItem {
    pk: String,
    sk: String,
    #[serde(with = "items::json_text")]
    advice: Advice,
    #[serde(default)]
    expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_wants_the_recommendation_or_what_runs() {
        let a = Advice {
            finding: Finding::NotOptimized,
            memory_mb: 1024,
            timeout_s: 30,
            recommended_memory_mb: Some(512),
            recommended_timeout_s: None,
            estimated_monthly_savings_usd: Some(3.5),
            at: "2026-12-01T00:00:00Z".into(),
        };
        assert_eq!(a.wanted(), (512, 30));
    }
}
