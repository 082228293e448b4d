//! The Open311 link to a county system, against a second `civicgrid serve` acting as the
//! county: a real server speaking GeoReport v2 over HTTP. Accepted cases of a routed category
//! are forwarded with the county's API key and its request id is recorded; the county being
//! down holds the case (retried after 5 minutes, then every 30) until it is back; a request
//! the county refuses is left failed with its error and can be sent again; the county's
//! status comes back as events of the case.

use std::process::Stdio;
use std::sync::Arc;

use civicgrid::clock::{Clock, ManualClock};
use civicgrid::error::AppError;
use civicgrid_domain::case::{Action, Channel};
use jiff::SignedDuration;
use tokio::io::AsyncBufReadExt;

use crate::support::{Backend, TestApp, run_cli, staff};

/// The county: `civicgrid serve` on its own database, on `port` (0: any).
async fn county(url: &str, port: u16) -> (tokio::process::Child, u16) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_civicgrid"))
        .args([
            "--database",
            url,
            "serve",
            "--no-jobs",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("CIVICGRID_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("county server");
    let mut line = String::new();
    tokio::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .await
        .expect("serving line");
    let port = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split([' ', '\n']).next())
        .and_then(|addr| addr.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the county said {line:?}"));
    (child, port)
}

async fn accepted(
    t: &TestApp,
    category: &str,
    attributes: &[(&str, &str)],
    text: &str,
) -> uuid::Uuid {
    let intake = civicgrid::cases::Intake {
        description: text.to_owned(),
        location: Some((113.9171, 22.5168)),
        grid: None,
        address: Some("南山大道1号".into()),
        category: Some(category.parse().expect("category")),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        priority: None,
        channel: Channel::Web,
        reporter: None,
        media_url: None,
    };
    let case = t
        .app
        .report_case(intake, &civicgrid_domain::policy::Actor::Resident)
        .await
        .expect("reported");
    t.app
        .act_on_case(
            &case.id,
            case.state.version,
            Action::Accept,
            &staff(&t.app, "calltaker1").await,
        )
        .await
        .expect("accepted");
    case.id
}

async fn actions(t: &TestApp, case: &uuid::Uuid) -> Vec<(String, serde_json::Value)> {
    t.app
        .case_timeline(case)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| (e.action, e.payload))
        .collect()
}

async fn link_to_the_county(backend: Backend) {
    // The county's clock is the real one: so is ours, moved on by hand for the retries.
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
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
    let county_db = TestApp::builder().demo(1).build().await;
    let key = county_db
        .app
        .create_api_key("南山街道平台", Some("calltaker1"))
        .await
        .expect("county key");
    let (mut server, port) = county(&county_db.url, 0).await;
    let base = format!("http://127.0.0.1:{port}/open311/v2");

    // Systems and routes are checked by field.
    match t.app.add_upstream_system("", "ftp://x", "", None).await {
        Err(AppError::Unprocessable(p)) => {
            let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(fields, ["name", "url", "api_key"]);
        }
        other => panic!("refused expected: {other:?}"),
    }
    t.app
        .add_upstream_system("county", &base, &key, None)
        .await
        .expect("system");
    match t
        .app
        .add_upstream_route("city", "99999", "000000", None)
        .await
    {
        Err(AppError::Unprocessable(p)) => {
            let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(fields, ["system", "category", "region"]);
        }
        other => panic!("refused expected: {other:?}"),
    }
    t.app
        .add_upstream_route("county", "01001", "440305", None)
        .await
        .expect("route");
    let rows = crate::support::every_row(&t).await;
    assert!(
        !rows.iter().any(|(_, r)| r.contains(&key)),
        "the county's key is kept sealed"
    );

    // Accepted: forwarded, the county's request id recorded, its status pulled back.
    let first = accepted(
        &t,
        "01001",
        &[("damage", "missing")],
        "井盖丢失，需区里协调更换",
    )
    .await;
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!(
        (r.events, r.linked, r.sent, r.updates),
        (1, 1, 1, 1),
        "{r:?}"
    );
    let links = t
        .app
        .upstream_links(&civicgrid_domain::policy::Actor::System, "sent")
        .await
        .expect("links");
    assert_eq!(links.len(), 1);
    let request_id = links[0].request_id.clone().expect("request id");
    let at_county = county_db
        .app
        .public_case(&request_id)
        .await
        .expect("the county has it");
    assert_eq!(at_county.reported.description, "井盖丢失，需区里协调更换");
    assert_eq!(at_county.reported.channel, Channel::Open311);
    let events = actions(&t, &first).await;
    let forward = events
        .iter()
        .find(|(a, _)| a == "forward")
        .expect("a forward event");
    assert_eq!(forward.1["action"]["request_id"], request_id.as_str());
    let update = events
        .iter()
        .find(|(a, _)| a == "upstream_update")
        .expect("an upstream update");
    assert_eq!(update.1["action"]["status"], "open");

    // Another category is not the county's.
    accepted(&t, "01007", &[("fault", "dark")], "路灯不亮").await;
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!((r.events, r.linked), (1, 0), "{r:?}");

    // The county is down: the case waits, is tried after 5 minutes, then every 30.
    server.start_kill().expect("kill");
    server.wait().await.expect("stopped");
    let second = accepted(&t, "01001", &[("damage", "broken")], "井盖破损").await;
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!((r.sent, r.retried), (0, 1), "{r:?}");
    let pending = t
        .app
        .upstream_links(&civicgrid_domain::policy::Actor::System, "pending")
        .await
        .expect("links");
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("connecting"),
        "{pending:?}"
    );
    clock.set(clock.now() + SignedDuration::from_mins(4));
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!((r.sent, r.retried), (0, 0), "not yet due: {r:?}");
    clock.set(clock.now() + SignedDuration::from_mins(2));
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!(r.retried, 1, "{r:?}");
    let (restarted, _) = county(&county_db.url, port).await;
    server = restarted;
    clock.set(clock.now() + SignedDuration::from_mins(29));
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!(r.sent, 0, "every 30 minutes after the first retry: {r:?}");
    clock.set(clock.now() + SignedDuration::from_mins(2));
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!(r.sent, 1, "caught up: {r:?}");
    assert!(
        actions(&t, &second)
            .await
            .iter()
            .any(|(a, _)| a == "forward")
    );

    // The county decides the first case is not its matter: the street hears it.
    let theirs = county_db
        .app
        .public_case(&request_id)
        .await
        .expect("county case")
        .reported;
    county_db
        .app
        .act_on_case(
            &theirs.id,
            theirs.state.version,
            Action::Refuse {
                reason: "属街道职责，退回".into(),
            },
            &staff(&county_db.app, "calltaker1").await,
        )
        .await
        .expect("refused at the county");
    let r = t.app.run_upstream().await.expect("round");
    assert!(r.updates >= 1, "{r:?}");
    let closed = actions(&t, &first).await;
    assert!(
        closed
            .iter()
            .any(|(a, p)| a == "upstream_update" && p["action"]["status"] == "closed"),
        "{closed:?}"
    );

    // A request the county refuses (a service it does not have) is failed at once, with
    // the county's answer, and can be sent again.
    t.app
        .add_upstream_route("county", "01007", "440305", Some("99999"))
        .await
        .expect("route");
    let third = accepted(&t, "01007", &[("fault", "dark")], "路灯闪烁").await;
    let r = t.app.run_upstream().await.expect("round");
    assert_eq!(r.failed, 1, "{r:?}");
    let failed = t
        .app
        .upstream_links(&civicgrid_domain::policy::Actor::System, "failed")
        .await
        .expect("failed");
    assert_eq!(failed[0].case_id, third);
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("HTTP 400"),
        "{failed:?}"
    );
    let (code, out) = run_cli(&t.url, &["upstream", "list"], "")
        .await
        .expect("list");
    assert_eq!(code, 0);
    let out = String::from_utf8(out).expect("utf-8");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains(&format!("id={request_id}")), "{out}");
    assert!(out.contains("failed") && out.contains("HTTP 400"), "{out}");
    // Administrators see the same over REST.
    let admin_key = t
        .app
        .create_api_key("admin", Some("admin"))
        .await
        .expect("key");
    let listed = t
        .get("/api/v1/upstream/links?status=failed")
        .bearer(&admin_key)
        .send()
        .await;
    assert_eq!(
        listed.status,
        axum::http::StatusCode::OK,
        "{}",
        listed.text()
    );
    let listed = listed.json();
    assert_eq!(listed[0]["case_id"], third.to_string());
    assert!(
        listed[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 400")
    );
    t.app
        .retry_upstream_link(&civicgrid_domain::policy::Actor::System, &third)
        .await
        .expect("again");
    assert_eq!(
        t.app
            .upstream_links(&civicgrid_domain::policy::Actor::System, "pending")
            .await
            .expect("pending")
            .len(),
        1
    );
    assert!(
        t.app
            .retry_upstream_link(&civicgrid_domain::policy::Actor::System, &third)
            .await
            .is_err(),
        "not failed any more"
    );

    server.start_kill().expect("kill");
    server.wait().await.expect("stopped");
    t.finish().await;
}

#[tokio::test]
async fn the_county_link_survives_the_county_being_down_on_sqlite() {
    link_to_the_county(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_county_link_survives_the_county_being_down_on_postgresql() {
    link_to_the_county(Backend::Postgres).await;
}
