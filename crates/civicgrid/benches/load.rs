//! Mixed load against a real `civicgrid serve` over a deployment holding many cases
//! (`CIVICGRID_BENCH_CASES`, default 1,000,000), on SQLite and on PostgreSQL: 80% reads (a
//! case page, a queue page, public tracking) and 20% writes (intake, and a call-taker
//! accepting a case), from `CIVICGRID_BENCH_CONNECTIONS` keep-alive connections (default 64)
//! for `CIVICGRID_BENCH_SECONDS` (default 20). Reports throughput, p50/p99 latency and the
//! server's peak RSS, and, as the baseline measured in the same run on the same server and
//! connections, the throughput of `/healthz` (HTTP without the database).
//!
//! Run with `bench/load.sh`. The server runs with `--no-jobs`: the generated cases are all
//! open and new, and the deadline job would sweep a million of them during the measurement,
//! which no steady-state deployment does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use civicgrid::App;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::SystemClock;
use civicgrid_domain::case::Channel;
use civicgrid_domain::territory::GridCode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_civicgrid");
const BODY: &str = r#"{"description":"夜间施工噪音扰民，影响休息","lon":113.9171,"lat":22.5168,"category":"07005"}"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A keep-alive HTTP/1.1 connection.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(addr: &str) -> Client {
        Client {
            stream: BufReader::new(TcpStream::connect(addr).await.expect("connect")),
        }
    }

    /// Sends a request and reads the whole answer; (status, body).
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> (u16, Vec<u8>) {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .expect("write");
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
            assert!(
                !line.to_ascii_lowercase().starts_with("transfer-encoding"),
                "chunked answers are not read by this client"
            );
        }
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

