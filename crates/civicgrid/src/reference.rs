//! Reference data — catalogue, responsibility list, units, roles, calendar and the grid index —
//! read on every intake and action, so it is cached. Writes made through this process drop
//! the cache at once; writes by another instance sharing the database are picked up when the
//! cache expires (`REFERENCE_TTL`), which bounds how long an instance routes by an old list.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use civicgrid_domain::access::Role;
use civicgrid_domain::calendar::WorkingCalendar;
use civicgrid_domain::catalogue::{Category, CategoryCode};
use civicgrid_domain::geometry::locate::GridIndex;
use civicgrid_domain::routing::{ResponsibilityRule, Unit};
use civicgrid_domain::territory::{GridCode, RegionCode};
use std::time::{Duration, Instant};

use crate::App;
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
    /// Names, so that people read 南联社区 第3网格 rather than 15-digit codes.
    pub grid_names: HashMap<GridCode, String>,
    pub region_names: HashMap<RegionCode, String>,
    /// The one region without a parent (the district), where a report placed by address
    /// alone lands; None when the territory has several.
    pub top_region: Option<RegionCode>,
    loaded_at: Instant,
}

impl Reference {
    pub fn category(&self, code: &CategoryCode) -> Option<&Category> {
        self.categories.iter().find(|c| &c.code == code)
    }

    /// A grid as a person names it: its name and its community's (`第3网格 · 南联社区`); the
    /// code itself when the grid is unknown.
    pub fn place_name(&self, grid: &GridCode) -> String {
        let Some(name) = self.grid_names.get(grid) else {
            return grid.to_string();
        };
        match self
            .grid_regions
            .get(grid)
            .and_then(|r| self.region_names.get(r))
        {
            // 南联社区第3网格 names its community already.
            Some(community) if !name.starts_with(community.as_str()) => {
                format!("{name} · {community}")
            }
            _ => name.clone(),
        }
    }

    /// A unit's name, or its code when it is not in the list.
    pub fn unit_name(&self, code: &str) -> String {
        self.units
            .iter()
            .find(|u| u.code == code)
            .map_or_else(|| code.to_owned(), |u| u.name.clone())
    }

    /// The unit a resident is told handles the case: the lead unit once dispatched, until then
    /// the first one routing named.
    pub fn handling_unit(&self, case: &civicgrid_domain::case::Case) -> Option<String> {
        case.state
            .lead()
            .or_else(|| case.routed_units.first().map(String::as_str))
            .map(|code| self.unit_name(code))
    }

    /// A region's name, or its code when it has none here.
    pub fn region_name(&self, region: &RegionCode) -> String {
        self.region_names
            .get(region)
            .cloned()
            .unwrap_or_else(|| region.to_string())
    }

    /// The access policy over this deployment's roles.
    pub fn policy(&self) -> civicgrid_domain::policy::Policy<'_> {
        civicgrid_domain::policy::Policy::new(&self.roles)
    }
}

