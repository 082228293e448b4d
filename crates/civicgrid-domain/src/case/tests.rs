use super::*;
use crate::calendar::{ClockType, TimeLimit};
use crate::catalogue::Stage;
use proptest::prelude::*;
use uuid::Uuid;

fn units(us: &[&str]) -> Vec<String> {
    us.iter().map(|u| (*u).to_owned()).collect()
}

fn extension() -> Request {
    Request::Extension {
        stage: Stage::Handle,
        extra: TimeLimit {
            clock: ClockType::WorkingDays,
            amount: 2,
        },
        reason: "等待配件".into(),
    }
}

/// One action of each kind, valid in payload, so that only the state decides.
pub(crate) fn one_of_each() -> Vec<Action> {
    vec![
        Action::Correct {
            grid: Some("440305001001002".parse().expect("grid")),
            location_e6: Some((113_917_100, 22_516_800)),
            category: None,
            routed_units: units(&["CGJ"]),
            routing: "rule 1".into(),
            reason: "居民描述的位置在隔壁网格".into(),
        },
        Action::Accept,
        Action::Refuse {
            reason: "不属于受理范围".into(),
        },
        Action::Register,
        Action::Dispatch {
            units: units(&["CGJ", "ST001"]),
        },
        Action::StartHandling,
        Action::ReportBack {
            note: "已更换井盖".into(),
        },
        Action::Verify {
            passed: true,
            note: String::new(),
        },
        Action::Verify {
            passed: false,
            note: "井盖仍松动".into(),
        },
        Action::Evaluate {
            satisfaction: Satisfaction::Unsatisfied,
            comment: "没修好".into(),
        },
        Action::Evaluate {
            satisfaction: Satisfaction::Satisfied,
            comment: String::new(),
        },
        Action::Reopen {
            reason: "居民不满意".into(),
        },
        Action::SendBack {
            reason: "不属本单位职责".into(),
        },
        Action::Transfer {
            units: units(&["ZJJ"]),
            reason: "转住建".into(),
        },
        Action::RequestApproval {
            request: extension(),
        },
        Action::RequestApproval {
            request: Request::Shelve {
                reason: "需纳入年度改造计划".into(),
            },
        },
        Action::RequestApproval {
            request: Request::Void {
                reason: "重复上报".into(),
            },
        },
        Action::DecideApproval {
            approve: true,
            note: String::new(),
        },
        Action::DecideApproval {
            approve: false,
            note: "理由不充分".into(),
        },
        Action::Resume,
        Action::Supervise {
            on: true,
            note: "街道督办".into(),
        },
        Action::Supervise {
            on: false,
            note: String::new(),
        },
        Action::MergeInto {
            master: Uuid::nil(),
        },
        Action::ResolveOnSite {
            note: "现场劝离".into(),
        },
        Action::Escalate {
            tier: Tier::Community,
            reason: "处置超时".into(),
        },
    ]
}

/// Drives a fresh case along the main path to `target`.
fn at(target: Status) -> CaseState {
    let path = [
        (Status::Accepted, Action::Accept),
        (Status::Registered, Action::Register),
        (
            Status::Dispatched,
            Action::Dispatch {
                units: units(&["CGJ"]),
            },
        ),
        (Status::Handling, Action::StartHandling),
        (
            Status::ReportedBack,
            Action::ReportBack {
                note: "已处理".into(),
            },
        ),
        (
            Status::Closed,
            Action::Verify {
                passed: true,
                note: String::new(),
            },
        ),
        (
            Status::Evaluated,
            Action::Evaluate {
                satisfaction: Satisfaction::Unsatisfied,
                comment: String::new(),
            },
        ),
    ];
    let mut s = CaseState::new();
    if s.status == target {
        return s;
    }
    for (status, action) in path {
        s = apply(&s, &decide(&s, action).expect("main path"));
        if status == target {
            return s;
        }
    }
    panic!("{target} is not on the main path")
}

#[test]
fn the_main_path_closes_the_loop() {
    let s = at(Status::Evaluated);
    assert_eq!(s.status, Status::Evaluated);
    assert_eq!(s.version, 8);
    assert_eq!(s.lead(), Some("CGJ"));
    assert_eq!(s.rework_count, 0);
}

