//! The month KPI table of a district over many cases: the rollups (what `civicgrid kpi` and
//! `/api/v1/kpi` read) against a plain SQL aggregation over the same events, same database,
//! same run; with the rollup table's size and the process's peak memory.
//!
//! A generator makes `CIVICGRID_BENCH_CASES` cases (default 1,000,000; the figure is
//! 10,000,000) over 12 months in the demo territory, each with a realistic event history
//! (plain, refused, sent back and redispatched, reworked, breached, resolved on the spot,
//! evaluated). Their events go into `bench_events` (the columns of `case_events`, plus the
//! report day, without the foreign key to `cases`, so that the load is fast), and their
//! contributions, computed by the same `kpi::contributions` the KPI job uses, are summed into
//! `kpi_daily` as the job would (the recount test shows the job's sums equal a recount).
//!
//! Run with `bench/kpi.sh` (or `cargo bench -p civicgrid --bench kpi`). Environment:
//! CIVICGRID_BENCH_CASES, CIVICGRID_BENCH_BACKENDS (sqlite,postgres), CIVICGRID_BENCH_POSTGRES.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use civicgrid::App;
use civicgrid::clock::FixedClock;
use civicgrid_domain::case::deadline::Alarm;
use civicgrid_domain::case::{Action, Channel, Satisfaction, Status};
use civicgrid_domain::catalogue::Stage;
use civicgrid_domain::kpi::{CaseMeta, Counters, Indicators, Period, Step, Subject, contributions};
use civicgrid_domain::territory::{GridCode, RegionCode};
use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One event row: (case, region, report day, seq, action, to, actor, at micros, payload).
type EventRow = (
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
    String,
);

struct Generated {
    events: Vec<EventRow>,
    daily: BTreeMap<(String, String, String, String), Counters>,
}

fn step(at: Timestamp, actor: &str, action: Action, to: Status) -> Step {
    Step {
        at,
        actor: actor.to_owned(),
        action,
        to,
    }
}

/// One case's history along one of the loop's paths.
fn history(rng: &mut ChaCha8Rng, t0: Timestamp, units: &[String]) -> (Channel, Vec<Step>) {
    let h = |m: i64| t0 + SignedDuration::from_mins(m);
    let unit = units[rng.random_range(0..units.len())].clone();
    let other = units[rng.random_range(0..units.len())].clone();
    let channel = if rng.random_bool(0.3) {
        Channel::Patrol
    } else {
        Channel::Web
    };
    let reporter = if channel == Channel::Patrol {
        "gw.1"
    } else {
        "resident"
    };
    let mut s = vec![step(t0, reporter, Action::Register, Status::Reported)];
    let path = rng.random_range(0..100);
    if path < 5 {
        s.push(step(
            h(20),
            "calltaker1",
            Action::Refuse {
                reason: "重复".into(),
            },
            Status::Refused,
        ));
        return (channel, s);
    }
    if path < 10 {
        s.push(step(
            h(30),
            "gw.1",
            Action::ResolveOnSite {
                note: "现场处置".into(),
            },
            Status::Closed,
        ));
        return (channel, s);
    }
    s.push(step(h(15), "calltaker1", Action::Accept, Status::Accepted));
    s.push(step(
        h(25),
        "dispatcher.1",
        Action::Register,
        Status::Registered,
    ));
    s.push(step(
        h(40),
        "dispatcher.1",
        Action::Dispatch {
            units: vec![unit.clone()],
        },
        Status::Dispatched,
    ));
    if path < 20 {
        s.push(step(
            h(90),
            "handler",
            Action::SendBack {
                reason: "非本单位".into(),
            },
            Status::Registered,
        ));
        s.push(step(
            h(120),
            "dispatcher.1",
            Action::Dispatch { units: vec![other] },
            Status::Dispatched,
        ));
    }
    s.push(step(
        h(180),
        "handler",
        Action::StartHandling,
        Status::Handling,
    ));
    if path < 30 {
        s.push(step(
            h(3000),
            "system",
            Action::RaiseAlarm {
                stage: Stage::Handle,
                level: Alarm::Red,
            },
            Status::Handling,
        ));
    }
    s.push(step(
        h(1500),
        "handler",
        Action::ReportBack {
            note: "已处置".into(),
        },
        Status::ReportedBack,
    ));
    if path < 40 {
        s.push(step(
            h(1600),
            "gw.2",
            Action::Verify {
                passed: false,
                note: "未解决".into(),
            },
            Status::Handling,
        ));
        s.push(step(
            h(2000),
            "handler",
            Action::ReportBack {
                note: "已返工".into(),
            },
            Status::ReportedBack,
        ));
    }
    s.push(step(
        h(2100),
        "gw.2",
        Action::Verify {
            passed: true,
            note: "已解决".into(),
        },
        Status::Closed,
    ));
    if path < 80 {
        let satisfaction = match rng.random_range(0..10) {
            0 => Satisfaction::Unsatisfied,
            1..=2 => Satisfaction::BasicallySatisfied,
            _ => Satisfaction::Satisfied,
        };
        s.push(step(
            h(4000),
            "resident",
            Action::Evaluate {
                satisfaction,
                comment: String::new(),
            },
            Status::Evaluated,
        ));
    }
    (channel, s)
}

