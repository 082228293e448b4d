//! The command-line shell: global options, and the capabilities' subcommands merged into
//! one `civicgrid` command (each capability's `cli.rs`, one line each below). It parses, opens
//! the store, and hands the command to its capability; no rules live here.

pub mod serve;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use civicgrid_domain::territory::RegionCode;
use clap::{Parser, Subcommand};

use crate::App;
use crate::app::Format;
use crate::clock::{Clock, SystemClock};
use crate::error::{AppError, AppResult, InputError};
use crate::{
    accounts, administration, assessment, cases, catalogue, consultation, demo, disputes,
    households, lists, one_stop, party, routing, supervision, territory, webhooks,
};

/// Files larger than this are refused unless --max-bytes says otherwise.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

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

    /// This instance's full-text index directory (default: beside a SQLite file as
    /// PATH.search; for PostgreSQL under $XDG_STATE_HOME/civicgrid/search/)
    #[arg(long, global = true, env = "CIVICGRID_SEARCH_INDEX")]
    pub search_index: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Every command: the capabilities' subcommands, merged (one line each).
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the REST API, the pages and the background jobs
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
        /// The base map: an XYZ raster tile URL template, e.g. the deployment's own tile server
        /// (`https://tiles.example.gov.cn/{z}/{x}/{y}.png`) or 天地图 with its key. Without it
        /// the maps are drawn by the server and nothing is fetched from outside.
        #[arg(long, env = "CIVICGRID_MAP_TILES")]
        map_tiles: Option<String>,
        /// The attribution the tile provider requires, shown on the map
        #[arg(long, env = "CIVICGRID_MAP_ATTRIBUTION", default_value = "")]
        map_attribution: String,
        /// The deepest zoom level the tile server has
        #[arg(long, default_value_t = 18)]
        map_max_zoom: u8,
        #[command(flatten)]
        supervision: supervision::cli::ClockArgs,
        #[command(flatten)]
        notify: crate::notifications::cli::NotifyArgs,
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
    #[command(flatten)]
    Administration(administration::cli::Command),
    #[command(flatten)]
    Territory(territory::cli::Command),
    #[command(flatten)]
    Catalogue(catalogue::cli::Command),
    #[command(flatten)]
    Routing(routing::cli::Command),
    #[command(flatten)]
    Cases(cases::cli::Command),
    #[command(flatten)]
    Accounts(accounts::cli::Command),
    #[command(flatten)]
    Assessment(assessment::cli::Command),
    #[command(flatten)]
    Webhooks(webhooks::cli::Command),
    /// Forwarding cases to an upstream Open311 server (the county) and pulling its news
    #[command(subcommand)]
    Upstream(crate::upstream::cli::UpstreamCommand),
    /// Emergency response: plans, incidents, after-action records
    #[command(subcommand)]
    Emergency(crate::emergency::cli::EmergencyCommand),
    /// Full-text search over case text (every term must occur), best first
    Search(crate::search::cli::SearchCommand),
    /// Hotspots: clusters of cases about one matter in one place over a period
    Hotspots(crate::search::cli::HotspotsCommand),
    /// Category suggestion: train a model, predict, evaluate
    #[command(subcommand)]
    Classify(crate::suggestion::cli::ClassifyCommand),
    #[command(flatten)]
    Supervision(supervision::cli::Command),
    #[command(flatten)]
    Demo(demo::cli::Command),
}

/// What `civicgrid import` takes: each capability's files (one line each).
#[derive(Subcommand, Debug)]
pub enum ImportWhat {
    #[command(flatten)]
    Territory(territory::cli::Import),
    #[command(flatten)]
    Catalogue(catalogue::cli::Import),
    #[command(flatten)]
    Routing(routing::cli::Import),
    #[command(flatten)]
    Accounts(accounts::cli::Import),
    #[command(flatten)]
    Assessment(assessment::cli::Import),
    #[command(flatten)]
    Party(party::cli::Import),
    #[command(flatten)]
    Households(households::cli::Import),
    #[command(flatten)]
    Consultation(consultation::cli::Import),
    #[command(flatten)]
    OneStop(one_stop::catalogue::Import),
    #[command(flatten)]
    Lists(lists::cli::Import),
    #[command(flatten)]
    Hotline(crate::hotline::cli::Import),
}