/// Which action names each main-path status allows; everything else must be refused with the
/// current state named.
#[test]
fn every_action_in_every_main_path_state() {
    use Status::*;
    let allowed: &[(Status, &[&str])] = &[
        (
            Reported,
            &[
                "correct",
                "accept",
                "refuse",
                "request_approval",
                "supervise+",
                "merge",
                "resolve_on_site",
                "escalate",
            ],
        ),
        (
            Accepted,
            &[
                "correct",
                "register",
                "request_approval",
                "supervise+",
                "merge",
                "escalate",
            ],
        ),
        (
            Registered,
            &[
                "correct",
                "dispatch",
                "request_approval",
                "supervise+",
                "merge",
                "escalate",
            ],
        ),
        (
            Dispatched,
            &[
                "start_handling",
                "send_back",
                "transfer",
                "request_approval",
                "supervise+",
                "escalate",
            ],
        ),
        (
            Handling,
            &[
                "report_back",
                "send_back",
                "transfer",
                "request_approval",
                "supervise+",
                "escalate",
            ],
        ),
        (
            ReportedBack,
            &[
                "verify",
                "verify",
                "request_approval",
                "supervise+",
                "escalate",
            ],
        ),
        (Closed, &["evaluate", "evaluate"]),
        (Evaluated, &["reopen"]),
    ];
    for (status, names) in allowed {
        let state = at(*status);
        let mut expected: Vec<&str> = names.to_vec();
        let mut got = Vec::new();
        for action in one_of_each() {
            let label = match &action {
                Action::Supervise { on: true, .. } => "supervise+",
                Action::Supervise { on: false, .. } => "supervise-",
                a => a.name(),
            };
            match decide(&state, action.clone()) {
                Ok(t) => {
                    assert_eq!(t.from, *status);
                    assert_eq!(t.version, state.version + 1);
                    got.push(label);
                }
                Err(TransitionError::NotAllowedInState { status: named, .. }) => {
                    assert_eq!(named, *status, "{label} must name the current state");
                }
                Err(TransitionError::Requirement { .. }) => {}
            }
        }
        // Each of the three approval requests counts once per kind it allows.
        got.dedup();
        expected.dedup();
        assert_eq!(got, expected, "in state {status}");
    }
}

#[test]
fn refused_voided_and_merged_cases_are_final() {
    let refused = apply(
        &CaseState::new(),
        &decide(&CaseState::new(), Action::Refuse { reason: "x".into() }).expect("refuse"),
    );
    let merged = apply(
        &CaseState::new(),
        &decide(
            &CaseState::new(),
            Action::MergeInto {
                master: Uuid::nil(),
            },
        )
        .expect("merge"),
    );
    let mut voided = CaseState::new();
    for a in [
        Action::RequestApproval {
            request: Request::Void {
                reason: "测试数据".into(),
            },
        },
        Action::DecideApproval {
            approve: true,
            note: String::new(),
        },
    ] {
        voided = apply(&voided, &decide(&voided, a).expect("void"));
    }
    assert_eq!(voided.status, Status::Voided);
    for state in [refused, merged, voided] {
        for action in one_of_each() {
            assert!(
                decide(&state, action.clone()).is_err(),
                "{} allowed {}",
                state.status,
                action.name()
            );
        }
    }
}

#[test]
fn verification_failure_and_reopening_count_as_rework() {
    let mut s = at(Status::ReportedBack);
    let fail = decide(
        &s,
        Action::Verify {
            passed: false,
            note: "仍有积水".into(),
        },
    )
    .expect("fail");
    assert_eq!(fail.to, Status::Handling);
    s = apply(&s, &fail);
    assert_eq!(s.rework_count, 1);
    assert!(matches!(
        decide(
            &s,
            Action::Verify {
                passed: true,
                note: String::new()
            }
        ),
        Err(TransitionError::NotAllowedInState {
            status: Status::Handling,
            ..
        })
    ));
    // A failed check must say why.
    let back = at(Status::ReportedBack);
    assert!(matches!(
        decide(
            &back,
            Action::Verify {
                passed: false,
                note: " ".into()
            }
        ),
        Err(TransitionError::Requirement { .. })
    ));
    // Only an unsatisfied evaluation can be reopened.
    let mut satisfied = at(Status::Closed);
    satisfied = apply(
        &satisfied,
        &decide(
            &satisfied,
            Action::Evaluate {
                satisfaction: Satisfaction::Satisfied,
                comment: String::new(),
            },
        )
        .expect("evaluate"),
    );
    assert!(decide(&satisfied, Action::Reopen { reason: "x".into() }).is_err());
    let unsatisfied = at(Status::Evaluated);
    let reopened = apply(
        &unsatisfied,
        &decide(
            &unsatisfied,
            Action::Reopen {
                reason: "居民不满意".into(),
            },
        )
        .expect("reopen"),
    );
    assert_eq!(
        (reopened.status, reopened.rework_count),
        (Status::Handling, 1)
    );
}

