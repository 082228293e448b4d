//! Wishes nobody takes on go up to the community (see `UNCLAIMED_DAYS`).

use crate::jobs::{Cadence, Job};

pub const ESCALATION: Job = Job {
    name: "unclaimed wishes",
    cadence: Cadence::Round,
    run: |app| Box::pin(async move { app.escalate_unclaimed_wishes().await }),
};
