//! Assessment: the rollups kept by the KPI job equal a recount from scratch over the events,
//! for every scope and period, on SQLite and on PostgreSQL, on demo cases that run every path
//! of the loop; and they stay equal as cases move on.

use super::support::staff;
use std::path::PathBuf;
use std::sync::Arc;

use civicgrid::App;
use civicgrid::cases::Actor;
use civicgrid::clock::FixedClock;
use civicgrid_domain::case::Action;
use civicgrid_domain::kpi::Period;

async fn with_cases(repo: Arc<dyn civicgrid_store::Repository>) -> App {
    let app = App::new(
        repo,
        Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
    );
    app.load_demo(7).await.expect("territory");
    app.load_demo_cases(7, &super::support::case_texts(), 3, 80)
        .await
        .expect("cases");
    app
}

const SCOPES: &[&str] = &[
    "440305",
    "440305001",
    "440305002",
    "440305001001",
    "440305002003",
];
const PERIODS: &[&str] = &[
    "2026-11-25",
    "2026-09",
    "2026-10",
    "2026-11",
    "2026-Q3",
    "2026-Q4",
    "2026-W44",
    "2026-10-15",
    "2026-08-20..2026-11-25",
    "2026",
];

async fn rollups_equal_recount(app: &App) -> usize {
    let mut compared = 0;
    for scope in SCOPES {
        let scope = scope.parse().expect("scope");
        for p in PERIODS {
            let period = Period::parse(p).expect("period");
            let rollup = app.kpi_rollup(&scope, &period).await.expect("rollup");
            let recount = app.kpi_recount(&scope, &period).await.expect("recount");
            assert_eq!(rollup, recount, "scope {scope}, period {p}");
            compared += recount.len();
        }
    }
    compared
}

async fn exercise(app: &App) {
    let refreshed = app.refresh_kpis().await.expect("refresh");
    assert!(refreshed >= 240, "every case counted once: {refreshed}");
    assert_eq!(
        app.refresh_kpis().await.expect("again"),
        0,
        "nothing left to do"
    );
    let compared = rollups_equal_recount(app).await;
    assert!(compared > 100, "subjects compared: {compared}");
    // The district's month has every kind of subject and every path.
    let district = "440305".parse().expect("d");
    let oct = app
        .kpi_recount(&district, &Period::parse("2026-10").expect("p"))
        .await
        .expect("recount");
    for kind in ["unit", "grid", "region", "staff"] {
        assert!(oct.keys().any(|s| s.kind() == kind), "{kind}");
    }
    let total = oct.iter().filter(|(s, _)| s.kind() == "region").fold(
        civicgrid_domain::kpi::Counters::default(),
        |mut a, (_, c)| {
            a += c;
            a
        },
    );
    assert!(total.reported >= 60 && total.closed > 0 && total.evaluated > 0);
    assert!(total.rework_events > 0 && total.from_patrol > 0);

    // Cases move on: new reports, then acceptances; the queue picks them up and the sums
    // follow.
    let mut open = Vec::new();
    for i in 0..3 {
        let intake = civicgrid::cases::Intake {
            description: format!("井盖丢失 {i}"),
            location: Some((113.9171, 22.5168)),
            grid: None,
            address: None,
            category: Some("01001".parse().expect("c")),
            attributes: [("damage".to_owned(), "missing".to_owned())].into(),
            priority: None,
            channel: civicgrid_domain::case::Channel::Patrol,
            reporter: None,
            media_url: None,
        };
        open.push(
            app.report_case(intake, &Actor::System)
                .await
                .expect("report"),
        );
    }
    assert_eq!(app.refresh_kpis().await.expect("refresh"), open.len());
    rollups_equal_recount(app).await;
    for c in &open {
        app.act_on_case(&c.id, c.state.version, Action::Accept, &Actor::System)
            .await
            .expect("accept");
    }
    assert_eq!(app.refresh_kpis().await.expect("refresh"), open.len());
    rollups_equal_recount(app).await;
    if app.repo.backend() == "postgres" {
        two_instances_count_together(app).await;
    }
    rest(app).await;
    appeals(app).await;
}

