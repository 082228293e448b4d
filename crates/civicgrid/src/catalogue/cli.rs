//! The command line of the catalogue and the calendar: deadline arithmetic; both as files.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::app::Format;
use crate::cli::format_of;
use crate::cli::{io, read_table};
use crate::error::{AppError, AppResult};
use civicgrid_domain::calendar::TimeLimit;
use clap::ValueEnum;

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compute a deadline on the stored working calendar
    Deadline {
        /// Start, RFC 3339 (e.g. 2026-02-13T16:30:00+08:00)
        #[arg(long)]
        start: String,
        /// Time limit, e.g. "2h working_hours", "3d working_days", "30min urgent_hours"
        #[arg(long)]
        limit: String,
    },
}

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Category catalogue, TOML or CSV
    Catalogue { file: PathBuf },
    /// Working calendar TOML
    Calendar { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    Catalogue {
        #[arg(long, value_enum, default_value = "toml")]
        format: FormatArg,
    },
    Calendar,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Toml,
    Csv,
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    _input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
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
    }
    Ok(0)
}

/// Imports a file of this capability: what was imported, and how many.
pub async fn import(
    app: &App,
    what: Import,
    _out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    Ok(match what {
        Import::Catalogue { file } => {
            let format = format_of(&file)?;
            let (name, text) = read_table(&file)?;
            (
                "categories",
                app.import_catalogue(&name, &text, format).await?,
            )
        }
        Import::Calendar { file } => {
            let (name, text) = read_table(&file)?;
            ("calendar days", app.import_calendar(&name, &text).await?)
        }
    })
}

/// Exports a table of this capability as text.
pub async fn export(app: &App, what: Export) -> AppResult<String> {
    Ok(match what {
        Export::Catalogue { format } => {
            app.export_catalogue(match format {
                FormatArg::Toml => Format::Toml,
                FormatArg::Csv => Format::Csv,
            })
            .await?
        }
        Export::Calendar => app.export_calendar().await?,
    })
}
