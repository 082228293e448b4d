//! Party-building leadership end to end over REST, on SQLite and on PostgreSQL: organisations
//! and alliances (CSV all or nothing), members with audited phones and 双报到, households with
//! contacts, visits and a case from a visit, coverage in the assessment, small wishes from
//! posting to the resident's confirmation and escalation, volunteers with sign-up, waiting
//! list, QR check-in and the hours ledger — and the rollups equal the recount throughout.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::clock::ManualClock;
use civicgrid_domain::kpi::{Period, Subject};
use civicgrid_domain::policy::Actor;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::support::{Backend, TestApp};

const C1: &str = "440305001001";
const C2: &str = "440305001002";
const GRID: &str = "440305001001001";

struct Keys(BTreeMap<&'static str, String>);

impl Keys {
    fn of(&self, who: &str) -> &str {
        self.0.get(who).map(String::as_str).expect("a key")
    }
}

async fn keys(t: &TestApp) -> Keys {
    let mut out = BTreeMap::new();
    for who in [
        "secretary.st1c1",
        "secretary.st1c2",
        "member.st1c1.1",
        "member.st1c1.2",
        "volunteer.st1c1",
        "gw.st1c1.1",
        "admin.st1c1",
    ] {
        out.insert(
            who,
            t.app.create_api_key(who, Some(who)).await.expect("key"),
        );
    }
    Keys(out)
}

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
    let v = serde_json::from_str(&a.text()).unwrap_or(Value::Null);
    (a.status, v)
}

