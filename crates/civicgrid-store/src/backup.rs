//! Online backup and restore of a whole deployment.
//!
//! - SQLite: `VACUUM INTO` writes a consistent snapshot of the live database (one read
//!   transaction; writers go on meanwhile) into a new, compact file. It is SQLite's own online
//!   copy, like the backup API, without unsafe FFI. Restore checks the file, then moves it in
//!   place of the database with its WAL removed.
//! - PostgreSQL: `pg_dump --format=custom` of the deployment's schema (the `search_path` the
//!   URL names, else `public`), a consistent snapshot taken online; restore drops the schema
//!   and runs `pg_restore`.
//!
//! The data key that seals reporters' contacts (`PATH.key`, or `CIVICGRID_DATA_KEY`) is not in
//! the backup, on purpose: keep it apart, as a stolen backup must not reveal contacts.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::StoreError;

/// Where a database URL points.
enum Target<'a> {
    Sqlite(&'a str),
    Postgres { url: &'a str, schema: String },
}

fn target(url: &str) -> Result<Target<'_>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        if path.is_empty() || path.contains('?') {
            return Err(StoreError::BadUrl(url.to_owned()));
        }
        Ok(Target::Sqlite(path))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Target::Postgres {
            url,
            schema: schema_of(url)?,
        })
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}

/// The schema a PostgreSQL URL puts first on the search path (`options=-c search_path=S`),
/// else `public`.
fn schema_of(url: &str) -> Result<String, StoreError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let schema = options
        .get_options()
        .and_then(|o| {
            o.split_whitespace()
                .find_map(|part| part.strip_prefix("search_path="))
                .map(|s| s.split(',').next().unwrap_or(s).trim().to_owned())
        })
        .unwrap_or_else(|| "public".to_owned());
    if schema.is_empty()
        || !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(StoreError::Invalid(format!(
            "schema name `{schema}` in the database URL"
        )));
    }
    Ok(schema)
}

/// What a backup or restore moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub backend: &'static str,
    pub bytes: u64,
}

/// Writes an online, consistent copy of the deployment at `url` to the new file `to`.
pub async fn backup(url: &str, to: &Path) -> Result<BackupSummary, StoreError> {
    if to.exists() {
        return Err(StoreError::Conflict(format!(
            "{} exists; a backup never overwrites a file",
            to.display()
        )));
    }
    let backend = match target(url)? {
        Target::Sqlite(path) => {
            if !Path::new(path).exists() {
                return Err(StoreError::NotFound(format!("database file {path}")));
            }
            let pool = sqlite_pool(path, true).await?;
            let done = sqlx::query("VACUUM INTO $1")
                .bind(to.to_string_lossy().into_owned())
                .execute(&pool)
                .await;
            pool.close().await;
            done?;
            sync_file(to)?;
            "sqlite"
        }
        Target::Postgres { url, schema } => {
            run(
                "pg_dump",
                &[
                    "--format=custom",
                    "--no-owner",
                    "--schema",
                    &schema,
                    "--file",
                    &to.to_string_lossy(),
                    "--dbname",
                    url,
                ],
            )
            .await?;
            sync_file(to)?;
            "postgres"
        }
    };
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(BackupSummary { backend, bytes })
}

