//! The working calendar and deadline arithmetic.
//!
//! A deadline is measured on one of four clocks (see [`ClockType`]). Working time only runs
//! inside the configured windows on working days; a working day is Monday–Friday unless the
//! calendar lists it as a holiday, or any day the calendar lists as a make-up working day (调休).
//!
//! Conventions, chosen to match Chinese administrative practice (期限开始之日不计算在内):
//! - day clocks do not count the day on which the clock starts; the deadline is the close of
//!   the N-th counted day (close of the last window for working days, midnight for calendar days);
//! - an amount of zero means the deadline is the start itself;
//! - a working-hours deadline that exactly uses up a window ends at that window's close, not at
//!   the next window's opening.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The four clock types of a deadline (紧急工作时/工作时/工作日/自然日).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockType {
    /// 紧急工作时: round-the-clock hours; urgent matters do not wait for office hours.
    UrgentHours,
    /// 工作时: hours inside the working windows of working days.
    WorkingHours,
    /// 工作日: whole working days, counted from the day after the start.
    WorkingDays,
    /// 自然日: whole calendar days, counted from the day after the start.
    CalendarDays,
}

impl ClockType {
    pub const ALL: [ClockType; 4] = [
        ClockType::UrgentHours,
        ClockType::WorkingHours,
        ClockType::WorkingDays,
        ClockType::CalendarDays,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockType::UrgentHours => "urgent_hours",
            ClockType::WorkingHours => "working_hours",
            ClockType::WorkingDays => "working_days",
            ClockType::CalendarDays => "calendar_days",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ClockType::UrgentHours => "紧急工作时",
            ClockType::WorkingHours => "工作时",
            ClockType::WorkingDays => "工作日",
            ClockType::CalendarDays => "自然日",
        }
    }

    /// Hour clocks count minutes; day clocks count days.
    pub fn counts_days(self) -> bool {
        matches!(self, ClockType::WorkingDays | ClockType::CalendarDays)
    }
}

impl fmt::Display for ClockType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClockType {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClockType::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.name_zh() == s)
            .ok_or_else(|| CalendarError::UnknownClockType(s.to_owned()))
    }
}

/// An amount of time on one clock: minutes for the hour clocks, days for the day clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeLimit {
    pub clock: ClockType,
    pub amount: u32,
}

impl TimeLimit {
    /// Parses `30min`, `2h`, `1h30min` for hour clocks and `3d` for day clocks.
    pub fn parse(clock: ClockType, text: &str) -> Result<TimeLimit, CalendarError> {
        let bad = || CalendarError::BadTimeLimit {
            text: text.to_owned(),
            clock,
        };
        let t = text.trim();
        let amount = if clock.counts_days() {
            t.strip_suffix('d')
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(bad)?
        } else {
            let mut minutes: u32 = 0;
            let mut rest = t;
            if rest.is_empty() {
                return Err(bad());
            }
            while !rest.is_empty() {
                let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
                if digits == 0 {
                    return Err(bad());
                }
                let n: u32 = rest[..digits].parse().map_err(|_| bad())?;
                rest = &rest[digits..];
                let (factor, len) = if rest.starts_with("min") {
                    (1, 3)
                } else if rest.starts_with('h') {
                    (60, 1)
                } else {
                    return Err(bad());
                };
                minutes = n
                    .checked_mul(factor)
                    .and_then(|m| minutes.checked_add(m))
                    .ok_or_else(bad)?;
                rest = &rest[len..];
            }
            minutes
        };
        Ok(TimeLimit { clock, amount })
    }

    /// The amount in the notation [`TimeLimit::parse`] reads.
    pub fn amount_text(&self) -> String {
        if self.clock.counts_days() {
            format!("{}d", self.amount)
        } else {
            match (self.amount / 60, self.amount % 60) {
                (0, m) => format!("{m}min"),
                (h, 0) => format!("{h}h"),
                (h, m) => format!("{h}h{m}min"),
            }
        }
    }
}

/// Reads what `Display` writes: `<amount> <clock>`, e.g. `2h working_hours` or `3d 工作日`.
impl FromStr for TimeLimit {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (amount, clock) = s.trim().split_once(char::is_whitespace).ok_or_else(|| {
            CalendarError::BadTimeLimit {
                text: s.to_owned(),
                clock: ClockType::WorkingHours,
            }
        })?;
        TimeLimit::parse(clock.trim().parse()?, amount)
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_text(), self.clock)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "unknown clock type `{0}` (expected urgent_hours, working_hours, working_days or calendar_days)"
    )]
    UnknownClockType(String),
    #[error(
        "`{text}` is not a time limit for {clock} (expected e.g. 30min, 2h, 1h30min, or 3d for day clocks)"
    )]
    BadTimeLimit { text: String, clock: ClockType },
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    #[error("working window {start}–{end} is empty or reversed")]
    EmptyWindow { start: Time, end: Time },
    #[error("working windows {0} and {1} overlap or are out of order")]
    OverlappingWindows(String, String),
    #[error("a working calendar needs at least one working window")]
    NoWindows,
    #[error("`{0}` is not a working window (expected HH:MM-HH:MM)")]
    BadWindow(String),
    #[error("{date} is listed both as a holiday and as a make-up working day")]
    DayListedTwice { date: Date },
}

