//! Emergency response end to end on the demo territory, on both backends: plans imported
//! over REST (TOML and CSV, all or nothing), an incident declared over grids, activated at
//! once by two servers on the same database (one activation, no task twice), raised and
//! lowered, acknowledged and reported by a grid worker, a unit's task done, needs turned into
//! a case and a volunteer call, situation reports with their reminder, lifted, and the
//! after-action record; a drill kept out of the response figures.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::clock::ManualClock;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use super::support::{Backend, Call, TestApp};

async fn server(url: &str) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_civicgrid"))
        .args([
            "--database",
            url,
            "serve",
            "--no-jobs",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("CIVICGRID_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("a server");
    let mut line = String::new();
    tokio::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .await
        .expect("serving line");
    let base = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split([' ', '\n']).next())
        .map(|addr| format!("http://{addr}"))
        .unwrap_or_else(|| panic!("the server said {line:?}"));
    (child, base)
}

/// A POST over TCP to a running server: status and body.
async fn post_to(base: &str, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let url = format!("{base}{path}");
    let answer = civicgrid::outbound::Outbound::default()
        .send(
            civicgrid::outbound::Request::post(
                &url,
                "application/json",
                body.to_string().into_bytes(),
            )
            .header("authorization", format!("Bearer {key}")),
            std::time::Duration::from_secs(20),
        )
        .await
        .expect("answer");
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
    )
}

const PLAN: &str = r#"
code = "typhoon"
kind = "typhoon"
title = "防台风预案"

[[task]]
key = "duty"
to = "role:street_leader"
title = "街道领导带班值守"
due = { IV = 60, III = 60, II = 30, I = 30 }

[[task]]
key = "check"
to = "grid_workers"
title = "逐户排查独居老人和危旧房屋"
due = { III = 240, II = 120, I = 60 }

[[task]]
key = "drainage"
to = "unit:UNIT"
title = "排查低洼路段排水"
due = { II = 180, I = 90 }

[[shelter]]
name = "南山小学体育馆"
capacity = 300
grid = "GRID"
"#;

