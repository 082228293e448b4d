//! The supervision channel end to end, on SQLite and on PostgreSQL: an anonymous report
//! answered with a 16-digit receipt and a passphrase; the reporter's follow-up, message and
//! scrubbed photo; nothing that identifies the reporter in the database, the log or
//! `/metrics` (a distinctive peer address, X-Forwarded-For, User-Agent and cookie are sent
//! and searched for, and so is the report's text in clear); only officers in scope read,
//! never the accused unit's staff or its chain of command; the identity revealed only after a
//! custodian's approval; the clocks warned about once; closed reports erased after the
//! retention time with an injected clock, and their events refused to anyone else.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use civicgrid::clock::ManualClock;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::support::{Backend, TestApp, every_row, raw_execute, staff};

const C1: &str = "440305001001";
const PEER: &str = "203.0.113.77";
const FORWARDED: &str = "198.51.100.231";
const AGENT: &str = "Mozilla/5.0 (Whistle-Test-Agent 4.2.7)";
const COOKIE: &str = "cg_lang=zh-CN; tracker=zzq-cookie-91";
const SECRET_TEXT: &str = "出纳王某虚报低保名单套取补助资金";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// One request through `router` as a browser behind a proxy would send it.
async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-forwarded-for", FORWARDED)
        .header(header::USER_AGENT, AGENT)
        .header(header::COOKIE, COOKIE);
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let mut req = req.body(body).expect("request");
    req.extensions_mut().insert(axum::extract::ConnectInfo(
        PEER.parse::<std::net::SocketAddr>()
            .unwrap_or_else(|_| format!("{PEER}:40123").parse().expect("addr")),
    ));
    let res = router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    assert!(
        res.headers().get(header::SET_COOKIE).is_none(),
        "{uri} sets no cookie"
    );
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn bearer(t: &TestApp, user: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    t.app
        .create_api_key(&format!("{user} s#{n}"), Some(user))
        .await
        .expect("key")
}

async fn staff_call(
    t: &TestApp,
    key: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut c = t.request(method, uri).bearer(key);
    if let Some(b) = body {
        c = c.json(&b);
    }
    let a = c.send().await;
    (
        a.status,
        serde_json::from_str(&a.text()).unwrap_or(Value::Null),
    )
}

/// A JPEG with an EXIF block naming a camera serial and a place.
fn photo_with_exif() -> Vec<u8> {
    let picture =
        image::RgbImage::from_fn(24, 12, |x, y| image::Rgb([x as u8 * 9, y as u8 * 20, 60]));
    let mut plain = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&picture)
        .expect("jpeg");
    let plain = plain.into_inner();
    let exif = b"Exif\0\0MM\0*\0\0\0\x08SerialNumber QX-CAM-5521 GPS 22.5431N";
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(exif.len() + 2).expect("len").to_be_bytes());
    out.extend_from_slice(exif);
    out.extend_from_slice(&plain[2..]);
    out
}

