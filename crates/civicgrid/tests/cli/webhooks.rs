//! Outgoing webhooks on SQLite and PostgreSQL, against a real HTTP receiver: every matching
//! event is queued with the event itself and delivered once although two instances send at
//! the same time; deliveries are signed CloudEvents; a failed try is retried after its delay,
//! a dead instance's lease is taken over when it runs out, and a receiver that never answers
//! well is given up after the last try. Bad subscriptions are refused by field.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use civicgrid::App;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::{Clock, ManualClock};
use civicgrid::error::AppError;
use civicgrid::jobs::JobSettings;
use civicgrid::webhooks::{DeliveryReport, signature};
use civicgrid_domain::case::{Action, Channel};
use civicgrid_domain::notify::{MAX_ATTEMPTS, retry_delay};
use civicgrid_domain::territory::GridCode;
use jiff::{SignedDuration, Timestamp};

#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    body: serde_json::Value,
    raw: Vec<u8>,
    answered: u16,
}

#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests still to answer with 503.
    fail_next: Arc<AtomicUsize>,
}

impl Inbox {
    fn ok(&self) -> Vec<Received> {
        self.got
            .lock()
            .expect("inbox")
            .iter()
            .filter(|r| r.answered == 200)
            .cloned()
            .collect()
    }
    fn all(&self) -> usize {
        self.got.lock().expect("inbox").len()
    }
}

