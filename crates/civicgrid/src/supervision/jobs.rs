//! The supervision channel's clocks: a warning (an event the officers see on their list)
//! when an acknowledgement or substantive feedback is overdue, once each, and the erasure of
//! reports closed longer ago than the retention time, with their messages and files.

use crate::jobs::{Cadence, Job};

pub const CLOCKS: Job = Job {
    name: "supervision clocks",
    cadence: Cadence::Round,
    run: |app| {
        Box::pin(async move {
            let (warned, erased) = app.sweep_supervision().await?;
            Ok((warned + erased) as u64)
        })
    },
};