/// One working window of a day, e.g. 08:30–12:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingWindow {
    pub start: Time,
    pub end: Time,
}

impl WorkingWindow {
    pub fn new(start: Time, end: Time) -> Result<Self, CalendarError> {
        if start >= end {
            return Err(CalendarError::EmptyWindow { start, end });
        }
        Ok(WorkingWindow { start, end })
    }

    fn minutes(&self) -> i64 {
        minutes_between(self.start, self.end)
    }
}

impl fmt::Display for WorkingWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M")
        )
    }
}

impl FromStr for WorkingWindow {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::BadWindow(s.to_owned());
        let (a, b) = s
            .split_once('-')
            .or_else(|| s.split_once('–'))
            .ok_or_else(bad)?;
        let parse = |t: &str| Time::strptime("%H:%M", t.trim()).map_err(|_| bad());
        WorkingWindow::new(parse(a)?, parse(b)?)
    }
}

/// Whether a listed day is off (法定节假日) or a make-up working day (调休上班).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    Holiday,
    MakeUpWorkday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::MakeUpWorkday => "make_up_workday",
        }
    }
}

impl FromStr for DayKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "holiday" => Ok(DayKind::Holiday),
            "make_up_workday" => Ok(DayKind::MakeUpWorkday),
            other => Err(format!(
                "unknown day kind `{other}` (expected holiday or make_up_workday)"
            )),
        }
    }
}

/// A listed day with the reason, e.g. 2026-02-14 make-up working day for 春节.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub date: Date,
    pub kind: DayKind,
    pub name: String,
}

/// Working windows, a time zone, and the holidays and make-up days of each year, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkingCalendar {
    time_zone_name: String,
    time_zone: TimeZone,
    windows: Vec<WorkingWindow>,
    days: BTreeMap<Date, SpecialDay>,
}

impl WorkingCalendar {
    /// Validates the windows (non-empty, ordered, not overlapping) and resolves the time zone.
    pub fn new(
        time_zone_name: &str,
        windows: Vec<WorkingWindow>,
        days: Vec<SpecialDay>,
    ) -> Result<Self, CalendarError> {
        let time_zone = TimeZone::get(time_zone_name)
            .map_err(|_| CalendarError::UnknownTimeZone(time_zone_name.to_owned()))?;
        if windows.is_empty() {
            return Err(CalendarError::NoWindows);
        }
        for pair in windows.windows(2) {
            if pair[0].end > pair[1].start {
                return Err(CalendarError::OverlappingWindows(
                    pair[0].to_string(),
                    pair[1].to_string(),
                ));
            }
        }
        let mut cal = WorkingCalendar {
            time_zone_name: time_zone_name.to_owned(),
            time_zone,
            windows,
            days: BTreeMap::new(),
        };
        cal.set_days(days)?;
        Ok(cal)
    }

    /// The windows most Chinese offices keep: 08:30–12:00 and 13:30–17:30.
    pub fn standard_windows() -> Vec<WorkingWindow> {
        let t = |h, m| Time::constant(h, m, 0, 0);
        vec![
            WorkingWindow {
                start: t(8, 30),
                end: t(12, 0),
            },
            WorkingWindow {
                start: t(13, 30),
                end: t(17, 30),
            },
        ]
    }

    /// Adds or replaces listed days. A date listed twice with different kinds is refused.
    pub fn set_days(&mut self, days: Vec<SpecialDay>) -> Result<(), CalendarError> {
        let mut seen: BTreeMap<Date, DayKind> = BTreeMap::new();
        for d in &days {
            if let Some(k) = seen.insert(d.date, d.kind)
                && k != d.kind
            {
                return Err(CalendarError::DayListedTwice { date: d.date });
            }
        }
        for d in days {
            self.days.insert(d.date, d);
        }
        Ok(())
    }

    /// Replaces every listed day of `year` by `days`.
    pub fn replace_year(&mut self, year: i16, days: Vec<SpecialDay>) -> Result<(), CalendarError> {
        let kept: Vec<SpecialDay> = self
            .days
            .values()
            .filter(|d| d.date.year() != year)
            .cloned()
            .collect();
        let mut all = kept;
        all.extend(days);
        self.days.clear();
        self.set_days(all)
    }

