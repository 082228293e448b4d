use super::*;
use jiff::civil::date;
use proptest::prelude::*;

/// 2026 春节: 15–23 February off; Saturday 14 and Saturday 28 February are make-up working days.
fn spring_festival_2026() -> WorkingCalendar {
    let mut days: Vec<SpecialDay> = (15..=23)
        .map(|d| SpecialDay {
            date: date(2026, 2, d),
            kind: DayKind::Holiday,
            name: "春节".into(),
        })
        .collect();
    for d in [14, 28] {
        days.push(SpecialDay {
            date: date(2026, 2, d),
            kind: DayKind::MakeUpWorkday,
            name: "春节调休".into(),
        });
    }
    WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), days)
        .expect("valid calendar")
}

fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
    date(y, m, d)
        .at(h, min, 0, 0)
        .in_tz("Asia/Shanghai")
        .expect("valid time")
        .timestamp()
}

fn wh(minutes: u32) -> TimeLimit {
    TimeLimit {
        clock: ClockType::WorkingHours,
        amount: minutes,
    }
}

fn limit(clock: ClockType, amount: u32) -> TimeLimit {
    TimeLimit { clock, amount }
}

#[test]
fn working_hours_inside_a_window() {
    let cal = spring_festival_2026();
    // Tuesday 2026-03-03 09:00 + 2h = 11:00
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 9, 0), wh(120)),
        at(2026, 3, 3, 11, 0)
    );
}

#[test]
fn working_hours_skip_lunch_break() {
    let cal = spring_festival_2026();
    // 11:00 + 2h: one hour before lunch, one after 13:30
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 11, 0), wh(120)),
        at(2026, 3, 3, 14, 30)
    );
}

#[test]
fn working_hours_started_before_opening_count_from_opening() {
    let cal = spring_festival_2026();
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 6, 15), wh(30)),
        at(2026, 3, 3, 9, 0)
    );
}

#[test]
fn working_hours_started_in_lunch_break_count_from_afternoon() {
    let cal = spring_festival_2026();
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 12, 40), wh(60)),
        at(2026, 3, 3, 14, 30)
    );
}

#[test]
fn working_hours_started_after_close_roll_to_next_working_day() {
    let cal = spring_festival_2026();
    // Friday 2026-03-06 19:00 + 1h → Monday 09:30
    assert_eq!(
        cal.deadline(at(2026, 3, 6, 19, 0), wh(60)),
        at(2026, 3, 9, 9, 30)
    );
}

#[test]
fn working_hours_started_on_weekend() {
    let cal = spring_festival_2026();
    assert_eq!(
        cal.deadline(at(2026, 3, 7, 10, 0), wh(90)),
        at(2026, 3, 9, 10, 0)
    );
}

#[test]
fn window_boundaries() {
    let cal = spring_festival_2026();
    // Exactly at opening.
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 8, 30), wh(1)),
        at(2026, 3, 3, 8, 31)
    );
    // Using up the morning exactly ends at 12:00, not at 13:30.
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 8, 30), wh(210)),
        at(2026, 3, 3, 12, 0)
    );
    // One more minute lands after lunch.
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 8, 30), wh(211)),
        at(2026, 3, 3, 13, 31)
    );
    // Starting exactly at 12:00 (window end) waits for the afternoon.
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 12, 0), wh(1)),
        at(2026, 3, 3, 13, 31)
    );
    // Starting exactly at 13:30.
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 13, 30), wh(240)),
        at(2026, 3, 3, 17, 30)
    );
    // Starting exactly at close rolls to the next day.
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 17, 30), wh(1)),
        at(2026, 3, 4, 8, 31)
    );
    // A full working day is 7.5 hours.
    assert_eq!(cal.working_day_minutes(), 450);
    assert_eq!(
        cal.deadline(at(2026, 3, 3, 8, 30), wh(450)),
        at(2026, 3, 3, 17, 30)
    );
}

#[test]
fn working_hours_span_spring_festival_with_make_up_saturday() {
    let cal = spring_festival_2026();
    // Friday 13 Feb 16:30 + 2h: 1h on Friday, then Saturday 14 Feb is a make-up working day.
    assert_eq!(
        cal.deadline(at(2026, 2, 13, 16, 30), wh(120)),
        at(2026, 2, 14, 9, 30)
    );
    // Saturday 14 Feb 17:00 + 1h: the holiday runs 15–23 Feb, so Tuesday 24 Feb 09:00.
    assert_eq!(
        cal.deadline(at(2026, 2, 14, 17, 0), wh(60)),
        at(2026, 2, 24, 9, 0)
    );
    // Reported on New Year's Eve (16 Feb, a holiday): counts from 24 Feb.
    assert_eq!(
        cal.deadline(at(2026, 2, 16, 10, 0), wh(30)),
        at(2026, 2, 24, 9, 0)
    );
}

