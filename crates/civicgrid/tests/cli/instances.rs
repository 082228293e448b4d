//! Several instances on one PostgreSQL: the deadline job's regions are leased, so two
//! instances divide 10,000 overdue cases and escalate each exactly once; when one is killed
//! with SIGKILL mid-run, the other takes its regions over once their leases run out, again
//! without a duplicate. The instances are real processes (`civicgrid sweep`).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use civicgrid::App;
use civicgrid::cases::jobs::SweepReport;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::FixedClock;
use civicgrid_domain::case::Channel;
use civicgrid_domain::territory::GridCode;
use civicgrid_store::prelude::*;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_civicgrid");
const CASES: usize = 10_000;

#[derive(serde::Deserialize, Debug)]
struct Report {
    red: usize,
    escalated: usize,
    skipped: usize,
    scopes: usize,
}

/// Reports `CASES` street-lamp cases at `at` (a Monday morning long past, so every accept
/// deadline has passed by now), spread over the demo's grids, 200 at a time.
async fn overdue_cases(repo: Arc<dyn civicgrid_store::Repository>, at: &str) {
    let app = App::new(repo, Arc::new(FixedClock(at.parse().expect("t"))));
    let mut grids: Vec<GridCode> = app
        .reference()
        .await
        .expect("reference")
        .grid_regions
        .keys()
        .cloned()
        .collect();
    grids.sort();
    for start in (0..CASES).step_by(200) {
        let mut batch = tokio::task::JoinSet::new();
        for i in start..start + 200 {
            let app = app.clone();
            let grid = grids[i % grids.len()].clone();
            batch.spawn(async move {
                let intake = Intake {
                    description: format!("路灯不亮 {i}"),
                    location: None,
                    grid: Some(grid),
                    address: None,
                    category: Some("01007".parse().expect("c")),
                    attributes: [("fault".to_owned(), "dark".to_owned())]
                        .into_iter()
                        .collect(),
                    priority: None,
                    channel: Channel::Hotline,
                    reporter: None,
                    media_url: None,
                };
                app.report_case(intake, &Actor::Resident)
                    .await
                    .expect("reported")
            });
        }
        while let Some(done) = batch.join_next().await {
            done.expect("task");
        }
    }
}

/// `civicgrid sweep` with 1-second rounds: each phase of the test starts in a new round (a
/// region finished in a round is not swept again in it).
fn sweep(db: &str, lease_secs: &str) -> Child {
    Command::new(BIN)
        .args([
            "--database",
            db,
            "sweep",
            "--round-secs",
            "1",
            "--lease-secs",
            lease_secs,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("civicgrid sweep starts")
}

async fn finished(child: Child) -> Report {
    let out = child.wait_with_output().await.expect("sweep ends");
    assert!(
        out.status.success(),
        "sweep failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// (escalate events, distinct cases escalated, raise_alarm events).
async fn counts(pool: &sqlx::PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE action = 'escalate'),
                COUNT(DISTINCT case_id) FILTER (WHERE action = 'escalate'),
                COUNT(*) FILTER (WHERE action = 'raise_alarm')
           FROM case_events",
    )
    .fetch_one(pool)
    .await
    .expect("counts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_escalate_each_overdue_case_once_even_when_one_dies() {
    let Some(pg) = crate::PgSchema::new("inst").await else {
        return;
    };
    let repo = pg.repo.clone();
    let db = pg.url.clone();
    let pool = sqlx::PgPool::connect(&db).await.expect("pool");
    App::new(
        repo.clone(),
        Arc::new(FixedClock("2026-03-01T00:00:00Z".parse().expect("t"))),
    )
    .load_demo(1)
    .await
    .expect("territory");

    // Two instances at once: they divide the regions and each case is escalated once.
    overdue_cases(repo.clone(), "2026-03-02T01:00:00Z").await;
    let (a, b) = (sweep(&db, "30"), sweep(&db, "30"));
    let (a, b) = (finished(a).await, finished(b).await);
    assert_eq!(a.red + b.red, CASES, "{a:?} {b:?}");
    assert_eq!(a.escalated + b.escalated, CASES, "{a:?} {b:?}");
    assert!(
        a.escalated > 0 && b.escalated > 0,
        "both worked: {a:?} {b:?}"
    );
    assert!(a.scopes > 0 && b.scopes > 0, "{a:?} {b:?}");
    // Leased regions never overlap, so neither ran into the other's changes.
    assert_eq!((a.skipped, b.skipped), (0, 0), "{a:?} {b:?}");
    let c = CASES as i64;
    assert_eq!(counts(&pool).await, (c, c, c));
    eprintln!("two instances: A {a:?}, B {b:?}");

    // Another 10,000; one instance is killed mid-run, the other finishes its regions and,
    // once the dead one's lease (2 s) runs out, takes over the region it held.
    overdue_cases(repo.clone(), "2026-03-03T01:00:00Z").await;
    let (mut a, b) = (sweep(&db, "2"), sweep(&db, "2"));
    let waited = tokio::time::Instant::now();
    while counts(&pool).await.0 < c + 500 {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "no progress: {:?}",
            counts(&pool).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.start_kill().expect("SIGKILL");
    a.wait().await.expect("killed");
    let at_kill = counts(&pool).await.0;
    assert!(at_kill < 2 * c, "work was left when A died: {at_kill}");
    let b = finished(b).await;
    eprintln!(
        "A killed after {} escalations of {c}; B then {b:?}",
        at_kill - c
    );
    assert!(b.escalated > 0, "{b:?}");
    assert_eq!(b.skipped, 0, "{b:?}");
    assert_eq!(counts(&pool).await, (2 * c, 2 * c, 2 * c));
    assert_eq!(
        repo.check_integrity().await.expect("check"),
        Vec::<String>::new()
    );

    // Nothing is left for a later round either.
    let later = App::new(
        repo.clone(),
        Arc::new(FixedClock(
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
        )),
    );
    assert_eq!(
        SweepReport {
            scopes: 0,
            ..later.sweep_deadlines(0.8).await.expect("sweep")
        },
        SweepReport::default()
    );
    pool.close().await;
    pg.drop_schema().await;
}
