//! Accountability and the published lists end to end, on SQLite and on PostgreSQL: a record
//! proposed by the supervision officer, refused to its own proposer and to the unit's staff
//! as approver, approved by a leader; its points a score change in its period; appealed by
//! the unit through the assessment's workflow and given back when upheld; the public notice.
//! The power list published from CSV (problems by line and field, all or nothing), a second
//! version by REST with its differences, the version in force by its day, a version that the
//! database refuses to change, and a snapshot of the responsibility list.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::clock::ManualClock;
use civicgrid_domain::kpi::AppealStep;
use serde_json::{Value, json};

use super::support::{Backend, Env, TestApp, raw_execute, run_cli, staff};

async fn call(
    t: &TestApp,
    key: Option<&str>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut c = t.request(method, uri);
    if let Some(k) = key {
        c = c.bearer(k);
    }
    if let Some(b) = body {
        c = c.json(&b);
    }
    let a = c.send().await;
    (
        a.status,
        serde_json::from_str(&a.text()).unwrap_or(Value::Null),
    )
}

async fn key(t: &TestApp, user: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    t.app
        .create_api_key(&format!("{user} a#{n}"), Some(user))
        .await
        .expect("key")
}

const POWERS_V1: &str = "code,name,category,basis,unit,process,time_limit,supervision\n\
QL-XK-001,临时占用道路审批,行政许可,《城市道路管理条例》第三十一条,ST001,申请—受理—审查—决定,20个工作日,监督举报平台\n\
QL-JC-002,燃气安全检查,行政检查,《城镇燃气管理条例》,ST001,检查—记录—整改,即时,监督举报平台\n";

