use super::*;
use crate::calendar::{DayKind, SpecialDay, WorkingCalendar};
use proptest::prelude::*;

fn d(s: &str) -> Date {
    s.parse().expect("date")
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("time")
}

/// 2026 as published: 清明 4–6 April, 国庆 1–7 October with 20 September and 10 October
/// worked, 春节 with 14 and 28 February worked.
fn china_2026() -> WorkingCalendar {
    let mut days = Vec::new();
    let mut holiday = |from: &str, to: &str| {
        let (mut day, to) = (d(from), d(to));
        while day <= to {
            days.push(SpecialDay {
                date: day,
                kind: DayKind::Holiday,
                name: "假日".into(),
            });
            day = day.tomorrow().expect("day");
        }
    };
    holiday("2026-02-15", "2026-02-23");
    holiday("2026-04-04", "2026-04-06");
    holiday("2026-10-01", "2026-10-07");
    for worked in ["2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10"] {
        days.push(SpecialDay {
            date: d(worked),
            kind: DayKind::MakeUpWorkday,
            name: "调休".into(),
        });
    }
    WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), days)
        .expect("calendar")
}

#[test]
fn a_period_ending_on_a_working_day_ends_that_day() {
    let cal = china_2026();
    // Raised Monday 2 March 10:00; 30 days later is Wednesday 1 April.
    assert_eq!(
        period_end(&cal, t("2026-03-02T02:00:00Z"), 30),
        t("2026-04-01T16:00:00Z")
    );
}

#[test]
fn a_period_ending_on_a_weekend_or_holiday_moves_to_the_next_working_day() {
    let cal = china_2026();
    // 6 March + 30 = Sunday 5 April, inside 清明 (4–6 April): ends Tuesday 7 April.
    assert_eq!(
        period_end(&cal, t("2026-03-06T02:00:00Z"), 30),
        t("2026-04-07T16:00:00Z")
    );
    // 3 September + 30 = 3 October, inside 国庆: ends Thursday 8 October.
    assert_eq!(
        period_end(&cal, t("2026-09-03T02:00:00Z"), 30),
        t("2026-10-08T16:00:00Z")
    );
    // An ordinary weekend: Friday 6 November + 7 = Friday 13; + 8 = Saturday 14 → Monday 16.
    assert_eq!(
        period_end(&cal, t("2026-11-06T02:00:00Z"), 8),
        t("2026-11-16T16:00:00Z")
    );
}

#[test]
fn a_period_ending_on_a_make_up_working_day_ends_that_day() {
    let cal = china_2026();
    // 29 January + 30 = Saturday 28 February, a 调休 working day.
    assert_eq!(
        period_end(&cal, t("2026-01-29T02:00:00Z"), 30),
        t("2026-02-28T16:00:00Z")
    );
    // 21 August + 30 = Sunday 20 September, worked for 国庆.
    assert_eq!(
        period_end(&cal, t("2026-08-21T02:00:00Z"), 30),
        t("2026-09-20T16:00:00Z")
    );
}

#[test]
fn the_day_is_the_calendars_day_not_utcs() {
    let cal = china_2026();
    // 23:30 on Monday 2 March in Beijing is still 2 March there.
    assert_eq!(
        period_end(&cal, t("2026-03-02T15:30:00Z"), 30),
        t("2026-04-01T16:00:00Z")
    );
}

#[test]
fn extensions_move_the_mediation_limit() {
    let cal = china_2026();
    let raised = t("2026-03-02T02:00:00Z");
    let p = Periods::default();
    assert_eq!(
        mediation_due(&cal, raised, &p, 0),
        t("2026-04-01T16:00:00Z")
    );
    // + 5 days = 6 April (清明) → 7 April.
    assert_eq!(
        mediation_due(&cal, raised, &p, 5),
        t("2026-04-07T16:00:00Z")
    );
}

#[test]
fn warnings_come_before_the_limit_and_breaches_at_it() {
    let due = t("2026-04-01T16:00:00Z");
    assert_eq!(limit_alarm(due, 5, t("2026-03-20T00:00:00Z")), Alarm::Green);
    assert_eq!(
        limit_alarm(due, 5, t("2026-03-27T16:00:00Z")),
        Alarm::Yellow
    );
    assert_eq!(limit_alarm(due, 5, due), Alarm::Red);
}

#[test]
fn the_lowest_competent_tier_depends_on_kind_risk_and_grid() {
    assert_eq!(starting_tier(Tier::Grid, Risk::Low, true), Tier::Grid);
    assert_eq!(starting_tier(Tier::Grid, Risk::Low, false), Tier::Community);
    assert_eq!(
        starting_tier(Tier::Grid, Risk::Medium, true),
        Tier::Community
    );
    assert_eq!(starting_tier(Tier::Street, Risk::Low, true), Tier::Street);
    assert_eq!(
        starting_tier(Tier::Community, Risk::High, true),
        Tier::Street
    );
}

