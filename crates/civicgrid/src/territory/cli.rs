//! The command line of territory: grid maintenance and point → grid; regions, grids and beats as files.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::cli::parse_region;
use crate::cli::{DEFAULT_MAX_BYTES, io, read_file, read_table};
use crate::error::{AppError, AppResult};
use crate::territory::{GridImportOptions, read_points};
use civicgrid_domain::geometry::crs::Crs;
use clap::ValueEnum;

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
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
}

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
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
    /// Beats CSV: code,name,region,grids,workers (lists separated by ';')
    Beats { file: PathBuf },
    /// The gazetteer of buildings and landmarks the map's search finds: CSV
    /// name,kind,lon,lat or GeoJSON Points with name and kind (building|landmark)
    Places { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// GeoJSON FeatureCollection
    Grids {
        /// Only grids in this region subtree
        #[arg(long)]
        within: Option<String>,
    },
    Regions,
    Beats,
    /// The gazetteer, as CSV
    Places,
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

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CrsArg {
    Wgs84,
    Gcj02,
    Bd09,
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
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
    }
    Ok(0)
}

/// Imports a file of this capability: what was imported, and how many.
pub async fn import(
    app: &App,
    what: Import,
    out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    Ok(match what {
        Import::Grids {
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
        Import::Regions { file } => {
            let (name, text) = read_table(&file)?;
            ("regions", app.import_regions(&name, &text).await?)
        }
        Import::Beats { file } => {
            let (name, text) = read_table(&file)?;
            ("beats", app.import_beats(&name, &text).await?)
        }
        Import::Places { file } => {
            let (name, text) = read_table(&file)?;
            ("places", app.import_places(&name, &text).await?)
        }
    })
}

/// Exports a table of this capability as text.
pub async fn export(app: &App, what: Export) -> AppResult<String> {
    Ok(match what {
        Export::Grids { within } => {
            let within = within.as_deref().map(parse_region).transpose()?;
            app.export_grids(within.as_ref()).await?
        }
        Export::Regions => app.export_regions().await?,
        Export::Beats => app.export_beats().await?,
        Export::Places => app.export_places().await?,
    })
}