async fn hook(
    State(inbox): State<Inbox>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let failing = inbox
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    assert!(
        h("content-type").starts_with("application/cloudevents+json"),
        "{headers:?}"
    );
    inbox.got.lock().expect("inbox").push(Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
        signature: h("webhook-signature"),
        body: serde_json::from_slice(&body).expect("json body"),
        raw: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

async fn receiver() -> (String, Inbox) {
    let inbox = Inbox::default();
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/hook"), inbox)
}

/// An instance of its own (its own lease owner) on the same store and clock.
fn instance(app: &App, name: &str) -> App {
    let mut other = app.clone();
    other.jobs = Arc::new(JobSettings {
        instance: name.to_owned(),
        ..Default::default()
    });
    other
}

async fn calltaker(app: &App) -> Actor {
    let user = app
        .repo
        .user("calltaker1")
        .await
        .expect("read")
        .expect("calltaker1");
    Actor::Staff {
        username: user.username,
        grants: user.grants,
    }
}

async fn report(app: &App, grid: &GridCode, i: usize) -> civicgrid_domain::case::Case {
    let intake = Intake {
        description: format!("路灯不亮 {i}"),
        location: None,
        grid: Some(grid.clone()),
        address: None,
        category: Some("01007".parse().expect("category")),
        attributes: [("fault".to_owned(), "dark".to_owned())]
            .into_iter()
            .collect(),
        priority: None,
        channel: Channel::Web,
        reporter: None,
        media_url: None,
    };
    app.report_case(intake, &Actor::Resident)
        .await
        .expect("reported")
}

fn pending(list: &[(civicgrid_store::Webhook, civicgrid_store::DeliveryCounts)]) -> i64 {
    list.iter().map(|(_, c)| c.pending).sum()
}

async fn exercise(repo: Arc<dyn civicgrid_store::Repository>) {
    let start: Timestamp = "2026-11-02T01:00:00Z".parse().expect("t");
    let clock = Arc::new(ManualClock::new(start));
    let app = App::new(repo, clock.clone());
    app.load_demo(1).await.expect("territory");
    let (url, inbox) = receiver().await;

    // Bad subscriptions: every problem named by field, nothing stored.
    match app
        .add_webhook("ftp://gov.example/hook", Some("999999"), "explode", "t")
        .await
    {
        Err(AppError::Unprocessable(problems)) => {
            let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(fields, ["url", "events", "region"], "{problems:?}");
        }
        other => panic!("refused expected, got {other:?}"),
    }
    assert!(app.webhooks().await.expect("list").is_empty());

    let district = app
        .add_webhook(&url, Some("440305"), "", "t")
        .await
        .expect("district");
    let street = app
        .add_webhook(&url, Some("440305002"), "accept", "t")
        .await
        .expect("street");
    let stopped = app.add_webhook(&url, None, "", "t").await.expect("stopped");
    app.set_webhook_active(&stopped.id.to_string(), false)
        .await
        .expect("disable");
    assert!(matches!(
        app.set_webhook_active("0190f1c8-0000-7000-8000-000000000000", true)
            .await,
        Err(AppError::NotFound(_))
    ));

    let mut grids: Vec<GridCode> = app
        .reference()
        .await
        .expect("reference")
        .grid_regions
        .keys()
        .cloned()
        .collect();
    grids.sort();
    let staff = calltaker(&app).await;
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut street_accepts = 0;
    for i in 0..24 {
        // Every third grid: both streets get cases.
        let case = report(&app, &grids[(i * 3) % grids.len()], i).await;
        *expected.entry(format!("{}-1", case.id)).or_default() += 1;
        if i % 2 == 0 {
            app.act_on_case(&case.id, 1, Action::Accept, &staff)
                .await
                .expect("accepted");
            *expected.entry(format!("{}-2", case.id)).or_default() += 1;
            if case.region.as_str().starts_with("440305002") {
                *expected.entry(format!("{}-2", case.id)).or_default() += 1;
                street_accepts += 1;
            }
        }
    }
    assert!(
        street_accepts > 0,
        "some accepted cases are in street 440305002"
    );
    let queued = pending(&app.webhooks().await.expect("list"));
    let total: usize = expected.values().sum();
    assert_eq!(queued, total as i64, "one delivery per matching event");

    // A refused action writes no event, hence no delivery.
    let case = report(&app, &grids[0], 99).await;
    *expected.entry(format!("{}-1", case.id)).or_default() += 1;
    assert!(
        app.act_on_case(&case.id, 7, Action::Accept, &staff)
            .await
            .is_err()
    );
    assert_eq!(
        pending(&app.webhooks().await.expect("list")),
        total as i64 + 1
    );

    // Two instances send at once: each delivery goes out once.
    let (a, b) = (instance(&app, "a"), instance(&app, "b"));
    let (ra, rb) = tokio::join!(a.deliver_notifications(), b.deliver_notifications());
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ra.delivered + rb.delivered, total + 1, "{ra:?} {rb:?}");
    assert_eq!(ra.lost + rb.lost + ra.retried + rb.retried, 0);
    // Counted on their subscriptions; none is left pending.
    let list = app.webhooks().await.expect("list");
    assert_eq!(
        list.iter().map(|(_, c)| c.delivered).sum::<i64>(),
        total as i64 + 1
    );
    assert_eq!(pending(&list), 0);
    let got = inbox.ok();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in &got {
        *seen.entry(r.id.clone()).or_default() += 1;
        // Signed as Standard Webhooks says, with the secret of the subscription it was for.
        let secret = [&district, &street]
            .into_iter()
            .find(|w| signature(&w.secret, &r.id, r.timestamp, &r.raw).expect("sig") == r.signature)
            .map(|w| w.id);
        assert!(secret.is_some(), "a valid signature on {}", r.id);
        assert_eq!(r.body["specversion"], "1.0");
        assert_eq!(r.body["id"], r.id.as_str());
        let action = r.body["data"]["action"].as_str().expect("action");
        assert_eq!(r.body["type"], format!("org.civicgrid.case.{action}"));
        assert!(
            r.body["data"]["region_code"]
                .as_str()
                .is_some_and(|c| c.starts_with("440305")),
            "{}",
            r.body
        );
    }
    assert_eq!(seen, expected, "every event once per subscription");
    assert_eq!(
        a.deliver_notifications().await.expect("again"),
        DeliveryReport::default()
    );

    // A receiver that fails once: tried again after the first delay, not before.
    inbox.fail_next.store(1, Ordering::SeqCst);
    let case = report(&app, &grids[1], 100).await;
    let r = a.deliver_notifications().await.expect("try 1");
    assert_eq!((r.delivered, r.retried), (0, 1), "{r:?}");
    assert_eq!(
        a.deliver_notifications().await.expect("too soon"),
        DeliveryReport::default()
    );
    clock.set(start + retry_delay(1));
    let r = b.deliver_notifications().await.expect("try 2");
    assert_eq!(r.delivered, 1, "{r:?}");
    let id = format!("{}-1", case.id);
    assert_eq!(inbox.ok().iter().filter(|r| r.id == id).count(), 1);

    // An instance dies holding a delivery: another sends it once the lease has run out.
    let now = clock.now();
    let case = report(&app, &grids[2], 101).await;
    let held = app
        .repo
        .claim_deliveries("dead", now, now + SignedDuration::from_secs(60), 100)
        .await
        .expect("claim");
    assert_eq!(held.len(), 1);
    assert_eq!(
        a.deliver_notifications().await.expect("held"),
        DeliveryReport::default()
    );
    clock.set(now + SignedDuration::from_secs(61));
    assert_eq!(a.deliver_notifications().await.expect("taken").delivered, 1);
    let late = app
        .repo
        .finish_delivery(
            &held[0].webhook_id,
            (&case.id, 1),
            "dead",
            clock.now(),
            &civicgrid_store::DeliveryOutcome::Delivered,
        )
        .await
        .expect("late");
    assert!(
        !late,
        "a lease that ran out cannot be finished by its old holder"
    );

    // A receiver that never answers well: given up after the last try.
    inbox.fail_next.store(usize::MAX, Ordering::SeqCst);
    let before = inbox.all();
    report(&app, &grids[3], 102).await;
    let mut at = clock.now();
    for attempt in 1..=MAX_ATTEMPTS {
        let r = a.deliver_notifications().await.expect("try");
        if attempt < MAX_ATTEMPTS {
            assert_eq!(r.retried, 1, "try {attempt}: {r:?}");
        } else {
            assert_eq!(r.failed, 1, "last try: {r:?}");
        }
        at += retry_delay(attempt);
        clock.set(at);
    }
    assert_eq!(inbox.all() - before, MAX_ATTEMPTS as usize);
    assert_eq!(
        a.deliver_notifications().await.expect("after"),
        DeliveryReport::default()
    );
    let list = app.webhooks().await.expect("list");
    let counts = |id| list.iter().find(|(w, _)| w.id == id).expect("hook").1;
    assert_eq!(counts(district.id).failed, 1);
    assert_eq!(counts(district.id).pending, 0);
    assert_eq!(counts(stopped.id), Default::default());
    assert!(
        !list
            .iter()
            .find(|(w, _)| w.id == stopped.id)
            .expect("s")
            .0
            .active
    );
}

#[tokio::test]
async fn webhooks_are_delivered_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("w.db").display());
    let repo = civicgrid_store::connect(&db).await.expect("store");
    exercise(repo).await;

    // The command line: a bad URL is refused by field; the list shows the subscription.
    let run = |args: Vec<&str>| {
        let mut argv = vec!["civicgrid", "--database", db.as_str()];
        argv.extend(args);
        let cli = <civicgrid::cli::Cli as clap::Parser>::try_parse_from(argv).expect("args");
        async move {
            let mut out = Vec::new();
            civicgrid::cli::run(cli, &mut "".as_bytes(), &mut out)
                .await
                .map(|_| String::from_utf8(out).expect("utf-8"))
        }
    };
    let refused = run(vec!["webhook", "add", "--url", "ftp://x/"])
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        refused.contains("url: the URL must start with http://"),
        "{refused}"
    );
    let added = run(vec![
        "webhook",
        "add",
        "--url",
        "http://127.0.0.1:9/x",
        "--events",
        "raise_alarm,escalate",
    ])
    .await
    .expect("added");
    let (id, secret) = added.trim().split_once('\t').expect("id and secret");
    assert!(secret.starts_with("whsec_"));
    let list = run(vec!["webhook", "list"]).await.expect("list");
    let line = list.lines().find(|l| l.starts_with(id)).expect("listed");
    assert!(
        line.contains("active")
            && line.contains("events=escalate,raise_alarm")
            && line.contains("region=*"),
        "{line}"
    );
    assert!(!list.contains(secret), "the secret is shown once");
    run(vec!["webhook", "disable", id]).await.expect("disabled");
    assert!(
        run(vec!["webhook", "list"])
            .await
            .expect("list")
            .contains("disabled")
    );
}

