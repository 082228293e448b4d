//! civicgrid storage.
//!
//! Everything the application keeps goes through the [`Repository`] trait. There are two
//! implementations, [`sqlite::SqliteRepository`] (the embedded default) and
//! [`postgres::PgRepository`], and both pass the same test suite. The SQL is written once in a
//! dialect both engines accept (`$N` parameters, `ON CONFLICT … DO UPDATE`, BIGINT instants,
//! JSON as TEXT) and compiled for each backend by the `sql_repository!` macro; the migrations
//! are versioned per backend under `migrations/`.
//!
//! Writes come in a [`Batch`] applied in one transaction: an import is all or nothing.

mod batch;
mod error;
mod geometry_json;
mod limits;
mod model;
mod sql;

pub mod backup;
pub mod copy;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use civicgrid_domain::access::Role;
use civicgrid_domain::calendar::WorkingCalendar;
use civicgrid_domain::case::Case;
use civicgrid_domain::catalogue::Category;
use civicgrid_domain::routing::{ResponsibilityRule, Unit};
use civicgrid_domain::territory::{Beat, Grid, Region, RegionCode};
use uuid::Uuid;

pub use batch::{Batch, CalendarUpdate, NewUser};
pub use error::StoreError;
pub use geometry_json::{multipolygon_from_json, multipolygon_to_json};
pub use limits::{LimitStore, WindowCount};
pub use model::{
    ApiKeyRecord, Appeal, CaseEvent, CaseFilter, CaseWrite, DeliveryCounts, DeliveryOutcome,
    DueDelivery, KpiEntry, OperationsGauges, Photo, ScoreAdjustment, Summary, Survey, User,
    Webhook,
};

/// The storage operations of civicgrid. Implementations commit durably before returning.
#[async_trait]
pub trait Repository: LimitStore + Send + Sync {
    /// Which engine this is: "sqlite" or "postgres".
    fn backend(&self) -> &'static str;

    /// Applies pending migrations. Also done on connect; idempotent.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Applies every change of the batch in one transaction, or none of them.
    async fn apply(&self, batch: &Batch) -> Result<(), StoreError>;

