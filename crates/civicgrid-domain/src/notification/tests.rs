use super::*;
use proptest::prelude::*;

fn dt(h: i8, m: i8) -> DateTime {
    jiff::civil::date(2026, 3, 3).at(h, m, 0, 0)
}

#[test]
fn case_events_give_the_topics_of_their_audiences() {
    assert_eq!(
        topics_for_case_event("accept", Some("reported"), "accepted", None),
        vec![Topic::CaseAccepted]
    );
    assert_eq!(
        topics_for_case_event("verify", Some("reported_back"), "closed", None),
        vec![Topic::CaseClosed]
    );
    assert_eq!(
        topics_for_case_event("resolve_on_site", Some("reported"), "closed", None),
        vec![Topic::CaseClosed]
    );
    // Reaching `closed` again (a correction of a closed case) tells nobody twice.
    assert!(topics_for_case_event("correct", Some("closed"), "closed", None).is_empty());
    assert_eq!(
        topics_for_case_event("reopen", Some("evaluated"), "handling", None),
        vec![Topic::CaseReopened]
    );
    assert_eq!(
        topics_for_case_event("dispatch", Some("registered"), "dispatched", None),
        vec![Topic::CaseDispatched]
    );
    assert_eq!(
        topics_for_case_event("transfer", Some("dispatched"), "dispatched", None),
        vec![Topic::CaseDispatched]
    );
    assert_eq!(
        topics_for_case_event("raise_alarm", Some("handling"), "handling", Some("yellow")),
        vec![Topic::CaseYellow]
    );
    assert_eq!(
        topics_for_case_event("raise_alarm", Some("handling"), "handling", Some("red")),
        vec![Topic::CaseRed]
    );
    assert!(topics_for_case_event("raise_alarm", Some("handling"), "handling", None).is_empty());
    assert_eq!(
        topics_for_case_event("whistle_call", Some("dispatched"), "dispatched", None),
        vec![Topic::WhistleCall]
    );
    assert_eq!(
        topics_for_case_event("report_back", Some("handling"), "reported_back", None),
        vec![Topic::CaseToVerify]
    );
    assert!(
        topics_for_case_event("start_handling", Some("dispatched"), "handling", None).is_empty()
    );
    // Every topic's action is one the outbox keeps.
    for action in NOTIFYING_ACTIONS {
        assert!(crate::notify::EVENT_ACTIONS.contains(action), "{action}");
    }
}

#[test]
fn topics_read_back_and_say_who_they_are_for() {
    for t in Topic::ALL {
        assert_eq!(Topic::parse(t.as_str()), Some(t));
        // Every message says what it is about: a case's or meeting's number, a notice's title,
        // an incident's name.
        assert!(
            ["public_id", "title", "incident"]
                .iter()
                .any(|v| t.variables().contains(v)),
            "{t:?}"
        );
    }
    assert_eq!(Topic::EmergencyNotice.audience(), Audience::GridWorkers);
    assert_eq!(Topic::SitrepDue.audience(), Audience::Commander);
    assert!(
        Topic::SitrepDue.is_urgent(),
        "an incident runs through the night"
    );
    assert!(Topic::EmergencyNotice.is_urgent() && !Topic::MeetingSummons.is_urgent());
    assert_eq!(Topic::parse("case_exploded"), None);
    assert_eq!(Topic::CaseAccepted.audience(), Audience::Reporter);
    assert_eq!(Topic::CaseRed.audience(), Audience::Units);
    assert_eq!(Topic::CaseToVerify.audience(), Audience::GridWorkers);
    assert!(Topic::CaseRed.is_urgent() && !Topic::CaseYellow.is_urgent());
    // The reporter's links are theirs alone: staff templates cannot ask for them.
    assert!(Topic::CaseClosed.variables().contains(&"evaluation_link"));
    assert!(!Topic::CaseAccepted.variables().contains(&"evaluation_link"));
    assert!(!Topic::CaseDispatched.variables().contains(&"receipt"));
}