impl App {
    /// The cached reference data, reloaded when stale. One request reloads at a time: while
    /// it does, the others go on with the stale copy, so an expiry under load costs one reload,
    /// not one per request in flight. After a local change (no copy at all) they wait for it.
    pub async fn reference(&self) -> AppResult<Arc<Reference>> {
        let cached = self.reference_cache.read().ok().and_then(|g| g.clone());
        let _reloading = match cached {
            Some(r) if r.loaded_at.elapsed() < REFERENCE_TTL => return Ok(r),
            Some(stale) => match self.reference_reload.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(stale),
            },
            None => {
                let guard = self.reference_reload.lock().await;
                // Another request may have loaded it while this one waited.
                if let Some(r) = self.reference_cache.read().ok().and_then(|g| g.clone())
                    && r.loaded_at.elapsed() < REFERENCE_TTL
                {
                    return Ok(r);
                }
                guard
            }
        };
        let generation = self.reference_generation.load(Ordering::Acquire);
        let grids = self.repo.grids(None).await?;
        let calendar = match self.repo.calendar().await? {
            Some(c) => c,
            None => {
                WorkingCalendar::new("Asia/Shanghai", WorkingCalendar::standard_windows(), vec![])
                    .map_err(|e| AppError::Invalid(e.to_string()))?
            }
        };
        let region_names: HashMap<RegionCode, String> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| (r.code, r.name))
            .collect();
        let regions: std::collections::HashSet<RegionCode> = region_names.keys().cloned().collect();
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
            grid_names: grids
                .iter()
                .map(|g| (g.code.clone(), g.name.clone()))
                .collect(),
            grid_regions: grids.into_iter().map(|g| (g.code, g.region)).collect(),
            region_names,
            loaded_at: Instant::now(),
        });
        self.cache_reference(&r, generation);
        Ok(r)
    }

    /// Caches a copy read at `generation`, unless a local change has happened since: its
    /// reader had begun before the change and may have missed it.
    fn cache_reference(&self, r: &Arc<Reference>, generation: u64) {
        if let Ok(mut slot) = self.reference_cache.write()
            && self.reference_generation.load(Ordering::Acquire) == generation
        {
            *slot = Some(r.clone());
        }
    }

    /// Drops the caches after this process changed reference data or accounts.
    pub fn invalidate_reference(&self) {
        if let Ok(mut slot) = self.reference_cache.write() {
            self.reference_generation.fetch_add(1, Ordering::AcqRel);
            *slot = None;
        }
        if let Ok(mut keys) = self.key_cache.lock() {
            keys.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    async fn app(dir: &tempfile::TempDir) -> App {
        let db = format!("sqlite:{}", dir.path().join("r.db").display());
        let repo = civicgrid_store::connect(&db).await.expect("store");
        App::new(
            repo,
            Arc::new(FixedClock("2026-03-03T01:00:00Z".parse().expect("t"))),
        )
    }

    fn stale_copy() -> Arc<Reference> {
        Arc::new(Reference {
            categories: vec![],
            rules: vec![],
            units: vec![],
            roles: vec![],
            calendar: WorkingCalendar::new(
                "Asia/Shanghai",
                WorkingCalendar::standard_windows(),
                vec![],
            )
            .expect("calendar"),
            grid_index: GridIndex::new(std::iter::empty()),
            grid_regions: HashMap::new(),
            grid_names: HashMap::new(),
            region_names: HashMap::new(),
            top_region: None,
            loaded_at: Instant::now() - REFERENCE_TTL - Duration::from_secs(1),
        })
    }

    #[tokio::test]
    async fn a_stale_copy_is_served_while_another_request_reloads() {
        let dir = tempfile::tempdir().expect("dir");
        let app = app(&dir).await;
        let stale = stale_copy();
        *app.reference_cache.write().expect("cache") = Some(stale.clone());
        let reloading = app.reference_reload.lock().await;
        let served = app.reference().await.expect("reference");
        assert!(Arc::ptr_eq(&served, &stale), "the stale copy, not a reload");
        drop(reloading);
        let fresh = app.reference().await.expect("reference");
        assert!(!Arc::ptr_eq(&fresh, &stale), "reloaded once nobody else is");
        assert!(fresh.loaded_at.elapsed() < REFERENCE_TTL);
        let again = app.reference().await.expect("reference");
        assert!(Arc::ptr_eq(&fresh, &again), "the reload was cached");
    }

    #[tokio::test]
    async fn after_a_local_change_requests_wait_for_the_reload() {
        let dir = tempfile::tempdir().expect("dir");
        let app = app(&dir).await;
        let first = app.reference().await.expect("reference");
        app.invalidate_reference();
        let reloading = app.reference_reload.lock().await;
        let waiting = tokio::spawn({
            let app = app.clone();
            async move { app.reference().await.map(|r| r.loaded_at) }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "no copy to serve: it waits");
        drop(reloading);
        let loaded_at = waiting.await.expect("task").expect("reference");
        assert!(
            loaded_at > first.loaded_at,
            "a new load, not the dropped copy"
        );
    }

    #[tokio::test]
    async fn a_reload_begun_before_a_local_change_is_not_cached() {
        let dir = tempfile::tempdir().expect("dir");
        let app = app(&dir).await;
        let read_at = app.reference_generation.load(Ordering::Acquire);
        app.invalidate_reference();
        app.cache_reference(&stale_copy(), read_at);
        assert!(app.reference_cache.read().expect("cache").is_none());
        let now = app.reference_generation.load(Ordering::Acquire);
        app.cache_reference(&stale_copy(), now);
        assert!(app.reference_cache.read().expect("cache").is_some());
    }
}
