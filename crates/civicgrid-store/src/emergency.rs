//! Emergency response (应急): plans as data, incidents with their tasks, and the incident's
//! append-only log (`incident_events`, kept by triggers on both backends) from which the
//! after-action record is read.
//!
//! A change of level is one transaction: the incident row (optimistic version), the tasks it
//! creates, reopens or ends, its events and the notice to the affected grids' workers (kept
//! for the notifier beside it). Tasks are keyed by (incident, task key, addressee), so a task
//! is never created twice, whichever instance activates. Every other change (a task done, an
//! acknowledgement, a grid report, a need settled, a situation report) takes the incident's
//! row lock first, so events are numbered without gaps or clashes.

use async_trait::async_trait;
use jiff::Timestamp;
use uuid::Uuid;

use crate::*;

/// A plan as stored: the domain's `Plan` as JSON, with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub code: String,
    pub kind: String,
    pub title: String,
    /// `civicgrid_domain::emergency::Plan` as JSON.
    pub body: String,
    pub version: u64,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: Uuid,
    /// The number people say (YJ-2026-0001).
    pub number: String,
    pub title: String,
    pub kind: String,
    pub plan_code: String,
    /// The plan as it stood when the incident was declared (JSON).
    pub plan_body: String,
    /// I–IV once activated.
    pub level: Option<String>,
    /// declared, active or lifted.
    pub status: String,
    /// A drill: kept out of the response figures.
    pub exercise: bool,
    /// The commander's account.
    pub commander: String,
    /// The smallest region holding every affected grid.
    pub region: String,
    pub grids: Vec<String>,
    /// How the area was given (grids, a polygon, a circle), as JSON.
    pub area: String,
    /// Minutes between situation reports.
    pub period_minutes: u32,
    pub declared_by: String,
    pub declared_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub lifted_at: Option<Timestamp>,
    pub lift_reason: Option<String>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentTaskRecord {
    pub key: String,
    /// unit, role or grid.
    pub target_kind: String,
    pub target_code: String,
    pub title: String,
    pub level: String,
    pub due_at: Timestamp,
    /// open, done, closed or cancelled.
    pub status: String,
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<String>,
}

/// An event to append; the store numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncidentEvent {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub grid: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEventRecord {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub grid: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub grid: String,
    pub username: String,
    pub at: Timestamp,
}

/// A grid worker's report for their grid: the figures as they stand now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridReportRecord {
    pub id: Uuid,
    pub grid: String,
    pub reported_by: String,
    pub at: Timestamp,
    pub households_checked: u32,
    pub people_transferred: u32,
    pub note: String,
}

/// A need found in a grid: open until it becomes a case or a volunteer call, or is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedRecord {
    pub id: Uuid,
    pub grid: String,
    pub report_id: Uuid,
    pub text: String,
    pub skills: Vec<String>,
    /// open, taking (held while a case or call is made), case, call or closed.
    pub status: String,
    pub case_id: Option<Uuid>,
    pub activity_id: Option<Uuid>,
    pub raised_by: String,
    pub raised_at: Timestamp,
    pub settled_by: Option<String>,
    pub settled_at: Option<Timestamp>,
}

/// A situation report (续报): the live figures when it was written, and the commander's text.
#[derive(Debug, Clone, PartialEq)]
pub struct SitrepRecord {
    pub seq: u64,
    pub at: Timestamp,
    pub author: String,
    pub figures: serde_json::Value,
    pub text: String,
}