async fn csv(t: &TestApp, key: &str, uri: &str, text: &str) -> (StatusCode, Value) {
    let a = t
        .post(uri)
        .bearer(key)
        .bytes("text/csv", text.as_bytes().to_vec())
        .send()
        .await;
    (
        a.status,
        serde_json::from_str(&a.text()).unwrap_or(Value::Null),
    )
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

async fn rollups_equal_recount(t: &TestApp) -> BTreeMap<Subject, civicgrid_domain::kpi::Counters> {
    t.app.refresh_kpis().await.expect("rollups");
    let scope = "440305".parse().expect("district");
    let period = Period::parse("2026").expect("period");
    let rollup = t.app.kpi_rollup(&scope, &period).await.expect("rollup");
    let recount = t.app.kpi_recount(&scope, &period).await.expect("recount");
    assert_eq!(rollup, recount, "the rollups equal the recount");
    rollup
}

async fn party_building(t: &TestApp, clock: &ManualClock) {
    let k = keys(t).await;
    let secretary = k.of("secretary.st1c1");

    // Organisations: the street's committee from the command line, the community's tree
    // over REST; a bad file changes nothing and names line and field.
    t.app
        .import_organisations(
            &Actor::System,
            "street.csv",
            "code,name,kind,parent,region,grid\nST1-DW,第一街道党工委,committee,,440305001,\n",
        )
        .await
        .expect("street committee");
    let bad_kind = "code,name,kind,parent,region,grid\nC1-DW,社区党委,committee,ST1-DW,440305001001,\nC1-B2,第二网格党支部,cell,C1-DW,440305001001,\n";
    let bad_parent = "code,name,kind,parent,region,grid\nC1-DW,社区党委,committee,ST1-DW,440305001001,\nC1-B1,第一网格党支部,branch,nobody,440305001001,\nC1-X,党支部,branch,C1-DW,440305001001,440305001001099\n";
    for (file, line, field) in [
        (bad_kind, "line 3", "kind"),
        (bad_parent, "line 3", "parent"),
        (bad_parent, "line 4", "grid"),
    ] {
        let (s, p) = csv(t, secretary, "/api/v1/organisations/import", file).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let detail = p["detail"].as_str().unwrap_or_default().to_owned();
        assert!(
            detail.contains(&format!("{line}: field `{field}`")),
            "{detail}"
        );
    }
    assert_eq!(
        t.app.repo.organisations().await.expect("orgs").len(),
        1,
        "nothing of the bad file"
    );
    let good = format!(
        "code,name,kind,parent,region,grid\nC1-DW,社区党委,committee,ST1-DW,{C1},\nC1-B1,第一网格党支部,branch,C1-DW,{C1},{GRID}\nC1-G1,第一网格党小组,grid_group,C1-B1,{C1},{GRID}\n"
    );
    let (s, v) = csv(t, secretary, "/api/v1/organisations/import", &good).await;
    assert_eq!(
        (s, v["imported"].as_u64()),
        (StatusCode::OK, Some(3)),
        "{v}"
    );
    // The street's committee is outside a community secretary's scope.
    let (s, _) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/organisations",
        Some(json!({"code": "ST1-DW", "name": "改名", "kind": "committee", "region": "440305001"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let exported = t
        .get("/api/v1/organisations?format=csv")
        .bearer(secretary)
        .send()
        .await
        .text();
    assert!(
        exported.contains("C1-G1,第一网格党小组,grid_group,C1-B1,440305001001,440305001001001"),
        "{exported}"
    );
    let (s, _) = call(t, None, "GET", "/api/v1/organisations", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Another community's secretary cannot move this community's branch (and its members)
    // into theirs.
    let (s, _) = call(t, Some(k.of("secretary.st1c2")), "POST", "/api/v1/organisations", Some(json!({"code": "C1-B1", "name": "改名", "kind": "branch", "parent": "ST1-DW", "region": C2}))).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "an organisation is changed only by whoever keeps its region"
    );

    // An alliance of the committee, a unit and a company; an unknown unit is refused.
    let alliance = json!({"code": "C1-LM", "name": "社区党建联盟", "region": C1, "partners": [
        {"kind": "organisation", "reference": "C1-DW", "commitment": "牵头协调"},
        {"kind": "unit", "reference": "SWJT", "commitment": "每季度一次供水设施检查"},
        {"kind": "company", "reference": "万科物业", "commitment": "楼道清洁"}]});
    let (s, v) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/organisations/alliances",
        Some(alliance),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, p) = call(t, Some(secretary), "POST", "/api/v1/organisations/alliances", Some(json!({"code": "X", "name": "x", "region": C1, "partners": [{"kind": "unit", "reference": "NOPE"}]}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&p), vec!["partners[0].reference"]);

    // Members: minimal data, the phone sealed and read only with the permission, audited.
    let (s, v) = call(t, Some(secretary), "POST", "/api/v1/members", Some(json!({"name": "王建国", "organisation": "C1-B1", "duty": "支部书记", "phone": "13800138000"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let wang = v["id"].as_str().expect("id").to_owned();
    assert!(v.get("phone").is_none() && v["has_phone"] == true);
    for (who, username, in_service) in [
        ("李红", "member.st1c1.1", false),
        ("赵强", "member.st1c1.2", true),
    ] {
        let mut body = json!({"name": who, "organisation": "C1-G1", "username": username, "in_service": in_service});
        if in_service {
            body["employer_unit"] = json!("水务集团南山分公司");
        }
        let (s, v) = call(t, Some(secretary), "POST", "/api/v1/members", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, p) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/members",
        Some(json!({"name": "钱", "organisation": "C1-B1", "in_service": true})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["employer_unit".to_owned()]
        )
    );
    let (s, v) = call(
        t,
        Some(secretary),
        "GET",
        &format!("/api/v1/members?within={C1}"),
        None,
    )
    .await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(3)));
    for who in ["member.st1c1.1", "gw.st1c1.1", "secretary.st1c2"] {
        let (s, _) = call(
            t,
            Some(k.of(who)),
            "GET",
            &format!("/api/v1/members?within={C1}"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who} sees no membership");
        let (s, _) = call(
            t,
            Some(k.of(who)),
            "GET",
            &format!("/api/v1/members/{wang}/phone"),
            None,
        )
        .await;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
            "{who}: {s}"
        );
    }
    let id: uuid::Uuid = wang.parse().expect("uuid");
    assert!(
        t.app
            .repo
            .contact_reads(&id)
            .await
            .expect("reads")
            .is_empty(),
        "refusals read nothing"
    );
    let (s, v) = call(
        t,
        Some(secretary),
        "GET",
        &format!("/api/v1/members/{wang}/phone"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["phone"].as_str()),
        (StatusCode::OK, Some("13800138000"))
    );
    let reads = t.app.repo.contact_reads(&id).await.expect("reads");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].1, "secretary.st1c1");

    // 双报到: the in-service member applies to where they live; that community decides.
    let (s, v) = call(
        t,
        Some(k.of("member.st1c1.2")),
        "POST",
        "/api/v1/members/home-registration",
        Some(json!({"community": C2})),
    )
    .await;
    assert_eq!(
        (s, v["home_status"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{v}"
    );
    let zhao = v["id"].as_str().expect("id").to_owned();
    let (s, _) = call(
        t,
        Some(k.of("member.st1c1.1")),
        "POST",
        "/api/v1/members/home-registration",
        Some(json!({"community": C2})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a retired member does not register"
    );
    let (s, _) = call(
        t,
        Some(secretary),
        "POST",
        &format!("/api/v1/members/{zhao}/home-registration/decision"),
        Some(json!({"approve": true})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "not the home community's to decide"
    );
    let (s, v) = call(
        t,
        Some(k.of("secretary.st1c2")),
        "GET",
        &format!("/api/v1/members?within={C2}&waiting=true"),
        None,
    )
    .await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (s, v) = call(
        t,
        Some(k.of("secretary.st1c2")),
        "POST",
        &format!("/api/v1/members/{zhao}/home-registration/decision"),
        Some(json!({"approve": true})),
    )
    .await;
    assert_eq!(
        (s, v["home_status"].as_str()),
        (StatusCode::OK, Some("approved"))
    );
    let zhao_actor = super::support::staff(&t.app, "member.st1c1.2").await;
    let communities: Vec<String> = t
        .app
        .communities_of(&zhao_actor)
        .await
        .expect("c")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(communities, vec![C1.to_owned(), C2.to_owned()]);

    // Households: register, import (all or nothing), contacts audited, assignments.
    let (s, v) = call(t, Some(secretary), "POST", "/api/v1/households", Some(json!({"grid": GRID, "building": "3栋", "unit": "2单元", "room": "101", "consent": true, "contact_name": "陈阿姨", "contact_phone": "0755-26661234"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let first = v["id"].as_str().expect("id").to_owned();
    let (s, p) = call(t, Some(secretary), "POST", "/api/v1/households", Some(json!({"grid": GRID, "building": "3栋", "room": "102", "consent": false, "contact_phone": "13900000000"}))).await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["consent".to_owned()]),
        "no contact without consent"
    );
    let (s, p) = csv(t, secretary, "/api/v1/households/import", &format!("grid,building,unit,room,consent,contact_name,contact_phone\n{GRID},3栋,2单元,102,yes,,\n{GRID},3栋,2单元,103,maybe,,\n")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap_or_default().contains("line 3"),
        "{p}"
    );
    let (s, v) = csv(t, secretary, "/api/v1/households/import", &format!("grid,building,unit,room,consent,contact_name,contact_phone\n{GRID},3栋,2单元,102,yes,,\n{GRID},3栋,2单元,103,no,,\n")).await;
    assert_eq!(
        (s, v["imported"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{v}"
    );
    let (_, all) = call(
        t,
        Some(secretary),
        "GET",
        &format!("/api/v1/households?within={C1}"),
        None,
    )
    .await;
    let ids: Vec<String> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    let (s, _) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/households/assignments",
        Some(json!({"households": ids, "assignee": "volunteer.st1c1"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a contact logs visits");
    let (s, v) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/households/assignments",
        Some(json!({"households": ids, "assignee": "member.st1c1.1"})),
    )
    .await;
    assert_eq!((s, v["changed"].as_u64()), (StatusCode::OK, Some(3)));
    let member = k.of("member.st1c1.1");
    let (s, mine) = call(t, Some(member), "GET", "/api/v1/households", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        mine.as_array()
            .expect("mine")
            .iter()
            .all(|h| h["due"] == true && h["assignee"] == "member.st1c1.1")
    );
    let (s, _) = call(
        t,
        Some(member),
        "GET",
        &format!("/api/v1/households/{first}/contact"),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a member reads addresses, not phones"
    );
    let (s, v) = call(
        t,
        Some(secretary),
        "GET",
        &format!("/api/v1/households/{first}/contact"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["phone"].as_str()),
        (StatusCode::OK, Some("0755-26661234"))
    );
    let (s, _) = call(
        t,
        Some(k.of("gw.st1c1.1")),
        "GET",
        &format!("/api/v1/households/{first}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not the grid worker's household");

    // Visits: by the household's contact; a case from a visit, once.
    let (s, _) = call(
        t,
        Some(secretary),
        "PUT",
        "/api/v1/households/plans",
        Some(json!({"scope": format!("grid:{GRID}"), "interval_days": 7})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(t, Some(member), "POST", "/api/v1/visits", Some(json!({"household": first, "channel": "in_person", "topics": "独居老人关怀", "notes": "楼道灯坏了"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let visit = v["id"].as_str().expect("id").to_owned();
    let (s, _) = call(
        t,
        Some(k.of("gw.st1c1.1")),
        "POST",
        "/api/v1/visits",
        Some(json!({"household": first, "channel": "phone", "topics": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, p) = call(
        t,
        Some(member),
        "POST",
        "/api/v1/visits",
        Some(json!({"household": first, "channel": "fax", "topics": "x"})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["channel".to_owned()])
    );
    let (s, v) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/visits/{visit}/case"),
        Some(json!({"description": "3栋2单元楼道灯不亮"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let case: uuid::Uuid = v["case"].as_str().expect("case").parse().expect("uuid");
    let reported = t.app.repo.case(&case).await.expect("case").expect("there");
    assert_eq!(reported.grid.map(|g| g.to_string()).as_deref(), Some(GRID));
    let (s, _) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/visits/{visit}/case"),
        Some(json!({"description": "again"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Small wishes: a resident posts; the board shows no personal data; only registered
    // members or volunteers of the community claim, one at a time; the resident confirms.
    let (s, posted) = call(t, None, "POST", "/api/v1/wishes", Some(json!({"community": C1, "grid": GRID, "title": "想要一副老花镜", "description": "看报纸用，+200度"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{posted}");
    let number = posted["public_id"].as_str().expect("number").to_owned();
    let secret = posted["secret"].as_str().expect("secret").to_owned();
    let (_, board) = call(t, None, "GET", &format!("/api/v1/wishes?within={C1}"), None).await;
    let shown = board.as_array().expect("board")[0].clone();
    assert!(
        shown.get("secret").is_none()
            && shown.get("posted_by").is_none()
            && shown.get("claimed_by").is_none(),
        "{shown}"
    );
    let (s, _) = call(
        t,
        Some(k.of("gw.st1c1.1")),
        "POST",
        &format!("/api/v1/wishes/{number}/claim"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let volunteer = k.of("volunteer.st1c1");
    let (s, v) = call(t, Some(volunteer), "POST", "/api/v1/volunteers", Some(json!({"name": "孙丽", "community": C1, "skills": ["急救", "文明劝导"], "availability": "周末", "consent": true, "username": "volunteer.st1c1"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sun = v["id"].as_str().expect("id").to_owned();
    let (s, p) = call(
        t,
        Some(member),
        "POST",
        "/api/v1/volunteers",
        Some(json!({"name": "x", "community": C1, "consent": false, "username": "member.st1c1.1"})),
    )
    .await;
    assert_eq!(
        (s, fields(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["consent".to_owned()])
    );
    let (s, v) = call(
        t,
        Some(volunteer),
        "POST",
        &format!("/api/v1/wishes/{number}/claim"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("claimed")),
        "{v}"
    );
    let (_, second) = call(
        t,
        None,
        "POST",
        "/api/v1/wishes",
        Some(json!({"community": C1, "title": "希望有人陪我去医院复查"})),
    )
    .await;
    let second = second["public_id"].as_str().expect("number").to_owned();
    let (s, _) = call(
        t,
        Some(volunteer),
        "POST",
        &format!("/api/v1/wishes/{second}/claim"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "one wish at a time");
    let (s, _) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/wishes/{number}/delivery"),
        Some(json!({"note": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "only the claimant delivers");
    let (s, v) = call(
        t,
        Some(volunteer),
        "POST",
        &format!("/api/v1/wishes/{number}/delivery"),
        Some(json!({"note": "已送到家中"})),
    )
    .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("delivered"))
    );
    let (s, _) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/wishes/{number}/confirmation"),
        Some(json!({"secret": "WRONGWRONG", "fulfilled": true})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    clock.set(clock_now(clock) + SignedDuration::from_hours(30));
    let (s, v) = call(
        t,
        None,
        "POST",
        &format!("/api/v1/wishes/{number}/confirmation"),
        Some(json!({"secret": secret, "fulfilled": true})),
    )
    .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("fulfilled")),
        "{v}"
    );
    let (_, history) = call(
        t,
        Some(secretary),
        "GET",
        &format!("/api/v1/wishes/{number}/history"),
        None,
    )
    .await;
    let actions: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, vec!["post", "claim", "deliver", "confirm"]);

    // Volunteers: capacity and the waiting list; check-in by the QR token; the ledger.
    let start = clock_now(clock) + SignedDuration::from_hours(24);
    let (s, v) = call(t, Some(secretary), "POST", "/api/v1/activities", Some(json!({"title": "文明劝导", "community": C1, "place": "南门广场", "required_skills": ["文明劝导"], "case": case,
        "shifts": [{"starts_at": start.to_string(), "ends_at": (start + SignedDuration::from_hours(3)).to_string(), "capacity": 1}]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let activity = v["id"].as_str().expect("id").to_owned();
    let shift = v["shifts"][0]["id"].as_str().expect("shift").to_owned();
    let (s, v) = call(t, Some(member), "POST", "/api/v1/volunteers", Some(json!({"name": "李红", "community": C1, "skills": ["文明劝导"], "consent": true, "username": "member.st1c1.1"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let li = v["id"].as_str().expect("id").to_owned();
    let (s, v) = call(
        t,
        Some(volunteer),
        "POST",
        &format!("/api/v1/activities/shifts/{shift}/signup"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["placement"].as_str()),
        (StatusCode::CREATED, Some("confirmed"))
    );
    let (s, v) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/activities/shifts/{shift}/signup"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["placement"].as_str(), v["position"].as_u64()),
        (StatusCode::CREATED, Some("waiting"), Some(1))
    );
    let (s, _) = call(
        t,
        Some(volunteer),
        "DELETE",
        &format!("/api/v1/activities/shifts/{shift}/signup"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = call(
        t,
        None,
        "GET",
        &format!("/api/v1/activities/{activity}"),
        None,
    )
    .await;
    assert_eq!(
        (
            v["shifts"][0]["confirmed"].as_u64(),
            v["shifts"][0]["waiting"].as_u64()
        ),
        (Some(1), Some(0)),
        "the waiting list moved up"
    );
    let token = t
        .app
        .repo
        .activity(&activity.parse().expect("uuid"))
        .await
        .expect("a")
        .expect("there")
        .check_token;
    clock.set(start);
    let (s, _) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/activities/{activity}/check-in"),
        Some(json!({"token": "not-the-token"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/activities/{activity}/check-in"),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(
        (s, v["result"].as_str()),
        (StatusCode::OK, Some("checked_in")),
        "{v}"
    );
    clock.set(start + SignedDuration::from_mins(150));
    let (s, v) = call(
        t,
        Some(member),
        "POST",
        &format!("/api/v1/activities/{activity}/check-in"),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(
        (s, v["result"].as_str(), v["minutes"].as_u64()),
        (StatusCode::OK, Some("checked_out"), Some(150)),
        "{v}"
    );
    let (s, v) = call(t, Some(secretary), "POST", "/api/v1/volunteers/hours", Some(json!({"volunteer": sun, "day": "2026-11-01", "minutes": 90, "note": "协助整理社区图书角"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["manual"], true);
    let (_, pending) = call(
        t,
        Some(secretary),
        "GET",
        &format!("/api/v1/volunteers/hours?within={C1}&status=pending"),
        None,
    )
    .await;
    let entries: Vec<String> = pending
        .as_array()
        .expect("pending")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(entries.len(), 2);
    let (s, _) = call(
        t,
        Some(volunteer),
        "POST",
        "/api/v1/volunteers/hours/decisions",
        Some(json!({"entries": entries, "approve": true})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "volunteers do not approve their own hours"
    );
    let (s, v) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/volunteers/hours/decisions",
        Some(json!({"entries": entries, "approve": true})),
    )
    .await;
    assert_eq!(
        (s, v["decided"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    let (_, v) = call(
        t,
        Some(secretary),
        "POST",
        "/api/v1/volunteers/hours/decisions",
        Some(json!({"entries": entries, "approve": false})),
    )
    .await;
    assert_eq!(
        v["decided"].as_array().map(Vec::len),
        Some(0),
        "a decided entry stays decided"
    );
    let (s, v) = call(
        t,
        Some(member),
        "GET",
        &format!("/api/v1/volunteers/{li}/hours"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["approved_minutes"].as_u64()),
        (StatusCode::OK, Some(150))
    );
    assert_eq!(
        v["entries"][0]["case"].as_str(),
        Some(case.to_string()).as_deref(),
        "the hours link to the case"
    );
    let (s, _) = call(
        t,
        Some(volunteer),
        "GET",
        &format!("/api/v1/volunteers/{li}/hours"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another volunteer's ledger");
    let certificate = t
        .app
        .certificate(
            &super::support::staff(&t.app, "member.st1c1.1").await,
            &li.parse().expect("uuid"),
        )
        .await
        .expect("certificate");
    assert_eq!(
        (certificate.total_minutes, certificate.lines.len()),
        (150, 1)
    );
    assert_eq!(certificate.lines[0].certified_by, "secretary.st1c1");

    // Escalation: a wish nobody takes on for a week goes up to the community, once.
    clock.set(clock_now(clock) + SignedDuration::from_hours(24 * 8));
    assert_eq!(t.app.escalate_unclaimed_wishes().await.expect("sweep"), 1);
    assert_eq!(t.app.escalate_unclaimed_wishes().await.expect("sweep"), 0);
    let (_, v) = call(t, None, "GET", &format!("/api/v1/wishes/{second}"), None).await;
    assert_eq!(
        (v["status"].as_str(), v["escalated"].as_bool()),
        (Some("open"), Some(true))
    );

    // Coverage: after three weekly windows with one visit, the member covered one of three.
    clock.set(clock_now(clock) + SignedDuration::from_hours(24 * 14));
    t.app
        .repo
        .mark_assigned_households()
        .await
        .expect("daily job");
    let rollup = rollups_equal_recount(t).await;
    let staff = &rollup[&Subject::Staff("member.st1c1.1".into())];
    assert!(
        staff.contacts_due >= 9 && staff.contacts_made == 1,
        "{staff:?}"
    );
    let community = &rollup[&Subject::Region(C1.into())];
    assert_eq!(
        (
            community.wishes_posted,
            community.wishes_fulfilled,
            community.wishes_escalated
        ),
        (2, 1, 1)
    );
    assert_eq!(community.wish_fulfil_minutes, 30 * 60);
    assert_eq!(community.volunteer_minutes, 240);
    assert_eq!(community.contacts_due, staff.contacts_due);
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    civicgrid::clock::Clock::now(clock)
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
    party_building(&t, &clock).await;
    t.finish().await;
}

#[tokio::test]
async fn party_building_end_to_end_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn party_building_end_to_end_on_postgresql() {
    run(Backend::Postgres).await;
}

/// The registers at the command line: a bad file is refused whole with its file, line and
/// field named; a good one is imported and exported again (the household export without
/// contacts).
#[tokio::test]
async fn the_command_line_imports_and_exports_the_registers() {
    let t = TestApp::builder().demo(1).sealed().build().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let bad = file(
        "orgs.csv",
        "code,name,kind,parent,region,grid\nST1-DW,第一街道党工委,committee,,440305001,\nC1-DW,社区党委,党委,ST1-DW,440305009001,\n",
    );
    let e = super::support::run_cli(&t.url, &["import", "organisations", &bad], "")
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("orgs.csv") && text.contains("line 3") && text.contains("region"),
        "{text}"
    );
    assert!(
        t.app.repo.organisations().await.expect("orgs").is_empty(),
        "nothing of a bad file"
    );
    let good = file(
        "orgs2.csv",
        "code,name,kind,parent,region,grid\nC1-DW,社区党委,党委,ST1-DW,440305001001,\nST1-DW,第一街道党工委,committee,,440305001,\n",
    );
    let (code, out) = super::support::run_cli(&t.url, &["import", "organisations", &good], "")
        .await
        .expect("imported");
    assert_eq!(
        (code, String::from_utf8_lossy(&out).trim()),
        (0, "imported 2 organisations")
    );
    let (_, out) = super::support::run_cli(&t.url, &["export", "organisations"], "")
        .await
        .expect("exported");
    let exported = String::from_utf8_lossy(&out).to_string();
    assert!(
        exported.starts_with("code,name,kind,parent,region,grid\n"),
        "{exported}"
    );
    assert!(
        exported.contains("C1-DW,社区党委,committee,ST1-DW,440305001001,"),
        "{exported}"
    );

    let households = file(
        "households.csv",
        "grid,building,unit,room,consent,contact_name,contact_phone\n440305001001001,3栋,1单元,101,yes,陈阿姨,13900000009\n440305001001001,3栋,1单元,102,no,,\n",
    );
    let (code, _) = super::support::run_cli(&t.url, &["import", "households", &households], "")
        .await
        .expect("imported");
    assert_eq!(code, 0);
    let (_, out) = super::support::run_cli(
        &t.url,
        &["export", "households", "--within", "440305001001"],
        "",
    )
    .await
    .expect("exported");
    let exported = String::from_utf8_lossy(&out).to_string();
    assert_eq!(exported.lines().count(), 3, "{exported}");
    assert!(
        !exported.contains("13900000009") && !exported.contains("陈阿姨"),
        "no contacts leave by export: {exported}"
    );
    let again = super::support::run_cli(&t.url, &["import", "households", &households], "").await;
    assert!(again.is_err(), "the same addresses twice are refused");
}

/// Text with a NUL character is refused before it reaches a store (PostgreSQL cannot keep
/// one), and changes nothing.
#[tokio::test]
async fn text_with_a_nul_character_is_refused_whole() {
    let t = TestApp::builder().demo(1).build().await;
    let (s, p) = call(
        &t,
        None,
        "POST",
        "/api/v1/wishes",
        Some(json!({"community": C1, "title": "老花镜\u{0}"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["type"], "urn:civicgrid:problem:bad-request");
    let within: civicgrid_domain::territory::RegionCode = C1.parse().expect("r");
    assert!(
        t.app
            .board_wishes(&within, &[], 10)
            .await
            .expect("wishes")
            .is_empty()
    );
    let (s, _) = call(
        &t,
        None,
        "GET",
        "/api/v1/wishes?within=44030500100%00",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
