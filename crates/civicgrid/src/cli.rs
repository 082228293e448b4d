//! The command line: parses arguments, calls a service, prints the result. No rules live here.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use civicgrid_domain::access::{Grant, Scope};
use civicgrid_domain::calendar::TimeLimit;
use civicgrid_domain::catalogue::CategoryCode;
use civicgrid_domain::geometry::crs::Crs;
use civicgrid_domain::territory::{GridCode, RegionCode};
use clap::{Parser, Subcommand, ValueEnum};

use crate::accounts::UserSpec;
use crate::clock::{Clock, SystemClock};
use crate::demo::{DEMO_PASSWORD, DemoOutcome};
use crate::error::{AppError, AppResult, InputError};
use crate::territory::{GridImportOptions, read_points};
use crate::{App, app::Format};

/// Files larger than this are refused unless --max-bytes says otherwise.
const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Parser, Debug)]
#[command(
    name = "civicgrid",
    version,
    about = "Grassroots community governance on a grid"
)]
pub struct Cli {
    /// Database: sqlite:PATH (embedded, the default) or postgres://USER@HOST:PORT/DB
    #[arg(
        long,
        global = true,
        env = "CIVICGRID_DATABASE",
        default_value = "sqlite:civicgrid.db"
    )]
    pub database: String,

    /// Open311 jurisdictions served, `ID` or `ID=REGION_CODE`, comma-separated; with several,
    /// clients must name one in `jurisdiction_id`
    #[arg(
        long,
        global = true,
        env = "CIVICGRID_OPEN311_JURISDICTIONS",
        value_delimiter = ',',
        default_value = "civicgrid"
    )]
    pub open311_jurisdiction: Vec<crate::open311::Jurisdiction>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending database migrations (also done automatically by every command)
    Migrate,
    /// Serve the REST API (and, as they land, the web UI and background jobs)
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Fraction of a stage's time after which a yellow warning is raised
        #[arg(long, default_value_t = 0.8)]
        warn_at: f64,
        /// Seconds between deadline sweeps (a round: each region is swept once per round,
        /// by whichever instance leases it first)
        #[arg(long, default_value_t = 60)]
        sweep_every: u64,
        /// Seconds a job lease holds: how soon another instance takes over a dead one's work
        #[arg(long, default_value_t = 60)]
        lease_secs: u64,
        /// Serve requests only; another instance (or `civicgrid sweep` from cron) runs the jobs
        #[arg(long)]
        no_jobs: bool,
        /// Wrong passwords per account within 15 minutes before sign-in waits
        #[arg(long, default_value_t = 5)]
        sign_in_failures: u64,
        /// Public case lookups (tracking) per client address per minute
        #[arg(long, default_value_t = 60)]
        lookups_per_minute: u64,
        /// Open311 posts per API key per minute
        #[arg(long, default_value_t = 120)]
        open311_posts_per_minute: u64,
    },
    /// Write an online, consistent copy of the whole deployment to a new file (SQLite: a
    /// snapshot database file; PostgreSQL: a pg_dump custom-format archive of its schema).
    /// The data key is not in it: keep that apart
    Backup {
        /// The file to write; never overwritten
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Put a backup back as the deployment --database names (stop its instances first)
    Restore {
        /// The backup file
        #[arg(long, short)]
        input: PathBuf,
        /// Replace a target that already holds a deployment
        #[arg(long)]
        replace: bool,
    },
    /// Copy a whole deployment from SQLite into PostgreSQL (every table, event and photo),
    /// then verify each table's row count and checksum on both sides. An interrupted copy
    /// resumes when run again. (--database is not used.)
    Copy {
        /// sqlite:PATH
        #[arg(long)]
        from: String,
        /// postgres://USER@HOST:PORT/DATABASE
        #[arg(long)]
        to: String,
        /// Empty a target that already holds data instead of refusing it
        #[arg(long)]
        replace: bool,
        /// Rows per transaction
        #[arg(long, default_value_t = 1000)]
        batch_rows: usize,
    },
    /// Run one round of the deadline job and print what it did (JSON); for cron, or to share
    /// the work of a round with running instances
    Sweep {
        /// Fraction of a stage's time after which a yellow warning is raised
        #[arg(long, default_value_t = 0.8)]
        warn_at: f64,
        /// Seconds in a round (the serving instances' --sweep-every)
        #[arg(long, default_value_t = 60)]
        round_secs: u64,
        /// Seconds a job lease holds
        #[arg(long, default_value_t = 60)]
        lease_secs: u64,
    },
    /// Import a file; the import is all or nothing
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export to standard output (or --output FILE)
    Export {
        #[command(subcommand)]
        what: ExportWhat,
        #[arg(long, short, global = true)]
        output: Option<PathBuf>,
    },
    /// Grid maintenance
    Grids {
        #[command(subcommand)]
        what: GridsCommand,
    },
    /// Read `lon,lat` lines on stdin and write the grid code of each (empty when none)
    Locate {
        #[arg(long, value_enum, default_value = "wgs84")]
        crs: CrsArg,
    },
    /// Show which unit the responsibility list assigns a case to, and why
    Route {
        #[arg(long)]
        category: String,
        /// The grid the case lies in
        #[arg(long)]
        grid: String,
        /// Case attributes, as NAME=VALUE
        #[arg(long = "attr")]
        attributes: Vec<String>,
    },
    /// Compute a deadline on the stored working calendar
    Deadline {
        /// Start, RFC 3339 (e.g. 2026-02-13T16:30:00+08:00)
        #[arg(long)]
        start: String,
        /// Time limit, e.g. "2h working_hours", "3d working_days", "30min urgent_hours"
        #[arg(long)]
        limit: String,
    },
    /// Staff accounts
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// API keys for other systems
    Apikey {
        #[command(subcommand)]
        what: ApikeyCommand,
    },
    /// Outgoing webhooks: other systems subscribed to case events (CloudEvents, signed)
    Webhook {
        #[command(subcommand)]
        what: WebhookCommand,
    },
    /// Assessment table (考核) of a region for a period, recounted from the case events
    Kpi {
        /// A region code: district (6 digits), street (9) or community (12); or beat:CODE
        #[arg(long)]
        scope: String,
        /// 2026-10-05, 2026-W41, 2026-10, 2026-Q4, 2026 or 2026-10-01..2026-10-31
        #[arg(long)]
        period: String,
        /// Only subjects of this kind: unit, grid, region or staff
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: KpiFormat,
    },
    /// Check the database: the engine's integrity check and civicgrid's invariants
    Check,
    /// Load a demo territory with staff, catalogue, responsibility list and calendar
    Demo {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder of the residents' messages used as case texts (read, never copied); without
        /// it, the short reports civicgrid ships
        #[arg(long, default_value = "../shared/data/teddy2020")]
        messages: PathBuf,
        /// Months of cases, ending today
        #[arg(long, default_value_t = 6)]
        months: i64,
        #[arg(long, default_value_t = 100)]
        cases_per_month: usize,
        /// Then serve the platform (as `civicgrid serve`)
        #[arg(long)]
        serve: bool,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportWhat {
    /// GeoJSON FeatureCollection of Polygon/MultiPolygon grids (WGS84)
    Grids {
        file: PathBuf,
        /// Property holding the grid code; without it, civicgrid numbers grids 6+3+3+3
        #[arg(long, default_value = "code")]
        code_prop: String,
        #[arg(long, default_value = "name")]
        name_prop: String,
        /// Region the grids belong to (otherwise taken from 15-digit codes)
        #[arg(long)]
        parent: Option<String>,
        #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
        max_bytes: u64,
    },
    /// Regions CSV: code,name
    Regions { file: PathBuf },
    /// Units CSV: code,name,kind,region
    Units { file: PathBuf },
    /// Category catalogue, TOML or CSV
    Catalogue { file: PathBuf },
    /// Responsibility list CSV (replaces the list)
    Responsibility { file: PathBuf },
    /// Working calendar TOML
    Calendar { file: PathBuf },
    /// Roles TOML
    Roles { file: PathBuf },
    /// Assessment scheme TOML: weights per kind of subject and grade bands
    Assessment { file: PathBuf },
    /// Beats CSV: code,name,region,grids,workers (lists separated by ';')
    Beats { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum ExportWhat {
    /// GeoJSON FeatureCollection
    Grids {
        /// Only grids in this region subtree
        #[arg(long)]
        within: Option<String>,
    },
    Regions,
    Units,
    Catalogue {
        #[arg(long, value_enum, default_value = "toml")]
        format: FormatArg,
    },
    Responsibility,
    Calendar,
    Beats,
    /// The assessment scheme (weights and grade bands), TOML
    Assessment,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KpiFormat {
    Csv,
    Json,
    Xlsx,
    /// The grids of the scope with their indicators as properties
    Geojson,
}

#[derive(Subcommand, Debug)]
pub enum GridsCommand {
    /// Report gaps and overlaps between sibling grids (exit status 1 when any are found)
    Check {
        #[arg(long)]
        within: Option<String>,
        /// Ignore pieces smaller than this many square metres
        #[arg(long, default_value_t = 1.0)]
        min_area: f64,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a staff account; the password is read from stdin, or generated and printed
    Add {
        username: String,
        #[arg(long)]
        name: String,
        /// Role code (see data/roles.toml); repeat with --scope for several grants
        #[arg(long, required = true)]
        role: Vec<String>,
        /// region:CODE or unit:CODE, one per --role
        #[arg(long, required = true)]
        scope: Vec<String>,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List staff accounts and their grants
    List,
}

#[derive(Subcommand, Debug)]
pub enum ApikeyCommand {
    /// Create a key and print it once
    Create {
        #[arg(long)]
        name: String,
        /// The staff account the key acts as (without one, the key may only report cases)
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Subscribe a URL to case events; prints its id and signing secret (shown once)
    Add {
        /// http://HOST[:PORT]/PATH that receives the POSTs
        #[arg(long)]
        url: String,
        /// Only events of cases in this region subtree (default: every region)
        #[arg(long)]
        region: Option<String>,
        /// Only these actions, comma-separated (raise_alarm,escalate,miss_whistle; default: all)
        #[arg(long, default_value = "")]
        events: String,
    },
    /// List the subscriptions with their deliveries (pending, delivered, failed)
    List,
    /// Stop queueing events for a subscription
    Disable { id: String },
    /// Queue events for a subscription again
    Enable { id: String },
    /// Send the deliveries due now, once (the serving instances do this every few seconds)
    Deliver {
        /// Seconds a delivery lease holds
        #[arg(long, default_value_t = 60)]
        lease_secs: u64,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CrsArg {
    Wgs84,
    Gcj02,
    Bd09,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Toml,
    Csv,
}

fn read_file(path: &Path, max_bytes: u64) -> AppResult<String> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| AppError::Io {
        path: name.clone(),
        source,
    })?;
    if meta.len() > max_bytes {
        return Err(InputError::file(
            &name,
            format!(
                "the file is {} bytes, over the limit of {max_bytes} (raise it with --max-bytes)",
                meta.len()
            ),
        )
        .into());
    }
    let bytes = std::fs::read(path).map_err(|source| AppError::Io {
        path: name.clone(),
        source,
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::file(&name, "the file is empty").into());
    }
    String::from_utf8(bytes).map_err(|e| {
        InputError::file(
            &name,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
        .into()
    })
}

fn parse_region(s: &str) -> AppResult<RegionCode> {
    s.parse()
        .map_err(|e: civicgrid_domain::territory::TerritoryError| AppError::Invalid(e.to_string()))
}

fn format_of(path: &Path) -> AppResult<Format> {
    Format::of(&path.display().to_string()).ok_or_else(|| {
        AppError::Invalid(format!(
            "{}: cannot tell the format; name the file .toml or .csv",
            path.display()
        ))
    })
}

/// The data key that seals reporters' contact details: `CIVICGRID_DATA_KEY` (64 hex digits),
/// or for SQLite a key file beside the database (`PATH.key`, created on first use, mode 0600).
/// Without either (PostgreSQL and no key given), contact details are refused at intake.
fn data_key(database: &str) -> AppResult<Option<crate::cases::seal::Sealer>> {
    use crate::cases::seal::Sealer;
    if let Ok(hex) = std::env::var("CIVICGRID_DATA_KEY") {
        return Sealer::from_hex(&hex).map(Some);
    }
    let Some(path) = database.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let key_path = format!("{}.key", path.trim_start_matches("//"));
    let io = |source| AppError::Io {
        path: key_path.clone(),
        source,
    };
    match std::fs::read_to_string(&key_path) {
        Ok(hex) => Sealer::from_hex(&hex).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::os::unix::fs::OpenOptionsExt;
            let hex = Sealer::generate_hex();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .map_err(io)?;
            f.write_all(hex.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Sealer::from_hex(&hex).map(Some)
        }
        Err(e) => Err(io(e)),
    }
}

fn check_warn_at(warn_at: f64) -> AppResult<()> {
    if (0.0..1.0).contains(&warn_at) {
        Ok(())
    } else {
        Err(AppError::Invalid(
            "--warn-at must be a fraction between 0 and 1".into(),
        ))
    }
}

fn job_settings(round_secs: u64, lease_secs: u64) -> Arc<crate::jobs::JobSettings> {
    let secs =
        |s: u64| jiff::SignedDuration::from_secs(i64::try_from(s.max(1)).unwrap_or(i64::MAX));
    Arc::new(crate::jobs::JobSettings {
        round: secs(round_secs),
        lease: secs(lease_secs),
        ..Default::default()
    })
}

/// How often a serving instance sends the webhook deliveries that are due.
const NOTIFY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves the API and runs the jobs until Ctrl-C or SIGTERM; then finishes the requests in
/// flight, stops the jobs and frees their leases for the other instances.
async fn serve(
    app: App,
    listen: &str,
    warn_at: f64,
    sweep_every: Option<u64>,
    out: &mut dyn Write,
) -> AppResult<()> {
    let io = |e: std::io::Error| AppError::Io {
        path: "standard output".into(),
        source: e,
    };

    check_warn_at(warn_at)?;
    // This year's and next year's case partitions (PostgreSQL), before the first intake. A
    // failure (rows of that year in the default partition) does not stop the service: such
    // cases go to the default partition, and the job loop tries again.
    if let Err(e) = app.repo.prepare_partitions(app.clock.now()).await {
        tracing::warn!(error = %e, "making case partitions failed");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| AppError::Io {
            path: format!("listen address {listen}"),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(listen.to_owned());
    writeln!(
        out,
        "civicgrid serving on http://{bound} ({})",
        app.repo.backend()
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    // At shutdown the job round in flight finishes its scope (a statement cut off by an abort
    // could still commit a lease claim after the leases are released).
    let jobs = app.clone();
    let (stop_jobs, mut jobs_stopping) = tokio::sync::watch::channel(false);
    let job_loop = tokio::spawn(async move {
        let Some(sweep_every) = sweep_every else {
            return;
        };
        let mut every = tokio::time::interval(std::time::Duration::from_secs(sweep_every.max(1)));
        let mut partitions_checked = None;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = jobs_stopping.changed() => return,
            }
            match jobs.sweep_deadlines(warn_at).await {
                Ok(r) if r.yellow + r.red + r.escalated + r.missed_whistles > 0 => {
                    tracing::info!(?r, "deadline sweep")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
            }
            // Next year's partitions exist long before the year begins: checked once a day
            // (and again after a failure).
            let today = jobs.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            if partitions_checked != Some(today) {
                match jobs.repo.prepare_partitions(jobs.clock.now()).await {
                    Ok(_) => partitions_checked = Some(today),
                    Err(e) => tracing::warn!(error = %e, "making case partitions failed"),
                }
            }
            match jobs.forget_ended_limits().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "forgetting ended abuse-limit windows failed"),
            }
            // The sweep's breaches are events too: count them into the rollups after it.
            match jobs.refresh_kpis().await {
                Ok(n) if n > 0 => tracing::info!(cases = n, "assessment rollups refreshed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "assessment refresh failed"),
            }
        }
    });
    // Webhooks go out within seconds, not at the sweep's pace. At shutdown the round in flight
    // is finished (its sends time out within seconds), so no delivery is cut off mid-send and
    // sent again by another instance.
    let notifier = app.clone();
    let (stop_notifying, mut stopping) = tokio::sync::watch::channel(false);
    let notify_loop = tokio::spawn(async move {
        if sweep_every.is_none() {
            return;
        }
        let mut every = tokio::time::interval(NOTIFY_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stopping.changed() => return,
            }
            match notifier.deliver_notifications().await {
                Ok(r) if r != Default::default() => tracing::info!(?r, "webhook deliveries"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook delivery round failed"),
            }
        }
    });
    // The peer's address reaches the handlers for the abuse limits.
    let served = axum::serve(
        listener,
        crate::http::router(app.clone())
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    app.jobs
        .stopping
        .store(true, std::sync::atomic::Ordering::Release);
    let _ = stop_jobs.send(true);
    let _ = stop_notifying.send(true);
    // Bounded: what is still running then is cut off, and its leases run out as a dead
    // instance's would.
    for (name, task) in [("job", job_loop), ("notify", notify_loop)] {
        let abort = task.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(15), task)
            .await
            .is_err()
        {
            tracing::warn!(task = name, "still running at shutdown; stopped");
            abort.abort();
        }
    }
    match app.repo.release_leases(&app.jobs.instance).await {
        Ok(n) => tracing::info!(leases = n, "stopped; job leases released"),
        Err(e) => tracing::warn!(error = %e, "stopped; releasing the job leases failed"),
    }
    served.map_err(|source| AppError::Io {
        path: format!("server on {listen}"),
        source,
    })
}

/// Ctrl-C, or SIGTERM (what service managers and orchestrators send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs a parsed command against the store the URL names, writing to `out`.
pub async fn run(cli: Cli, input: &mut dyn Read, out: &mut dyn Write) -> AppResult<i32> {
    let io = |e: std::io::Error| AppError::Io {
        path: "standard output".into(),
        source: e,
    };
    // Backup and restore work on the database as files or dumps: no connection, no migration.
    match &cli.command {
        Command::Backup { output } => {
            let done = civicgrid_store::backup::backup(&cli.database, output).await?;
            writeln!(
                out,
                "backed up the {} deployment to {} ({} bytes)",
                done.backend,
                output.display(),
                done.bytes
            )
            .map_err(io)?;
            return Ok(0);
        }
        Command::Copy {
            from,
            to,
            replace,
            batch_rows,
        } => {
            let options = civicgrid_store::copy::CopyOptions {
                replace: *replace,
                batch_rows: *batch_rows,
            };
            let done = civicgrid_store::copy::copy(from, to, &options).await?;
            if done.resumed {
                writeln!(out, "resumed an interrupted copy").map_err(io)?;
            }
            for t in &done.tables {
                writeln!(
                    out,
                    "{:<24} {:>10} rows  checksum {:016x}  verified",
                    t.table, t.rows, t.checksum
                )
                .map_err(io)?;
            }
            writeln!(out, "copied {} tables from {from}", done.tables.len()).map_err(io)?;
            return Ok(0);
        }
        Command::Restore { input, replace } => {
            let done = civicgrid_store::backup::restore(&cli.database, input, *replace).await?;
            writeln!(
                out,
                "restored {} ({} bytes) as the {} deployment",
                input.display(),
                done.bytes,
                done.backend
            )
            .map_err(io)?;
            return Ok(0);
        }
        _ => {}
    }
    let repo = civicgrid_store::connect(&cli.database).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut app = App::new(repo, clock);
    app.sealer = data_key(&cli.database)?.map(Arc::new);
    app.open311 = Arc::new(crate::open311::Open311Settings {
        jurisdictions: cli.open311_jurisdiction.clone(),
        ..Default::default()
    });
    match cli.command {
        Command::Serve {
            listen,
            warn_at,
            sweep_every,
            lease_secs,
            no_jobs,
            sign_in_failures,
            lookups_per_minute,
            open311_posts_per_minute,
        } => {
            app.jobs = job_settings(sweep_every, lease_secs);
            app.limits = std::sync::Arc::new(crate::accounts::limits::Limits {
                sign_in_failures_per_account: sign_in_failures,
                lookups_per_minute,
                open311_posts_per_minute,
                ..Default::default()
            });
            let jobs = (!no_jobs).then_some(sweep_every);
            serve(app, &listen, warn_at, jobs, out).await?
        }
        // Handled above, before connecting.
        Command::Backup { .. } | Command::Restore { .. } | Command::Copy { .. } => {}
        Command::Sweep {
            warn_at,
            round_secs,
            lease_secs,
        } => {
            check_warn_at(warn_at)?;
            app.jobs = job_settings(round_secs, lease_secs);
            let report = app.sweep_whole_round(warn_at).await?;
            let line =
                serde_json::to_string(&report).map_err(|e| AppError::Invalid(e.to_string()))?;
            writeln!(out, "{line}").map_err(io)?;
        }
        Command::Kpi {
            scope,
            period,
            kind,
            format,
        } => {
            let (table, scope) = match scope.strip_prefix("beat:") {
                Some(beat) => {
                    let table = app.kpi_beat_table(beat, &period).await?;
                    let region = app
                        .repo
                        .beats()
                        .await?
                        .into_iter()
                        .find(|b| b.code == beat)
                        .map(|b| b.region)
                        .ok_or_else(|| AppError::NotFound(format!("beat {beat}")))?;
                    (table, region)
                }
                None => {
                    let scope: civicgrid_domain::territory::RegionCode = scope
                        .parse()
                        .map_err(|e| AppError::Invalid(format!("--scope {scope}: {e}")))?;
                    (
                        app.kpi_table(&scope, &period, kind.as_deref()).await?,
                        scope,
                    )
                }
            };
            let bytes = match format {
                KpiFormat::Csv => crate::assessment::kpi_csv(&table).into_bytes(),
                KpiFormat::Json => serde_json::to_string_pretty(&table)
                    .map_err(|e| AppError::Invalid(e.to_string()))?
                    .into_bytes(),
                KpiFormat::Xlsx => crate::assessment::kpi_xlsx(&table)?,
                KpiFormat::Geojson => {
                    let grids = app.repo.grids(Some(&scope)).await?;
                    serde_json::to_string_pretty(&crate::assessment::kpi_geojson(&table, &grids))
                        .map_err(|e| AppError::Invalid(e.to_string()))?
                        .into_bytes()
                }
            };
            out.write_all(&bytes).map_err(io)?;
        }
        Command::Check => {
            let problems = app.repo.check_integrity().await?;
            for p in &problems {
                writeln!(out, "{p}").map_err(io)?;
            }
            writeln!(out, "{} problem(s)", problems.len()).map_err(io)?;
            if !problems.is_empty() {
                return Ok(1);
            }
        }
        Command::Migrate => {
            app.repo.migrate().await?;
            writeln!(out, "migrations applied ({})", app.repo.backend()).map_err(io)?;
        }
        Command::Import { what } => {
            let (kind, n) = match what {
                ImportWhat::Grids {
                    file,
                    code_prop,
                    name_prop,
                    parent,
                    max_bytes,
                } => {
                    let text = read_file(&file, max_bytes)?;
                    let options = GridImportOptions {
                        code_prop,
                        name_prop,
                        parent: parent.as_deref().map(parse_region).transpose()?,
                    };
                    let report = app
                        .import_grids(&file.display().to_string(), &text, &options)
                        .await?;
                    for (feature, note) in &report.repairs {
                        writeln!(out, "repaired {feature}: {note}").map_err(io)?;
                    }
                    writeln!(
                        out,
                        "{} created, {} updated",
                        report.created, report.updated
                    )
                    .map_err(io)?;
                    ("grids", report.created + report.updated)
                }
                ImportWhat::Regions { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "regions",
                        app.import_regions(&file.display().to_string(), &text)
                            .await?,
                    )
                }
                ImportWhat::Units { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "units",
                        app.import_units(&file.display().to_string(), &text).await?,
                    )
                }
                ImportWhat::Catalogue { file } => {
                    let format = format_of(&file)?;
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "categories",
                        app.import_catalogue(&file.display().to_string(), &text, format)
                            .await?,
                    )
                }
                ImportWhat::Responsibility { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "rules",
                        app.import_responsibility_list(&file.display().to_string(), &text)
                            .await?,
                    )
                }
                ImportWhat::Calendar { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "calendar days",
                        app.import_calendar(&file.display().to_string(), &text)
                            .await?,
                    )
                }
                ImportWhat::Beats { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "beats",
                        app.import_beats(&file.display().to_string(), &text).await?,
                    )
                }
                ImportWhat::Assessment { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "assessment weights",
                        app.import_assessment(&file.display().to_string(), &text, "cli")
                            .await?,
                    )
                }
                ImportWhat::Roles { file } => {
                    let text = read_file(&file, DEFAULT_MAX_BYTES)?;
                    (
                        "roles",
                        app.import_roles(&file.display().to_string(), &text).await?,
                    )
                }
            };
            writeln!(out, "imported {n} {kind}").map_err(io)?;
        }
        Command::Export { what, output } => {
            let text = match what {
                ExportWhat::Grids { within } => {
                    let within = within.as_deref().map(parse_region).transpose()?;
                    app.export_grids(within.as_ref()).await?
                }
                ExportWhat::Regions => app.export_regions().await?,
                ExportWhat::Units => app.export_units().await?,
                ExportWhat::Catalogue { format } => {
                    app.export_catalogue(match format {
                        FormatArg::Toml => Format::Toml,
                        FormatArg::Csv => Format::Csv,
                    })
                    .await?
                }
                ExportWhat::Responsibility => app.export_responsibility_list().await?,
                ExportWhat::Calendar => app.export_calendar().await?,
                ExportWhat::Beats => app.export_beats().await?,
                ExportWhat::Assessment => app.export_assessment().await?,
            };
            match output {
                Some(path) => std::fs::write(&path, text).map_err(|source| AppError::Io {
                    path: path.display().to_string(),
                    source,
                })?,
                None => out.write_all(text.as_bytes()).map_err(io)?,
            }
        }
        Command::Grids {
            what: GridsCommand::Check { within, min_area },
        } => {
            let within = within.as_deref().map(parse_region).transpose()?;
            let report = app.check_grids(within.as_ref(), min_area).await?;
            for o in &report.overlaps {
                writeln!(
                    out,
                    "overlap  region {} grids {} and {}: {:.1} m² around {:.6},{:.6}",
                    o.region, o.a, o.b, o.area_m2, o.at.0, o.at.1
                )
                .map_err(io)?;
            }
            for g in &report.gaps {
                writeln!(
                    out,
                    "gap      region {}: {:.1} m² around {:.6},{:.6}",
                    g.region, g.area_m2, g.at.0, g.at.1
                )
                .map_err(io)?;
            }
            writeln!(
                out,
                "{} overlap(s), {} gap(s)",
                report.overlaps.len(),
                report.gaps.len()
            )
            .map_err(io)?;
            if !report.is_clean() {
                return Ok(1);
            }
        }
        Command::Locate { crs } => {
            let mut text = String::new();
            input
                .read_to_string(&mut text)
                .map_err(|source| AppError::Io {
                    path: "standard input".into(),
                    source,
                })?;
            let crs = match crs {
                CrsArg::Wgs84 => Crs::Wgs84,
                CrsArg::Gcj02 => Crs::Gcj02,
                CrsArg::Bd09 => Crs::Bd09,
            };
            let points = read_points("standard input", &text, crs).map_err(AppError::Input)?;
            let index = app.grid_index().await?;
            let mut buf = String::with_capacity(points.len() * 16);
            for (lon, lat) in points {
                if let Some(code) = index.locate(lon, lat) {
                    buf.push_str(code.as_str());
                }
                buf.push('\n');
            }
            out.write_all(buf.as_bytes()).map_err(io)?;
        }
        Command::Route {
            category,
            grid,
            attributes,
        } => {
            let category: CategoryCode =
                category
                    .parse()
                    .map_err(|e: civicgrid_domain::catalogue::CatalogueError| {
                        AppError::Invalid(e.to_string())
                    })?;
            let grid_code: GridCode =
                grid.parse()
                    .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                        AppError::Invalid(e.to_string())
                    })?;
            let mut attrs = BTreeMap::new();
            for a in &attributes {
                let (k, v) = a
                    .split_once('=')
                    .ok_or_else(|| AppError::Invalid(format!("--attr `{a}` is not NAME=VALUE")))?;
                attrs.insert(k.to_owned(), v.to_owned());
            }
            let (a, units) = app.route_case(&category, &grid_code, &attrs).await?;
            let name = |code: &str| {
                units
                    .iter()
                    .find(|u| u.code == code)
                    .map(|u| u.name.clone())
                    .unwrap_or_default()
            };
            writeln!(out, "primary: {} {}", a.primary, name(&a.primary)).map_err(io)?;
            for c in &a.co_handlers {
                writeln!(out, "co-handler: {c} {}", name(c)).map_err(io)?;
            }
            writeln!(out, "why: {}", a.explanation).map_err(io)?;
        }
        Command::Deadline { start, limit } => {
            let start: jiff::Timestamp = start
                .parse()
                .map_err(|e| AppError::Invalid(format!("--start `{start}`: {e}")))?;
            let limit: TimeLimit =
                limit
                    .parse()
                    .map_err(|e: civicgrid_domain::calendar::CalendarError| {
                        AppError::Invalid(e.to_string())
                    })?;
            let cal = app.repo.calendar().await?.ok_or_else(|| {
                AppError::NotFound(
                    "no working calendar is configured (civicgrid import calendar)".into(),
                )
            })?;
            let due = cal.deadline(start, limit);
            writeln!(out, "{}", due.to_zoned(cal.time_zone().clone())).map_err(io)?;
        }
        Command::User {
            what:
                UserCommand::Add {
                    username,
                    name,
                    role,
                    scope,
                    unit,
                    password_stdin,
                },
        } => {
            if role.len() != scope.len() {
                return Err(AppError::Invalid("give one --scope for each --role".into()));
            }
            let grants = role
                .into_iter()
                .zip(scope)
                .map(|(role, scope)| {
                    Ok(Grant {
                        role,
                        scope: scope.parse::<Scope>().map_err(AppError::Invalid)?,
                    })
                })
                .collect::<AppResult<Vec<_>>>()?;
            let (password, generated) = if password_stdin {
                let mut p = String::new();
                input
                    .read_to_string(&mut p)
                    .map_err(|source| AppError::Io {
                        path: "standard input".into(),
                        source,
                    })?;
                let first_line = p.lines().next().unwrap_or("").to_owned();
                (first_line, false)
            } else {
                (crate::accounts::random_secret(9), true)
            };
            app.add_user(UserSpec {
                username: username.clone(),
                display_name: name,
                password: password.clone(),
                unit,
                grants,
            })
            .await?;
            writeln!(out, "created user {username}").map_err(io)?;
            if generated {
                writeln!(out, "password (shown once): {password}").map_err(io)?;
            }
        }
        Command::User {
            what: UserCommand::List,
        } => {
            for u in app.repo.users().await? {
                let grants: Vec<String> = u
                    .grants
                    .iter()
                    .map(|g| format!("{}@{}", g.role, g.scope))
                    .collect();
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    u.username,
                    u.display_name,
                    grants.join(" ")
                )
                .map_err(io)?;
            }
        }
        Command::Webhook { what } => match what {
            WebhookCommand::Add {
                url,
                region,
                events,
            } => {
                let w = app
                    .add_webhook(&url, region.as_deref(), &events, "cli")
                    .await?;
                writeln!(out, "{}\t{}", w.id, w.secret).map_err(io)?;
                eprintln!(
                    "The secret signs every delivery (webhook-signature); it is shown once here."
                );
            }
            WebhookCommand::List => {
                for (w, c) in app.webhooks().await? {
                    let events = civicgrid_domain::notify::EventFilter::parse(&w.actions)
                        .map(|f| f.listed())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{}\t{}\t{}\tregion={}\tevents={}\tpending={}\tdelivered={}\tfailed={}",
                        w.id,
                        if w.active { "active" } else { "disabled" },
                        w.url,
                        if w.region.is_empty() { "*" } else { &w.region },
                        if events.is_empty() { "*" } else { &events },
                        c.pending,
                        c.delivered,
                        c.failed
                    )
                    .map_err(io)?;
                }
            }
            WebhookCommand::Disable { id } => app.set_webhook_active(&id, false).await?,
            WebhookCommand::Enable { id } => app.set_webhook_active(&id, true).await?,
            WebhookCommand::Deliver { lease_secs } => {
                app.jobs = job_settings(60, lease_secs);
                let report = app.deliver_notifications().await;
                // Whatever happened, leave no lease behind for the serving instances to wait out.
                let _ = app.repo.release_leases(&app.jobs.instance).await;
                let line = serde_json::to_string(&report?)
                    .map_err(|e| AppError::Invalid(e.to_string()))?;
                writeln!(out, "{line}").map_err(io)?;
            }
        },
        Command::Apikey {
            what: ApikeyCommand::Create { name, user },
        } => {
            let key = app.create_api_key(&name, user.as_deref()).await?;
            writeln!(out, "{key}").map_err(io)?;
            eprintln!("This key is shown once; civicgrid keeps only its hash.");
        }
        Command::Demo {
            seed,
            messages,
            months,
            cases_per_month,
            serve: then_serve,
            listen,
        } => {
            if !(0..=36).contains(&months) || cases_per_month > 10_000 {
                return Err(AppError::Invalid(
                    "--months must be 0 to 36 and --cases-per-month at most 10000".into(),
                ));
            }
            match app.load_demo(seed).await? {
                DemoOutcome::Created => {
                    writeln!(out, "demo territory created (seed {seed})").map_err(io)?;
                    if months > 0 && cases_per_month > 0 {
                        let texts = crate::demo::cases::CaseTexts::from_dir_or_shipped(&messages);
                        let source = match &texts {
                            crate::demo::cases::CaseTexts::Messages(dir) => {
                                format!("residents' messages from {}", dir.display())
                            }
                            crate::demo::cases::CaseTexts::Shipped => {
                                "the shipped demo texts (data/demo-case-texts.toml)".to_owned()
                            }
                        };
                        let r = app
                            .load_demo_cases(seed, &texts, months, cases_per_month)
                            .await?;
                        let paths: Vec<String> =
                            r.by_path.iter().map(|(p, n)| format!("{p} {n}")).collect();
                        writeln!(
                            out,
                            "{} demo cases over {months} months from {source} ({} still open): {}",
                            r.cases,
                            r.still_open,
                            paths.join(", ")
                        )
                        .map_err(io)?;
                    }
                }
                DemoOutcome::AlreadyLoaded => {
                    writeln!(out, "the demo territory is already loaded; nothing changed")
                        .map_err(io)?
                }
            }
            let s = app.repo.summary().await?;
            writeln!(
                out,
                "{} regions, {} grids, {} beats, {} units, {} categories, {} responsibility rules, {} calendar days, {} roles, {} staff accounts",
                s.regions, s.grids, s.beats, s.units, s.categories, s.rules, s.calendar_days, s.roles, s.users
            )
            .map_err(io)?;
            writeln!(out, "every demo account's password is `{DEMO_PASSWORD}` (try admin, dispatcher.st1, gw.st1c1.1)").map_err(io)?;
            if then_serve {
                let key = app
                    .create_api_key(
                        &format!("demo {}", app.ids.new_id(app.clock.now())),
                        Some("dispatcher.st1"),
                    )
                    .await?;
                writeln!(
                    out,
                    "an API key acting as dispatcher.st1 (shown once): {key}"
                )
                .map_err(io)?;
                serve(app, &listen, 0.8, Some(60), out).await?;
            }
        }
    }
    Ok(0)
}
