//! Situation-report reminders: every minute, each active incident whose next report is due
//! and not written gets one reminder for its commander (once per period, across instances).

use crate::jobs::{Cadence, Job};

pub const SITREP_REMINDERS: Job = Job {
    name: "sitrep_reminders",
    cadence: Cadence::Every(std::time::Duration::from_secs(60)),
    run: |app| {
        Box::pin(async move {
            let kept = app.remind_sitreps().await?;
            if kept > 0 {
                tracing::info!(kept, "situation reports due");
            }
            Ok(kept as u64)
        })
    },
};
