//! What a cache-warming job reports.

use serde::Serialize;
use stoker_kit::JobError;

/// One target's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TargetReport {
    /// `targets[i]`
    pub target: String,
    /// `http` or `redis`
    pub kind: &'static str,
    /// The URL, or the key (pattern).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub warmed: u32,
    pub bytes: u64,
    pub latency_ms: u64,
    pub skipped: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip_reasons: Vec<String>,
    pub failed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// How long each key's value took to load from its source (ms): what a user's miss costs.
    #[serde(skip)]
    pub load_ms: Vec<u64>,
}

/// The first failure of a target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub code: String,
    pub retryable: bool,
    pub message: String,
}

impl TargetReport {
    pub fn fail(&mut self, e: &JobError) {
        self.failed += 1;
        if self.error.is_none() {
            self.error = Some(Failure {
                code: e.code().to_owned(),
                retryable: !e.is_permanent(),
                message: e.to_string(),
            });
        }
    }

    pub fn skip(&mut self, reason: String) {
        self.skipped += 1;
        if self.skip_reasons.len() < 5 {
            self.skip_reasons.push(reason);
        }
    }
}

/// The whole job.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub targets: Vec<TargetReport>,
    pub keys_warmed: u32,
    pub urls_warmed: u32,
    pub bytes: u64,
    pub skipped: u32,
    pub failed: u32,
    pub redis_round_trips: usize,
    /// The patterns invalidated before warming, in the request's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalidated: Vec<crate::invalidate::InvalidationReport>,
    /// Keys deleted by the invalidations.
    pub keys_invalidated: u32,
    /// Nothing was changed: the invalidations only listed their keys, nothing was warmed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Redis' own keyspace hit rate (hits / (hits + misses), %) before and after the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_rate_before: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_rate_after: Option<f64>,
    /// The hit rate of the users' lookups since the last run (%): none on the first run, after a
    /// restart of the server, or when nobody looked anything up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_rate_window: Option<f64>,
    /// That window: lookups and its length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_lookups: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_s: Option<u64>,
    /// What a miss costs on the keys warmed: the time to load a value from its source, median
    /// and slowest (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miss_latency_p50_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miss_latency_max_ms: Option<u64>,
    pub duration_ms: u64,
}

impl Report {
    /// The miss latency figures from the targets' load times.
    pub fn miss_latency(&mut self) {
        let mut all: Vec<u64> = self
            .targets
            .iter()
            .flat_map(|t| t.load_ms.iter().copied())
            .collect();
        if all.is_empty() {
            return;
        }
        all.sort_unstable();
        self.miss_latency_p50_ms = Some(all[(all.len() - 1) / 2]);
        self.miss_latency_max_ms = all.last().copied();
    }

    pub fn total(&mut self) {
        let t = &self.targets;
        self.keys_warmed = t
            .iter()
            .filter(|t| t.kind == "redis")
            .map(|t| t.warmed)
            .sum();
        self.urls_warmed = t
            .iter()
            .filter(|t| t.kind == "http")
            .map(|t| t.warmed)
            .sum();
        self.bytes = t.iter().map(|t| t.bytes).sum();
        self.skipped = t.iter().map(|t| t.skipped).sum();
        self.failed = t.iter().map(|t| t.failed).sum();
    }
}

impl stoker_kit::Summary for Report {
    /// Too large for the run record (a dry run listing many keys, many targets): the listed
    /// keys go first, then the targets that warmed without failing; every count stays.
    fn fitted(mut self, max_bytes: usize) -> Self {
        let size = |r: &Report| serde_json::to_vec(r).map_or(0, |v| v.len());
        for i in 0..self.invalidated.len() {
            if size(&self) <= max_bytes {
                break;
            }
            self.invalidated[i].keys.clear();
        }
        if size(&self) > max_bytes {
            self.targets.retain(|t| t.error.is_some() || t.skipped > 0);
        }
        self
    }

    fn summary(&self) -> String {
        use stoker_kit::summary::two_places;
        let hit_rate = match self.hit_rate_after {
            Some(after) => format!(
                "Redis hit rate {} % -> {} %",
                two_places(self.hit_rate_before),
                two_places(Some(after))
            ),
            None => "no Redis lookups yet (no hit rate)".to_owned(),
        };
        let matched: u32 = self.invalidated.iter().map(|i| i.matched).sum();
        let more = if self.invalidated.iter().any(|i| i.more) {
            ", more matched than max_keys"
        } else {
            ""
        };
        if self.dry_run {
            return format!(
                "dry run: {matched} key(s) would be invalidated by {} pattern(s){more}; nothing changed",
                self.invalidated.len()
            );
        }
        let invalidated = if self.invalidated.is_empty() {
            String::new()
        } else {
            format!(
                "{} key(s) invalidated by {} pattern(s){more}; ",
                self.keys_invalidated,
                self.invalidated.len()
            )
        };
        let window = match (self.hit_rate_window, self.window_lookups, self.window_s) {
            (Some(rate), Some(n), Some(s)) => format!(
                "; since the last run {} % of {n} lookup(s) in {s} s hit",
                two_places(Some(rate))
            ),
            _ => String::new(),
        };
        let miss = match (self.miss_latency_p50_ms, self.miss_latency_max_ms) {
            (Some(p50), Some(max)) => format!("; a miss costs {p50} ms (slowest {max} ms)"),
            _ => String::new(),
        };
        format!(
            "{invalidated}{} Redis keys and {} URL warmed ({} bytes, {} Redis round trip(s)), {} failed, {hit_rate}{window}{miss}",
            self.keys_warmed, self.urls_warmed, self.bytes, self.redis_round_trips, self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoker_kit::Summary;

    #[test]
    fn the_summary_names_the_window_hit_rate_and_the_miss_cost() {
        let mut r = Report {
            keys_warmed: 2,
            hit_rate_before: Some(50.0),
            hit_rate_after: Some(60.0),
            ..Report::default()
        };
        assert!(
            !r.summary().contains("since the last run"),
            "{}",
            r.summary()
        );
        r.hit_rate_window = Some(75.0);
        r.window_lookups = Some(8);
        r.window_s = Some(300);
        r.miss_latency_p50_ms = Some(12);
        r.miss_latency_max_ms = Some(40);
        let line = r.summary();
        assert!(
            line.ends_with(
                "; since the last run 75.00 % of 8 lookup(s) in 300 s hit; a miss costs 12 ms (slowest 40 ms)"
            ),
            "{line}"
        );
    }
}
