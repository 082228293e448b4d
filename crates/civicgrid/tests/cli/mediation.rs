//! Mediation and one-stop services end to end over REST, on SQLite and on PostgreSQL: a
//! dispute raised by a grid worker at the grid tier, moved up and back down only with
//! reasons, refused to those outside its tier, mediated to a written agreement whose text
//! gives its recorded SHA-256 and which no one can rewrite once signed (not even in the
//! database), followed up to settlement, its timers on the working calendar; the parties
//! never in plain text in the database and every opening recorded; the stored row equal to
//! its replayed events; and a service application corrected once (every missing item at
//! once), accepted against its legal time limit across 国庆, done and evaluated, with the
//! assessment equal to the recount.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::clock::ManualClock;
use civicgrid_domain::dispute::{DisputeAction, replay};
use civicgrid_domain::kpi::{Period, Subject};
use serde_json::{Value, json};

use super::support::{Backend, TestApp, every_row, raw_execute};

const C1: &str = "440305001001";
const GRID: &str = "440305001001001";

async fn call(
    t: &TestApp,
    key: Option<&str>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut c = t.request(method, uri).client_addr("198.51.100.7");
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

async fn key(t: &TestApp, user: &str) -> String {
    // Keys are named uniquely; each part of the test asks for its own.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    t.app
        .create_api_key(&format!("{user} #{n}"), Some(user))
        .await
        .expect("key")
}

/// The stored row is what replaying the dispute's events gives.
async fn replays(t: &TestApp, number: &str) {
    let d = t
        .app
        .repo
        .dispute_by_public_id(number)
        .await
        .expect("read")
        .expect("dispute");
    let events = t.app.repo.dispute_events(&d.id).await.expect("events");
    let actions: Vec<DisputeAction> = events
        .iter()
        .map(|e| serde_json::from_str(&e.action).expect("an action"))
        .collect();
    let replayed = replay(&actions).expect("a legal history").expect("raised");
    assert_eq!(
        replayed, d.state,
        "{number}: the row is its events replayed"
    );
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

fn parties() -> Value {
    json!([
        {"side": "applicant", "name": "陈桂芳", "phone": "13800138001"},
        {"side": "respondent", "name": "刘建国", "phone": "13800138002"}
    ])
}

async fn disputes(t: &TestApp, clock: &ManualClock) {
    let gw = key(t, "gw.st1c1.1").await;
    let admin = key(t, "admin.st1c1").await;
    let other = key(t, "admin.st1c2").await;
    let leader = key(t, "leader.st1").await;

    // Kinds are public, with their lowest tier.
    let (s, kinds) = call(t, None, "GET", "/api/v1/disputes/kinds", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        kinds
            .as_array()
            .expect("kinds")
            .iter()
            .any(|k| k["code"] == "neighbour" && k["lowest_tier"] == "grid")
    );

    // Bad input: no respondent, an unknown kind. Nothing is raised.
    let (s, p) = call(
        t,
        Some(&gw),
        "POST",
        "/api/v1/disputes",
        Some(json!({
            "community": C1, "grid": GRID, "kind": "gossip", "summary": "楼上漏水",
            "parties": [{"side": "applicant", "name": "陈桂芳"}]
        })),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(fields(&p), ["kind", "parties"]);
    let (_, list) = call(
        t,
        Some(&admin),
        "GET",
        &format!("/api/v1/disputes?within={C1}"),
        None,
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    // Anonymous callers and residents do not raise disputes.
    let (s, _) = call(
        t,
        None,
        "POST",
        "/api/v1/disputes",
        Some(json!({"community": C1, "kind": "neighbour", "summary": "x", "parties": parties()})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // A grid worker raises a neighbours' dispute in the grid: the lowest tier.
    let (s, d) = call(
        t,
        Some(&gw),
        "POST",
        "/api/v1/disputes",
        Some(json!({
            "community": C1, "grid": GRID, "kind": "neighbour", "risk": "low",
            "summary": "楼上卫生间漏水，维修费用有争议", "parties": parties()
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(
        (d["tier"].as_str(), d["channel"].as_str()),
        (Some("grid"), Some("grid_worker"))
    );
    let number = d["number"].as_str().expect("number").to_owned();
    // 2026-11-05 + 30 days = Saturday 5 December → Monday 7 December, end of day.
    assert_eq!(d["limit_due"], "2026-12-07T16:00:00Z");
    // The same parties a week later: a repeat dispute; a grave one starts at the street.
    clock.set("2026-11-12T02:00:00Z".parse().expect("t"));
    let (s, again) = call(t, Some(&admin), "POST", "/api/v1/disputes", Some(json!({
        "community": C1, "kind": "neighbour", "risk": "high", "summary": "漏水再起争执", "parties": parties()
    }))).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_eq!(
        (again["repeat"].as_bool(), again["tier"].as_str()),
        (Some(true), Some("street"))
    );
    assert_eq!(d["repeat"], false);

    // Only its mediators read it; the read is recorded.
    let (s, _) = call(
        t,
        Some(&other),
        "GET",
        &format!("/api/v1/disputes/{number}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let reads_before = every_row(t)
        .await
        .iter()
        .filter(|(table, _)| table == "contact_reads")
        .count();
    let (s, full) = call(
        t,
        Some(&admin),
        "GET",
        &format!("/api/v1/disputes/{number}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{full}");
    assert_eq!(full["parties"][0]["name"], "陈桂芳");
    let reads_after = every_row(t)
        .await
        .iter()
        .filter(|(table, _)| table == "contact_reads")
        .count();
    assert_eq!(reads_after, reads_before + 1, "the opening is recorded");

    let v = |x: &Value| x["version"].as_u64().expect("version");
    let act = |who: String, action: &str, body: Value| {
        let uri = format!("/api/v1/disputes/{number}/actions/{action}");
        async move { call(t, Some(&who), "POST", &uri, Some(body)).await }
    };
    // A session at the grid, then up to the community and the street, each with a reason.
    let (s, d) = call(t, Some(&gw), "POST", &format!("/api/v1/disputes/{number}/sessions"), Some(json!({
        "version": 0, "held_at": "2026-11-06T02:00:00Z", "place": "3栋架空层", "mediators": ["网格员王"],
        "attended": ["陈桂芳", "刘建国"], "record": "双方陈述，分歧在维修费用。", "outcome": "continued"
    }))).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (s, p) = act(
        gw.clone(),
        "escalate",
        json!({"version": v(&d), "reason": " "}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a move needs a reason: {p}"
    );
    let (s, p) = act(
        gw.clone(),
        "escalate",
        json!({"version": 0, "reason": "需调委会"}),
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "a stale version: {p}");
    let (_, d) = act(
        gw.clone(),
        "escalate",
        json!({"version": v(&d), "reason": "涉及公共管道，需调委会主持"}),
    )
    .await;
    assert_eq!(d["tier"], "community");
    let (_, d) = act(
        admin.clone(),
        "escalate",
        json!({"version": v(&d), "reason": "需住建部门到场"}),
    )
    .await;
    assert_eq!(d["tier"], "street");
    // The community no longer mediates it; the street does, and sends it back down.
    let (s, _) = act(
        admin.clone(),
        "send_down",
        json!({"version": v(&d), "reason": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, d) = act(
        leader.clone(),
        "send_down",
        json!({"version": v(&d), "reason": "已明确管道责任，交社区继续调解"}),
    )
    .await;
    assert_eq!(
        (d["tier"].as_str(), d["highest_tier"].as_str()),
        (Some("community"), Some("street"))
    );
    // An extension needs dispute.approve: the grid worker has none.
    let (s, _) = act(
        gw.clone(),
        "extend",
        json!({"version": v(&d), "days": 10, "reason": "当事人外出"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, d) = act(
        admin.clone(),
        "extend",
        json!({"version": v(&d), "days": 10, "reason": "当事人外出"}),
    )
    .await;
    assert_eq!(
        d["limit_due"], "2026-12-15T16:00:00Z",
        "5 November + 40 days: Tuesday 15 December"
    );

    // The written agreement: a term due before the agreement is refused; then version 1.
    clock.set("2026-11-20T02:00:00Z".parse().expect("t"));
    let draft = |terms: Value, version: u64| json!({"version": version, "facts": "刘建国家卫生间防水失效致楼下渗漏。", "terms": terms});
    let (s, p) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements"),
        Some(draft(
            json!([{"text": "修复防水", "due": "2026-11-01"}]),
            v(&d),
        )),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(fields(&p), ["terms[0].due"]);
    let (s, d) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements"),
        Some(draft(
            json!([{"text": "刘建国修复防水并赔偿 600 元", "due": "2026-11-30"}]),
            v(&d),
        )),
    )
    .await;
    assert_eq!(
        (s, d["drafted_version"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{d}"
    );
    let (_, doc) = call(
        t,
        Some(&admin),
        "GET",
        &format!("/api/v1/disputes/{number}/agreements/1"),
        None,
    )
    .await;
    let text = doc["text"].as_str().expect("text");
    assert!(
        text.contains("申请人：陈桂芳") && text.contains("于2026-11-30前履行"),
        "{text}"
    );
    assert_eq!(
        doc["sha256"].as_str(),
        Some(civicgrid::disputes::sha256_hex(text).as_str())
    );
    assert_eq!(doc["intact"], true);
    // Every party signs, or it is not signed.
    let sign = |version: u64, names: Value| json!({"version": version, "signed_by": names});
    let (s, p) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements/1/signatures"),
        Some(sign(v(&d), json!(["陈桂芳"]))),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["signed_by".to_owned()]
        )
    );
    let (s, d) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements/1/signatures"),
        Some(sign(v(&d), json!(["陈桂芳", "刘建国"]))),
    )
    .await;
    assert_eq!(
        (s, d["status"].as_str()),
        (StatusCode::OK, Some("agreed")),
        "{d}"
    );
    // Follow-ups at 7 and 30 days (Friday 27 November; 20 December is a Sunday → Monday 21).
    assert_eq!(d["follow_ups"][0]["due"], "2026-11-27T16:00:00Z");
    assert_eq!(d["follow_ups"][1]["due"], "2026-12-21T16:00:00Z");
    assert_eq!(d["confirmation_due"], "2026-12-21T16:00:00Z");
    // A signed version is never signed again nor rewritten, not even in the database.
    let (s, _) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements/1/signatures"),
        Some(sign(v(&d), json!(["陈桂芳", "刘建国"]))),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let refused = raw_execute(
        t,
        "UPDATE dispute_agreements SET content = 'forged', sha256 = 'x' WHERE version = 1",
    )
    .await;
    assert!(
        refused.is_err_and(|e| e.contains("signed agreement does not change")),
        "the database refuses it"
    );
    let refused = raw_execute(t, "DELETE FROM dispute_events").await;
    assert!(refused.is_err(), "events are append-only");
    // A change is a new version, signed in its turn; the first stays as it was.
    let (_, d) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements"),
        Some(draft(
            json!([{"text": "刘建国修复防水并赔偿 800 元", "due": "2026-12-05"}]),
            v(&d),
        )),
    )
    .await;
    assert_eq!(
        (d["drafted_version"].as_u64(), d["signed_version"].as_u64()),
        (Some(2), Some(1))
    );
    let (_, d) = call(
        t,
        Some(&admin),
        "POST",
        &format!("/api/v1/disputes/{number}/agreements/2/signatures"),
        Some(sign(v(&d), json!(["陈桂芳", "刘建国"]))),
    )
    .await;
    assert_eq!(d["signed_version"], 2);
    let (_, doc1) = call(
        t,
        Some(&admin),
        "GET",
        &format!("/api/v1/disputes/{number}/agreements/1"),
        None,
    )
    .await;
    assert_eq!(
        (doc1["text"].as_str(), doc1["intact"].as_bool()),
        (Some(text), Some(true))
    );

    // The timers. The street's grave dispute (due Monday 14 December) is warned yellow 5
    // days before; the confirmation window (to 21 December) is not reminded yet.
    let street_number = again["number"].as_str().expect("number").to_owned();
    let events_of = |v: &Value, action: &str| {
        v["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["action"].as_str().is_some_and(|a| a.contains(action)))
            .count()
    };
    clock.set("2026-12-10T02:00:00Z".parse().expect("t"));
    assert_eq!(t.app.sweep_disputes().await.expect("sweep"), 1);
    let (_, s1) = call(
        t,
        Some(&leader),
        "GET",
        &format!("/api/v1/disputes/{street_number}"),
        None,
    )
    .await;
    assert_eq!(s1["alarm"], "yellow", "{s1}");
    // Red at the limit, and the reminder in the window's last 7 days; each once.
    clock.set("2026-12-16T02:00:00Z".parse().expect("t"));
    assert_eq!(t.app.sweep_disputes().await.expect("sweep"), 2);
    assert_eq!(
        t.app.sweep_disputes().await.expect("sweep"),
        0,
        "each is recorded once"
    );
    let (_, s2) = call(
        t,
        Some(&leader),
        "GET",
        &format!("/api/v1/disputes/{street_number}"),
        None,
    )
    .await;
    assert_eq!(
        (s2["alarm"].as_str(), events_of(&s2, "\"warn\"")),
        (Some("red"), 2)
    );
    let (_, again_d) = call(
        t,
        Some(&admin),
        "GET",
        &format!("/api/v1/disputes/{number}"),
        None,
    )
    .await;
    assert_eq!(events_of(&again_d, "remind_confirmation"), 1);
    let d = again_d["version"].clone();
    // Two follow-ups, both carried out: settled.
    let follow = |version: Value, performed: bool| json!({"version": version, "performed": performed, "note": "已修复并付款"});
    let (_, d) = call(
        t,
        Some(&gw),
        "POST",
        &format!("/api/v1/disputes/{number}/follow-ups"),
        Some(follow(d, true)),
    )
    .await;
    assert_eq!(d["status"], "agreed", "{d}");
    let (_, d) = call(
        t,
        Some(&gw),
        "POST",
        &format!("/api/v1/disputes/{number}/follow-ups"),
        Some(follow(d["version"].clone(), true)),
    )
    .await;
    assert_eq!(d["status"], "settled", "{d}");
    replays(t, &number).await;

    // The street's dispute fails; referred to litigation.
    let (_, s3) = call(t, Some(&leader), "POST", &format!("/api/v1/disputes/{street_number}/actions/fail"), Some(json!({"version": s2["version"], "referral": "litigation", "note": "引导至南山区人民法院"}))).await;
    assert_eq!(
        (s3["status"].as_str(), s3["referral"].as_str()),
        (Some("failed"), Some("litigation")),
        "{s3}"
    );
    replays(t, &street_number).await;

    // The assessment: two raised (one a repeat), two concluded, one agreed at community tier.
    let c = rollups_equal_recount(t).await;
    assert_eq!((c.disputes_raised, c.repeat_disputes), (2, 1));
    assert_eq!(
        (
            c.disputes_concluded,
            c.disputes_agreed,
            c.agreed_at_grid,
            c.agreed_within_community,
            c.concluded_within_street
        ),
        (2, 1, 0, 1, 2)
    );
    assert_eq!((c.agreements_followed, c.agreements_performed), (1, 1));

    // Names and phones are nowhere in the database in plain text.
    for (table, row) in every_row(t).await {
        for secret in ["陈桂芳", "刘建国", "13800138001", "13800138002"] {
            assert!(!row.contains(secret), "{secret} in {table}: {row}");
        }
    }
    // A case in the loop turned into a dispute: it takes the case's place, and links back.
    let (s, case) = call(t, None, "POST", "/api/v1/cases", Some(json!({
        "description": "楼上装修噪音扰民，多次协商无果", "lon": 113.9171, "lat": 22.5168, "category": "01007", "attributes": {"fault": "dark"}
    }))).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let case_id = case["id"].as_str().expect("id").to_owned();
    let (s, from_case) = call(
        t,
        Some(&admin),
        "POST",
        "/api/v1/disputes",
        Some(json!({
            "case": case_id, "kind": "neighbour", "summary": "装修噪音", "parties": parties()
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{from_case}");
    assert_eq!(from_case["channel"], "case");
    assert_eq!(from_case["case"].as_str(), Some(case_id.as_str()));
    let linked = t
        .app
        .disputes_of_case(&case_id.parse().expect("uuid"))
        .await
        .expect("linked");
    assert_eq!(
        linked
            .iter()
            .map(|d| d.public_id.as_str())
            .collect::<Vec<_>>(),
        [from_case["number"].as_str().expect("n")]
    );

    // The statistics export leaves them out too.
    let csv = t
        .app
        .export_disputes(&C1.parse().expect("c"))
        .await
        .expect("export");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(!csv.contains("陈桂芳"));
}

async fn one_stop(t: &TestApp, clock: &ManualClock) {
    let admin = key(t, "admin").await;
    let clerk = key(t, "admin.st1c1").await;
    let gw = key(t, "gw.st1c1.1").await;
    let item = json!({
        "name": "居住证申领", "unit": "ST001", "limit_days": 1,
        "materials": [
            {"code": "id_card", "name": "居民身份证", "required": true},
            {"code": "lease", "name": "租赁合同", "required": true},
            {"code": "photo", "name": "证件照", "required": false}
        ],
        "fees": "不收费", "channels": ["online", "counter", "proxy"], "place": "党群服务中心", "basis": "《居住证暂行条例》"
    });
    // Bad items change nothing; only catalogue.manage writes.
    let mut bad = item.clone();
    bad["limit_days"] = json!(0);
    bad["unit"] = json!("NOPE");
    let (s, p) = call(
        t,
        Some(&admin),
        "PUT",
        "/api/v1/service-items/JZZ-1",
        Some(bad),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["limit_days".to_owned(), "unit".to_owned()]
        )
    );
    let (s, _) = call(
        t,
        Some(&clerk),
        "PUT",
        "/api/v1/service-items/JZZ-1",
        Some(item.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, list) = call(t, None, "GET", "/api/v1/service-items", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0));
    let (s, _) = call(
        t,
        Some(&admin),
        "PUT",
        "/api/v1/service-items/JZZ-1",
        Some(item),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // A resident applies on Wednesday 30 September, the eve of 国庆.
    clock.set("2026-09-30T02:00:00Z".parse().expect("t"));
    let (s, a) = call(t, None, "POST", "/api/v1/applications", Some(json!({
        "item": "JZZ-1", "community": C1, "name": "赵丽华", "phone": "13900139001", "details": "首次申领"
    }))).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(
        (a["status"].as_str(), a["channel"].as_str()),
        (Some("submitted"), Some("online"))
    );
    let number = a["number"].as_str().expect("number").to_owned();
    let secret = a["secret"].as_str().expect("secret").to_owned();
    let png = civicgrid::demo::photos::before_and_after(3, "05001", "2026-03-03 10:00", "").0;
    let upload = |material: &str, secret: &str, bytes: Vec<u8>| {
        let uri = format!("/api/v1/applications/{number}/materials/{material}?name=scan.png");
        let secret = secret.to_owned();
        async move {
            let a = t
                .request("PUT", &uri)
                .client_addr("198.51.100.8")
                .header("x-application-secret", &secret)
                .bytes("image/png", bytes)
                .send()
                .await;
            (a.status, a.text())
        }
    };
    assert_eq!(
        upload("id_card", "WRONG-SECRET", png.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        upload("id_card", &secret, b"not a png".to_vec()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        upload("tax_return", &secret, png.clone()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (s, body) = upload("photo", &secret, png.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");

    let act = |action: &str, body: Value| {
        let uri = format!("/api/v1/applications/{number}/actions/{action}");
        let clerk = clerk.clone();
        async move { call(t, Some(&clerk), "POST", &uri, Some(body)).await }
    };
    let (_, full) = call(
        t,
        Some(&clerk),
        "GET",
        &format!("/api/v1/applications/{number}"),
        None,
    )
    .await;
    assert_eq!(full["missing"], json!(["id_card", "lease"]));
    assert_eq!(full["applicant_name"], "赵丽华");
    // Not accepted with materials missing; a request that leaves one out is refused.
    let (s, p) = act("accept", json!({"version": full["version"]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    let (s, p) = act(
        "correct",
        json!({"version": full["version"], "items": ["id_card"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("租赁合同")),
        "{p}"
    );
    // A grid worker outside its handlers does not act on it.
    let (s, _) = call(
        t,
        Some(&gw),
        "POST",
        &format!("/api/v1/applications/{number}/actions/accept"),
        Some(json!({"version": full["version"]})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, a) = act(
        "correct",
        json!({"version": full["version"], "items": ["id_card", "lease"], "note": "请补充"}),
    )
    .await;
    assert_eq!(
        (s, a["status"].as_str()),
        (StatusCode::OK, Some("correcting")),
        "{a}"
    );
    // The resident supplies both and hands it back; no second request for corrections.
    assert_eq!(
        upload("id_card", &secret, png.clone()).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        upload("lease", &secret, png.clone()).await.0,
        StatusCode::CREATED
    );
    let (s, a) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/applications/{number}/resubmission"),
        Some(json!({"secret": secret})),
    )
    .await;
    assert_eq!(
        (s, a["status"].as_str()),
        (StatusCode::OK, Some("submitted")),
        "{a}"
    );
    let (s, _) = act(
        "correct",
        json!({"version": a["version"], "items": ["photo"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "corrections are asked once");
    // Accepted on 30 September with 1 working day: 1–7 October are holidays, so the 8th.
    let (_, a) = act("accept", json!({"version": a["version"]})).await;
    assert_eq!(a["status"], "accepted", "{a}");
    let due: jiff::Timestamp = a["due"].as_str().expect("due").parse().expect("ts");
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
    assert_eq!(due.to_zoned(tz).date().to_string(), "2026-10-08");
    clock.set("2026-10-08T03:00:00Z".parse().expect("t"));
    let (_, a) = act(
        "complete",
        json!({"version": a["version"], "approved": true, "result": "证件已制作，请到窗口领取"}),
    )
    .await;
    assert_eq!(a["status"], "done");
    // The resident reads it by number and secret and evaluates once.
    let (s, seen) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/applications/{number}/status"),
        Some(json!({"secret": secret})),
    )
    .await;
    assert_eq!(
        (s, seen["result"].as_str()),
        (StatusCode::OK, Some("证件已制作，请到窗口领取"))
    );
    let (s, _) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/applications/{number}/evaluation"),
        Some(json!({"secret": secret, "rating": "superb"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/applications/{number}/evaluation"),
        Some(json!({"secret": secret, "rating": "satisfied"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/applications/{number}/evaluation"),
        Some(json!({"secret": secret, "rating": "dissatisfied"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A grid worker files for a resident (代办).
    let (s, b) = call(
        t,
        Some(&gw),
        "POST",
        "/api/v1/applications",
        Some(json!({
            "item": "JZZ-1", "community": C1, "name": "钱志远", "phone": "13900139002"
        })),
    )
    .await;
    assert_eq!(
        (s, b["channel"].as_str()),
        (StatusCode::CREATED, Some("proxy")),
        "{b}"
    );

    t.app.refresh_kpis().await.expect("rollups");
    let scope = "440305".parse().expect("district");
    let period = Period::parse("2026").expect("period");
    let rollup = t.app.kpi_rollup(&scope, &period).await.expect("rollup");
    let recount = t.app.kpi_recount(&scope, &period).await.expect("recount");
    assert_eq!(rollup, recount);
    let unit = rollup
        .get(&Subject::Unit("ST001".into()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            unit.applications_done,
            unit.applications_on_time,
            unit.applications_first_time,
            unit.applications_evaluated,
            unit.applications_satisfied
        ),
        (1, 1, 0, 1, 1)
    );
    // Nor the uploaded scans: no PNG signature, nor the file names, in any row.
    for (table, row) in every_row(t).await {
        assert!(
            !row.contains("赵丽华") && !row.contains("13900139001"),
            "{table}: {row}"
        );
        let lower = row.to_ascii_lowercase();
        assert!(
            !lower.contains("89504e470d0a1a0a") && !row.contains("scan.png"),
            "a material in plain text in {table}"
        );
    }
    // The handler reads the scan back as it was uploaded.
    let a = t
        .request("GET", &format!("/api/v1/applications/{number}/files/0"))
        .bearer(&clerk)
        .send()
        .await;
    assert_eq!(
        (a.status, a.body.as_slice()),
        (StatusCode::OK, png.as_slice())
    );
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
    disputes(&t, &clock).await;
    one_stop(&t, &clock).await;
    t.finish().await;
}

#[tokio::test]
async fn mediation_and_one_stop_services_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn mediation_and_one_stop_services_on_postgresql() {
    run(Backend::Postgres).await;
}

#[tokio::test]
async fn the_command_line_imports_and_exports_the_catalogue() {
    let t = TestApp::builder().demo(1).build().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let header = "code,name,name_en,unit,limit_days,materials,fees,channels,place,basis,active\n";
    let bad = file(
        "items.csv",
        &format!(
            "{header}JZZ-1,居住证申领,Residence permit,ST001,10,*id_card:身份证;lease:租赁合同|备案,不收费,online;counter,窗口,条例,true\nGL-1,高龄津贴,,MZJ,many,*id_card:身份证,不收费,online;fax,窗口,办法,true\n"
        ),
    );
    let e = super::support::run_cli(&t.url, &["import", "service-items", &bad], "")
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("items.csv")
            && text.contains("line 3")
            && text.contains("`limit_days`")
            && text.contains("`channels`"),
        "{text}"
    );
    let (_, out) = super::support::run_cli(&t.url, &["export", "service-items"], "")
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
            "{header}JZZ-1,居住证申领,Residence permit,ST001,10,*id_card:身份证;lease:租赁合同|备案,不收费,online;counter,窗口,条例,true\n"
        ),
    );
    let (code, out) = super::support::run_cli(&t.url, &["import", "service-items", &good], "")
        .await
        .expect("imported");
    assert_eq!(
        (code, String::from_utf8_lossy(&out).trim()),
        (0, "imported 1 service items")
    );
    let (_, out) = super::support::run_cli(&t.url, &["export", "service-items"], "")
        .await
        .expect("exported");
    let exported = String::from_utf8_lossy(&out).to_string();
    // What is exported reads back as it was.
    let again = file("again.csv", &exported);
    super::support::run_cli(&t.url, &["import", "service-items", &again], "")
        .await
        .expect("reimported");
    let (_, out2) = super::support::run_cli(&t.url, &["export", "service-items"], "")
        .await
        .expect("exported");
    assert_eq!(String::from_utf8_lossy(&out2), exported);
    assert!(
        exported.contains("*id_card:身份证;lease:租赁合同|备案"),
        "{exported}"
    );
}
