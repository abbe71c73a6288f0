//! Choosing from a power-tuning sweep: per memory size, the trimmed mean of billed durations
//! and the cost per invocation; the cheapest, the fastest, or a weighted balance.

use serde::Serialize;
use stoker_events::payload::optimize::{Strategy, StrategyName};

/// The mean of `values` without the `trim` fraction (0-0.5) at each end.
pub fn trimmed_mean(values: &[f64], trim: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let cut = ((v.len() as f64) * trim.clamp(0.0, 0.49)).floor() as usize;
    let kept = &v[cut..v.len() - cut];
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

/// One memory size's measured result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub memory_mb: u32,
    pub duration_ms: f64,
    pub cost_usd: f64,
}

/// The chosen memory size by `strategy` (ties go to the smaller size).
pub fn choose(points: &[Point], strategy: &Strategy) -> Option<u32> {
    let (min_t, max_t) = range(points.iter().map(|p| p.duration_ms))?;
    let (min_c, max_c) = range(points.iter().map(|p| p.cost_usd))?;
    let norm = |x: f64, lo: f64, hi: f64| if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
    let score = |p: &Point| match strategy.name {
        StrategyName::Cost => p.cost_usd,
        StrategyName::Speed => p.duration_ms,
        StrategyName::Balanced => {
            strategy.weight * norm(p.duration_ms, min_t, max_t)
                + (1.0 - strategy.weight) * norm(p.cost_usd, min_c, max_c)
        }
    };
    let mut sorted: Vec<&Point> = points.iter().collect();
    sorted.sort_by_key(|p| p.memory_mb);
    sorted
        .into_iter()
        .min_by(|a, b| score(a).total_cmp(&score(b)))
        .map(|p| p.memory_mb)
}

fn range(it: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    it.fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: StrategyName, weight: f64) -> Strategy {
        Strategy { name, weight }
    }

    #[test]
    fn trimmed_means_drop_the_extremes() {
        assert_eq!(trimmed_mean(&[1.0, 2.0, 3.0, 4.0, 100.0], 0.2), Some(3.0));
        assert_eq!(trimmed_mean(&[5.0], 0.2), Some(5.0));
        assert_eq!(trimmed_mean(&[], 0.2), None);
    }

    #[test]
    fn each_strategy_picks_its_size() {
        let pts = [
            Point {
                memory_mb: 128,
                duration_ms: 800.0,
                cost_usd: 2.0,
            },
            Point {
                memory_mb: 512,
                duration_ms: 210.0,
                cost_usd: 2.2,
            },
            Point {
                memory_mb: 1024,
                duration_ms: 200.0,
                cost_usd: 4.0,
            },
        ];
        assert_eq!(choose(&pts, &s(StrategyName::Cost, 0.5)), Some(128));
        assert_eq!(choose(&pts, &s(StrategyName::Speed, 0.5)), Some(1024));
        assert_eq!(choose(&pts, &s(StrategyName::Balanced, 0.5)), Some(512));
        assert_eq!(
            choose(&pts, &s(StrategyName::Balanced, 0.0)),
            Some(128),
            "weight 0 = all cost"
        );
        assert_eq!(choose(&[], &s(StrategyName::Cost, 0.5)), None);
    }
}
