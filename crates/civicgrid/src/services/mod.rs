//! Application services: what the CLI (and later HTTP and jobs) call. Each one reads input,
//! asks the domain core to decide, and writes through the repository in one batch.

pub mod accounts;
pub mod case_writer;
pub mod cases;
pub mod demo;
pub mod demo_cases;
pub mod demo_photos;
pub mod jobs;
pub mod kpi;
pub mod limits;
pub mod notify;
pub mod open311;
pub mod reference;
pub mod seal;
pub mod territory;

use std::collections::BTreeSet;
use std::sync::Arc;

use civicgrid_domain::catalogue::CategoryCode;
use civicgrid_domain::routing::Unit;
use civicgrid_domain::territory::{Region, RegionCode};
use civicgrid_store::{Batch, Repository};

use crate::clock::Clock;
use crate::error::{AppError, AppResult, InputError};
use crate::interchange::{catalogue, config, tables};

/// The application: a store, a clock, and what it caches.
#[derive(Clone)]
pub struct App {
    pub repo: Arc<dyn Repository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn crate::clock::IdSource>,
    /// The data key for reporters' contact details; without one, contacts are refused.
    pub sealer: Option<Arc<seal::Sealer>>,
    /// The group-commit writer for new cases and case changes, started on first use.
    pub(crate) case_writer: Arc<tokio::sync::OnceCell<case_writer::CaseWriter>>,
    /// Cached reference data (see `reference.rs`).
    pub(crate) reference_cache: Arc<std::sync::RwLock<Option<Arc<reference::Reference>>>>,
    /// Held by the one request reloading the reference data (see `reference.rs`).
    pub(crate) reference_reload: Arc<tokio::sync::Mutex<()>>,
    /// Counts local changes to reference data; a reload begun before one is not cached.
    pub(crate) reference_generation: Arc<std::sync::atomic::AtomicU64>,
    /// How the deployment presents itself over Open311 (jurisdictions, contact).
    pub open311: Arc<open311::Open311Settings>,
    /// Who this instance is to the other instances sharing its database, for job leases.
    pub jobs: Arc<jobs::JobSettings>,
    /// API key → actor, for `accounts::KEY_TTL` (see `authenticate_api_key`).
    pub(crate) key_cache: Arc<std::sync::Mutex<accounts::KeyCache>>,
    /// Abuse limits (see `limits.rs`).
    pub limits: Arc<limits::Limits>,
}

/// What kind of table a file holds, for import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Toml,
}

impl Format {
    /// Guesses the format from a file name's extension.
    pub fn of(file: &str) -> Option<Format> {
        let lower = file.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".toml") {
            Some(Format::Toml)
        } else {
            None
        }
    }
}

impl App {
    pub fn new(repo: Arc<dyn Repository>, clock: Arc<dyn Clock>) -> Self {
        App {
            repo,
            clock,
            ids: Arc::new(crate::clock::RandomIds),
            sealer: None,
            case_writer: Arc::default(),
            reference_cache: Arc::default(),
            reference_reload: Arc::default(),
            reference_generation: Arc::default(),
            open311: Arc::default(),
            jobs: Arc::default(),
            key_cache: Arc::default(),
            limits: Arc::default(),
        }
    }

    /// The same application with other sources of time and ids (the demo simulates months).
    pub fn with_clock_and_ids(
        &self,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn crate::clock::IdSource>,
    ) -> App {
        App {
            repo: self.repo.clone(),
            clock,
            ids,
            sealer: self.sealer.clone(),
            case_writer: self.case_writer.clone(),
            reference_cache: self.reference_cache.clone(),
            reference_reload: self.reference_reload.clone(),
            reference_generation: self.reference_generation.clone(),
            open311: self.open311.clone(),
            jobs: self.jobs.clone(),
            key_cache: self.key_cache.clone(),
            limits: self.limits.clone(),
        }
    }

