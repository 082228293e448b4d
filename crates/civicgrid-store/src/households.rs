//! The household register, its contacts (包片联户), visit plans and the visit log.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `households_sql!`. A visit queues its household for the assessment in the
//! transaction that logs it.

use async_trait::async_trait;
use civicgrid_domain::household::VisitChannel;
use civicgrid_domain::territory::{GridCode, RegionCode};
use jiff::civil::Date;

use crate::*;

/// A household as kept: an address placed in a grid, an optional sealed contact, whether the
/// household consented to being kept, and its contact (an account) since a day. Nothing more.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdRecord {
    pub id: uuid::Uuid,
    /// The community.
    pub region: RegionCode,
    pub grid: GridCode,
    pub building: String,
    pub unit: String,
    pub room: String,
    pub contact_sealed: Option<String>,
    pub consent: bool,
    pub assignee: Option<String>,
    pub assigned_on: Option<Date>,
}

/// One contact with a household.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitRecord {
    pub id: uuid::Uuid,
    pub household: uuid::Uuid,
    pub region: RegionCode,
    pub visitor: String,
    pub at: jiff::Timestamp,
    /// The day in the deployment's time zone.
    pub day: Date,
    pub channel: VisitChannel,
    pub topics: String,
    pub notes: String,
    /// The case reported from the visit, if any.
    pub case: Option<uuid::Uuid>,
}

/// The assessment source households are queued under.
pub const HOUSEHOLD_SOURCE: &str = "household";

#[async_trait]
pub trait HouseholdStore: Send + Sync {
    /// Writes households (new or changed, by id) in one transaction: an import is all or
    /// nothing. Each is queued for the assessment.
    async fn save_households(
        &self,
        households: &[HouseholdRecord],
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    async fn household(&self, id: &uuid::Uuid) -> Result<Option<HouseholdRecord>, StoreError>;
    /// Households in `within` (or everywhere), only those assigned to `assignee` if given, by
    /// address.
    async fn households(
        &self,
        within: Option<&RegionCode>,
        assignee: Option<&str>,
    ) -> Result<Vec<HouseholdRecord>, StoreError>;
    /// Gives households to a contact (or takes them away with `None`) from `on`, in one
    /// transaction; returns how many changed.
    async fn assign_households(
        &self,
        ids: &[uuid::Uuid],
        assignee: Option<&str>,
        on: Date,
    ) -> Result<u64, StoreError>;
    /// Sets (or with `None` removes) the contact interval of `grid:CODE` or `beat:CODE`, and
    /// queues the households it may change.
    async fn set_visit_plan(
        &self,
        scope: &str,
        interval_days: Option<u32>,
    ) -> Result<(), StoreError>;
    /// Every plan: (scope, interval in days).
    async fn visit_plans(&self) -> Result<Vec<(String, u32)>, StoreError>;
    /// Logs a visit and queues its household for the assessment, in one transaction.
    async fn log_visit(&self, visit: &VisitRecord) -> Result<(), StoreError>;
    /// Links the case reported from a visit: once. The nil id holds the visit while its case
    /// is being reported (`claim`), so that two reports from one visit cannot both go in.
    async fn link_visit_case(
        &self,
        visit: &uuid::Uuid,
        case: &uuid::Uuid,
    ) -> Result<(), StoreError>;
    /// Lets go of a visit held for a case that was not reported after all.
    async fn release_visit_claim(&self, visit: &uuid::Uuid) -> Result<(), StoreError>;
    async fn visit(&self, id: &uuid::Uuid) -> Result<Option<VisitRecord>, StoreError>;
    /// A household's visits, newest first.
    async fn visits_of(&self, household: &uuid::Uuid) -> Result<Vec<VisitRecord>, StoreError>;
    /// Visits in `within` on days in [from, to), newest first, at most `limit`.
    async fn visits_in(
        &self,
        within: &RegionCode,
        from: Date,
        to: Date,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError>;
    /// Queues every assigned household for the assessment (the daily job: windows end).
    async fn mark_assigned_households(&self) -> Result<u64, StoreError>;
}

pub(crate) const HOUSEHOLD_COLUMNS: &str = "id, region_code, grid_code, building, unit, room, contact_sealed, consent, assignee, assigned_on";
pub(crate) const VISIT_COLUMNS: &str =
    "id, household_id, region_code, visitor, at, day, channel, topics, notes, case_id";

type HouseholdRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
);
type VisitRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
);

