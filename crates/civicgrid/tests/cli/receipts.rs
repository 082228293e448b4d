//! Receipt codes are the reporters' credentials. No public page, API or Open311 answer shows a
//! value that lets anyone act on a case (a receipt code, a secret, or a case id, whose low bits
//! are the receipt code); public lists show a public number that grants nothing; evaluating
//! needs the receipt code and the secret issued with it, and guessing is rate-limited.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::accounts::limits::Limits;
use civicgrid::cases::Actor;
use civicgrid_domain::case::{Action, Status};
use serde_json::json;

use super::support::{TestApp, staff};

/// A case a resident reported over REST: its id, receipt code and secret.
struct Reported {
    id: uuid::Uuid,
    public_id: String,
    receipt: String,
    secret: String,
}

async fn report(t: &TestApp, at: (f64, f64), text: &str) -> Reported {
    let a = t
        .post("/api/v1/cases")
        .json(&json!({"description": text, "lon": at.0, "lat": at.1, "category": "01001", "attributes": {"damage": "missing"}}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let v = a.json();
    let field = |name: &str| v[name].as_str().expect(name).to_owned();
    Reported {
        id: field("id").parse().expect("uuid"),
        public_id: field("public_id"),
        receipt: field("receipt_code"),
        secret: field("reporter_secret"),
    }
}

/// Takes the case through the loop to 结案 (closed, awaiting the resident's evaluation).
async fn close(t: &TestApp, id: &uuid::Uuid) {
    let app = &t.app;
    let steps: Vec<(Actor, Action)> = vec![
        (staff(app, "calltaker1").await, Action::Accept),
        (staff(app, "calltaker1").await, Action::Register),
        (
            staff(app, "dispatcher.st1").await,
            Action::Dispatch {
                units: vec!["SWJT".into()],
            },
        ),
        (staff(app, "handler.swjt").await, Action::StartHandling),
        (
            staff(app, "handler.swjt").await,
            Action::ReportBack {
                note: "已更换井盖".into(),
            },
        ),
        (
            staff(app, "gw.st1c1.1").await,
            Action::Verify {
                passed: true,
                note: String::new(),
            },
        ),
    ];
    for (actor, action) in steps {
        let case = app.get_case(id).await.expect("case");
        app.act_on_case(id, case.state.version, action, &actor)
            .await
            .expect("step");
    }
    assert_eq!(
        app.get_case(id).await.expect("case").state.status,
        Status::Closed
    );
}

/// Every value that would let its holder act on one of the cases, in the forms it is written.
fn credentials(cases: &[&Reported]) -> Vec<String> {
    cases
        .iter()
        .flat_map(|c| {
            [
                c.receipt.clone(),
                c.receipt.replace('-', ""),
                c.secret.clone(),
                c.secret.replace('-', ""),
                c.id.to_string(),
                c.id.simple().to_string(),
            ]
        })
        .collect()
}

/// `what` is the request's URI: a value it carries may be echoed (the caller has it already).
fn assert_reveals_nothing(what: &str, body: &str, credentials: &[String]) {
    for c in credentials.iter().filter(|c| !what.contains(c.as_str())) {
        assert!(!body.contains(c.as_str()), "{what} shows `{c}`:\n{body}");
    }
}

/// The path with its parameters filled for the public walk.
fn concrete(path: &str, c: &Reported) -> String {
    path.replace("{public_id}", &c.public_id)
        .replace("{id}", &c.id.to_string())
        .replace("{sha}", &"0".repeat(64))
        .replace("{sha256}", &"0".repeat(64))
        .replace("{kind}", "responsibility")
        .replace("{action}", "accept")
        .replace("{file}", "requests.json")
}

#[tokio::test]
async fn no_public_page_api_or_open311_answer_reveals_what_acts_on_a_case() {
    let t = TestApp::builder().demo(1).build().await;
    let open = report(&t, (113.9171, 22.5168), "安乐社区路口井盖丢失").await;
    let closed = report(&t, (113.9172, 22.5169), "井盖破损，有人绊倒").await;
    close(&t, &closed.id).await;
    let merged = report(&t, (113.9171, 22.5168), "路口井盖没了").await;
    let calltaker = staff(&t.app, "calltaker1").await;
    let m = t.app.get_case(&merged.id).await.expect("case");
    t.app
        .act_on_case(
            &merged.id,
            m.state.version,
            Action::MergeInto { master: open.id },
            &calltaker,
        )
        .await
        .expect("merged");
    let all = [&open, &closed, &merged];
    let secrets = credentials(&all);

    // Every page, anonymously (pages that need a session answer with a sign-in or a refusal,
    // which must not show anything either).
    let mut walked = 0;
    for path in civicgrid::web::pages().paths() {
        if path.contains("{code}") {
            continue; // takes a receipt code: walked below with the code in hand
        }
        for c in &all {
            let uri = concrete(path, c);
            let a = t.get(&uri).send().await;
            assert!(!a.status.is_server_error(), "{uri}: {}", a.status);
            assert_reveals_nothing(&uri, &a.text(), &secrets);
            walked += 1;
        }
    }
    assert!(walked >= 3 * 15, "{walked} page answers");
    // The public page of a case, and the public list, show its public number.
    let page = t.get(&format!("/cases/{}", closed.public_id)).send().await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(&closed.public_id));
    assert!(
        !page.text().contains("name=\"satisfaction\""),
        "nothing to act on"
    );
    let list = t.get("/cases").send().await.text();
    assert!(list.contains(&open.public_id) && list.contains(&closed.public_id));

    // Every GET of the REST API the document lists, anonymously, with each case's values.
    let doc = t.get("/api/v1/openapi.json").send().await.json();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if item.get("get").is_none() || path.contains("{receipt}") {
            continue;
        }
        for c in &all {
            let uri = concrete(path, c);
            let a = t.get(&uri).send().await;
            assert!(!a.status.is_server_error(), "{uri}: {}", a.status);
            assert_reveals_nothing(&uri, &a.text(), &secrets);
            operations += 1;
        }
    }
    assert!(operations >= 3 * 8, "{operations} API answers");

    // Open311: lists, single requests by public id, tokens, services, discovery.
    for uri in [
        "/open311/v2/requests.json".to_owned(),
        "/open311/v2/requests.xml".to_owned(),
        "/open311/v2/requests.json?status=open,closed".to_owned(),
        "/open311/v2/services.json".to_owned(),
        "/open311/v2/discovery.json".to_owned(),
        format!("/open311/v2/requests/{}.json", open.public_id),
        format!("/open311/v2/requests/{}.xml", closed.public_id),
        format!("/open311/v2/requests/{}.json", merged.public_id),
    ] {
        let a = t.get(&uri).send().await;
        assert!(!a.status.is_server_error(), "{uri}: {}", a.status);
        assert_reveals_nothing(&uri, &a.text(), &secrets);
    }
    let listed = t.get("/open311/v2/requests.json").send().await.json();
    let ids: BTreeSet<&str> = listed
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(|r| r["service_request_id"].as_str())
        .collect();
    assert!(ids.contains(open.public_id.as_str()), "{listed}");
    // The public number opens nothing that a receipt code opens.
    t.get(&format!("/api/v1/track/{}", open.public_id))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);

    // With a receipt code in hand, the tracking answers show that case only, and no secret;
    // a merged report follows its master by the master's public number.
    for c in &all {
        let others: Vec<&Reported> = all
            .iter()
            .copied()
            .filter(|o| o.receipt != c.receipt)
            .collect();
        let mut hidden = credentials(&others);
        hidden.extend([c.secret.clone(), c.id.to_string()]);
        for uri in [
            format!("/track/{}", c.receipt),
            format!("/api/v1/track/{}", c.receipt),
            format!("/receipt/{}", c.receipt),
        ] {
            let a = t.get(&uri).send().await;
            assert_eq!(a.status, StatusCode::OK, "{uri}");
            assert_reveals_nothing(&uri, &a.text(), &hidden);
        }
    }
    let followed = t
        .get(&format!("/api/v1/track/{}", merged.receipt))
        .send()
        .await
        .json();
    assert_eq!(followed["merged_into"], open.public_id.as_str());
}

