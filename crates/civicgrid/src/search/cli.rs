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
    /// Rebuilds the index from the cases: here, and in every running instance at its
    /// indexer's next round
    Reindex,
    /// The cases most like one (text, place, time), with why
    Similar {
        /// The case's receipt code or id
        case: String,
        #[arg(long, default_value_t = 5)]
        limit: usize,
    },
    /// Measures the similar-case hint on the merges made so far: for each case merged into
    /// another, whether that one was among the top 3 offered from what was known when it was
    /// reported
    Merges,
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
    match command.action {
        Some(SearchAction::Reindex) => {
            let n = app.reindex_search().await?;
            let index = app.search_index()?;
            if index.writes() {
                writeln!(out, "indexed {n} cases").map_err(io)?;
            } else {
                writeln!(
                    out,
                    "the index{} is fed by a running instance: it rebuilds it within seconds",
                    index
                        .location()
                        .map(|l| format!(" at {}", l.display()))
                        .unwrap_or_default()
                )
                .map_err(io)?;
            }
            return Ok(0);
        }
        Some(SearchAction::Similar { case, limit }) => {
            app.catch_up_search_index().await?;
            let case = find_case(app, &case).await?;
            let similar = app
                .similar_cases(&super::similar::Probe::of(&case, false), limit)
                .await?;
            for s in similar {
                let l = &s.likeness;
                writeln!(
                    out,
                    "{}\t{:.3}\ttext {:.2}\t{}\t{:.0} h\t{}",
                    s.case.receipt_code,
                    l.score,
                    l.text,
                    l.distance_m.map_or("—".to_owned(), |d| format!("{d:.0} m")),
                    l.hours,
                    l.shared.join(" ")
                )
                .map_err(io)?;
            }
            return Ok(0);
        }
        Some(SearchAction::Merges) => {
            app.catch_up_search_index().await?;
            let m = app.measure_similar_on_merges().await?;
            writeln!(
                out,
                "{} merged cases: the case merged into was first {} times and in the top 3 {} times; top-1 precision {:.3}, top-3 hit rate {:.3}, precision of the top 3 {:.3}",
                m.merges, m.first, m.in_top3, m.top1_precision(), m.top3_hit_rate(), m.top3_precision()
            )
            .map_err(io)?;
            return Ok(0);
        }
        None => {}
    }
    let query = command.query.unwrap_or_default();
    if !(1..=1000).contains(&command.limit) {
        return Err(AppError::Invalid("--limit must be 1 to 1000".into()));
    }
    // Without `serve` running nothing feeds the index: catch up first (with `serve` running,
    // it holds the index and keeps it up; this reads it).
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

/// A case by its receipt code or id.
async fn find_case(app: &App, key: &str) -> AppResult<civicgrid_domain::case::Case> {
    let found = match key.parse::<uuid::Uuid>() {
        Ok(id) => app.repo.case(&id).await?,
        Err(_) => match civicgrid_domain::case::normalize_receipt_code(key) {
            Some(code) => app.repo.case_by_receipt(&code).await?,
            None => None,
        },
    };
    found.ok_or_else(|| AppError::NotFound(format!("case {key}")))
}

/// `civicgrid hotspots --scope REGION --period PERIOD`: clusters of cases about one matter in
/// one place, largest first.
#[derive(Args, Debug)]
pub struct HotspotsCommand {
    /// A region code: district, street or community
    #[arg(long)]
    scope: String,
    /// 2026-11, 2026-W45, 2026-Q4, 2026-11-01..2026-11-30, …
    #[arg(long)]
    period: String,
    #[arg(long, value_enum, default_value = "text")]
    format: SearchFormat,
}

pub async fn hotspots(app: &App, command: HotspotsCommand, out: &mut dyn Write) -> AppResult<i32> {
    let scope = crate::cli::parse_region(&command.scope)?;
    app.catch_up_search_index().await?;
    let found = app.hotspots(&scope, &command.period, None).await?;
    match command.format {
        SearchFormat::Json => {
            let text = serde_json::to_string_pretty(&found)
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            writeln!(out, "{text}").map_err(io)?;
        }
        SearchFormat::Text => {
            if found.is_empty() {
                writeln!(out, "no hotspots").map_err(io)?;
            }
            for h in &found {
                writeln!(
                    out,
                    "{} — {} cases, {:?} ({} then {}), {}\n  why: {}\n  cases: {}",
                    h.label.join(" "),
                    h.size,
                    h.trend,
                    h.halves[0],
                    h.halves[1],
                    h.places.join("、"),
                    h.why,
                    h.receipt_codes.join(" ")
                )
                .map_err(io)?;
            }
        }
    }
    Ok(0)
}