    async fn regions(&self) -> Result<Vec<Region>, StoreError>;
    /// Grids in `within` (a region subtree), or all of them.
    async fn grids(&self, within: Option<&RegionCode>) -> Result<Vec<Grid>, StoreError>;
    async fn beats(&self) -> Result<Vec<Beat>, StoreError>;
    async fn units(&self) -> Result<Vec<Unit>, StoreError>;
    async fn categories(&self) -> Result<Vec<Category>, StoreError>;
    async fn responsibility_list(&self) -> Result<Vec<ResponsibilityRule>, StoreError>;
    /// The stored calendar, or `None` before one was configured.
    async fn calendar(&self) -> Result<Option<WorkingCalendar>, StoreError>;
    async fn roles(&self) -> Result<Vec<Role>, StoreError>;
    async fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn create_session(
        &self,
        token_hash: &str,
        username: &str,
        created_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// The username of a session that has not expired at `now`.
    async fn session_user(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<String>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    async fn summary(&self) -> Result<Summary, StoreError>;

    /// Problems found by the engine's own consistency check (SQLite's integrity and foreign-key
    /// checks) and by civicgrid's invariants (each case's version is the seq of its latest
    /// event). Empty when all is well.
    async fn check_integrity(&self) -> Result<Vec<String>, StoreError>;

    /// Stores a new case with its first event (the report), in one transaction.
    async fn create_case(&self, case: &Case, event: &CaseEvent) -> Result<(), StoreError>;
    /// Stores several new cases with their first events in one transaction (group commit):
    /// all of them or none.
    async fn create_cases(&self, items: &[(Case, CaseEvent)]) -> Result<(), StoreError>;
    /// Stores a case's new state and the events that produced it (one or more, in order), in
    /// one transaction, provided the stored version is still `expected_version`; otherwise
    /// [`StoreError::Stale`] and nothing changes.
    async fn record_change(
        &self,
        case: &Case,
        expected_version: u64,
        events: &[CaseEvent],
    ) -> Result<(), StoreError>;
    /// New cases and case changes in one transaction, in order (group commit: many share one
    /// commit). A change whose case is no longer at its expected version (or is gone) fails
    /// alone, with [`StoreError::Stale`] or [`StoreError::NotFound`] in its place of the answer,
    /// and the rest is stored; any other failure stores nothing and is the outer error.
    async fn write_cases(
        &self,
        writes: &[CaseWrite],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
    /// Like `record_change`, storing the photo the event attaches in the same transaction.
    async fn attach_photo(
        &self,
        case: &Case,
        expected_version: u64,
        event: &CaseEvent,
        photo: &Photo,
    ) -> Result<(), StoreError>;
    async fn photo(&self, case: &Uuid, sha256: &str) -> Result<Option<Photo>, StoreError>;
    async fn case(&self, id: &Uuid) -> Result<Option<Case>, StoreError>;
    async fn case_by_receipt(&self, receipt_code: &str) -> Result<Option<Case>, StoreError>;
    /// The case's events, oldest first.
    async fn case_events(&self, id: &Uuid) -> Result<Vec<CaseEvent>, StoreError>;

    async fn create_appeal(&self, appeal: &Appeal) -> Result<(), StoreError>;
    async fn appeal(&self, id: &Uuid) -> Result<Option<Appeal>, StoreError>;
    /// Appeals, newest first, of one period if given.
    async fn appeals(&self, period: Option<&str>) -> Result<Vec<Appeal>, StoreError>;
    /// Moves an appeal on if it is still at `expected` (else `Stale`), with the score change an
    /// upheld decision makes, in one transaction.
    async fn update_appeal(
        &self,
        appeal: &Appeal,
        expected: civicgrid_domain::kpi::AppealStatus,
        adjustment: Option<&ScoreAdjustment>,
    ) -> Result<(), StoreError>;
    /// The score changes of a period.
    async fn adjustments(&self, period: &str) -> Result<Vec<ScoreAdjustment>, StoreError>;

    async fn create_survey(&self, survey: &Survey) -> Result<(), StoreError>;
    async fn survey(&self, id: &Uuid) -> Result<Option<Survey>, StoreError>;
    /// Stores one person's ratings (unit → 1..=5); `Conflict` if they already answered.
    async fn add_survey_response(
        &self,
        survey: &Uuid,
        respondent: &str,
        ratings: &std::collections::BTreeMap<String, u8>,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Every rating given in the period's surveys, per unit: (sum, count).
    async fn survey_ratings(
        &self,
        period: &str,
    ) -> Result<std::collections::BTreeMap<String, (u64, u64)>, StoreError>;

    /// Makes sure `job` has a lease row for each scope (a region code); existing rows stay.
    async fn ensure_leases(&self, job: &str, scopes: &[String]) -> Result<(), StoreError>;
    /// Takes a scope of `job` for `owner` until `until`: one that no lease holds at `now` and
    /// that was last finished before `round_start`. None when every scope is held or done.
    async fn claim_lease(
        &self,
        job: &str,
        owner: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
        round_start: jiff::Timestamp,
    ) -> Result<Option<String>, StoreError>;
    /// Extends `owner`'s lease; false if it ran out and another instance took the scope.
    async fn renew_lease(
        &self,
        job: &str,
        scope: &str,
        owner: &str,
        until: jiff::Timestamp,
    ) -> Result<bool, StoreError>;
    /// Marks `owner`'s scope finished at `at` and frees it.
    async fn finish_lease(
        &self,
        job: &str,
        scope: &str,
        owner: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Frees every lease `owner` holds, unfinished (on shutdown); returns how many.
    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError>;
    /// Figures for monitoring, read at `now`.
    async fn operations_gauges(&self, now: jiff::Timestamp)
    -> Result<OperationsGauges, StoreError>;
    /// How many scopes of `job` are not yet finished in the round that started at `round_start`.
    async fn leases_unfinished(
        &self,
        job: &str,
        round_start: jiff::Timestamp,
    ) -> Result<u64, StoreError>;

    /// A deployment setting (JSON), if set.
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a deployment setting unless it is set already.
    async fn put_setting_if_absent(
        &self,
        key: &str,
        value: &str,
        at: jiff::Timestamp,
        by: &str,
    ) -> Result<(), StoreError>;
    /// Sets a deployment setting, recording when and by whom.
    async fn put_setting(
        &self,
        key: &str,
        value: &str,
        at: jiff::Timestamp,
        by: &str,
    ) -> Result<(), StoreError>;

    /// Cases whose KPI contributions are out of date (queued by a trigger with every event),
    /// each with its change count.
    async fn kpi_dirty(&self, limit: u32) -> Result<Vec<(Uuid, i64)>, StoreError>;
    /// Replaces a case's KPI contributions and adjusts the daily sums by the difference, in one
    /// transaction; clears the case from the queue if it has not changed since `marked`.
    async fn apply_kpi(
        &self,
        case_id: &Uuid,
        marked: i64,
        contributions: &[KpiEntry],
    ) -> Result<(), StoreError>;
    /// The daily sums of the communities under `region_prefix`, for days in [from, to)
    /// (`YYYY-MM-DD`), summed per subject.
    async fn kpi_sum(
        &self,
        region_prefix: &str,
        from: &str,
        to: &str,
    ) -> Result<
        Vec<(
            civicgrid_domain::kpi::Subject,
            civicgrid_domain::kpi::Counters,
        )>,
        StoreError,
    >;
    /// Events of the given actions in a region subtree at or after `since`, oldest first, at
    /// most `limit` — the alert feed of a tier (alarms, escalations, missed whistle calls).
    async fn events_since(
        &self,
        actions: &[&str],
        within: Option<&civicgrid_domain::territory::RegionCode>,
        since: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<CaseEvent>, StoreError>;
    /// Records that `actor` read personal data (`what`) of a case.
    async fn record_personal_data_read(
        &self,
        case: &Case,
        actor: &str,
        what: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Who read a case's personal data, oldest first: (at, actor, what).
    async fn personal_data_reads(
        &self,
        case: &Uuid,
    ) -> Result<Vec<(jiff::Timestamp, String, String)>, StoreError>;
    /// Cases matching the filter, newest first, at most `filter.limit`.
    async fn cases(&self, filter: &CaseFilter) -> Result<Vec<Case>, StoreError>;

    /// Makes sure the store is ready for the cases of `now`'s year and the next: on
    /// PostgreSQL, their partitions of `cases` and `case_events` (others fall into the default
    /// partition); nothing to do on SQLite. Returns how many partitions it made.
    async fn prepare_partitions(&self, now: jiff::Timestamp) -> Result<u64, StoreError>;

    /// Stores a subscription; from now on every matching event queues a delivery for it.
    async fn create_webhook(&self, webhook: &Webhook) -> Result<(), StoreError>;
    /// Every subscription with its deliveries by status, oldest first.
    async fn webhooks(&self) -> Result<Vec<(Webhook, DeliveryCounts)>, StoreError>;
    /// Starts or stops a subscription; false if there is none with the id.
    async fn set_webhook_active(&self, id: &Uuid, active: bool) -> Result<bool, StoreError>;
    /// Leases up to `limit` pending deliveries due at `now` that no live lease holds to
    /// `owner` until `until`, counting the try. On PostgreSQL, instances claiming at once
    /// skip each other's rows (FOR UPDATE SKIP LOCKED).
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records how `owner`'s try of a delivery ended and frees it; false (and nothing
    /// changes) if `owner` no longer holds it (its lease ran out and another took it).
    async fn finish_delivery(
        &self,
        webhook: &Uuid,
        event: (&Uuid, u64),
        owner: &str,
        at: jiff::Timestamp,
        outcome: &DeliveryOutcome,
    ) -> Result<bool, StoreError>;
}

/// Opens the store a database URL names: `sqlite:PATH` or `postgres://…`. Migrations are
/// applied before the store is handed out.
pub async fn connect(url: &str) -> Result<Arc<dyn Repository>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let repo = sqlite::SqliteRepository::open(path.trim_start_matches("//")).await?;
        Ok(Arc::new(repo))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let repo = postgres::PgRepository::connect(url).await?;
        Ok(Arc::new(repo))
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}