#[test]
fn send_back_and_transfer() {
    let s = at(Status::Handling);
    let back = apply(
        &s,
        &decide(
            &s,
            Action::SendBack {
                reason: "非本单位职责".into(),
            },
        )
        .expect("send back"),
    );
    assert_eq!(
        (back.status, back.send_back_count, back.units.len()),
        (Status::Registered, 1, 0)
    );
    assert!(
        decide(
            &s,
            Action::SendBack {
                reason: String::new()
            }
        )
        .is_err()
    );
    let moved = apply(
        &s,
        &decide(
            &s,
            Action::Transfer {
                units: units(&["ZJJ", "ST001"]),
                reason: "转派".into(),
            },
        )
        .expect("transfer"),
    );
    assert_eq!(
        (moved.status, moved.lead(), moved.transfer_count),
        (Status::Dispatched, Some("ZJJ"), 1)
    );
    assert!(
        decide(
            &moved,
            Action::Transfer {
                units: units(&["ZJJ", "ST001"]),
                reason: "x".into()
            }
        )
        .is_err()
    );
    assert!(
        decide(
            &s,
            Action::Transfer {
                units: units(&["A", "A"]),
                reason: "x".into()
            }
        )
        .is_err()
    );
    let r = at(Status::Registered);
    assert!(decide(&r, Action::Dispatch { units: vec![] }).is_err());
}

#[test]
fn approvals_extension_shelving_and_resuming() {
    let s = at(Status::Handling);
    let asked = apply(
        &s,
        &decide(
            &s,
            Action::RequestApproval {
                request: extension(),
            },
        )
        .expect("ask"),
    );
    assert_eq!(asked.status, Status::Handling);
    // One request at a time.
    assert!(
        decide(
            &asked,
            Action::RequestApproval {
                request: Request::Shelve { reason: "x".into() }
            }
        )
        .is_err()
    );
    let granted = apply(
        &asked,
        &decide(
            &asked,
            Action::DecideApproval {
                approve: true,
                note: String::new(),
            },
        )
        .expect("ok"),
    );
    assert_eq!(granted.extensions.len(), 1);
    assert!(granted.pending.is_none());
    assert!(
        decide(
            &granted,
            Action::DecideApproval {
                approve: true,
                note: String::new()
            }
        )
        .is_err()
    );

    let asked = apply(
        &granted,
        &decide(
            &granted,
            Action::RequestApproval {
                request: Request::Shelve {
                    reason: "纳入改造计划".into(),
                },
            },
        )
        .expect("ask"),
    );
    let rejected = apply(
        &asked,
        &decide(
            &asked,
            Action::DecideApproval {
                approve: false,
                note: "不同意".into(),
            },
        )
        .expect("no"),
    );
    assert_eq!(
        (rejected.status, rejected.pending.clone()),
        (Status::Handling, None)
    );
    let asked = apply(
        &rejected,
        &decide(
            &rejected,
            Action::RequestApproval {
                request: Request::Shelve {
                    reason: "纳入改造计划".into(),
                },
            },
        )
        .expect("ask"),
    );
    let shelved = apply(
        &asked,
        &decide(
            &asked,
            Action::DecideApproval {
                approve: true,
                note: String::new(),
            },
        )
        .expect("ok"),
    );
    assert_eq!(
        (shelved.status, shelved.shelved_from),
        (Status::Shelved, Some(Status::Handling))
    );
    assert!(decide(&shelved, Action::ReportBack { note: "x".into() }).is_err());
    assert!(
        decide(
            &shelved,
            Action::Escalate {
                tier: Tier::Community,
                reason: "x".into()
            }
        )
        .is_err()
    );
    let resumed = apply(&shelved, &decide(&shelved, Action::Resume).expect("resume"));
    assert_eq!(
        (resumed.status, resumed.shelved_from),
        (Status::Handling, None)
    );
    assert!(decide(&resumed, Action::Resume).is_err());
    let zero = Request::Extension {
        stage: Stage::Handle,
        extra: TimeLimit {
            clock: ClockType::WorkingDays,
            amount: 0,
        },
        reason: "x".into(),
    };
    assert!(decide(&resumed, Action::RequestApproval { request: zero }).is_err());
}