async fn run(backend: Backend) {
    let clock = Arc::new(ManualClock::new("2026-03-02T01:30:00Z".parse().expect("t")));
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
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let router = civicgrid::http::router(t.app.clone());

    // The contract: anonymous JSON, 201 with a receipt and a passphrase.
    let (status, receipt) = send(
        &router,
        "POST",
        "/api/v1/supervision/reports",
        Some(json!({"subject": "低保问题", "content": SECRET_TEXT, "accused_unit": "ST001", "region": C1, "concern": "benefit_funds", "identity": "居民张某 13912345678"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let code = receipt["receipt"].as_str().expect("receipt").to_owned();
    let pass = receipt["passphrase"]
        .as_str()
        .expect("passphrase")
        .to_owned();
    assert!(code.len() >= 16 && code.bytes().all(|b| b.is_ascii_digit()));
    assert!(pass.len() >= 20);
    assert_eq!(receipt["acknowledge_by"], "2026-03-09");
    assert_eq!(receipt["feedback_by"], "2026-06-02");
    // Bad input is refused and changes nothing; a weak chosen passphrase too.
    for bad in [
        json!({"subject": "", "content": "x"}),
        json!({"subject": "x", "content": "y", "accused_unit": "NOPE"}),
        json!({"subject": "x", "content": "y", "passphrase": "password1"}),
    ] {
        let (s, p) = send(&router, "POST", "/api/v1/supervision/reports", Some(bad)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    }
    let (s, _) = send(
        &router,
        "POST",
        "/api/v1/supervision/reports",
        Some(json!({"subject": "x", "content": "y", "passphrase": "Correct-Horse-7-Staple"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    // The reporter follows up, writes and adds a photo that loses its EXIF.
    let creds = json!({"receipt": code, "passphrase": pass});
    let (s, view) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up",
        Some(creds.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "received");
    let (s, _) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up",
        Some(json!({"receipt": code, "passphrase": "wrong-passphrase-xx"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up",
        Some(json!({"receipt": "0000000000000000", "passphrase": pass})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    use base64::Engine;
    let photo = base64::engine::general_purpose::STANDARD.encode(photo_with_exif());
    let (s, view) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up/files",
        Some(json!({"receipt": code, "passphrase": pass, "content_base64": photo})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{view}");
    assert_eq!(view["files"][0]["media_type"], "image/jpeg");
    let pdf = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 /Author (Zhang)");
    let (s, p) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up/files",
        Some(json!({"receipt": code, "passphrase": pass, "content_base64": pdf})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");

    // Officers: the district's supervisor reads; the accused unit's chain of command does not,
    // even holding the role.
    let supervisor = bearer(&t, "supervisor").await;
    let (s, list) = staff_call(&t, &supervisor, "GET", "/api/v1/supervision/reports", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let line = list
        .as_array()
        .expect("list")
        .iter()
        .find(|l| l["subject"] == "低保问题")
        .expect("the report")
        .clone();
    let id = line["id"].as_str().expect("id").to_owned();
    t.app
        .add_user(civicgrid::accounts::UserSpec {
            username: "implicated".into(),
            display_name: "兼任纪检的街道领导".into(),
            password: "a-long-password-1".into(),
            unit: None,
            grants: vec![
                civicgrid_domain::access::Grant {
                    role: "supervisor".into(),
                    scope: civicgrid_domain::access::Scope::Region("440305".parse().expect("r")),
                },
                civicgrid_domain::access::Grant {
                    role: "street_leader".into(),
                    scope: civicgrid_domain::access::Scope::Region("440305001".parse().expect("r")),
                },
            ],
        })
        .await
        .expect("user");
    let implicated = bearer(&t, "implicated").await;
    let handler = bearer(&t, "handler.st001").await;
    for key in [&implicated, &handler] {
        let (s, l) = staff_call(&t, key, "GET", "/api/v1/supervision/reports", None).await;
        assert!(
            s == StatusCode::FORBIDDEN || !l.to_string().contains(&id),
            "the list keeps it from the implicated: {l}"
        );
        for uri in [
            format!("/api/v1/supervision/reports/{id}"),
            format!("/api/v1/supervision/reports/{id}/identity"),
            format!("/api/v1/supervision/reports/{id}/files/2"),
        ] {
            assert_eq!(
                staff_call(&t, key, "GET", &uri, None).await.0,
                StatusCode::FORBIDDEN,
                "{uri}"
            );
        }
        let (s, _) = staff_call(
            &t,
            key,
            "POST",
            &format!("/api/v1/supervision/reports/{id}/steps"),
            Some(json!({"action": "acknowledge", "version": 1})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }

    // The officer asks a question; the reporter answers it.
    let (s, r) = staff_call(
        &t,
        &supervisor,
        "GET",
        &format!("/api/v1/supervision/reports/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["content"], SECRET_TEXT);
    let (s, r) = staff_call(
        &t,
        &supervisor,
        "POST",
        &format!("/api/v1/supervision/reports/{id}/steps"),
        Some(json!({"action": "message", "version": r["version"], "text": "请问大概是哪个月？"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "acknowledged");
    let (s, view) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up/messages",
        Some(json!({"receipt": code, "passphrase": pass, "text": "去年十二月"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(view["messages"][0]["text"], "请问大概是哪个月？");
    assert_eq!(
        view["messages"][0]["officer"],
        Value::Null,
        "the reporter never sees officers' names"
    );
    assert_eq!(view["messages"][1]["from"], "reporter");
    // A stale version changes nothing.
    let (s, _) = staff_call(
        &t,
        &supervisor,
        "POST",
        &format!("/api/v1/supervision/reports/{id}/steps"),
        Some(json!({"action": "investigate", "version": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);

    // The identity: asked with a reason, refused to the asker before approval, approved by a
    // custodian (not by the asker), then shown and recorded.
    let (_, r) = staff_call(
        &t,
        &supervisor,
        "GET",
        &format!("/api/v1/supervision/reports/{id}"),
        None,
    )
    .await;
    let (s, r) = staff_call(
        &t,
        &supervisor,
        "POST",
        &format!("/api/v1/supervision/reports/{id}/steps"),
        Some(
            json!({"action": "request_identity", "version": r["version"], "text": "需要当面核实"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        staff_call(
            &t,
            &supervisor,
            "GET",
            &format!("/api/v1/supervision/reports/{id}/identity"),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = staff_call(
        &t,
        &supervisor,
        "POST",
        &format!("/api/v1/supervision/reports/{id}/steps"),
        Some(json!({"action": "approve_identity", "version": r["version"]})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the asker does not approve");
    let custodian = bearer(&t, "custodian").await;
    let (s, r) = staff_call(
        &t,
        &custodian,
        "POST",
        &format!("/api/v1/supervision/reports/{id}/steps"),
        Some(json!({"action": "approve_identity", "version": r["version"]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["content"], "", "a custodian does not read the report");
    let (s, who) = staff_call(
        &t,
        &supervisor,
        "GET",
        &format!("/api/v1/supervision/reports/{id}/identity"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(who["identity"], "居民张某 13912345678");
    let report_id: uuid::Uuid = id.parse().expect("uuid");
    let reads = t.app.repo.contact_reads(&report_id).await.expect("reads");
    assert!(
        reads
            .iter()
            .any(|(_, who, what)| who == "supervisor" && what == "supervision reporter identity")
    );
    assert!(
        reads
            .iter()
            .all(|(_, who, _)| who != "implicated" && who != "handler.st001")
    );

    // Nothing identifying anywhere: the database, the log, the metrics.
    let rows = every_row(&t).await;
    let metrics = {
        let (s, _) = send(&router, "GET", "/metrics", None).await;
        let _ = s;
        let res = router
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/metrics")
                    .body(Body::empty())
                    .expect("req"),
            )
            .await
            .expect("metrics");
        String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes())
            .into_owned()
    };
    drop(guard);
    let logged = String::from_utf8_lossy(&log.0.lock().expect("log")).into_owned();
    assert!(
        logged.contains("request"),
        "the log captured the other requests"
    );
    for needle in [
        PEER,
        FORWARDED,
        "Whistle-Test-Agent",
        "zzq-cookie-91",
        SECRET_TEXT,
        "去年十二月",
        "13912345678",
        "QX-CAM-5521",
        &code,
        &pass,
    ] {
        assert!(
            !rows.iter().any(|(_, r)| r.contains(needle)),
            "{needle} is in the database"
        );
        assert!(!logged.contains(needle), "{needle} is in the log");
        assert!(!metrics.contains(needle), "{needle} is in the metrics");
    }
    assert!(
        !metrics.contains("/supervision/follow-up")
            && !metrics.contains("route=\"/api/v1/supervision/reports\",method=\"POST\""),
        "{metrics}"
    );
    assert!(
        !logged.contains("/api/v1/supervision/follow-up"),
        "reporters' requests are not logged"
    );
    // No time finer than the day in the channel's tables.
    for (table, row) in rows.iter().filter(|(t, _)| t.starts_with("supervision_")) {
        assert!(
            !row.contains("T01:30") && !row.contains("1772415000"),
            "{table}: {row}"
        );
    }

    // Clocks: the second report is never acknowledged → one warning after 7 days, one more
    // after 3 months, each once.
    clock.set("2026-03-10T02:00:00Z".parse().expect("t"));
    let (warned, _) = t.app.sweep_supervision().await.expect("sweep");
    assert_eq!(warned, 1);
    assert_eq!(t.app.sweep_supervision().await.expect("sweep").0, 0);
    clock.set("2026-06-03T02:00:00Z".parse().expect("t"));
    assert_eq!(t.app.sweep_supervision().await.expect("sweep").0, 2);

    // Closed, then erased after 24 months with its events and files; events are refused to
    // anyone else.
    let (_, r) = staff_call(
        &t,
        &supervisor,
        "GET",
        &format!("/api/v1/supervision/reports/{id}"),
        None,
    )
    .await;
    let (s, r) = staff_call(&t, &supervisor, "POST", &format!("/api/v1/supervision/reports/{id}/steps"), Some(json!({"action": "close", "version": r["version"], "outcome": "substantiated", "text": "已查实，移交处理"}))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, view) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up",
        Some(creds.clone()),
    )
    .await;
    assert_eq!(view["outcome"], "substantiated");
    assert!(
        raw_execute(
            &t,
            &format!("DELETE FROM supervision_events WHERE report_id = '{id}'")
        )
        .await
        .is_err()
    );
    assert!(
        raw_execute(
            &t,
            &format!("UPDATE supervision_events SET action = 'x' WHERE report_id = '{id}'")
        )
        .await
        .is_err()
    );
    clock.set("2028-06-03T02:00:00Z".parse().expect("t"));
    assert_eq!(
        t.app.sweep_supervision().await.expect("sweep").1,
        0,
        "kept 24 months"
    );
    clock.set("2028-06-04T02:00:00Z".parse().expect("t"));
    assert_eq!(t.app.sweep_supervision().await.expect("sweep").1, 1);
    assert!(t.app.repo.report(&report_id).await.expect("read").is_none());
    assert!(
        t.app
            .repo
            .report_events(&report_id)
            .await
            .expect("events")
            .is_empty()
    );
    assert!(
        t.app
            .repo
            .report_files(&report_id)
            .await
            .expect("files")
            .is_empty()
    );
    let (s, _) = send(
        &router,
        "POST",
        "/api/v1/supervision/follow-up",
        Some(creds),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let _ = staff(&t.app, "supervisor").await;
    t.finish().await;
}

#[tokio::test]
async fn the_supervision_channel_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_supervision_channel_on_postgresql() {
    run(Backend::Postgres).await;
}
