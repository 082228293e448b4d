//! The command line of household contacts: the register as a CSV file. The shell
//! (`crate::cli`) merges these into `civicgrid import` and `civicgrid export`; the operator
//! acts as the platform. The export leaves contacts out: they leave the database only through
//! the audited reads.

use std::io::Write;
use std::path::PathBuf;

use civicgrid_domain::policy::Actor;
use clap::Subcommand;

use crate::App;
use crate::cli::read_table;
use crate::error::AppResult;
use crate::interchange::csv_table;

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Household register CSV: grid,building,unit,room,consent,contact_name,contact_phone
    /// (consent yes/no; a contact only with consent); all or nothing
    Households { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// The household register without contacts, with each household's contact person and
    /// interval, as CSV
    Households {
        /// Only households in this region subtree
        #[arg(long)]
        within: Option<String>,
    },
}

pub async fn import(
    app: &App,
    what: Import,
    _out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    match what {
        Import::Households { file } => {
            let (name, text) = read_table(&file)?;
            Ok((
                "households",
                app.import_households(&Actor::System, &name, &text).await?,
            ))
        }
    }
}

pub async fn export(app: &App, what: Export) -> AppResult<String> {
    match what {
        Export::Households { within } => {
            let within = within
                .as_deref()
                .map(crate::cli::parse_region)
                .transpose()?;
            let top = match within {
                Some(w) => w,
                None => app.reference().await?.top_region.clone().ok_or_else(|| {
                    crate::error::AppError::Invalid(
                        "give --within: the territory has several top regions".into(),
                    )
                })?,
            };
            let list = app.households_for(&Actor::System, Some(&top)).await?;
            Ok(csv_table::write(
                &[
                    "grid",
                    "building",
                    "unit",
                    "room",
                    "consent",
                    "assignee",
                    "assigned_on",
                    "interval_days",
                    "last_visit",
                ],
                list.iter().map(|s| {
                    let h = &s.household;
                    vec![
                        h.grid.to_string(),
                        h.building.clone(),
                        h.unit.clone(),
                        h.room.clone(),
                        if h.consent { "yes" } else { "no" }.to_owned(),
                        h.assignee.clone().unwrap_or_default(),
                        h.assigned_on.map(|d| d.to_string()).unwrap_or_default(),
                        s.interval_days.to_string(),
                        s.last_visit.map(|d| d.to_string()).unwrap_or_default(),
                    ]
                }),
            ))
        }
    }
}
