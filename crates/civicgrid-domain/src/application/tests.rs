use super::*;
use proptest::prelude::*;

fn item() -> ServiceItem {
    ServiceItem {
        code: "JZZ-01".into(),
        name: "居住证办理".into(),
        name_en: "Residence permit".into(),
        unit: "ST001".into(),
        limit_days: 10,
        materials: vec![
            Material {
                code: "id_card".into(),
                name: "身份证".into(),
                required: true,
                sample: String::new(),
            },
            Material {
                code: "lease".into(),
                name: "租赁合同".into(),
                required: true,
                sample: String::new(),
            },
            Material {
                code: "photo".into(),
                name: "照片".into(),
                required: false,
                sample: String::new(),
            },
        ],
        fees: "不收费".into(),
        channels: vec![ServiceChannel::Online, ServiceChannel::Counter],
        place: "街道党群服务中心".into(),
        basis: "《居住证暂行条例》".into(),
        active: true,
    }
}

fn go(
    s: Option<&ApplicationState>,
    provided: &[&str],
    a: ApplicationAction,
) -> Result<ApplicationState, String> {
    let provided: Vec<String> = provided.iter().map(|p| (*p).to_owned()).collect();
    apply_application(s, &item(), &provided, &a)
}

#[test]
fn a_request_for_corrections_names_every_missing_item_and_comes_once() {
    let s = go(None, &[], ApplicationAction::Submit).expect("submit");
    // Only one of the two missing items: refused, naming the other.
    let e = go(
        Some(&s),
        &[],
        ApplicationAction::RequestCorrections {
            items: vec!["id_card".into()],
        },
    )
    .expect_err("partial");
    assert!(e.contains("租赁合同"), "{e}");
    let s = go(
        Some(&s),
        &[],
        ApplicationAction::RequestCorrections {
            items: vec!["id_card".into(), "lease".into()],
        },
    )
    .expect("all at once");
    assert_eq!(s.status, ApplicationStatus::Correcting);
    let s = go(Some(&s), &["id_card"], ApplicationAction::Resubmit).expect("resubmit");
    // Still one missing: not accepted, and no second request.
    assert!(go(Some(&s), &["id_card"], ApplicationAction::Accept).is_err());
    assert!(
        go(
            Some(&s),
            &["id_card"],
            ApplicationAction::RequestCorrections {
                items: vec!["lease".into()]
            }
        )
        .is_err()
    );
    let declined = go(
        Some(&s),
        &["id_card"],
        ApplicationAction::Decline {
            reason: "未补齐租赁合同".into(),
        },
    )
    .expect("decline");
    assert_eq!(declined.status, ApplicationStatus::Declined);
}

#[test]
fn complete_materials_are_accepted_done_and_evaluated_once() {
    let s = go(None, &["id_card", "lease"], ApplicationAction::Submit).expect("submit");
    let s = go(Some(&s), &["id_card", "lease"], ApplicationAction::Accept).expect("accept");
    let s = go(
        Some(&s),
        &[],
        ApplicationAction::Forward {
            unit: "GA001".into(),
        },
    )
    .expect("forward");
    assert_eq!(s.unit, "GA001");
    assert!(
        go(
            Some(&s),
            &[],
            ApplicationAction::Evaluate {
                rating: Rating::Basic
            }
        )
        .is_err()
    );
    let s = go(
        Some(&s),
        &[],
        ApplicationAction::Complete { approved: true },
    )
    .expect("done");
    let s = go(
        Some(&s),
        &[],
        ApplicationAction::Evaluate {
            rating: Rating::Satisfied,
        },
    )
    .expect("evaluate");
    assert!(
        go(
            Some(&s),
            &[],
            ApplicationAction::Evaluate {
                rating: Rating::Dissatisfied
            }
        )
        .is_err()
    );
}

#[test]
fn a_withdrawn_item_takes_no_applications() {
    let mut i = item();
    i.active = false;
    assert!(apply_application(None, &i, &[], &ApplicationAction::Submit).is_err());
}

#[test]
fn items_are_checked() {
    let mut i = item();
    i.limit_days = 0;
    i.materials[1].code = "id_card".into();
    i.channels.clear();
    let fields: Vec<String> = i.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["limit_days", "channels", "materials[1].code"]);
    assert!(item().problems().is_empty());
}

fn actions() -> Vec<ApplicationAction> {
    use ApplicationAction as A;
    vec![
        A::RequestCorrections {
            items: vec!["id_card".into(), "lease".into()],
        },
        A::Resubmit,
        A::Accept,
        A::Decline {
            reason: "不符合条件".into(),
        },
        A::Forward {
            unit: "GA001".into(),
        },
        A::Complete { approved: true },
        A::Evaluate {
            rating: Rating::Satisfied,
        },
    ]
}

proptest! {
    #[test]
    fn corrections_are_requested_at_most_once_and_nothing_is_accepted_incomplete(
        picks in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4), 0..20)
    ) {
        let all = ["id_card", "lease", "photo"];
        let mut state = Some(go(None, &[], ApplicationAction::Submit).expect("submit"));
        let mut requests = 0;
        for (pick, n) in picks {
            let provided = &all[..n.min(3)];
            let legal: Vec<ApplicationAction> = actions()
                .into_iter()
                .filter(|a| go(state.as_ref(), provided, a.clone()).is_ok())
                .collect();
            if legal.is_empty() {
                break;
            }
            let a = pick.get(&legal).clone();
            if matches!(a, ApplicationAction::Accept) {
                prop_assert!(provided.contains(&"id_card") && provided.contains(&"lease"));
            }
            if matches!(a, ApplicationAction::RequestCorrections { .. }) {
                requests += 1;
            }
            state = go(state.as_ref(), provided, a).ok();
        }
        prop_assert!(requests <= 1);
        prop_assert_eq!(state.map(|s| s.corrections), Some(requests));
    }
}
