//! Reference data — catalogue, responsibility list, units, roles, calendar and the grid index —
//! read on every intake and action, so it is cached. Writes made through this process drop
//! the cache at once; writes by another instance sharing the database are picked up when the
//! cache expires (`REFERENCE_TTL`), which bounds how long an instance routes by an old list.

use std::collections::HashMap;
use std::sync::Arc;

use civicgrid_domain::access::Role;
use civicgrid_domain::calendar::WorkingCalendar;
use civicgrid_domain::catalogue::{Category, CategoryCode};
use civicgrid_domain::geometry::locate::GridIndex;
use civicgrid_domain::routing::{ResponsibilityRule, Unit};
use civicgrid_domain::territory::{GridCode, RegionCode};
use std::time::{Duration, Instant};

use super::App;
use crate::error::{AppError, AppResult};

/// Real (monotonic) time, not the app clock: the cache ages with the wall, whatever time the
/// application simulates.
pub const REFERENCE_TTL: Duration = Duration::from_secs(30);

pub struct Reference {
    pub categories: Vec<Category>,
    pub rules: Vec<ResponsibilityRule>,
    pub units: Vec<Unit>,
    pub roles: Vec<Role>,
    pub calendar: WorkingCalendar,
    pub grid_index: GridIndex,
    pub grid_regions: HashMap<GridCode, RegionCode>,
    /// The one region without a parent (the district), where a report placed by address
    /// alone lands; None when the territory has several.
    pub top_region: Option<RegionCode>,
    loaded_at: Instant,
}

impl Reference {
    pub fn category(&self, code: &CategoryCode) -> Option<&Category> {
        self.categories.iter().find(|c| &c.code == code)
    }
}

impl App {
    /// The cached reference data, reloaded when stale.
    pub async fn reference(&self) -> AppResult<Arc<Reference>> {
        if let Some(r) = self.reference_cache.read().ok().and_then(|g| g.clone())
            && r.loaded_at.elapsed() < REFERENCE_TTL
        {
            return Ok(r);
        }
        let grids = self.repo.grids(None).await?;
        let calendar = match self.repo.calendar().await? {
            Some(c) => c,
            None => {
                WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), vec![])
                    .map_err(|e| AppError::Invalid(e.to_string()))?
            }
        };
        let regions: std::collections::HashSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let tops: Vec<&RegionCode> = regions
            .iter()
            .filter(|r| r.parent().is_none_or(|p| !regions.contains(&p)))
            .collect();
        let r = Arc::new(Reference {
            top_region: match tops.as_slice() {
                [one] => Some((*one).clone()),
                _ => None,
            },
            categories: self.repo.categories().await?,
            rules: self.repo.responsibility_list().await?,
            units: self.repo.units().await?,
            roles: self.repo.roles().await?,
            calendar,
            grid_index: GridIndex::new(grids.iter().map(|g| (&g.code, &g.geometry))),
            grid_regions: grids.into_iter().map(|g| (g.code, g.region)).collect(),
            loaded_at: Instant::now(),
        });
        if let Ok(mut slot) = self.reference_cache.write() {
            *slot = Some(r.clone());
        }
        Ok(r)
    }

    /// Drops the caches after this process changed reference data or accounts.
    pub fn invalidate_reference(&self) {
        if let Ok(mut slot) = self.reference_cache.write() {
            *slot = None;
        }
        if let Ok(mut keys) = self.key_cache.lock() {
            keys.clear();
        }
    }
}
