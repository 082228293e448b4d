//! The command line of consultation: results (decisions with their linked work) as CSV. The
//! shell (`crate::cli`) merges these into `civicgrid import` and `civicgrid export`; the
//! operator acts as the platform.

use std::io::Write;
use std::path::PathBuf;

use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::RegionCode;
use clap::Subcommand;

use crate::App;
use crate::cli::read_table;
use crate::error::AppResult;

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Results CSV, one row per piece of work:
    /// number,region,title,decision,meeting,kind,case,work_title,owner,due (kind: case or
    /// milestone; the export's computed columns done_at,percent,overdue are ignored); new
    /// results only, all or nothing
    Results { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// Results in a region with their work and computed progress, as CSV
    Results {
        /// A region code (a street, a community)
        #[arg(long)]
        within: RegionCode,
    },
}

pub async fn import(
    app: &App,
    what: Import,
    _out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    Ok(match what {
        Import::Results { file } => {
            let (name, text) = read_table(&file)?;
            (
                "results",
                app.import_results(&Actor::System, &name, &text).await?,
            )
        }
    })
}

pub async fn export(app: &App, what: Export) -> AppResult<String> {
    match what {
        Export::Results { within } => app.export_results(&within).await,
    }
}
