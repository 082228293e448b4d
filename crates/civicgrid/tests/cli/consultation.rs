//! Consultation end to end over REST, on SQLite and on PostgreSQL: a resident's topic
//! supported by households with their keys until it qualifies and warns on the working
//! calendar; opinions flagged, hidden and restored with every step kept; a meeting that
//! summons a unit, checks it in and keeps minutes and attachments; a decision whose case goes
//! through the loop and whose milestone is marked done, the progress computed from both; a
//! secret poll with one-time codes; results as CSV all or nothing; the assessment equal to the
//! recount. And the database is searched for any link between a voting code and a choice.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::clock::ManualClock;
use civicgrid_domain::case::Action;
use civicgrid_domain::kpi::{Period, Subject};
use civicgrid_domain::policy::Actor;
use serde_json::{Value, json};

use super::support::{Backend, TestApp, every_row, staff};

const C1: &str = "440305001001";
const GRID: &str = "440305001001001";

async fn call(
    t: &TestApp,
    key: Option<&str>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_from(t, key, method, uri, body, "198.51.100.1").await
}

async fn call_from(
    t: &TestApp,
    key: Option<&str>,
    method: &str,
    uri: &str,
    body: Option<Value>,
    from: &str,
) -> (StatusCode, Value) {
    let mut c = t.request(method, uri).client_addr(from);
    if let Some(k) = key {
        c = c.bearer(k);
    }
    if let Some(b) = body {
        c = c.json(&b);
    }
    let a = c.send().await;
    let v = serde_json::from_str(&a.text()).unwrap_or(Value::Null);
    (a.status, v)
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn households(t: &TestApp, n: usize, grid: &str) -> Vec<uuid::Uuid> {
    let new = (0..n)
        .map(|i| civicgrid::households::NewHousehold {
            grid: grid.parse().expect("grid"),
            building: format!("{}栋", i / 10 + 1),
            unit: "1单元".into(),
            room: format!("{}", 101 + i),
            consent: false,
            contact: None,
        })
        .collect();
    t.app
        .add_households(&Actor::System, new)
        .await
        .expect("households")
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// Every row of every table as text, by table (SQLite or PostgreSQL).
/// A table's columns in order.
async fn columns(t: &TestApp, table: &str) -> Vec<String> {
    let rows: Vec<(String,)> = if t.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&t.url).await.expect("sqlite");
        let r = sqlx::query_as(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .fetch_all(&pool)
        .await
        .expect("columns");
        pool.close().await;
        r
    } else {
        let pool = sqlx::PgPool::connect(&t.url).await.expect("postgres");
        let r = sqlx::query_as(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&pool)
        .await
        .expect("columns");
        pool.close().await;
        r
    };
    rows.into_iter().map(|(c,)| c).collect()
}

async fn rollups_equal_recount(t: &TestApp) -> civicgrid_domain::kpi::Counters {
    t.app.refresh_kpis().await.expect("rollups");
    let scope = "440305".parse().expect("district");
    let period = Period::parse("2026").expect("period");
    let rollup = t.app.kpi_rollup(&scope, &period).await.expect("rollup");
    let recount = t.app.kpi_recount(&scope, &period).await.expect("recount");
    assert_eq!(rollup, recount, "the rollups equal the recount");
    rollup
        .get(&Subject::Region(C1.into()))
        .cloned()
        .unwrap_or_default()
}

async fn consultation(t: &TestApp, clock: &ManualClock) {
    let admin = t
        .app
        .create_api_key("admin.st1c1", Some("admin.st1c1"))
        .await
        .expect("key");
    let gw = t
        .app
        .create_api_key("gw.st1c1.1", Some("gw.st1c1.1"))
        .await
        .expect("key");
    let handler = t
        .app
        .create_api_key("handler.st001", Some("handler.st001"))
        .await
        .expect("key");
    let other_admin = t
        .app
        .create_api_key("admin.st1c2", Some("admin.st1c2"))
        .await
        .expect("key");
    let homes = households(t, 40, GRID).await;
    let elsewhere = households(t, 1, "440305001002001").await;

    // The community's rule: 5 % of its households, 5 working days to reach an agenda.
    let rule = json!({"region": C1, "threshold_per_mille": 50, "agenda_days": 5});
    let (s, _) = call(
        t,
        Some(&gw),
        "PUT",
        "/api/v1/topics/rules",
        Some(rule.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, p) = call(
        t,
        Some(&admin),
        "PUT",
        "/api/v1/topics/rules",
        Some(json!({"region": C1, "threshold_per_mille": 0, "agenda_days": 99})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&p), ["threshold_per_mille", "agenda_days"]);
    let (s, _) = call(t, Some(&admin), "PUT", "/api/v1/topics/rules", Some(rule)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, r) = call(
        t,
        None,
        "GET",
        &format!("/api/v1/topics/rules?region={C1}"),
        None,
    )
    .await;
    assert_eq!(
        (r["threshold_per_mille"].as_u64(), r["agenda_days"].as_u64()),
        (Some(50), Some(5))
    );
    let (_, r) = call(
        t,
        None,
        "GET",
        "/api/v1/topics/rules?region=440305001002",
        None,
    )
    .await;
    assert_eq!(
        (r["threshold_per_mille"].as_u64(), r["agenda_days"].as_u64()),
        (Some(50), Some(10)),
        "the defaults elsewhere"
    );

    // A resident raises a topic in the community (anonymously): 40 households, threshold 2.
    let (s, p) = call(
        t,
        None,
        "POST",
        "/api/v1/topics",
        Some(json!({"scope": "440305009001", "title": "x"})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["scope".to_owned()])
    );
    let (s, p) = call(
        t,
        None,
        "POST",
        "/api/v1/topics",
        Some(json!({"scope": C1, "title": "x", "raised_as": "community"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    let (s, raised) = call(t, None, "POST", "/api/v1/topics", Some(json!({"scope": C1, "title": "东门夜间关闭", "description": "外来车辆夜间穿行，噪音扰民"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{raised}");
    assert!(raised["secret"].is_string());
    let number = raised["topic"]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    assert_eq!(
        (
            raised["topic"]["threshold"].as_u64(),
            raised["topic"]["status"].as_str()
        ),
        (Some(2), Some("open"))
    );

    // Household keys from the register: the grid worker keeps this community's households.
    let (s, _) = call(
        t,
        Some(&other_admin),
        "POST",
        "/api/v1/topics/household-keys",
        Some(json!({"household": homes[0]})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut keys = Vec::new();
    for h in [homes[0], homes[1], elsewhere[0]] {
        let who = if h == elsewhere[0] {
            &other_admin
        } else {
            &admin
        };
        let (s, k) = call(
            t,
            Some(who),
            "POST",
            "/api/v1/topics/household-keys",
            Some(json!({"household": h})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{k}");
        keys.push(k["key"].as_str().expect("key").to_owned());
    }
    let support = |key: &str| json!({"household_key": key});
    let url = format!("/api/v1/topics/{number}/supports");
    let (s, v) = call(t, None, "POST", &url, Some(support(&keys[0]))).await;
    assert_eq!(
        (s, v["supports"].as_u64(), v["status"].as_str()),
        (StatusCode::OK, Some(1), Some("open"))
    );
    let (s, _) = call(
        t,
        None,
        "POST",
        &url,
        Some(support(&keys[0].to_lowercase())),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "a household supports once");
    let (s, _) = call(t, None, "POST", &url, Some(support("NOPE-NOPE"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(t, None, "POST", &url, Some(support(&keys[2]))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a household of another community");
    let (s, v) = call(t, None, "POST", &url, Some(support(&keys[1]))).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("qualified")),
        "{v}"
    );
    // Qualified on Thursday 10:00 (Beijing): 5 working days is Thursday next week, 17:30.
    assert_eq!(v["agenda_due"], "2026-11-12T09:30:00Z");

    // The deadline warns as cases do: yellow with a fifth of the time left, red when past.
    clock.set("2026-11-12T03:00:00Z".parse().expect("t"));
    assert_eq!(t.app.warn_agenda_deadlines().await.expect("sweep"), 1);
    assert_eq!(
        t.app.warn_agenda_deadlines().await.expect("again"),
        0,
        "once"
    );
    let (_, v) = call(t, None, "GET", &format!("/api/v1/topics/{number}"), None).await;
    assert_eq!(v["topic"]["alarm"], "yellow");

    // Opinions: threaded, flagged (three flaggers hide one until reviewed), moderated with
    // the reason shown in its place; every step kept.
    let (s, first) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/topics/{number}/opinions"),
        Some(json!({"body": "支持夜间关闭"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let first_id = first["id"].as_str().expect("id").to_owned();
    let (s, reply) = call(
        t,
        Some(&gw),
        "POST",
        &format!("/api/v1/topics/{number}/opinions"),
        Some(json!({"body": "快递车怎么进？", "parent": first_id})),
    )
    .await;
    assert_eq!(
        (s, reply["author"].as_str()),
        (StatusCode::CREATED, Some("gw.st1c1.1"))
    );
    let (s, p) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/topics/{number}/opinions"),
        Some(json!({"body": " ", "parent": uuid::Uuid::nil()})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["body".to_owned(), "parent".to_owned()]
        )
    );
    let flag_url = format!("/api/v1/topics/{number}/opinions/{first_id}/flags");
    for (i, from) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .enumerate()
    {
        let (s, v) = call_from(
            t,
            None,
            "POST",
            &flag_url,
            Some(json!({"reason": "广告"})),
            from,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            v["visibility"],
            if i < 2 { "visible" } else { "awaiting_review" }
        );
    }
    let (s, _) = call_from(t, None, "POST", &flag_url, Some(json!({})), "203.0.113.1").await;
    assert_eq!(s, StatusCode::CONFLICT, "one flag per flagger");
    let (_, v) = call(t, None, "GET", &format!("/api/v1/topics/{number}"), None).await;
    let shown = &v["opinions"][0];
    assert_eq!(
        (shown["visibility"].as_str(), shown["body"].is_null()),
        (Some("awaiting_review"), true)
    );
    let mod_url = format!("/api/v1/topics/{number}/opinions/{first_id}/moderation");
    let (s, _) = call(
        t,
        Some(&gw),
        "POST",
        &mod_url,
        Some(json!({"action": "restore"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(
        t,
        Some(&admin),
        "POST",
        &mod_url,
        Some(json!({"action": "restore"})),
    )
    .await;
    assert_eq!(
        (s, v["visibility"].as_str()),
        (StatusCode::OK, Some("visible"))
    );
    let (s, p) = call(
        t,
        Some(&admin),
        "POST",
        &mod_url,
        Some(json!({"action": "hide", "reason": ""})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()])
    );
    let (s, v) = call(
        t,
        Some(&admin),
        "POST",
        &mod_url,
        Some(json!({"action": "hide", "reason": "含他人电话号码"})),
    )
    .await;
    assert_eq!(
        (s, v["hide_reason"].as_str(), v["body"].is_null()),
        (StatusCode::OK, Some("含他人电话号码"), true)
    );
    let (s, steps) = call(t, Some(&admin), "GET", &mod_url, None).await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = steps
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["opine", "flag", "flag", "flag_hidden", "restore", "hide"]
    );

    // A joint consultation needs cases and a unit; a residents' council takes the topic on
    // its agenda and summons the unit, which must answer within a working day.
    let starts = "2026-11-12T07:00:00Z";
    let (s, p) = call(t, Some(&admin), "POST", "/api/v1/meetings", Some(json!({"kind": "joint_consultation", "scope": C1, "title": "会商", "place": "社区", "starts_at": starts, "agenda": [{"title": "东门"}]}))).await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["invitees".to_owned(), "agenda".to_owned()]
        )
    );
    let body = json!({"kind": "resident_council", "scope": C1, "title": "十一月居民议事会", "place": "社区党群服务中心",
        "starts_at": starts,
        "invitees": [{"kind": "unit", "reference": "ST001"}, {"kind": "resident", "name": "王大爷"}, {"kind": "member", "reference": "M-1", "name": "李红"}],
        "agenda": [{"title": "东门夜间关闭", "topic": number}]});
    let (s, _) = call(t, Some(&gw), "POST", "/api/v1/meetings", Some(body.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, m) = call(t, Some(&admin), "POST", "/api/v1/meetings", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let meeting = m["meeting"]["number"].as_str().expect("number").to_owned();
    assert_eq!(m["meeting"]["agenda"][0]["topic"], json!(number));
    let (_, v) = call(t, None, "GET", &format!("/api/v1/topics/{number}"), None).await;
    assert_eq!(
        (v["topic"]["status"].as_str(), v["meeting"].as_str()),
        (Some("scheduled"), Some(meeting.as_str()))
    );
    // The public sees units by name, not residents' or members' names.
    let (_, public) = call(t, None, "GET", &format!("/api/v1/meetings/{meeting}"), None).await;
    let named: Vec<(&str, bool)> = public["invitees"]
        .as_array()
        .expect("invitees")
        .iter()
        .map(|i| (i["kind"].as_str().unwrap_or(""), i["name"].is_string()))
        .collect();
    assert_eq!(
        named,
        [("member", false), ("resident", false), ("unit", true)],
        "{public}"
    );
    assert!(
        !public.to_string().contains("王大爷") && !public.to_string().contains("李红"),
        "{public}"
    );
    let answer_url = format!("/api/v1/meetings/{meeting}/answers");
    let (s, _) = call(
        t,
        Some(&gw),
        "POST",
        &answer_url,
        Some(json!({"unit": "ST001", "answer": "attend"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, p) = call(
        t,
        Some(&handler),
        "POST",
        &answer_url,
        Some(json!({"unit": "ST001", "answer": "decline"})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["note".to_owned()])
    );
    let (s, v) = call(
        t,
        Some(&handler),
        "POST",
        &answer_url,
        Some(json!({"unit": "ST001", "answer": "delegate", "note": "派张科长参会"})),
    )
    .await;
    assert_eq!(
        (s, v["answer"].as_str()),
        (StatusCode::OK, Some("delegate")),
        "{v}"
    );
    let (s, _) = call(
        t,
        Some(&handler),
        "POST",
        &answer_url,
        Some(json!({"unit": "ST001", "answer": "attend"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    clock.set("2026-11-12T07:05:00Z".parse().expect("t"));
    for (kind, reference) in [("unit", "ST001"), ("resident", "王大爷")] {
        let (s, v) = call(
            t,
            Some(&admin),
            "POST",
            &format!("/api/v1/meetings/{meeting}/attendance"),
            Some(json!({"kind": kind, "reference": reference})),
        )
        .await;
        assert_eq!(
            (s, v["attended"].as_bool()),
            (StatusCode::OK, Some(true)),
            "{v}"
        );
    }
    let (s, v) = call(
        t,
        Some(&admin),
        "PUT",
        &format!("/api/v1/meetings/{meeting}/minutes"),
        Some(json!({"minutes": "议定：22:00 后关闭东门，安装门禁。"})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("held")));
    let pdf = b"%PDF-1.4 minutes".to_vec();
    let a = t
        .post(&format!(
            "/api/v1/meetings/{meeting}/attachments?name=纪要.pdf"
        ))
        .bearer(&admin)
        .bytes("application/pdf", pdf.clone())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let a = t
        .post(&format!(
            "/api/v1/meetings/{meeting}/attachments?name=x.pdf"
        ))
        .bearer(&admin)
        .bytes("application/pdf", b"not a pdf".to_vec())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = t
        .post(&format!(
            "/api/v1/meetings/{meeting}/attachments?name=签到表.pdf"
        ))
        .bearer(&admin)
        .bytes("application/octet-stream", pdf.clone())
        .send()
        .await;
    assert_eq!(
        (a.status, a.json()["content_type"].as_str()),
        (StatusCode::CREATED, Some("application/pdf")),
        "known by its first bytes"
    );
    let a = t
        .get(&format!("/api/v1/meetings/{meeting}/attachments/0"))
        .send()
        .await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, pdf));

    // The decision: a case to the unit through the loop and a milestone; the topic decided.
    let decision = json!({"agenda_index": 0, "title": "东门夜间关闭", "decision": "22:00 后关闭东门，安装门禁",
        "cases": [{"unit": "ST001", "description": "东门安装门禁并张贴告示", "due_days": 5}],
        "milestones": [{"title": "门禁启用", "owner": "admin.st1c1", "due": "2026-11-30"}]});
    let (s, p) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/meetings/{meeting}/decisions"),
        Some(json!({"agenda_index": 3, "title": "", "decision": "x"})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![
                "agenda_index".to_owned(),
                "title".to_owned(),
                "cases".to_owned()
            ]
        )
    );
    let (s, r) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/meetings/{meeting}/decisions"),
        Some(decision),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let result = r["number"].as_str().expect("number").to_owned();
    assert_eq!(
        (
            r["progress"]["total"].as_u64(),
            r["progress"]["percent"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let (_, v) = call(t, None, "GET", &format!("/api/v1/topics/{number}"), None).await;
    assert_eq!(v["topic"]["status"], "decided");
    let case_number = r["work"][0]["case"].as_str().expect("case").to_owned();
    let case = t
        .app
        .public_case(&case_number)
        .await
        .expect("case")
        .reported;
    assert_eq!(
        case.state.units,
        vec!["ST001".to_owned()],
        "dispatched to the named unit"
    );

    // The case closes in the loop: the result's progress follows, never typed in.
    let h = staff(&t.app, "handler.st001").await;
    let mut c = case;
    for action in [
        Action::StartHandling,
        Action::ReportBack {
            note: "门禁已装".into(),
        },
    ] {
        c = t
            .app
            .act_on_case(&c.id, c.state.version, action, &h)
            .await
            .expect("handle");
    }
    clock.set("2026-11-13T02:00:00Z".parse().expect("t"));
    let verifier = staff(&t.app, "gw.st1c1.1").await;
    t.app
        .act_on_case(
            &c.id,
            c.state.version,
            Action::Verify {
                passed: true,
                note: "已核实".into(),
            },
            &verifier,
        )
        .await
        .expect("verify");
    let (_, v) = call(t, None, "GET", &format!("/api/v1/results/{result}"), None).await;
    assert_eq!(
        (
            v["progress"]["done"].as_u64(),
            v["progress"]["percent"].as_u64()
        ),
        (Some(1), Some(50)),
        "{v}"
    );
    let done_url = format!("/api/v1/results/{result}/milestones/1/completion");
    let (s, _) = call(t, Some(&gw), "POST", &done_url, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/results/{result}/milestones/0/completion"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "a case is done in the loop");
    let (s, v) = call(t, Some(&admin), "POST", &done_url, None).await;
    assert_eq!(
        (
            s,
            v["progress"]["percent"].as_u64(),
            v["progress"]["done_on_time"].as_u64()
        ),
        (StatusCode::OK, Some(100), Some(2))
    );
    let (s, _) = call(t, Some(&admin), "POST", &done_url, None).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A secret poll on the topic: one code per household, one vote per code.
    let (s, poll) = call(t, Some(&admin), "POST", "/api/v1/polls", Some(json!({"scope": C1, "question": "门禁几点关闭？", "options": ["22:00", "23:00"], "opens_at": "2026-11-13T00:00:00Z", "closes_at": "2026-11-15T00:00:00Z", "topic": number}))).await;
    assert_eq!(s, StatusCode::CREATED, "{poll}");
    let poll = poll["id"].as_str().expect("id").to_owned();
    let mut codes = Vec::new();
    for h in [homes[0], homes[1], homes[2]] {
        let (s, v) = call(
            t,
            Some(&admin),
            "POST",
            &format!("/api/v1/polls/{poll}/codes"),
            Some(json!({"household": h})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        codes.push(v["key"].as_str().expect("code").to_owned());
    }
    let (s, _) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/polls/{poll}/codes"),
        Some(json!({"household": homes[0]})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "one code per household");
    let (s, _) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/polls/{poll}/codes"),
        Some(json!({"household": elsewhere[0]})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not in this community's register");
    let vote = |code: &str, choice: usize| json!({"code": code, "choices": [choice]});
    let votes_url = format!("/api/v1/polls/{poll}/votes");
    let (s, p) = call(
        t,
        None,
        "POST",
        &votes_url,
        Some(json!({"code": codes[0], "choices": [0, 1]})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["choices".to_owned()])
    );
    let (s, _) = call(t, None, "POST", &votes_url, Some(vote(&codes[0], 1))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(t, None, "POST", &votes_url, Some(vote(&codes[0], 0))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a code is spent");
    let (s, _) = call(t, None, "POST", &votes_url, Some(vote(&codes[1], 1))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, open) = call(t, None, "GET", &format!("/api/v1/polls/{poll}"), None).await;
    assert_eq!(
        (
            open["phase"].as_str(),
            open["votes"].is_null(),
            open["voted"].is_null()
        ),
        (Some("open"), true, true),
        "no count before it closes"
    );

    // No page or API shows who voted for what, and no table links a code to a choice.
    let rows = every_row(t).await;
    for code in &codes {
        let plain = code.replace('-', "");
        assert!(
            !rows
                .iter()
                .any(|(_, r)| r.contains(code.as_str()) || r.contains(&plain)),
            "a code is kept only as a digest"
        );
    }
    let code_tables: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|(_, r)| homes[..3].iter().any(|h| r.contains(&h.to_string())) && r.contains(&poll))
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(
        code_tables.into_iter().collect::<Vec<_>>(),
        ["poll_codes"],
        "only the codes know the households"
    );
    assert_eq!(rows.iter().filter(|(t, _)| t == "poll_codes").count(), 3);
    // The codes know nothing of a choice, nor of when they were used; the counts nothing of
    // a code or a household.
    assert_eq!(
        columns(t, "poll_codes").await,
        ["poll_id", "code_digest", "household_id", "used"]
    );
    assert_eq!(
        columns(t, "poll_counts").await,
        ["poll_id", "option_index", "votes"]
    );
    assert!(
        !rows.iter().any(|(t, r)| t != "poll_codes"
            && t != "polls"
            && t != "poll_counts"
            && t != "kpi_dirty"
            && r.contains(&poll)),
        "no other row names the poll"
    );
    for path in [
        format!("/api/v1/polls/{poll}"),
        format!("/polls/{poll}"),
        format!("/api/v1/topics/{number}"),
    ] {
        let a = t.get(&path).send().await;
        for h in &homes[..3] {
            assert!(
                !a.text().contains(&h.to_string()),
                "{path} shows a household"
            );
        }
    }

    clock.set("2026-11-15T00:00:00Z".parse().expect("t"));
    let (s, _) = call(t, None, "POST", &votes_url, Some(vote(&codes[2], 0))).await;
    assert_eq!(s, StatusCode::CONFLICT, "closed");
    let (_, closed) = call(t, None, "GET", &format!("/api/v1/polls/{poll}"), None).await;
    assert_eq!(
        (
            closed["votes"].clone(),
            closed["voted"].as_u64(),
            closed["codes_issued"].as_u64()
        ),
        (json!([0, 2]), Some(2), Some(3))
    );

    // Results as CSV: exported with their computed progress; a bad file changes nothing.
    let a = t
        .get(&format!("/api/v1/results?within={C1}&format=csv"))
        .send()
        .await;
    let exported = a.text();
    assert!(exported.starts_with("number,region,title,decision,meeting,kind,case,work_title,owner,due,done_at,percent,overdue\n"), "{exported}");
    assert!(
        exported.contains(&format!("{result},{C1},")) && exported.contains(",100,0"),
        "{exported}"
    );
    let header = "number,region,title,decision,meeting,kind,case,work_title,owner,due\n";
    let bad = format!(
        "{header}R2D2R2D2R2D2,{C1},楼道照明,增设感应灯,,milestone,,采购,admin.st1c1,2026-12-20\nR2D2R2D2R2D3,{C1},加装电梯,,,case,NOPE,,ST001,\nR2D2R2D2R2D4,{C1},x,,,lamp,,,ST001,\n"
    );
    let a = t
        .post("/api/v1/results/import")
        .bearer(&admin)
        .bytes("text/csv", bad.into_bytes())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text());
    let detail = a.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(
        detail.contains("line 3: field `case`") && detail.contains("line 4: field `kind`"),
        "{detail}"
    );
    let (_, listed) = call(
        t,
        None,
        "GET",
        &format!("/api/v1/results?within={C1}"),
        None,
    )
    .await;
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "nothing of the bad file"
    );
    let good = format!(
        "{header}R2D2R2D2R2D2,{C1},楼道照明,增设感应灯,{meeting},milestone,,采购,admin.st1c1,2026-12-20\nR2D2R2D2R2D2,{C1},楼道照明,增设感应灯,{meeting},case,{case_number},,ST001,2026-12-31\n"
    );
    let a = t
        .post("/api/v1/results/import")
        .bearer(&gw)
        .bytes("text/csv", good.clone().into_bytes())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = t
        .post("/api/v1/results/import")
        .bearer(&admin)
        .bytes("text/csv", good.into_bytes())
        .send()
        .await;
    assert_eq!(
        (a.status, a.json()["imported"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (_, v) = call(t, None, "GET", "/api/v1/results/R2D2R2D2R2D2", None).await;
    assert_eq!(
        (
            v["progress"]["total"].as_u64(),
            v["progress"]["done"].as_u64()
        ),
        (Some(2), Some(1)),
        "{v}"
    );

    // The assessment: topic on the agenda in time, decision on time, participation,
    // attendance, the unit's answer in time — and the rollups equal the recount.
    clock.set("2026-12-31T00:00:00Z".parse().expect("t"));
    let c = rollups_equal_recount(t).await;
    assert_eq!((c.topics_due, c.topics_on_time), (1, 1));
    // The decision done on time, and the imported result with a milestone past due.
    assert_eq!((c.decisions_due, c.decisions_on_time), (2, 1));
    assert_eq!((c.households_polled, c.households_voted), (3, 2));
    assert_eq!((c.invitations, c.attendances), (3, 2));
    assert_eq!((c.summons, c.summons_on_time), (1, 1));
    // The community's public page says the same: two results due, one on time.
    let page = t.get(&format!("/consultation/{C1}")).send().await.text();
    assert!(page.contains("<td>2</td><td>2</td><td>50%</td>"), "{page}");
}

async fn run(backend: Backend) {
    let clock = Arc::new(ManualClock::new("2026-11-05T02:00:00Z".parse().expect("t")));
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
    consultation(&t, &clock).await;
    t.finish().await;
}

#[tokio::test]
async fn consultation_end_to_end_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn consultation_end_to_end_on_postgresql() {
    run(Backend::Postgres).await;
}

/// A missed summons is recorded once by the deadline job and counts late.
#[tokio::test]
async fn a_unit_that_does_not_answer_is_recorded_as_missing() {
    let clock = Arc::new(ManualClock::new("2026-11-05T02:00:00Z".parse().expect("t")));
    let t = TestApp::builder()
        .clock(clock.clone())
        .demo(1)
        .build()
        .await;
    let admin = staff(&t.app, "admin.st1c1").await;
    let case = t
        .app
        .report_case(
            civicgrid::cases::Intake {
                description: "东门外占道经营".into(),
                location: None,
                grid: Some(GRID.parse().expect("g")),
                address: None,
                category: None,
                attributes: Default::default(),
                priority: None,
                channel: civicgrid_domain::case::Channel::Patrol,
                reporter: None,
                media_url: None,
            },
            &admin,
        )
        .await
        .expect("case");
    let m = t
        .app
        .convene_meeting(
            &admin,
            civicgrid::consultation::NewMeeting {
                kind: civicgrid_domain::consultation::MeetingKind::JointConsultation,
                scope: C1.into(),
                title: "占道经营联席会商".into(),
                place: "社区".into(),
                starts_at: "2026-11-10T02:00:00Z".parse().expect("t"),
                invitees: vec![civicgrid::consultation::NewInvitee {
                    kind: civicgrid_domain::consultation::InviteeKind::Unit,
                    reference: "ST001".into(),
                    name: String::new(),
                }],
                agenda: vec![civicgrid::consultation::NewAgendaItem {
                    title: "占道经营".into(),
                    topic: None,
                    cases: vec![case.public_id.clone()],
                }],
            },
        )
        .await
        .expect("meeting");
    assert_eq!(
        t.app.record_missed_summons().await.expect("sweep"),
        0,
        "not due yet"
    );
    clock.set("2026-11-07T02:00:00Z".parse().expect("t"));
    assert_eq!(t.app.record_missed_summons().await.expect("sweep"), 1);
    assert_eq!(
        t.app.record_missed_summons().await.expect("again"),
        0,
        "once"
    );
    let invitees = t.app.invitees_of(&m).await.expect("invitees");
    assert!(invitees[0].missed);
    // A late answer is kept, and counted late.
    let handler = staff(&t.app, "handler.st001").await;
    t.app
        .answer_summons(
            &handler,
            &m.public_id,
            "ST001",
            civicgrid_domain::consultation::Answer::Attend,
            "",
        )
        .await
        .expect("late answer");
    t.app.refresh_kpis().await.expect("rollups");
    let rollup = t
        .app
        .kpi_rollup(
            &"440305".parse().expect("d"),
            &Period::parse("2026").expect("p"),
        )
        .await
        .expect("rollup");
    let unit = rollup
        .get(&Subject::Unit("ST001".into()))
        .cloned()
        .unwrap_or_default();
    assert_eq!((unit.summons, unit.summons_on_time), (1, 0));
}

/// Results at the command line: a bad file is refused whole with its file, line and field
/// named; a good one is imported and exported again with its computed progress.
#[tokio::test]
async fn the_command_line_imports_and_exports_results() {
    let t = TestApp::builder().demo(1).build().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let header = "number,region,title,decision,meeting,kind,case,work_title,owner,due\n";
    let bad = file(
        "results.csv",
        &format!(
            "{header}RES0RES0RES0,{C1},楼道照明,增设感应灯,,milestone,,采购,ST001,2026-12-20\nRES0RES0RES1,{C1},加装电梯,,,milestone,,方案,ST001,someday\n"
        ),
    );
    let e = super::support::run_cli(&t.url, &["import", "results", &bad], "")
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("results.csv") && text.contains("line 3") && text.contains("`due`"),
        "{text}"
    );
    let within = ["export", "results", "--within", C1];
    let (_, out) = super::support::run_cli(&t.url, &within, "")
        .await
        .expect("exported");
    assert_eq!(
        String::from_utf8_lossy(&out).lines().count(),
        1,
        "nothing of a bad file"
    );
    let good = file(
        "good.csv",
        &format!(
            "{header}RES0RES0RES0,{C1},楼道照明,增设感应灯,,milestone,,采购,ST001,2026-12-20\nRES0RES0RES0,{C1},楼道照明,增设感应灯,,milestone,,安装,ST001,2026-12-31\n"
        ),
    );
    let (code, out) = super::support::run_cli(&t.url, &["import", "results", &good], "")
        .await
        .expect("imported");
    assert_eq!(
        (code, String::from_utf8_lossy(&out).trim()),
        (0, "imported 1 results")
    );
    let (_, out) = super::support::run_cli(&t.url, &within, "")
        .await
        .expect("exported");
    let exported = String::from_utf8_lossy(&out).to_string();
    assert_eq!(exported.lines().count(), 3, "{exported}");
    assert!(
        exported.contains(&format!(
            "RES0RES0RES0,{C1},楼道照明,增设感应灯,,milestone,,采购,ST001,2026-12-20,,0,0"
        )),
        "{exported}"
    );
}
