//! Durable intake over HTTP (routing + event + commit) against the raw rate of inserting the
//! same row with a durable commit, in the same database and the same run, on SQLite and on
//! PostgreSQL; with p50 and p99 latency of the HTTP requests under load.
//!
//! Run with `bench/intake.sh` (or `cargo bench -p civicgrid --bench intake`). Environment:
//! CIVICGRID_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/test),
//! CIVICGRID_BENCH_REQUESTS (default 2000), CIVICGRID_BENCH_CLIENTS (default 8).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use civicgrid::App;
use civicgrid::clock::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BODY: &str = r#"{"description":"夜间施工噪音扰民，影响休息","lon":113.9171,"lat":22.5168,"category":"07005","address":"南头街道安乐社区"}"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A keep-alive HTTP/1.1 client on one connection.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: &str) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::with_capacity(8192),
        }
    }

    async fn post(&mut self, path: &str, body: &str) -> u16 {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(req.as_bytes()).await.expect("write");
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&self.buf);
            if let Some(end) = text.find("\r\n\r\n") {
                let head = &text[..end];
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    return head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                }
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn http_run(app: App, requests: usize, clients: usize) -> (f64, Duration, Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, civicgrid::http::router(app)).await;
    });
    let per = requests / clients;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(&addr).await;
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                let status = c.post("/api/v1/cases", BODY).await;
                assert_eq!(status, 201);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    server.abort();
    all.sort();
    (rate, percentile(&all, 0.5), percentile(&all, 0.99))
}

/// The same row without civicgrid: a case row as intake writes it, inserted into the same
/// `cases` table (with its indexes) by one plain statement per durable commit.
async fn raw_run<DB: sqlx::Database>(pool: sqlx::Pool<DB>, requests: usize, clients: usize) -> f64
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let state = serde_json::to_string(&civicgrid_domain::case::CaseState::new()).expect("state");
    let per = requests / clients;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (pool, state) = (pool.clone(), state.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let id = uuid::Uuid::now_v7().to_string();
                sqlx::query(
                    "INSERT INTO cases (id, receipt_code, channel, description, address, lon, lat, grid_code, region_code,
                       category_code, attributes, priority, routed_units, routing, status, state, version, clock, due_at,
                       reported_at, updated_at, public_id)
                     VALUES ($1, $2, 'web', '夜间施工噪音扰民，影响休息', '南头街道安乐社区', $3, $4, '440305001001001',
                       '440305001001', '07005', '{}', 'normal', '[\"ST001\"]',
                       'rule 12 (locality: category 07 in region 440305001) matched', 'reported', $5, 1,
                       '{\"stage\":\"accept\",\"limit\":{\"clock\":\"working_hours\",\"amount\":60}}', $6, $6, $6, $7)",
                )
                .bind(id)
                .bind(format!("R{c:03}-{i:05}"))
                .bind(113.9171)
                .bind(22.5168)
                .bind(state.clone())
                .bind(1_780_000_000_000_000i64 + i64::try_from(i).unwrap_or(0))
                .bind(format!("P{c:03}{i:08}"))
                .execute(&pool)
                .await
                .expect("insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (per * clients) as f64 / start.elapsed().as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let requests = env_usize("CIVICGRID_BENCH_REQUESTS", 2000);
    let clients = env_usize("CIVICGRID_BENCH_CLIENTS", 8);
    println!("durable intake, {requests} requests from {clients} concurrent clients");
    println!(
        "{:>10} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "backend", "raw rows/s", "intake/s", "of raw", "p50 ms", "p99 ms"
    );

    let backends =
        std::env::var("CIVICGRID_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    // SQLite: a file with civicgrid's settings (WAL, synchronous=FULL).
    let dir = tempfile::tempdir().expect("dir");
    if backends.contains("sqlite") {
        let path = dir.path().join("bench.db");
        let url = format!("sqlite:{}", path.display());
        let repo = civicgrid_store::connect(&url).await.expect("sqlite");
        let app = App::new(repo, Arc::new(SystemClock));
        app.load_demo(1).await.expect("demo");
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .expect("url")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let raw_pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("raw pool");
        let raw = raw_run(raw_pool.clone(), requests, clients).await;
        let (rate, p50, p99) = http_run(app.clone(), requests, clients).await;
        println!(
            "{:>10} {:>12.0} {:>12.0} {:>9.0}% {:>10.2} {:>10.2}",
            "sqlite",
            raw,
            rate,
            100.0 * rate / raw,
            ms(p50),
            ms(p99)
        );
        // The same intake without the trigger that queues cases for the assessment rollups.
        sqlx::query("DROP TRIGGER case_events_mark_kpi")
            .execute(&raw_pool)
            .await
            .expect("drop trigger");
        let (bare, p50, p99) = http_run(app, requests, clients).await;
        println!(
            "{:>10} {:>12} {:>12.0} {:>9.0}% {:>10.2} {:>10.2}   without rollups: with them = {:.0}% of this",
            "sqlite-",
            "",
            bare,
            100.0 * bare / raw,
            ms(p50),
            ms(p99),
            100.0 * rate / bare
        );
    }

    // PostgreSQL: a schema of its own in the test database.
    if !backends.contains("postgres") {
        return;
    }
    let pg = std::env::var("CIVICGRID_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("bench_intake_{}", std::process::id());
    match civicgrid_store::postgres::PgRepository::connect_in_schema(&pg, &schema).await {
        Ok(repo) => {
            let repo = Arc::new(repo);
            let app = App::new(repo.clone(), Arc::new(SystemClock));
            app.load_demo(1).await.expect("demo");
            let options = sqlx::postgres::PgConnectOptions::from_str(&pg)
                .expect("url")
                .options([("search_path", schema.as_str())]);
            let raw_pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .expect("raw pool");
            let raw = raw_run(raw_pool.clone(), requests, clients).await;
            let (rate, p50, p99) = http_run(app.clone(), requests, clients).await;
            println!(
                "{:>10} {:>12.0} {:>12.0} {:>9.0}% {:>10.2} {:>10.2}",
                "postgres",
                raw,
                rate,
                100.0 * rate / raw,
                ms(p50),
                ms(p99)
            );
            sqlx::query("DROP TRIGGER case_events_mark_kpi ON case_events")
                .execute(&raw_pool)
                .await
                .expect("drop trigger");
            let (bare, p50, p99) = http_run(app, requests, clients).await;
            println!(
                "{:>10} {:>12} {:>12.0} {:>9.0}% {:>10.2} {:>10.2}   without rollups: with them = {:.0}% of this",
                "postgres-",
                "",
                bare,
                100.0 * bare / raw,
                ms(p50),
                ms(p99),
                100.0 * rate / bare
            );
            repo.drop_schema(&schema).await.expect("drop");
        }
        Err(e) => println!("{:>10}   unavailable: {e}", "postgres"),
    }
}