pub(crate) fn household_from_row(r: HouseholdRow) -> Result<HouseholdRecord, StoreError> {
    let (id, region, grid, building, unit, room, contact_sealed, consent, assignee, assigned_on) =
        r;
    Ok(HouseholdRecord {
        id: crate::sql::parse("household id", &id)?,
        region: crate::sql::parse("household region", &region)?,
        grid: crate::sql::parse("household grid", &grid)?,
        building,
        unit,
        room,
        contact_sealed,
        consent,
        assignee,
        assigned_on: assigned_on
            .map(|d| crate::sql::date("assigned on", &d))
            .transpose()?,
    })
}

pub(crate) fn visit_from_row(r: VisitRow) -> Result<VisitRecord, StoreError> {
    let (id, household, region, visitor, at, day, channel, topics, notes, case) = r;
    Ok(VisitRecord {
        id: crate::sql::parse("visit id", &id)?,
        household: crate::sql::parse("visit household", &household)?,
        region: crate::sql::parse("visit region", &region)?,
        visitor,
        at: crate::model::from_micros(at)?,
        day: crate::sql::date("visit day", &day)?,
        channel: crate::sql::parse("visit channel", &channel)?,
        topics,
        notes,
        // The nil id only holds the visit while its case is being reported.
        case: case
            .map(|c| crate::sql::parse::<uuid::Uuid>("visit case", &c))
            .transpose()?
            .filter(|c| !c.is_nil()),
    })
}

