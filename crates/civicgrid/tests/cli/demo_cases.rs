use std::sync::Arc;

use civicgrid::App;
use civicgrid::clock::FixedClock;
use civicgrid_domain::case::{Transition, replay};

async fn demo(
    dir: &tempfile::TempDir,
    name: &str,
) -> (App, civicgrid::demo::cases::DemoCasesReport) {
    demo_from(dir, name, &super::support::case_texts()).await
}

async fn demo_from(
    dir: &tempfile::TempDir,
    name: &str,
    texts: &civicgrid::demo::cases::CaseTexts,
) -> (App, civicgrid::demo::cases::DemoCasesReport) {
    let repo = civicgrid_store::connect(&format!("sqlite:{}", dir.path().join(name).display()))
        .await
        .expect("store");
    let app = App::new(
        repo,
        Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
    );
    app.load_demo(5).await.expect("territory");
    let report = app.load_demo_cases(5, texts, 2, 120).await.expect("cases");
    (app, report)
}

/// The same loop on PostgreSQL: every path, integrity, and each case replays from its events.
#[tokio::test]
async fn the_loop_runs_the_same_on_postgresql() {
    let Some(pg) = crate::PgSchema::new("loop").await else {
        return;
    };
    let repo = pg.repo.clone();
    let app = App::new(
        repo.clone(),
        Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
    );
    app.load_demo(5).await.expect("territory");
    let report = app
        .load_demo_cases(5, &super::support::case_texts(), 1, 150)
        .await
        .expect("cases");
    assert_eq!(report.cases, 150);
    assert_eq!(
        app.repo.check_integrity().await.expect("check"),
        Vec::<String>::new()
    );
    let all = app
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("cases");
    for case in &all {
        let events = app.case_timeline(&case.id).await.expect("events");
        let transitions: Vec<Transition> = events[1..]
            .iter()
            .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
            .collect();
        assert_eq!(replay(&transitions), case.state, "case {}", case.id);
    }
    // The same seed on SQLite gives the same cases.
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("s.db").display()))
        .await
        .expect("store");
    let twin = App::new(
        sqlite,
        Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
    );
    twin.load_demo(5).await.expect("territory");
    twin.load_demo_cases(5, &super::support::case_texts(), 1, 150)
        .await
        .expect("cases");
    let other = twin
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("cases");
    assert_eq!(all, other);
    pg.drop_schema().await;
}

#[tokio::test]
async fn months_of_cases_cover_every_path_replay_and_repeat_with_the_seed() {
    let dir = tempfile::tempdir().expect("dir");
    let (app, report) = demo(&dir, "a.db").await;
    assert_eq!(report.cases, 240);
    for path in [
        "plain",
        "rework",
        "send_back",
        "transfer",
        "extension",
        "shelve",
        "merge",
        "refuse",
        "on_site",
        "breach",
        "unsatisfied",
    ] {
        assert!(
            report.by_path.get(path).copied().unwrap_or(0) > 0,
            "no {path} case: {report:?}"
        );
    }
    assert_eq!(
        app.repo.check_integrity().await.expect("check"),
        Vec::<String>::new()
    );
    let all = app
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("cases");
    // Merged duplicates come on top of the 240.
    assert!(all.len() > 240);
    let mut grades = std::collections::BTreeSet::new();
    for case in &all {
        let events = app.case_timeline(&case.id).await.expect("events");
        let transitions: Vec<Transition> = events[1..]
            .iter()
            .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
            .collect();
        assert_eq!(replay(&transitions), case.state, "case {}", case.id);
        for t in &transitions {
            if let civicgrid_domain::case::Action::Evaluate { satisfaction, .. } = &t.action {
                grades.insert(format!("{satisfaction:?}"));
            }
        }
        assert!(!case.description.is_empty());
    }
    assert_eq!(grades.len(), 3, "every grade of evaluation: {grades:?}");
    assert!(
        all.iter()
            .any(|c| c.state.tier != civicgrid_domain::case::Tier::Grid),
        "some case escalated"
    );

    let (again, _) = demo(&dir, "b.db").await;
    let other = again
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("cases");
    assert_eq!(all, other, "the same seed gives the same cases");
}

/// A fresh clone without ../shared beside it: the shipped texts, every category of them,
/// and handled cases with photos taken before and after, as PNG.
#[tokio::test]
async fn without_the_data_set_the_demo_runs_on_the_shipped_texts_with_photos() {
    use civicgrid::demo::cases::CaseTexts;
    use civicgrid_domain::case::PhotoStage;
    let dir = tempfile::tempdir().expect("dir");
    let (app, report) = demo_from(&dir, "s.db", &CaseTexts::Shipped).await;
    assert_eq!(report.cases, 240);
    // The README's example accounts each find cases waiting where they land after signing in.
    for (username, landing) in [
        ("calltaker1", "/work"),
        ("dispatcher.st1", "/work"),
        ("handler.swjt", "/work"),
        ("gw.st1c1.1", "/work/field"),
        ("shiftlead.st1", "/work"),
    ] {
        let session = super::support::Call::new(app.clone(), "POST", "/api/v1/session")
            .json(&serde_json::json!({"username": username, "password": "civicgrid-demo"}))
            .send()
            .await
            .json();
        let token = session["token"].as_str().expect("token");
        let page = super::support::Call::new(app.clone(), "GET", landing)
            .cookie(&format!("cg_session={token}"))
            .send()
            .await
            .text();
        assert!(
            page.matches("href=\"/work/case/").count() >= 1,
            "{username} has nothing waiting on {landing}"
        );
    }
    let all = app
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("cases");
    let shipped = civicgrid::app::shipped::DEMO_CASE_TEXTS_TOML;
    let categories: std::collections::BTreeSet<_> =
        all.iter().filter_map(|c| c.category.clone()).collect();
    assert!(categories.len() > 40, "{} categories", categories.len());
    let mut with_both = 0;
    for case in &all {
        let subject = case
            .description
            .trim_start_matches("（另一位居民反映）")
            .split('：')
            .next()
            .unwrap_or("");
        assert!(
            shipped.contains(subject),
            "{} is not a shipped text",
            case.description
        );
        let stages: Vec<PhotoStage> = case.state.photos.iter().map(|(s, _)| *s).collect();
        if stages.contains(&PhotoStage::Before) && stages.contains(&PhotoStage::After) {
            with_both += 1;
            for (_, sha) in &case.state.photos {
                let photo = app
                    .repo
                    .photo(&case.id, sha)
                    .await
                    .expect("read")
                    .expect("stored");
                assert_eq!(photo.content_type, "image/png");
                assert!(photo.data.starts_with(b"\x89PNG\r\n\x1a\n"));
            }
        }
        // Every case that reached verification was handled on camera.
        if case.state.status == civicgrid_domain::case::Status::Closed
            && !case.state.resolved_on_site
        {
            assert!(
                stages.contains(&PhotoStage::Before) && stages.contains(&PhotoStage::After),
                "closed case {} without before/after photos: {stages:?}",
                case.id
            );
        }
    }
    assert!(
        with_both > 100,
        "{with_both} cases with before and after photos"
    );
    assert_eq!(
        app.repo.check_integrity().await.expect("check"),
        Vec::<String>::new()
    );
}
