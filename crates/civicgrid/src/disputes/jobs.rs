//! Mediation's statutory timers: a yellow warning before the mediation limit and a red one
//! at it (recorded once each, as for cases), and the reminder to the parties before the
//! window for judicial confirmation closes. Follow-up visits fall due on their own dates and
//! show on the mediators' lists.

use crate::jobs::{Cadence, Job};

pub const TIMERS: Job = Job {
    name: "mediation timers",
    cadence: Cadence::Round,
    run: |app| Box::pin(async move { app.sweep_disputes().await }),
};
