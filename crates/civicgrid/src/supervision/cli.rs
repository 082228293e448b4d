//! The command line of the supervision channel: one round of its clocks (for cron), and an
//! overview of reports by status and overdue clocks, with no content and no identity. The
//! shell (`crate::cli`) merges these into `civicgrid`.

use std::io::Write;

use civicgrid_domain::supervision::{Clocks, Warning};
use clap::Subcommand;
use serde_json::json;

use crate::App;
use crate::cli::io;
use crate::error::{AppError, AppResult};

/// The channel's clocks, from flags or the environment (`serve` takes the same).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ClockArgs {
    /// Days to acknowledge a supervision report
    #[arg(
        long,
        env = "CIVICGRID_SUPERVISION_ACKNOWLEDGE_DAYS",
        default_value_t = 7
    )]
    pub supervision_acknowledge_days: i32,
    /// Months to give a supervision report substantive feedback
    #[arg(
        long,
        env = "CIVICGRID_SUPERVISION_FEEDBACK_MONTHS",
        default_value_t = 3
    )]
    pub supervision_feedback_months: i32,
    /// Months a closed supervision report is kept before it is erased
    #[arg(
        long,
        env = "CIVICGRID_SUPERVISION_RETENTION_MONTHS",
        default_value_t = 24
    )]
    pub supervision_retention_months: i32,
}

impl ClockArgs {
    pub fn clocks(self) -> AppResult<Clocks> {
        let clocks = Clocks {
            acknowledge_days: self.supervision_acknowledge_days,
            feedback_months: self.supervision_feedback_months,
            retention_months: self.supervision_retention_months,
        };
        clocks.check().map_err(AppError::Invalid)?;
        Ok(clocks)
    }
}

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Supervision reports: the clocks' round, or an overview without content
    Supervision {
        #[command(subcommand)]
        what: Supervision,
    },
}

#[derive(Subcommand, Debug)]
pub enum Supervision {
    /// Warn about overdue acknowledgements and feedback, and erase reports past retention;
    /// prints what it did (JSON)
    Sweep {
        #[command(flatten)]
        clocks: ClockArgs,
    },
    /// Reports by status and overdue clocks (JSON): counts only, no content
    Overview {
        #[command(flatten)]
        clocks: ClockArgs,
    },
}

pub async fn run(app: &mut App, command: Command, out: &mut dyn Write) -> AppResult<i32> {
    let Command::Supervision { what } = command;
    let report = match what {
        Supervision::Sweep { clocks } => {
            app.supervision = clocks.clocks()?;
            let (warned, erased) = app.sweep_supervision().await?;
            json!({"warned": warned, "erased": erased})
        }
        Supervision::Overview { clocks } => {
            app.supervision = clocks.clocks()?;
            let o = app.supervision_overview().await?;
            serde_json::to_value(o).unwrap_or_default()
        }
    };
    writeln!(out, "{report}").map_err(io)?;
    Ok(0)
}

/// Counts for the operator: nothing that is read from a sealed field.
#[derive(Debug, Default, serde::Serialize)]
pub struct Overview {
    pub by_status: std::collections::BTreeMap<String, u64>,
    pub acknowledgement_overdue: u64,
    pub feedback_overdue: u64,
}

impl App {
    pub async fn supervision_overview(&self) -> AppResult<Overview> {
        let reference = self.reference().await?;
        let today = self
            .clock
            .now()
            .to_zoned(reference.calendar.time_zone().clone())
            .date();
        let mut o = Overview::default();
        let Some(top) = reference.top_region.clone() else {
            return Ok(o);
        };
        for r in self.repo.reports(&top, None, u32::MAX).await? {
            let loaded = self.load_report(r).await?;
            *o.by_status
                .entry(loaded.state.status.as_str().to_owned())
                .or_default() += 1;
            for w in self.overdue(&loaded.state, today) {
                match w {
                    Warning::AcknowledgementOverdue => o.acknowledgement_overdue += 1,
                    Warning::FeedbackOverdue => o.feedback_overdue += 1,
                }
            }
        }
        Ok(o)
    }
}
