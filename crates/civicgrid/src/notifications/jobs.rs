//! The notifier's round: case events into messages, then the messages that are due, every
//! few seconds on every instance (leases keep each message to one of them).

use crate::jobs::{Cadence, Job};

pub const NOTIFICATIONS: Job = Job {
    name: "notifications",
    cadence: Cadence::Every(std::time::Duration::from_secs(2)),
    run: |app| {
        Box::pin(async move {
            let r = app.run_notifications().await?;
            if r != Default::default() {
                tracing::info!(?r, "notifications");
            }
            Ok((r.events + r.sent + r.retried + r.dead) as u64)
        })
    },
};