/// Cases `cases` (a chunk), their events into `out.events` (replacing the previous chunk's)
/// and their contributions added to `out.daily`; seeded per chunk, so the cases do not depend
/// on how many are loaded at a time.
fn generate(
    cases: std::ops::Range<usize>,
    grids: &[(GridCode, RegionCode)],
    units: &[String],
    calendar: &civicgrid_domain::calendar::WorkingCalendar,
    tz: &jiff::tz::TimeZone,
    out: &mut Generated,
) {
    let start: Timestamp = "2025-12-01T00:00:00+08:00".parse().expect("start");
    let span_secs = 365 * 24 * 3600;
    out.events.clear();
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    for i in cases {
        if i % CHUNK == 0 {
            rng = ChaCha8Rng::seed_from_u64(2026 ^ (i / CHUNK) as u64);
        }
        let (grid, region) = &grids[rng.random_range(0..grids.len())];
        let t0 = start + SignedDuration::from_secs(rng.random_range(0..span_secs));
        let (channel, steps) = history(&mut rng, t0, units);
        let day = t0.to_zoned(tz.clone()).date().to_string();
        let case_id = format!("{i:012}");
        let meta = CaseMeta {
            channel,
            category: None,
            grid: Some(grid),
            region,
            repeat: false,
        };
        for (subject, c) in contributions(&meta, &steps, calendar) {
            *out.daily
                .entry((
                    region.to_string(),
                    day.clone(),
                    subject.kind().to_owned(),
                    subject.code().to_owned(),
                ))
                .or_default() += &c;
        }
        for (seq, st) in steps.iter().enumerate() {
            let action = if seq == 0 {
                "report".to_owned()
            } else {
                st.action.name().to_owned()
            };
            let payload = if seq == 0 {
                "{}".to_owned()
            } else {
                format!(
                    "{{\"action\":{}}}",
                    serde_json::to_string(&st.action).unwrap_or_default()
                )
            };
            out.events.push((
                case_id.clone(),
                region.to_string(),
                day.clone(),
                seq as i64 + 1,
                action,
                st.to.as_str().to_owned(),
                st.actor.clone(),
                st.at.as_microsecond(),
                payload,
            ));
        }
    }
}

/// Cases generated and loaded at a time: memory stays bounded whatever the total.
const CHUNK: usize = 100_000;

const EVENTS_TABLE: &str = "CREATE TABLE bench_events (
    case_id TEXT NOT NULL, seq BIGINT NOT NULL, action TEXT NOT NULL, to_status TEXT NOT NULL,
    actor TEXT NOT NULL, at BIGINT NOT NULL, payload TEXT NOT NULL, region_code TEXT NOT NULL,
    reported_day TEXT NOT NULL, PRIMARY KEY (case_id, seq))";
const EVENTS_INDEX: &str =
    "CREATE INDEX bench_events_day ON bench_events (reported_day, region_code)";

/// The plain aggregation: per community and action, events and distinct cases, over the
/// events of the cases reported in the month (what a report would scan without rollups; it
/// computes fewer figures than the KPI table, so the comparison favours it).
const BASELINE: &str = "SELECT region_code, action, COUNT(*), COUNT(DISTINCT case_id) FROM bench_events
     WHERE reported_day >= $1 AND reported_day < $2 AND region_code LIKE $3 GROUP BY region_code, action";

async fn load<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, g: &Generated)
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    // SQLite looks each parameter up by name (linearly), so long statements cost quadratically
    // there: 40 rows (360 parameters) a statement on SQLite, 500 on PostgreSQL.
    let rows = if DB::NAME == "SQLite" { 40 } else { 500 };
    // One transaction per chunk of cases: one durable commit per 100,000 cases, not per row.
    let mut tx = pool.begin().await.expect("begin");
    for chunk in g.events.chunks(rows) {
        let mut sql = String::from(
            "INSERT INTO bench_events (case_id, region_code, reported_day, seq, action, to_status, actor, at, payload) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            let b = i * 9;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(e.0.clone())
                .bind(e.1.clone())
                .bind(e.2.clone())
                .bind(e.3)
                .bind(e.4.clone())
                .bind(e.5.clone())
                .bind(e.6.clone())
                .bind(e.7)
                .bind(e.8.clone());
        }
        q.execute(&mut *tx).await.expect("insert events");
    }
    tx.commit().await.expect("commit");
}

