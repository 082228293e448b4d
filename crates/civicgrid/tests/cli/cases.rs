//! The case service over a demo territory: intake, routing, deadlines, permissions,
//! concurrency and the event trail.

use super::support::staff;

use civicgrid::App;

use super::support::TestApp;
use civicgrid::cases::{Actor, Intake};
use civicgrid::error::AppError;
use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::case::{Action, Channel, Request, Satisfaction, Status, Transition, replay};
use civicgrid_domain::catalogue::Stage;
use jiff::Timestamp;

async fn app_at(now: &str) -> (TestApp, App) {
    let t = TestApp::builder().at(now).demo(1).build().await;
    let app = t.app.clone();
    (t, app)
}

fn intake(category: &str) -> Intake {
    Intake {
        grid: None,
        media_url: None,
        description: "安乐社区路口井盖丢失，晚上很危险".into(),
        location: Some((113.9171, 22.5168)),
        address: Some("南头街道安乐社区".into()),
        category: Some(category.parse().expect("category")),
        attributes: [("damage".to_owned(), "missing".to_owned())]
            .into_iter()
            .collect(),
        priority: None,
        channel: Channel::Web,
        reporter: None,
    }
}

#[tokio::test]
async fn intake_places_routes_and_times_the_case() {
    // Friday 13 Feb 2026, 17:15 Beijing time: the accept limit (high priority: 30 working
    // minutes) runs 15 minutes into the make-up Saturday.
    let (_dir, app) = app_at("2026-02-13T09:15:00Z").await;
    let case = app
        .report_case(intake("01001"), &Actor::Resident)
        .await
        .expect("reported");
    assert_eq!(
        case.grid.as_ref().map(|g| g.as_str()),
        Some("440305001001001")
    );
    assert_eq!(case.state.status, Status::Reported);
    assert_eq!(case.routed_units, ["SWJT"], "{}", case.routing);
    let clock = case.clock.expect("accept clock");
    assert_eq!(clock.stage, Stage::Accept);
    let due: Timestamp = "2026-02-14T00:45:00Z".parse().expect("time"); // Sat 08:45 +08:00
    assert_eq!(clock.due_at, due);
    assert_eq!(case.receipt_code.len(), 9);
    let events = app.case_timeline(&case.id).await.expect("timeline");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "report");

    // Bad reports are refused field by field and nothing is stored.
    let mut bad = intake("01001");
    bad.description = " ".into();
    bad.attributes.insert("damage".into(), "stolen".into());
    bad.attributes.insert("colour".into(), "red".into());
    match app.report_case(bad, &Actor::Resident).await {
        Err(AppError::Unprocessable(fields)) => {
            let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(
                names,
                ["description", "attributes.colour", "attributes.damage"]
            );
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let mut outside = intake("01001");
    outside.location = Some((116.4, 39.9));
    assert!(matches!(
        app.report_case(outside, &Actor::Resident).await,
        Err(AppError::Unprocessable(_))
    ));
    let mut with_contact = intake("01001");
    with_contact.reporter = Some(civicgrid::cases::seal::Reporter {
        phone: Some("13800138000".into()),
        ..Default::default()
    });
    match app.report_case(with_contact, &Actor::Resident).await {
        Err(AppError::Unprocessable(fields)) => {
            assert_eq!(fields[0].0, "reporter", "no data key, no contact kept")
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let mut major = intake("01");
    major.attributes.clear();
    assert!(matches!(
        app.report_case(major, &Actor::Resident).await,
        Err(AppError::Unprocessable(_))
    ));
    let all = app
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn the_loop_with_rework_shelving_and_an_audit_trail_that_replays() {
    let (_dir, app) = app_at("2026-03-03T01:00:00Z").await;
    let case = app
        .report_case(intake("01001"), &Actor::Resident)
        .await
        .expect("reported");
    let calltaker = staff(&app, "calltaker1").await;
    let dispatcher = staff(&app, "dispatcher.st1").await;
    let handler = staff(&app, "handler.swjt").await;
    let worker = staff(&app, "gw.st1c1.1").await;
    let leader = staff(&app, "leader.st1").await;
    let steps: Vec<(&Actor, Action)> = vec![
        (&calltaker, Action::Accept),
        (&calltaker, Action::Register),
        (
            &dispatcher,
            Action::Dispatch {
                units: vec!["SWJT".into()],
            },
        ),
        (&handler, Action::StartHandling),
        (
            &handler,
            Action::RequestApproval {
                request: Request::Extension {
                    stage: Stage::Handle,
                    extra: TimeLimit {
                        clock: ClockType::WorkingHours,
                        amount: 120,
                    },
                    reason: "等待井盖配件".into(),
                },
            },
        ),
        (
            &leader,
            Action::DecideApproval {
                approve: true,
                note: "同意".into(),
            },
        ),
        (
            &handler,
            Action::ReportBack {
                note: "已安装临时井盖".into(),
            },
        ),
        (
            &worker,
            Action::Verify {
                passed: false,
                note: "临时井盖不牢固".into(),
            },
        ),
        (
            &handler,
            Action::ReportBack {
                note: "已更换正式井盖".into(),
            },
        ),
        (
            &worker,
            Action::Verify {
                passed: true,
                note: String::new(),
            },
        ),
        (
            &calltaker,
            Action::Evaluate {
                satisfaction: Satisfaction::Satisfied,
                comment: "满意".into(),
            },
        ),
    ];
    let mut current = case.clone();
    let mut handle_due = None;
    for (actor, action) in steps {
        let name = action.name();
        let before = current.clone();
        current = app
            .act_on_case(&current.id, current.state.version, action, actor)
            .await
            .unwrap_or_else(|e| panic!("{name} by {}: {e}", actor.name()));
        if name == "start_handling" {
            handle_due = current.clock.map(|c| c.due_at);
        }
        if name == "decide_approval" {
            // The extension moved the handle deadline by two working hours.
            let moved = current.clock.expect("clock").due_at;
            assert!(moved > before.clock.expect("clock").due_at);
        }
    }
    assert!(handle_due.is_some());
    assert_eq!(current.state.status, Status::Evaluated);
    assert_eq!(current.state.rework_count, 1);
    assert!(
        current.clock.is_none(),
        "a finished case has no running clock"
    );
    let events = app.case_timeline(&current.id).await.expect("events");
    assert_eq!(events.len() as u64, current.state.version);
    let transitions: Vec<Transition> = events[1..]
        .iter()
        .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
        .collect();
    assert_eq!(replay(&transitions), current.state);
    assert_eq!(events[3].actor, "dispatcher.st1");
}

#[tokio::test]
async fn permissions_versions_and_illegal_actions_change_nothing() {
    let (_dir, app) = app_at("2026-03-03T01:00:00Z").await;
    let case = app
        .report_case(intake("01001"), &Actor::Resident)
        .await
        .expect("reported");
    let calltaker = staff(&app, "calltaker1").await;
    // A grid worker may not accept; a dispatcher of the other street may not either.
    let worker = staff(&app, "gw.st1c1.1").await;
    assert!(matches!(
        app.act_on_case(&case.id, 1, Action::Accept, &worker).await,
        Err(AppError::Forbidden(_))
    ));
    let other_street = staff(&app, "dispatcher.st2").await;
    assert!(matches!(
        app.act_on_case(
            &case.id,
            1,
            Action::Dispatch {
                units: vec!["CGJ".into()]
            },
            &other_street
        )
        .await,
        Err(AppError::Forbidden(_))
    ));
    // Illegal in this state: 409 naming the state.
    match app
        .act_on_case(&case.id, 1, Action::Register, &calltaker)
        .await
    {
        Err(AppError::NotAllowed { status, message }) => {
            assert_eq!(status, Status::Reported);
            assert!(message.contains("reported"), "{message}");
        }
        other => panic!("expected 409, got {other:?}"),
    }
    // Two call-takers act on version 1 at once: exactly one wins, no event is lost.
    let other = staff(&app, "calltaker2").await;
    let (a, b) = tokio::join!(
        app.act_on_case(&case.id, 1, Action::Accept, &calltaker),
        app.act_on_case(
            &case.id,
            1,
            Action::Refuse {
                reason: "重复".into()
            },
            &other
        ),
    );
    assert!(a.is_ok() != b.is_ok(), "exactly one wins: {a:?} / {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(
        matches!(loser, Err(AppError::Stale { current: 2 })),
        "{loser:?}"
    );
    let events = app.case_timeline(&case.id).await.expect("events");
    assert_eq!(events.len(), 2);
    let stored = app.get_case(&case.id).await.expect("case");
    assert_eq!(stored.state.version, 2);
    // Unknown units are refused before the loop is asked.
    if stored.state.status == Status::Accepted {
        app.act_on_case(&case.id, 2, Action::Register, &calltaker)
            .await
            .expect("register");
        let dispatcher = staff(&app, "dispatcher.st1").await;
        assert!(matches!(
            app.act_on_case(
                &case.id,
                3,
                Action::Dispatch {
                    units: vec!["NOPE".into()]
                },
                &dispatcher
            )
            .await,
            Err(AppError::Unprocessable(_))
        ));
        assert_eq!(app.case_timeline(&case.id).await.expect("events").len(), 3);
    }
}
