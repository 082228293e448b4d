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

    // While an instance (`serve`) holds the index's directory, the command only reads what
    // that instance feeds; a rebuild asked from the command is done by that instance.
    let held =
        civicgrid::search::index::SearchIndex::open(&dir.path().join("s.db.search")).expect("held");
    assert!(held.writes());
    let serving = App::new(
        civicgrid_store::connect(&db).await.expect("store"),
        Arc::new(SystemClock),
    );
    serving.use_search_index(Arc::new(held));
    let fourth = app
        .report_case(
            report("一楼信报箱被撬开了", "南头街道安乐社区"),
            &Actor::Resident,
        )
        .await
        .expect("reported");
    assert_eq!(search(&db, &["信报箱被撬"]).await, "", "not fed yet");
    // (A new process reads again the changes of the last 30 s, not settled in the index.)
    assert!(serving.catch_up_search_index().await.expect("fed") >= 1);
    assert_eq!(
        search(&db, &["信报箱被撬"]).await.trim(),
        fourth.receipt_code
    );
    let said = search(&db, &["reindex"]).await;
    assert!(said.contains("fed by a running instance"), "{said}");
    assert!(serving.catch_up_search_index().await.expect("rebuilt") >= 4);
    assert_eq!(
        search(&db, &["信报箱被撬"]).await.trim(),
        fourth.receipt_code
    );
    assert_eq!(search(&db, &["漏水", "--limit", "50"]).await, before);
    drop(serving);

    // The REST list searches with `q`, best first, as the caller may read.
    let key = app
        .create_api_key("d", Some("dispatcher.st1"))
        .await
        .expect("key");
    let get = |uri: &'static str| {
        let app = app.clone();
        let key = key.clone();
        async move {
            let a = super::support::Call::new(app, "GET", uri)
                .bearer(&key)
                .send()
                .await;
            (a.status, a.text())
        }
    };
    let (status, body) = get("/api/v1/cases?q=%E6%BC%8F%E6%B0%B4&limit=200").await;
    assert_eq!(status, axum::http::StatusCode::OK, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).expect("json");
    let codes: Vec<&str> = page["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["receipt_code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes.first(), Some(&leak.receipt_code.as_str()), "{body}");
    assert!(!codes.contains(&lamp.receipt_code.as_str()));
    assert!(page["next_cursor"].is_null());
    // Narrowed by the other filters: none of the leaks is closed yet.
    let (_, body) = get("/api/v1/cases?q=%E6%BC%8F%E6%B0%B4&status=voided").await;
    assert!(!body.contains(leak.receipt_code.as_str()), "{body}");
    for bad in [
        "/api/v1/cases?q=%EF%BC%8C",
        "/api/v1/cases?q=%E6%BC%8F%E6%B0%B4&cursor=0190a0a0-0000-7000-8000-000000000000",
    ] {
        let (status, body) = get(bad).await;
        assert_eq!(
            status,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {body}"
        );
        assert!(body.contains("\"q\"") || body.contains("cursor"), "{body}");
    }

    // The public list searches only what it shows (number, category, place), never the text.
    let public = |uri: String| {
        let app = app.clone();
        async move {
            let a = super::support::Call::new(app, "GET", &uri).send().await;
            assert_eq!(a.status, axum::http::StatusCode::OK, "{uri}");
            a.text()
        }
    };
    let list = public("/cases".into()).await;
    let reference = app.reference().await.expect("reference");
    let mut shown_with_category = None;
    for link in list.split("href=\"/cases/").skip(1) {
        let id = link.split('"').next().expect("id").to_string();
        if let Some(case) = app.repo.case_by_public_id(&id).await.expect("read")
            && case.category.is_some()
        {
            shown_with_category = Some((id, case));
            break;
        }
    }
    let (shown, case) = shown_with_category.expect("a categorised case on the public list");
    let category = reference
        .categories
        .iter()
        .find(|c| Some(&c.code) == case.category.as_ref())
        .expect("its category");
    let by_category = public(format!(
        "/cases?q={}",
        civicgrid::cases::pages::resident::urlencode(&category.name_zh)
    ))
    .await;
    assert!(
        by_category.contains(&format!("/cases/{shown}")),
        "{}",
        category.name_zh
    );
    // A pair of its description that neither its category nor its place holds finds nothing
    // of it on the public list.
    let place = case
        .grid
        .as_ref()
        .map(|g| reference.place_name(g))
        .unwrap_or_default();
    let chars: Vec<char> = case.description.chars().collect();
    let private_pair = chars
        .windows(2)
        .map(|w| w.iter().collect::<String>())
        .find(|p| {
            p.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
                && !category.name_zh.contains(p.as_str())
                && !place.contains(p.as_str())
        })
        .expect("a Chinese pair");
    let by_text = public(format!(
        "/cases?q={}",
        civicgrid::cases::pages::resident::urlencode(&private_pair)
    ))
    .await;
    assert!(
        !by_text.contains(&format!("/cases/{shown}")),
        "{private_pair}"
    );

    // A query with nothing to look for is refused.
    let e = run_cli(&db, &["search", "，。"], "")
        .await
        .expect_err("no terms");
    assert!(e.to_string().contains("at least one"), "{e}");
}

