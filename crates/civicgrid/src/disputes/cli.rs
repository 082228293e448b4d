//! The command line of mediation: disputes as CSV for statistics (人民调解统计), without the
//! parties' names or phones. The shell (`crate::cli`) merges this into `civicgrid export`.

use civicgrid_domain::territory::RegionCode;
use clap::Subcommand;

use crate::App;
use crate::error::{AppError, AppResult};

/// The columns of `civicgrid export disputes`.
pub const DISPUTE_COLUMNS: [&str; 15] = [
    "number",
    "community",
    "grid",
    "kind",
    "risk",
    "channel",
    "status",
    "tier",
    "first_tier",
    "highest_tier",
    "raised_at",
    "limit_due",
    "outcome_at",
    "closed_at",
    "repeat",
];

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// Disputes in a region with their tiers, outcome and dates, as CSV (no personal data)
    Disputes {
        /// A region code (a district, a street, a community)
        #[arg(long)]
        within: RegionCode,
    },
}

pub async fn export(app: &App, what: Export) -> AppResult<String> {
    match what {
        Export::Disputes { within } => app.export_disputes(&within).await,
    }
}

impl App {
    /// Disputes of regions under `within`, newest first, as CSV.
    pub async fn export_disputes(&self, within: &RegionCode) -> AppResult<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| AppError::Invalid(e.to_string());
        w.write_record(DISPUTE_COLUMNS).map_err(csv_err)?;
        let when = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        // Every dispute of the region: statistics are not cut at a page's length.
        for d in self.repo.disputes(within.as_str(), false, u32::MAX).await? {
            let s = &d.state;
            w.write_record([
                d.public_id.as_str(),
                d.region.as_str(),
                d.grid.as_ref().map_or("", |g| g.as_str()),
                d.kind.as_str(),
                d.risk.as_str(),
                d.channel.as_str(),
                s.status.as_str(),
                s.tier.as_str(),
                s.first_tier.as_str(),
                s.highest_tier.as_str(),
                &d.raised_at.to_string(),
                &d.limit_due.to_string(),
                &when(d.outcome_at),
                &when(d.closed_at),
                if d.repeat { "true" } else { "false" },
            ])
            .map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| AppError::Invalid(e.to_string()))
    }
}
