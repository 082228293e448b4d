//! Stage deadlines of a case: the category's time limit for the priority, on the working
//! calendar, moved by approved extensions and pushed back by every pause (挂账).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{ClockType, TimeLimit, WorkingCalendar};

/// An interval during which the case's clock did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Timestamp,
    pub to: Timestamp,
}

/// How far along its deadline a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alarm {
    /// On time.
    Green,
    /// 黄牌: past the warning fraction of its time.
    Yellow,
    /// 红牌: past the deadline.
    Red,
}

/// The time a pause takes off the clock, measured the way `clock` measures time.
fn paused(cal: &WorkingCalendar, clock: ClockType, p: Pause) -> SignedDuration {
    match clock {
        ClockType::WorkingHours | ClockType::WorkingDays => cal.working_time_between(p.from, p.to),
        ClockType::UrgentHours | ClockType::CalendarDays => p.to.duration_since(p.from),
    }
    .max(SignedDuration::ZERO)
}

fn push_back(
    cal: &WorkingCalendar,
    clock: ClockType,
    due: Timestamp,
    by: SignedDuration,
) -> Timestamp {
    match clock {
        ClockType::WorkingHours | ClockType::WorkingDays => cal.add_working_time(due, by),
        ClockType::UrgentHours | ClockType::CalendarDays => {
            due.checked_add(by).unwrap_or(Timestamp::MAX)
        }
    }
}

/// The deadline of a stage started at `start`. Extensions count from the deadline they
/// extend; each pause pushes the deadline back by the time it kept the clock stopped, so a
/// case that was already overdue when shelved stays exactly as overdue.
pub fn stage_deadline(
    cal: &WorkingCalendar,
    start: Timestamp,
    limit: TimeLimit,
    extensions: &[TimeLimit],
    pauses: &[Pause],
) -> Timestamp {
    let mut due = cal.deadline(start, limit);
    for ext in extensions {
        due = cal.deadline(due, *ext);
    }
    for p in pauses {
        due = push_back(cal, limit.clock, due, paused(cal, limit.clock, *p));
    }
    due
}

/// `due` pushed back by the time `pause` kept a clock of type `clock` stopped.
pub fn postpone(
    cal: &WorkingCalendar,
    clock: ClockType,
    due: Timestamp,
    pause: Pause,
) -> Timestamp {
    push_back(cal, clock, due, paused(cal, clock, pause))
}

/// The length of a limit in its clock's own measure, for warning fractions.
fn budget(cal: &WorkingCalendar, limit: TimeLimit) -> SignedDuration {
    let amount = i64::from(limit.amount);
    match limit.clock {
        ClockType::UrgentHours | ClockType::WorkingHours => SignedDuration::from_mins(amount),
        ClockType::WorkingDays => SignedDuration::from_mins(amount * cal.working_day_minutes()),
        ClockType::CalendarDays => SignedDuration::from_hours(amount * 24),
    }
}

