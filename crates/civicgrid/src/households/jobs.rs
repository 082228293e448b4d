//! Contact windows end with the days: once a day every assigned household is queued, so that
//! the rollups count the windows that ended since (see `kpi.rs`).

use crate::jobs::{Cadence, Job};

pub const COVERAGE: Job = Job {
    name: "household coverage",
    cadence: Cadence::Daily,
    run: |app| Box::pin(async move { Ok(app.repo.mark_assigned_households().await?) }),
};