/// Puts the backup `from` back as the deployment at `url`. A target that holds tables is
/// replaced only with `replace`. Stop the instances using the target first.
pub async fn restore(url: &str, from: &Path, replace: bool) -> Result<BackupSummary, StoreError> {
    if !from.is_file() {
        return Err(StoreError::NotFound(format!(
            "backup file {}",
            from.display()
        )));
    }
    let bytes = std::fs::metadata(from).map(|m| m.len()).unwrap_or(0);
    match target(url)? {
        Target::Sqlite(path) => {
            // The file must be a sound civicgrid database before anything is touched.
            let source = from.to_string_lossy().into_owned();
            let pool = sqlite_pool(&source, false).await.map_err(|e| {
                StoreError::Invalid(format!("{source} is not a SQLite database: {e}"))
            })?;
            let checked: Result<Vec<(String,)>, sqlx::Error> =
                sqlx::query_as("PRAGMA integrity_check")
                    .fetch_all(&pool)
                    .await;
            let migrated: Result<(i64,), sqlx::Error> =
                sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
                    .fetch_one(&pool)
                    .await;
            pool.close().await;
            match (checked, migrated) {
                (Ok(rows), Ok((n,))) if rows == [("ok".to_owned(),)] && n > 0 => {}
                _ => {
                    return Err(StoreError::Invalid(format!(
                        "{source} is not a sound civicgrid backup (integrity check or schema)"
                    )));
                }
            }
            if Path::new(path).exists() && !replace && sqlite_has_tables(path).await? {
                return Err(StoreError::Conflict(format!(
                    "{path} holds a deployment; restore over it only with --replace"
                )));
            }
            // Copy next to the target, make it durable, then swap it in; a stale WAL of the
            // old database must not be replayed onto the new one.
            let staged = format!("{path}.restoring");
            std::fs::copy(from, &staged).map_err(|e| io(&staged, e))?;
            sync_file(Path::new(&staged))?;
            for side in ["-wal", "-shm"] {
                let f = format!("{path}{side}");
                match std::fs::remove_file(&f) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&f, e)),
                    _ => {}
                }
            }
            std::fs::rename(&staged, path).map_err(|e| io(path, e))?;
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(BackupSummary {
                backend: "sqlite",
                bytes,
            })
        }
        Target::Postgres { url, schema } => {
            let listing = run_output("pg_restore", &["--list", &from.to_string_lossy()]).await?;
            let dumped: Vec<&str> = listing
                .lines()
                .filter(|l| !l.starts_with(';'))
                .filter_map(|l| {
                    let mut words = l.split_whitespace().skip(3);
                    (words.next() == Some("SCHEMA"))
                        .then(|| words.nth(1))
                        .flatten()
                })
                .collect();
            if dumped != [schema.as_str()] {
                return Err(StoreError::Invalid(format!(
                    "the backup holds schema(s) {dumped:?}; the database URL names `{schema}`"
                )));
            }
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await?;
            let (tables,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
            )
            .bind(&schema)
            .fetch_one(&pool)
            .await?;
            if tables > 0 && !replace {
                pool.close().await;
                return Err(StoreError::Conflict(format!(
                    "schema `{schema}` holds a deployment; restore over it only with --replace"
                )));
            }
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&pool)
                .await?;
            pool.close().await;
            run(
                "pg_restore",
                &[
                    "--no-owner",
                    "--exit-on-error",
                    "--single-transaction",
                    "--dbname",
                    url,
                    &from.to_string_lossy(),
                ],
            )
            .await?;
            Ok(BackupSummary {
                backend: "postgres",
                bytes,
            })
        }
    }
}

async fn sqlite_pool(path: &str, create: bool) -> Result<sqlx::SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite:{path}"))?
        .create_if_missing(create)
        .read_only(!create)
        .busy_timeout(std::time::Duration::from_secs(10));
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

async fn sqlite_has_tables(path: &str) -> Result<bool, StoreError> {
    let pool = sqlite_pool(path, false).await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(n > 0)
}

fn io(path: &str, e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("{path}: {e}"))
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&path.to_string_lossy(), e))
}

async fn run_output(tool: &str, args: &[&str]) -> Result<String, StoreError> {
    let out = tokio::process::Command::new(tool)
        .args(args)
        .output()
        .await
        .map_err(|e| StoreError::Invalid(format!("cannot run {tool}: {e}")))?;
    if !out.status.success() {
        return Err(StoreError::Invalid(format!(
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn run(tool: &str, args: &[&str]) -> Result<(), StoreError> {
    run_output(tool, args).await.map(|_| ())
}
