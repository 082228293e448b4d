//! Storage upkeep: this year's and next year's case partitions (PostgreSQL) exist long before
//! the year begins.

use crate::jobs::{Cadence, Job};

pub const PARTITIONS: Job = Job {
    name: "case partitions",
    cadence: Cadence::Daily,
    run: |app| Box::pin(async move { Ok(app.repo.prepare_partitions(app.clock.now()).await?) }),
};
