//! The command line of the case loop: one round of the deadline job (for cron).
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};

use clap::Subcommand;

use crate::App;
use crate::cli::io;
use crate::cli::serve::{check_warn_at, job_settings};
use crate::error::{AppError, AppResult};

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one round of the deadline job and print what it did (JSON); for cron, or to share
    /// the work of a round with running instances
    Sweep {
        /// Fraction of a stage's time after which a yellow warning is raised
        #[arg(long, default_value_t = 0.8)]
        warn_at: f64,
        /// Seconds in a round (the serving instances' --sweep-every)
        #[arg(long, default_value_t = 60)]
        round_secs: u64,
        /// Seconds a job lease holds
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
        Command::Sweep {
            warn_at,
            round_secs,
            lease_secs,
        } => {
            check_warn_at(warn_at)?;
            app.jobs = job_settings(round_secs, lease_secs);
            let report = app.sweep_whole_round(warn_at).await?;
            let line =
                serde_json::to_string(&report).map_err(|e| AppError::Invalid(e.to_string()))?;
            writeln!(out, "{line}").map_err(io)?;
        }
    }
    Ok(0)
}
