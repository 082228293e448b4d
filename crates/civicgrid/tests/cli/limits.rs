//! Abuse limits: wrong passwords counted per account and per client address on both sign-in
//! paths and across instances; public lookups per address on REST and page alike; Open311
//! posts per API key. A refusal is 429 with Retry-After, as a problem (Open311: its own
//! error body), and changes nothing.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::accounts::limits::Limits;
use serde_json::json;

use super::support::{Call, TestApp};

fn session(username: &str, password: &str) -> serde_json::Value {
    json!({"username": username, "password": password})
}

/// The page's CSRF cookie and token for a first visit through `app`.
async fn csrf(app: &civicgrid::App) -> String {
    Call::new(app.clone(), "GET", "/login")
        .send()
        .await
        .cookies()
        .iter()
        .find_map(|c| c.strip_prefix("cg_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_owned()
}

async fn page_sign_in(
    app: &civicgrid::App,
    username: &str,
    password: &str,
) -> super::support::Answer {
    let token = csrf(app).await;
    Call::new(app.clone(), "POST", "/login")
        .cookie(&format!("cg_csrf={token}"))
        .form(&format!(
            "csrf={token}&username={username}&password={password}"
        ))
        .send()
        .await
}

fn retry_after(a: &super::support::Answer) -> u64 {
    a.header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After on {}: {:?}", a.status, a.headers))
}

#[tokio::test]
async fn wrong_passwords_count_on_both_sign_in_paths_and_on_every_instance() {
    let t = TestApp::builder().demo(1).build().await;
    let second = t.another_instance().await;
    for _ in 0..3 {
        t.post("/api/v1/session")
            .json(&session("dispatcher.st1", "guess"))
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED);
    }
    // The other two failures on the page of another instance sharing the database.
    for _ in 0..2 {
        let a = page_sign_in(&second, "Dispatcher.ST1", "guess").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    }
    // Five failures: even the right password now waits, on either path and instance.
    let refused = t
        .post("/api/v1/session")
        .json(&session("dispatcher.st1", "civicgrid-demo"))
        .send()
        .await;
    let problem = refused.problem(StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    assert!((1..=900).contains(&wait), "{wait}");
    assert_eq!(problem["retry_after"], wait);
    assert_eq!(problem["type"], "urn:civicgrid:problem:too-many-requests");
    let page = page_sign_in(&t.app, "dispatcher.st1", "civicgrid-demo").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&page) >= 1);
    assert!(page.text().contains("分钟后再试"), "{}", page.text());
    assert!(
        page.cookies().iter().all(|c| !c.starts_with("cg_session=")),
        "no session while refused"
    );
    // Another account is not held up by this one's failures.
    let ok = t
        .post("/api/v1/session")
        .json(&session("calltaker1", "civicgrid-demo"))
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    t.finish().await;
}

#[tokio::test]
async fn an_address_that_guesses_many_accounts_is_held_up_and_others_are_not() {
    let t = TestApp::builder().demo(1).build().await;
    let per_address = Limits::default().sign_in_failures_per_address;
    for n in 0..per_address {
        let a = t
            .post("/api/v1/session")
            .client_addr("203.0.113.9")
            .json(&session(&format!("nobody{n}"), "guess"))
            .send()
            .await;
        a.problem(StatusCode::UNAUTHORIZED);
    }
    let refused = t
        .post("/api/v1/session")
        .client_addr("203.0.113.9")
        .json(&session("calltaker1", "civicgrid-demo"))
        .send()
        .await;
    refused.problem(StatusCode::TOO_MANY_REQUESTS);
    // The same account from another address: in.
    let ok = t
        .post("/api/v1/session")
        .client_addr("198.51.100.7")
        .json(&session("calltaker1", "civicgrid-demo"))
        .send()
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    // A right password clears the account's own count: four more failures do not lock it.
    for _ in 0..4 {
        t.post("/api/v1/session")
            .client_addr("198.51.100.7")
            .json(&session("calltaker1", "guess"))
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED);
    }
    let again = t
        .post("/api/v1/session")
        .client_addr("198.51.100.7")
        .json(&session("calltaker1", "civicgrid-demo"))
        .send()
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    t.finish().await;
}

#[tokio::test]
async fn public_lookups_count_per_address_on_the_api_and_the_page_alike() {
    let mut t = TestApp::builder().demo(1).build().await;
    t.app.limits = Arc::new(Limits {
        lookups_per_minute: 5,
        ..Limits::default()
    });
    let created = t
        .post("/api/v1/cases")
        .json(&json!({"description": "井盖丢失", "lon": 113.9171, "lat": 22.5168, "category": "01001", "attributes": {"damage": "missing"}}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let receipt = created.json()["receipt_code"]
        .as_str()
        .expect("receipt")
        .to_owned();
    for _ in 0..3 {
        let a = t
            .get(&format!("/api/v1/track/{receipt}"))
            .client_addr("203.0.113.9")
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    }
    // A code that does not exist counts too: that is what guessing looks like.
    t.get("/api/v1/track/ZZZZ-ZZZZ")
        .client_addr("203.0.113.9")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    let page = t
        .get(&format!("/track/{receipt}"))
        .client_addr("203.0.113.9")
        .send()
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let over = t
        .get(&format!("/api/v1/track/{receipt}"))
        .client_addr("203.0.113.9")
        .send()
        .await;
    over.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&over)));
    let page = t
        .get(&format!("/track/{receipt}"))
        .client_addr("203.0.113.9")
        .send()
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&page) >= 1);
    // Someone else is not held up.
    let other = t
        .get(&format!("/api/v1/track/{receipt}"))
        .client_addr("198.51.100.7")
        .send()
        .await;
    assert_eq!(other.status, StatusCode::OK);
    t.finish().await;
}

#[tokio::test]
async fn open311_posts_count_per_key_and_answer_429_in_open311s_format() {
    let mut t = TestApp::builder().demo(1).build().await;
    t.app.limits = Arc::new(Limits {
        open311_posts_per_minute: 2,
        ..Limits::default()
    });
    let key = t.app.create_api_key("app", None).await.expect("key");
    let other = t.app.create_api_key("other app", None).await.expect("key");
    let form = |k: &str| {
        format!(
            "api_key={k}&service_code=01001&lat=22.5168&long=113.9171&description=%E4%BA%95%E7%9B%96%E4%B8%A2%E5%A4%B1&attribute%5Bdamage%5D=missing"
        )
    };
    let cases = |app: &civicgrid::App| {
        let app = app.clone();
        async move {
            app.list_cases(&civicgrid_store::CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("cases")
            .len()
        }
    };
    for _ in 0..2 {
        let a = t
            .post("/open311/v2/requests.json")
            .form(&form(&key))
            .send()
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    }
    let before = cases(&t.app).await;
    let xml = t
        .post("/open311/v2/requests.xml")
        .form(&form(&key))
        .send()
        .await;
    assert_eq!(xml.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&xml) >= 1);
    let body = xml.text();
    assert!(
        body.contains("<errors>") && body.contains("<code>429</code>"),
        "{body}"
    );
    let json = t
        .post("/open311/v2/requests.json")
        .form(&form(&key))
        .send()
        .await;
    assert_eq!(json.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json.json()[0]["code"], 429, "{}", json.text());
    assert_eq!(cases(&t.app).await, before, "a refused post stores nothing");
    let a = t
        .post("/open311/v2/requests.json")
        .form(&form(&other))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "another key is not held up");
    t.finish().await;
}
