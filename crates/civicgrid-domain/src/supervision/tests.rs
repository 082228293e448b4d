use super::*;
use proptest::prelude::*;

fn day(s: &str) -> Date {
    s.parse().expect("date")
}

fn officer(name: &str) -> Party {
    Party::Officer(name.to_owned())
}

fn submitted(identity: bool) -> ReportState {
    apply(
        None,
        &Party::Reporter,
        &ReportAction::Submit {
            identity_given: identity,
        },
        day("2026-03-02"),
    )
    .expect("submitted")
}

#[test]
fn only_the_reporter_submits_and_only_once() {
    let s = submitted(false);
    assert_eq!(s.status, ReportStatus::Received);
    assert_eq!(
        apply(
            None,
            &officer("a"),
            &ReportAction::Submit {
                identity_given: false
            },
            day("2026-03-02")
        ),
        Err(SupervisionError::ReporterOnly)
    );
    assert_eq!(
        apply(
            Some(&s),
            &Party::Reporter,
            &ReportAction::Submit {
                identity_given: false
            },
            day("2026-03-02")
        ),
        Err(SupervisionError::AlreadySubmitted)
    );
    assert_eq!(
        apply(
            None,
            &officer("a"),
            &ReportAction::Acknowledge,
            day("2026-03-02")
        ),
        Err(SupervisionError::NotSubmitted)
    );
}

#[test]
fn a_message_acknowledges_and_a_substantive_one_is_feedback() {
    let s = submitted(false);
    let m = apply(
        Some(&s),
        &officer("a"),
        &ReportAction::Message { substantive: false },
        day("2026-03-04"),
    )
    .expect("message");
    assert_eq!(m.status, ReportStatus::Acknowledged);
    assert_eq!(m.acknowledged_on, Some(day("2026-03-04")));
    assert_eq!(m.feedback_on, None);
    let f = apply(
        Some(&m),
        &officer("a"),
        &ReportAction::Message { substantive: true },
        day("2026-04-01"),
    )
    .expect("feedback");
    assert_eq!(f.feedback_on, Some(day("2026-04-01")));
    assert_eq!(f.acknowledged_on, Some(day("2026-03-04")));
    // The reporter cannot write as an officer, nor an officer as the reporter.
    assert_eq!(
        apply(
            Some(&f),
            &Party::Reporter,
            &ReportAction::Acknowledge,
            day("2026-04-01")
        ),
        Err(SupervisionError::OfficersOnly)
    );
    assert_eq!(
        apply(
            Some(&f),
            &officer("a"),
            &ReportAction::ReporterMessage,
            day("2026-04-01")
        ),
        Err(SupervisionError::ReporterOnly)
    );
}

#[test]
fn closing_concludes_and_nothing_is_added_after() {
    let s = submitted(false);
    let c = apply(
        Some(&s),
        &officer("a"),
        &ReportAction::Close {
            outcome: Outcome::Substantiated,
        },
        day("2026-05-01"),
    )
    .expect("closed");
    assert_eq!(c.status, ReportStatus::Closed);
    assert_eq!(c.feedback_on, Some(day("2026-05-01")));
    assert_eq!(c.acknowledged_on, Some(day("2026-05-01")));
    for (by, action) in [
        (Party::Reporter, ReportAction::ReporterMessage),
        (Party::Reporter, ReportAction::ReporterFile),
        (officer("a"), ReportAction::Message { substantive: true }),
        (
            officer("a"),
            ReportAction::Close {
                outcome: Outcome::Referred,
            },
        ),
    ] {
        assert_eq!(
            apply(Some(&c), &by, &action, day("2026-05-02")),
            Err(SupervisionError::Closed)
        );
    }
}

#[test]
fn an_identity_is_revealed_only_with_a_second_persons_approval() {
    let none = submitted(false);
    assert_eq!(
        apply(
            Some(&none),
            &officer("a"),
            &ReportAction::RequestIdentity,
            day("2026-03-03")
        ),
        Err(SupervisionError::NoIdentity)
    );
    let s = submitted(true);
    assert_eq!(
        apply(
            Some(&s),
            &officer("b"),
            &ReportAction::ApproveIdentity,
            day("2026-03-03")
        ),
        Err(SupervisionError::NothingRequested)
    );
    let asked = apply(
        Some(&s),
        &officer("a"),
        &ReportAction::RequestIdentity,
        day("2026-03-03"),
    )
    .expect("asked");
    assert_eq!(
        apply(
            Some(&asked),
            &officer("a"),
            &ReportAction::ApproveIdentity,
            day("2026-03-03")
        ),
        Err(SupervisionError::SamePerson)
    );
    assert!(matches!(
        apply(
            Some(&asked),
            &officer("c"),
            &ReportAction::RequestIdentity,
            day("2026-03-03")
        ),
        Err(SupervisionError::RevealPending(_))
    ));
    let refused = apply(
        Some(&asked),
        &officer("b"),
        &ReportAction::RefuseIdentity,
        day("2026-03-04"),
    )
    .expect("refused");
    assert_eq!(refused.reveal, Reveal::None);
    let approved = apply(
        Some(&asked),
        &officer("b"),
        &ReportAction::ApproveIdentity,
        day("2026-03-04"),
    )
    .expect("approved");
    assert_eq!(
        approved.reveal,
        Reveal::Approved {
            by: "a".into(),
            approved_by: "b".into()
        }
    );
}

