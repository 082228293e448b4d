//! Notifications end to end against a real SMTP server: aiosmtpd (`scripts/smtp_sink.py`),
//! installed by `scripts/test` into target/external/smtp and named by
//! `CIVICGRID_TEST_SMTP_PYTHON`. Reporters get the accepted and closed messages with the
//! receipt and a working evaluation link, staff get the notices they chose, a server that is
//! down holds messages until it is back, a refusing one leaves them on the dead-letter list,
//! and two instances deliver each message once.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use civicgrid::clock::ManualClock;
use civicgrid::notifications::email::Mailer;
use civicgrid::notifications::{NotifierSettings, OwnChannels, StaffAddresses};
use civicgrid_domain::case::{Action, Status};
use serde_json::json;

use super::support::{Backend, TestApp, staff};

/// The Python with aiosmtpd, or None (the test says it is skipped; CI must have it).
fn smtp_python() -> Option<PathBuf> {
    let named = std::env::var_os("CIVICGRID_TEST_SMTP_PYTHON").map(PathBuf::from);
    let beside =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/external/smtp/bin/python");
    let found = named.or_else(|| beside.exists().then_some(beside));
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs the SMTP tests: scripts/test installs aiosmtpd and sets CIVICGRID_TEST_SMTP_PYTHON"
        );
        eprintln!("SKIPPED: no aiosmtpd (run scripts/test, which installs it)");
    }
    found
}

/// A running SMTP sink and the messages it accepted.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    python: PathBuf,
    extra: Vec<String>,
}

