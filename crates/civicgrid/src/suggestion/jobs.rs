//! Retraining: hourly, a new model from the history once enough newly confirmed cases exist.
//! Two instances retraining at the same moment race for the next version number; the loser's
//! save fails and its round is logged as failed (the winner's model is the same data's).

use crate::jobs::{Cadence, Job};

pub const RETRAIN: Job = Job {
    name: "category_model_retrain",
    cadence: Cadence::Every(std::time::Duration::from_secs(3600)),
    run: |app| {
        Box::pin(async move {
            let version = app.retrain_category_model_if_due().await?;
            if let Some(v) = version {
                tracing::info!(version = v, "category model retrained");
            }
            Ok(u64::from(version.is_some()))
        })
    },
};
