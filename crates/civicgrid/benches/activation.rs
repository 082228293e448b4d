//! Activating an emergency plan over a large area (issue 18): 500 affected grids, a plan
//! with a task for each of 40 units, three grid workers' tasks (one per grid each) and a
//! role's task at level III — 1,541 tasks, the log entry and the notice to the grids' workers
//! (kept for the notifier) in one transaction, decided by the incident machine on the
//! incident as stored. Against the baseline of the same run: the same number of task rows
//! inserted by plain multi-row INSERTs in one transaction into a table of the same shape,
//! same database. Each figure is the median of `CIVICGRID_BENCH_ROUNDS` (default 7)
//! activations of fresh incidents.
//!
//! Run with `bench/activation.sh`. Environment: CIVICGRID_BENCH_GRIDS (500),
//! CIVICGRID_BENCH_UNITS (40), CIVICGRID_BENCH_BACKENDS (sqlite,postgres),
//! CIVICGRID_BENCH_POSTGRES.

use std::sync::Arc;
use std::time::{Duration, Instant};

use civicgrid::App;
use civicgrid::clock::FixedClock;
use civicgrid::emergency::NewIncident;
use civicgrid_domain::access::{Grant, Scope};
use civicgrid_domain::emergency::{Addressee, Area, IncidentKind, Level, Plan, PlanTask};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::routing::{Unit, UnitKind};
use civicgrid_domain::territory::{Beat, Grid, GridCode, Region};
use civicgrid_store::{Batch, NewUser};
use geo::{MultiPolygon, polygon};
use jiff::SignedDuration;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// A street of `grids` square grids in communities of 50, `units` units, a commander and a
/// grid worker per beat of 10 grids.
fn territory(grids: usize, units: usize, at: jiff::Timestamp) -> (Batch, Vec<GridCode>) {
    let roles = civicgrid::interchange::config::read_roles(
        "roles.toml",
        civicgrid::app::shipped::ROLES_TOML,
    )
    .expect("roles");
    let region = |code: &str, name: &str| Region {
        code: code.parse().expect("region"),
        name: name.into(),
    };
    let mut regions = vec![region("440305", "南山区"), region("440305001", "南头街道")];
    let mut out = Vec::new();
    let mut codes = Vec::new();
    let mut beats = Vec::new();
    let mut users = vec![NewUser {
        username: "commander".into(),
        display_name: "指挥长".into(),
        password_hash: String::new(),
        unit: None,
        grants: vec![Grant {
            role: "street_leader".into(),
            scope: Scope::Region("440305001".parse().expect("street")),
        }],
    }];
    for i in 0..grids {
        let community = format!("440305001{:03}", i / 50 + 1);
        if i % 50 == 0 {
            regions.push(region(&community, &format!("第{}社区", i / 50 + 1)));
        }
        let code: GridCode = format!("{community}{:03}", i % 50 + 1)
            .parse()
            .expect("grid");
        let (x, y) = (
            113.90 + (i % 25) as f64 * 0.002,
            22.50 + (i / 25) as f64 * 0.002,
        );
        out.push(Grid {
            code: code.clone(),
            name: format!("第{}网格", i + 1),
            region: community.parse().expect("community"),
            geometry: MultiPolygon::new(vec![polygon![
                (x: x, y: y), (x: x + 0.002, y: y), (x: x + 0.002, y: y + 0.002), (x: x, y: y + 0.002), (x: x, y: y)
            ]]),
        });
        codes.push(code.clone());
        if i % 10 == 0 {
            let worker = format!("gw{}", i / 10 + 1);
            users.push(NewUser {
                username: worker.clone(),
                display_name: worker.clone(),
                password_hash: String::new(),
                unit: None,
                grants: vec![Grant {
                    role: "grid_worker".into(),
                    scope: Scope::Region(community.parse().expect("community")),
                }],
            });
            beats.push(Beat {
                code: format!("B{}", i / 10 + 1),
                name: format!("第{}责任区", i / 10 + 1),
                region: community.parse().expect("community"),
                grids: Vec::new(),
                workers: vec![worker],
            });
        }
        if let Some(b) = beats.last_mut() {
            b.grids.push(code);
        }
    }
    let units = (1..=units)
        .map(|u| Unit {
            code: format!("U{u:02}"),
            name: format!("单位{u}"),
            kind: UnitKind::Department,
            region: "440305".parse().expect("district"),
        })
        .collect();
    (
        Batch {
            at,
            regions,
            grids: out,
            units,
            roles,
            users,
            beats,
            ..Batch::default()
        },
        codes,
    )
}

fn plan(units: usize) -> Plan {
    let mut tasks = Vec::new();
    let task = |key: String, addressee: Addressee| PlanTask {
        key,
        level: Level::III,
        addressee,
        title: "按预案处置".into(),
        due_after: SignedDuration::from_mins(120),
    };
    for u in 1..=units {
        tasks.push(task(
            format!("unit-{u}"),
            Addressee::Unit(format!("U{u:02}")),
        ));
    }
    for k in ["check", "watch", "report"] {
        tasks.push(task(k.into(), Addressee::GridWorkers));
    }
    tasks.push(task("duty".into(), Addressee::Role("street_leader".into())));
    Plan {
        code: "bench".into(),
        kind: IncidentKind::Typhoon,
        title: "基准预案".into(),
        tasks,
        contacts: vec![],
        resources: vec![],
        shelters: vec![],
    }
}