/// An https receiver: refused while its certificate authority is unknown (the try is
/// retried, with the TLS error recorded), delivered once the deployment trusts it.
#[tokio::test]
async fn webhooks_go_over_https_to_a_trusted_receiver() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("w.db").display());
    let repo = civicgrid_store::connect(&db).await.expect("store");
    let start: Timestamp = "2026-11-02T01:00:00Z".parse().expect("t");
    let clock = Arc::new(ManualClock::new(start));
    let mut app = App::new(repo, clock.clone());
    app.load_demo(1).await.expect("territory");
    let inbox = Inbox::default();
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(inbox.clone());
    let (base, ca) = crate::support::serve_tls(router).await;
    let hook_url = format!("{base}/hook");
    let added = app
        .add_webhook(&hook_url, None, "", "t")
        .await
        .expect("https subscription");
    let grid: GridCode = app
        .reference()
        .await
        .expect("reference")
        .grid_regions
        .keys()
        .next()
        .cloned()
        .expect("a grid");
    let case = report(&app, &grid, 1).await;

    let untrusted = app.deliver_notifications().await.expect("round");
    assert_eq!((untrusted.delivered, untrusted.retried), (0, 1));
    assert_eq!(inbox.all(), 0, "no request reaches an untrusted peer");
    let listed = app.webhooks().await.expect("list");
    assert_eq!(pending(&listed), 1);

    app.outbound = civicgrid::outbound::Outbound::trusting(&ca).expect("CA");
    clock.set(start + retry_delay(1) + SignedDuration::from_secs(1));
    let trusted = app.deliver_notifications().await.expect("round");
    assert_eq!(trusted.delivered, 1, "{trusted:?}");
    let got = inbox.ok();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.id, format!("{}-1", case.id));
    assert_eq!(
        signature(&added.secret, &r.id, r.timestamp, &r.raw).expect("signs"),
        r.signature
    );
}

#[tokio::test]
async fn webhooks_are_delivered_once_on_postgresql() {
    let Some(pg) = crate::PgSchema::new("hooks").await else {
        return;
    };
    let repo = pg.repo.clone();
    exercise(repo.clone()).await;
    pg.drop_schema().await;
}