#[test]
fn templates_fill_in_their_variables() {
    let values: BTreeMap<&str, String> = [
        ("receipt", "R-1".to_owned()),
        ("public_id", "P9".to_owned()),
    ]
    .into();
    assert_eq!(
        render(
            "您的诉求已受理，受理编号 {{receipt}}（{{ public_id }}）。",
            &values
        ),
        Ok("您的诉求已受理，受理编号 R-1（P9）。".to_owned())
    );
    // Single braces and a lone closing pair are text.
    assert_eq!(render("{a} }} {", &values), Ok("{a} }} {".to_owned()));
    assert_eq!(render("{{ status }}", &values), Ok(String::new()));
}

#[test]
fn the_check_names_what_is_wrong() {
    let known = Topic::CaseAccepted.variables();
    assert_eq!(check_template("编号 {{receipt}}", known), Ok(()));
    assert_eq!(
        check_template("链接 {{evaluation_link}}", known),
        Err(TemplateProblem::UnknownVariable {
            name: "evaluation_link".into(),
            known: known.join(", "),
        })
    );
    assert_eq!(
        check_template("编号 {{receipt", known),
        Err(TemplateProblem::Unclosed { at: 3 })
    );
    assert_eq!(
        check_template("{{ a b }}", known),
        Err(TemplateProblem::NotAName {
            inner: " a b ".into(),
            at: 0
        })
    );
    assert_eq!(check_template("  \n", known), Err(TemplateProblem::Empty));
    assert_eq!(
        check_template(&"字".repeat(MAX_TEMPLATE_CHARS + 1), known),
        Err(TemplateProblem::TooLong {
            max: MAX_TEMPLATE_CHARS
        })
    );
    let t = Template {
        subject: "{{receipt}}".into(),
        body: "{{unit}}".into(),
        sms: "ok".into(),
    };
    let problems = t.problems(Topic::CaseAccepted);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "body");
}

#[test]
fn quiet_hours_hold_notices_until_they_end() {
    let night = QuietHours::default();
    assert_eq!(night.hold_until(dt(21, 59)), None);
    assert_eq!(
        night.hold_until(dt(22, 0)),
        Some(jiff::civil::date(2026, 3, 4).at(7, 0, 0, 0))
    );
    assert_eq!(night.hold_until(dt(3, 10)), Some(dt(7, 0)));
    assert_eq!(night.hold_until(dt(7, 0)), None);
    let lunch = QuietHours {
        start: Time::constant(12, 0, 0, 0),
        end: Time::constant(14, 0, 0, 0),
    };
    assert_eq!(lunch.hold_until(dt(11, 59)), None);
    assert_eq!(lunch.hold_until(dt(13, 0)), Some(dt(14, 0)));
    assert_eq!(lunch.hold_until(dt(14, 0)), None);
    let none = QuietHours {
        start: Time::constant(8, 0, 0, 0),
        end: Time::constant(8, 0, 0, 0),
    };
    assert_eq!(none.hold_until(dt(8, 0)), None);
}

#[test]
fn digests_go_out_at_eight_each_morning() {
    assert_eq!(next_digest(dt(7, 59)), dt(8, 0));
    assert_eq!(next_digest(dt(8, 0)), dt(8, 0));
    assert_eq!(
        next_digest(dt(8, 1)),
        jiff::civil::date(2026, 3, 4).at(8, 0, 0, 0)
    );
}

/// A piece of a generated template: text without braces, or a variable by name.
#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Var(String, bool),
}

fn part() -> impl Strategy<Value = Part> {
    let names: Vec<&'static str> = Topic::CaseClosed.variables().to_vec();
    prop_oneof![
        "[^{}]{0,12}".prop_map(Part::Text),
        (prop::sample::select(names), any::<bool>())
            .prop_map(|(n, spaced)| Part::Var(n.to_owned(), spaced)),
        ("[a-z_]{1,12}", any::<bool>()).prop_map(|(n, spaced)| Part::Var(n, spaced)),
    ]
}

