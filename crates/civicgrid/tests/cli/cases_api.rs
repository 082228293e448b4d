//! The REST API against the real router, in process.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use civicgrid::App;

use super::support::TestApp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    t: TestApp,
    app: App,
    dispatcher_key: String,
    calltaker_key: String,
    handler_key: String,
}

impl Api {
    async fn new() -> Api {
        let t = TestApp::builder().demo(1).sealed().build().await;
        let app = t.app.clone();
        let dispatcher_key = app
            .create_api_key("d", Some("dispatcher.st1"))
            .await
            .expect("key");
        let calltaker_key = app
            .create_api_key("c", Some("calltaker1"))
            .await
            .expect("key");
        let handler_key = app
            .create_api_key("h", Some("handler.swjt"))
            .await
            .expect("key");
        Api {
            t,
            app,
            dispatcher_key,
            calltaker_key,
            handler_key,
        }
    }

    /// One request through the shared helper: status, body as JSON (or as a JSON string when
    /// it is not JSON) and ETag. Every error must be a problem document.
    async fn call(
        &self,
        method: &str,
        uri: &str,
        key: Option<&str>,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut call = self.t.request(method, uri);
        if let Some(k) = key {
            call = call.bearer(k);
        }
        if let Some(m) = if_match {
            call = call.header("if-match", m);
        }
        if let Some(b) = &body {
            call = call.json(b);
        }
        let a = call.send().await;
        let value = serde_json::from_slice(&a.body).unwrap_or_else(|_| Value::String(a.text()));
        if a.status.is_client_error() || a.status.is_server_error() {
            a.problem(a.status);
        }
        (a.status, value, a.header("etag").map(str::to_owned))
    }
}

/// An API key's actor is kept for a few seconds (another instance's revocation is seen
/// within `KEY_TTL`); a change made through this process drops it at once.
#[tokio::test]
async fn an_api_key_is_read_again_after_a_local_change() {
    let api = Api::new().await;
    let key = api.calltaker_key.clone();
    assert!(
        api.app
            .authenticate_api_key(&key)
            .await
            .expect("auth")
            .is_some()
    );
    let db = api.t.url.clone();
    let pool = sqlx::SqlitePool::connect(&db).await.expect("pool");
    sqlx::query("UPDATE api_keys SET revoked_at = 1")
        .execute(&pool)
        .await
        .expect("revoke");
    // As if another instance revoked it: this one still knows the key, for KEY_TTL.
    assert!(
        api.app
            .authenticate_api_key(&key)
            .await
            .expect("auth")
            .is_some()
    );
    api.app.invalidate_reference();
    assert!(
        api.app
            .authenticate_api_key(&key)
            .await
            .expect("auth")
            .is_none()
    );
    assert!(
        api.app
            .authenticate_api_key("cg_not_a_key")
            .await
            .expect("auth")
            .is_none()
    );
}

