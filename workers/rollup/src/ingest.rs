//! A measurement batch to datums: per series per period, the raw distribution (Values/Counts)
//! and, for counters, their sums and the rates derived from those sums.

use serde::Serialize;
use stoker_events::payload::rollup::Counters;

use crate::aggregate::{Aggregate, buckets};
use crate::pack::{Datum, distribution, single};
use crate::screen::Accepted;

/// Suffixes of the metrics derived from a series' counters: `<series>.<suffix>`.
pub const REQUESTS: &str = "Requests";
pub const ERRORS: &str = "Errors";
pub const CACHE_HITS: &str = "CacheHits";
pub const CACHE_MISSES: &str = "CacheMisses";
pub const ERROR_RATE: &str = "ErrorRate";
pub const CACHE_HIT_RATE: &str = "CacheHitRate";
pub const COUNTER_SUFFIXES: [&str; 6] = [
    REQUESTS,
    ERRORS,
    CACHE_HITS,
    CACHE_MISSES,
    ERROR_RATE,
    CACHE_HIT_RATE,
];

/// What the batch's accepted series came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeriesSummary {
    pub series: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<(String, String)>,
    pub periods: usize,
    /// Over all the batch's samples of the series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    /// errors / requests, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// hits / (hits + misses), in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_hit_rate: Option<f64>,
}

/// Errors over requests, hits over lookups: ratios of sums, in percent (`None` without a
/// denominator).
pub fn rates(c: &Counters) -> (Option<f64>, Option<f64>) {
    let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 * 100.0 / den as f64);
    (
        ratio(c.errors, c.requests),
        ratio(c.cache_hits, c.cache_hits + c.cache_misses),
    )
}

/// Datums for one accepted series; counters are stamped at `counter_time` (epoch seconds).
pub fn datums(
    s: &Accepted,
    high_resolution: bool,
    counter_time: i64,
) -> (Vec<Datum>, SeriesSummary) {
    let period = if high_resolution { 1 } else { 60 };
    let mut out = Vec::new();
    let by_period = buckets(&s.samples, period);
    for (start, values) in &by_period {
        out.extend(distribution(
            &s.name,
            &s.dimensions,
            s.unit.as_str(),
            *start,
            values,
            high_resolution,
        ));
    }
    let mut all: Vec<f64> = s.samples.iter().map(|x| x.1).collect();
    let mut summary = SeriesSummary {
        series: s.name.clone(),
        dimensions: s.dimensions.clone(),
        periods: by_period.len(),
        aggregate: Aggregate::of(&mut all),
        ..SeriesSummary::default()
    };
    if let Some(c) = &s.counters {
        let name = |suffix: &str| format!("{}.{suffix}", s.name);
        for (suffix, v) in [
            (REQUESTS, c.requests),
            (ERRORS, c.errors),
            (CACHE_HITS, c.cache_hits),
            (CACHE_MISSES, c.cache_misses),
        ] {
            out.push(single(
                &name(suffix),
                &s.dimensions,
                "Count",
                counter_time,
                v as f64,
            ));
        }
        let (error_rate, hit_rate) = rates(c);
        if let Some(r) = error_rate {
            out.push(single(
                &name(ERROR_RATE),
                &s.dimensions,
                "Percent",
                counter_time,
                r,
            ));
        }
        if let Some(r) = hit_rate {
            out.push(single(
                &name(CACHE_HIT_RATE),
                &s.dimensions,
                "Percent",
                counter_time,
                r,
            ));
        }
        summary.error_rate = error_rate;
        summary.cache_hit_rate = hit_rate;
    }
    (out, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stoker_events::payload::rollup::Unit;

    #[test]
    fn rates_are_ratios_of_sums() {
        let c = Counters {
            requests: 200,
            errors: 7,
            cache_hits: 90,
            cache_misses: 30,
        };
        assert_eq!(rates(&c), (Some(3.5), Some(75.0)));
        assert_eq!(rates(&Counters::default()), (None, None));
    }

    #[test]
    fn a_series_gives_distributions_per_period_and_counter_metrics() {
        let s = Accepted {
            name: "Api".into(),
            dimensions: vec![("Route".into(), "/x".into())],
            unit: Unit::Milliseconds,
            samples: vec![(60, 1.0), (61, 2.0), (125, 3.0)],
            counters: Some(Counters {
                requests: 10,
                errors: 1,
                cache_hits: 0,
                cache_misses: 0,
            }),
        };
        let (d, summary) = datums(&s, false, 180);
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Api",
                "Api",
                "Api.Requests",
                "Api.Errors",
                "Api.CacheHits",
                "Api.CacheMisses",
                "Api.ErrorRate"
            ]
        );
        assert_eq!((d[0].timestamp, d[1].timestamp), (60, 120));
        assert_eq!(summary.periods, 2);
        assert_eq!(summary.aggregate.as_ref().map(|a| a.count), Some(3));
        assert_eq!(summary.error_rate, Some(10.0));
        assert_eq!(summary.cache_hit_rate, None);
    }
}
