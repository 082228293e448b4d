//! The command line of party-building: organisations and alliances as CSV files. The shell
//! (`crate::cli`) merges these into `civicgrid import` and `civicgrid export`; the operator
//! acts as the platform.

use std::io::Write;
use std::path::PathBuf;

use civicgrid_domain::policy::Actor;
use clap::Subcommand;

use crate::App;
use crate::cli::read_table;
use crate::error::AppResult;

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Party organisations CSV: code,name,kind,parent,region,grid (kind: committee,
    /// general_branch, branch, grid_group); added or changed by code, all or nothing
    Organisations { file: PathBuf },
    /// Alliances CSV, one row per partner: alliance,name,region,partner_kind,partner,commitment
    Alliances { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// Party organisations, as CSV
    Organisations,
    /// Alliances, one row per partner, as CSV
    Alliances,
}

pub async fn import(
    app: &App,
    what: Import,
    _out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    Ok(match what {
        Import::Organisations { file } => {
            let (name, text) = read_table(&file)?;
            let n = app
                .import_organisations(&Actor::System, &name, &text)
                .await?;
            ("organisations", n)
        }
        Import::Alliances { file } => {
            let (name, text) = read_table(&file)?;
            let n = app.import_alliances(&Actor::System, &name, &text).await?;
            ("alliances", n)
        }
    })
}

pub async fn export(app: &App, what: Export) -> AppResult<String> {
    match what {
        Export::Organisations => app.export_organisations().await,
        Export::Alliances => app.export_alliances().await,
    }
}
