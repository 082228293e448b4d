use std::sync::Arc;

use super::support::TestApp;
use super::support::staff;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::ManualClock;
use civicgrid::error::AppError;
use civicgrid_domain::case::{Action, Channel};

#[tokio::test]
async fn summoned_departments_answer_or_their_silence_is_recorded() {
    let clock = Arc::new(ManualClock::new("2026-03-03T01:00:00Z".parse().expect("t")));
    let t = TestApp::builder()
        .clock(clock.clone())
        .demo(1)
        .build()
        .await;
    let app = t.app.clone();
    let intake = Intake {
        grid: None,
        media_url: None,
        description: "小区外非法汽车检测站施工，存在严重安全隐患".into(),
        location: Some((113.9171, 22.5168)),
        address: None,
        category: Some("11002".parse().expect("c")),
        attributes: Default::default(),
        priority: None,
        channel: Channel::Web,
        reporter: None,
    };
    let mut case = app
        .report_case(intake, &Actor::Resident)
        .await
        .expect("report");
    let calltaker = staff(&app, "calltaker1").await;
    let dispatcher = staff(&app, "dispatcher.st1").await;
    for (who, action) in [
        (&calltaker, Action::Accept),
        (&calltaker, Action::Register),
        (
            &dispatcher,
            Action::Dispatch {
                units: vec!["ST001".into()],
            },
        ),
    ] {
        case = app
            .act_on_case(&case.id, case.state.version, action, who)
            .await
            .expect("step");
    }
    let leader = staff(&app, "leader.st1").await;
    let due: jiff::Timestamp = "2026-03-03T03:00:00Z".parse().expect("t");
    let call = Action::WhistleCall {
        units: vec!["ZJJ".into(), "SJJ".into()],
        due_at: due,
        note: "街道吹哨，请住建、市场监管报到".into(),
    };
    // A department cannot blow the whistle; the street leader can.
    let zjj = staff(&app, "handler.zjj").await;
    assert!(matches!(
        app.act_on_case(&case.id, case.state.version, call.clone(), &zjj)
            .await,
        Err(AppError::Forbidden(_))
    ));
    case = app
        .act_on_case(&case.id, case.state.version, call, &leader)
        .await
        .expect("whistle");
    // The summoned department may answer although the case is not dispatched to it.
    case = app
        .act_on_case(
            &case.id,
            case.state.version,
            Action::AnswerWhistle {
                unit: "ZJJ".into(),
                note: "已到场核查".into(),
            },
            &zjj,
        )
        .await
        .expect("answer");
    clock.set("2026-03-03T02:59:00Z".parse().expect("t"));
    assert_eq!(
        app.sweep_deadlines(0.8)
            .await
            .expect("sweep")
            .missed_whistles,
        0
    );
    clock.set("2026-03-03T03:00:00Z".parse().expect("t"));
    assert_eq!(
        app.sweep_deadlines(0.8)
            .await
            .expect("sweep")
            .missed_whistles,
        1
    );
    assert_eq!(
        app.sweep_deadlines(0.8)
            .await
            .expect("sweep")
            .missed_whistles,
        0
    );
    let stored = app.get_case(&case.id).await.expect("case");
    let sjj = stored
        .state
        .summons
        .iter()
        .find(|x| x.unit == "SJJ")
        .expect("summons");
    assert!(sjj.missed && !sjj.answered);
    let last = app
        .case_timeline(&case.id)
        .await
        .expect("events")
        .pop()
        .expect("event");
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("miss_whistle", "system")
    );
}