async fn emergency_loop(backend: Backend) {
    // The two servers below keep the real time: so does this clock, moved on by hand.
    let base = jiff::Timestamp::now();
    let at = |minutes: i64| base + jiff::SignedDuration::from_mins(minutes);
    let clock = Arc::new(ManualClock::new(base));
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
    let app = &t.app;
    // A grid worker's beat in the first street, another grid of that street, a unit.
    let beats = app.repo.beats().await.expect("beats");
    let beat = beats
        .iter()
        .find(|b| b.code.starts_with("440305001") && !b.workers.is_empty() && b.grids.len() >= 2)
        .expect("a beat");
    let worker = beat.workers[0].clone();
    let other = beats
        .iter()
        .find(|b| b.code.starts_with("440305001") && b.code != beat.code)
        .expect("another beat")
        .grids[0]
        .clone();
    let ours: Vec<String> = beat.grids.iter().map(|g| g.to_string()).collect();
    let far = beats
        .iter()
        .find(|b| !b.code.starts_with("440305001"))
        .expect("a beat of another street")
        .grids[0]
        .to_string();
    let reference = app.reference().await.expect("reference");
    let unit = reference
        .units
        .iter()
        .find(|u| app_has_handler(&reference, &u.code))
        .expect("a unit")
        .code
        .clone();
    let leader = app
        .create_api_key("指挥", Some("leader.st1"))
        .await
        .expect("key");
    let gw = app
        .create_api_key("网格员", Some(&worker))
        .await
        .expect("key");
    let handler = app
        .create_api_key(
            "部门",
            Some(&format!("handler.{}", unit.to_ascii_lowercase())),
        )
        .await
        .expect("key");
    let resident = app
        .create_api_key("志愿者", Some("volunteer.st1c1"))
        .await
        .expect("key");
    let call = |method: &str, uri: &str, key: &str| Call::new(app.clone(), method, uri).bearer(key);

    // Plans: a TOML plan goes in; a CSV with a bad row changes nothing.
    let plan = PLAN.replace("UNIT", &unit).replace("GRID", &ours[0]);
    let a = call("POST", "/api/v1/plans", &leader)
        .bytes("application/toml", plan.clone().into_bytes())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()[0]["tasks_per_level"], json!([3, 3, 2, 1]));
    let csv = call("GET", "/api/v1/plans/typhoon?format=csv", &leader)
        .send()
        .await
        .text();
    let bad = csv
        .replace("typhoon,typhoon", "flood-b,flood")
        .replace(",grid_workers,", ",everyone,");
    let a = call("POST", "/api/v1/plans", &leader)
        .bytes(
            "text/csv",
            format!(
                "{csv}{}",
                bad.lines().skip(1).collect::<Vec<_>>().join("\n")
            )
            .into_bytes(),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text());
    assert!(a.text().contains("line"), "{}", a.text());
    assert_eq!(
        call("GET", "/api/v1/plans", &leader)
            .send()
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // A grid worker may read plans, not write them; a resident has no part at all.
    let a = call("POST", "/api/v1/plans", &gw)
        .bytes("application/toml", plan.into_bytes())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        call("GET", "/api/v1/plans", &gw).send().await.status,
        StatusCode::OK
    );
    assert_eq!(
        call("GET", "/api/v1/incidents", &resident)
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Declaring: bad input is named by field and stores nothing.
    let mut grids = ours.clone();
    grids.push(other.to_string());
    let a = call("POST", "/api/v1/incidents", &leader)
        .json(&json!({"title": "", "plan": "nope", "area": {"kind": "grids", "grids": []}, "period_minutes": 5}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.repo.incidents(10).await.expect("list").is_empty());
    let a = call("POST", "/api/v1/incidents", &leader)
        .json(&json!({"title": "台风“海葵”", "plan": "typhoon", "area": {"kind": "grids", "grids": [far]}}))
        .send()
        .await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "another street's grid: {}",
        a.text()
    );
    let a = call("POST", "/api/v1/incidents", &leader)
        .json(&json!({"title": "台风“海葵”", "plan": "typhoon", "area": {"kind": "grids", "grids": grids}}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let number = a.json()["number"].as_str().expect("number").to_owned();
    assert_eq!(a.json()["status"], "declared");

    // Two servers activate at once: one activation, each task once.
    let (_one, base_one) = server(&t.url).await;
    let (_two, base_two) = server(&t.url).await;
    let path = format!("/api/v1/incidents/{number}/level");
    let three = json!({"level": "III"});
    let (first, second) = tokio::join!(
        post_to(&base_one, &path, &leader, &three),
        post_to(&base_two, &path, &leader, &three),
    );
    assert_eq!((first.0, second.0), (200, 200), "{first:?} {second:?}");
    let changed: Vec<bool> = [&first.1, &second.1]
        .iter()
        .map(|b| b["changed"] == true)
        .collect();
    assert_eq!(
        changed.iter().filter(|c| **c).count(),
        1,
        "{first:?} {second:?}"
    );
    let id = app
        .repo
        .incident_by_number(&number)
        .await
        .expect("read")
        .expect("there")
        .id;
    let tasks = app.repo.incident_tasks(&id).await.expect("tasks");
    // Level III: the duty task and one check per affected grid.
    assert_eq!(tasks.len(), 1 + grids.len(), "{tasks:#?}");
    let events = app.repo.incident_events(&id).await.expect("events");
    assert_eq!(events.iter().filter(|e| e.action == "activate").count(), 1);
    let notices = app.repo.grid_notices(10).await.expect("notices");
    assert_eq!(notices.len(), 1, "one notice to the grids");
    assert_eq!(notices[0].grids.len(), grids.len());

    // Raising to II adds the unit's task only; lowering again cancels it with the reason.
    let a = call("POST", &path, &leader)
        .json(&json!({"level": "II"}))
        .send()
        .await;
    assert_eq!(a.json()["created"], 1, "{}", a.text());
    let a = call("POST", &path, &leader)
        .json(&json!({"level": "III"}))
        .send()
        .await;
    assert_eq!(
        (a.json()["created"].clone(), a.json()["ended"].clone()),
        (json!(0), json!(1))
    );
    let tasks = app.repo.incident_tasks(&id).await.expect("tasks");
    let drainage = tasks
        .iter()
        .find(|t| t.key == "drainage")
        .expect("drainage");
    assert_eq!(drainage.status, "cancelled");
    assert_eq!(drainage.reason.as_deref(), Some("level lowered to III"));
    let a = call("POST", &path, &leader)
        .json(&json!({"level": "V"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Raised again: the same task reopens, not a second one.
    call("POST", &path, &leader)
        .json(&json!({"level": "II"}))
        .send()
        .await;
    let tasks = app.repo.incident_tasks(&id).await.expect("tasks");
    assert_eq!(tasks.iter().filter(|t| t.key == "drainage").count(), 1);
    assert_eq!(
        tasks
            .iter()
            .find(|t| t.key == "drainage")
            .map(|t| t.status.as_str()),
        Some("open")
    );
    assert_eq!(
        app.repo.grid_notices(10).await.expect("notices").len(),
        3,
        "a raise tells the grids again"
    );

    // The grid worker: not another beat's grid of another community, yes their own.
    clock.set(at(20));
    let far_ack = format!(
        "/api/v1/incidents/{number}/grids/{}/acknowledge",
        beats
            .iter()
            .find(|b| !b.code.starts_with(&beat.code[..12]))
            .expect("beat")
            .grids[0]
    );
    assert!(matches!(
        call("POST", &far_ack, &gw).send().await.status,
        StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY
    ));
    let ack = format!("/api/v1/incidents/{number}/grids/{}/acknowledge", ours[0]);
    assert_eq!(
        call("POST", &ack, &gw).send().await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("POST", &ack, &gw).send().await.status,
        StatusCode::NO_CONTENT,
        "again: nothing new"
    );
    let report = format!("/api/v1/incidents/{number}/grids/{}/reports", ours[1]);
    let a = call("POST", &report, &gw)
        .json(&json!({"households_checked": -1, "people_transferred": 2}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "not a count");
    let a = call("POST", &report, &gw)
        .json(&json!({"households_checked": 200000, "people_transferred": 2, "needs": [{"text": " "}]}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = a.json();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        ["households_checked", "needs[0].text"],
        "{}",
        a.text()
    );
    let a = call("POST", &report, &gw)
        .json(&json!({"households_checked": 86, "people_transferred": 7, "note": "3栋地下室进水",
            "needs": [{"text": "独居老人需转移", "skills": []}, {"text": "需要沙袋搬运", "skills": ["体力劳动"]}]}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let board = call("GET", &format!("/api/v1/incidents/{number}"), &gw)
        .send()
        .await
        .json();
    assert_eq!(
        board["figures"]["grids_acknowledged"], 2,
        "the report acknowledged its grid too"
    );
    assert_eq!(board["figures"]["grids_reported"], 1);
    assert_eq!(board["figures"]["households_checked"], 86);
    assert_eq!(board["figures"]["needs_open"], 2);
    let states: Vec<&str> = board["grids"]
        .as_array()
        .expect("grids")
        .iter()
        .map(|g| g["state"].as_str().unwrap_or(""))
        .collect();
    assert!(
        states.contains(&"reported")
            && states.contains(&"acknowledged")
            && states.contains(&"silent"),
        "{states:?}"
    );

    // The unit's handler marks its task done, once.
    let done = format!("/api/v1/incidents/{number}/tasks/done");
    let body = json!({"task": "drainage", "target": format!("unit:{unit}"), "note": "泵车到位"});
    assert_eq!(
        call("POST", &done, &gw).json(&body).send().await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("POST", &done, &handler)
            .json(&body)
            .send()
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("POST", &done, &handler)
            .json(&body)
            .send()
            .await
            .status,
        StatusCode::CONFLICT
    );

    // Needs: one becomes a case in its grid, the other a volunteer call; each once.
    let needs = app.repo.incident_needs(&id).await.expect("needs");
    let a = call(
        "POST",
        &format!("/api/v1/incidents/{number}/needs/{}/case", needs[0].id),
        &leader,
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let case: uuid::Uuid = a.json()["case"]
        .as_str()
        .expect("case")
        .parse()
        .expect("uuid");
    let c = app.repo.case(&case).await.expect("read").expect("the case");
    assert_eq!(
        c.grid.as_ref().map(|g| g.to_string()),
        Some(ours[1].clone())
    );
    let again = call(
        "POST",
        &format!("/api/v1/incidents/{number}/needs/{}/case", needs[0].id),
        &leader,
    )
    .send()
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let a = call(
        "POST",
        &format!(
            "/api/v1/incidents/{number}/needs/{}/volunteer-call",
            needs[1].id
        ),
        &leader,
    )
    .json(&json!({"places": 8}))
    .send()
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let activity: uuid::Uuid = a.json()["activity"]
        .as_str()
        .expect("activity")
        .parse()
        .expect("uuid");
    let (act, shifts) = app.activity_places(&activity).await.expect("activity");
    assert_eq!(act.required_skills, ["体力劳动"]);
    assert_eq!(shifts[0].shift.capacity, 8);

    // Situation reports: the first is due one period after activation; a reminder once.
    assert_eq!(app.remind_sitreps().await.expect("remind"), 0);
    clock.set(at(121));
    assert_eq!(app.remind_sitreps().await.expect("remind"), 1);
    assert_eq!(
        app.remind_sitreps().await.expect("remind"),
        0,
        "once per period"
    );
    let sitrep = format!("/api/v1/incidents/{number}/sitreps");
    assert_eq!(
        call("POST", &sitrep, &gw)
            .json(&json!({"text": "x"}))
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let a = call("POST", &sitrep, &leader)
        .json(&json!({"text": "雨势减弱，继续排查"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    assert_eq!(a.json()["figures"]["people_transferred"], 7);
    let board = call("GET", &format!("/api/v1/incidents/{number}"), &leader)
        .send()
        .await
        .json();
    assert_eq!(board["latest_sitrep"]["number"], 1);
    assert_eq!(board["sitrep_overdue"], false);
    assert!(
        board["figures"]["tasks_overdue"].as_u64().expect("n") >= 1,
        "the duty task is past its hour"
    );

    // Lifting closes every open task with the reason; nothing changes it after.
    clock.set(at(300));
    let a = call("POST", &format!("/api/v1/incidents/{number}/lift"), &leader)
        .json(&json!({"reason": ""}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = call("POST", &format!("/api/v1/incidents/{number}/lift"), &leader)
        .json(&json!({"reason": "台风已过境"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let tasks = app.repo.incident_tasks(&id).await.expect("tasks");
    assert!(tasks.iter().all(|t| t.status != "open"), "{tasks:#?}");
    assert!(
        tasks
            .iter()
            .filter(|t| t.status == "closed")
            .all(|t| t.reason.as_deref() == Some("incident lifted: 台风已过境"))
    );
    assert_eq!(
        call("POST", &path, &leader)
            .json(&json!({"level": "I"}))
            .send()
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(
            "POST",
            &ack.replace(&ours[0], &ours[2.min(ours.len() - 1)]),
            &gw
        )
        .send()
        .await
        .status,
        StatusCode::CONFLICT
    );

    // The after-action record, from the log.
    let r = call(
        "GET",
        &format!("/api/v1/incidents/{number}/record"),
        &leader,
    )
    .send()
    .await
    .json();
    let actions: Vec<&str> = r["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    for a in [
        "declare",
        "activate",
        "raise",
        "lower",
        "acknowledge",
        "report",
        "task_done",
        "need_case",
        "need_call",
        "sitrep_reminder",
        "sitrep",
        "lift",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let silent: Vec<&str> = r["never_acknowledged"]
        .as_array()
        .expect("silent")
        .iter()
        .map(|g| g["grid"].as_str().unwrap_or(""))
        .collect();
    assert!(silent.contains(&other.as_str()), "{silent:?}");
    assert!(!silent.contains(&ours[0].as_str()));
    let duty = r["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["key"] == "duty")
        .expect("duty");
    assert_eq!(duty["status"], "closed");
    assert!(duty["delay_minutes"].as_i64().expect("delay") > 0);
    // Activated by a server on the real clock a moment after `base`.
    assert!(
        (299..=300).contains(&r["duration_minutes"].as_i64().expect("minutes")),
        "{}",
        r["duration_minutes"]
    );
    let csv = call(
        "GET",
        &format!("/api/v1/incidents/{number}/record?format=csv"),
        &leader,
    )
    .send()
    .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    assert!(text.starts_with("section,at,minute,who,what"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("never_acknowledged,")));
    assert!(
        text.lines()
            .any(|l| l.starts_with("task,") && l.contains("drainage"))
    );

    // A drill: its needs become no case, and it is left out of the units' figures.
    let a = call("POST", "/api/v1/incidents", &leader)
        .json(
            &json!({"title": "防台演练", "plan": "typhoon", "level": "II", "exercise": true,
            "area": {"kind": "circle", "lon": 0.0, "lat": 0.0, "radius_m": 100.0}}),
        )
        .send()
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a circle touching no grid: {}",
        a.text()
    );
    let drill = app
        .declare_incident(
            &super::support::staff(app, "leader.st1").await,
            civicgrid::emergency::NewIncident {
                title: "防台演练".into(),
                plan: "typhoon".into(),
                level: Some("II".into()),
                exercise: true,
                commander: None,
                area: civicgrid_domain::emergency::Area::Grids {
                    grids: beat.grids.clone(),
                },
                period_minutes: Some(60),
            },
        )
        .await
        .expect("a drill");
    assert_eq!(drill.status, "active");
    let responses = call("GET", "/api/v1/emergency/responses", &leader)
        .send()
        .await
        .json();
    let ours_unit = responses
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["unit"] == unit.as_str())
        .expect("the unit");
    assert_eq!(
        (ours_unit["tasks"].clone(), ours_unit["on_time"].clone()),
        (json!(1), json!(1)),
        "the drill's task is not counted"
    );
    let report = format!(
        "/api/v1/incidents/{}/grids/{}/reports",
        drill.number, ours[0]
    );
    call("POST", &report, &gw).json(&json!({"households_checked": 1, "people_transferred": 0, "needs": [{"text": "演练需求"}]})).send().await;
    let need = app.repo.incident_needs(&drill.id).await.expect("needs")[0].id;
    let a = call(
        "POST",
        &format!("/api/v1/incidents/{}/needs/{need}/case", drill.number),
        &leader,
    )
    .send()
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());

    // The pages: the board, the grid worker's page, the record.
    let page = t
        .get(&format!("/emergency/incidents/{number}/record"))
        .send()
        .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "signed out: to the login"
    );
    t.finish().await;
}

fn app_has_handler(reference: &civicgrid::reference::Reference, unit: &str) -> bool {
    // Departments have a handler account named after them in the demo.
    unit.chars().all(|c| c.is_ascii_uppercase()) && reference.units.iter().any(|u| u.code == unit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_from_activation_to_its_record_on_sqlite() {
    emergency_loop(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_from_activation_to_its_record_on_postgresql() {
    emergency_loop(Backend::Postgres).await;
}

/// Plans at the command line: imported all or nothing with every problem by file, line and
/// field; exported as TOML and CSV that read back the same.
#[tokio::test]
async fn plans_move_in_and_out_at_the_command_line() {
    let e = super::support::Env::new();
    let toml = e.file(
        "heat.toml",
        r#"
code = "heat"
kind = "public_health"
title = "高温中暑应急预案"

[[task]]
key = "visit"
to = "grid_workers"
title = "走访独居老人，提醒防暑"
due = { IV = 480, III = 240 }
"#,
    );
    let bad = e.file(
        "more.csv",
        "plan,kind,plan_title,record,key,to,title,due_I,due_II,due_III,due_IV\n\
         cold,cold_wave,寒潮预案,task,visit,grid_workers,走访,,,60,\n\
         cold,other,寒潮预案,task,heat,everyone,供暖,,,x,\n",
    );
    let problems = e
        .err(&[
            "emergency",
            "plans",
            "import",
            super::support::path(&toml),
            super::support::path(&bad),
        ])
        .await;
    for expected in [
        "more.csv: line 2",
        "field `kind`",
        "more.csv: line 3",
        "field `to`",
        "field `due_III`",
    ] {
        assert!(problems.contains(expected), "{expected} in {problems}");
    }
    assert_eq!(
        e.ok(&["emergency", "plans", "list"]).await,
        "",
        "nothing imported"
    );
    let out = e
        .ok(&["emergency", "plans", "import", super::support::path(&toml)])
        .await;
    assert_eq!(out, "plan heat (public_health) version 1\n");
    let again = e
        .ok(&["emergency", "plans", "import", super::support::path(&toml)])
        .await;
    assert_eq!(again, "plan heat (public_health) version 2\n");
    let csv = e.ok(&["emergency", "plans", "export"]).await;
    assert!(
        csv.starts_with("plan,kind,plan_title,record,key,to,title,due_I"),
        "{csv}"
    );
    assert!(csv.contains("heat,public_health,高温中暑应急预案,task,visit,grid_workers,走访独居老人，提醒防暑,,,240,480"), "{csv}");
    let written = e
        .ok(&["emergency", "plans", "export", "heat", "--format", "toml"])
        .await;
    assert!(
        written.contains("due = { III = 240, IV = 480 }") || written.contains("III = 240"),
        "{written}"
    );
    let round = e.file("round.csv", &csv);
    assert_eq!(
        e.ok(&["emergency", "plans", "import", super::support::path(&round)])
            .await,
        "plan heat (public_health) version 3\n"
    );
    assert!(
        e.err(&["emergency", "plans", "export", "nope"])
            .await
            .contains("plan nope")
    );
    assert!(
        e.ok(&["emergency", "plans", "list"])
            .await
            .starts_with("heat\tpublic_health\t高温中暑应急预案\tv3\ttasks I:0 II:0 III:1 IV:1")
    );
}
