//! The application state every capability's services share: the store, the clock, ids, the
//! data key, the caches and the settings. Each capability adds its operations to `App` in
//! its own folder (`impl App` blocks); shells (REST, pages, CLI, jobs) hold an `App`.

use std::sync::Arc;

use civicgrid_store::{Batch, Repository};

use crate::clock::Clock;
use crate::error::AppResult;

/// The application: a store, a clock, and what it caches.
#[derive(Clone)]
pub struct App {
    pub repo: Arc<dyn Repository>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn crate::clock::IdSource>,
    /// The data key for reporters' contact details; without one, contacts are refused.
    pub sealer: Option<Arc<crate::cases::seal::Sealer>>,
    /// The group-commit writer for new cases and case changes, started on first use.
    pub(crate) case_writer: Arc<tokio::sync::OnceCell<crate::cases::writer::CaseWriter>>,
    /// Cached reference data (see `reference.rs`).
    pub(crate) reference_cache: Arc<std::sync::RwLock<Option<Arc<crate::reference::Reference>>>>,
    /// Held by the one request reloading the reference data (see `reference.rs`).
    pub(crate) reference_reload: Arc<tokio::sync::Mutex<()>>,
    /// Counts local changes to reference data; a reload begun before one is not cached.
    pub(crate) reference_generation: Arc<std::sync::atomic::AtomicU64>,
    /// How the deployment presents itself over Open311 (jurisdictions, contact).
    pub open311: Arc<crate::open311::Open311Settings>,
    /// Who this instance is to the other instances sharing its database, for job leases.
    pub jobs: Arc<crate::jobs::JobSettings>,
    /// API key → actor, for `accounts::KEY_TTL` (see `authenticate_api_key`).
    pub(crate) key_cache: Arc<std::sync::Mutex<crate::accounts::KeyCache>>,
    /// What the assessment counts (`assessment/sources.rs`).
    pub kpi_sources: Arc<Vec<crate::assessment::sources::KpiSource>>,
    /// Abuse limits (see `limits.rs`).
    pub limits: Arc<crate::accounts::limits::Limits>,
    /// The base map the pages show (see `territory/map.rs`).
    pub map: Arc<crate::territory::map::MapSettings>,
    /// The supervision channel's clocks (acknowledgement, feedback, retention).
    pub supervision: civicgrid_domain::supervision::Clocks,
    /// How people are told (mail server, links, quiet hours; see `notifications`).
    pub notifier: Arc<crate::notifications::NotifierSettings>,
    /// The client for requests to other systems (webhooks, SMS, Open311 upstream).
    pub outbound: crate::outbound::Outbound,
    /// The category suggestion model last loaded, by version (see `suggestion`).
    pub(crate) category_model: crate::suggestion::ModelCache,
    /// This instance's full-text index (see `search/index.rs`); in memory until one is
    /// opened on disk.
    pub(crate) search_index: Arc<std::sync::OnceLock<Arc<crate::search::index::SearchIndex>>>,
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
            kpi_sources: Arc::new(crate::assessment::sources::registry()),
            limits: Arc::default(),
            map: Arc::default(),
            supervision: civicgrid_domain::supervision::Clocks::default(),
            notifier: Arc::default(),
            outbound: crate::outbound::Outbound::default(),
            category_model: Arc::default(),
            search_index: Arc::default(),
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
            kpi_sources: self.kpi_sources.clone(),
            limits: self.limits.clone(),
            map: self.map.clone(),
            supervision: self.supervision,
            notifier: self.notifier.clone(),
            outbound: self.outbound.clone(),
            category_model: self.category_model.clone(),
            search_index: self.search_index.clone(),
        }
    }

    /// Stores a new case or a change through the group-commit writer; returns once committed.
    pub(crate) async fn write_case(
        &self,
        write: civicgrid_store::CaseWrite,
    ) -> Result<(), civicgrid_store::StoreError> {
        self.case_writer
            .get_or_init(|| async { crate::cases::writer::CaseWriter::start(self.repo.clone()) })
            .await
            .write(write)
            .await
    }

    pub(crate) async fn apply(&self, mut batch: Batch) -> AppResult<()> {
        batch.at = self.clock.now();
        let result = self.repo.apply(&batch).await;
        self.invalidate_reference();
        result?;
        Ok(())
    }
}

/// The data civicgrid ships with, compiled in so a fresh install needs no files.
pub mod shipped {
    pub const CATALOGUE_TOML: &str = include_str!("../../../data/catalogue.toml");
    pub const CALENDAR_TOML: &str = include_str!("../../../data/calendar-china.toml");
    pub const ROLES_TOML: &str = include_str!("../../../data/roles.toml");
    /// Short residents' reports written for the demo, a few per category.
    pub const DEMO_CASE_TEXTS_TOML: &str = include_str!("../../../data/demo-case-texts.toml");
}
