//! Which backups to delete: beyond the newest `keep_last`, or older than `max_age_days`, but
//! never below `min_keep` (the newest `min_keep` always stay). Only AVAILABLE backups (complete
//! exports) count and only they are pruned: one still being created (or stuck) is neither a
//! backup to rely on nor one to delete.

use chrono::{DateTime, Duration, Utc};
use stoker_events::payload::backup::Retention;

/// A backup (native or export) as retention sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub id: String,
    pub created: DateTime<Utc>,
    /// AVAILABLE (a native backup) or complete (an export, its manifest written).
    pub available: bool,
}

/// The ids to delete, oldest first.
pub fn to_prune(backups: Vec<Kept>, r: &Retention, now: DateTime<Utc>) -> Vec<String> {
    let mut usable: Vec<Kept> = backups.into_iter().filter(|b| b.available).collect();
    // Newest first; equal times (S3 keeps seconds) are ordered by id, which starts with the
    // creation time for both exports and backup ARNs.
    usable.sort_by_key(|b| std::cmp::Reverse((b.created, b.id.clone())));
    let cutoff = r.max_age_days.map(|d| now - Duration::days(d.into()));
    let mut out: Vec<String> = usable
        .iter()
        .enumerate()
        .filter(|(i, b)| {
            let beyond_count = *i >= r.keep_last as usize;
            let too_old = cutoff.is_some_and(|c| b.created < c);
            *i >= r.min_keep as usize && (beyond_count || too_old)
        })
        .map(|(_, b)| b.id.clone())
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days_ago(ids: &[(&str, i64)], now: DateTime<Utc>) -> Vec<Kept> {
        ids.iter()
            .map(|(id, d)| Kept {
                id: (*id).into(),
                created: now - Duration::days(*d),
                available: true,
            })
            .collect()
    }

    fn r(keep_last: u32, max_age_days: Option<u32>, min_keep: u32) -> Retention {
        Retention {
            keep_last,
            max_age_days,
            min_keep,
        }
    }

    #[test]
    fn keeps_the_newest_n() {
        let now = Utc::now();
        let b = days_ago(&[("a", 5), ("b", 1), ("c", 3), ("d", 2), ("e", 4)], now);
        assert_eq!(to_prune(b, &r(3, None, 1), now), ["a", "e"]);
    }

    #[test]
    fn max_age_prunes_old_ones_but_never_below_min_keep() {
        let now = Utc::now();
        let b = days_ago(&[("a", 50), ("b", 40), ("c", 45)], now);
        assert_eq!(
            to_prune(b.clone(), &r(7, Some(30), 1), now),
            ["a", "c"],
            "b is the newest: kept"
        );
        assert_eq!(
            to_prune(b.clone(), &r(7, Some(30), 3), now),
            Vec::<String>::new()
        );
        assert_eq!(to_prune(b, &r(7, Some(30), 2), now), ["a"]);
    }

    #[test]
    fn equal_times_are_ordered_by_id() {
        let now = Utc::now();
        let b = days_ago(&[("20261123T1-b", 0), ("20261123T1-a", 0)], now);
        assert_eq!(to_prune(b, &r(1, None, 1), now), ["20261123T1-a"]);
    }

    #[test]
    fn a_backup_that_is_not_available_is_neither_counted_nor_pruned() {
        let now = Utc::now();
        let mut b = days_ago(&[("creating", 0), ("a", 1), ("b", 2), ("c", 3)], now);
        b[0].available = false;
        // keep_last 2, min_keep 2: the two newest AVAILABLE ones stay, whatever is CREATING.
        assert_eq!(to_prune(b.clone(), &r(2, None, 2), now), ["c"]);
        // max_age prunes everything old, but min_keep counts only AVAILABLE backups.
        assert_eq!(to_prune(b.clone(), &r(7, Some(1), 2), now), ["c"]);
        // A backup that is not AVAILABLE is never pruned, however old.
        let mut old = days_ago(&[("a", 1), ("stuck", 90)], now);
        old[1].available = false;
        assert!(to_prune(old, &r(1, Some(30), 1), now).is_empty());
    }

    #[test]
    fn nothing_to_prune_when_under_the_limits() {
        let now = Utc::now();
        assert!(to_prune(days_ago(&[("a", 1)], now), &r(1, Some(30), 1), now).is_empty());
        assert!(to_prune(vec![], &r(1, None, 1), now).is_empty());
    }
}
