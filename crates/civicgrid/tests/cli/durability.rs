//! The crash test: kill -9 the real server again and again under mixed load (intake and
//! actions), 20 cycles per backend: every case and change that got an answer is there
//! after the restarts, no event is duplicated, and the integrity checks pass. Also: a
//! SIGTERM stops the server gracefully.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_civicgrid");

async fn start(db: &str) -> (Child, String) {
    start_logging(db, false).await
}

/// With `logs`, the server logs at info level to a piped stderr.
async fn start_logging(db: &str, logs: bool) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--database", db, "serve", "--listen", "127.0.0.1:0"])
        .env("CIVICGRID_LOG", if logs { "info" } else { "warn" })
        .stdout(Stdio::piped())
        .stderr(if logs { Stdio::piped() } else { Stdio::null() })
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
        .expect("address in banner")
        .to_owned();
    (child, addr)
}

/// One HTTP/1.1 POST on its own connection (`headers`: extra lines, each ending in CRLF);
/// the status and body, or None if the connection broke (the server was killed).
async fn post(addr: &str, path: &str, body: &str, headers: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split("\r\n\r\n").nth(1)?.to_owned();
    Some((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_20_kill_9_cycles() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("k.db").display());
    kill_9_cycles(&db, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_20_kill_9_cycles_on_postgresql() {
    let Some(pg) = crate::PgSchema::new("kill").await else {
        return;
    };
    kill_9_cycles(&pg.url, 20).await;
    pg.drop_schema().await;
}

/// SIGTERM: the request in flight (its handler already reading the body, as the
/// `100 Continue` shows) is answered, the process exits cleanly and holds no job lease.
/// Its logs are JSON lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_request_in_flight_and_frees_the_leases() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("t.db").display());
    let status = Command::new(BIN)
        .args(["--database", &db, "demo", "--months", "0"])
        .stdout(Stdio::null())
        .status()
        .await
        .expect("demo");
    assert!(status.success());
    let (server, addr) = start_logging(&db, true).await;
    let pool = sqlx::SqlitePool::connect(&db).await.expect("pool");
    // The demo's consultation made cases of its decisions: the request adds one to them.
    let (before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases")
        .fetch_one(&pool)
        .await
        .expect("cases");
    // The job loop's first round has begun (it made its lease rows).
    let waited = std::time::Instant::now();
    while sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM job_leases")
        .fetch_one(&pool)
        .await
        .map_or(true, |(n,)| n == 0)
    {
        assert!(waited.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let body =
        r#"{"description":"夜间施工噪音扰民","lon":113.9171,"lat":22.5168,"category":"07005"}"#;
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/cases HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("interim");
    assert!(line.starts_with("HTTP/1.1 100"), "{line}");
    reader.read_line(&mut line).await.expect("blank");
    let pid = server.id().expect("pid").to_string();
    let term = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(term.success());
    let mut s = reader.into_inner();
    s.write_all(body.as_bytes()).await.expect("body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("response");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    let exit = server.wait_with_output().await.expect("exit");
    assert!(exit.status.success(), "{:?}", exit.status);
    let logs: Vec<serde_json::Value> = String::from_utf8_lossy(&exit.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        logs.iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
    assert!(
        logs.iter().any(|l| l["message"] == "request"
            && l["route"] == "/api/v1/cases"
            && l["status"] == 201)
    );
    assert!(
        logs.iter()
            .any(|l| l["message"] == "stopped; job leases released"),
        "{logs:?}"
    );
    let (leases, held): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(owner) FROM job_leases")
            .fetch_one(&pool)
            .await
            .expect("leases");
    assert!(leases > 0, "the job ran");
    assert_eq!(held, 0);
    let (cases,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases")
        .fetch_one(&pool)
        .await
        .expect("cases");
    assert_eq!(cases, before + 1);
}

/// `cycles` times: a server under mixed load (4 clients, each reporting a case, then
/// accepting it as the call-taker and registering it as the dispatcher) is killed with
/// SIGKILL after some answers, and started again. Then: every acknowledged case and event
/// is there, no event is duplicated, and the integrity checks pass.
async fn kill_9_cycles(db: &str, cycles: usize) {
    let db = db.to_owned();
    let status = Command::new(BIN)
        .args(["--database", &db, "demo", "--months", "0"])
        .stdout(Stdio::null())
        .status()
        .await
        .expect("demo");
    assert!(status.success());
    let key = |user: &str| {
        let db = db.clone();
        let user = user.to_owned();
        async move {
            let out = Command::new(BIN)
                .args([
                    "--database",
                    &db,
                    "apikey",
                    "create",
                    "--name",
                    &user,
                    "--user",
                    &user,
                ])
                .output()
                .await
                .expect("apikey");
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }
    };
    let calltaker = key("calltaker1").await;
    let dispatcher = key("dispatcher.st1").await;
    // (case id, version) of every change the server acknowledged.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
    let body =
        r#"{"description":"夜间施工噪音扰民","lon":113.9171,"lat":22.5168,"category":"07005"}"#;
    for cycle in 0..cycles {
        let (mut server, addr) = start(&db).await;
        let count = Arc::new(AtomicUsize::new(0));
        let progress = Arc::new(tokio::sync::Notify::new());
        let mut clients = Vec::new();
        for _ in 0..4 {
            let (addr, acknowledged, count, progress) = (
                addr.clone(),
                acknowledged.clone(),
                count.clone(),
                progress.clone(),
            );
            let steps = [
                ("accept", calltaker.clone(), 1),
                ("register", dispatcher.clone(), 2),
            ];
            clients.push(tokio::spawn(async move {
                let ack = |id: &str, version: u64| {
                    acknowledged
                        .lock()
                        .expect("lock")
                        .push((id.to_owned(), version));
                    count.fetch_add(1, Ordering::SeqCst);
                    progress.notify_one();
                };
                // Bounded: at most 300 cases per client, stopping at the first broken request.
                for _ in 0..300 {
                    let id = match post(&addr, "/api/v1/cases", body, "").await {
                        Some((201, body)) => {
                            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
                            v["id"].as_str().expect("id").to_owned()
                        }
                        Some((status, body)) => panic!("unexpected {status}: {body}"),
                        None => return,
                    };
                    ack(&id, 1);
                    for (action, key, version) in &steps {
                        let headers =
                            format!("Authorization: Bearer {key}\r\nIf-Match: \"{version}\"\r\n");
                        let path = format!("/api/v1/cases/{id}/actions/{action}");
                        match post(&addr, &path, "{}", &headers).await {
                            Some((200, _)) => ack(&id, version + 1),
                            Some((status, body)) => panic!("{action}: {status}: {body}"),
                            None => return,
                        }
                    }
                }
            }));
        }
        // Kill the server mid-load, after a number of answers that varies per cycle.
        let answers = 12 + (cycle * 7) % 40;
        while count.load(Ordering::SeqCst) < answers {
            progress.notified().await;
        }
        server.start_kill().expect("kill -9");
        server.wait().await.expect("killed");
        for c in clients {
            c.await.expect("client");
        }
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= cycles * 12);

    // Restart once more: the server serves on the same database.
    let (mut again, addr) = start(&db).await;
    let (status, _) = post(&addr, "/api/v1/cases", body, "")
        .await
        .expect("serves again");
    assert_eq!(status, 201);
    again.start_kill().expect("stop");
    again.wait().await.expect("stopped");

    let repo = civicgrid_store::connect(&db).await.expect("open");
    let mut cases = std::collections::BTreeMap::<String, u64>::new();
    for (id, version) in &acknowledged {
        let v = cases.entry(id.clone()).or_default();
        *v = (*v).max(*version);
    }
    for (id, acked) in &cases {
        let uuid: uuid::Uuid = id.parse().expect("uuid");
        let case = repo
            .case(&uuid)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged case {id} was lost"));
        assert!(
            case.state.version >= *acked,
            "case {id}: change {acked} lost"
        );
        let events = repo.case_events(&uuid).await.expect("events");
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=case.state.version).collect::<Vec<_>>(),
            "case {id}: one event per version, no gap, no duplicate"
        );
        for action in ["report", "accept", "register"] {
            assert!(
                events.iter().filter(|e| e.action == action).count() <= 1,
                "case {id}: {action} twice"
            );
        }
    }
    assert_eq!(
        repo.check_integrity().await.expect("check"),
        Vec::<String>::new()
    );
    let out = Command::new(BIN)
        .args(["--database", &db, "check"])
        .output()
        .await
        .expect("check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "{cycles} kill -9 cycles: {} acknowledged changes on {} cases, all there",
        acknowledged.len(),
        cases.len()
    );
}