/// `/metrics` counts what one router answered, per route pattern, and reads the store's
/// gauges at the scrape.
#[tokio::test]
async fn metrics_in_the_prometheus_text_format() {
    let api = Api::new().await;
    // One router for the whole test: its metrics count the requests that went through it.
    let router = civicgrid::http::router(api.app.clone());
    let get = |uri: &str| {
        let router = router.clone();
        let req = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        async move {
            let res = router.oneshot(req).await.expect("response");
            let status = res.status();
            let ct = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = res.into_body().collect().await.expect("body").to_bytes();
            (status, ct, String::from_utf8_lossy(&body).into_owned())
        }
    };
    for _ in 0..3 {
        assert_eq!(get("/healthz").await.0, StatusCode::OK);
    }
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(
        get(&format!("/api/v1/track/{unknown}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get("/no/such/page").await.0, StatusCode::NOT_FOUND);
    let (s, case, _) = api
        .call("POST", "/api/v1/cases", None, Some(report()), None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let swept = api.app.sweep_deadlines(0.8).await.expect("sweep");
    let (status, ct, text) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let has = |line: &str| {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        )
    };
    has(r#"civicgrid_http_requests_total{method="GET",route="/healthz",status="200"} 3"#);
    has(
        r#"civicgrid_http_requests_total{method="GET",route="/api/v1/track/{receipt}",status="404"} 1"#,
    );
    has(r#"civicgrid_http_requests_total{method="GET",route="unmatched",status="404"} 1"#);
    has(r#"civicgrid_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#);
    has(
        r#"civicgrid_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} 3"#,
    );
    // The case went through another router: counted in the store's gauges, not here.
    assert!(!text.contains("route=\"/api/v1/cases\""), "{text}");
    has(r#"civicgrid_cases{state="reported"} 1"#);
    has("civicgrid_cases_overdue 0");
    has("civicgrid_deadline_sweeps_total 1");
    has(&format!(
        "civicgrid_deadline_regions_swept_total {}",
        swept.scopes
    ));
    assert!(swept.scopes > 0);
    has("civicgrid_deadline_breaches_total 0");
    has(r#"civicgrid_job_lag_seconds{job="deadlines"} 0"#);
    // Every sample line belongs to a declared family.
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for sample in text.lines().filter(|l| !l.starts_with('#')) {
        let name = sample.split(['{', ' ']).next().unwrap_or_default();
        assert!(
            families.iter().any(|f| name == *f
                || name
                    .strip_prefix(f)
                    .is_some_and(|rest| { ["_bucket", "_sum", "_count"].contains(&rest) })),
            "{sample}"
        );
    }
}

fn report() -> Value {
    json!({"description": "井盖丢失", "lon": 113.9171, "lat": 22.5168, "category": "01001", "attributes": {"damage": "missing"}})
}

#[tokio::test]
async fn anonymous_intake_staff_actions_tracking_and_problems() {
    let api = Api::new().await;
    let (s, _, _) = api.call("GET", "/healthz", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = api.call("GET", "/readyz", None, None, None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, case, etag) = api
        .call("POST", "/api/v1/cases", None, Some(report()), None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    for field in [
        "id",
        "receipt_code",
        "status",
        "grid",
        "category",
        "assigned_units",
        "deadlines",
    ] {
        assert!(case.get(field).is_some(), "missing {field}: {case}");
    }
    assert_eq!(case["grid"], "440305001001001");
    assert_eq!(
        case["assigned_units"],
        json!(["SWJT"]),
        "routed at intake: {case}"
    );
    let id = case["id"].as_str().expect("id").to_owned();
    let receipt = case["receipt_code"].as_str().expect("code").to_owned();

    // Reading needs a staff key; anonymous callers use the receipt code.
    let (s, _, _) = api
        .call("GET", &format!("/api/v1/cases/{id}"), None, None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}"),
            Some("cg_wrong"),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, got, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}"),
            Some(&api.calltaker_key),
            None,
            None,
        )
        .await;
    assert_eq!(
        (s, got["status"].as_str()),
        (StatusCode::OK, Some("reported"))
    );

    // Actions need the version: missing → 428, stale → 412, illegal → 409, wrong role → 403.
    let accept = format!("/api/v1/cases/{id}/actions/accept");
    let (s, _, _) = api
        .call(
            "POST",
            &accept,
            Some(&api.calltaker_key),
            Some(json!({})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_REQUIRED);
    let (s, p, _) = api
        .call(
            "POST",
            &accept,
            Some(&api.calltaker_key),
            Some(json!({"version": 7})),
            None,
        )
        .await;
    assert_eq!(
        (s, p["current_version"].as_u64()),
        (StatusCode::PRECONDITION_FAILED, Some(1))
    );
    let (s, p, _) = api
        .call(
            "POST",
            &format!("/api/v1/cases/{id}/actions/register"),
            Some(&api.calltaker_key),
            Some(json!({"version": 1})),
            None,
        )
        .await;
    assert_eq!(
        (s, p["current_status"].as_str()),
        (StatusCode::CONFLICT, Some("reported"))
    );
    let (s, _, _) = api
        .call(
            "POST",
            &accept,
            Some(&api.handler_key),
            Some(json!({"version": 1})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, p, _) = api
        .call(
            "POST",
            &format!("/api/v1/cases/{id}/actions/fly"),
            Some(&api.calltaker_key),
            Some(json!({"version": 1})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let alarm = json!({"version": 1, "stage": "accept", "level": "red"});
    let raise = format!("/api/v1/cases/{id}/actions/raise_alarm");
    let (s, _, _) = api
        .call("POST", &raise, Some(&api.dispatcher_key), Some(alarm), None)
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "alarms are the deadline job's to raise"
    );
    let (s, c, etag) = api
        .call(
            "POST",
            &accept,
            Some(&api.calltaker_key),
            None,
            Some("\"1\""),
        )
        .await;
    assert_eq!(
        (s, c["status"].as_str(), etag.as_deref()),
        (StatusCode::OK, Some("accepted"), Some("\"2\""))
    );
    let (s, _, _) = api
        .call(
            "POST",
            &format!("/api/v1/cases/{id}/actions/register"),
            Some(&api.calltaker_key),
            Some(json!({"version": 2})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, c, _) = api
        .call(
            "POST",
            &format!("/api/v1/cases/{id}/actions/dispatch"),
            Some(&api.dispatcher_key),
            Some(json!({"version": 3})),
            None,
        )
        .await;
    assert_eq!(
        (s, c["lead_unit"].as_str()),
        (StatusCode::OK, Some("SWJT")),
        "{c}"
    );
    // The handler's unit now has the case.
    let (s, _, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}"),
            Some(&api.handler_key),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, events, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}/events"),
            Some(&api.dispatcher_key),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("a"))
        .collect();
    assert_eq!(actions, ["report", "accept", "register", "dispatch"]);

    // The public view: the timeline, without actors or free text.
    let (s, t, _) = api
        .call(
            "GET",
            &format!("/api/v1/track/{}", receipt.to_lowercase().replace('-', "")),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(
        (s, t["status"].as_str()),
        (StatusCode::OK, Some("dispatched"))
    );
    let text = t.to_string();
    assert!(
        !text.contains("calltaker1") && !text.contains("井盖丢失"),
        "{text}"
    );
    let (s, _, _) = api
        .call("GET", "/api/v1/track/0000-0000", None, None, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Bad intake: field errors in one 422; malformed JSON 400.
    let (s, p, _) = api
        .call(
            "POST",
            "/api/v1/cases",
            None,
            Some(json!({"description": "", "lon": 500, "lat": 22.5, "category": "1"})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["errors"].as_array().expect("errors").len() >= 2, "{p}");
    let (s, _, _) = api
        .call("POST", "/api/v1/cases", None, Some(json!({"lon": 1})), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Listing with filters and a cursor.
    for _ in 0..3 {
        api.call("POST", "/api/v1/cases", None, Some(report()), None)
            .await;
    }
    let (s, page, _) = api
        .call(
            "GET",
            "/api/v1/cases?limit=2",
            Some(&api.dispatcher_key),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["cases"].as_array().expect("cases").len(), 2);
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, page2, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases?limit=2&cursor={cursor}"),
            Some(&api.dispatcher_key),
            None,
            None,
        )
        .await;
    assert_eq!(page2["cases"].as_array().expect("cases").len(), 2);
    let (_, dispatched, _) = api
        .call(
            "GET",
            "/api/v1/cases?status=dispatched&unit=SWJT",
            Some(&api.dispatcher_key),
            None,
            None,
        )
        .await;
    assert_eq!(dispatched["cases"].as_array().expect("cases").len(), 1);
    let (s, _, _) = api
        .call(
            "GET",
            "/api/v1/cases?status=flying",
            Some(&api.dispatcher_key),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = api
        .call("GET", "/api/v1/nothing-here", None, None, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn photos_are_attached_with_their_checksum_and_stage() {
    let api = Api::new().await;
    let (_, case, _) = api
        .call("POST", "/api/v1/cases", None, Some(report()), None)
        .await;
    let id = case["id"].as_str().expect("id");
    let png: Vec<u8> = [
        &[0x89u8, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[7u8; 64][..],
    ]
    .concat();
    let send = |bytes: Vec<u8>,
                content_type: &'static str,
                stage: &'static str,
                if_match: &'static str| {
        let call = api
            .t
            .post(&format!("/api/v1/cases/{id}/photos?stage={stage}"))
            .bearer(&api.calltaker_key)
            .header("if-match", if_match)
            .bytes(content_type, bytes);
        async move {
            let a = call.send().await;
            (
                a.status,
                serde_json::from_slice::<Value>(&a.body).unwrap_or(Value::Null),
            )
        }
    };
    let (s, c) = send(png.clone(), "image/png", "report", "\"1\"").await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["version"], 2);
    // Not an image, a wrong kind, a bad stage, the same photo again: refused, nothing changes.
    let (s, _) = send(b"hello".to_vec(), "image/png", "before", "\"2\"").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = send(png.clone(), "application/pdf", "before", "\"2\"").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = send(png.clone(), "image/png", "sideways", "\"2\"").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = send(png.clone(), "image/png", "before", "\"2\"").await;
    assert_eq!(s, StatusCode::CONFLICT, "already attached");
    let (s, list, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}/photos"),
            Some(&api.calltaker_key),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let photos = list["photos"].as_array().expect("photos");
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0]["stage"], "report");
    let sha = photos[0]["sha256"].as_str().expect("sha");
    assert_eq!(sha, civicgrid::accounts::sha256_bytes_hex(&png));
    let res = api
        .t
        .get(&format!("/api/v1/cases/{id}/photos/{sha}"))
        .bearer(&api.calltaker_key)
        .send()
        .await;
    assert_eq!(res.header("content-type"), Some("image/png"));
    assert_eq!(res.body, png);
}

#[tokio::test]
async fn staff_sign_in_with_a_session_and_out_again() {
    let api = Api::new().await;
    let (s, _, _) = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "calltaker1", "password": "wrong password"})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "nobody", "password": "civicgrid-demo"})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, login, _) = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "calltaker1", "password": "civicgrid-demo"})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{login}");
    let token = login["token"].as_str().expect("token").to_owned();
    let (_, case, _) = api
        .call("POST", "/api/v1/cases", None, Some(report()), None)
        .await;
    let id = case["id"].as_str().expect("id");
    let (s, c, _) = api
        .call(
            "POST",
            &format!("/api/v1/cases/{id}/actions/accept"),
            Some(&token),
            Some(json!({"version": 1})),
            None,
        )
        .await;
    assert_eq!(
        (s, c["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
    let (s, _, _) = api
        .call("DELETE", "/api/v1/session", Some(&token), None, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}"),
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the session has ended");
    // Ending it again, or ending a made-up session, is a bad credential.
    for bad in [token.as_str(), "cs_made_up"] {
        let (s, _, _) = api
            .call("DELETE", "/api/v1/session", Some(bad), None, None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{bad}");
    }
}

#[tokio::test]
async fn reporter_contacts_are_sealed_shown_only_to_roles_that_need_them_and_reads_recorded() {
    let api = Api::new().await;
    let mut body = report();
    body["reporter"] = json!({"name": "王女士", "phone": "13800138000"});
    let (s, case, _) = api
        .call("POST", "/api/v1/cases", None, Some(body.clone()), None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    assert_eq!(case["has_reporter_contact"], true);
    assert!(
        !case.to_string().contains("13800138000"),
        "the case itself never shows the contact"
    );
    let id = case["id"].as_str().expect("id");
    let stored = api
        .app
        .get_case(&id.parse().expect("uuid"))
        .await
        .expect("case");
    assert!(
        !stored
            .reporter_sealed
            .as_deref()
            .unwrap_or("")
            .contains("13800138000"),
        "sealed at rest"
    );
    // A handler may not read it; the dispatcher (case.read_contact) may, and the read is recorded.
    let path = format!("/api/v1/cases/{id}/reporter");
    let (s, _, _) = api
        .call("GET", &path, Some(&api.handler_key), None, None)
        .await;
    assert!(s == StatusCode::FORBIDDEN, "{s}");
    let (s, r, _) = api
        .call("GET", &path, Some(&api.dispatcher_key), None, None)
        .await;
    assert_eq!(
        (s, r["reporter"]["phone"].as_str()),
        (StatusCode::OK, Some("13800138000"))
    );
    let reads = api
        .app
        .repo
        .personal_data_reads(&stored.id)
        .await
        .expect("reads");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].1, "dispatcher.st1");
    // Bad contact fields are refused with the rest.
    body["reporter"] = json!({"phone": "call me maybe"});
    let (s, p, _) = api
        .call("POST", "/api/v1/cases", None, Some(body), None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
}

#[tokio::test]
async fn duplicate_suggestions_are_nearby_open_cases_of_the_same_category() {
    let api = Api::new().await;
    let at = |lon: f64, lat: f64, category: &str| {
        let attributes = if category == "01001" {
            json!({"damage": "missing"})
        } else {
            json!({})
        };
        json!({"description": "x", "lon": lon, "lat": lat, "category": category, "attributes": attributes})
    };
    let (_, first, _) = api
        .call(
            "POST",
            "/api/v1/cases",
            None,
            Some(at(113.9171, 22.5168, "01001")),
            None,
        )
        .await;
    // 20 m east: a candidate. 200 m east: not. Same spot, other category: not.
    let (_, near, _) = api
        .call(
            "POST",
            "/api/v1/cases",
            None,
            Some(at(113.91729, 22.5168, "01001")),
            None,
        )
        .await;
    api.call(
        "POST",
        "/api/v1/cases",
        None,
        Some(at(113.9191, 22.5168, "01001")),
        None,
    )
    .await;
    api.call(
        "POST",
        "/api/v1/cases",
        None,
        Some(at(113.9171, 22.5168, "05001")),
        None,
    )
    .await;
    let id = first["id"].as_str().expect("id");
    let key = Some(api.calltaker_key.as_str());
    // A call-taker entering a report at the same spot is offered the open cases at intake;
    // an anonymous reporter is not shown other people's cases.
    let (_, staff_intake, _) = api
        .call(
            "POST",
            "/api/v1/cases",
            key,
            Some(at(113.9171, 22.5168, "01001")),
            None,
        )
        .await;
    assert_eq!(
        staff_intake["possible_duplicates"]
            .as_array()
            .expect("offered")
            .len(),
        2,
        "{staff_intake}"
    );
    let (_, anonymous, _) = api
        .call(
            "POST",
            "/api/v1/cases",
            None,
            Some(at(113.9171, 22.5168, "01001")),
            None,
        )
        .await;
    assert!(anonymous.get("possible_duplicates").is_none());
    for extra in [&staff_intake, &anonymous] {
        let extra_id = extra["id"].as_str().expect("id");
        let v = json!({"version": 1, "master": id});
        let merge = format!("/api/v1/cases/{extra_id}/actions/merge");
        let (s, _, _) = api.call("POST", &merge, key, Some(v), None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, d, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}/duplicates"),
            key,
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = d["candidates"]
        .as_array()
        .expect("c")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [near["id"].as_str().expect("id")]);
    let dist = d["candidates"][0]["distance_m"].as_f64().expect("distance");
    assert!((15.0..25.0).contains(&dist), "{dist}");
    let (_, wide, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}/duplicates?radius=500"),
            key,
            None,
            None,
        )
        .await;
    assert_eq!(wide["candidates"].as_array().expect("c").len(), 2);
    let (s, _, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}/duplicates?radius=-1"),
            key,
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Merging is an explicit action, after which the duplicate is no longer offered.
    let near_id = near["id"].as_str().expect("id");
    let merge = format!("/api/v1/cases/{near_id}/actions/merge");
    let (s, m, _) = api
        .call(
            "POST",
            &merge,
            key,
            Some(json!({"version": 1, "master": id})),
            None,
        )
        .await;
    assert_eq!(
        (s, m["status"].as_str()),
        (StatusCode::OK, Some("merged")),
        "{m}"
    );
    // The duplicate's reporter now follows the master case.
    let near_receipt = near["receipt_code"].as_str().expect("receipt");
    let (_, tracked, _) = api
        .call(
            "GET",
            &format!("/api/v1/track/{near_receipt}"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(tracked["merged_into"], first["public_id"], "{tracked}");
    assert!(
        !tracked
            .to_string()
            .contains(first["receipt_code"].as_str().expect("code")),
        "one reporter never learns the other's receipt code"
    );
    assert_eq!(tracked["receipt_code"], near["receipt_code"]);
    assert_eq!(tracked["status"], "reported", "the master's status");
    let (_, after, _) = api
        .call(
            "GET",
            &format!("/api/v1/cases/{id}/duplicates"),
            key,
            None,
            None,
        )
        .await;
    assert_eq!(after["candidates"].as_array().expect("c").len(), 0);
}
