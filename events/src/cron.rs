//! Cron expressions as EventBridge writes them (UTC, six fields: minutes, hours, day of month,
//! month, day of week, year), for per-target warm-up schedules. `*`, `?`, values, ranges
//! (`8-18`), lists (`0,30`), steps (`0/15`, `*/5`, `8-18/2`), month names (`JAN`) and day
//! names (`MON`; 1 = Sunday, as in EventBridge). `L`, `W` and `#` are refused: the schedules
//! they describe cannot be checked minute by minute without a calendar.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    fields: [Vec<Item>; 6],
}

/// `start..=end` every `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    start: u32,
    end: u32,
    step: u32,
}

const NAMES: [&str; 6] = [
    "minutes",
    "hours",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];
const BOUNDS: [(u32, u32); 6] = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    /// Parses `0/15 8-18 ? * MON-FRI *` (the part inside EventBridge's `cron(...)`).
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(format!(
                "`{text}` has {} fields; a cron expression has 6: minutes hours day-of-month month day-of-week year",
                parts.len()
            ));
        }
        let mut fields: [Vec<Item>; 6] = Default::default();
        for (i, part) in parts.iter().enumerate() {
            fields[i] = field(part, i).map_err(|e| format!("{} `{part}`: {e}", NAMES[i]))?;
        }
        let any = |p: &str| p == "?" || p == "*";
        if !any(parts[2]) && !any(parts[4]) {
            return Err(
                "one of day-of-month and day-of-week must be `?` (as in EventBridge)".into(),
            );
        }
        Ok(Cron { fields })
    }

    /// Whether the expression fires in the minute of `t` (UTC).
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        let values = [
            t.minute(),
            t.hour(),
            t.day(),
            t.month(),
            t.weekday().number_from_sunday(),
            u32::try_from(t.year()).unwrap_or(0),
        ];
        self.fields
            .iter()
            .zip(values)
            .all(|(items, v)| items.iter().any(|it| it.holds(v)))
    }
}

impl Item {
    fn holds(&self, v: u32) -> bool {
        v >= self.start && v <= self.end && (v - self.start).is_multiple_of(self.step)
    }
}

fn field(part: &str, i: usize) -> Result<Vec<Item>, String> {
    let (lo, hi) = BOUNDS[i];
    part.split(',')
        .map(|item| {
            if calendar(item) {
                return Err(format!("`{item}`: L, W and # are not supported"));
            }
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let s: u32 = s
                        .parse()
                        .map_err(|_| format!("step `{s}` is not a number"))?;
                    if s == 0 {
                        return Err("a step of 0".into());
                    }
                    (r, Some(s))
                }
                None => (item, None),
            };
            let (start, end) = if range == "*" || range == "?" {
                if range == "?" && i != 2 && i != 4 {
                    return Err("`?` is for day-of-month or day-of-week only".into());
                }
                (lo, hi)
            } else if let Some((a, b)) = range.split_once('-') {
                (value(a, i)?, value(b, i)?)
            } else {
                let v = value(range, i)?;
                // `5/15`: from 5 to the end, every 15.
                (v, if step.is_some() { hi } else { v })
            };
            if start > end {
                return Err(format!("{start}-{end} runs backwards"));
            }
            Ok(Item {
                start,
                end,
                step: step.unwrap_or(1),
            })
        })
        .collect()
}

/// `L`, `LW`, `15W`, `5L`, `2#1`: the forms that need a calendar (not `JUL` or `WED`).
fn calendar(item: &str) -> bool {
    let up = item.to_ascii_uppercase();
    let digits_then = up.len() > 1
        && up.ends_with(['L', 'W'])
        && up[..up.len() - 1].chars().all(|c| c.is_ascii_digit());
    up.contains('#') || up == "L" || up == "LW" || digits_then
}

fn value(text: &str, i: usize) -> Result<u32, String> {
    let (lo, hi) = BOUNDS[i];
    let upper = text.to_ascii_uppercase();
    let named = match i {
        3 => MONTHS
            .iter()
            .position(|m| *m == upper)
            .map(|p| p as u32 + 1),
        4 => DAYS.iter().position(|d| *d == upper).map(|p| p as u32 + 1),
        _ => None,
    };
    let v = match named {
        Some(v) => v,
        None => text
            .parse::<u32>()
            .map_err(|_| format!("`{text}` is not a value"))?,
    };
    if v < lo || v > hi {
        return Err(format!("{v} is outside {lo}-{hi}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 30)
            .single()
            .expect("a time")
    }

    #[test]
    fn business_hours_every_fifteen_minutes() {
        let c = Cron::parse("0/15 8-18 ? * MON-FRI *").expect("parses");
        // 2026-12-03 is a Thursday.
        assert!(c.matches(at(2026, 12, 3, 8, 0)));
        assert!(c.matches(at(2026, 12, 3, 18, 45)));
        assert!(!c.matches(at(2026, 12, 3, 8, 5)), "not on the quarter");
        assert!(!c.matches(at(2026, 12, 3, 19, 0)), "after hours");
        assert!(!c.matches(at(2026, 12, 5, 9, 0)), "a Saturday");
    }

    #[test]
    fn lists_names_steps_and_years() {
        let c = Cron::parse("*/20 0,12 1 JAN,jul ? 2026-2027").expect("parses");
        assert!(c.matches(at(2026, 7, 1, 12, 40)));
        assert!(!c.matches(at(2026, 7, 2, 12, 40)), "day 2");
        assert!(!c.matches(at(2028, 1, 1, 0, 0)), "2028");
        // 1 = Sunday, as in EventBridge: 2026-12-06 is a Sunday.
        let sunday = Cron::parse("0 9 ? * 1 *").expect("parses");
        assert!(sunday.matches(at(2026, 12, 6, 9, 0)));
        assert!(!sunday.matches(at(2026, 12, 7, 9, 0)));
    }

    #[test]
    fn what_it_cannot_check_is_refused_with_the_field() {
        for (text, says) in [
            ("0 8 * *", "has 4 fields"),
            (
                "0 8 1 * MON *",
                "one of day-of-month and day-of-week must be `?`",
            ),
            (
                "0 8 L * ? *",
                "day-of-month `L`: `L`: L, W and # are not supported",
            ),
            ("0 8 ? * 2#1 *", "L, W and # are not supported"),
            ("61 8 ? * * *", "minutes `61`: 61 is outside 0-59"),
            ("0 18-8 ? * * *", "runs backwards"),
            ("0/0 8 ? * * *", "a step of 0"),
            ("? 8 * * ? *", "`?` is for day-of-month or day-of-week only"),
            ("0 8 ? FOO * *", "`FOO` is not a value"),
        ] {
            let err = Cron::parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