/// What `civicgrid export` writes: each capability's tables (one line each).
#[derive(Subcommand, Debug)]
pub enum ExportWhat {
    #[command(flatten)]
    Territory(territory::cli::Export),
    #[command(flatten)]
    Catalogue(catalogue::cli::Export),
    #[command(flatten)]
    Routing(routing::cli::Export),
    #[command(flatten)]
    Assessment(assessment::cli::Export),
    #[command(flatten)]
    Party(party::cli::Export),
    #[command(flatten)]
    Households(households::cli::Export),
    #[command(flatten)]
    Consultation(consultation::cli::Export),
    #[command(flatten)]
    Disputes(disputes::cli::Export),
    #[command(flatten)]
    OneStop(one_stop::catalogue::Export),
    #[command(flatten)]
    Lists(lists::cli::Export),
}

/// An error writing to standard output.
pub(crate) fn io(e: std::io::Error) -> AppError {
    AppError::Io {
        path: "standard output".into(),
        source: e,
    }
}

/// A table file of the default size limit: its name (for error locations) and its text.
pub(crate) fn read_table(path: &Path) -> AppResult<(String, String)> {
    Ok((
        path.display().to_string(),
        read_file(path, DEFAULT_MAX_BYTES)?,
    ))
}

pub(crate) fn read_file(path: &Path, max_bytes: u64) -> AppResult<String> {
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

pub(crate) fn parse_region(s: &str) -> AppResult<RegionCode> {
    s.parse()
        .map_err(|e: civicgrid_domain::territory::TerritoryError| AppError::Invalid(e.to_string()))
}

pub(crate) fn format_of(path: &Path) -> AppResult<Format> {
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

/// Runs a parsed command against the store the URL names, writing to `out`.
pub async fn run(cli: Cli, input: &mut dyn Read, out: &mut dyn Write) -> AppResult<i32> {
    // Backup, restore and copy work on the database as files or dumps: no connection, no
    // migration.
    if let Command::Administration(command) = &cli.command
        && let Some(code) = administration::cli::run_offline(command, &cli.database, out).await?
    {
        return Ok(code);
    }
    // Classifying works on files; it needs no store.
    if let Command::Classify(command) = &cli.command
        && crate::suggestion::cli::is_offline(command)
    {
        return crate::suggestion::cli::run(command, input, out);
    }
    let repo = civicgrid_store::connect(&cli.database).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut app = App::new(repo, clock);
    app.sealer = data_key(&cli.database)?.map(Arc::new);
    app.open311 = Arc::new(crate::open311::Open311Settings {
        jurisdictions: cli.open311_jurisdiction.clone(),
        ..Default::default()
    });
    // The commands that search open the instance's index on disk; the others never touch it.
    if matches!(
        cli.command,
        Command::Serve { .. } | Command::Search(_) | Command::Hotspots(_)
    ) {
        app.use_search_index(crate::search::index::for_database(
            &cli.database,
            cli.search_index.as_deref(),
        )?);
    }
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
            map_tiles,
            map_attribution,
            map_max_zoom,
            supervision,
            notify,
        } => {
            app.supervision = supervision.clocks()?;
            app.outbound = notify.outbound()?;
            app.notifier = std::sync::Arc::new(notify.settings(&listen)?);
            app.map = std::sync::Arc::new(
                crate::territory::map::MapSettings::with_tiles(
                    map_tiles,
                    map_attribution,
                    map_max_zoom,
                )
                .map_err(crate::error::AppError::Invalid)?,
            );
            app.jobs = serve::job_settings(sweep_every, lease_secs);
            app.limits = std::sync::Arc::new(crate::accounts::limits::Limits {
                sign_in_failures_per_account: sign_in_failures,
                lookups_per_minute,
                open311_posts_per_minute,
                ..Default::default()
            });
            let jobs = (!no_jobs).then_some(sweep_every);
            serve::serve(app, &listen, warn_at, jobs, out).await?;
            Ok(0)
        }
        // Handled above, before connecting.
        Command::Import { what } => {
            let (kind, n) = match what {
                ImportWhat::Territory(what) => territory::cli::import(&app, what, out).await?,
                ImportWhat::Catalogue(what) => catalogue::cli::import(&app, what, out).await?,
                ImportWhat::Routing(what) => routing::cli::import(&app, what, out).await?,
                ImportWhat::Accounts(what) => accounts::cli::import(&app, what, out).await?,
                ImportWhat::Assessment(what) => assessment::cli::import(&app, what, out).await?,
                ImportWhat::Party(what) => party::cli::import(&app, what, out).await?,
                ImportWhat::Households(what) => households::cli::import(&app, what, out).await?,
                ImportWhat::Consultation(what) => {
                    consultation::cli::import(&app, what, out).await?
                }
                ImportWhat::OneStop(what) => one_stop::catalogue::import(&app, what, out).await?,
                ImportWhat::Lists(what) => lists::cli::import(&app, what, out).await?,
                ImportWhat::Hotline(what) => crate::hotline::cli::import(&app, what, out).await?,
            };
            writeln!(out, "imported {n} {kind}").map_err(io)?;
            Ok(0)
        }
        Command::Export { what, output } => {
            let text = match what {
                ExportWhat::Territory(what) => territory::cli::export(&app, what).await?,
                ExportWhat::Catalogue(what) => catalogue::cli::export(&app, what).await?,
                ExportWhat::Routing(what) => routing::cli::export(&app, what).await?,
                ExportWhat::Assessment(what) => assessment::cli::export(&app, what).await?,
                ExportWhat::Party(what) => party::cli::export(&app, what).await?,
                ExportWhat::Households(what) => households::cli::export(&app, what).await?,
                ExportWhat::Consultation(what) => consultation::cli::export(&app, what).await?,
                ExportWhat::Disputes(what) => disputes::cli::export(&app, what).await?,
                ExportWhat::OneStop(what) => one_stop::catalogue::export(&app, what).await?,
                ExportWhat::Lists(what) => lists::cli::export(&app, what).await?,
            };
            match output {
                Some(path) => std::fs::write(&path, text).map_err(|source| AppError::Io {
                    path: path.display().to_string(),
                    source,
                })?,
                None => out.write_all(text.as_bytes()).map_err(io)?,
            }
            Ok(0)
        }
        Command::Administration(c) => administration::cli::run(&mut app, c, input, out).await,
        Command::Territory(c) => territory::cli::run(&mut app, c, input, out).await,
        Command::Catalogue(c) => catalogue::cli::run(&mut app, c, input, out).await,
        Command::Routing(c) => routing::cli::run(&mut app, c, input, out).await,
        Command::Cases(c) => cases::cli::run(&mut app, c, input, out).await,
        Command::Accounts(c) => accounts::cli::run(&mut app, c, input, out).await,
        Command::Assessment(c) => assessment::cli::run(&mut app, c, input, out).await,
        Command::Webhooks(c) => webhooks::cli::run(&mut app, c, input, out).await,
        Command::Upstream(c) => crate::upstream::cli::run(&app, c, out).await,
        Command::Emergency(c) => crate::emergency::cli::run(&app, c, out).await,
        Command::Supervision(c) => supervision::cli::run(&mut app, c, out).await,
        Command::Search(c) => crate::search::cli::run(&app, c, out).await,
        Command::Hotspots(c) => crate::search::cli::hotspots(&app, c, out).await,
        // Files are handled above, before connecting; this is training from the history.
        Command::Classify(c) => crate::suggestion::cli::run_with_store(&app, &c, out).await,
        Command::Demo(c) => demo::cli::run(&mut app, c, input, out).await,
    }
}
