//! The command line of assessment: the KPI table of a scope and period; the scheme as a file.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::cli::{io, read_table};
use crate::error::{AppError, AppResult};
use clap::ValueEnum;

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
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
}

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Assessment scheme TOML: weights per kind of subject and grade bands
    Assessment { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
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

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    _input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
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
        Import::Assessment { file } => {
            let (name, text) = read_table(&file)?;
            (
                "assessment weights",
                app.import_assessment(&name, &text, "cli").await?,
            )
        }
    })
}

/// Exports a table of this capability as text.
pub async fn export(app: &App, what: Export) -> AppResult<String> {
    Ok(match what {
        Export::Assessment => app.export_assessment().await?,
    })
}