impl Sink {
    fn start(extra: &[&str]) -> Option<Sink> {
        let python = smtp_python()?;
        let dir = tempfile::tempdir().expect("dir");
        let (child, port) = spawn(&python, dir.path(), 0, extra);
        Some(Sink {
            child,
            port,
            dir,
            python,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts again on the same port and folder.
    fn restart(&mut self) {
        self.stop();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let (child, _) = spawn(&self.python, self.dir.path(), self.port, &extra);
        self.child = child;
    }

    fn mails(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Mail::parse(&std::fs::read_to_string(p).expect("mail")))
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(python: &PathBuf, dir: &std::path::Path, port: u16, extra: &[&str]) -> (Child, u16) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp_sink.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(dir)
        .args(["--port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("smtp sink");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the sink said {line:?}"));
    (child, port)
}

/// A received e-mail: its headers (unfolded, encoded words decoded) and its decoded body.
#[derive(Debug)]
struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let headers: Vec<(String, String)> = unfolded
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), decode_words(v.trim())))
            .collect();
        let encoding = headers
            .iter()
            .find(|(k, _)| k == "content-transfer-encoding")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let body = match encoding.as_str() {
            "base64" => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(body.replace("\r\n", ""))
                    .expect("base64 body"),
            )
            .expect("utf-8 body"),
            "quoted-printable" => quoted_printable(body),
            _ => body.to_owned(),
        };
        Mail { headers, body }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`), adjacent ones joined.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    for token in value.split(' ') {
        let lower = token.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?") && token.ends_with("?=") && token.len() > 12 {
            let kind = &lower[8..9];
            let data = &token[10..token.len() - 2];
            if kind == "b" {
                bytes.extend(
                    base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .expect("encoded word"),
                );
            } else {
                bytes.extend(quoted_printable(&data.replace('_', " ")).into_bytes());
            }
            continue;
        }
        if !bytes.is_empty() {
            out.push_str(&String::from_utf8(std::mem::take(&mut bytes)).expect("utf-8 word"));
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    if !bytes.is_empty() {
        out.push_str(&String::from_utf8(bytes).expect("utf-8 word"));
    }
    out
}

fn quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// A report over REST, with the reporter's address if `email` is not empty.
async fn report(t: &TestApp, email: &str) -> (uuid::Uuid, String) {
    let reporter = if email.is_empty() {
        json!({"name": "李女士", "phone": "13800138000"})
    } else {
        json!({"name": "李女士", "email": email})
    };
    let a = t
        .post("/api/v1/cases")
        .json(&json!({
            "description": "安乐社区路口井盖丢失，晚上很危险",
            "lon": 113.9171, "lat": 22.5168,
            "category": "01001", "attributes": {"damage": "missing"},
            "reporter": reporter
        }))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let v = a.json();
    (
        v["id"].as_str().expect("id").parse().expect("uuid"),
        v["receipt_code"].as_str().expect("receipt").to_owned(),
    )
}

async fn step(t: &TestApp, id: &uuid::Uuid, who: &str, action: Action) {
    let case = t.app.get_case(id).await.expect("case");
    t.app
        .act_on_case(id, case.state.version, action, &staff(&t.app, who).await)
        .await
        .expect("step");
}

fn notifier(url: &str) -> Arc<NotifierSettings> {
    Arc::new(NotifierSettings {
        mailer: Some(
            Mailer::new(url, "南山街道网格化服务中心 <noreply@nanshan.example.cn>")
                .expect("mailer"),
        ),
        public_url: "https://jiedao.example.cn".into(),
        ..Default::default()
    })
}

async fn run(backend: Backend) {
    let Some(mut sink) = Sink::start(&["--refuse-to", "refused.example"]) else {
        return;
    };
    // 10:00 in Shenzhen: no quiet hours.
    let clock = Arc::new(ManualClock::new("2026-03-03T02:00:00Z".parse().expect("t")));
    let Some(mut t) = TestApp::builder()
        .on(backend)
        .clock(clock.clone())
        .demo(1)
        .sealed()
        .try_build()
        .await
    else {
        return;
    };
    t.app.notifier = notifier(&sink.url());
    // The unit's handler and the grid's worker chose e-mail on their profiles.
    for (who, address) in [
        ("handler.swjt", "handler@swjt.example.cn"),
        ("gw.st1c1.1", "gw1@nanshan.example.cn"),
    ] {
        let actor = staff(&t.app, who).await;
        t.app
            .set_own_channels(
                &actor,
                OwnChannels {
                    addresses: StaffAddresses {
                        email: Some(address.into()),
                        phone: None,
                    },
                    email: true,
                    ..Default::default()
                },
            )
            .await
            .expect("channels");
    }
    // A channel without its address is refused, and nothing changes.
    let refused = t
        .app
        .set_own_channels(
            &staff(&t.app, "dispatcher.st1").await,
            OwnChannels {
                sms: true,
                ..Default::default()
            },
        )
        .await;
    assert!(refused.is_err());

    // Reported: nobody is told yet. Accepted: the reporter gets the receipt.
    let (id, receipt) = report(&t, "li@example.org").await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!((r.events, r.sent), (0, 0));
    step(&t, &id, "calltaker1", Action::Accept).await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!((r.events, r.written, r.sent), (1, 1, 1), "{r:?}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let accepted = &mails[0];
    assert_eq!(accepted.header("to"), "li@example.org");
    assert!(
        accepted
            .header("from")
            .contains("noreply@nanshan.example.cn")
    );
    assert!(
        accepted.header("from").contains("南山街道网格化服务中心"),
        "{}",
        accepted.header("from")
    );
    let subject = accepted.header("subject");
    assert!(
        subject.contains("已受理") && subject.contains(&receipt),
        "{subject}"
    );
    assert!(
        accepted.body.contains(&format!("受理编号：{receipt}")),
        "{}",
        accepted.body
    );
    assert!(
        accepted
            .body
            .contains(&format!("https://jiedao.example.cn/track/{receipt}")),
        "{}",
        accepted.body
    );
    assert!(accepted.body.contains("安乐社区路口井盖丢失"));
    assert!(
        accepted
            .header("content-type")
            .to_ascii_lowercase()
            .contains("utf-8")
    );
    let message_id = accepted.header("message-id").to_owned();
    let kept = t.app.repo.case_messages(&id).await.expect("messages");
    assert_eq!(kept.len(), 1);
    assert_eq!(message_id, format!("<{}@nanshan.example.cn>", kept[0].id));
    let unsubscribe = accepted
        .header("list-unsubscribe")
        .trim_matches(['<', '>'])
        .to_owned();
    assert!(unsubscribe.starts_with("https://jiedao.example.cn/notifications/unsubscribe/"));
    assert!(accepted.body.contains(&unsubscribe));

    // Through the loop to closed: the unit hears of the dispatch, the grid worker of the
    // report-back, the reporter of the closing, with a link that evaluates.
    step(&t, &id, "calltaker1", Action::Register).await;
    step(
        &t,
        &id,
        "dispatcher.st1",
        Action::Dispatch {
            units: vec!["SWJT".into()],
        },
    )
    .await;
    step(&t, &id, "handler.swjt", Action::StartHandling).await;
    step(
        &t,
        &id,
        "handler.swjt",
        Action::ReportBack {
            note: "已更换井盖".into(),
        },
    )
    .await;
    step(
        &t,
        &id,
        "gw.st1c1.1",
        Action::Verify {
            passed: true,
            note: String::new(),
        },
    )
    .await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.sent, 3, "{r:?}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 4);
    let to = |address: &str| {
        mails
            .iter()
            .find(|m| m.header("to") == address)
            .unwrap_or_else(|| panic!("nothing to {address}"))
    };
    let dispatched = to("handler@swjt.example.cn");
    assert!(
        dispatched.header("subject").contains("【派遣】"),
        "{}",
        dispatched.header("subject")
    );
    assert!(
        dispatched
            .body
            .contains(&format!("https://jiedao.example.cn/work/case/{id}"))
    );
    assert!(dispatched.body.contains("水务"), "{}", dispatched.body);
    let verify = to("gw1@nanshan.example.cn");
    assert!(verify.header("subject").contains("待核查"));
    let closed = mails
        .iter()
        .filter(|m| m.header("to") == "li@example.org")
        .nth(1)
        .expect("closed");
    assert!(
        closed.header("subject").contains("已办结"),
        "{}",
        closed.header("subject")
    );
    let link = closed
        .body
        .split_whitespace()
        .find(|w| w.contains("?key="))
        .expect("evaluation link")
        .to_owned();
    assert!(
        link.starts_with(&format!("https://jiedao.example.cn/track/{receipt}?key=")),
        "{link}"
    );
    let path = link.trim_start_matches("https://jiedao.example.cn");
    let key = link
        .split("?key=")
        .nth(1)
        .and_then(|k| k.split('#').next())
        .expect("key")
        .to_owned();
    // The link opens the evaluation without the secret; a forged key is refused.
    let page = t.get(path).send().await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text()
            .contains(&format!("name=\"secret\" value=\"{key}\""))
    );
    let forged = t
        .post(&format!("/api/v1/track/{receipt}/evaluation"))
        .json(&json!({"secret": "0".repeat(32), "satisfaction": "satisfied"}))
        .send()
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text());

    // The reporter unsubscribes through the link (no account), then finds the result wanting:
    // the case is reopened, and nobody writes to them about it.
    let token = unsubscribe.rsplit('/').next().expect("token");
    let page = t
        .get(&format!("/notifications/unsubscribe/{token}"))
        .send()
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let bad = t.get("/notifications/unsubscribe/not-a-token").send().await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    t.app.unsubscribe(token).await.expect("unsubscribed");
    let evaluated = t
        .post(&format!("/api/v1/track/{receipt}/evaluation"))
        .json(&json!({"secret": key, "satisfaction": "unsatisfied", "comment": "井盖又松了"}))
        .send()
        .await;
    assert_eq!(evaluated.status, StatusCode::OK, "{}", evaluated.text());
    let case = t.app.get_case(&id).await.expect("case");
    assert_ne!(case.state.status, Status::Evaluated);
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.sent, 0, "{r:?}");
    assert_eq!(sink.mails().len(), 4);

    // The mail server is down: the message waits, and goes out once it is back.
    sink.stop();
    let (second, receipt2) = report(&t, "wang@example.org").await;
    step(&t, &second, "calltaker1", Action::Accept).await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!((r.sent, r.retried), (0, 1), "{r:?}");
    let waiting = t.app.repo.case_messages(&second).await.expect("messages");
    assert_eq!(waiting[0].status, "pending");
    assert!(waiting[0].last_error.is_some());
    clock.set("2026-03-03T02:01:00Z".parse().expect("t"));
    sink.restart();
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.sent, 1, "{r:?}");
    let last = sink.mails();
    assert_eq!(last.len(), 5);
    assert!(last[4].header("subject").contains(&receipt2));

    // A server that refuses the address for good: the message is dead at once, listed for the
    // administrator with its address masked; retried, it fails again; discarded with a reason.
    let (third, _) = report(&t, "gone@refused.example").await;
    step(&t, &third, "calltaker1", Action::Accept).await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.dead, 1, "{r:?}");
    let admin = staff(&t.app, "admin").await;
    let dead = t.app.dead_letters(&admin).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].to, "g***@refused.example");
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("550"))
    );
    assert!(
        t.app
            .dead_letters(&staff(&t.app, "calltaker1").await)
            .await
            .is_err()
    );
    t.app
        .retry_dead_letter(&admin, &dead[0].id)
        .await
        .expect("retry");
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.dead, 1, "{r:?}");
    assert!(
        t.app
            .discard_dead_letter(&admin, &dead[0].id, " ")
            .await
            .is_err()
    );
    let gone = t
        .app
        .discard_dead_letter(&admin, &dead[0].id, "居民留错了邮箱")
        .await
        .expect("discard");
    assert_eq!(gone.status, "discarded");
    assert!(t.app.dead_letters(&admin).await.expect("none").is_empty());

    // Two instances deliver a batch side by side: each message once.
    let other = {
        let mut other = t.another_instance().await;
        other.sealer = t.app.sealer.clone();
        other.notifier = t.app.notifier.clone();
        other.jobs = Arc::new(civicgrid::jobs::JobSettings {
            instance: "second-instance".into(),
            ..(*t.app.jobs).clone()
        });
        other
    };
    let mut batch = Vec::new();
    for n in 0..12 {
        let (case, _) = report(&t, &format!("resident{n}@example.org")).await;
        step(&t, &case, "calltaker1", Action::Accept).await;
        batch.push(case);
    }
    t.app.expand_notification_events().await.expect("expand");
    let (a, b) = tokio::join!(t.app.deliver_messages(), other.deliver_messages());
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.sent + b.sent, 12, "{a:?} {b:?}");
    let mails = sink.mails();
    let mut ids: Vec<&str> = mails.iter().map(|m| m.header("message-id")).collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((all, ids.len()), (17, 17));

    // The unit's handler asks for a daily digest: two dispatches in the afternoon wait for
    // 08:00 the next morning and go as one e-mail; a red alarm would not wait.
    let handler = staff(&t.app, "handler.swjt").await;
    t.app
        .set_own_channels(
            &handler,
            OwnChannels {
                addresses: StaffAddresses {
                    email: Some("handler@swjt.example.cn".into()),
                    phone: None,
                },
                email: true,
                digest: true,
                ..Default::default()
            },
        )
        .await
        .expect("digest");
    clock.set("2026-03-03T07:00:00Z".parse().expect("15:00 in Shenzhen"));
    for _ in 0..2 {
        let (case, _) = report(&t, "").await;
        step(&t, &case, "calltaker1", Action::Accept).await;
        step(&t, &case, "calltaker1", Action::Register).await;
        step(
            &t,
            &case,
            "dispatcher.st1",
            Action::Dispatch {
                units: vec!["SWJT".into()],
            },
        )
        .await;
    }
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!((r.written, r.sent), (2, 0), "{r:?}");
    clock.set("2026-03-04T00:00:00Z".parse().expect("08:00 in Shenzhen"));
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.sent, 2, "{r:?}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 18);
    let digest = &mails[17];
    assert_eq!(digest.header("to"), "handler@swjt.example.cn");
    assert!(
        digest.header("subject").contains("今日工作通知（2 条）"),
        "{}",
        digest.header("subject")
    );
    assert_eq!(
        digest.body.matches("【派遣】").count(),
        2,
        "{}",
        digest.body
    );
    t.finish().await;
}

#[tokio::test]
async fn reporters_and_staff_are_told_by_e_mail_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn reporters_and_staff_are_told_by_e_mail_on_postgresql() {
    run(Backend::Postgres).await;
}

/// The real server sends a batch and is killed (SIGKILL) in the middle of it, again and
/// again. The mail server lets exactly three messages through each time (`--tokens`) and
/// parks the rest at RCPT, so each kill finds sends in flight none of which has gone out; the
/// killed sender's leases are then run out (the test does not wait 90 s for them) and a new
/// sender takes over. Every message arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_batch_loses_no_message_and_sends_none_twice() {
    use civicgrid::cases::seal::Sealer;
    const N: usize = 12;
    const PER_LIFE: usize = 3;
    let gate = tempfile::tempdir().expect("dir");
    let tokens = gate.path().join("tokens");
    std::fs::write(&tokens, "0").expect("gate");
    let Some(sink) = Sink::start(&["--tokens", tokens.to_str().expect("path")]) else {
        return;
    };
    let mut t = TestApp::builder().demo(1).build().await;
    let key = Sealer::generate_hex();
    t.app.sealer = Some(Arc::new(Sealer::from_hex(&key).expect("key")));
    for n in 0..N {
        let (case, _) = report(&t, &format!("resident{n}@example.org")).await;
        step(&t, &case, "calltaker1", Action::Accept).await;
    }
    let pool = sqlx::SqlitePool::connect(&t.url).await.expect("pool");
    let sent = || async {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM notification_messages WHERE status = 'sent'")
                .fetch_one(&pool)
                .await
                .expect("count");
        usize::try_from(n).expect("count")
    };
    let mut kills = 0;
    while sent().await < N {
        let before = sent().await;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_civicgrid"))
            .args(["--database", &t.url, "serve", "--listen", "127.0.0.1:0"])
            .args([
                "--smtp-url",
                &sink.url(),
                "--public-url",
                "https://jiedao.example.cn",
            ])
            .env("CIVICGRID_DATA_KEY", &key)
            .env("CIVICGRID_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("server");
        let wanted = (before + PER_LIFE).min(N);
        std::fs::write(&tokens, (wanted - before).to_string()).expect("tokens");
        // Until those have gone out and been recorded as sent; the rest of the batch is
        // parked at RCPT.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while sent().await < wanted {
            assert!(
                std::time::Instant::now() < deadline,
                "no progress: {} sent",
                sent().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        child.start_kill().expect("kill -9");
        child.wait().await.expect("killed");
        if wanted < N {
            kills += 1;
        }
        // The killed sender's leases run out.
        sqlx::query("UPDATE notification_messages SET leased_until = 0 WHERE status = 'pending'")
            .execute(&pool)
            .await
            .expect("leases");
    }
    assert_eq!(kills, N / PER_LIFE - 1);
    let mails = sink.mails();
    let mut ids: Vec<&str> = mails.iter().map(|m| m.header("message-id")).collect();
    let mut to: Vec<&str> = mails.iter().map(|m| m.header("to")).collect();
    ids.sort();
    ids.dedup();
    to.sort();
    to.dedup();
    assert_eq!(
        (mails.len(), ids.len(), to.len()),
        (N, N, N),
        "after {kills} kills"
    );
    t.finish().await;
}

/// What an SMS peer received: the path, the headers and the body.
#[derive(Clone, Debug)]
struct Texted {
    path: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A peer standing in for an SMS provider over https: it keeps what it gets and answers
/// with the next scripted (status, body), or 200 and `ok` once the script is used up.
#[derive(Clone, Default)]
struct SmsPeer {
    got: Arc<std::sync::Mutex<Vec<Texted>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<(u16, String)>>>,
    ok: Arc<std::sync::Mutex<String>>,
}

impl SmsPeer {
    async fn start(ok: &str) -> (SmsPeer, String, Vec<u8>) {
        let peer = SmsPeer::default();
        *peer.ok.lock().expect("ok") = ok.to_owned();
        let router = axum::Router::new()
            .fallback(
                |axum::extract::State(peer): axum::extract::State<SmsPeer>,
                 uri: axum::http::Uri,
                 headers: axum::http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    peer.got.lock().expect("got").push(Texted {
                        path: uri.to_string(),
                        headers,
                        body: body.to_vec(),
                    });
                    let (status, text) = peer
                        .script
                        .lock()
                        .expect("script")
                        .pop_front()
                        .unwrap_or_else(|| (200, peer.ok.lock().expect("ok").clone()));
                    (
                        StatusCode::from_u16(status).expect("status"),
                        [("content-type", "application/json")],
                        text,
                    )
                },
            )
            .with_state(peer.clone());
        let (base, ca) = super::support::serve_tls(router).await;
        (peer, base, ca)
    }

    fn got(&self) -> Vec<Texted> {
        self.got.lock().expect("got").clone()
    }

    fn answer_next(&self, status: u16, body: &str) {
        self.script
            .lock()
            .expect("script")
            .push_back((status, body.to_owned()));
    }
}

/// SMS through the same outbox, over https: a reporter who left only a number and a
/// handler who chose SMS are texted through a generic gateway; a gateway that is busy holds
/// the message, one that refuses it leaves it dead; Tencent Cloud's API is spoken with its
/// signature, which the peer checks with the shared secret.
async fn sms_run(backend: Backend) {
    // 10:00 in Shenzhen: no quiet hours.
    let clock = Arc::new(ManualClock::new("2026-03-03T02:00:00Z".parse().expect("t")));
    let Some(mut t) = TestApp::builder()
        .on(backend)
        .clock(clock.clone())
        .demo(1)
        .sealed()
        .try_build()
        .await
    else {
        return;
    };
    let (gateway, base, ca) = SmsPeer::start(r#"{"code":0}"#).await;
    let config = format!(
        r#"
provider = "gateway"
url = "{base}/sms/send?ref={{{{id}}}}"
body = '{{"mobile": "{{{{phone}}}}", "content": "{{{{text}}}}"}}'
headers = {{ Authorization = "Bearer gw-key" }}
success_contains = '"code":0'
"#
    );
    let provider = civicgrid::notifications::sms::SmsConfig::parse("sms.toml", &config)
        .expect("gateway config");
    t.app.notifier = Arc::new(NotifierSettings {
        sms: Some(provider),
        public_url: "https://jiedao.example.cn".into(),
        ..Default::default()
    });
    t.app.outbound = civicgrid::outbound::Outbound::trusting(&ca).expect("CA");
    // Choosing SMS needs a number; with one, it is kept.
    let handler = staff(&t.app, "handler.swjt").await;
    let no_number = t
        .app
        .set_own_channels(
            &handler,
            OwnChannels {
                sms: true,
                ..Default::default()
            },
        )
        .await;
    assert!(no_number.is_err());
    t.app
        .set_own_channels(
            &handler,
            OwnChannels {
                addresses: StaffAddresses {
                    email: None,
                    phone: Some("139 0000 1111".into()),
                },
                sms: true,
                ..Default::default()
            },
        )
        .await
        .expect("sms chosen");

    // The reporter left a number only: the acceptance is texted.
    let (id, receipt) = report(&t, "").await;
    step(&t, &id, "calltaker1", Action::Accept).await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!((r.written, r.sent), (1, 1), "{r:?}");
    let got = gateway.got();
    assert_eq!(got.len(), 1);
    let text: serde_json::Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(text["mobile"], "13800138000");
    let content = text["content"].as_str().expect("content");
    assert!(content.contains(&receipt), "{content}");
    assert!(
        content.contains("https://jiedao.example.cn/track/"),
        "{content}"
    );
    assert!(got[0].path.starts_with("/sms/send?ref="), "{}", got[0].path);
    assert_eq!(got[0].headers["authorization"], "Bearer gw-key");

    // Dispatched to the water company: its handler is texted; the gateway is busy first.
    gateway.answer_next(503, "busy");
    step(&t, &id, "calltaker1", Action::Register).await;
    step(
        &t,
        &id,
        "dispatcher.st1",
        Action::Dispatch {
            units: vec!["SWJT".into()],
        },
    )
    .await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!((r.sent, r.retried), (0, 1), "{r:?}");
    let counts = civicgrid_store::NotificationStore::message_counts(t.app.repo.as_ref())
        .await
        .expect("counts");
    assert_eq!(counts.pending, 1);
    clock.set("2026-03-03T02:01:00Z".parse().expect("t"));
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.sent, 1, "{r:?}");
    let got = gateway.got();
    let text: serde_json::Value = serde_json::from_slice(&got[2].body).expect("json");
    assert_eq!(text["mobile"], "139 0000 1111");

    // A refusal is for good: the message is dead, the number masked on the list.
    gateway.answer_next(200, r#"{"code":41,"msg":"number 13800138000 is blocked"}"#);
    step(&t, &id, "handler.swjt", Action::StartHandling).await;
    step(
        &t,
        &id,
        "handler.swjt",
        Action::ReportBack {
            note: "已补装井盖".into(),
        },
    )
    .await;
    step(
        &t,
        &id,
        "gw.st1c1.1",
        Action::Verify {
            passed: true,
            note: "现场已核实".into(),
        },
    )
    .await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.dead, 1, "{r:?}");
    let admin = staff(&t.app, "admin").await;
    let dead = t.app.dead_letters(&admin).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].channel, "sms");
    assert_eq!(dead[0].to, "***8000");

    // No secret at hand: a code texted to the number left with the report evaluates the
    // closed case. The number is only shown masked; a second code must wait a minute.
    let asked = t
        .post(&format!("/api/v1/track/{receipt}/verification-code"))
        .send()
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    assert_eq!(asked.json()["sent_to"], "***8000");
    let texted = gateway.got();
    let sent: serde_json::Value =
        serde_json::from_slice(&texted.last().expect("texted").body).expect("json");
    assert_eq!(sent["mobile"], "13800138000");
    let content = sent["content"].as_str().expect("content");
    let code: String = content
        .split("验证码为")
        .nth(1)
        .expect("a code")
        .chars()
        .take(6)
        .collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{content}");
    let again = t
        .post(&format!("/api/v1/track/{receipt}/verification-code"))
        .send()
        .await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        again.text()
    );
    assert!(again.header("retry-after").is_some());
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let refused = t
        .post(&format!("/api/v1/track/{receipt}/evaluation"))
        .json(&json!({"code": wrong, "satisfaction": "satisfied"}))
        .send()
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let evaluated = t
        .post(&format!("/api/v1/track/{receipt}/evaluation"))
        .json(&json!({"code": code, "satisfaction": "satisfied", "comment": "短信验证后评价"}))
        .send()
        .await;
    assert_eq!(evaluated.status, StatusCode::OK, "{}", evaluated.text());
    assert_eq!(evaluated.json()["status"], "evaluated");
    let rows = super::support::every_row(&t).await;
    assert!(
        rows.iter().any(|(table, _)| table == "verification_codes"),
        "the code is kept"
    );
    assert!(
        !rows
            .iter()
            .any(|(_, r)| r.contains("13800138000") || r.contains("8613800138000")),
        "the number is kept only sealed and as a keyed digest"
    );
    // A case still open awaits no evaluation: no code is sent.
    let (open, open_receipt) = report(&t, "").await;
    let early = t
        .post(&format!("/api/v1/track/{open_receipt}/verification-code"))
        .send()
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text());

    // A meeting convened with the water company invited: its handler is summoned by text,
    // with the meeting, the time and the answer's deadline.
    let open_case = t.app.get_case(&open).await.expect("open case");
    let leader = staff(&t.app, "leader.st1").await;
    let meeting = t
        .app
        .convene_meeting(
            &leader,
            civicgrid::consultation::NewMeeting {
                kind: civicgrid_domain::consultation::MeetingKind::JointConsultation,
                scope: open_case.region.to_string(),
                title: "井盖治理联席会商".into(),
                place: "社区党群服务中心".into(),
                starts_at: "2026-03-10T02:00:00Z".parse().expect("t"),
                invitees: vec![civicgrid::consultation::NewInvitee {
                    kind: civicgrid_domain::consultation::InviteeKind::Unit,
                    reference: "SWJT".into(),
                    name: String::new(),
                }],
                agenda: vec![civicgrid::consultation::NewAgendaItem {
                    title: "井盖丢失".into(),
                    topic: None,
                    cases: vec![open_case.public_id.clone()],
                }],
            },
        )
        .await
        .expect("meeting");
    let before = gateway.got().len();
    let r = t.app.run_notifications().await.expect("round");
    assert!(r.written >= 1 && r.sent >= 1, "{r:?}");
    let texted = gateway.got();
    let summons: Vec<serde_json::Value> = texted[before..]
        .iter()
        .map(|g| serde_json::from_slice(&g.body).expect("json"))
        .filter(|v: &serde_json::Value| {
            v["content"]
                .as_str()
                .unwrap_or_default()
                .contains("会议召集")
        })
        .collect();
    assert_eq!(summons.len(), 1, "{texted:?}");
    assert_eq!(summons[0]["mobile"], "139 0000 1111");
    let content = summons[0]["content"].as_str().expect("content");
    assert!(
        content.contains("井盖治理联席会商")
            && content.contains("2026-03-10 10:00")
            && content.contains(&format!("/meetings/{}", meeting.public_id)),
        "{content}"
    );

    // An urgent notice to a grid: its worker, who chose SMS, is texted at once; a dispatcher
    // may not send one, and a bad grid is refused by field.
    let worker = staff(&t.app, "gw.st1c1.1").await;
    t.app
        .set_own_channels(
            &worker,
            OwnChannels {
                addresses: StaffAddresses {
                    email: None,
                    phone: Some("137 0000 2222".into()),
                },
                sms: true,
                ..Default::default()
            },
        )
        .await
        .expect("worker's channels");
    let beat_grid = t
        .app
        .repo
        .beats()
        .await
        .expect("beats")
        .into_iter()
        .find(|b| b.workers.iter().any(|w| w == "gw.st1c1.1"))
        .and_then(|b| b.grids.first().cloned())
        .expect("the worker's grid")
        .to_string();
    let leader_key = t
        .app
        .create_api_key("leader", Some("leader.st1"))
        .await
        .expect("key");
    let dispatcher_key = t
        .app
        .create_api_key("dispatcher", Some("dispatcher.st1"))
        .await
        .expect("key");
    let notice = json!({"title": "台风预警", "text": "今晚有台风，请排查辖区危旧房屋和独居老人。", "grids": [beat_grid]});
    let forbidden = t
        .post("/api/v1/notices")
        .bearer(&dispatcher_key)
        .json(&notice)
        .send()
        .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.text()
    );
    let bad = t
        .post("/api/v1/notices")
        .bearer(&leader_key)
        .json(&json!({"title": "", "text": "x", "grids": ["123"]}))
        .send()
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    // 23:30 in Shenzhen: quiet hours do not hold an urgent notice.
    clock.set("2026-03-03T15:30:00Z".parse().expect("t"));
    let sent = t
        .post("/api/v1/notices")
        .bearer(&leader_key)
        .json(&notice)
        .send()
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let before = gateway.got().len();
    let r = t.app.run_notifications().await.expect("round");
    assert!(r.sent >= 1, "{r:?}");
    let urgent: Vec<serde_json::Value> = gateway.got()[before..]
        .iter()
        .map(|g| serde_json::from_slice(&g.body).expect("json"))
        .filter(|v: &serde_json::Value| {
            v["content"]
                .as_str()
                .unwrap_or_default()
                .contains("紧急通知")
        })
        .collect();
    assert_eq!(urgent.len(), 1, "{urgent:?}");
    assert_eq!(urgent[0]["mobile"], "137 0000 2222");
    assert!(
        urgent[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("独居老人"),
        "{urgent:?}"
    );
    let listed = t.get("/api/v1/notices").bearer(&leader_key).send().await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()[0]["title"], "台风预警");

    // Tencent Cloud's API: the same message kinds, an approved template, a signed request.
    let (tencent, tencent_base, tencent_ca) = SmsPeer::start(
        r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"r1"}}"#,
    )
    .await;
    let tencent_config = format!(
        r#"
provider = "tencent"
secret_id = "AKIDtest"
secret_key = "tencent-test-key"
sdk_app_id = "1400006666"
sign_name = "南山街道"
endpoint = "{tencent_base}"
[templates]
case_accepted = {{ id = "449739", params = ["receipt"] }}
"#
    );
    t.app.notifier = Arc::new(NotifierSettings {
        sms: Some(
            civicgrid::notifications::sms::SmsConfig::parse("sms.toml", &tencent_config)
                .expect("tencent config"),
        ),
        public_url: "https://jiedao.example.cn".into(),
        ..Default::default()
    });
    t.app.outbound = civicgrid::outbound::Outbound::trusting(&tencent_ca).expect("CA");
    let (second, second_receipt) = report(&t, "").await;
    step(&t, &second, "calltaker1", Action::Accept).await;
    let r = t.app.run_notifications().await.expect("round");
    assert_eq!(r.sent, 1, "{r:?}");
    let got = tencent.got();
    assert_eq!(got.len(), 1);
    let sent = &got[0];
    let payload = String::from_utf8(sent.body.clone()).expect("utf-8");
    let body: serde_json::Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(body["TemplateParamSet"], json!([second_receipt]));
    assert_eq!(body["PhoneNumberSet"], json!(["+8613800138000"]));
    let header = |n: &str| sent.headers[n].to_str().expect("header").to_owned();
    let timestamp: i64 = header("x-tc-timestamp").parse().expect("timestamp");
    let host = header("host");
    assert_eq!(
        header("authorization"),
        civicgrid::notifications::sms::tc3_authorization(
            &civicgrid::notifications::sms::Tc3Request {
                secret_id: "AKIDtest",
                secret_key: "tencent-test-key",
                service: "sms",
                host: &host,
                content_type: &header("content-type"),
                timestamp,
                payload: &payload,
            }
        ),
        "the peer computes the same signature from the shared secret"
    );
    t.finish().await;
}

#[tokio::test]
async fn sms_goes_through_the_outbox_on_sqlite() {
    sms_run(Backend::Sqlite).await;
}

#[tokio::test]
async fn sms_goes_through_the_outbox_on_postgresql() {
    sms_run(Backend::Postgres).await;
}
