//! `civicgrid import hotline FILE --mapping MAPPING.toml`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::mapping::Mapping;
use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// A hotline's export of work orders (12345) as cases: XLSX or CSV, read through a
    /// mapping file (all or nothing; tickets imported before are passed over)
    Hotline {
        file: PathBuf,
        /// The mapping (TOML): columns, categories, statuses; see
        /// docs/hotline-mapping.example.toml
        #[arg(long)]
        mapping: PathBuf,
    },
}

pub async fn import(
    app: &App,
    what: Import,
    out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    let Import::Hotline { file, mapping } = what;
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| AppError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let mapping_name = mapping.display().to_string();
    let mapping_text = String::from_utf8(read(&mapping)?).map_err(|_| {
        AppError::Input(vec![crate::error::InputError::file(
            &mapping_name,
            "is not UTF-8 text",
        )])
    })?;
    let mapping = Mapping::parse(&mapping_name, &mapping_text).map_err(AppError::Input)?;
    let name = file.display().to_string();
    let report = app
        .import_hotline(&name, &read(&file)?, &mapping, &Actor::System)
        .await?;
    writeln!(
        out,
        "hotline {}: {} new cases ({} accepted), {} imported before, {} skipped by status",
        report.source, report.added, report.accepted, report.already, report.skipped
    )
    .map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(("cases", report.added))
}
