//! The command line of routing: which unit must act and why; units and the responsibility list as files.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::cli::{io, read_table};
use crate::error::{AppError, AppResult};
use civicgrid_domain::catalogue::CategoryCode;
use civicgrid_domain::territory::GridCode;
use std::collections::BTreeMap;

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
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
}

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Units CSV: code,name,kind,region
    Units { file: PathBuf },
    /// Responsibility list CSV (replaces the list)
    Responsibility { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    Units,
    Responsibility,
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    _input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
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
        Import::Units { file } => {
            let (name, text) = read_table(&file)?;
            ("units", app.import_units(&name, &text).await?)
        }
        Import::Responsibility { file } => {
            let (name, text) = read_table(&file)?;
            ("rules", app.import_responsibility_list(&name, &text).await?)
        }
    })
}

/// Exports a table of this capability as text.
pub async fn export(app: &App, what: Export) -> AppResult<String> {
    Ok(match what {
        Export::Units => app.export_units().await?,
        Export::Responsibility => app.export_responsibility_list().await?,
    })
}