#[async_trait]
pub trait EmergencyStore: Send + Sync {
    /// Stores plans (new ones at version 1, others one version up), all in one transaction.
    async fn save_emergency_plans(&self, plans: &[PlanRecord]) -> Result<(), StoreError>;
    async fn emergency_plans(&self) -> Result<Vec<PlanRecord>, StoreError>;
    async fn emergency_plan(&self, code: &str) -> Result<Option<PlanRecord>, StoreError>;
    /// A declared incident with its first event.
    async fn create_incident(
        &self,
        incident: &IncidentRecord,
        event: &NewIncidentEvent,
    ) -> Result<(), StoreError>;
    /// A change of level or the lifting, in one transaction: the incident (its version one
    /// more than `expected_version`, else `Stale`), the tasks created and changed, the events
    /// and the notice to the grids.
    async fn change_incident(
        &self,
        incident: &IncidentRecord,
        expected_version: u64,
        created: &[IncidentTaskRecord],
        changed: &[IncidentTaskRecord],
        events: &[NewIncidentEvent],
        notice: Option<&GridNoticeRecord>,
    ) -> Result<(), StoreError>;
    async fn incident(&self, id: &Uuid) -> Result<Option<IncidentRecord>, StoreError>;
    async fn incident_by_number(&self, number: &str) -> Result<Option<IncidentRecord>, StoreError>;
    /// The newest first.
    async fn incidents(&self, limit: u32) -> Result<Vec<IncidentRecord>, StoreError>;
    async fn incidents_in(&self, status: &str) -> Result<Vec<IncidentRecord>, StoreError>;
    async fn incident_tasks(&self, id: &Uuid) -> Result<Vec<IncidentTaskRecord>, StoreError>;
    async fn incident_events(&self, id: &Uuid) -> Result<Vec<IncidentEventRecord>, StoreError>;
    /// Ends an open task as `task` says, with its event; `false` (nothing written) if it is
    /// not open.
    async fn end_incident_task(
        &self,
        id: &Uuid,
        task: &IncidentTaskRecord,
        event: &NewIncidentEvent,
    ) -> Result<bool, StoreError>;
    /// Records a grid worker's acknowledgement with its event; `false` if they had already.
    async fn acknowledge_incident(
        &self,
        id: &Uuid,
        ack: &Acknowledgement,
        event: &NewIncidentEvent,
    ) -> Result<bool, StoreError>;
    async fn incident_acknowledgements(
        &self,
        id: &Uuid,
    ) -> Result<Vec<Acknowledgement>, StoreError>;
    async fn add_grid_report(
        &self,
        id: &Uuid,
        report: &GridReportRecord,
        needs: &[NeedRecord],
        event: &NewIncidentEvent,
    ) -> Result<(), StoreError>;
    /// Oldest first.
    async fn grid_reports(&self, id: &Uuid) -> Result<Vec<GridReportRecord>, StoreError>;
    async fn incident_needs(&self, id: &Uuid) -> Result<Vec<NeedRecord>, StoreError>;
    /// Holds an open need while a case or call is made from it; `false` if it is not open.
    async fn hold_need(&self, id: &Uuid, need: &Uuid) -> Result<bool, StoreError>;
    /// Gives a held need back (making its case or call failed).
    async fn release_need(&self, id: &Uuid, need: &Uuid) -> Result<(), StoreError>;
    /// Settles a held or open need as `need` says, with its event; `false` if it was settled.
    async fn settle_need(
        &self,
        id: &Uuid,
        need: &NeedRecord,
        event: &NewIncidentEvent,
    ) -> Result<bool, StoreError>;
    /// Appends a situation report (numbered by the store) with its event; its number.
    async fn add_sitrep(
        &self,
        id: &Uuid,
        sitrep: &SitrepRecord,
        event: &NewIncidentEvent,
    ) -> Result<u64, StoreError>;
    async fn sitreps(&self, id: &Uuid) -> Result<Vec<SitrepRecord>, StoreError>;
    /// Keeps a reminder that situation report `period` is due for the notifier (once per
    /// period, whichever instance asks); `true` if this call kept it.
    async fn remind_sitrep(
        &self,
        id: &Uuid,
        period: u64,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
}

pub(crate) fn plan_from_row(
    r: (String, String, String, String, i64, String, i64),
) -> Result<PlanRecord, StoreError> {
    Ok(PlanRecord {
        code: r.0,
        kind: r.1,
        title: r.2,
        body: r.3,
        version: u64::try_from(r.4).map_err(crate::error::corrupt)?,
        updated_by: r.5,
        updated_at: crate::model::from_micros(r.6)?,
    })
}

pub(crate) const INCIDENT_COLUMNS: &str = "id, number, title, kind, plan_code, plan_body, level, status, exercise, commander, region_code, grids, area, period_minutes, declared_by, declared_at, activated_at, lifted_at, lift_reason, version";

#[allow(clippy::type_complexity)]
pub(crate) type IncidentRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    bool,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
);

fn uuid_of(what: &str, s: &str) -> Result<Uuid, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} id {s}")))
}

