//! The command line of webhooks: subscriptions and the delivery round.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};

use clap::Subcommand;

use crate::App;
use crate::cli::io;
use crate::cli::serve::job_settings;
use crate::error::{AppError, AppResult};

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Outgoing webhooks: other systems subscribed to case events (CloudEvents, signed)
    Webhook {
        #[command(subcommand)]
        what: WebhookCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Subscribe a URL to case events; prints its id and signing secret (shown once)
    Add {
        /// http://HOST[:PORT]/PATH that receives the POSTs
        #[arg(long)]
        url: String,
        /// Only events of cases in this region subtree (default: every region)
        #[arg(long)]
        region: Option<String>,
        /// Only these actions, comma-separated (raise_alarm,escalate,miss_whistle; default: all)
        #[arg(long, default_value = "")]
        events: String,
    },
    /// List the subscriptions with their deliveries (pending, delivered, failed)
    List,
    /// Stop queueing events for a subscription
    Disable { id: String },
    /// Queue events for a subscription again
    Enable { id: String },
    /// Send the deliveries due now, once (the serving instances do this every few seconds)
    Deliver {
        /// Seconds a delivery lease holds
        #[arg(long, default_value_t = 60)]
        lease_secs: u64,
    },
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    _input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
        Command::Webhook { what } => match what {
            WebhookCommand::Add {
                url,
                region,
                events,
            } => {
                let w = app
                    .add_webhook(&url, region.as_deref(), &events, "cli")
                    .await?;
                writeln!(out, "{}\t{}", w.id, w.secret).map_err(io)?;
                eprintln!(
                    "The secret signs every delivery (webhook-signature); it is shown once here."
                );
            }
            WebhookCommand::List => {
                for (w, c) in app.webhooks().await? {
                    let events = civicgrid_domain::notify::EventFilter::parse(&w.actions)
                        .map(|f| f.listed())
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{}\t{}\t{}\tregion={}\tevents={}\tpending={}\tdelivered={}\tfailed={}",
                        w.id,
                        if w.active { "active" } else { "disabled" },
                        w.url,
                        if w.region.is_empty() { "*" } else { &w.region },
                        if events.is_empty() { "*" } else { &events },
                        c.pending,
                        c.delivered,
                        c.failed
                    )
                    .map_err(io)?;
                }
            }
            WebhookCommand::Disable { id } => app.set_webhook_active(&id, false).await?,
            WebhookCommand::Enable { id } => app.set_webhook_active(&id, true).await?,
            WebhookCommand::Deliver { lease_secs } => {
                app.jobs = job_settings(60, lease_secs);
                let report = app.deliver_notifications().await;
                // Whatever happened, leave no lease behind for the serving instances to wait out.
                let _ = app.repo.release_leases(&app.jobs.instance).await;
                let line = serde_json::to_string(&report?)
                    .map_err(|e| AppError::Invalid(e.to_string()))?;
                writeln!(out, "{line}").map_err(io)?;
            }
        },
    }
    Ok(0)
}
