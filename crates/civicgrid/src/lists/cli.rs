//! The command line of published lists: publish a power list from CSV, export a version.

use std::io::Write;
use std::path::PathBuf;

use civicgrid_domain::lists::{ListKind, POWER_COLUMNS};
use clap::Subcommand;

use crate::App;
use crate::cases::Actor;
use crate::cli::read_table;
use crate::error::{AppError, AppResult};

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// A power list (权力清单) as CSV, published as the next version (all or nothing)
    PowerList {
        file: PathBuf,
        /// The day it takes effect (YYYY-MM-DD)
        #[arg(long)]
        effective_from: jiff::civil::Date,
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// A power list version as CSV (the one in force when no --version is given)
    PowerList {
        #[arg(long)]
        version: Option<u32>,
    },
}

pub async fn import(
    app: &App,
    what: Import,
    out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    match what {
        Import::PowerList {
            file,
            effective_from,
            note,
        } => {
            let (name, text) = read_table(&file)?;
            let v = app
                .publish_power_list_csv(&Actor::System, &name, &text, effective_from, &note)
                .await?;
            let _ = out;
            Ok(("powers", v.entries.len()))
        }
    }
}

pub async fn export(app: &App, what: Export) -> AppResult<String> {
    let Export::PowerList { version } = what;
    let v = match version {
        Some(n) => app.list_version(ListKind::Power, n).await?,
        None => app
            .list_in_force(ListKind::Power)
            .await?
            .ok_or_else(|| AppError::NotFound("no power list in force".into()))?,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AppError::Invalid(e.to_string());
    w.write_record(POWER_COLUMNS).map_err(csv_err)?;
    for (_, fields) in &v.entries {
        w.write_record(
            POWER_COLUMNS
                .iter()
                .map(|c| fields.get(*c).map_or("", String::as_str)),
        )
        .map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Invalid(e.to_string()))
}