/// Two instances running the KPI job at once over the same queue count every case once.
async fn two_instances_count_together(app: &App) {
    let other = App::new(
        app.repo.clone(),
        Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
    );
    for i in 0..40 {
        let intake = civicgrid::cases::Intake {
            description: format!("占道经营 {i}"),
            location: Some((113.9171, 22.5168)),
            grid: None,
            address: None,
            category: Some("08001".parse().expect("c")),
            attributes: Default::default(),
            priority: None,
            channel: civicgrid_domain::case::Channel::Web,
            reporter: None,
            media_url: None,
        };
        app.report_case(intake, &Actor::System)
            .await
            .expect("report");
    }
    let (a, b) = tokio::join!(app.refresh_kpis(), other.refresh_kpis());
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert!(a + b >= 40, "{a} + {b}");
    assert_eq!(app.refresh_kpis().await.expect("drained"), 0);
    rollups_equal_recount(app).await;
}

/// The table over REST: scoped by kpi.read, beats included, bad input answered as problems.
async fn rest(app: &App) {
    use axum::http::StatusCode;

    let key = app
        .create_api_key("kpi", Some("shiftlead.st1"))
        .await
        .expect("key");
    let get = |uri: String, key: Option<String>| async move {
        let mut call = super::support::Call::new(app.clone(), "GET", &uri);
        if let Some(k) = key {
            call = call.bearer(&k);
        }
        let a = call.send().await;
        (
            a.status,
            serde_json::from_slice::<serde_json::Value>(&a.body).unwrap_or_default(),
        )
    };
    let (s, table) = get(
        "/api/v1/kpi?scope=440305001&period=2026-10".into(),
        Some(key.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{table}");
    assert!(table["rows"].as_array().is_some_and(|r| !r.is_empty()));
    let (s, beat) = get(
        "/api/v1/kpi?scope=beat:440305001001-B1&period=2026-10".into(),
        Some(key.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{beat}");
    assert_eq!(beat["rows"][0]["kind"], "beat");
    for (uri, expected) in [
        (
            "/api/v1/kpi?scope=440305002&period=2026-10",
            StatusCode::FORBIDDEN,
        ),
        (
            "/api/v1/kpi?scope=beat:NOPE&period=2026-10",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/kpi?scope=440305001&period=2026-13",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/kpi?scope=x&period=2026-10",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, problem) = get(uri.into(), Some(key.clone())).await;
        assert_eq!(s, expected, "{uri}: {problem}");
        assert_eq!(problem["status"], expected.as_u16());
    }
    let (s, _) = get("/api/v1/kpi?scope=440305001&period=2026-10".into(), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// An appeal goes submitted → reviewed → decided, by different people with the right
/// permissions; upheld, it gives the points back in the table, recorded with who and why.
async fn appeals(app: &App) {
    use civicgrid_domain::kpi::{AppealStatus, AppealStep, Subject};
    let community = Subject::Region("440305001001".into());
    let scope: civicgrid_domain::territory::RegionCode = "440305001".parse().expect("s");
    let score_of = |t: &civicgrid::assessment::KpiTable| {
        t.rows
            .iter()
            .find(|r| r.kind == "region" && r.code == "440305001001")
            .and_then(|r| r.score)
    };
    let before = app.kpi_table(&scope, "2026-10", None).await.expect("table");
    let admin = staff(app, "admin.st1c1").await;
    // Bad appeals change nothing.
    for (period, points, reason) in [
        ("2026-13", 5.0, "x"),
        ("2026-10", 0.0, "x"),
        ("2026-10", 5.0, " "),
    ] {
        assert!(matches!(
            app.submit_appeal(&admin, community.clone(), period, points, reason)
                .await,
            Err(civicgrid::error::AppError::Unprocessable(_))
        ));
    }
    let other = staff(app, "admin.st2c1").await;
    assert!(matches!(
        app.submit_appeal(&other, community.clone(), "2026-10", 5.0, "not mine")
            .await,
        Err(civicgrid::error::AppError::Forbidden(_))
    ));
    let appeal = app
        .submit_appeal(
            &admin,
            community.clone(),
            "2026-10",
            4.0,
            "两起超期系暴雨停电所致",
        )
        .await
        .expect("submit");
    assert_eq!(appeal.status, AppealStatus::Submitted);
    let decide = AppealStep::Decide { uphold: true };
    let leader = staff(app, "leader.st1").await;
    assert!(
        app.advance_appeal(&leader, &appeal.id, decide.clone(), "先审后决")
            .await
            .is_err(),
        "review first"
    );
    assert!(matches!(
        app.advance_appeal(
            &admin,
            &appeal.id,
            AppealStep::Review { supports: true },
            "self"
        )
        .await,
        Err(civicgrid::error::AppError::Forbidden(_))
    ));
    let reviewer = staff(app, "shiftlead.st1").await;
    let reviewed = app
        .advance_appeal(
            &reviewer,
            &appeal.id,
            AppealStep::Review { supports: true },
            "情况属实",
        )
        .await
        .expect("review");
    assert_eq!(reviewed.status, AppealStatus::Reviewed);
    assert!(
        matches!(
            app.advance_appeal(&reviewer, &appeal.id, decide.clone(), "no")
                .await,
            Err(civicgrid::error::AppError::Forbidden(_))
        ),
        "a shift leader does not decide"
    );
    let upheld = app
        .advance_appeal(&leader, &appeal.id, decide.clone(), "同意加回")
        .await
        .expect("decide");
    assert_eq!(upheld.status, AppealStatus::Upheld);
    assert_eq!(upheld.history.as_array().map(Vec::len), Some(3));
    assert!(
        app.advance_appeal(&leader, &appeal.id, decide, "again")
            .await
            .is_err(),
        "final"
    );
    let after = app
        .kpi_table(&scope, "2026-10-01..2026-10-31", None)
        .await
        .expect("table");
    let row = after
        .rows
        .iter()
        .find(|r| r.kind == "region" && r.code == "440305001001")
        .expect("row");
    assert_eq!(row.adjustment, 4.0);
    if let (Some(b), Some(a)) = (score_of(&before), score_of(&after)) {
        assert!((a - (b + 4.0).min(100.0)).abs() < 0.051, "{b} → {a}");
    }
    let changes = app
        .repo
        .adjustments(&civicgrid::assessment::period_key(
            &Period::parse("2026-10").expect("p"),
        ))
        .await
        .expect("adjustments");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].made_by, "leader.st1");
    assert!(changes[0].reason.contains("暴雨") && changes[0].reason.contains("同意加回"));
    surveys(app).await;
}

/// 群众评议: residents rate units once each; the mean rating enters the units' scores with the
/// scheme's weight.
async fn surveys(app: &App) {
    use civicgrid::error::AppError;
    let leader = staff(app, "leader.st1").await;
    let closes: jiff::Timestamp = "2026-12-31T00:00:00Z".parse().expect("t");
    let units = vec!["ST001".to_owned(), "CGJ".to_owned()];
    assert!(matches!(
        app.create_survey(
            &staff(app, "shiftlead.st1").await,
            "x",
            "2026-10",
            &units,
            closes
        )
        .await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        app.create_survey(&leader, "评议", "2026-10", &["NOPE".to_owned()], closes)
            .await,
        Err(AppError::Unprocessable(_))
    ));
    let survey = app
        .create_survey(&leader, "2026年10月群众评议", "2026-10", &units, closes)
        .await
        .expect("survey");
    let scope: civicgrid_domain::territory::RegionCode = "440305".parse().expect("s");
    let before = app
        .kpi_table(&scope, "2026-10", Some("unit"))
        .await
        .expect("table");
    let answers = [
        ("13800000001", 5u8, 1u8),
        ("13800000002", 5, 2),
        ("138-0000-0003", 5, 3),
    ];
    for (phone, st, cgj) in answers {
        app.answer_survey(
            &survey.id,
            phone,
            &[("ST001".to_owned(), st), ("CGJ".to_owned(), cgj)].into(),
        )
        .await
        .expect("answer");
    }
    assert!(
        matches!(
            app.answer_survey(&survey.id, "13800000001", &[("ST001".to_owned(), 1)].into())
                .await,
            Err(AppError::Conflict(_))
        ),
        "one answer per person"
    );
    for bad in [
        vec![("ST001".to_owned(), 6u8)],
        vec![("JTJ".to_owned(), 3)],
        vec![],
    ] {
        assert!(matches!(
            app.answer_survey(&survey.id, "13900000000", &bad.into_iter().collect())
                .await,
            Err(AppError::Unprocessable(_))
        ));
    }
    let after = app
        .kpi_table(&scope, "2026-10", Some("unit"))
        .await
        .expect("table");
    let row = |t: &civicgrid::assessment::KpiTable, u: &str| {
        t.rows
            .iter()
            .find(|r| r.code == u)
            .map(|r| r.indicators.public_evaluation)
    };
    assert_eq!(row(&before, "ST001"), Some(None));
    assert_eq!(row(&after, "ST001"), Some(Some(1.0)), "all 5s");
    assert_eq!(row(&after, "CGJ"), Some(Some(0.25)), "mean 2 of 5");
}

#[tokio::test]
async fn rollups_equal_the_recount_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let repo = civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("k.db").display()))
        .await
        .expect("store");
    let app = with_cases(repo).await;
    exercise(&app).await;
    any_capability_counts_like_cases(&app).await;
}

#[tokio::test]
async fn rollups_equal_the_recount_on_postgresql() {
    let Some(pg) = crate::PgSchema::new("kpi").await else {
        return;
    };
    let repo = pg.repo.clone();
    let app = with_cases(repo.clone()).await;
    exercise(&app).await;
    any_capability_counts_like_cases(&app).await;
    pg.drop_schema().await;
}

/// Another capability's records (here a stand-in for household visits, kept in memory per
/// store) go through the same queue and rollups as cases: the rollups still equal the recount,
/// as records are added, changed and removed.
mod visits {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{LazyLock, Mutex};

    use civicgrid::App;
    use civicgrid::assessment::sources::KpiSource;
    use civicgrid_domain::kpi::{Counters, Subject};
    use civicgrid_store::KpiEntry;

    /// Visits per store (tests on both backends run at once), by id.
    pub static VISITS: LazyLock<Mutex<HashMap<usize, BTreeMap<uuid::Uuid, KpiEntry>>>> =
        LazyLock::new(Default::default);

    pub fn store_key(app: &App) -> usize {
        std::sync::Arc::as_ptr(&app.repo) as *const () as usize
    }

    pub const SOURCE: KpiSource = KpiSource {
        name: "visit",
        contributions: |app, id| {
            let entry = VISITS
                .lock()
                .expect("visits")
                .get(&store_key(app))
                .and_then(|m| m.get(&id).cloned());
            Box::pin(async move { Ok(entry.into_iter().collect()) })
        },
        recount: |app, scope, period| {
            let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
            if let Some(m) = VISITS.lock().expect("visits").get(&store_key(app)) {
                for e in m.values() {
                    let day: jiff::civil::Date = e.day.parse().expect("day");
                    if e.region.starts_with(scope.as_str())
                        && period.start <= day
                        && day < period.end
                    {
                        *out.entry(e.subject.clone()).or_default() += &e.counters;
                    }
                }
            }
            Box::pin(async move { Ok(out) })
        },
    };
}

async fn any_capability_counts_like_cases(app: &App) {
    use civicgrid_domain::kpi::{Counters, Subject};
    let mut app = app.clone();
    let mut sources = civicgrid::assessment::sources::registry();
    sources.push(visits::SOURCE);
    app.kpi_sources = Arc::new(sources);
    let key = visits::store_key(&app);
    let visit = |region: &str, worker: &str, day: &str, n: u64| civicgrid_store::KpiEntry {
        region: region.into(),
        subject: Subject::Staff(worker.into()),
        day: day.into(),
        counters: Counters {
            reported: n,
            ..Counters::default()
        },
    };
    let ids: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
    let first = [
        visit("440305001001", "gw.st1c1.1", "2026-10-15", 2),
        visit("440305001001", "gw.st1c1.1", "2026-11-03", 1),
        visit("440305002003", "gw.st2c3.1", "2026-10-20", 4),
    ];
    let before = app
        .kpi_rollup(
            &"440305".parse().expect("r"),
            &Period::parse("2026").expect("p"),
        )
        .await
        .expect("rollup");
    for (id, entry) in ids.iter().zip(first) {
        visits::VISITS
            .lock()
            .expect("visits")
            .entry(key)
            .or_default()
            .insert(*id, entry.clone());
        app.repo
            .mark_kpi("visit", id, &entry.region)
            .await
            .expect("marked");
    }
    assert_eq!(app.refresh_kpis().await.expect("refresh"), 3);
    let after = app
        .kpi_rollup(
            &"440305".parse().expect("r"),
            &Period::parse("2026").expect("p"),
        )
        .await
        .expect("rollup");
    assert_ne!(before, after, "the visits count");
    rollups_equal_recount(&app).await;
    // One changes, one is removed: counted again from what they are now.
    {
        let mut all = visits::VISITS.lock().expect("visits");
        let m = all.entry(key).or_default();
        m.insert(ids[0], visit("440305001001", "gw.st1c1.1", "2026-10-16", 5));
        m.remove(&ids[2]);
    }
    for (id, region) in [(ids[0], "440305001001"), (ids[2], "440305002003")] {
        app.repo
            .mark_kpi("visit", &id, region)
            .await
            .expect("marked");
    }
    assert_eq!(app.refresh_kpis().await.expect("refresh"), 2);
    rollups_equal_recount(&app).await;
    // A record of a capability this version does not know stays queued, and stops nothing.
    app.repo
        .mark_kpi("unknown", &uuid::Uuid::now_v7(), "440305001001")
        .await
        .expect("marked");
    assert_eq!(app.refresh_kpis().await.expect("refresh"), 0);
    assert_eq!(app.repo.kpi_dirty(10).await.expect("queue").len(), 1);
}

async fn cli(db: &str, args: &[&str]) -> Vec<u8> {
    let (code, out) = super::support::run_cli(db, args, "")
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert_eq!(code, 0, "{args:?}");
    out
}

#[tokio::test]
async fn the_kpi_command_writes_csv_json_xlsx_and_geojson() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("c.db").display());
    // The data set when it is beside the checkout, the shipped texts when not (the command
    // falls back by itself).
    let messages = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/teddy2020");
    let messages = messages.to_str().expect("path");
    cli(
        &db,
        &[
            "demo",
            "--months",
            "2",
            "--cases-per-month",
            "40",
            "--messages",
            messages,
        ],
    )
    .await;
    // The demo's cases end today (system time), in Beijing time: the last 30 days hold about
    // half of them whatever the day of the month (a calendar month may have just begun).
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz"))
        .date();
    let from = today
        .checked_sub(jiff::Span::new().days(30))
        .expect("30 days back");
    let month = format!("{from}..{today}");
    let csv = String::from_utf8(
        cli(
            &db,
            &[
                "kpi", "--scope", "440305", "--period", &month, "--kind", "unit",
            ],
        )
        .await,
    )
    .expect("utf-8");
    assert!(csv.starts_with("类型 kind,代码 code,名称 name,得分 score"));
    assert!(csv.lines().count() > 3, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.starts_with("unit,")));
    let json: serde_json::Value = serde_json::from_slice(
        &cli(
            &db,
            &[
                "kpi", "--scope", "440305", "--period", &month, "--format", "json",
            ],
        )
        .await,
    )
    .expect("json");
    assert_eq!(json["scope"], "440305");
    assert!(json["rows"].as_array().expect("rows").len() > 10);
    let xlsx = cli(
        &db,
        &[
            "kpi",
            "--scope",
            "440305001",
            "--period",
            &month,
            "--format",
            "xlsx",
        ],
    )
    .await;
    assert!(xlsx.starts_with(b"PK\x03\x04"), "an XLSX is a zip");
    assert!(
        xlsx.windows(b"xl/worksheets/sheet1.xml".len())
            .any(|w| w == b"xl/worksheets/sheet1.xml")
    );
    let geo: serde_json::Value = serde_json::from_slice(
        &cli(
            &db,
            &[
                "kpi",
                "--scope",
                "440305001001",
                "--period",
                &month,
                "--format",
                "geojson",
            ],
        )
        .await,
    )
    .expect("geojson");
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().expect("features");
    assert_eq!(features.len(), 12, "the community's grids");
    assert!(
        features
            .iter()
            .any(|f| f["properties"]["reported"].as_u64().unwrap_or(0) > 0)
    );
    // A beat: its four grids and the beat as their sum.
    let beat: serde_json::Value = serde_json::from_slice(
        &cli(
            &db,
            &[
                "kpi",
                "--scope",
                "beat:440305001001-B1",
                "--period",
                &month,
                "--format",
                "json",
            ],
        )
        .await,
    )
    .expect("json");
    let rows = beat["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["kind"], "beat");
    let grid_sum: u64 = rows[1..]
        .iter()
        .map(|r| {
            r["indicators"]["counters"]["reported"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        rows[0]["indicators"]["counters"]["reported"].as_u64(),
        Some(grid_sum)
    );
    assert!(rows[1..].iter().all(|r| {
        r["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("440305001001"))
    }));

    // A deployment's own scheme: units scored on satisfaction alone, stricter bands.
    let before = cli(&db, &["export", "assessment"]).await;
    let scheme = dir.path().join("scheme.toml");
    std::fs::write(
        &scheme,
        "min_cases = 8\n[bands]\nA = 95.0\nB = 85.0\nC = 70.0\nD = 50.0\n[weights.unit]\nsatisfaction_rate = 1.0\n",
    )
    .expect("write");
    cli(
        &db,
        &["import", "assessment", scheme.to_str().expect("path")],
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(
        &cli(
            &db,
            &[
                "kpi", "--scope", "440305", "--period", &month, "--kind", "unit", "--format",
                "json",
            ],
        )
        .await,
    )
    .expect("json");
    let mut scored = 0;
    let mut too_few = 0;
    for row in json["rows"].as_array().expect("rows") {
        let received = row["indicators"]["counters"]["received"]
            .as_u64()
            .expect("received");
        let led = row["indicators"]["counters"]["led"].as_u64().expect("led");
        if received.max(led) < 8 {
            // Too few cases for the scheme's minimum: no score, no grade.
            assert!(row["score"].is_null() && row["grade"].is_null(), "{row}");
            too_few += 1;
            continue;
        }
        match row["indicators"]["satisfaction_rate"].as_f64() {
            Some(r) => {
                let score = row["score"].as_f64().expect("score");
                assert!((score - (r * 1000.0).round() / 10.0).abs() < 0.051, "{row}");
                let grade = row["grade"].as_str().expect("grade");
                let expected = if score >= 95.0 {
                    "A"
                } else if score >= 85.0 {
                    "B"
                } else if score >= 70.0 {
                    "C"
                } else if score >= 50.0 {
                    "D"
                } else {
                    "E"
                };
                assert_eq!(grade, expected);
                scored += 1;
            }
            None => assert!(row["score"].is_null(), "{row}"),
        }
    }
    assert!(
        scored > 0 && too_few > 0,
        "{scored} scored, {too_few} too few"
    );
    assert!(
        String::from_utf8(cli(&db, &["export", "assessment"]).await)
            .expect("utf-8")
            .contains("min_cases = 8")
    );
    // A bad scheme names its field and changes nothing.
    std::fs::write(
        &scheme,
        "[bands]\nA = 50.0\nB = 60.0\nC = 70.0\nD = 80.0\n[weights.unit]\nspeed = 1.0\n",
    )
    .expect("write");
    let argv = [
        "civicgrid",
        "--database",
        &db,
        "import",
        "assessment",
        scheme.to_str().expect("path"),
    ];
    let parsed = <civicgrid::cli::Cli as clap::Parser>::try_parse_from(argv).expect("arguments");
    let err = civicgrid::cli::run(parsed, &mut "".as_bytes(), &mut Vec::new())
        .await
        .expect_err("bad scheme");
    let text = err.to_string();
    assert!(
        text.contains("weights.unit.speed") && text.contains("bands"),
        "{text}"
    );
    let after_bad = cli(&db, &["export", "assessment"]).await;
    assert_ne!(after_bad, before, "the good import stands");
    assert!(
        String::from_utf8(after_bad)
            .expect("utf-8")
            .contains("satisfaction_rate = 1.0")
    );

    // Bad scope or period: a clear error, nothing written.
    for (scope, period) in [
        ("440305", "2026-13"),
        ("999999", &month[..]),
        ("abc", &month[..]),
    ] {
        let argv = [
            "civicgrid",
            "--database",
            &db,
            "kpi",
            "--scope",
            scope,
            "--period",
            period,
        ];
        let parsed =
            <civicgrid::cli::Cli as clap::Parser>::try_parse_from(argv).expect("arguments");
        let mut out = Vec::new();
        assert!(
            civicgrid::cli::run(parsed, &mut "".as_bytes(), &mut out)
                .await
                .is_err(),
            "{scope} {period}"
        );
        assert!(out.is_empty());
    }
}