async fn start(db: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "--database",
            db,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-jobs",
            // One load generator is one client address: its lookups are still counted (the
            // cost is part of the figure), never refused.
            "--lookups-per-minute",
            "1000000000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("banner");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("address")
        .to_owned();
    (child, addr)
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Fills the deployment with `n` reported cases over every grid, through the real intake.
async fn fill(db: &str, n: usize) -> Vec<(String, String)> {
    let repo = civicgrid_store::connect(db).await.expect("store");
    let app = App::new(repo, Arc::new(SystemClock));
    app.load_demo(1).await.expect("demo");
    let mut grids: Vec<GridCode> = app
        .reference()
        .await
        .expect("reference")
        .grid_regions
        .keys()
        .cloned()
        .collect();
    grids.sort();
    let grids = Arc::new(grids);
    let t = Instant::now();
    let mut cases = Vec::with_capacity(n);
    let mut next = 0;
    while next < n {
        let end = (next + 256).min(n);
        let mut batch = tokio::task::JoinSet::new();
        for i in next..end {
            let (app, grids) = (app.clone(), grids.clone());
            batch.spawn(async move {
                let intake = Intake {
                    description: format!("路面破损，影响通行 {i}"),
                    location: None,
                    grid: Some(grids[i % grids.len()].clone()),
                    address: None,
                    category: Some("07005".parse().expect("category")),
                    attributes: Default::default(),
                    priority: None,
                    channel: Channel::Web,
                    reporter: None,
                    media_url: None,
                };
                let c = app
                    .report_case(intake, &Actor::Resident)
                    .await
                    .expect("reported");
                (c.id.to_string(), c.receipt_code)
            });
        }
        while let Some(done) = batch.join_next().await {
            cases.push(done.expect("task"));
        }
        next = end;
    }
    eprintln!("filled {n} cases in {:.0} s", t.elapsed().as_secs_f64());
    cases
}

struct Outcome {
    requests: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// `connections` clients for `seconds`, each running `mixed` (or only /healthz).
async fn drive(
    addr: &str,
    key: &str,
    cases: Arc<Vec<(String, String)>>,
    grids: Arc<Vec<String>>,
    connections: usize,
    seconds: u64,
    mixed: bool,
) -> Outcome {
    let until = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (addr, key, cases, grids) = (
            addr.to_owned(),
            key.to_owned(),
            cases.clone(),
            grids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(c as u64);
            let mut client = Client::connect(&addr).await;
            let auth = format!("Authorization: Bearer {key}\r\n");
            let mut mine: std::collections::VecDeque<String> = Default::default();
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < until {
                let t = Instant::now();
                let ok = if !mixed {
                    client.call("GET", "/healthz", "", "").await.0 == 200
                } else {
                    let r = rng.random_range(0..100);
                    let (id, receipt) = &cases[rng.random_range(0..cases.len())];
                    if r < 40 {
                        let path = format!("/api/v1/cases/{id}");
                        client.call("GET", &path, &auth, "").await.0 == 200
                    } else if r < 60 {
                        let grid = &grids[rng.random_range(0..grids.len())];
                        let path = format!("/api/v1/cases?status=reported&grid={grid}&limit=20");
                        client.call("GET", &path, &auth, "").await.0 == 200
                    } else if r < 80 {
                        let path = format!("/api/v1/track/{receipt}");
                        client.call("GET", &path, "", "").await.0 == 200
                    } else if r < 90 || mine.is_empty() {
                        let (status, body) = client.call("POST", "/api/v1/cases", "", BODY).await;
                        if status == 201 {
                            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
                            mine.push_back(v["id"].as_str().unwrap_or_default().to_owned());
                        }
                        status == 201
                    } else {
                        let id = mine.pop_front().unwrap_or_default();
                        let path = format!("/api/v1/cases/{id}/actions/accept");
                        let headers = format!("{auth}If-Match: \"1\"\r\n");
                        client.call("POST", &path, &headers, "{}").await.0 == 200
                    }
                };
                lat.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("client");
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p).round() as usize];
    Outcome {
        requests: all.len(),
        rate: all.len() as f64 / elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
        errors,
    }
}

async fn run(name: &str, db: &str, n: usize, connections: usize, seconds: u64) {
    let cases = Arc::new(fill(db, n).await);
    if db.starts_with("postgres") {
        // What autovacuum does within a minute of a bulk load: the planner's statistics.
        let pool = sqlx::PgPool::connect(db).await.expect("pool");
        sqlx::query("ANALYZE cases, case_events, case_units, case_receipts")
            .execute(&pool)
            .await
            .expect("analyze");
        pool.close().await;
    }
    let repo = civicgrid_store::connect(db).await.expect("store");
    let app = App::new(repo, Arc::new(SystemClock));
    let key = app
        .create_api_key("load", Some("calltaker1"))
        .await
        .expect("key");
    let grids: Arc<Vec<String>> = Arc::new(
        app.reference()
            .await
            .expect("reference")
            .grid_regions
            .keys()
            .map(|g| g.to_string())
            .collect(),
    );
    drop(app);
    let (server, addr) = start(db).await;
    let pid = server.id().expect("pid");
    // Warm up (caches, pools), then the baseline, then the mixed load.
    drive(
        &addr,
        &key,
        cases.clone(),
        grids.clone(),
        connections,
        3,
        true,
    )
    .await;
    let base = drive(
        &addr,
        &key,
        cases.clone(),
        grids.clone(),
        connections,
        5,
        false,
    )
    .await;
    let mixed = drive(&addr, &key, cases, grids, connections, seconds, true).await;
    let rss = peak_rss_mib(pid);
    println!(
        "{name:>9} {n:>10} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>7} {:>11.0} {:>8.0}% {:>9.0}",
        mixed.requests,
        mixed.rate,
        mixed.p50.as_secs_f64() * 1000.0,
        mixed.p99.as_secs_f64() * 1000.0,
        mixed.errors,
        base.rate,
        100.0 * mixed.rate / base.rate,
        rss
    );
    drop(server);
}

#[tokio::main]
async fn main() {
    let n = env_usize("CIVICGRID_BENCH_CASES", 1_000_000);
    let connections = env_usize("CIVICGRID_BENCH_CONNECTIONS", 64);
    let seconds = env_usize("CIVICGRID_BENCH_SECONDS", 20) as u64;
    let backends =
        std::env::var("CIVICGRID_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "mixed load (40% case page, 20% queue, 20% tracking, 10% intake, 10% accept), {connections} connections, {seconds} s"
    );
    println!(
        "{:>9} {:>10} {:>9} {:>10} {:>8} {:>8} {:>7} {:>11} {:>9} {:>9}",
        "backend",
        "cases",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "healthz/s",
        "of base",
        "peak MiB"
    );
    let dir = tempfile::tempdir().expect("dir");
    if backends.contains("sqlite") {
        let db = format!("sqlite:{}", dir.path().join("load.db").display());
        run("sqlite", &db, n, connections, seconds).await;
    }
    if backends.contains("postgres") {
        let url = std::env::var("CIVICGRID_BENCH_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("bench_load_{}", std::process::id());
        match civicgrid_store::postgres::PgRepository::connect_in_schema(&url, &schema).await {
            Ok(repo) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");
                run("postgres", &db, n, connections, seconds).await;
                repo.drop_schema(&schema).await.expect("drop");
            }
            Err(e) => println!("{:>9}   unavailable: {e}", "postgres"),
        }
    }
}
