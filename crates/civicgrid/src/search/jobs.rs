//! The indexer: every two seconds, the cases changed since the index was last fed.

use crate::jobs::{Cadence, Job};

pub const SEARCH_INDEXER: Job = Job {
    name: "search_indexer",
    cadence: Cadence::Every(std::time::Duration::from_secs(2)),
    run: |app| {
        Box::pin(async move {
            let n = app.catch_up_search_index().await?;
            if n > 0 {
                tracing::debug!(indexed = n, "search index fed");
            }
            Ok(n as u64)
        })
    },
};