/// Yellow once less than `1 - warn_at` of the stage's time is left, red once the deadline
/// has passed. `warn_at` is a fraction in 0..1 (e.g. 0.8: warn with a fifth of the time left).
pub fn alarm(
    cal: &WorkingCalendar,
    limit: TimeLimit,
    extensions: &[TimeLimit],
    due: Timestamp,
    now: Timestamp,
    warn_at: f64,
) -> Alarm {
    if now >= due {
        return Alarm::Red;
    }
    let total = std::iter::once(limit)
        .chain(extensions.iter().copied())
        .map(|l| budget(cal, l))
        .fold(SignedDuration::ZERO, |a, b| a.saturating_add(b));
    let left = cal.remaining(now, due, limit.clock);
    let threshold = (total.as_secs_f64() * (1.0 - warn_at.clamp(0.0, 1.0))).round();
    if left.as_secs_f64() <= threshold {
        Alarm::Yellow
    } else {
        Alarm::Green
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{DayKind, SpecialDay};
    use jiff::civil::date;

    fn cal() -> WorkingCalendar {
        let days = (15..=23)
            .map(|d| SpecialDay {
                date: date(2026, 2, d),
                kind: DayKind::Holiday,
                name: "春节".into(),
            })
            .collect();
        WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), days)
            .expect("calendar")
    }

    fn at(m: i8, d: i8, h: i8, min: i8) -> Timestamp {
        date(2026, m, d)
            .at(h, min, 0, 0)
            .in_tz("Asia/Shanghai")
            .expect("time")
            .timestamp()
    }

    fn wh(minutes: u32) -> TimeLimit {
        TimeLimit {
            clock: ClockType::WorkingHours,
            amount: minutes,
        }
    }

    #[test]
    fn a_pause_pushes_the_deadline_back_by_the_working_time_it_took() {
        let c = cal();
        // 09:00 + 4h → 14:30 (lunch skipped).
        assert_eq!(
            stage_deadline(&c, at(3, 3, 9, 0), wh(240), &[], &[]),
            at(3, 3, 14, 30)
        );
        // Shelved 10:00–11:00: one working hour off the clock → 15:30.
        let pause = Pause {
            from: at(3, 3, 10, 0),
            to: at(3, 3, 11, 0),
        };
        assert_eq!(
            stage_deadline(&c, at(3, 3, 9, 0), wh(240), &[], &[pause]),
            at(3, 3, 15, 30)
        );
        // Shelved over a night and a lunch: only working time counts (10:00 → next day 10:00 = 7.5h).
        let long = Pause {
            from: at(3, 3, 10, 0),
            to: at(3, 4, 10, 0),
        };
        assert_eq!(
            stage_deadline(&c, at(3, 3, 9, 0), wh(240), &[], &[long]),
            at(3, 4, 14, 30)
        );
    }

    #[test]
    fn an_extension_counts_from_the_deadline_it_extends() {
        let c = cal();
        let base = stage_deadline(
            &c,
            at(2, 12, 10, 0),
            TimeLimit {
                clock: ClockType::WorkingDays,
                amount: 1,
            },
            &[],
            &[],
        );
        assert_eq!(base, at(2, 13, 17, 30));
        let extended = stage_deadline(
            &c,
            at(2, 12, 10, 0),
            TimeLimit {
                clock: ClockType::WorkingDays,
                amount: 1,
            },
            &[TimeLimit {
                clock: ClockType::WorkingDays,
                amount: 2,
            }],
            &[],
        );
        // Two working days after Friday 13 Feb, across the festival: 24 and 25 Feb.
        assert_eq!(extended, at(2, 25, 17, 30));
    }

    #[test]
    fn urgent_clocks_pause_by_wall_time() {
        let c = cal();
        let limit = TimeLimit {
            clock: ClockType::UrgentHours,
            amount: 120,
        };
        let pause = Pause {
            from: at(3, 7, 1, 0),
            to: at(3, 7, 1, 30),
        };
        assert_eq!(
            stage_deadline(&c, at(3, 7, 0, 0), limit, &[], &[pause]),
            at(3, 7, 2, 30)
        );
    }

    #[test]
    fn yellow_then_red() {
        let c = cal();
        let start = at(3, 3, 9, 0);
        let due = stage_deadline(&c, start, wh(240), &[], &[]);
        let a = |now| alarm(&c, wh(240), &[], due, now, 0.8);
        assert_eq!(a(at(3, 3, 9, 30)), Alarm::Green);
        // 48 minutes (a fifth of 4h) left at 13:42.
        assert_eq!(a(at(3, 3, 13, 41)), Alarm::Green);
        assert_eq!(a(at(3, 3, 13, 42)), Alarm::Yellow);
        assert_eq!(a(at(3, 3, 14, 29)), Alarm::Yellow);
        assert_eq!(a(at(3, 3, 14, 30)), Alarm::Red);
    }
}
