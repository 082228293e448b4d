//! What assessment counts: the records of any capability. Each capability whose records count
//! registers a `KpiSource` (one line in `registry()`): how to compute one record's
//! contributions now, and how to recount a scope and period from scratch — the check that the
//! rollups are right. Records wait in the queue (`kpi_dirty`) under their source's name: cases
//! are queued by a trigger with every event, other capabilities call `mark_kpi`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use civicgrid_domain::kpi::{Counters, Period, Subject};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::KpiEntry;

use crate::App;
use crate::error::AppResult;

pub type Contributions<'a> = Pin<Box<dyn Future<Output = AppResult<Vec<KpiEntry>>> + Send + 'a>>;
pub type Recount<'a> =
    Pin<Box<dyn Future<Output = AppResult<BTreeMap<Subject, Counters>>> + Send + 'a>>;

/// A capability whose records count in the assessment.
#[derive(Clone, Copy)]
pub struct KpiSource {
    /// The name its records are queued under.
    pub name: &'static str,
    /// One record's contributions as it stands; empty once it is gone.
    pub contributions: for<'a> fn(&'a App, uuid::Uuid) -> Contributions<'a>,
    /// Every subject's counters from this capability's records in a scope and period, from
    /// scratch.
    pub recount: for<'a> fn(&'a App, &'a RegionCode, &'a Period) -> Recount<'a>,
}

/// Every capability whose records count, one line each.
pub fn registry() -> Vec<KpiSource> {
    vec![
        crate::cases::kpi::SOURCE,
        crate::households::kpi::SOURCE,
        crate::wishes::kpi::SOURCE,
        crate::volunteers::kpi::SOURCE,
        crate::consultation::kpi::TOPICS,
        crate::consultation::kpi::MEETINGS,
        crate::consultation::kpi::RESULTS,
        crate::consultation::kpi::POLLS,
        crate::disputes::kpi::SOURCE,
        crate::one_stop::kpi::SOURCE,
    ]
}