/// The page's CSRF cookie and token for a first visit.
async fn csrf(t: &TestApp) -> String {
    t.get("/track")
        .send()
        .await
        .cookies()
        .iter()
        .find_map(|c| c.strip_prefix("cg_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_owned()
}

#[tokio::test]
async fn evaluating_needs_the_receipt_code_and_its_secret_and_guessing_is_held_up() {
    let mut t = TestApp::builder().demo(1).build().await;
    let c = report(&t, (113.9171, 22.5168), "安乐社区路口井盖丢失").await;
    close(&t, &c.id).await;
    let other = report(&t, (113.9172, 22.5169), "井盖破损").await;
    let before = t.app.get_case(&c.id).await.expect("case");
    let events = t.app.case_timeline(&c.id).await.expect("events").len();

    // The hole this closes: a stranger with the code alone chose 不满意 and reopened the case.
    let token = csrf(&t).await;
    let page = |secret: &str| {
        t.post(&format!("/track/{}/evaluate", c.receipt))
            .cookie(&format!("cg_csrf={token}"))
            .form(&format!(
                "csrf={token}&satisfaction=unsatisfied&comment=&secret={secret}"
            ))
            .client_addr("203.0.113.7")
    };
    let refused = page("").send().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(refused.text().contains("评价密码"));
    assert_eq!(
        page("ABCDE-FGHJK").send().await.status,
        StatusCode::FORBIDDEN
    );
    // Another case's secret does not open this one.
    assert_eq!(
        page(&other.secret).send().await.status,
        StatusCode::FORBIDDEN
    );
    let api = |secret: &str, satisfaction: &str| {
        t.post(&format!("/api/v1/track/{}/evaluation", c.receipt))
            .json(&json!({"secret": secret, "satisfaction": satisfaction}))
            .client_addr("203.0.113.8")
    };
    let p = api("ABCDE-FGHJK", "unsatisfied")
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    assert_eq!(p["status"], 403);
    // An unknown receipt code gets the same answer as a wrong secret.
    let unknown = t
        .post("/api/v1/track/ZZZZ-ZZZZ/evaluation")
        .json(&json!({"secret": c.secret, "satisfaction": "satisfied"}))
        .client_addr("203.0.113.8")
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    assert_eq!(unknown["detail"], p["detail"]);
    // Bad input is named, and nothing changed through any of it.
    let bad = api(&c.secret, "great")
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.to_string().contains("satisfaction"), "{bad}");
    let after = t.app.get_case(&c.id).await.expect("case");
    assert_eq!(after.state, before.state);
    assert_eq!(
        t.app.case_timeline(&c.id).await.expect("events").len(),
        events
    );

    // The reporter, with both, evaluates; typed in lower case without the dash it still reads.
    let typed = c.secret.to_lowercase().replace('-', "");
    let done = api(&typed, "basically_satisfied").send().await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(done.json()["status"], "evaluated");

    // Guessing secrets is held up like guessing codes, on the page and the API alike.
    t.app.limits = Arc::new(Limits {
        lookups_per_minute: 3,
        ..Limits::default()
    });
    let d = report(&t, (113.9171, 22.5168), "又一个井盖").await;
    close(&t, &d.id).await;
    let guess = |n: usize| {
        t.post(&format!("/api/v1/track/{}/evaluation", d.receipt))
            .json(&json!({"secret": format!("ABCDE-{n:05}"), "satisfaction": "unsatisfied"}))
            .client_addr("198.51.100.20")
    };
    for n in 0..3 {
        guess(n).send().await.problem(StatusCode::FORBIDDEN);
    }
    let held = guess(3).send().await;
    held.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(held.header("retry-after").is_some());
    // Held up even with the right secret: the limit is per address, before any check.
    let right = t
        .post(&format!("/api/v1/track/{}/evaluation", d.receipt))
        .json(&json!({"secret": d.secret, "satisfaction": "satisfied"}))
        .client_addr("198.51.100.20")
        .send()
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        t.app.get_case(&d.id).await.expect("case").state.status,
        Status::Closed
    );
}

