//! `civicgrid search QUERY`: cases whose text holds every word of the query, best first
//! (one receipt code per line, or JSON); `civicgrid search reindex` rebuilds the index.
//! The command line sees every case, as an administrator on the server does.

use std::io::Write;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::App;
use crate::cli::io;
use crate::error::{AppError, AppResult};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SearchCommand {
    /// What to look for: words, a place, a receipt's text (every term must occur)
    #[arg(required = true)]
    query: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[arg(long, value_enum, default_value = "text")]
    format: SearchFormat,
    #[command(subcommand)]
    action: Option<SearchAction>,
}

#[derive(Subcommand, Debug)]
pub enum SearchAction {
    /// Empties the index and builds it again from the cases
    Reindex,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum SearchFormat {
    Text,
    Json,
}

#[derive(Serialize)]
struct Found {
    receipt_code: String,
    public_id: String,
    score: f64,
    status: String,
    category: Option<String>,
    grid: Option<String>,
    reported_at: jiff::Timestamp,
    snippet: String,
    marks: Vec<String>,
}

pub async fn run(app: &App, command: SearchCommand, out: &mut dyn Write) -> AppResult<i32> {
    if let Some(SearchAction::Reindex) = command.action {
        let n = app.reindex_search().await?;
        writeln!(out, "indexed {n} cases").map_err(io)?;
        return Ok(0);
    }
    let query = command.query.unwrap_or_default();
    if !(1..=1000).contains(&command.limit) {
        return Err(AppError::Invalid("--limit must be 1 to 1000".into()));
    }
    // Without `serve` running nothing feeds the index: catch up first.
    app.catch_up_search_index().await?;
    let hits = app.search_cases(None, &query, command.limit).await?;
    match command.format {
        SearchFormat::Text => {
            for h in &hits {
                writeln!(out, "{}", h.case.receipt_code).map_err(io)?;
            }
        }
        SearchFormat::Json => {
            let found: Vec<Found> = hits
                .into_iter()
                .map(|h| Found {
                    receipt_code: h.case.receipt_code,
                    public_id: h.case.public_id,
                    score: (h.score * 1000.0).round() / 1000.0,
                    status: h.case.state.status.as_str().to_owned(),
                    category: h.case.category.map(|c| c.as_str().to_owned()),
                    grid: h.case.grid.map(|g| g.as_str().to_owned()),
                    reported_at: h.case.reported_at,
                    snippet: h.snippet,
                    marks: h.marks,
                })
                .collect();
            let text = serde_json::to_string_pretty(&found)
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            writeln!(out, "{text}").map_err(io)?;
        }
    }
    Ok(0)
}
