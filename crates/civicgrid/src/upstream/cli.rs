//! `civicgrid upstream …`: the upstream systems, their routes, the forwarded cases.

use std::io::Write;

use clap::Subcommand;

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};

#[derive(Subcommand, Debug)]
pub enum UpstreamCommand {
    /// Adds or replaces an upstream Open311 (GeoReport v2) server
    Add {
        #[arg(long)]
        name: String,
        /// Its GeoReport v2 base, e.g. https://county.example.cn/open311/v2
        #[arg(long)]
        url: String,
        /// The API key it issued to this platform (kept sealed)
        #[arg(long, env = "CIVICGRID_UPSTREAM_API_KEY", hide_env_values = true)]
        api_key: String,
        #[arg(long)]
        jurisdiction: Option<String>,
    },
    /// Sends the accepted cases of a category in a region (and inside it) to a system
    Route {
        #[arg(long)]
        system: String,
        #[arg(long)]
        category: String,
        #[arg(long)]
        region: String,
        /// The upstream's service code (default: the category code)
        #[arg(long)]
        service_code: Option<String>,
    },
    /// The forwarded cases: pending, sent or failed, with the upstream id and the last error
    List {
        #[arg(long, default_value = "")]
        status: String,
    },
    /// Sends a failed case again
    Retry { case: uuid::Uuid },
    /// Runs one round now (settle, send, pull)
    Run,
}

pub async fn run(app: &App, command: UpstreamCommand, out: &mut dyn Write) -> AppResult<i32> {
    let io = |e: std::io::Error| AppError::Invalid(e.to_string());
    match command {
        UpstreamCommand::Add {
            name,
            url,
            api_key,
            jurisdiction,
        } => {
            let s = app
                .add_upstream_system(&name, &url, &api_key, jurisdiction.as_deref())
                .await?;
            writeln!(out, "upstream {} at {}", s.name, s.base_url).map_err(io)?;
        }
        UpstreamCommand::Route {
            system,
            category,
            region,
            service_code,
        } => {
            let r = app
                .add_upstream_route(&system, &category, &region, service_code.as_deref())
                .await?;
            writeln!(
                out,
                "{} in {} goes to {} as {}",
                r.category_code, r.region_code, r.system, r.service_code
            )
            .map_err(io)?;
        }
        UpstreamCommand::List { status } => {
            for l in app.upstream_links(&Actor::System, &status).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\tid={}\ttries={}\tupstream={}\t{}",
                    l.case_id,
                    l.system,
                    l.status,
                    l.request_id.as_deref().unwrap_or("-"),
                    l.attempts,
                    l.upstream_status.as_deref().unwrap_or("-"),
                    l.last_error.as_deref().unwrap_or("")
                )
                .map_err(io)?;
            }
        }
        UpstreamCommand::Retry { case } => {
            app.retry_upstream_link(&Actor::System, &case).await?;
            writeln!(out, "{case} goes again").map_err(io)?;
        }
        UpstreamCommand::Run => {
            let r = app.run_upstream().await?;
            writeln!(
                out,
                "events {} linked {} sent {} retried {} failed {} updates {}",
                r.events, r.linked, r.sent, r.retried, r.failed, r.updates
            )
            .map_err(io)?;
        }
    }
    Ok(0)
}