pub(crate) fn incident_from_row(r: IncidentRow) -> Result<IncidentRecord, StoreError> {
    Ok(IncidentRecord {
        id: uuid_of("incident", &r.0)?,
        number: r.1,
        title: r.2,
        kind: r.3,
        plan_code: r.4,
        plan_body: r.5,
        level: r.6,
        status: r.7,
        exercise: r.8,
        commander: r.9,
        region: r.10,
        grids: crate::sql::from_json("incident grids", &r.11)?,
        area: r.12,
        period_minutes: u32::try_from(r.13).map_err(crate::error::corrupt)?,
        declared_by: r.14,
        declared_at: crate::model::from_micros(r.15)?,
        activated_at: r.16.map(crate::model::from_micros).transpose()?,
        lifted_at: r.17.map(crate::model::from_micros).transpose()?,
        lift_reason: r.18,
        version: u64::try_from(r.19).map_err(crate::error::corrupt)?,
    })
}

pub(crate) const TASK_COLUMNS: &str = "task_key, target_kind, target_code, title, level, due_at, status, reason, created_at, ended_at, ended_by";

#[allow(clippy::type_complexity)]
pub(crate) type TaskRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
);

pub(crate) fn task_from_row(r: TaskRow) -> Result<IncidentTaskRecord, StoreError> {
    Ok(IncidentTaskRecord {
        key: r.0,
        target_kind: r.1,
        target_code: r.2,
        title: r.3,
        level: r.4,
        due_at: crate::model::from_micros(r.5)?,
        status: r.6,
        reason: r.7,
        created_at: crate::model::from_micros(r.8)?,
        ended_at: r.9.map(crate::model::from_micros).transpose()?,
        ended_by: r.10,
    })
}

pub(crate) const NEED_COLUMNS: &str = "id, grid_code, report_id, text, skills, status, case_id, activity_id, raised_by, raised_at, settled_by, settled_at";

#[allow(clippy::type_complexity)]
pub(crate) type NeedRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<String>,
    Option<i64>,
);

pub(crate) fn need_from_row(r: NeedRow) -> Result<NeedRecord, StoreError> {
    Ok(NeedRecord {
        id: uuid_of("need", &r.0)?,
        grid: r.1,
        report_id: uuid_of("report", &r.2)?,
        text: r.3,
        skills: crate::sql::from_json("need skills", &r.4)?,
        status: r.5,
        case_id: r.6.as_deref().map(|s| uuid_of("case", s)).transpose()?,
        activity_id: r.7.as_deref().map(|s| uuid_of("activity", s)).transpose()?,
        raised_by: r.8,
        raised_at: crate::model::from_micros(r.9)?,
        settled_by: r.10,
        settled_at: r.11.map(crate::model::from_micros).transpose()?,
    })
}

pub(crate) fn event_from_row(
    r: (i64, i64, String, String, Option<String>, String),
) -> Result<IncidentEventRecord, StoreError> {
    Ok(IncidentEventRecord {
        seq: u64::try_from(r.0).map_err(crate::error::corrupt)?,
        at: crate::model::from_micros(r.1)?,
        actor: r.2,
        action: r.3,
        grid: r.4,
        body: serde_json::from_str(&r.5)
            .map_err(|e| StoreError::Corrupt(format!("incident event body: {e}")))?,
    })
}

