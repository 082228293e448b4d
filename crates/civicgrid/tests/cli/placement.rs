//! Cases without a place get placed: a call-taker or dispatcher sets or corrects the place
//! (a grid, or a point) and the category before dispatch, recorded as an event; routing runs
//! again and the case page tells why, in the reader's language. Nobody else may, and not after
//! a unit has the case.

use axum::http::StatusCode;
use civicgrid::cases::{Correction, Intake};
use civicgrid::error::AppError;
use civicgrid_domain::case::{Action, Channel, Status};
use serde_json::json;

use super::support::{TestApp, staff};

async fn placeless(t: &TestApp) -> civicgrid_domain::case::Case {
    t.app
        .report_case(
            Intake {
                grid: None,
                media_url: None,
                description: "小区门口井盖丢失，晚上看不见".into(),
                location: None,
                address: Some("南头街道某小区门口".into()),
                category: Some("01001".parse().expect("category")),
                attributes: [("damage".to_owned(), "missing".to_owned())].into(),
                priority: None,
                channel: Channel::Hotline,
                reporter: None,
            },
            &civicgrid::cases::Actor::Resident,
        )
        .await
        .expect("reported")
}

#[tokio::test]
async fn a_call_taker_places_an_address_only_case_and_routing_runs_again() {
    let t = TestApp::builder().demo(1).build().await;
    let case = placeless(&t).await;
    assert!(case.grid.is_none(), "an address alone gives no grid");
    let calltaker = staff(&t.app, "calltaker1").await;
    let worker = staff(&t.app, "gw.st1c1.1").await;
    let correction = || Correction {
        location: Some((113.9171, 22.5168)),
        grid: None,
        category: None,
        reason: "来电人补充：在南头街道第一社区路口".into(),
    };

    // A grid worker may not; nothing changes.
    assert!(matches!(
        t.app
            .correct_case(&case.id, case.state.version, correction(), &worker)
            .await,
        Err(AppError::Forbidden(_))
    ));
    // A point outside every grid, an unknown category, nothing to change: named, nothing changes.
    for (bad, field) in [
        (
            Correction {
                location: Some((100.0, 30.0)),
                ..correction()
            },
            "lon",
        ),
        (
            Correction {
                location: None,
                category: Some("99999".parse().expect("code")),
                ..correction()
            },
            "category",
        ),
        (
            Correction {
                location: None,
                ..correction()
            },
            "grid",
        ),
    ] {
        match t
            .app
            .correct_case(&case.id, case.state.version, bad, &calltaker)
            .await
        {
            Err(AppError::Unprocessable(fields)) => assert_eq!(fields[0].0, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(t.app.get_case(&case.id).await.expect("case"), case);

    let placed = t
        .app
        .correct_case(&case.id, case.state.version, correction(), &calltaker)
        .await
        .expect("placed");
    assert_eq!(
        placed.grid.as_ref().map(|g| g.as_str()),
        Some("440305001001001")
    );
    assert_eq!(
        placed.location,
        Some((113.9171, 22.5168)),
        "the point given is the case's now"
    );
    assert_eq!(
        placed.state.status,
        Status::Reported,
        "the loop goes on where it was"
    );
    assert_eq!(placed.state.version, case.state.version + 1);
    assert!(
        !placed.routed_units.is_empty(),
        "routed to the units of the new place"
    );
    assert!(placed.routing.starts_with("rule"), "{}", placed.routing);
    assert_ne!(placed.routing, case.routing, "routing ran again");
    assert_eq!(t.app.get_case(&case.id).await.expect("stored"), placed);
    // The event records who, why, what changed and the new routing.
    let events = t.app.case_timeline(&case.id).await.expect("events");
    let last = events.last().expect("event");
    assert_eq!(last.action, "correct");
    assert_eq!(last.actor, "calltaker1");
    assert_eq!(last.payload["action"]["grid"], "440305001001001");
    assert_eq!(
        last.payload["action"]["location_e6"],
        json!([113917100, 22516800])
    );
    assert_eq!(
        last.payload["action"]["routed_units"],
        json!(placed.routed_units)
    );
    // A stale version changes nothing.
    assert!(matches!(
        t.app
            .correct_case(&case.id, case.state.version, correction(), &calltaker)
            .await,
        Err(AppError::Stale { .. })
    ));

    // The category too, by a dispatcher once accepted and registered.
    let dispatcher = staff(&t.app, "dispatcher.st1").await;
    let accepted = t
        .app
        .act_on_case(&case.id, placed.state.version, Action::Accept, &calltaker)
        .await
        .expect("accept");
    let recategorised = t
        .app
        .correct_case(
            &case.id,
            accepted.state.version,
            Correction {
                location: None,
                grid: None,
                category: Some("01002".parse().expect("category")),
                reason: "实为雨水篦子缺失".into(),
            },
            &dispatcher,
        )
        .await
        .expect("recategorised");
    assert_eq!(
        recategorised.category.as_ref().map(|c| c.as_str()),
        Some("01002")
    );
    assert_eq!(recategorised.grid, placed.grid, "the place stays");
    // The stage's clock follows the new category's time limit.
    let clock = recategorised.clock.expect("a running clock");
    assert_eq!(clock.stage, civicgrid_domain::catalogue::Stage::Dispatch);
    // Once a unit has it, a correction is too late: the unit sends it back instead.
    let registered = t
        .app
        .act_on_case(
            &case.id,
            recategorised.state.version,
            Action::Register,
            &calltaker,
        )
        .await
        .expect("register");
    let dispatched = t
        .app
        .act_on_case(
            &case.id,
            registered.state.version,
            Action::Dispatch {
                units: registered.routed_units.clone(),
            },
            &dispatcher,
        )
        .await
        .expect("dispatch");
    assert!(matches!(
        t.app
            .correct_case(&case.id, dispatched.state.version, correction(), &calltaker)
            .await,
        Err(AppError::NotAllowed { .. })
    ));
}

/// A CSRF token as the pages issue them (48 characters).
const TOKEN: &str = "000000000000000000000000000000000000000000000000";

#[tokio::test]
async fn the_case_page_offers_the_correction_and_tells_the_new_routing_in_chinese() {
    let t = TestApp::builder().demo(1).build().await;
    let case = placeless(&t).await;
    let session = t
        .post("/api/v1/session")
        .json(&json!({"username": "calltaker1", "password": "civicgrid-demo"}))
        .send()
        .await
        .json();
    let token = session["token"].as_str().expect("token");
    let page = t
        .get(&format!("/work/case/{}", case.id))
        .cookie(&format!("cg_session={token}; cg_csrf={TOKEN}"))
        .send()
        .await
        .text();
    assert!(page.contains("id=\"form-correct\""), "the form is offered");
    assert!(page.contains("id=\"correct-grid\""));
    let boundary = "----correctboundary";
    let mut body = String::new();
    for (name, value) in [
        ("csrf", TOKEN),
        ("version", &case.state.version.to_string()[..]),
        ("action", "correct"),
        ("grid", "440305001001002"),
        ("reason", "来电人说明在第2网格"),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let done = t
        .post(&format!("/work/case/{}/act", case.id))
        .cookie(&format!("cg_session={token}; cg_csrf={TOKEN}"))
        .bytes(
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
        .send()
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let placed = t.app.get_case(&case.id).await.expect("case");
    assert_eq!(
        placed.grid.as_ref().map(|g| g.as_str()),
        Some("440305001001002")
    );
    let page = t
        .get(&format!("/work/case/{}", case.id))
        .cookie(&format!("cg_session={token}"))
        .send()
        .await
        .text();
    // The routing told in Chinese with names, and the correction on the timeline with its why.
    let routing = page
        .split("class=\"routing\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .expect("routing");
    assert!(
        routing.contains("责任清单") && !routing.contains("rule"),
        "{routing}"
    );
    assert!(
        page.contains("更正位置或类别") && page.contains("来电人说明在第2网格"),
        "{}",
        page.split("class=\"timeline\"").nth(1).unwrap_or(&page)
    );
}

#[tokio::test]
async fn a_grid_worker_reports_from_patrol_with_place_and_photo() {
    let t = TestApp::builder().demo(1).build().await;
    let session = t
        .post("/api/v1/session")
        .json(&json!({"username": "gw.st1c1.1", "password": "civicgrid-demo"}))
        .send()
        .await
        .json();
    let token = session["token"].as_str().expect("token");
    let cookie = format!("cg_session={token}; cg_csrf={TOKEN}");
    let page = t.get("/work/field").cookie(&cookie).send().await.text();
    assert!(page.contains("id=\"patrol-form\"") && page.contains("data-map-pick"));
    // A real PNG, as a phone camera would send a picture.
    let png: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90,
        0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8,
        0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let post = |fields: &[(&str, &str)], with_photo: bool| {
        let boundary = "----patrolboundary";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        if with_photo {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(png);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        t.post("/work/field/report")
            .cookie(&cookie)
            .bytes(&format!("multipart/form-data; boundary={boundary}"), body)
    };
    let count = || async {
        t.app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("cases")
            .len()
    };
    // Without a place or a category: named, nothing stored.
    let refused = post(&[("csrf", TOKEN), ("description", "井盖丢失")], false)
        .send()
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count().await, 0);
    let done = post(
        &[
            ("csrf", TOKEN),
            ("category", "01001"),
            ("attr_damage", "missing"),
            ("description", "巡查发现路口井盖丢失"),
            ("lon", "113.9171"),
            ("lat", "22.5168"),
        ],
        true,
    )
    .send()
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let cases = t
        .app
        .list_cases(&civicgrid_store::CaseFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("cases");
    let case = &cases[0];
    assert_eq!(case.channel, Channel::Patrol);
    assert_eq!(
        case.grid.as_ref().map(|g| g.as_str()),
        Some("440305001001001")
    );
    assert_eq!(case.state.photos.len(), 1, "the photo goes with the report");
    let events = t.app.case_timeline(&case.id).await.expect("events");
    assert_eq!(events[0].actor, "gw.st1c1.1");
}

#[tokio::test]
async fn the_dispatch_form_suggests_the_listed_units_first_and_residents_see_who_handles_it() {
    let t = TestApp::builder().demo(1).build().await;
    let created = t
        .post("/api/v1/cases")
        .json(&json!({"description": "路口井盖丢失", "lon": 113.9171, "lat": 22.5168, "category": "01001", "attributes": {"damage": "missing"}}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let body = created.json();
    let id: uuid::Uuid = body["id"].as_str().expect("id").parse().expect("uuid");
    let receipt = body["receipt_code"].as_str().expect("receipt").to_owned();
    let calltaker = staff(&t.app, "calltaker1").await;
    let case = t.app.get_case(&id).await.expect("case");
    let accepted = t
        .app
        .act_on_case(&id, case.state.version, Action::Accept, &calltaker)
        .await
        .expect("accept");
    let registered = t
        .app
        .act_on_case(&id, accepted.state.version, Action::Register, &calltaker)
        .await
        .expect("register");
    let routed = registered.routed_units.clone();
    let session = t
        .post("/api/v1/session")
        .json(&json!({"username": "dispatcher.st1", "password": "civicgrid-demo"}))
        .send()
        .await
        .json();
    let page = t
        .get(&format!("/work/case/{id}"))
        .cookie(&format!(
            "cg_session={}",
            session["token"].as_str().expect("token")
        ))
        .send()
        .await
        .text();
    let form = page
        .split("id=\"form-dispatch\"")
        .nth(1)
        .and_then(|f| f.split("</form>").next())
        .expect("the dispatch form");
    // Suggested first, with why; then the rest; and a search box over them.
    assert!(form.contains("id=\"dispatch-why\"") && form.contains("id=\"dispatch-unit-filter\""));
    let suggested = form.find("<optgroup").expect("groups");
    let other = form.rfind("<optgroup").expect("groups");
    assert!(suggested < other);
    let lead = form
        .find(&format!("value=\"{}\" selected", routed[0]))
        .expect("the lead unit, chosen");
    assert!(
        lead < other,
        "the listed lead unit comes in the first group"
    );
    assert!(form[lead..other].contains("责任清单主办"));
    // The resident sees which unit handles the case.
    let tracked = t.get(&format!("/track/{receipt}")).send().await.text();
    let unit = tracked
        .split("id=\"case-unit\">")
        .nth(1)
        .and_then(|u| u.split("</dd>").next())
        .expect("the unit");
    assert!(!unit.is_empty() && !unit.contains("待分派"), "{unit}");
}