async fn run(backend: Backend) {
    let clock = Arc::new(ManualClock::new("2026-03-20T02:00:00Z".parse().expect("t")));
    let Some(t) = TestApp::builder()
        .on(backend)
        .clock(clock.clone())
        .demo(1)
        .sealed()
        .try_build()
        .await
    else {
        return;
    };
    let supervisor = key(&t, "supervisor").await;
    let leader = key(&t, "leader.st1").await;
    let handler = key(&t, "handler.st001").await;
    let admin = key(&t, "admin").await;

    // A record needs grounds and bounded points; the unit's staff cannot propose.
    let body = json!({"measure": "public_criticism", "subject_kind": "unit", "subject_code": "ST001", "period": "2026-03", "points": 2, "public": true, "facts": "三月超期案件12件", "kpi": "overdue_cases"});
    let (s, _) = call(&t, Some(&supervisor), "POST", "/api/v1/accountability", Some(json!({"measure": "public_criticism", "subject_kind": "unit", "subject_code": "ST001", "period": "2026-03", "points": 25, "facts": "x"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        call(
            &t,
            Some(&handler),
            "POST",
            "/api/v1/accountability",
            Some(body.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (s, r) = call(
        &t,
        Some(&supervisor),
        "POST",
        "/api/v1/accountability",
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let n = r["number"].as_u64().expect("number");
    // Nothing counts before approval, and the notice is not public yet.
    let period = "2026-03-01..2026-04-01";
    assert!(
        t.app
            .repo
            .adjustments(period)
            .await
            .expect("adj")
            .is_empty()
    );
    assert_eq!(
        call(&t, None, "GET", "/api/v1/accountability/notices", None)
            .await
            .1,
        json!([])
    );
    // The unit's own staff and the proposer do not decide it.
    let decide = |version: u64| json!({"version": version, "approve": true, "note": "同意"});
    assert_eq!(
        call(
            &t,
            Some(&handler),
            "POST",
            &format!("/api/v1/accountability/{n}/decision"),
            Some(decide(1))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &t,
            Some(&supervisor),
            "POST",
            &format!("/api/v1/accountability/{n}/decision"),
            Some(decide(1))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (s, r) = call(
        &t,
        Some(&leader),
        "POST",
        &format!("/api/v1/accountability/{n}/decision"),
        Some(decide(1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "approved");
    let (s, _) = call(
        &t,
        Some(&leader),
        "POST",
        &format!("/api/v1/accountability/{n}/decision"),
        Some(decide(2)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "decided once");
    let adj = t.app.repo.adjustments(period).await.expect("adj");
    assert_eq!(adj.iter().map(|a| a.points).sum::<f64>(), -2.0);
    let (_, notices) = call(&t, None, "GET", "/api/v1/accountability/notices", None).await;
    assert_eq!(notices[0]["measure"], "public_criticism");
    assert_eq!(notices[0]["subject_code"], "ST001");

    // The unit appeals through the assessment: reviewed, decided, upheld → the points back.
    let (s, r) = call(
        &t,
        Some(&handler),
        "POST",
        &format!("/api/v1/accountability/{n}/appeal"),
        Some(json!({"reason": "其中8件为上级转办延误"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["appeal_status"], "submitted");
    assert_eq!(
        call(
            &t,
            Some(&handler),
            "POST",
            &format!("/api/v1/accountability/{n}/appeal"),
            Some(json!({"reason": "again"}))
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let appeal: uuid::Uuid = r["appeal_id"]
        .as_str()
        .expect("appeal")
        .parse()
        .expect("id");
    // Reviewed (kpi.read: the supervision officer), then decided (kpi.manage: the leader).
    t.app
        .advance_appeal(
            &staff(&t.app, "supervisor").await,
            &appeal,
            AppealStep::Review { supports: true },
            "属实",
        )
        .await
        .expect("reviewed");
    // The supervision officer holds no kpi.manage: the decision is not theirs.
    assert!(
        t.app
            .advance_appeal(
                &staff(&t.app, "supervisor").await,
                &appeal,
                AppealStep::Decide { uphold: true },
                "退回扣分"
            )
            .await
            .is_err()
    );
    t.app
        .advance_appeal(
            &staff(&t.app, "leader.st1").await,
            &appeal,
            AppealStep::Decide { uphold: true },
            "退回扣分",
        )
        .await
        .expect("upheld");
    let adj = t.app.repo.adjustments(period).await.expect("adj");
    assert_eq!(adj.iter().map(|a| a.points).sum::<f64>(), 0.0, "{adj:?}");
    let (_, r) = call(
        &t,
        Some(&supervisor),
        "GET",
        &format!("/api/v1/accountability/{n}"),
        None,
    )
    .await;
    assert_eq!(r["appeal_status"], "upheld");
    // Events stay.
    assert!(
        raw_execute(&t, "DELETE FROM accountability_events")
            .await
            .is_err()
    );

    // The power list: problems by line and field, nothing kept; then version 1 from CSV.
    let env = Env::new();
    let bad = env.file("bad.csv", &POWERS_V1.replace("ST001,申请", "NOPE,申请"));
    let (code, out) = run_cli(
        &t.url,
        &[
            "import",
            "power-list",
            bad.to_str().expect("p"),
            "--effective-from",
            "2026-01-01",
        ],
        "",
    )
    .await
    .map(|(c, o)| (c, String::from_utf8_lossy(&o).into_owned()))
    .unwrap_or_else(|e| (1, e.to_string()));
    assert_ne!(code, 0);
    assert!(
        out.contains("bad.csv") && out.contains("line 2") && out.contains("unit"),
        "{out}"
    );
    assert!(
        t.app
            .repo
            .list_versions("power")
            .await
            .expect("versions")
            .is_empty()
    );
    let good = env.file("powers.csv", POWERS_V1);
    let (code, _) = run_cli(
        &t.url,
        &[
            "import",
            "power-list",
            good.to_str().expect("p"),
            "--effective-from",
            "2026-01-01",
        ],
        "",
    )
    .await
    .expect("import");
    assert_eq!(code, 0);
    // Version 2 by REST, from July: one time limit shorter, one power removed, one added.
    let (s, v2) = call(&t, Some(&admin), "POST", "/api/v1/lists/power/versions", Some(json!({
        "effective_from": "2026-07-01", "note": "压缩办理时限",
        "powers": [
            {"code": "QL-XK-001", "name": "临时占用道路审批", "category": "行政许可", "basis": "《城市道路管理条例》第三十一条", "unit": "ST001", "process": "申请—受理—审查—决定", "time_limit": "10个工作日", "supervision": "监督举报平台"},
            {"code": "QL-QR-003", "name": "低保资格确认", "category": "行政确认", "basis": "《社会救助暂行办法》", "unit": "ST001", "process": "申请—入户调查—公示—确认", "time_limit": "30日", "supervision": "监督举报平台"}
        ]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["number"], 2);
    let changes: Vec<(String, String)> = v2["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap_or("").to_owned(),
                c["key"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(changes.contains(&("removed".into(), "QL-JC-002".into())));
    assert!(changes.contains(&("added".into(), "QL-QR-003".into())));
    assert!(changes.contains(&("changed".into(), "QL-XK-001".into())));
    // In March, version 1 is in force; in July, version 2.
    assert_eq!(
        call(&t, None, "GET", "/api/v1/lists/power", None).await.1["number"],
        1
    );
    clock.set("2026-07-01T02:00:00Z".parse().expect("t"));
    assert_eq!(
        call(&t, None, "GET", "/api/v1/lists/power", None).await.1["number"],
        2
    );
    assert_eq!(
        call(
            &t,
            Some(&handler),
            "POST",
            "/api/v1/lists/power/versions",
            Some(json!({"effective_from": "2026-08-01", "powers": []}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert!(
        raw_execute(&t, "UPDATE list_versions SET note = 'x'")
            .await
            .is_err()
    );
    let (code, csv) = run_cli(&t.url, &["export", "power-list", "--version", "1"], "")
        .await
        .expect("export");
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8_lossy(&csv), POWERS_V1);
    // The responsibility list as published today.
    let (s, r) = call(
        &t,
        Some(&admin),
        "POST",
        "/api/v1/lists/responsibility/versions",
        Some(json!({"effective_from": "2026-07-01"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert!(r["entries"].as_array().is_some_and(|e| !e.is_empty()));
    // Public pages show both.
    for uri in [
        "/lists/power",
        "/lists/power/versions/2",
        "/lists/responsibility",
        "/notices",
    ] {
        let a = t.get(uri).send().await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
    }
    assert!(
        t.get("/lists/power/versions/2")
            .send()
            .await
            .text()
            .contains("10个工作日")
    );
    t.finish().await;
}

#[tokio::test]
async fn accountability_and_published_lists_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn accountability_and_published_lists_on_postgresql() {
    run(Backend::Postgres).await;
}