    /// Stores a new case or a change through the group-commit writer; returns once committed.
    pub(crate) async fn write_case(
        &self,
        write: civicgrid_store::CaseWrite,
    ) -> Result<(), civicgrid_store::StoreError> {
        self.case_writer
            .get_or_init(|| async { case_writer::CaseWriter::start(self.repo.clone()) })
            .await
            .write(write)
            .await
    }

    async fn apply(&self, mut batch: Batch) -> AppResult<()> {
        batch.at = self.clock.now();
        let result = self.repo.apply(&batch).await;
        self.invalidate_reference();
        result?;
        Ok(())
    }

    /// Imports regions from CSV (`code,name`). A region's parent must exist or come in the file.
    pub async fn import_regions(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_regions(file, text).map_err(AppError::Input)?;
        let mut known: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let mut errors = Vec::new();
        let mut in_file = BTreeSet::new();
        let mut sorted: Vec<&(u64, Region)> = rows.iter().collect();
        sorted.sort_by_key(|(_, r)| r.code.as_str().len());
        for (line, r) in &sorted {
            if !in_file.insert(r.code.clone()) {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("code"),
                    format!("region {} is listed twice", r.code),
                ));
            }
            if let Some(parent) = r.code.parent()
                && !known.contains(&parent)
            {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("code"),
                    format!("parent region {parent} does not exist and is not in the file"),
                ));
            }
            known.insert(r.code.clone());
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| format!("{:?}", e.location));
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            regions: sorted.into_iter().map(|(_, r)| r.clone()).collect(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn import_units(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_units(file, text).map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let mut errors = Vec::new();
        let mut codes = BTreeSet::new();
        for (line, u) in &rows {
            if !codes.insert(u.code.clone()) {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("code"),
                    format!("unit {} is listed twice", u.code),
                ));
            }
            if !regions.contains(&u.region) {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("region"),
                    format!("region {} does not exist", u.region),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            units: rows.into_iter().map(|(_, u)| u).collect(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    /// Replaces the responsibility list with the file's, after checking every reference.
    pub async fn import_responsibility_list(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_rules(file, text).map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let units: BTreeSet<String> = self
            .repo
            .units()
            .await?
            .into_iter()
            .map(|u: Unit| u.code)
            .collect();
        let categories: BTreeSet<CategoryCode> = self
            .repo
            .categories()
            .await?
            .into_iter()
            .map(|c| c.code)
            .collect();
        let mut errors = Vec::new();
        for (line, r) in &rows {
            let mut bad =
                |field: &str, m: String| errors.push(InputError::line(file, *line, Some(field), m));
            if !categories.contains(&r.category) {
                bad(
                    "category",
                    format!("category {} is not in the catalogue", r.category),
                );
            }
            if !regions.contains(&r.region) {
                bad("region", format!("region {} does not exist", r.region));
            }
            if !units.contains(&r.primary) {
                bad("primary", format!("unit {} does not exist", r.primary));
            }
            for c in &r.co_handlers {
                if !units.contains(c) {
                    bad("co_handlers", format!("unit {c} does not exist"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            responsibility_list: Some(rows.into_iter().map(|(_, r)| r).collect()),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    /// Imports beats; each beat's grids and workers are replaced by the file's. A beat's grids
    /// must lie in its region, and its workers must be staff accounts.
    pub async fn import_beats(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_beats(file, text).map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let grids = self.repo.grids(None).await?;
        let users: BTreeSet<String> = self
            .repo
            .users()
            .await?
            .into_iter()
            .map(|u| u.username)
            .collect();
        let mut errors = Vec::new();
        let mut codes = BTreeSet::new();
        for (line, b) in &rows {
            let mut bad =
                |field: &str, m: String| errors.push(InputError::line(file, *line, Some(field), m));
            if !codes.insert(b.code.clone()) {
                bad("code", format!("beat {} is listed twice", b.code));
            }
            if !regions.contains(&b.region) {
                bad("region", format!("region {} does not exist", b.region));
            }
            for g in &b.grids {
                match grids.iter().find(|x| &x.code == g) {
                    None => bad("grids", format!("grid {g} does not exist")),
                    Some(x) if !b.region.contains(&x.region) => bad(
                        "grids",
                        format!(
                            "grid {g} lies in {}, outside the beat's region {}",
                            x.region, b.region
                        ),
                    ),
                    Some(_) => {}
                }
            }
            for w in &b.workers {
                if !users.contains(w) {
                    bad("workers", format!("no staff account `{w}`"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            beats: rows.into_iter().map(|(_, b)| b).collect(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn export_beats(&self) -> AppResult<String> {
        Ok(tables::write_beats(&self.repo.beats().await?))
    }

    /// Routes a case of `category` in `grid` with `attributes` through the stored list.
    pub async fn route_case(
        &self,
        category: &CategoryCode,
        grid: &civicgrid_domain::territory::GridCode,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> AppResult<(civicgrid_domain::routing::Assignment, Vec<Unit>)> {
        let categories = self.repo.categories().await?;
        let cat = categories
            .iter()
            .find(|c| &c.code == category)
            .ok_or_else(|| AppError::NotFound(format!("category {category}")))?;
        let region = self
            .repo
            .grids(None)
            .await?
            .into_iter()
            .find(|g| &g.code == grid)
            .map(|g| g.region)
            .ok_or_else(|| AppError::NotFound(format!("grid {grid}")))?;
        let facts = civicgrid_domain::routing::RoutingFacts {
            category: &cat.code,
            kind: cat.kind,
            region: &region,
            attributes,
        };
        let rules = self.repo.responsibility_list().await?;
        let units = self.repo.units().await?;
        let assignment = civicgrid_domain::routing::route(&facts, &rules, &units)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok((assignment, units))
    }

    pub async fn import_catalogue(
        &self,
        file: &str,
        text: &str,
        format: Format,
    ) -> AppResult<usize> {
        let cat = match format {
            Format::Toml => catalogue::read_toml(file, text),
            Format::Csv => catalogue::read_csv(file, text),
        }
        .map_err(AppError::Input)?;
        let n = cat.len();
        self.apply(Batch {
            categories: cat.into_vec(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn import_calendar(&self, file: &str, text: &str) -> AppResult<usize> {
        let update = config::read_calendar(file, text).map_err(AppError::Input)?;
        let n = update.years.iter().map(|(_, d)| d.len()).sum();
        self.apply(Batch {
            calendar: Some(update),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn import_roles(&self, file: &str, text: &str) -> AppResult<usize> {
        let roles = config::read_roles(file, text).map_err(AppError::Input)?;
        let n = roles.len();
        self.apply(Batch {
            roles,
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn export_regions(&self) -> AppResult<String> {
        Ok(tables::write_regions(&self.repo.regions().await?))
    }

    pub async fn export_units(&self) -> AppResult<String> {
        Ok(tables::write_units(&self.repo.units().await?))
    }

    pub async fn export_responsibility_list(&self) -> AppResult<String> {
        Ok(tables::write_rules(&self.repo.responsibility_list().await?))
    }

    pub async fn export_catalogue(&self, format: Format) -> AppResult<String> {
        let cats = self.repo.categories().await?;
        Ok(match format {
            Format::Toml => catalogue::write_toml(&cats),
            Format::Csv => catalogue::write_csv(&cats),
        })
    }

    pub async fn export_calendar(&self) -> AppResult<String> {
        let cal = self.repo.calendar().await?.ok_or_else(|| {
            AppError::NotFound(
                "no working calendar is configured yet (civicgrid import calendar FILE.toml)"
                    .into(),
            )
        })?;
        Ok(config::write_calendar(&cal))
    }
}

/// The data civicgrid ships with, compiled in so a fresh install needs no files.
pub mod shipped {
    pub const CATALOGUE_TOML: &str = include_str!("../../../../data/catalogue.toml");
    pub const CALENDAR_TOML: &str = include_str!("../../../../data/calendar-china.toml");
    pub const ROLES_TOML: &str = include_str!("../../../../data/roles.toml");
    /// Short residents' reports written for the demo, a few per category.
    pub const DEMO_CASE_TEXTS_TOML: &str = include_str!("../../../../data/demo-case-texts.toml");
}