/// Similar cases: on the demo's merges the case merged into is offered, first; a case's
/// similar cases say why.
#[tokio::test]
async fn similar_cases_find_what_was_merged_and_say_why() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("m.db").display());
    run_cli(
        &db,
        &["demo", "--months", "2", "--cases-per-month", "80"],
        "",
    )
    .await
    .expect("demo");
    let app = App::new(
        civicgrid_store::connect(&db).await.expect("store"),
        Arc::new(SystemClock),
    );
    app.catch_up_search_index().await.expect("indexed");
    let m = app.measure_similar_on_merges().await.expect("measured");
    assert!(m.merges >= 3, "{m:?}");
    assert!(m.top3_hit_rate() >= 0.9, "{m:?}");
    let said = search(&db, &["merges"]).await;
    assert!(
        said.contains(&format!("{} merged cases", m.merges)),
        "{said}"
    );

    // A merged case's similar cases: the one it went into first, with the words both say.
    let merged = app
        .list_cases(&civicgrid_store::CaseFilter {
            status: Some(civicgrid_domain::case::Status::Merged),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("cases")
        .remove(0);
    let master = app
        .repo
        .case(&merged.state.merged_into.expect("merged into"))
        .await
        .expect("read")
        .expect("master");
    let said = search(&db, &["similar", &merged.receipt_code]).await;
    let first = said.lines().next().expect("one similar case");
    assert!(first.starts_with(&master.receipt_code), "{said}");
    assert!(first.contains("10 m"), "{said}");
    // Unrelated text far away is not offered.
    let probe = civicgrid::search::similar::Probe {
        text: "完全无关的内容ABCXYZ",
        location: None,
        at: merged.reported_at,
        except: None,
        open_only: false,
        earlier_only: false,
        category: None,
        actor: None,
    };
    assert!(
        app.similar_cases(&probe, 3)
            .await
            .expect("similar")
            .is_empty()
    );
    let e = run_cli(&db, &["search", "similar", "NOPE-NOPE"], "")
        .await
        .expect_err("no such case");
    assert!(e.to_string().contains("not found"), "{e}");
}

/// Hotspots: the cases about one matter in one place are one cluster, with its label, grid,
/// trend and why; at the command line and over REST for those who read the region's figures.
#[tokio::test]
async fn cases_about_one_matter_in_one_place_are_a_hotspot() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("h.db").display());
    run_cli(
        &db,
        &["demo", "--months", "1", "--cases-per-month", "20"],
        "",
    )
    .await
    .expect("demo");
    let app = App::new(
        civicgrid_store::connect(&db).await.expect("store"),
        Arc::new(SystemClock),
    );
    let site = (113.9171, 22.5168);
    let mut codes = Vec::new();
    for (k, text) in [
        "旁边工地夜间施工噪音扰民，吵得睡不着",
        "工地夜里还在施工，噪音太大扰民",
        "建筑工地施工噪音扰民，晚上十一点还在打桩",
        "工地打桩噪音扰民严重",
    ]
    .iter()
    .enumerate()
    {
        let c = app
            .report_case(
                Intake {
                    grid: None,
                    media_url: None,
                    description: (*text).into(),
                    location: Some((site.0 + 0.0005 * k as f64, site.1)),
                    address: None,
                    category: None,
                    attributes: Default::default(),
                    priority: None,
                    channel: Channel::Web,
                    reporter: None,
                },
                &Actor::Resident,
            )
            .await
            .expect("reported");
        codes.push(c.receipt_code);
    }
    let today =
        jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz"));
    let period = format!(
        "{}..{}",
        today.date().yesterday().expect("yesterday"),
        today.date().tomorrow().expect("tomorrow")
    );
    let (_, out) = run_cli(
        &db,
        &[
            "hotspots", "--scope", "440305", "--period", &period, "--format", "json",
        ],
        "",
    )
    .await
    .expect("hotspots");
    let found: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let site_hotspot = found
        .as_array()
        .expect("a list")
        .iter()
        .find(|h| {
            h["receipt_codes"]
                .as_array()
                .expect("codes")
                .iter()
                .any(|c| c == codes[0].as_str())
        })
        .unwrap_or_else(|| panic!("the building site is a hotspot: {found}"));
    let members: Vec<&str> = site_hotspot["receipt_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code"))
        .collect();
    for code in &codes {
        assert!(members.contains(&code.as_str()), "{site_hotspot}");
    }
    let label: Vec<&str> = site_hotspot["label"]
        .as_array()
        .expect("label")
        .iter()
        .map(|t| t.as_str().expect("term"))
        .collect();
    assert!(
        label
            .iter()
            .any(|t| ["噪音", "工地", "施工", "扰民"].contains(t)),
        "{label:?}"
    );
    assert!(
        site_hotspot["why"]
            .as_str()
            .expect("why")
            .contains("sharing the words")
    );
    assert!(!site_hotspot["grids"].as_array().expect("grids").is_empty());

    // Over REST, for a reader of the street's figures; a bad period is a 422.
    let key = app
        .create_api_key("l", Some("leader.st1"))
        .await
        .expect("key");
    let uri = format!("/api/v1/hotspots?scope=440305001&period={period}");
    let a = super::support::Call::new(app.clone(), "GET", &uri)
        .bearer(&key)
        .send()
        .await;
    assert_eq!(a.status, axum::http::StatusCode::OK, "{}", a.text());
    assert!(a.text().contains(codes[0].as_str()), "{}", a.text());
    let a = super::support::Call::new(
        app.clone(),
        "GET",
        "/api/v1/hotspots?scope=440305001&period=someday",
    )
    .bearer(&key)
    .send()
    .await;
    assert_eq!(
        a.status,
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        a.text()
    );

    // The leader's dashboard lists it with why, and marks it on the map.
    let session = super::support::Call::new(app.clone(), "POST", "/api/v1/session")
        .json(&serde_json::json!({"username": "leader.st1", "password": "civicgrid-demo"}))
        .send()
        .await
        .json();
    let page = super::support::Call::new(app.clone(), "GET", "/dashboard")
        .cookie(&format!(
            "cg_session={}",
            session["token"].as_str().expect("token")
        ))
        .send()
        .await;
    assert_eq!(page.status, axum::http::StatusCode::OK);
    let page = page.text();
    let listed = page
        .split("id=\"hotspots\"")
        .nth(1)
        .unwrap_or_else(|| panic!("the dashboard lists hotspots: {page}"));
    assert!(listed.contains(codes[0].as_str()), "{listed}");
    assert!(listed.contains("件案件相距不超过"), "{listed}");
    assert!(
        page.contains(&format!("{}（", label.join("、"))),
        "marked on the map"
    );
}
