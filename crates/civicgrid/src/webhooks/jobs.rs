//! The delivery round: sends the webhook deliveries that are due, every few seconds.

use crate::jobs::{Cadence, Job};

pub const DELIVERIES: Job = Job {
    name: "webhook deliveries",
    cadence: Cadence::Every(std::time::Duration::from_secs(2)),
    run: |app| {
        Box::pin(async move {
            let r = app.deliver_notifications().await?;
            if r != Default::default() {
                tracing::info!(?r, "webhook deliveries");
            }
            Ok((r.delivered + r.retried + r.failed) as u64)
        })
    },
};
