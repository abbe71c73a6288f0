//! Per-target schedules: which targets a scheduled job warms, and how many instances each.

use chrono::{DateTime, Utc};
use stoker_events::payload::warmup::WarmupRequest;

/// What a job warms: the request narrowed to the targets due at `at` (each at the highest
/// concurrency of its schedules due then), and the functions left for later. Only a job a
/// schedule sent (`scheduled`) is narrowed; a target without schedules is always due.
pub fn plan(
    req: &WarmupRequest,
    at: DateTime<Utc>,
    scheduled: bool,
) -> (WarmupRequest, Vec<String>) {
    if !scheduled {
        return (req.clone(), Vec::new());
    }
    let mut due = req.clone();
    let mut later = Vec::new();
    due.targets = req
        .targets
        .iter()
        .filter_map(|t| {
            if t.schedules.is_empty() {
                return Some(t.clone());
            }
            let most = t
                .schedules
                .iter()
                .filter(|s| s.due(at, req.tick_minutes))
                .map(|s| s.concurrency)
                .max();
            match most {
                Some(c) => {
                    let mut t = t.clone();
                    t.concurrency = c;
                    Some(t)
                }
                None => {
                    later.push(t.function.clone());
                    None
                }
            }
        })
        .collect();
    (due, later)
}

/// Whether a job was sent by a schedule (its `requested_by` is `schedule:<rule>`).
pub fn by_schedule(requested_by: &str) -> bool {
    requested_by.starts_with("schedule:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use stoker_events::payload::warmup::{TargetSchedule, WarmupTarget};

    fn target(name: &str, schedules: Vec<TargetSchedule>) -> WarmupTarget {
        WarmupTarget {
            function: name.into(),
            qualifier: None,
            concurrency: 1,
            payload: None,
            schedules,
        }
    }

    fn cron(c: &str, concurrency: u32) -> TargetSchedule {
        TargetSchedule {
            cron: Some(c.into()),
            rate_minutes: None,
            concurrency,
        }
    }

    fn rate(n: u32, concurrency: u32) -> TargetSchedule {
        TargetSchedule {
            cron: None,
            rate_minutes: Some(n),
            concurrency,
        }
    }

    #[test]
    fn a_scheduled_job_warms_what_is_due_at_its_highest_concurrency() {
        let req = WarmupRequest {
            targets: vec![
                target("always", vec![]),
                // Peak on weekdays 8-18 at 10, a baseline of 2 every 15 minutes.
                target("api", vec![cron("0/5 8-18 ? * MON-FRI *", 10), rate(15, 2)]),
                target("nightly", vec![cron("0 2 * * ? *", 3)]),
            ],
            hold_open_ms: 100,
            invocation_timeout_ms: 10_000,
            tick_minutes: 5,
        };
        let names = |r: &WarmupRequest| {
            r.targets
                .iter()
                .map(|t| (t.function.clone(), t.concurrency))
                .collect::<Vec<_>>()
        };
        // Thursday 09:15 UTC: both of api's schedules are due; the peak wins.
        let thu = Utc
            .with_ymd_and_hms(2026, 12, 3, 9, 15, 20)
            .single()
            .expect("time");
        let (due, later) = plan(&req, thu, true);
        assert_eq!(names(&due), vec![("always".into(), 1), ("api".into(), 10)]);
        assert_eq!(later, vec!["nightly".to_owned()]);
        // Saturday 09:15: only the baseline.
        let sat = Utc
            .with_ymd_and_hms(2026, 12, 5, 9, 15, 0)
            .single()
            .expect("time");
        assert_eq!(
            names(&plan(&req, sat, true).0),
            vec![("always".into(), 1), ("api".into(), 2)]
        );
        // Saturday 09:20: api is not due; 02:00 the nightly one is.
        let off = Utc
            .with_ymd_and_hms(2026, 12, 5, 9, 20, 0)
            .single()
            .expect("time");
        assert_eq!(
            plan(&req, off, true).1,
            vec!["api".to_owned(), "nightly".to_owned()]
        );
        let two = Utc
            .with_ymd_and_hms(2026, 12, 5, 2, 0, 0)
            .single()
            .expect("time");
        assert!(names(&plan(&req, two, true).0).contains(&("nightly".into(), 3)));
        // An operator's job warms everything at the target's own concurrency.
        let (all, none) = plan(&req, off, false);
        assert_eq!(all, req);
        assert!(none.is_empty());
        assert!(by_schedule("schedule:warmup-peak") && !by_schedule("operator:alice"));
    }

    /// A rate rule ticks from when it was made (:02, :07, :12, :17, ...), not on the quarter:
    /// a schedule is due when it fires in the tick's window (`tick_minutes`), so each quarter
    /// hour is warmed by exactly one tick.
    #[test]
    fn a_schedule_is_due_at_the_first_tick_after_it_fires() {
        let req = WarmupRequest {
            targets: vec![target("api", vec![cron("0/15 * ? * * *", 4)])],
            hold_open_ms: 100,
            invocation_timeout_ms: 10_000,
            tick_minutes: 5,
        };
        let due_at = |minute: u32| {
            let t = Utc
                .with_ymd_and_hms(2026, 12, 3, 9, minute, 40)
                .single()
                .expect("time");
            !plan(&req, t, true).0.targets.is_empty()
        };
        let ticks: Vec<u32> = (0..12).map(|i| 2 + 5 * i).collect();
        let warmed: Vec<u32> = ticks.iter().copied().filter(|m| due_at(*m)).collect();
        assert_eq!(warmed, vec![2, 17, 32, 47], "one tick per quarter hour");
    }
}
