//! The rollup job: counts queued cases' events into the daily KPI sums (see `refresh_kpis`).

use crate::jobs::{Cadence, Job};

pub const ROLLUPS: Job = Job {
    name: "assessment rollups",
    cadence: Cadence::Round,
    run: |app| Box::pin(async move { Ok(app.refresh_kpis().await? as u64) }),
};
