use super::*;
use crate::calendar::WorkingCalendar;
use crate::case::{CaseState, apply, decide};
use proptest::prelude::*;

fn calendar() -> WorkingCalendar {
    WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), vec![])
        .expect("calendar")
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("time")
}

fn step(at: &str, actor: &str, action: Action, to: Status) -> Step {
    Step {
        at: t(at),
        actor: actor.into(),
        action,
        to,
    }
}

fn meta<'a>(grid: &'a GridCode, region: &'a RegionCode, channel: Channel) -> CaseMeta<'a> {
    CaseMeta {
        channel,
        category: None,
        grid: Some(grid),
        region,
        repeat: false,
    }
}

fn report(at: &str, actor: &str) -> Step {
    step(
        at,
        actor,
        Action::Accept, // placeholder: the first step is the report; only its time and actor count
        Status::Reported,
    )
}

fn units(us: &[&str]) -> Vec<String> {
    us.iter().map(|u| (*u).to_owned()).collect()
}

#[test]
fn a_plain_loop_credits_the_place_the_unit_and_each_person() {
    let grid: GridCode = "440305001001001".parse().expect("g");
    let region: RegionCode = "440305001001".parse().expect("r");
    // Tuesday 3 March 2026, Beijing time: dispatched 10:00, reported back the next day 10:00
    // (working hours 8:30–12:00 and 13:30–17:30: 2 + 4 + 1.5 = 7.5 hours of working time).
    let steps = vec![
        report("2026-03-03T01:00:00Z", "resident"),
        step(
            "2026-03-03T01:10:00Z",
            "calltaker1",
            Action::Accept,
            Status::Accepted,
        ),
        step(
            "2026-03-03T01:20:00Z",
            "dispatcher.st1",
            Action::Register,
            Status::Registered,
        ),
        step(
            "2026-03-03T02:00:00Z",
            "dispatcher.st1",
            Action::Dispatch {
                units: units(&["SWJT", "ST001"]),
            },
            Status::Dispatched,
        ),
        step(
            "2026-03-03T03:00:00Z",
            "handler.swjt",
            Action::StartHandling,
            Status::Handling,
        ),
        step(
            "2026-03-04T02:00:00Z",
            "handler.swjt",
            Action::ReportBack {
                note: "done".into(),
            },
            Status::ReportedBack,
        ),
        step(
            "2026-03-04T06:00:00Z",
            "gw.st1c1.1",
            Action::Verify {
                passed: true,
                note: "ok".into(),
            },
            Status::Closed,
        ),
        step(
            "2026-03-05T06:00:00Z",
            "resident",
            Action::Evaluate {
                satisfaction: Satisfaction::BasicallySatisfied,
                comment: String::new(),
            },
            Status::Evaluated,
        ),
    ];
    let c = contributions(&meta(&grid, &region, Channel::Web), &steps, &calendar());
    let place = &c[&Subject::Grid(grid.to_string())];
    assert_eq!(place.reported, 1);
    assert_eq!(place.from_residents, 1);
    assert_eq!((place.responded, place.responded_on_time), (1, 1));
    assert_eq!((place.closed, place.closed_on_time), (1, 1));
    assert_eq!((place.evaluated, place.satisfied), (1, 1));
    assert_eq!(place.handling_minutes, 450);
    assert_eq!(c[&Subject::Region(region.to_string())], *place);
    let lead = &c[&Subject::Unit("SWJT".into())];
    assert_eq!(
        (
            lead.received,
            lead.handled,
            lead.handled_on_time,
            lead.overdue
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(
        (lead.closed, lead.satisfied, lead.handling_count),
        (1, 1, 1)
    );
    // The co-handler received it but does not answer for the outcome.
    let co = &c[&Subject::Unit("ST001".into())];
    assert_eq!((co.received, co.handled, co.closed), (1, 0, 0));
    assert_eq!(c[&Subject::Staff("calltaker1".into())].accepted, 1);
    assert_eq!(c[&Subject::Staff("calltaker1".into())].accepted_accurate, 1);
    let d = &c[&Subject::Staff("dispatcher.st1".into())];
    assert_eq!(
        (d.registered, d.dispatched, d.dispatched_accurate),
        (1, 1, 1)
    );
    let gw = &c[&Subject::Staff("gw.st1c1.1".into())];
    assert_eq!((gw.verified, gw.verified_on_time, gw.closed_by), (1, 1, 1));
    assert!(!c.contains_key(&Subject::Staff("resident".into())));
    let i = Indicators::of("unit", lead.clone());
    assert_eq!(i.response_rate, Some(1.0));
    assert_eq!(i.satisfaction_rate, Some(1.0));
    assert_eq!(i.p90_handling_minutes, Some(480));
}

#[test]
fn breaches_send_backs_transfers_and_rework_land_on_the_right_unit() {
    let grid: GridCode = "440305001001001".parse().expect("g");
    let region: RegionCode = "440305001001".parse().expect("r");
    let steps = vec![
        report("2026-03-03T01:00:00Z", "gw.st1c1.1"),
        step(
            "2026-03-03T01:10:00Z",
            "dispatcher.st1",
            Action::Accept,
            Status::Accepted,
        ),
        step(
            "2026-03-03T01:20:00Z",
            "dispatcher.st1",
            Action::Register,
            Status::Registered,
        ),
        step(
            "2026-03-03T02:00:00Z",
            "dispatcher.st1",
            Action::Dispatch {
                units: units(&["CGJ"]),
            },
            Status::Dispatched,
        ),
        step(
            "2026-03-03T03:00:00Z",
            "h.cgj",
            Action::SendBack {
                reason: "not ours".into(),
            },
            Status::Registered,
        ),
        step(
            "2026-03-03T04:00:00Z",
            "dispatcher.st1",
            Action::Dispatch {
                units: units(&["ZJJ"]),
            },
            Status::Dispatched,
        ),
        step(
            "2026-03-03T05:00:00Z",
            "h.zjj",
            Action::Transfer {
                units: units(&["SWJ"]),
                reason: "x".into(),
            },
            Status::Dispatched,
        ),
        step(
            "2026-03-03T06:00:00Z",
            "h.swj",
            Action::StartHandling,
            Status::Handling,
        ),
        step(
            "2026-03-06T06:00:00Z",
            "system",
            Action::RaiseAlarm {
                stage: Stage::Handle,
                level: Alarm::Red,
            },
            Status::Handling,
        ),
        step(
            "2026-03-06T07:00:00Z",
            "h.swj",
            Action::ReportBack { note: "x".into() },
            Status::ReportedBack,
        ),
        step(
            "2026-03-06T08:00:00Z",
            "gw.st1c1.2",
            Action::Verify {
                passed: false,
                note: "no".into(),
            },
            Status::Handling,
        ),
        step(
            "2026-03-06T09:00:00Z",
            "h.swj",
            Action::ReportBack { note: "x".into() },
            Status::ReportedBack,
        ),
        step(
            "2026-03-06T09:30:00Z",
            "gw.st1c1.2",
            Action::Verify {
                passed: true,
                note: "ok".into(),
            },
            Status::Closed,
        ),
    ];
    let c = contributions(&meta(&grid, &region, Channel::Patrol), &steps, &calendar());
    let cgj = &c[&Subject::Unit("CGJ".into())];
    assert_eq!(
        (cgj.received, cgj.sent_back, cgj.handled, cgj.overdue),
        (1, 1, 0, 0)
    );
    let zjj = &c[&Subject::Unit("ZJJ".into())];
    assert_eq!((zjj.received, zjj.handled, zjj.closed), (1, 0, 0));
    let swj = &c[&Subject::Unit("SWJ".into())];
    assert_eq!(
        (swj.received, swj.handled, swj.handled_on_time, swj.overdue),
        (1, 1, 0, 1)
    );
    assert_eq!(
        (
            swj.rework_events,
            swj.reworked_cases,
            swj.closed,
            swj.closed_on_time
        ),
        (1, 1, 1, 0)
    );
    let place = &c[&Subject::Grid(grid.to_string())];
    assert_eq!((place.from_patrol, place.closed_on_time), (1, 0));
    let patrol = &c[&Subject::Staff("gw.st1c1.1".into())];
    assert_eq!((patrol.patrol_reports, patrol.patrol_valid), (1, 1));
    let checker = &c[&Subject::Staff("gw.st1c1.2".into())];
    assert_eq!((checker.verified, checker.closed_by), (2, 1));
    let d = &c[&Subject::Staff("dispatcher.st1".into())];
    assert_eq!(
        (d.dispatched, d.dispatched_accurate),
        (2, 0),
        "sent back and transferred"
    );
}

#[test]
fn rates_grades_and_composites() {
    let mut c = Counters {
        received: 10,
        led: 10,
        responded_on_time: 9,
        taken_on: 8,
        closed: 6,
        evaluated: 4,
        satisfied: 3,
        ..Counters::default()
    };
    c.handling_histogram[0] = 9;
    c.handling_histogram[5] = 1;
    let i = Indicators::of("unit", c);
    assert_eq!(i.response_rate, Some(0.9));
    assert_eq!(i.resolution_rate, Some(0.75));
    assert_eq!(i.satisfaction_rate, Some(0.75));
    assert_eq!(i.p90_handling_minutes, Some(30), "9 of 10 under 30 minutes");
    assert_eq!(i.send_back_rate, Some(0.0));
    assert_eq!(i.rework_rate, None, "nothing handled");
    assert_eq!(grade(90.0, &DEFAULT_BANDS), 'A');
    assert_eq!(grade(89.9, &DEFAULT_BANDS), 'B');
    assert_eq!(grade(60.0, &DEFAULT_BANDS), 'C');
    assert_eq!(grade(40.0, &DEFAULT_BANDS), 'D');
    assert_eq!(grade(39.9, &DEFAULT_BANDS), 'E');
    assert_eq!(
        composite(&[(Some(1.0), 2.0), (Some(0.5), 2.0), (None, 5.0)]),
        Some(75.0)
    );
    assert_eq!(composite(&[(None, 1.0)]), None);
}

/// Random legal histories, as the case tests generate them.
fn history(actions: Vec<Action>) -> Vec<Step> {
    let mut state = CaseState::new();
    let mut at = t("2026-03-02T01:00:00Z");
    let mut steps = vec![report("2026-03-02T01:00:00Z", "resident")];
    for (i, a) in actions.into_iter().enumerate() {
        if let Ok(tr) = decide(&state, a) {
            state = apply(&state, &tr);
            at += jiff::SignedDuration::from_mins(37 * (i as i64 % 5 + 1));
            steps.push(Step {
                at,
                actor: if i % 3 == 0 {
                    "system".into()
                } else {
                    format!("staff{}", i % 4)
                },
                action: tr.action,
                to: tr.to,
            });
        }
    }
    steps
}

proptest! {
    /// Whatever the history: parts never exceed their wholes, every subject's counters are
    /// sane, and summing contributions does not depend on the order.
    #[test]
    fn contributions_are_consistent_and_additive(
        a in proptest::collection::vec(crate::case::tests::arb_action(), 0..60),
        b in proptest::collection::vec(crate::case::tests::arb_action(), 0..60),
    ) {
        let grid: GridCode = "440305001001001".parse().expect("g");
        let region: RegionCode = "440305001001".parse().expect("r");
        let cal = calendar();
        let ca = contributions(&meta(&grid, &region, Channel::Web), &history(a), &cal);
        let cb = contributions(&meta(&grid, &region, Channel::Hotline), &history(b), &cal);
        for c in ca.values().chain(cb.values()) {
            prop_assert!(c.responded_on_time <= c.responded);
            prop_assert!(c.handled_on_time <= c.handled && c.handled <= c.received.max(c.handled));
            prop_assert!(c.closed_on_time <= c.closed);
            prop_assert!(c.satisfied <= c.evaluated && c.evaluated <= 1);
            prop_assert!(c.reworked_cases <= 1 && c.reworked_cases <= c.rework_events);
            prop_assert_eq!(c.handling_histogram.iter().sum::<u64>(), c.handling_count);
            prop_assert!(c.accepted_on_time <= c.accepted && c.dispatched_accurate <= c.dispatched);
        }
        let place = &ca[&Subject::Region(region.to_string())];
        prop_assert_eq!(place.reported, 1);
        let mut ab = Counters::default();
        ab += &ca[&Subject::Grid(grid.to_string())];
        ab += &cb[&Subject::Grid(grid.to_string())];
        let mut ba = Counters::default();
        ba += &cb[&Subject::Grid(grid.to_string())];
        ba += &ca[&Subject::Grid(grid.to_string())];
        prop_assert_eq!(&ab, &ba);
        prop_assert_eq!(ab.reported, 2);
        prop_assert_eq!(ab.from_residents, 2);
    }
}

#[test]
fn a_case_only_reported_has_no_response_yet() {
    let grid: GridCode = "440305001001001".parse().expect("g");
    let region: RegionCode = "440305001001".parse().expect("r");
    let c = contributions(
        &meta(&grid, &region, Channel::Web),
        &[report("2026-03-03T01:00:00Z", "resident")],
        &calendar(),
    );
    let place = &c[&Subject::Region(region.to_string())];
    assert_eq!((place.reported, place.responded, place.taken_on), (1, 0, 1));
    assert_eq!(c.len(), 2, "the grid and the community only");
    assert!(contributions(&meta(&grid, &region, Channel::Web), &[], &calendar()).is_empty());
}

#[test]
fn red_and_black_lists_never_share_a_subject() {
    let ranked = ["a", "b", "c", "d", "e", "f", "g"];
    assert_eq!(
        red_and_black(&ranked, 3),
        (vec!["a", "b", "c"], vec!["g", "f", "e"])
    );
    // Four subjects: two each, not three with two on both lists.
    assert_eq!(
        red_and_black(&ranked[..4], 3),
        (vec!["a", "b"], vec!["d", "c"])
    );
    // One subject is on neither: being alone is no ranking.
    assert_eq!(red_and_black(&ranked[..1], 3), (vec![], vec![]));
    assert_eq!(red_and_black(&ranked[..3], 3), (vec!["a"], vec!["c"]));
}

proptest! {
    #[test]
    fn red_and_black_are_disjoint_and_ordered(len in 0usize..40, n in 0usize..6) {
        let ranked: Vec<usize> = (0..len).collect();
        let (red, black) = red_and_black(&ranked, n);
        prop_assert!(red.len() <= n && black.len() <= n);
        prop_assert_eq!(red.len(), black.len());
        prop_assert!(red.iter().all(|r| !black.contains(r)));
        // The best are red, the worst black, worst first.
        prop_assert!(red.iter().enumerate().all(|(i, r)| *r == i));
        prop_assert!(black.iter().enumerate().all(|(i, b)| *b == len - 1 - i));
    }
}

#[test]
fn every_kind_shows_the_indicators_that_apply_to_it() {
    assert!(!indicators_for("unit").contains(&"reported"));
    assert!(indicators_for("unit").contains(&"send_back_rate"));
    assert!(!indicators_for("grid").contains(&"send_back_rate"));
    assert!(indicators_for("region").contains(&"reported"));
    assert!(indicators_for("staff").contains(&"valid_report_rate"));
    let c = Counters {
        received: 4,
        led: 3,
        reported: 9,
        accepted: 2,
        dispatched: 1,
        ..Default::default()
    };
    assert_eq!(volume("unit", &c), 4);
    assert_eq!(volume("grid", &c), 9);
    assert_eq!(volume("region", &c), 9);
    assert_eq!(volume("staff", &c), 3);
}
