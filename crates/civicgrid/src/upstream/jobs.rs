//! The link's round every few seconds on every instance (leases keep each send to one).

use crate::jobs::{Cadence, Job};

pub const UPSTREAM: Job = Job {
    name: "upstream",
    cadence: Cadence::Every(std::time::Duration::from_secs(10)),
    run: |app| {
        Box::pin(async move {
            let r = app.run_upstream().await?;
            if r != Default::default() {
                tracing::info!(?r, "upstream");
            }
            Ok((r.events + r.sent + r.retried + r.failed + r.updates) as u64)
        })
    },
};