#[test]
fn escalation_climbs_one_tier_at_a_time() {
    let mut s = at(Status::Dispatched);
    assert!(
        decide(
            &s,
            Action::Escalate {
                tier: Tier::Street,
                reason: "x".into()
            }
        )
        .is_err()
    );
    for tier in [Tier::Community, Tier::Street, Tier::District] {
        s = apply(
            &s,
            &decide(
                &s,
                Action::Escalate {
                    tier,
                    reason: "超时".into(),
                },
            )
            .expect("climb"),
        );
        assert_eq!(s.tier, tier);
    }
    assert!(
        decide(
            &s,
            Action::Escalate {
                tier: Tier::District,
                reason: "x".into()
            }
        )
        .is_err()
    );
}

#[test]
fn on_the_spot_resolution_and_supervision() {
    let s = CaseState::new();
    let done = apply(
        &s,
        &decide(
            &s,
            Action::ResolveOnSite {
                note: "已劝离".into(),
            },
        )
        .expect("resolve"),
    );
    assert_eq!((done.status, done.resolved_on_site), (Status::Closed, true));
    let d = at(Status::Dispatched);
    let sup = apply(
        &d,
        &decide(
            &d,
            Action::Supervise {
                on: true,
                note: "督办".into(),
            },
        )
        .expect("on"),
    );
    assert!(sup.supervised);
    assert!(
        decide(
            &sup,
            Action::Supervise {
                on: true,
                note: String::new()
            }
        )
        .is_err()
    );
}

#[test]
fn alarms_rise_once_per_level_and_reset_with_the_stage() {
    use crate::case::deadline::Alarm;
    let s = at(Status::Dispatched);
    let yellow = Action::RaiseAlarm {
        stage: Stage::Handle,
        level: Alarm::Yellow,
    };
    let s = apply(&s, &decide(&s, yellow.clone()).expect("yellow"));
    assert!(decide(&s, yellow).is_err(), "raised once");
    assert!(
        decide(
            &s,
            Action::RaiseAlarm {
                stage: Stage::Accept,
                level: Alarm::Red
            }
        )
        .is_err(),
        "not this stage"
    );
    let s = apply(
        &s,
        &decide(
            &s,
            Action::RaiseAlarm {
                stage: Stage::Handle,
                level: Alarm::Red,
            },
        )
        .expect("red"),
    );
    assert!(
        decide(
            &s,
            Action::RaiseAlarm {
                stage: Stage::Handle,
                level: Alarm::Yellow
            }
        )
        .is_err(),
        "never down"
    );
    // Handling keeps the stage; reporting back starts the verify stage afresh.
    let s = apply(&s, &decide(&s, Action::StartHandling).expect("start"));
    assert_eq!(s.alarm, Some((Stage::Handle, Alarm::Red)));
    let s = apply(
        &s,
        &decide(
            &s,
            Action::ReportBack {
                note: "done".into(),
            },
        )
        .expect("report"),
    );
    assert_eq!(s.alarm, None);
}

#[test]
fn whistle_calls_are_answered_or_missed_once() {
    let due: jiff::Timestamp = "2026-03-03T08:00:00Z".parse().expect("t");
    let s = at(Status::Handling);
    let call = Action::WhistleCall {
        units: units(&["ZJJ", "SJJ"]),
        due_at: due,
        note: "联合执法".into(),
    };
    let s = apply(&s, &decide(&s, call.clone()).expect("call"));
    assert_eq!(s.open_summons().count(), 2);
    assert!(
        decide(&s, call).is_err(),
        "already summoned and not yet answered"
    );
    let s = apply(
        &s,
        &decide(
            &s,
            Action::AnswerWhistle {
                unit: "ZJJ".into(),
                note: "已到场".into(),
            },
        )
        .expect("answer"),
    );
    assert!(
        decide(
            &s,
            Action::AnswerWhistle {
                unit: "ZJJ".into(),
                note: "again".into()
            }
        )
        .is_err()
    );
    assert!(
        decide(&s, Action::MissWhistle { unit: "ZJJ".into() }).is_err(),
        "answered in time"
    );
    let s = apply(
        &s,
        &decide(&s, Action::MissWhistle { unit: "SJJ".into() }).expect("missed"),
    );
    assert_eq!(s.open_summons().count(), 0);
    assert!(s.summons.iter().any(|x| x.unit == "SJJ" && x.missed));
    assert!(
        decide(
            &s,
            Action::AnswerWhistle {
                unit: "SJJ".into(),
                note: "late".into()
            }
        )
        .is_err()
    );
    assert!(
        decide(
            &s,
            Action::WhistleCall {
                units: vec![],
                due_at: due,
                note: "x".into()
            }
        )
        .is_err()
    );
}

