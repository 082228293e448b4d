use std::sync::Arc;

use super::support::TestApp;
use civicgrid::cases::jobs::SweepReport;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::ManualClock;
use civicgrid_domain::case::deadline::Alarm;
use civicgrid_domain::case::{Channel, Tier};
use civicgrid_domain::catalogue::Stage;

#[tokio::test]
async fn warnings_breaches_and_escalation_happen_once() {
    // Tuesday 3 March 2026, 09:00 Beijing time.
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
        description: "路灯不亮".into(),
        location: Some((113.9171, 22.5168)),
        address: None,
        category: Some("01007".parse().expect("c")),
        attributes: [("fault".to_owned(), "dark".to_owned())]
            .into_iter()
            .collect(),
        priority: None,
        channel: Channel::Hotline,
        reporter: None,
    };
    // Street lamps are normal priority: accept within 1 working hour, so due at 10:00.
    let case = app
        .report_case(intake, &Actor::Resident)
        .await
        .expect("reported");
    assert_eq!(
        case.clock.expect("clock").due_at,
        "2026-03-03T02:00:00Z".parse().expect("t")
    );
    let sweep = |at: &str| {
        clock.set(at.parse().expect("t"));
        let app = app.clone();
        // How many regions it swept is beside the point here.
        async move {
            SweepReport {
                scopes: 0,
                ..app.sweep_deadlines(0.8).await.expect("sweep")
            }
        }
    };
    assert_eq!(sweep("2026-03-03T01:30:00Z").await, SweepReport::default());
    // 09:48 +08: a fifth of the hour left → yellow, once.
    assert_eq!(
        sweep("2026-03-03T01:48:00Z").await,
        SweepReport {
            yellow: 1,
            ..Default::default()
        }
    );
    assert_eq!(sweep("2026-03-03T01:50:00Z").await, SweepReport::default());
    // 10:00 +08: breach, and the case climbs from grid to community, once.
    assert_eq!(
        sweep("2026-03-03T02:00:00Z").await,
        SweepReport {
            red: 1,
            escalated: 1,
            ..Default::default()
        }
    );
    assert_eq!(sweep("2026-03-03T03:00:00Z").await, SweepReport::default());
    let stored = app.get_case(&case.id).await.expect("case");
    assert_eq!(stored.state.tier, Tier::Community);
    assert_eq!(stored.state.alarm, Some((Stage::Accept, Alarm::Red)));
    let actions: Vec<String> = app
        .case_timeline(&case.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.actor))
        .collect();
    assert_eq!(
        actions,
        [
            "report:resident",
            "raise_alarm:system",
            "raise_alarm:system",
            "escalate:system"
        ]
    );
    // Two sweeps at once (two instances) still take each step once.
    let other = app
        .report_case(
            Intake {
                grid: None,
                media_url: None,
                description: "又一处路灯不亮".into(),
                location: Some((113.9171, 22.5168)),
                address: None,
                category: Some("01007".parse().expect("c")),
                attributes: [("fault".to_owned(), "dark".to_owned())]
                    .into_iter()
                    .collect(),
                priority: None,
                channel: Channel::Hotline,
                reporter: None,
            },
            &Actor::Resident,
        )
        .await
        .expect("reported");
    clock.set("2026-03-03T06:00:00Z".parse().expect("t"));
    let (a, b) = tokio::join!(app.sweep_deadlines(0.8), app.sweep_deadlines(0.8));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.red + b.red, 1, "{a:?} {b:?}");
    assert_eq!(a.escalated + b.escalated, 1, "{a:?} {b:?}");
    assert_eq!(app.case_timeline(&other.id).await.expect("events").len(), 3);
}