#[test]
fn tiers_map_to_the_regions_that_mediate() {
    let c = RegionCode::try_from("440305001001".to_owned()).expect("code");
    assert_eq!(Tier::Grid.region_for(&c), c);
    assert_eq!(Tier::Community.region_for(&c), c);
    assert_eq!(Tier::Street.region_for(&c).as_str(), "440305001");
    assert_eq!(Tier::District.region_for(&c).as_str(), "440305");
}

fn raised(tier: Tier) -> DisputeState {
    apply(None, &DisputeAction::Raise { tier }).expect("raise")
}

#[test]
fn a_signed_agreement_changes_only_by_a_new_version() {
    let s = raised(Tier::Community);
    let s = apply(Some(&s), &DisputeAction::DraftAgreement { version: 1 }).expect("draft");
    // Redrafting before signing is a new version too.
    assert!(apply(Some(&s), &DisputeAction::DraftAgreement { version: 1 }).is_err());
    let s = apply(
        Some(&s),
        &DisputeAction::SignAgreement {
            version: 1,
            follow_ups: 2,
        },
    )
    .expect("sign");
    assert_eq!(s.status, DisputeStatus::Agreed);
    assert_eq!(s.agreed_tier, Some(Tier::Community));
    assert!(
        apply(
            Some(&s),
            &DisputeAction::SignAgreement {
                version: 1,
                follow_ups: 2
            }
        )
        .is_err()
    );
    let s = apply(Some(&s), &DisputeAction::DraftAgreement { version: 2 }).expect("v2");
    let s = apply(
        Some(&s),
        &DisputeAction::SignAgreement {
            version: 2,
            follow_ups: 2,
        },
    )
    .expect("sign v2");
    assert_eq!(s.signed_version, Some(2));
    assert_eq!(
        s.follow_ups_pending, 2,
        "a new version does not reset the visits"
    );
}

#[test]
fn follow_ups_settle_or_reopen() {
    let s = raised(Tier::Grid);
    let s = apply(
        Some(&s),
        &DisputeAction::RecordOralAgreement { follow_ups: 2 },
    )
    .expect("oral");
    let ok = apply(Some(&s), &DisputeAction::FollowUp { performed: true }).expect("1");
    assert_eq!(ok.status, DisputeStatus::Agreed);
    let done = apply(Some(&ok), &DisputeAction::FollowUp { performed: true }).expect("2");
    assert_eq!(done.status, DisputeStatus::Settled);
    let not = apply(Some(&ok), &DisputeAction::FollowUp { performed: false }).expect("no");
    assert_eq!(not.status, DisputeStatus::NotPerformed);
    let again = apply(
        Some(&not),
        &DisputeAction::Reopen {
            reason: "未按期付款".into(),
        },
    )
    .expect("reopen");
    assert_eq!(again.status, DisputeStatus::Mediating);
    assert_eq!(again.agreement, None);
    let referred = apply(
        Some(&not),
        &DisputeAction::Fail {
            referral: Referral::Litigation,
        },
    )
    .expect("refer");
    assert_eq!(referred.status, DisputeStatus::Failed);
    // Judicial confirmation is for written agreements only.
    assert!(apply(Some(&s), &DisputeAction::ApplyConfirmation).is_err());
}

#[test]
fn a_dispute_is_not_sent_below_where_it_started_and_extensions_are_capped() {
    let s = raised(Tier::Street);
    let up = apply(Some(&s), &DisputeAction::Escalate { reason: "x".into() }).expect("up");
    let back = apply(Some(&up), &DisputeAction::SendDown { reason: "x".into() }).expect("back");
    assert_eq!(back.tier, Tier::Street);
    assert!(apply(Some(&back), &DisputeAction::SendDown { reason: "x".into() }).is_err());
    let e = |days| DisputeAction::Extend {
        days,
        reason: "外出".into(),
    };
    let once = apply(Some(&s), &e(20)).expect("20 days");
    assert!(apply(Some(&once), &e(11)).is_err(), "31 days in all");
    assert!(apply(Some(&once), &e(10)).is_ok());
}

#[test]
fn tiers_end_at_the_grid_and_the_district() {
    let s = raised(Tier::Grid);
    assert!(apply(Some(&s), &DisputeAction::SendDown { reason: "x".into() }).is_err());
    let s = raised(Tier::District);
    assert!(apply(Some(&s), &DisputeAction::Escalate { reason: "x".into() }).is_err());
    let s = raised(Tier::Street);
    assert!(
        apply(Some(&s), &DisputeAction::Escalate { reason: " ".into() }).is_err(),
        "a move needs a reason"
    );
}