#[tokio::test]
async fn the_receipt_page_shows_the_secret_once_after_the_report() {
    let t = TestApp::builder().demo(1).build().await;
    let token = csrf(&t).await;
    let boundary = "----receiptboundary";
    let mut body = String::new();
    for (name, value) in [
        ("csrf", token.as_str()),
        ("category", "01001"),
        ("attr_damage", "missing"),
        ("description", "安乐社区路口井盖丢失"),
        ("lon", "113.9171"),
        ("lat", "22.5168"),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let posted = t
        .post("/report")
        .cookie(&format!("cg_csrf={token}"))
        .bytes(
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
        .send()
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text());
    let to = posted.location().expect("to the receipt").to_owned();
    let carried = posted
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("cg_receipt_secret="))
        .expect("the secret travels to the receipt page");
    assert!(carried.contains("HttpOnly") && carried.contains(&format!("Path={to}")));
    let secret = carried
        .trim_start_matches("cg_receipt_secret=")
        .split(';')
        .next()
        .expect("value")
        .to_owned();
    let receipt = to.trim_start_matches("/receipt/");
    let case = t
        .app
        .repo
        .case_by_receipt(receipt)
        .await
        .expect("read")
        .expect("case");
    assert!(civicgrid::cases::seal::is_reporter(
        t.app.sealer.as_deref(),
        &case,
        &secret
    ));
    assert_ne!(
        case.reporter_key.as_deref(),
        Some(secret.as_str()),
        "a digest is kept"
    );

    let shown = t
        .get(&to)
        .cookie(&format!("cg_receipt_secret={secret}"))
        .send()
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text().contains(&secret) && shown.text().contains(receipt));
    assert_eq!(shown.header("cache-control"), Some("no-store"));
    assert!(
        shown
            .cookies()
            .iter()
            .any(|c| c.starts_with("cg_receipt_secret=;") && c.contains("Max-Age=0")),
        "the browser forgets it"
    );
    // Later, or on another device, the receipt page shows the code and says the secret is gone.
    let later = t.get(&to).send().await.text();
    assert!(later.contains(receipt) && !later.contains(&secret));
    // A forged cookie shows nothing.
    let forged = t
        .get(&to)
        .cookie("cg_receipt_secret=ABCDE-FGHJK")
        .send()
        .await
        .text();
    assert!(!forged.contains("ABCDE-FGHJK"));
}
