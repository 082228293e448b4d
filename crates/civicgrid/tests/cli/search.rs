//! `civicgrid search`: Chinese full-text search over case text, best first, one receipt code
//! per line; the indexer follows intake; a rebuild gives the same answers.

use std::sync::Arc;

use civicgrid::App;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::SystemClock;
use civicgrid_domain::case::Channel;

use super::support::run_cli;

async fn search(db: &str, args: &[&str]) -> String {
    let mut argv = vec!["search"];
    argv.extend_from_slice(args);
    let (code, out) = run_cli(db, &argv, "").await.expect("search");
    assert_eq!(code, 0);
    String::from_utf8(out).expect("utf-8")
}

#[tokio::test]
async fn cases_are_found_by_two_character_words_best_first_and_new_ones_follow() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    run_cli(
        &db,
        &["demo", "--months", "1", "--cases-per-month", "30"],
        "",
    )
    .await
    .expect("demo");
    let app = App::new(
        civicgrid_store::connect(&db).await.expect("store"),
        Arc::new(SystemClock),
    );
    let report = |description: &str, address: &str| Intake {
        grid: None,
        media_url: None,
        description: description.into(),
        location: Some((113.9171, 22.5168)),
        address: Some(address.into()),
        category: None,
        attributes: Default::default(),
        priority: None,
        channel: Channel::Web,
        reporter: None,
    };
    let leak = app
        .report_case(
            report("楼顶漏水，漏水很严重，屋里都湿了", "南头街道安乐社区"),
            &Actor::Resident,
        )
        .await
        .expect("reported");
    let lamp = app
        .report_case(
            report("路灯不亮，晚上很黑", "南头街道安乐社区"),
            &Actor::Resident,
        )
        .await
        .expect("reported");

    // The command catches the index up itself; the leak is found by its two-character word.
    let found = search(&db, &["漏水", "--limit", "50"]).await;
    let codes: Vec<&str> = found.lines().collect();
    assert!(codes.contains(&leak.receipt_code.as_str()), "{found}");
    assert!(!codes.contains(&lamp.receipt_code.as_str()), "{found}");
    // Best first: the new leak says it twice in a short text.
    assert_eq!(codes[0], leak.receipt_code, "{found}");
    // Every term must occur.
    let both = search(&db, &["路灯 晚上很黑"]).await;
    assert!(both.lines().any(|c| c == lamp.receipt_code), "{both}");
    assert!(
        search(&db, &["路灯 漏水"])
            .await
            .lines()
            .all(|c| c != leak.receipt_code && c != lamp.receipt_code)
    );

    // The indexer follows intake: a new case is found once the job has run.
    let third = app
        .report_case(
            report("排水沟堵塞发臭", "南头街道安乐社区"),
            &Actor::Resident,
        )
        .await
        .expect("reported");
    assert!(
        app.search_cases(None, "排水沟", 10)
            .await
            .expect("search")
            .is_empty()
    );
    let job = civicgrid::jobs::registry()
        .into_iter()
        .find(|j| j.name == "search_indexer")
        .expect("the indexer runs with serve");
    (job.run)(&app).await.expect("indexed");
    let hits = app.search_cases(None, "排水沟", 10).await.expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].case.id, third.id);
    assert_eq!(hits[0].marks, ["排水沟"]);

    // JSON carries the score, the snippet and what to mark.
    let json: serde_json::Value =
        serde_json::from_str(&search(&db, &["排水沟", "--format", "json"]).await).expect("json");
    assert_eq!(json[0]["receipt_code"], third.receipt_code.as_str());
    assert!(
        json[0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains("排水沟")
    );

    // A rebuild answers the same.
    let before = search(&db, &["漏水", "--limit", "50"]).await;
    let said = search(&db, &["reindex"]).await;
    assert!(said.starts_with("indexed "), "{said}");
    assert_eq!(search(&db, &["漏水", "--limit", "50"]).await, before);

    // A query with nothing to look for is refused.
    let e = run_cli(&db, &["search", "，。"], "")
        .await
        .expect_err("no terms");
    assert!(e.to_string().contains("at least one"), "{e}");
}