proptest! {
    /// A template passes the check exactly when every variable it uses is one its topic
    /// offers; a template that passes renders with each value in its place.
    #[test]
    fn the_check_accepts_exactly_the_known_variables(parts in prop::collection::vec(part(), 1..12)) {
        let known = Topic::CaseClosed.variables();
        let text: String = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Var(n, true) => format!("{{{{ {n} }}}}"),
                Part::Var(n, false) => format!("{{{{{n}}}}}"),
            })
            .collect();
        let all_known = parts.iter().all(|p| match p {
            Part::Var(n, _) => known.contains(&n.as_str()),
            Part::Text(_) => true,
        });
        let blank = text.trim().is_empty();
        let checked = check_template(&text, known);
        prop_assert_eq!(checked.is_ok(), all_known && !blank, "{:?}: {:?}", text, checked);
        if let Err(TemplateProblem::UnknownVariable { name, .. }) = &checked {
            prop_assert!(!known.contains(&name.as_str()));
        }
        if checked.is_ok() {
            let values: BTreeMap<&str, String> =
                known.iter().map(|n| (*n, format!("<{n}>"))).collect();
            let rendered = render(&text, &values).expect("renders");
            let expected: String = parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.clone(),
                    Part::Var(n, _) => format!("<{n}>"),
                })
                .collect();
            prop_assert_eq!(rendered, expected);
        }
    }
}

mod verification_codes {
    use super::verification::*;
    use jiff::{SignedDuration, Timestamp};
    use proptest::prelude::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_765_000_000 + secs).expect("t")
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(code_from(42), "000042");
        assert_eq!(code_from(u64::MAX), "551615");
        assert_eq!(code_from(123_456_789), "456789");
    }

    #[test]
    fn a_number_waits_between_codes_and_is_limited_per_hour_and_day() {
        let l = SendLimits::default();
        assert_eq!(l.next_send(&[], at(0)), Ok(()));
        assert_eq!(l.next_send(&[at(0)], at(30)), Err(at(60)));
        assert_eq!(l.next_send(&[at(0)], at(60)), Ok(()));
        let five: Vec<Timestamp> = (0..5).map(|i| at(i * 120)).collect();
        // The sixth in the hour waits until the first leaves it.
        assert_eq!(l.next_send(&five, at(600)), Err(at(3600)));
        assert_eq!(l.next_send(&five, at(3600)), Ok(()));
        let ten: Vec<Timestamp> = (0..10).map(|i| at(i * 3600)).collect();
        assert_eq!(l.next_send(&ten, at(10 * 3600)), Err(at(86_400)));
        assert_eq!(l.window(), SignedDuration::from_hours(24));
    }

    proptest! {
        /// Following the rule, a number is never sent more than the limits allow in any hour
        /// or any day, nor two codes closer than the gap; and the instant it names is allowed.
        #[test]
        fn following_the_rule_keeps_every_limit(asks in proptest::collection::vec(0i64..200_000, 1..80)) {
            let l = SendLimits::default();
            let mut asks = asks;
            asks.sort();
            let mut sent: Vec<Timestamp> = Vec::new();
            for a in asks {
                let now = at(a);
                match l.next_send(&sent, now) {
                    Ok(()) => sent.push(now),
                    Err(when) => {
                        prop_assert!(when > now);
                        prop_assert_eq!(l.next_send(&sent, when), Ok(()));
                    }
                }
            }
            for (i, t) in sent.iter().enumerate() {
                if i > 0 {
                    prop_assert!(t.duration_since(sent[i - 1]) >= l.gap);
                }
                let hour = sent.iter().filter(|u| **u >= *t && **u < *t + SignedDuration::from_hours(1)).count();
                let day = sent.iter().filter(|u| **u >= *t && **u < *t + SignedDuration::from_hours(24)).count();
                prop_assert!(hour <= l.per_hour, "{} in an hour", hour);
                prop_assert!(day <= l.per_day, "{} in a day", day);
            }
        }
    }
}