/// A case that is no longer open takes no whistle breach (found by fuzzing: a merged case did).
#[test]
fn a_case_no_longer_open_takes_no_whistle_breach() {
    let due: jiff::Timestamp = "2026-03-03T08:00:00Z".parse().expect("t");
    let s = at(Status::Handling);
    let call = Action::WhistleCall {
        units: units(&["ZJJ"]),
        due_at: due,
        note: "联合执法".into(),
    };
    let summoned = apply(&s, &decide(&s, call).expect("call"));
    for status in [
        Status::Merged,
        Status::Voided,
        Status::Refused,
        Status::Closed,
        Status::Evaluated,
    ] {
        let mut done = summoned.clone();
        done.status = status;
        assert!(
            decide(&done, Action::MissWhistle { unit: "ZJJ".into() }).is_err(),
            "{status:?}"
        );
    }
    assert!(decide(&summoned, Action::MissWhistle { unit: "ZJJ".into() }).is_ok());
}

#[test]
fn every_action_names_who_may_take_it() {
    for a in one_of_each() {
        assert!(!a.permissions().is_empty(), "{}", a.name());
    }
}

#[test]
fn webhook_filters_know_every_action() {
    for a in one_of_each() {
        assert!(
            crate::notify::EVENT_ACTIONS.contains(&a.name()),
            "{} is missing from notify::EVENT_ACTIONS",
            a.name()
        );
    }
}

pub(crate) fn arb_action() -> impl Strategy<Value = Action> {
    let all = one_of_each();
    (0..all.len(), 0u8..3).prop_map(move |(i, u)| {
        let mut a = all[i].clone();
        // Vary the units so transfers can succeed more than once.
        if let Action::Transfer { units: us, .. } | Action::Dispatch { units: us } = &mut a {
            *us = units(&[["CGJ"], ["ZJJ"], ["JTJ"]][u as usize]);
        }
        a
    })
}

proptest! {
    /// Random action sequences: illegal ones are refused and change nothing; the state after the
    /// legal ones equals the replay of their transitions, and the version counts them.
    #[test]
    fn replaying_the_events_rebuilds_the_case(actions in proptest::collection::vec(arb_action(), 0..80)) {
        let mut state = CaseState::new();
        let mut log = Vec::new();
        for a in actions {
            let before = state.clone();
            match decide(&state, a) {
                Ok(t) => {
                    prop_assert_eq!(t.from, state.status);
                    state = apply(&state, &t);
                    prop_assert_eq!(state.status, t.to);
                    log.push(t);
                }
                Err(_) => prop_assert_eq!(&state, &before),
            }
            prop_assert_eq!(&replay(&log), &state);
            prop_assert_eq!(state.version, 1 + log.len() as u64);
            // Invariants that must hold in every reachable state.
            prop_assert!(state.status != Status::Shelved || state.shelved_from.is_some());
            if state.status == Status::Registered {
                prop_assert!(state.units.is_empty(), "a registered case is not with any unit");
            }
        }
    }
}

#[test]
fn a_correction_comes_before_dispatch_and_changes_no_status() {
    let correct = |reason: &str, grid: bool| Action::Correct {
        grid: grid.then(|| "440305001001002".parse().expect("grid")),
        location_e6: None,
        category: None,
        routed_units: vec![],
        routing: String::new(),
        reason: reason.into(),
    };
    let mut state = CaseState::new();
    for next in [Some(Action::Accept), Some(Action::Register), None] {
        let t = decide(&state, correct("位置有误", true)).expect("allowed before dispatch");
        assert_eq!(t.from, t.to);
        let after = apply(&state, &t);
        assert_eq!(after.status, state.status);
        assert_eq!(after.version, state.version + 1);
        assert!(
            decide(&state, correct("", true)).is_err(),
            "a reason is needed"
        );
        assert!(
            decide(&state, correct("无", false)).is_err(),
            "something must change"
        );
        if let Some(a) = next {
            state = apply(&state, &decide(&state, a).expect("step"));
        }
    }
    state = apply(
        &state,
        &decide(
            &state,
            Action::Dispatch {
                units: units(&["CGJ"]),
            },
        )
        .expect("dispatch"),
    );
    assert!(matches!(
        decide(&state, correct("晚了", true)),
        Err(TransitionError::NotAllowedInState { .. })
    ));
}