#[test]
fn working_days_skip_the_start_day_and_the_holiday() {
    let cal = spring_festival_2026();
    // Thursday 12 Feb + 3 working days: Fri 13, Sat 14 (make-up), Tue 24 → close of 24 Feb.
    assert_eq!(
        cal.deadline(at(2026, 2, 12, 10, 0), limit(ClockType::WorkingDays, 3)),
        at(2026, 2, 24, 17, 30)
    );
    // Thursday 26 Feb + 2: Fri 27, Sat 28 (make-up) → close of Saturday 28 Feb.
    assert_eq!(
        cal.deadline(at(2026, 2, 26, 10, 0), limit(ClockType::WorkingDays, 2)),
        at(2026, 2, 28, 17, 30)
    );
    // Started after close on Friday: day 1 is Monday.
    assert_eq!(
        cal.deadline(at(2026, 3, 6, 20, 0), limit(ClockType::WorkingDays, 1)),
        at(2026, 3, 9, 17, 30)
    );
    // Started on an ordinary Sunday: day 1 is Monday.
    assert_eq!(
        cal.deadline(at(2026, 3, 8, 11, 0), limit(ClockType::WorkingDays, 1)),
        at(2026, 3, 9, 17, 30)
    );
}

#[test]
fn calendar_days_ignore_holidays() {
    let cal = spring_festival_2026();
    // 13 Feb + 3 calendar days → end of 16 Feb (midnight into 17 Feb), holidays or not.
    assert_eq!(
        cal.deadline(at(2026, 2, 13, 16, 30), limit(ClockType::CalendarDays, 3)),
        at(2026, 2, 17, 0, 0)
    );
    // Just before midnight still does not count its own day.
    assert_eq!(
        cal.deadline(at(2026, 2, 13, 23, 59), limit(ClockType::CalendarDays, 1)),
        at(2026, 2, 15, 0, 0)
    );
}

#[test]
fn urgent_hours_run_round_the_clock() {
    let cal = spring_festival_2026();
    assert_eq!(
        cal.deadline(at(2026, 2, 16, 23, 30), limit(ClockType::UrgentHours, 60)),
        at(2026, 2, 17, 0, 30)
    );
    assert_eq!(
        cal.deadline(at(2026, 3, 7, 3, 0), limit(ClockType::UrgentHours, 120)),
        at(2026, 3, 7, 5, 0)
    );
}

#[test]
fn zero_amount_is_the_start_on_every_clock() {
    let cal = spring_festival_2026();
    let start = at(2026, 2, 16, 3, 0);
    for clock in ClockType::ALL {
        assert_eq!(cal.deadline(start, limit(clock, 0)), start, "{clock}");
    }
}

#[test]
fn remaining_time_counts_only_working_time() {
    let cal = spring_festival_2026();
    let deadline = at(2026, 2, 24, 9, 0);
    // From Saturday 14 Feb 17:00 there is 30 min left that day and 30 min on the 24th.
    assert_eq!(
        cal.remaining(at(2026, 2, 14, 17, 0), deadline, ClockType::WorkingHours),
        SignedDuration::from_mins(60)
    );
    // Overdue by one working hour.
    assert_eq!(
        cal.remaining(at(2026, 2, 24, 10, 0), deadline, ClockType::WorkingHours),
        SignedDuration::from_mins(-60)
    );
    // Wall-clock for urgent hours.
    assert_eq!(
        cal.remaining(at(2026, 2, 23, 9, 0), deadline, ClockType::UrgentHours),
        SignedDuration::from_hours(24)
    );
}

#[test]
fn make_up_day_and_holiday_classification() {
    let cal = spring_festival_2026();
    assert!(cal.is_working_day(date(2026, 2, 14))); // Saturday, make-up
    assert!(!cal.is_working_day(date(2026, 2, 16))); // Monday, holiday
    assert!(!cal.is_working_day(date(2026, 2, 21))); // Saturday
    assert!(cal.is_working_day(date(2026, 2, 24))); // Tuesday
    assert!(!cal.is_working_day(date(2026, 3, 1))); // ordinary Sunday
}

#[test]
fn invalid_calendars_are_refused() {
    let t = |h, m| Time::constant(h, m, 0, 0);
    assert_eq!(
        WorkingCalendar::new("Asia/Shanghai", vec![], vec![]),
        Err(CalendarError::NoWindows)
    );
    assert!(matches!(
        WorkingCalendar::new("Mars/Olympus", WorkingCalendar::standard_windows(), vec![]),
        Err(CalendarError::UnknownTimeZone(_))
    ));
    let overlapping = vec![
        WorkingWindow::new(t(8, 0), t(12, 0)).expect("window"),
        WorkingWindow::new(t(11, 0), t(17, 0)).expect("window"),
    ];
    assert!(matches!(
        WorkingCalendar::new("Asia/Shanghai", overlapping, vec![]),
        Err(CalendarError::OverlappingWindows(..))
    ));
    assert!(WorkingWindow::new(t(12, 0), t(12, 0)).is_err());
    let twice = vec![
        SpecialDay {
            date: date(2026, 2, 14),
            kind: DayKind::Holiday,
            name: "a".into(),
        },
        SpecialDay {
            date: date(2026, 2, 14),
            kind: DayKind::MakeUpWorkday,
            name: "b".into(),
        },
    ];
    assert!(matches!(
        WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), twice),
        Err(CalendarError::DayListedTwice { .. })
    ));
}