    pub fn time_zone_name(&self) -> &str {
        &self.time_zone_name
    }
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }
    pub fn windows(&self) -> &[WorkingWindow] {
        &self.windows
    }
    pub fn special_days(&self) -> impl Iterator<Item = &SpecialDay> {
        self.days.values()
    }

    /// Years for which the calendar lists at least one holiday.
    pub fn years_with_holidays(&self) -> Vec<i16> {
        let mut years: Vec<i16> = self.days.keys().map(|d| d.year()).collect();
        years.dedup();
        years
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        match self.days.get(&date).map(|d| d.kind) {
            Some(DayKind::MakeUpWorkday) => true,
            Some(DayKind::Holiday) => false,
            None => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    fn civil(&self, t: Timestamp) -> DateTime {
        self.time_zone.to_datetime(t)
    }

    fn instant(&self, dt: DateTime) -> Timestamp {
        // Ambiguous or skipped local times (daylight saving) resolve the "compatible" way.
        self.time_zone
            .to_ambiguous_timestamp(dt)
            .compatible()
            .unwrap_or_else(|_| {
                dt.to_zoned(TimeZone::UTC)
                    .map(|z| z.timestamp())
                    .unwrap_or(Timestamp::UNIX_EPOCH)
            })
    }

    fn close_of(&self, date: Date) -> DateTime {
        let last = self.windows[self.windows.len() - 1];
        date.to_datetime(last.end)
    }

    /// The deadline for `limit` started at `start`.
    pub fn deadline(&self, start: Timestamp, limit: TimeLimit) -> Timestamp {
        if limit.amount == 0 {
            return start;
        }
        match limit.clock {
            ClockType::UrgentHours => start
                .checked_add(SignedDuration::from_mins(i64::from(limit.amount)))
                .unwrap_or(Timestamp::MAX),
            ClockType::WorkingHours => self.add_working_minutes(start, i64::from(limit.amount)),
            ClockType::WorkingDays => {
                let mut date = self.civil(start).date();
                let mut counted = 0;
                while counted < limit.amount {
                    date = next_day(date);
                    if self.is_working_day(date) {
                        counted += 1;
                    }
                }
                self.instant(self.close_of(date))
            }
            ClockType::CalendarDays => {
                let mut date = self.civil(start).date();
                for _ in 0..=limit.amount {
                    date = next_day(date);
                }
                self.instant(date.to_datetime(Time::midnight()))
            }
        }
    }

    fn add_working_minutes(&self, start: Timestamp, minutes: i64) -> Timestamp {
        self.add_working_time(start, SignedDuration::from_mins(minutes))
    }

    /// The instant at which `amount` of working time has passed after `start`. A zero or
    /// negative amount is `start` itself.
    pub fn add_working_time(&self, start: Timestamp, amount: SignedDuration) -> Timestamp {
        let mut remaining = amount.as_secs();
        if remaining <= 0 {
            return start;
        }
        let start = self.civil(start);
        let mut date = start.date();
        let mut cursor = start.time();
        loop {
            if self.is_working_day(date) {
                for w in &self.windows {
                    if cursor >= w.end {
                        continue;
                    }
                    let from = cursor.max(w.start);
                    let available = seconds_between(from, w.end);
                    if remaining <= available {
                        let at = date
                            .to_datetime(from)
                            .checked_add(SignedDuration::from_secs(remaining))
                            .unwrap_or(date.to_datetime(w.end));
                        return self.instant(at);
                    }
                    remaining -= available;
                }
            }
            date = next_day(date);
            cursor = Time::midnight();
        }
    }

    /// Working time (inside windows, on working days) between two instants; negative when
    /// `to` is before `from`.
    pub fn working_time_between(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        if to < from {
            return -self.working_time_between(to, from);
        }
        let a = self.civil(from);
        let b = self.civil(to);
        let mut total = 0i64;
        let mut date = a.date();
        while date <= b.date() {
            if self.is_working_day(date) {
                for w in &self.windows {
                    let lo = if date == a.date() {
                        w.start.max(a.time())
                    } else {
                        w.start
                    };
                    let hi = if date == b.date() {
                        w.end.min(b.time())
                    } else {
                        w.end
                    };
                    if lo < hi {
                        total += seconds_between(lo, hi);
                    }
                }
            }
            date = next_day(date);
        }
        SignedDuration::from_secs(total)
    }

    /// Time left until `deadline` as measured by `clock`: working time for the working clocks,
    /// wall-clock time otherwise. Negative once the deadline has passed.
    pub fn remaining(
        &self,
        now: Timestamp,
        deadline: Timestamp,
        clock: ClockType,
    ) -> SignedDuration {
        match clock {
            ClockType::WorkingHours | ClockType::WorkingDays => {
                self.working_time_between(now, deadline)
            }
            ClockType::UrgentHours | ClockType::CalendarDays => deadline.duration_since(now),
        }
    }

    /// Length of a full working day, for display of working-day amounts.
    pub fn working_day_minutes(&self) -> i64 {
        self.windows.iter().map(WorkingWindow::minutes).sum()
    }
}

fn next_day(date: Date) -> Date {
    date.tomorrow().unwrap_or(date)
}

fn seconds_between(a: Time, b: Time) -> i64 {
    let secs =
        |t: Time| i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second());
    secs(b) - secs(a)
}

fn minutes_between(a: Time, b: Time) -> i64 {
    seconds_between(a, b) / 60
}

#[cfg(test)]
mod tests;