/// After the last chunk: the baseline's index, and the rollups.
async fn finish<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, g: &Generated)
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    const ROWS: usize = 500;
    sqlx::query(EVENTS_INDEX)
        .execute(pool)
        .await
        .expect("index");
    let rows: Vec<_> = g.daily.iter().collect();
    for chunk in rows.chunks(ROWS) {
        let mut sql = String::from(
            "INSERT INTO kpi_daily (region_code, day, subject_kind, subject_code, counters) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            let b = i * 5;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            ));
        }
        let mut q = sqlx::query(&sql);
        for ((region, day, kind, code), c) in chunk {
            q = q
                .bind(region.clone())
                .bind(day.clone())
                .bind(kind.clone())
                .bind(code.clone())
                .bind(serde_json::to_string(c).expect("json"));
        }
        q.execute(pool).await.expect("insert daily");
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure<DB: sqlx::Database>(
    name: &str,
    app: &App,
    pool: &sqlx::Pool<DB>,
    n: usize,
    generated: &Generated,
) where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let district: RegionCode = "440305".parse().expect("district");
    let period = Period::parse("2026-10").expect("month");
    let (from, to) = (period.start.to_string(), period.end.to_string());
    let mut rollup = Vec::new();
    let mut subjects = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let sums = app
            .repo
            .kpi_sum(district.as_str(), &from, &to)
            .await
            .expect("kpi sum");
        let table: Vec<(Subject, Indicators)> = sums
            .into_iter()
            .map(|(s, c)| {
                let i = Indicators::of(s.kind(), c);
                (s, i)
            })
            .collect();
        rollup.push(t.elapsed());
        subjects = table.len();
    }
    let mut plain = Vec::new();
    let mut groups = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let rows = sqlx::query(BASELINE)
            .bind(from.clone())
            .bind(to.clone())
            .bind("440305%".to_owned())
            .fetch_all(pool)
            .await
            .expect("baseline");
        plain.push(t.elapsed());
        groups = rows.len();
    }
    let (r, p) = (median(rollup), median(plain));
    println!(
        "{name:>9} {n:>11} {:>10} {:>12.1} {:>12.1} {:>9.0}× {:>8} {:>8} {:>10.0}",
        generated.daily.len(),
        r.as_secs_f64() * 1000.0,
        p.as_secs_f64() * 1000.0,
        p.as_secs_f64() / r.as_secs_f64().max(1e-9),
        subjects,
        groups,
        peak_mib()
    );
}

#[tokio::main]
async fn main() {
    let n = env_usize("CIVICGRID_BENCH_CASES", 1_000_000);
    let backends =
        std::env::var("CIVICGRID_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("month KPI table of the district (2026-10) over {n} generated cases");
    println!(
        "{:>9} {:>11} {:>10} {:>12} {:>12} {:>10} {:>8} {:>8} {:>10}",
        "backend",
        "cases",
        "daily rows",
        "rollup ms",
        "plain SQL ms",
        "speed-up",
        "subjects",
        "groups",
        "peak MiB"
    );
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t")));

    if backends.contains("sqlite") {
        let url = format!("sqlite:{}", dir.path().join("kpi.db").display());
        let repo = civicgrid_store::connect(&url).await.expect("sqlite");
        let app = App::new(repo, clock.clone());
        app.load_demo(1).await.expect("demo");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("pool");
        let g = stream(&app, &pool, n).await;
        measure("sqlite", &app, &pool, n, &g).await;
    }
    if backends.contains("postgres") {
        let pg = std::env::var("CIVICGRID_BENCH_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("bench_kpi_{}", std::process::id());
        match civicgrid_store::postgres::PgRepository::connect_in_schema(&pg, &schema).await {
            Ok(repo) => {
                let repo = Arc::new(repo);
                let app = App::new(repo.clone(), clock.clone());
                app.load_demo(1).await.expect("demo");
                let options =
                    <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&pg)
                        .expect("url")
                        .options([("search_path", schema.as_str())]);
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await
                    .expect("pool");
                let g = stream(&app, &pool, n).await;
                sqlx::query("ANALYZE")
                    .execute(&pool)
                    .await
                    .expect("analyze");
                measure("postgres", &app, &pool, n, &g).await;
                repo.drop_schema(&schema).await.expect("drop");
            }
            Err(e) => println!("{:>9}   unavailable: {e}", "postgres"),
        }
    }
}

/// Generates and loads the cases chunk by chunk, then the rollups; returns the rollups (the
/// last chunk's events are dropped).
async fn stream<DB: sqlx::Database>(app: &App, pool: &sqlx::Pool<DB>, n: usize) -> Generated
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let reference = app.reference().await.expect("reference");
    let mut grids: Vec<(GridCode, RegionCode)> = reference
        .grid_regions
        .iter()
        .map(|(g, r)| (g.clone(), r.clone()))
        .collect();
    grids.sort();
    let units: Vec<String> = reference.units.iter().map(|u| u.code.clone()).collect();
    sqlx::query(EVENTS_TABLE)
        .execute(pool)
        .await
        .expect("events table");
    let t = Instant::now();
    let mut g = Generated {
        events: Vec::new(),
        daily: BTreeMap::new(),
    };
    let mut events = 0;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let tz = reference.calendar.time_zone();
        generate(start..end, &grids, &units, &reference.calendar, tz, &mut g);
        events += g.events.len();
        load(pool, &g).await;
        start = end;
    }
    g.events.clear();
    finish(pool, &g).await;
    eprintln!(
        "generated and loaded {n} cases, {events} events, {} daily rows in {:.1} s",
        g.daily.len(),
        t.elapsed().as_secs_f64()
    );
    g
}