/// The baseline: `rows` rows of the task table's shape, inserted 200 to a statement (the
/// store's own statement shape, `QueryBuilder::push_values`) in one transaction.
macro_rules! baseline {
    ($name:ident, $db:ty) => {
        async fn $name(pool: &sqlx::Pool<$db>, rows: usize, round: usize) -> Duration {
            let started = Instant::now();
            let mut tx = pool.begin().await.expect("begin");
            for chunk in (0..rows).collect::<Vec<_>>().chunks(200) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO bench_tasks (incident_id, task_key, target_kind, target_code, title, level, due_at, status, created_at) ",
                );
                q.push_values(chunk, |mut b, i| {
                    b.push_bind(format!("round-{round}"))
                        .push_bind(format!("task-{i}"))
                        .push_bind("grid".to_owned())
                        .push_bind(format!("44030500100{i:04}"))
                        .push_bind("按预案处置".to_owned())
                        .push_bind("III".to_owned())
                        .push_bind(1_800_000_000_000_000_i64)
                        .push_bind("open".to_owned())
                        .push_bind(1_800_000_000_000_000_i64);
                });
                q.build().execute(&mut *tx).await.expect("insert");
            }
            tx.commit().await.expect("commit");
            started.elapsed()
        }
    };
}

baseline!(baseline_sqlite, sqlx::Sqlite);
baseline!(baseline_postgres, sqlx::Postgres);

const BENCH_TABLE: &str = "CREATE TABLE bench_tasks (incident_id TEXT NOT NULL, task_key TEXT NOT NULL, target_kind TEXT NOT NULL, target_code TEXT NOT NULL, title TEXT NOT NULL, level TEXT NOT NULL, due_at BIGINT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (incident_id, task_key, target_kind, target_code))";

async fn measure<DB: sqlx::Database, F, Fut>(
    backend: &str,
    app: &App,
    pool: &sqlx::Pool<DB>,
    grids: &[GridCode],
    rounds: usize,
    baseline: F,
) where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    F: Fn(usize, usize) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    sqlx::query(BENCH_TABLE)
        .execute(pool)
        .await
        .expect("bench table");
    let mut activations = Vec::new();
    let mut baselines = Vec::new();
    let mut tasks = 0;
    for round in 0..rounds {
        let incident = app
            .declare_incident(
                &Actor::System,
                NewIncident {
                    title: format!("基准事件{round}"),
                    plan: "bench".into(),
                    level: None,
                    exercise: true,
                    commander: Some("commander".into()),
                    area: Area::Grids {
                        grids: grids.to_vec(),
                    },
                    period_minutes: None,
                },
            )
            .await
            .expect("declared");
        let started = Instant::now();
        let change = app
            .set_incident_level(&Actor::System, &incident.number, Level::III)
            .await
            .expect("activated");
        activations.push(started.elapsed());
        tasks = change.created;
        let stored = app
            .repo
            .incident_tasks(&incident.id)
            .await
            .expect("tasks")
            .len();
        assert_eq!(stored, tasks, "every task stored once");
        baselines.push(baseline(tasks, round).await);
    }
    let notices = app.repo.grid_notices(1000).await.expect("notices").len();
    assert_eq!(notices, rounds, "one notice per activation");
    let a = median(activations);
    let b = median(baselines);
    println!(
        "{backend:>9} {:>6} {:>6} {:>12.1} {:>12.1} {:>8.2}",
        grids.len(),
        tasks,
        a.as_secs_f64() * 1000.0,
        b.as_secs_f64() * 1000.0,
        a.as_secs_f64() / b.as_secs_f64()
    );
    assert!(
        a < Duration::from_secs(2),
        "activation took {a:?}, over the 2 s target"
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_grids = env_usize("CIVICGRID_BENCH_GRIDS", 500);
    let n_units = env_usize("CIVICGRID_BENCH_UNITS", 40);
    let rounds = env_usize("CIVICGRID_BENCH_ROUNDS", 7);
    let backends =
        std::env::var("CIVICGRID_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "{:>9} {:>6} {:>6} {:>12} {:>12} {:>8}",
        "backend", "grids", "tasks", "activate ms", "insert ms", "ratio"
    );
    let at: jiff::Timestamp = "2026-12-07T02:00:00Z".parse().expect("t");
    let clock = Arc::new(FixedClock(at));
    let dir = tempfile::tempdir().expect("dir");
    let setup = |app: App| async move {
        let (batch, grids) = territory(n_grids, n_units, at);
        app.repo.apply(&batch).await.expect("territory");
        app.invalidate_reference();
        app.save_emergency_plans(&Actor::System, vec![plan(n_units)])
            .await
            .expect("plan");
        (app, grids)
    };
    if backends.contains("sqlite") {
        let url = format!("sqlite:{}", dir.path().join("activation.db").display());
        let repo = civicgrid_store::connect(&url).await.expect("sqlite");
        let (app, grids) = setup(App::new(repo, clock.clone())).await;
        // The store's own settings: WAL, and every commit synced.
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
            .expect("url")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("pool");
        measure("sqlite", &app, &pool, &grids, rounds, |n, r| {
            baseline_sqlite(&pool, n, r)
        })
        .await;
    }
    if backends.contains("postgres") {
        let pg = std::env::var("CIVICGRID_BENCH_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("bench_activation_{}", std::process::id());
        match civicgrid_store::postgres::PgRepository::connect_in_schema(&pg, &schema).await {
            Ok(repo) => {
                let repo = Arc::new(repo);
                let (app, grids) = setup(App::new(repo.clone(), clock.clone())).await;
                let options =
                    <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&pg)
                        .expect("url")
                        .options([("search_path", schema.as_str())]);
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .expect("pool");
                measure("postgres", &app, &pool, &grids, rounds, |n, r| {
                    baseline_postgres(&pool, n, r)
                })
                .await;
                repo.drop_schema(&schema).await.expect("drop");
            }
            Err(e) => println!("{:>9}   unavailable: {e}", "postgres"),
        }
    }
}