macro_rules! households_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::HouseholdStore for $repo {
            async fn save_households(
                &self,
                households: &[$crate::HouseholdRecord],
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for h in households {
                    sqlx::query(
                        "INSERT INTO households (id, region_code, grid_code, building, unit, room, contact_sealed,
                           consent, assignee, assigned_on, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                         ON CONFLICT (id) DO UPDATE SET region_code = $2, grid_code = $3, building = $4, unit = $5,
                           room = $6, contact_sealed = $7, consent = $8, assignee = $9, assigned_on = $10",
                    )
                    .bind(h.id.to_string())
                    .bind(h.region.as_str())
                    .bind(h.grid.as_str())
                    .bind(&h.building)
                    .bind(&h.unit)
                    .bind(&h.room)
                    .bind(&h.contact_sealed)
                    .bind(h.consent)
                    .bind(&h.assignee)
                    .bind(h.assigned_on.map(|d| d.to_string()))
                    .bind($crate::model::micros(at))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query($crate::sql::MARK_KPI)
                        .bind($crate::households::HOUSEHOLD_SOURCE)
                        .bind(h.id.to_string())
                        .bind(h.region.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn household(&self, id: &uuid::Uuid) -> Result<Option<$crate::HouseholdRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!(
                    "SELECT {} FROM households WHERE id = $1",
                    $crate::households::HOUSEHOLD_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::households::household_from_row).transpose()
            }
            async fn households(
                &self,
                within: Option<&civicgrid_domain::territory::RegionCode>,
                assignee: Option<&str>,
            ) -> Result<Vec<$crate::HouseholdRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM households WHERE region_code LIKE $1 AND ($2 IS NULL OR assignee = $2)
                     ORDER BY grid_code, building, unit, room",
                    $crate::households::HOUSEHOLD_COLUMNS
                ))
                .bind(format!("{}%", within.map(|w| w.as_str()).unwrap_or("")))
                .bind(assignee)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::households::household_from_row).collect()
            }
            async fn assign_households(
                &self,
                ids: &[uuid::Uuid],
                assignee: Option<&str>,
                on: jiff::civil::Date,
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let mut changed = 0;
                for id in ids {
                    let region: Option<(String,)> = sqlx::query_as(
                        "UPDATE households SET assignee = $2, assigned_on = $3
                         WHERE id = $1 AND (assignee IS NULL OR $2 IS NULL OR assignee <> $2 OR assigned_on IS NULL)
                         RETURNING region_code",
                    )
                    .bind(id.to_string())
                    .bind(assignee)
                    .bind(assignee.map(|_| on.to_string()))
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((region,)) = region {
                        changed += 1;
                        sqlx::query($crate::sql::MARK_KPI)
                            .bind($crate::households::HOUSEHOLD_SOURCE)
                            .bind(id.to_string())
                            .bind(region)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(changed)
            }
            async fn set_visit_plan(&self, scope: &str, interval_days: Option<u32>) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                match interval_days {
                    Some(days) => {
                        sqlx::query(
                            "INSERT INTO visit_plans (scope, interval_days) VALUES ($1, $2)
                             ON CONFLICT (scope) DO UPDATE SET interval_days = $2",
                        )
                        .bind(scope)
                        .bind(i64::from(days))
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM visit_plans WHERE scope = $1")
                            .bind(scope)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                // A grid's plan changes its households; a beat's, those of its grids.
                let grids: Vec<(String,)> = match scope.split_once(':') {
                    Some(("grid", code)) => vec![(code.to_owned(),)],
                    Some(("beat", code)) => sqlx::query_as("SELECT grid_code FROM beat_grids WHERE beat_code = $1")
                        .bind(code)
                        .fetch_all(&mut *tx)
                        .await?,
                    _ => return Err($crate::StoreError::Invalid(format!("`{scope}` is not grid:CODE or beat:CODE"))),
                };
                for (grid,) in grids {
                    let ids: Vec<(String, String)> =
                        sqlx::query_as("SELECT id, region_code FROM households WHERE grid_code = $1 AND assignee IS NOT NULL")
                            .bind(&grid)
                            .fetch_all(&mut *tx)
                            .await?;
                    for (id, region) in ids {
                        sqlx::query($crate::sql::MARK_KPI)
                            .bind($crate::households::HOUSEHOLD_SOURCE)
                            .bind(id)
                            .bind(region)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
            async fn visit_plans(&self) -> Result<Vec<(String, u32)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT scope, interval_days FROM visit_plans ORDER BY scope")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(s, d)| (s, u32::try_from(d).unwrap_or(civicgrid_domain::household::DEFAULT_INTERVAL_DAYS)))
                    .collect())
            }
            async fn log_visit(&self, v: &$crate::VisitRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO household_visits ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    $crate::households::VISIT_COLUMNS
                ))
                .bind(v.id.to_string())
                .bind(v.household.to_string())
                .bind(v.region.as_str())
                .bind(&v.visitor)
                .bind($crate::model::micros(v.at))
                .bind(v.day.to_string())
                .bind(v.channel.as_str())
                .bind(&v.topics)
                .bind(&v.notes)
                .bind(v.case.map(|c| c.to_string()))
                .execute(&mut *tx)
                .await?;
                sqlx::query($crate::sql::MARK_KPI)
                    .bind($crate::households::HOUSEHOLD_SOURCE)
                    .bind(v.household.to_string())
                    .bind(v.region.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
            async fn link_visit_case(&self, visit: &uuid::Uuid, case: &uuid::Uuid) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE household_visits SET case_id = $2
                     WHERE id = $1 AND (case_id IS NULL OR (case_id = $3 AND $2 <> $3))",
                )
                .bind(visit.to_string())
                .bind(case.to_string())
                .bind(uuid::Uuid::nil().to_string())
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Conflict(format!("visit {visit} already has a case, or is unknown")));
                }
                Ok(())
            }
            async fn release_visit_claim(&self, visit: &uuid::Uuid) -> Result<(), $crate::StoreError> {
                sqlx::query("UPDATE household_visits SET case_id = NULL WHERE id = $1 AND case_id = $2")
                    .bind(visit.to_string())
                    .bind(uuid::Uuid::nil().to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn visit(&self, id: &uuid::Uuid) -> Result<Option<$crate::VisitRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!(
                    "SELECT {} FROM household_visits WHERE id = $1",
                    $crate::households::VISIT_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::households::visit_from_row).transpose()
            }
            async fn visits_of(&self, household: &uuid::Uuid) -> Result<Vec<$crate::VisitRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM household_visits WHERE household_id = $1 ORDER BY at DESC, id DESC",
                    $crate::households::VISIT_COLUMNS
                ))
                .bind(household.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::households::visit_from_row).collect()
            }
            async fn visits_in(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
                from: jiff::civil::Date,
                to: jiff::civil::Date,
                limit: u32,
            ) -> Result<Vec<$crate::VisitRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM household_visits WHERE region_code LIKE $1 AND day >= $2 AND day < $3
                     ORDER BY at DESC, id DESC LIMIT $4",
                    $crate::households::VISIT_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind(from.to_string())
                .bind(to.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::households::visit_from_row).collect()
            }
            async fn mark_assigned_households(&self) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO kpi_dirty (source, item_id, region_code)
                     SELECT $1, id, region_code FROM households WHERE assignee IS NOT NULL
                     ON CONFLICT (item_id) DO UPDATE SET marked = kpi_dirty.marked + 1",
                )
                .bind($crate::households::HOUSEHOLD_SOURCE)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use households_sql;
