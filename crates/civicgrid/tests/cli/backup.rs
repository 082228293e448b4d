//! `civicgrid backup` and `civicgrid restore`, on SQLite and on PostgreSQL: a backup taken
//! while cases keep coming in is a consistent snapshot; a restored deployment answers exactly
//! as it did when its backup was taken; a restore never replaces a deployment unasked.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::http::StatusCode;
use civicgrid::App;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::SystemClock;
use civicgrid_domain::case::Channel;

/// The command's output, or its error as text.
async fn cli(db: &str, args: &[&str]) -> Result<String, String> {
    let (_, out) = super::support::run_cli(db, args, "")
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn open(db: &str) -> App {
    let repo = civicgrid_store::connect(db).await.expect("store");
    App::new(repo, Arc::new(SystemClock))
}

async fn get(app: &App, uri: &str, key: &str) -> String {
    let a = super::support::Call::new(app.clone(), "GET", uri)
        .bearer(key)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{uri}");
    a.text()
}

/// What the deployment answers: exports, the month's KPI table, staff and Open311 case lists.
async fn answers(db: &str, key: &str) -> Vec<String> {
    let app = open(db).await;
    let mut all = Vec::new();
    for args in [
        &["export", "grids"][..],
        &["export", "catalogue", "--format", "csv"],
        &[
            "kpi", "--scope", "440305", "--period", "2026", "--format", "json",
        ],
    ] {
        all.push(cli(db, args).await.expect("command"));
    }
    all.push(get(&app, "/api/v1/cases?limit=200", key).await);
    all.push(get(&app, "/open311/v2/requests.json?page_size=1000", key).await);
    all
}

fn intake(i: usize) -> Intake {
    Intake {
        description: format!("夜间施工噪音扰民 {i}"),
        location: Some((113.9171, 22.5168)),
        grid: None,
        address: None,
        category: Some("07005".parse().expect("c")),
        attributes: Default::default(),
        priority: None,
        channel: Channel::Web,
        reporter: None,
        media_url: None,
    }
}

async fn case_count(db: &str) -> usize {
    let app = open(db).await;
    let mut n = 0;
    let mut before = None;
    loop {
        let page = app
            .repo
            .cases(&civicgrid_store::CaseFilter {
                before,
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases");
        n += page.len();
        match page.last() {
            Some(c) => before = Some(c.id),
            None => return n,
        }
    }
}

/// The whole story on the deployment at `db`; `restored_elsewhere` names a second, empty
/// target when the backend can restore to another place (SQLite: another file).
async fn backup_and_restore(db: &str, dir: &Path, restored_elsewhere: Option<&str>) {
    let messages = super::support::messages_dir();
    cli(
        db,
        &[
            "demo",
            "--months",
            "2",
            "--cases-per-month",
            "40",
            "--messages",
            messages.to_str().expect("path"),
        ],
    )
    .await
    .expect("demo");
    let app = open(db).await;
    let key = app
        .create_api_key("backup test", Some("shiftlead.st1"))
        .await
        .expect("key");

    // Online: cases keep coming in while the copy is made.
    let stop = Arc::new(AtomicBool::new(false));
    let reported = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (app, stop, reported) = (app.clone(), stop.clone(), reported.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                app.report_case(intake(i), &Actor::Resident)
                    .await
                    .expect("reported");
                i += 1;
                reported.store(i, Ordering::SeqCst);
            }
        })
    };
    while reported.load(Ordering::SeqCst) < 20 {
        tokio::task::yield_now().await;
    }
    let at_start = case_count(db).await;
    let online = dir.join("online.backup");
    let said = cli(db, &["backup", "--output", online.to_str().expect("path")])
        .await
        .expect("backup");
    assert!(said.starts_with("backed up the "), "{said}");
    let at_end = case_count(db).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    // Never overwrites a file.
    let again = cli(db, &["backup", "--output", online.to_str().expect("path")]).await;
    assert!(again.is_err_and(|e| e.contains("exists")));

    // Quiet: the answers at the backup, then changes, then the restore brings them back.
    let before = answers(db, &key).await;
    let quiet = dir.join("quiet.backup");
    cli(db, &["backup", "-o", quiet.to_str().expect("path")])
        .await
        .expect("backup");
    for i in 0..5 {
        app.report_case(intake(1000 + i), &Actor::Resident)
            .await
            .expect("reported");
    }
    assert_ne!(answers(db, &key).await, before);
    drop(app);
    let refused = cli(db, &["restore", "--input", quiet.to_str().expect("path")]).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("only with --replace")),
        "{refused:?}"
    );
    let said = cli(
        db,
        &[
            "restore",
            "--input",
            quiet.to_str().expect("path"),
            "--replace",
        ],
    )
    .await
    .expect("restore");
    assert!(said.starts_with("restored "), "{said}");
    assert_eq!(answers(db, &key).await, before);
    assert!(
        open(db)
            .await
            .repo
            .check_integrity()
            .await
            .expect("check")
            .is_empty()
    );

    // The online copy: sound, and holding every case acknowledged before it began.
    let target = restored_elsewhere.unwrap_or(db);
    cli(
        target,
        &[
            "restore",
            "--input",
            online.to_str().expect("path"),
            "--replace",
        ],
    )
    .await
    .expect("restore online copy");
    let restored = open(target).await;
    assert!(
        restored
            .repo
            .check_integrity()
            .await
            .expect("check")
            .is_empty()
    );
    let n = case_count(target).await;
    eprintln!(
        "online backup: {at_start} cases before it began, {n} in it, {at_end} after it ended"
    );
    assert!(
        at_start <= n && n <= at_end,
        "{at_start} <= {n} <= {at_end}"
    );

    // Not a backup: refused, the deployment untouched.
    let junk = dir.join("junk.backup");
    std::fs::write(&junk, "not a backup").expect("junk");
    assert!(
        cli(
            db,
            &["restore", "-i", junk.to_str().expect("path"), "--replace"]
        )
        .await
        .is_err()
    );
    let missing = dir.join("missing.backup");
    assert!(
        cli(db, &["restore", "-i", missing.to_str().expect("path")])
            .await
            .is_err_and(|e| e.contains("not found"))
    );
    if restored_elsewhere.is_some() {
        assert_eq!(answers(db, &key).await, before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", dir.path().join("live.db").display());
    let other = format!("sqlite:{}", dir.path().join("other.db").display());
    backup_and_restore(&db, dir.path(), Some(&other)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_on_postgresql() {
    let Some(pg) = crate::PgSchema::new("backup").await else {
        return;
    };
    let db = pg.url.clone();
    let dir = tempfile::tempdir().expect("dir");
    backup_and_restore(&db, dir.path(), None).await;
    pg.drop_schema().await;
}

/// `civicgrid copy`: a SQLite demo (with a photo) into PostgreSQL. A target holding data is
/// refused and left as it was; a copy killed with SIGKILL mid-way resumes when run again; the
/// copy verifies every table, and the PostgreSQL deployment answers as the SQLite one did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_copied_into_postgresql_answers_the_same() {
    let Some(schema) = crate::PgSchema::new("copy").await else {
        return;
    };
    let pg = schema.url.clone();
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = format!("sqlite:{}", dir.path().join("street.db").display());
    let messages = super::support::messages_dir();
    cli(
        &sqlite,
        &[
            "demo",
            "--months",
            "2",
            "--cases-per-month",
            "40",
            "--messages",
            messages.to_str().expect("path"),
        ],
    )
    .await
    .expect("demo");
    let app = open(&sqlite).await;
    let key = app
        .create_api_key("copy test", Some("shiftlead.st1"))
        .await
        .expect("key");
    let case = app
        .report_case(intake(1), &Actor::Resident)
        .await
        .expect("case");
    let png = [
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0, b'I', b'E', b'N', b'D',
    ];
    app.attach_photo(
        &case.id,
        case.state.version,
        civicgrid_domain::case::PhotoStage::Report,
        "image/png",
        png.to_vec(),
        &Actor::Reporter { case: case.id },
    )
    .await
    .expect("photo");
    drop(app);
    let before = answers(&sqlite, &key).await;

    // A target with data is refused, and keeps its data.
    cli(&pg, &["demo", "--months", "0"]).await.expect("pg demo");
    let grids = cli(&pg, &["export", "grids"]).await.expect("grids");
    let refused = cli(&pg, &["copy", "--from", &sqlite, "--to", &pg]).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("not empty")),
        "{refused:?}"
    );
    assert_eq!(cli(&pg, &["export", "grids"]).await.expect("grids"), grids);

    // Killed mid-way (one row per transaction, so it is slow enough to interrupt).
    let mut first = tokio::process::Command::new(env!("CARGO_BIN_EXE_civicgrid"))
        .args([
            "copy",
            "--from",
            &sqlite,
            "--to",
            &pg,
            "--replace",
            "--batch-rows",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("copy starts");
    let pool = sqlx::PgPool::connect(&pg).await.expect("pool");
    let waited = std::time::Instant::now();
    loop {
        let progress: Result<(i64,), _> = sqlx::query_as(
            "SELECT COUNT(*) FROM civicgrid_copy_progress WHERE done OR last_rowid > 0",
        )
        .fetch_one(&pool)
        .await;
        if progress.is_ok_and(|(n,)| n >= 3) {
            break;
        }
        assert!(waited.elapsed() < std::time::Duration::from_secs(60));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    first.start_kill().expect("kill -9");
    first.wait().await.expect("killed");
    let (unfinished,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM civicgrid_copy_progress WHERE NOT done")
            .fetch_one(&pool)
            .await
            .expect("progress");
    assert!(unfinished > 0, "the copy was interrupted before its end");
    pool.close().await;

    // Run again: it resumes (no --replace needed) and verifies.
    let said = cli(&pg, &["copy", "--from", &sqlite, "--to", &pg])
        .await
        .expect("resumed copy");
    assert!(said.starts_with("resumed an interrupted copy"), "{said}");
    eprintln!("{said}");
    for table in [
        "cases",
        "case_events",
        "case_photos",
        "grids",
        "users",
        "kpi_daily",
    ] {
        let line = said
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("{table} missing in {said}"));
        assert!(line.ends_with("verified"), "{line}");
    }
    assert_eq!(answers(&pg, &key).await, before);
    let moved = open(&pg).await;
    let photo = moved
        .repo
        .photo(&case.id, &case_photo_sha(&png))
        .await
        .expect("photo read")
        .expect("photo copied");
    assert_eq!(photo.data, png);
    assert!(
        moved
            .repo
            .check_integrity()
            .await
            .expect("check")
            .is_empty()
    );
    schema.drop_schema().await;
}

fn case_photo_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