#[test]
fn the_canonical_text_is_the_content() {
    let content = AgreementContent {
        number: "MD-2026-0001".into(),
        version: 1,
        committee: "白石洲社区人民调解委员会".into(),
        parties: vec![
            NamedParty {
                side: "applicant".into(),
                name: "张三".into(),
            },
            NamedParty {
                side: "respondent".into(),
                name: "李四".into(),
            },
        ],
        facts: "楼上漏水".into(),
        terms: vec![Term {
            text: "李四于维修后赔偿 800 元".into(),
            due: Some(d("2026-04-10")),
        }],
        mediators: vec!["王调解".into()],
        date: d("2026-03-20"),
    };
    assert!(content.problems().is_empty());
    assert_eq!(content.canonical_text(), content.clone().canonical_text());
    let mut changed = content.clone();
    changed.terms[0].text = "李四于维修后赔偿 900 元".into();
    assert_ne!(content.canonical_text(), changed.canonical_text());
    let mut late = content.clone();
    late.terms[0].due = Some(d("2026-03-01"));
    assert!(!late.problems().is_empty());
}

fn candidates() -> Vec<DisputeAction> {
    use DisputeAction as A;
    let mut out = vec![
        A::Escalate {
            reason: "涉及多方".into(),
        },
        A::SendDown {
            reason: "宜就近调解".into(),
        },
        A::HoldSession,
        A::Extend {
            days: 10,
            reason: "当事人外出".into(),
        },
        A::RecordOralAgreement { follow_ups: 2 },
        A::Fail {
            referral: Referral::Arbitration,
        },
        A::ApplyConfirmation,
        A::RemindConfirmation,
        A::FollowUp { performed: true },
        A::FollowUp { performed: false },
        A::Reopen {
            reason: "未履行".into(),
        },
        A::Withdraw {
            reason: "撤回".into(),
        },
        A::Warn {
            alarm: Alarm::Yellow,
        },
        A::Warn { alarm: Alarm::Red },
    ];
    for v in 1..=4 {
        out.push(A::DraftAgreement { version: v });
        out.push(A::SignAgreement {
            version: v,
            follow_ups: 2,
        });
    }
    out
}

/// A random legal history: at each step, one of the actions that apply.
fn history() -> impl Strategy<Value = Vec<DisputeAction>> {
    (
        prop::sample::select(Tier::ALL.to_vec()),
        prop::collection::vec(any::<prop::sample::Index>(), 0..40),
    )
        .prop_map(|(tier, picks)| {
            let mut actions = vec![DisputeAction::Raise { tier }];
            let mut state = apply(None, &actions[0]).ok();
            for pick in picks {
                let legal: Vec<DisputeAction> = candidates()
                    .into_iter()
                    .filter(|a| apply(state.as_ref(), a).is_ok())
                    .collect();
                if legal.is_empty() {
                    break;
                }
                let a = pick.get(&legal).clone();
                state = apply(state.as_ref(), &a).ok();
                actions.push(a);
            }
            actions
        })
}

proptest! {
    #[test]
    fn no_step_skips_a_tier_and_only_moves_change_it(actions in history()) {
        let mut state: Option<DisputeState> = None;
        for a in &actions {
            let next = apply(state.as_ref(), a).expect("legal");
            if let Some(before) = &state {
                let (from, to) = (before.tier as i32, next.tier as i32);
                match a {
                    DisputeAction::Escalate { .. } => prop_assert_eq!(to, from + 1),
                    DisputeAction::SendDown { .. } => prop_assert_eq!(to, from - 1),
                    _ => prop_assert_eq!(to, from, "{:?} moved the tier", a),
                }
                prop_assert!(next.highest_tier >= next.tier);
                // A closed dispute takes nothing more.
                if before.status.is_closed() {
                    prop_assert!(false, "{:?} applied to a closed dispute", a);
                }
            }
            state = Some(next);
        }
        let escalations = actions.iter().filter(|a| matches!(a, DisputeAction::Escalate { .. })).count();
        let end = replay(&actions).expect("replays").expect("raised");
        prop_assert_eq!(Some(&end), state.as_ref());
        prop_assert_eq!(end.escalations as usize, escalations);
        if end.status.is_closed() {
            for a in candidates() {
                prop_assert!(apply(Some(&end), &a).is_err());
            }
        }
    }

    #[test]
    fn period_ends_fall_on_working_days_after_the_start(day in 0u32..330, days in 1u32..60) {
        let cal = china_2026();
        let start = t("2026-01-05T02:00:00Z") + jiff::SignedDuration::from_hours(24 * i64::from(day));
        let end = period_end(&cal, start, days);
        let last = (end - jiff::SignedDuration::from_secs(1)).to_zoned(cal.time_zone().clone()).date();
        prop_assert!(cal.is_working_day(last));
        let earliest = start.to_zoned(cal.time_zone().clone()).date() + jiff::Span::new().days(i64::from(days));
        prop_assert!(last >= earliest);
        // Never later than needed: every day between the earliest end and the end is a rest day.
        let mut day = earliest;
        while day < last {
            prop_assert!(!cal.is_working_day(day));
            day = day.tomorrow().expect("day");
        }
    }
}