macro_rules! emergency_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            /// An incident row (20 columns: more than sqlx reads into a tuple).
            fn incident_of(r: &<$db as sqlx::Database>::Row) -> Result<$crate::IncidentRecord, $crate::StoreError> {
                use sqlx::Row;
                $crate::emergency::incident_from_row((
                    r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?,
                    r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?, r.try_get(9)?,
                    r.try_get(10)?, r.try_get(11)?, r.try_get(12)?, r.try_get(13)?, r.try_get(14)?,
                    r.try_get(15)?, r.try_get(16)?, r.try_get(17)?, r.try_get(18)?, r.try_get(19)?,
                ))
            }

            /// Takes the incident's row lock (a no-op update) so that this transaction's
            /// events are numbered after any other's; `NotFound` if there is no incident.
            async fn lock_incident(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query("UPDATE incidents SET version = version WHERE id = $1")
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("incident {id}")));
                }
                Ok(())
            }

            async fn append_incident_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &str,
                e: &$crate::NewIncidentEvent,
            ) -> Result<u64, $crate::StoreError> {
                let (last,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(seq), 0) FROM incident_events WHERE incident_id = $1",
                )
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO incident_events (incident_id, seq, at, actor, action, grid_code, body)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(last + 1)
                .bind($crate::model::micros(e.at))
                .bind(&e.actor)
                .bind(&e.action)
                .bind(e.grid.as_deref())
                .bind(e.body.to_string())
                .execute(&mut **tx)
                .await?;
                u64::try_from(last + 1).map_err($crate::error::corrupt)
            }
        }

        #[async_trait::async_trait]
        impl $crate::EmergencyStore for $repo {
            async fn save_emergency_plans(&self, plans: &[$crate::PlanRecord]) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for p in plans {
                    sqlx::query(
                        "INSERT INTO emergency_plans (code, kind, title, body, version, updated_by, updated_at)
                         VALUES ($1, $2, $3, $4, 1, $5, $6)
                         ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,
                           body = EXCLUDED.body, version = emergency_plans.version + 1,
                           updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at",
                    )
                    .bind(&p.code)
                    .bind(&p.kind)
                    .bind(&p.title)
                    .bind(&p.body)
                    .bind(&p.updated_by)
                    .bind($crate::model::micros(p.updated_at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn emergency_plans(&self) -> Result<Vec<$crate::PlanRecord>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String, i64, String, i64)> = sqlx::query_as(
                    "SELECT code, kind, title, body, version, updated_by, updated_at FROM emergency_plans ORDER BY code",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::emergency::plan_from_row).collect()
            }

            async fn emergency_plan(&self, code: &str) -> Result<Option<$crate::PlanRecord>, $crate::StoreError> {
                let row: Option<(String, String, String, String, i64, String, i64)> = sqlx::query_as(
                    "SELECT code, kind, title, body, version, updated_by, updated_at FROM emergency_plans WHERE code = $1",
                )
                .bind(code)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::emergency::plan_from_row).transpose()
            }

            async fn create_incident(
                &self,
                i: &$crate::IncidentRecord,
                event: &$crate::NewIncidentEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO incidents ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
                    $crate::emergency::INCIDENT_COLUMNS
                ))
                .bind(i.id.to_string())
                .bind(&i.number)
                .bind(&i.title)
                .bind(&i.kind)
                .bind(&i.plan_code)
                .bind(&i.plan_body)
                .bind(i.level.as_deref())
                .bind(&i.status)
                .bind(i.exercise)
                .bind(&i.commander)
                .bind(&i.region)
                .bind($crate::sql::to_json(&i.grids)?)
                .bind(&i.area)
                .bind(i64::from(i.period_minutes))
                .bind(&i.declared_by)
                .bind($crate::model::micros(i.declared_at))
                .bind(i.activated_at.map($crate::model::micros))
                .bind(i.lifted_at.map($crate::model::micros))
                .bind(i.lift_reason.as_deref())
                .bind(i64::try_from(i.version).map_err($crate::error::corrupt)?)
                .execute(&mut *tx)
                .await?;
                Self::append_incident_event(&mut tx, &i.id.to_string(), event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn change_incident(
                &self,
                i: &$crate::IncidentRecord,
                expected_version: u64,
                created: &[$crate::IncidentTaskRecord],
                changed: &[$crate::IncidentTaskRecord],
                events: &[$crate::NewIncidentEvent],
                notice: Option<&$crate::GridNoticeRecord>,
            ) -> Result<(), $crate::StoreError> {
                let id = i.id.to_string();
                let expected = i64::try_from(expected_version).map_err($crate::error::corrupt)?;
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE incidents SET level = $1, status = $2, commander = $3, activated_at = $4, lifted_at = $5,
                       lift_reason = $6, period_minutes = $7, version = $8
                     WHERE id = $9 AND version = $10",
                )
                .bind(i.level.as_deref())
                .bind(&i.status)
                .bind(&i.commander)
                .bind(i.activated_at.map($crate::model::micros))
                .bind(i.lifted_at.map($crate::model::micros))
                .bind(i.lift_reason.as_deref())
                .bind(i64::from(i.period_minutes))
                .bind(expected + 1)
                .bind(&id)
                .bind(expected)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM incidents WHERE id = $1")
                        .bind(&id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale {
                            current: u64::try_from(v).map_err($crate::error::corrupt)?,
                        },
                        None => $crate::StoreError::NotFound(format!("incident {id}")),
                    });
                }
                // Many tasks (a task per grid over hundreds of grids): several rows per statement.
                for chunk in created.chunks(200) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO incident_tasks (incident_id, task_key, target_kind, target_code, title, level, due_at, status, reason, created_at) ",
                    );
                    q.push_values(chunk, |mut b, t| {
                        b.push_bind(id.clone())
                            .push_bind(t.key.clone())
                            .push_bind(t.target_kind.clone())
                            .push_bind(t.target_code.clone())
                            .push_bind(t.title.clone())
                            .push_bind(t.level.clone())
                            .push_bind($crate::model::micros(t.due_at))
                            .push_bind(t.status.clone())
                            .push_bind(t.reason.clone())
                            .push_bind($crate::model::micros(t.created_at));
                    });
                    q.build().execute(&mut *tx).await?;
                }
                for t in changed {
                    sqlx::query(
                        "UPDATE incident_tasks SET status = $1, due_at = $2, reason = $3, ended_at = $4, ended_by = $5
                         WHERE incident_id = $6 AND task_key = $7 AND target_kind = $8 AND target_code = $9",
                    )
                    .bind(&t.status)
                    .bind($crate::model::micros(t.due_at))
                    .bind(t.reason.as_deref())
                    .bind(t.ended_at.map($crate::model::micros))
                    .bind(t.ended_by.as_deref())
                    .bind(&id)
                    .bind(&t.key)
                    .bind(&t.target_kind)
                    .bind(&t.target_code)
                    .execute(&mut *tx)
                    .await?;
                }
                for e in events {
                    Self::append_incident_event(&mut tx, &id, e).await?;
                }
                if let Some(n) = notice {
                    sqlx::query(
                        "INSERT INTO grid_notices (id, title, text, grids, region_code, issued_by, issued_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(n.id.to_string())
                    .bind(&n.title)
                    .bind(&n.text)
                    .bind($crate::sql::to_json(&n.grids)?)
                    .bind(&n.region)
                    .bind(&n.issued_by)
                    .bind($crate::model::micros(n.issued_at))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("INSERT INTO notification_events (case_id, seq, at, source) VALUES ($1, 1, $2, 'notice')")
                        .bind(n.id.to_string())
                        .bind($crate::model::micros(n.issued_at))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn incident(&self, id: &uuid::Uuid) -> Result<Option<$crate::IncidentRecord>, $crate::StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM incidents WHERE id = $1",
                    $crate::emergency::INCIDENT_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::incident_of).transpose()
            }

            async fn incident_by_number(&self, number: &str) -> Result<Option<$crate::IncidentRecord>, $crate::StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM incidents WHERE number = $1",
                    $crate::emergency::INCIDENT_COLUMNS
                ))
                .bind(number)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::incident_of).transpose()
            }

            async fn incidents(&self, limit: u32) -> Result<Vec<$crate::IncidentRecord>, $crate::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM incidents ORDER BY declared_at DESC, id DESC LIMIT $1",
                    $crate::emergency::INCIDENT_COLUMNS
                ))
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::incident_of).collect()
            }

            async fn incidents_in(&self, status: &str) -> Result<Vec<$crate::IncidentRecord>, $crate::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM incidents WHERE status = $1 ORDER BY declared_at, id",
                    $crate::emergency::INCIDENT_COLUMNS
                ))
                .bind(status)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::incident_of).collect()
            }

            async fn incident_tasks(&self, id: &uuid::Uuid) -> Result<Vec<$crate::IncidentTaskRecord>, $crate::StoreError> {
                let rows: Vec<$crate::emergency::TaskRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM incident_tasks WHERE incident_id = $1 ORDER BY due_at, task_key, target_kind, target_code",
                    $crate::emergency::TASK_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::emergency::task_from_row).collect()
            }

            async fn incident_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::IncidentEventRecord>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT seq, at, actor, action, grid_code, body FROM incident_events WHERE incident_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::emergency::event_from_row).collect()
            }

            async fn end_incident_task(
                &self,
                id: &uuid::Uuid,
                t: &$crate::IncidentTaskRecord,
                event: &$crate::NewIncidentEvent,
            ) -> Result<bool, $crate::StoreError> {
                let id = id.to_string();
                let mut tx = self.begin().await?;
                Self::lock_incident(&mut tx, &id).await?;
                let done = sqlx::query(
                    "UPDATE incident_tasks SET status = $1, reason = $2, ended_at = $3, ended_by = $4
                     WHERE incident_id = $5 AND task_key = $6 AND target_kind = $7 AND target_code = $8 AND status = 'open'",
                )
                .bind(&t.status)
                .bind(t.reason.as_deref())
                .bind(t.ended_at.map($crate::model::micros))
                .bind(t.ended_by.as_deref())
                .bind(&id)
                .bind(&t.key)
                .bind(&t.target_kind)
                .bind(&t.target_code)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_incident_event(&mut tx, &id, event).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn acknowledge_incident(
                &self,
                id: &uuid::Uuid,
                a: &$crate::Acknowledgement,
                event: &$crate::NewIncidentEvent,
            ) -> Result<bool, $crate::StoreError> {
                let id = id.to_string();
                let mut tx = self.begin().await?;
                Self::lock_incident(&mut tx, &id).await?;
                let done = sqlx::query(
                    "INSERT INTO incident_acknowledgements (incident_id, grid_code, username, at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (incident_id, grid_code, username) DO NOTHING",
                )
                .bind(&id)
                .bind(&a.grid)
                .bind(&a.username)
                .bind($crate::model::micros(a.at))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_incident_event(&mut tx, &id, event).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn incident_acknowledgements(&self, id: &uuid::Uuid) -> Result<Vec<$crate::Acknowledgement>, $crate::StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT grid_code, username, at FROM incident_acknowledgements WHERE incident_id = $1 ORDER BY at, grid_code, username",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(grid, username, at)| {
                        Ok($crate::Acknowledgement { grid, username, at: $crate::model::from_micros(at)? })
                    })
                    .collect()
            }

            async fn add_grid_report(
                &self,
                id: &uuid::Uuid,
                r: &$crate::GridReportRecord,
                needs: &[$crate::NeedRecord],
                event: &$crate::NewIncidentEvent,
            ) -> Result<(), $crate::StoreError> {
                let id = id.to_string();
                let mut tx = self.begin().await?;
                Self::lock_incident(&mut tx, &id).await?;
                sqlx::query(
                    "INSERT INTO incident_grid_reports (id, incident_id, grid_code, reported_by, at, households_checked, people_transferred, note)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(r.id.to_string())
                .bind(&id)
                .bind(&r.grid)
                .bind(&r.reported_by)
                .bind($crate::model::micros(r.at))
                .bind(i64::from(r.households_checked))
                .bind(i64::from(r.people_transferred))
                .bind(&r.note)
                .execute(&mut *tx)
                .await?;
                for n in needs {
                    sqlx::query(&format!(
                        "INSERT INTO incident_needs (incident_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        $crate::emergency::NEED_COLUMNS
                    ))
                    .bind(&id)
                    .bind(n.id.to_string())
                    .bind(&n.grid)
                    .bind(n.report_id.to_string())
                    .bind(&n.text)
                    .bind($crate::sql::to_json(&n.skills)?)
                    .bind(&n.status)
                    .bind(n.case_id.map(|c| c.to_string()))
                    .bind(n.activity_id.map(|c| c.to_string()))
                    .bind(&n.raised_by)
                    .bind($crate::model::micros(n.raised_at))
                    .bind(n.settled_by.as_deref())
                    .bind(n.settled_at.map($crate::model::micros))
                    .execute(&mut *tx)
                    .await?;
                }
                Self::append_incident_event(&mut tx, &id, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn grid_reports(&self, id: &uuid::Uuid) -> Result<Vec<$crate::GridReportRecord>, $crate::StoreError> {
                let rows: Vec<(String, String, String, i64, i64, i64, String)> = sqlx::query_as(
                    "SELECT id, grid_code, reported_by, at, households_checked, people_transferred, note
                     FROM incident_grid_reports WHERE incident_id = $1 ORDER BY at, id",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::GridReportRecord {
                            id: r.0.parse().map_err(|_| $crate::StoreError::Corrupt(format!("report id {}", r.0)))?,
                            grid: r.1,
                            reported_by: r.2,
                            at: $crate::model::from_micros(r.3)?,
                            households_checked: u32::try_from(r.4).map_err($crate::error::corrupt)?,
                            people_transferred: u32::try_from(r.5).map_err($crate::error::corrupt)?,
                            note: r.6,
                        })
                    })
                    .collect()
            }

            async fn incident_needs(&self, id: &uuid::Uuid) -> Result<Vec<$crate::NeedRecord>, $crate::StoreError> {
                let rows: Vec<$crate::emergency::NeedRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM incident_needs WHERE incident_id = $1 ORDER BY raised_at, id",
                    $crate::emergency::NEED_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::emergency::need_from_row).collect()
            }

            async fn hold_need(&self, id: &uuid::Uuid, need: &uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE incident_needs SET status = 'taking' WHERE incident_id = $1 AND id = $2 AND status = 'open'",
                )
                .bind(id.to_string())
                .bind(need.to_string())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_need(&self, id: &uuid::Uuid, need: &uuid::Uuid) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "UPDATE incident_needs SET status = 'open' WHERE incident_id = $1 AND id = $2 AND status = 'taking'",
                )
                .bind(id.to_string())
                .bind(need.to_string())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn settle_need(
                &self,
                id: &uuid::Uuid,
                n: &$crate::NeedRecord,
                event: &$crate::NewIncidentEvent,
            ) -> Result<bool, $crate::StoreError> {
                let id = id.to_string();
                let mut tx = self.begin().await?;
                Self::lock_incident(&mut tx, &id).await?;
                let done = sqlx::query(
                    "UPDATE incident_needs SET status = $1, case_id = $2, activity_id = $3, settled_by = $4, settled_at = $5
                     WHERE incident_id = $6 AND id = $7 AND status IN ('open', 'taking')",
                )
                .bind(&n.status)
                .bind(n.case_id.map(|c| c.to_string()))
                .bind(n.activity_id.map(|c| c.to_string()))
                .bind(n.settled_by.as_deref())
                .bind(n.settled_at.map($crate::model::micros))
                .bind(&id)
                .bind(n.id.to_string())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::append_incident_event(&mut tx, &id, event).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn add_sitrep(
                &self,
                id: &uuid::Uuid,
                s: &$crate::SitrepRecord,
                event: &$crate::NewIncidentEvent,
            ) -> Result<u64, $crate::StoreError> {
                let id = id.to_string();
                let mut tx = self.begin().await?;
                Self::lock_incident(&mut tx, &id).await?;
                let (last,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(seq), 0) FROM incident_sitreps WHERE incident_id = $1",
                )
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO incident_sitreps (incident_id, seq, at, author, figures, text) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&id)
                .bind(last + 1)
                .bind($crate::model::micros(s.at))
                .bind(&s.author)
                .bind(s.figures.to_string())
                .bind(&s.text)
                .execute(&mut *tx)
                .await?;
                let mut event = event.clone();
                if let Some(body) = event.body.as_object_mut() {
                    body.insert("number".to_owned(), serde_json::json!(last + 1));
                }
                Self::append_incident_event(&mut tx, &id, &event).await?;
                tx.commit().await?;
                u64::try_from(last + 1).map_err($crate::error::corrupt)
            }

            async fn sitreps(&self, id: &uuid::Uuid) -> Result<Vec<$crate::SitrepRecord>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
                    "SELECT seq, at, author, figures, text FROM incident_sitreps WHERE incident_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::SitrepRecord {
                            seq: u64::try_from(r.0).map_err($crate::error::corrupt)?,
                            at: $crate::model::from_micros(r.1)?,
                            author: r.2,
                            figures: serde_json::from_str(&r.3)
                                .map_err(|e| $crate::StoreError::Corrupt(format!("sitrep figures: {e}")))?,
                            text: r.4,
                        })
                    })
                    .collect()
            }

            async fn remind_sitrep(&self, id: &uuid::Uuid, period: u64, at: jiff::Timestamp) -> Result<bool, $crate::StoreError> {
                let id = id.to_string();
                let period = i64::try_from(period).map_err($crate::error::corrupt)?;
                let mut tx = self.begin().await?;
                Self::lock_incident(&mut tx, &id).await?;
                // Once per (incident, period), whichever instance asks first.
                let done = sqlx::query(
                    "INSERT INTO incident_reminders (incident_id, period, at) VALUES ($1, $2, $3)
                     ON CONFLICT (incident_id, period) DO NOTHING",
                )
                .bind(&id)
                .bind(period)
                .bind($crate::model::micros(at))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("INSERT INTO notification_events (case_id, seq, at, source) VALUES ($1, $2, $3, 'sitrep')")
                    .bind(&id)
                    .bind(period)
                    .bind($crate::model::micros(at))
                    .execute(&mut *tx)
                    .await?;
                let event = $crate::NewIncidentEvent {
                    at,
                    actor: "platform".to_owned(),
                    action: "sitrep_reminder".to_owned(),
                    grid: None,
                    body: serde_json::json!({ "period": period }),
                };
                Self::append_incident_event(&mut tx, &id, &event).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(crate) use emergency_sql;
