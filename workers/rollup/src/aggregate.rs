//! Aggregates per series per period: count, sum, min, max and exact percentiles.
//!
//! Percentiles are exact over the samples of one batch, by linear interpolation between the
//! two closest ranks (`rank = p/100 * (n - 1)`, "type 7", numpy's default). Across batches,
//! CloudWatch merges the raw values we publish (Values/Counts) and computes its own.

use std::collections::BTreeMap;

use serde::Serialize;

/// The percentiles every aggregate carries.
pub const PERCENTILES: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// Count, sum, min, max and p50/p90/p95/p99 of some values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Aggregate {
    /// The aggregate of `values` (sorted in place); `None` when empty.
    pub fn of(values: &mut [f64]) -> Option<Aggregate> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let [p50, p90, p95, p99] = PERCENTILES.map(|p| percentile(values, p));
        Some(Aggregate {
            count: values.len() as u64,
            sum: values.iter().sum(),
            min: values[0],
            max: values[values.len() - 1],
            p50,
            p90,
            p95,
            p99,
        })
    }

    pub fn average(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// The `p`-th percentile of sorted `values` by linear interpolation (type 7).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
            let (lo, frac) = (rank.floor() as usize, rank.fract());
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

/// Groups (epoch seconds, value) samples by period start.
pub fn buckets(samples: &[(i64, f64)], period_secs: i64) -> BTreeMap<i64, Vec<f64>> {
    let mut out: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for &(t, v) in samples {
        out.entry(t - t.rem_euclid(period_secs))
            .or_default()
            .push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&v, 95.0) - 95.05).abs() < 1e-9);
        assert!((percentile(&v, 50.0) - 50.5).abs() < 1e-9);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[1.0, 3.0], 100.0), 3.0);
    }

    #[test]
    fn aggregate_of_unsorted_values() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        let a = Aggregate::of(&mut v).unwrap();
        assert_eq!(
            (a.count, a.sum, a.min, a.max, a.p50),
            (5, 15.0, 1.0, 5.0, 3.0)
        );
        assert_eq!(a.average(), 3.0);
        assert!(Aggregate::of(&mut []).is_none());
    }

    #[test]
    fn samples_fall_into_their_period() {
        let b = buckets(&[(119, 1.0), (120, 2.0), (179, 3.0), (-1, 4.0)], 60);
        assert_eq!(b.keys().copied().collect::<Vec<_>>(), [-60, 60, 120]);
        assert_eq!(b[&120], [2.0, 3.0]);
    }
}
