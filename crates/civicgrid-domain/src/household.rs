//! Household contacts (包片联户): who keeps in touch with which households, how often, and
//! the coverage arithmetic the assessment counts.
//!
//! A visit plan gives each household an interval of N days. Time is cut into windows of N
//! days counted from 1970-01-01 (the same for every household with that interval, so a
//! community's windows line up); a window is *due* once it has ended, and *covered* if the
//! household was contacted in it. Only whole windows inside the current assignment count: a
//! member is not blamed for the time before they were given the household.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// How a contact was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitChannel {
    /// 上门.
    InPerson,
    /// 电话.
    Phone,
    /// 微信.
    WeChat,
}

impl VisitChannel {
    pub const ALL: [VisitChannel; 3] = [
        VisitChannel::InPerson,
        VisitChannel::Phone,
        VisitChannel::WeChat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VisitChannel::InPerson => "in_person",
            VisitChannel::Phone => "phone",
            VisitChannel::WeChat => "wechat",
        }
    }
}

impl FromStr for VisitChannel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VisitChannel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a way of contact (in_person, phone, wechat)"))
    }
}

/// The interval when no plan covers a household's beat or grid.
pub const DEFAULT_INTERVAL_DAYS: u32 = 30;
/// The longest interval a plan may set (a year).
pub const MAX_INTERVAL_DAYS: u32 = 366;

fn epoch() -> Date {
    Date::constant(1970, 1, 1)
}

fn day_number(d: Date) -> i64 {
    i64::from((d - epoch()).get_days())
}

fn from_day_number(n: i64) -> Option<Date> {
    epoch().checked_add(jiff::Span::new().days(n)).ok()
}

/// One window of a household's contact interval: [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Date,
    pub end: Date,
    pub covered: bool,
}

impl Window {
    /// The day the window counts on in the assessment: its last day.
    pub fn last_day(&self) -> Date {
        self.end.yesterday().unwrap_or(self.end)
    }
}

/// The window of `interval` days that contains `day`.
pub fn window_containing(day: Date, interval: u32) -> (Date, Date) {
    let n = i64::from(interval.max(1));
    let start = day_number(day).div_euclid(n) * n;
    (
        from_day_number(start).unwrap_or(day),
        from_day_number(start + n).unwrap_or(day),
    )
}

/// Every whole window of `interval` days that began on or after `assigned_on` and ended on or
/// before `today`, each with whether a contact fell in it. `contacts` need not be sorted.
pub fn windows(interval: u32, assigned_on: Date, contacts: &[Date], today: Date) -> Vec<Window> {
    let n = i64::from(interval.clamp(1, MAX_INTERVAL_DAYS));
    let first = day_number(assigned_on).div_euclid(n) * n;
    let first = if first < day_number(assigned_on) {
        first + n
    } else {
        first
    };
    let mut out = Vec::new();
    let mut start = first;
    while start + n <= day_number(today) {
        let end = start + n;
        let covered = contacts
            .iter()
            .any(|c| (start..end).contains(&day_number(*c)));
        if let (Some(s), Some(e)) = (from_day_number(start), from_day_number(end)) {
            out.push(Window {
                start: s,
                end: e,
                covered,
            });
        }
        start = end;
    }
    out
}

/// Whether a household is due a contact now: not contacted in the window running today.
pub fn is_due(interval: u32, contacts: &[Date], today: Date) -> bool {
    let (start, end) = window_containing(today, interval.clamp(1, MAX_INTERVAL_DAYS));
    !contacts.iter().any(|c| *c >= start && *c < end)
}

/// Coverage as a share: windows covered over windows due; none due counts as full.
pub fn coverage(due: u64, covered: u64) -> f64 {
    if due == 0 {
        1.0
    } else {
        covered.min(due) as f64 / due as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        s.parse().expect("date")
    }

    #[test]
    fn windows_line_up_and_count_only_whole_assigned_ones() {
        // 30-day windows: 2026-01-24 is day 20477 = 682·30 + 17, so a window starts 2026-01-07.
        assert_eq!(
            window_containing(d("2026-01-24"), 30),
            (d("2026-01-07"), d("2026-02-06"))
        );
        let w = windows(
            30,
            d("2026-01-24"),
            &[d("2026-02-10"), d("2026-04-20")],
            d("2026-04-08"),
        );
        assert_eq!(
            w,
            vec![
                Window {
                    start: d("2026-02-06"),
                    end: d("2026-03-08"),
                    covered: true
                },
                Window {
                    start: d("2026-03-08"),
                    end: d("2026-04-07"),
                    covered: false
                },
            ]
        );
        assert_eq!(w[0].last_day(), d("2026-03-07"));
        assert!(windows(30, d("2026-04-01"), &[], d("2026-04-08")).is_empty());
        // Assigned on the first day of a window: that window counts.
        assert_eq!(
            windows(7, d("2026-01-01"), &[d("2026-01-01")], d("2026-01-08")).len(),
            1
        );
        assert!(is_due(30, &[d("2026-02-10")], d("2026-03-08")));
        assert!(!is_due(30, &[d("2026-03-08")], d("2026-03-20")));
        assert_eq!(coverage(0, 0), 1.0);
        assert_eq!(coverage(4, 3), 0.75);
    }

    fn date() -> impl Strategy<Value = Date> {
        (0i64..3000).prop_map(|n| from_day_number(19_000 + n).expect("date"))
    }

    proptest! {
        /// Windows tile time without gaps or overlaps, all are whole and inside the assignment,
        /// each contact covers exactly the window it falls in, and coverage is a share.
        #[test]
        fn coverage_arithmetic_holds(
            interval in 1u32..120,
            assigned in date(),
            contacts in proptest::collection::vec(date(), 0..20),
            today in date(),
        ) {
            let w = windows(interval, assigned, &contacts, today);
            for pair in w.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            for x in &w {
                prop_assert!(x.start >= assigned);
                prop_assert!(x.end <= today);
                prop_assert_eq!(i64::from((x.end - x.start).get_days()), i64::from(interval));
                let inside = contacts.iter().any(|c| *c >= x.start && *c < x.end);
                prop_assert_eq!(x.covered, inside);
            }
            let covered = w.iter().filter(|x| x.covered).count() as u64;
            let share = coverage(w.len() as u64, covered);
            prop_assert!((0.0..=1.0).contains(&share));
            // Adding a contact never lowers coverage.
            let mut more = contacts.clone();
            more.push(today);
            let after = windows(interval, assigned, &more, today);
            prop_assert_eq!(after.len(), w.len());
            prop_assert!(after.iter().filter(|x| x.covered).count() as u64 >= covered);
        }
    }
}