#[test]
fn time_limits_parse_and_print() {
    let l = TimeLimit::parse(ClockType::WorkingHours, "1h30min").expect("parses");
    assert_eq!(l.amount, 90);
    assert_eq!(l.amount_text(), "1h30min");
    assert_eq!(
        TimeLimit::parse(ClockType::UrgentHours, "45min")
            .expect("parses")
            .amount_text(),
        "45min"
    );
    assert_eq!(
        TimeLimit::parse(ClockType::WorkingDays, "5d")
            .expect("parses")
            .amount,
        5
    );
    for bad in ["", "h", "5", "5d", "-1h", "1x", "99999999999h"] {
        assert!(
            TimeLimit::parse(ClockType::WorkingHours, bad).is_err(),
            "{bad:?} should be refused"
        );
    }
    assert!(TimeLimit::parse(ClockType::CalendarDays, "2h").is_err());
    assert_eq!(
        "3d 工作日".parse::<TimeLimit>(),
        Ok(limit(ClockType::WorkingDays, 3))
    );
    assert_eq!(
        "1h30min working_hours"
            .parse::<TimeLimit>()
            .map(|l| l.to_string()),
        Ok("1h30min working_hours".to_owned())
    );
    assert!("2h".parse::<TimeLimit>().is_err());
    assert!("2h fortnights".parse::<TimeLimit>().is_err());
    assert_eq!("工作日".parse::<ClockType>(), Ok(ClockType::WorkingDays));
    assert!("weeks".parse::<ClockType>().is_err());
    assert_eq!(
        "08:30-12:00"
            .parse::<WorkingWindow>()
            .expect("parses")
            .to_string(),
        "08:30-12:00"
    );
}

fn arb_start() -> impl Strategy<Value = Timestamp> {
    // Any minute from January to April 2026, so every run crosses the festival.
    (0i64..(120 * 24 * 60)).prop_map(|m| at(2026, 1, 1, 0, 0) + SignedDuration::from_mins(m))
}

proptest! {
    #[test]
    fn working_hours_deadline_consumes_exactly_the_amount(start in arb_start(), minutes in 1u32..5000) {
        let cal = spring_festival_2026();
        let end = cal.deadline(start, wh(minutes));
        prop_assert!(end > start);
        prop_assert_eq!(cal.working_time_between(start, end), SignedDuration::from_mins(i64::from(minutes)));
        // The deadline lies inside a window (or at its close) of a working day.
        let civil = cal.civil(end);
        prop_assert!(cal.is_working_day(civil.date()));
        prop_assert!(cal.windows().iter().any(|w| civil.time() > w.start && civil.time() <= w.end));
    }

    #[test]
    fn deadlines_are_monotonic(start in arb_start(), later in 0i64..10_000, amount in 0u32..20, clock_index in 0usize..4) {
        let cal = spring_festival_2026();
        let clock = ClockType::ALL[clock_index];
        let amount = if clock.counts_days() { amount } else { amount * 37 };
        let l = limit(clock, amount);
        let start2 = start + SignedDuration::from_mins(later);
        prop_assert!(cal.deadline(start, l) <= cal.deadline(start2, l));
        prop_assert!(cal.deadline(start, l) <= cal.deadline(start, limit(clock, amount + 1)));
    }

    #[test]
    fn working_days_end_at_close_of_a_working_day(start in arb_start(), days in 1u32..15) {
        let cal = spring_festival_2026();
        let end = cal.civil(cal.deadline(start, limit(ClockType::WorkingDays, days)));
        prop_assert!(cal.is_working_day(end.date()));
        prop_assert_eq!(end.time(), Time::constant(17, 30, 0, 0));
        prop_assert!(end.date() > cal.civil(start).date());
    }

    #[test]
    fn remaining_is_antisymmetric(a in arb_start(), b in arb_start()) {
        let cal = spring_festival_2026();
        prop_assert_eq!(cal.working_time_between(a, b), -cal.working_time_between(b, a));
    }

    #[test]
    fn time_limits_round_trip(minutes in 1u32..100_000) {
        let l = wh(minutes);
        prop_assert_eq!(TimeLimit::parse(l.clock, &l.amount_text()), Ok(l));
    }
}