#[test]
fn clocks_count_days_and_months() {
    let c = Clocks::default();
    assert_eq!(c.acknowledge_by(day("2026-03-02")), day("2026-03-09"));
    assert_eq!(c.feedback_by(day("2026-03-02")), day("2026-06-02"));
    // A month without the day ends on its last day.
    assert_eq!(c.feedback_by(day("2026-11-30")), day("2027-02-28"));
    assert_eq!(c.erase_from(day("2026-03-02")), day("2028-03-03"));
    let s = submitted(false);
    assert!(c.warnings_due(&s, day("2026-03-09")).is_empty());
    assert_eq!(
        c.warnings_due(&s, day("2026-03-10")),
        vec![Warning::AcknowledgementOverdue]
    );
    assert_eq!(
        c.warnings_due(&s, day("2026-06-03")),
        vec![Warning::AcknowledgementOverdue, Warning::FeedbackOverdue]
    );
    let warned = apply(
        Some(&s),
        &Party::Platform,
        &ReportAction::Warn {
            warning: Warning::AcknowledgementOverdue,
        },
        day("2026-03-10"),
    )
    .expect("warned");
    assert!(c.warnings_due(&warned, day("2026-03-11")).is_empty());
    assert!(
        apply(
            Some(&warned),
            &Party::Platform,
            &ReportAction::Warn {
                warning: Warning::AcknowledgementOverdue
            },
            day("2026-03-11")
        )
        .is_err()
    );
    assert!(!c.is_erasable(&s, day("2099-01-01")));
    let closed = apply(
        Some(&s),
        &officer("a"),
        &ReportAction::Close {
            outcome: Outcome::NotSubstantiated,
        },
        day("2026-04-01"),
    )
    .expect("closed");
    assert!(c.warnings_due(&closed, day("2099-01-01")).is_empty());
    assert!(!c.is_erasable(&closed, day("2028-04-01")));
    assert!(c.is_erasable(&closed, day("2028-04-02")));
    assert!(
        Clocks {
            acknowledge_days: 0,
            ..c
        }
        .check()
        .is_err()
    );
    assert!(c.check().is_ok());
}

#[test]
fn receipts_and_passphrases() {
    assert_eq!(
        normalise_receipt("1234 5678-9012 3456").as_deref(),
        Some("1234567890123456")
    );
    assert_eq!(normalise_receipt("123456789012345"), None);
    assert_eq!(normalise_receipt("123456789012345x"), None);
    assert_eq!(grouped_receipt("1234567890123456"), "1234 5678 9012 3456");
    assert!(passphrase_weakness("short1A!").is_some());
    assert!(passphrase_weakness("aaaaaaaaaaaaaaaa").is_some());
    assert!(passphrase_weakness("abcdefghijkl").is_some());
    assert!(passphrase_weakness("Tr0ub4dor&horse").is_none());
    assert!(passphrase_weakness("correct horse battery staple").is_none());
    assert!(passphrase_weakness("我的举报口令是红色的门2026").is_none());
}

fn any_action() -> impl Strategy<Value = (Party, ReportAction)> {
    let who = prop_oneof![
        Just(Party::Reporter),
        Just(Party::Platform),
        Just(officer("a")),
        Just(officer("b")),
    ];
    let what = prop_oneof![
        Just(ReportAction::Acknowledge),
        Just(ReportAction::Investigate),
        any::<bool>().prop_map(|substantive| ReportAction::Message { substantive }),
        Just(ReportAction::ReporterMessage),
        Just(ReportAction::ReporterFile),
        Just(ReportAction::RequestIdentity),
        Just(ReportAction::ApproveIdentity),
        Just(ReportAction::RefuseIdentity),
        prop::sample::select(Outcome::ALL).prop_map(|outcome| ReportAction::Close { outcome }),
        prop::sample::select(Warning::ALL).prop_map(|warning| ReportAction::Warn { warning }),
    ];
    (who, what)
}

proptest! {
    /// Whatever is tried, in any order: the accepted steps replay to the same state; a closed
    /// report stays closed; an acknowledgement day never moves once set, and feedback never
    /// comes before it; an approved reveal names two different people; each warning is
    /// given at most once.
    #[test]
    fn random_histories_keep_the_guarantees(
        identity in any::<bool>(),
        tries in prop::collection::vec((any_action(), 0i32..10), 0..40),
    ) {
        let start = day("2026-01-05");
        let submit = (Party::Reporter, ReportAction::Submit { identity_given: identity }, start);
        let mut accepted = vec![submit.clone()];
        let mut state = apply(None, &submit.0, &submit.1, start).expect("submit");
        let mut warnings = 0;
        let mut on = start;
        for ((by, action), gap) in tries {
            on = on.checked_add(gap.days()).expect("date");
            let before = state.clone();
            if let Ok(next) = apply(Some(&state), &by, &action, on) {
                prop_assert!(before.status != ReportStatus::Closed || matches!(action, ReportAction::ApproveIdentity | ReportAction::RefuseIdentity | ReportAction::RequestIdentity));
                if let Some(a) = before.acknowledged_on {
                    prop_assert_eq!(next.acknowledged_on, Some(a));
                }
                if matches!(action, ReportAction::Warn { .. }) {
                    warnings += 1;
                }
                accepted.push((by, action, on));
                state = next;
            }
            if let (Some(f), Some(a)) = (state.feedback_on, state.acknowledged_on) {
                prop_assert!(a <= f);
            }
            if let Reveal::Approved { by, approved_by } = &state.reveal {
                prop_assert_ne!(by, approved_by);
            }
        }
        prop_assert!(warnings <= 2);
        prop_assert_eq!(state.warned.len(), warnings);
        let replayed = replay(accepted.iter().map(|(b, a, o)| (b, a, *o))).expect("replay");
        prop_assert_eq!(replayed, Some(state));
    }
}
