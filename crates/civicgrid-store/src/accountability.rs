//! Accountability records (问责) and their append-only events. A change and its event are
//! one transaction with a version check. Approved points are read by the assessment as
//! score changes (`AssessmentStore::adjustments`).

use async_trait::async_trait;

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub struct AccountabilityRecord {
    pub id: uuid::Uuid,
    /// Assigned by the store on creation (1, 2, …).
    pub number: u64,
    pub measure: String,
    pub subject: civicgrid_domain::kpi::Subject,
    pub region: civicgrid_domain::territory::RegionCode,
    /// The assessment period its points count in (`2026-03`).
    pub period: String,
    pub points: f64,
    /// Published as a 通报 on the public page.
    pub public: bool,
    pub facts: String,
    /// The grounds as JSON.
    pub grounds: String,
    pub status: String,
    pub proposed_by: String,
    pub proposed_at: jiff::Timestamp,
    pub decided_by: Option<String>,
    pub decided_at: Option<jiff::Timestamp>,
    pub decision_note: Option<String>,
    /// The assessment appeal filed against it.
    pub appeal_id: Option<uuid::Uuid>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountabilityEvent {
    pub seq: u64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

#[async_trait]
pub trait AccountabilityStore: Send + Sync {
    /// A new record with its first event; returns it with its number.
    async fn create_accountability(
        &self,
        record: &AccountabilityRecord,
        event: &AccountabilityEvent,
    ) -> Result<AccountabilityRecord, StoreError>;
    /// Writes a changed record (version one more than `expected_version`) with its event.
    async fn update_accountability(
        &self,
        record: &AccountabilityRecord,
        expected_version: u64,
        event: &AccountabilityEvent,
    ) -> Result<(), StoreError>;
    async fn accountability(&self, number: u64)
    -> Result<Option<AccountabilityRecord>, StoreError>;
    /// Records, newest first; only public approved ones when `public_only`.
    async fn accountability_records(
        &self,
        public_only: bool,
        limit: u32,
    ) -> Result<Vec<AccountabilityRecord>, StoreError>;
    async fn accountability_events(
        &self,
        id: &uuid::Uuid,
    ) -> Result<Vec<AccountabilityEvent>, StoreError>;
}

pub(crate) const COLUMNS: &str = "id, number, measure, subject_kind, subject_code, region_code, period, points, public, facts, grounds, status, proposed_by, proposed_at, decided_by, decided_at, decision_note, appeal_id, version";

#[allow(clippy::type_complexity)]
pub(crate) fn from_parts(
    a: (String, i64, String, String, String, String, String, f64),
    b: (i64, String, String, String, String, i64),
    c: (
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        i64,
    ),
) -> Result<AccountabilityRecord, StoreError> {
    let corrupt = |w: &str| StoreError::Corrupt(format!("accountability {w}"));
    Ok(AccountabilityRecord {
        id: a.0.parse().map_err(|_| corrupt("id"))?,
        number: u64::try_from(a.1).unwrap_or(0),
        measure: a.2,
        subject: crate::sql::subject(&a.3, a.4)?,
        region: a.5.parse().map_err(|_| corrupt("region"))?,
        period: a.6,
        points: a.7,
        public: b.0 != 0,
        facts: b.1,
        grounds: b.2,
        status: b.3,
        proposed_by: b.4,
        proposed_at: crate::model::from_micros(b.5)?,
        decided_by: c.0,
        decided_at: c.1.map(crate::model::from_micros).transpose()?,
        decision_note: c.2,
        appeal_id: c
            .3
            .map(|s| s.parse().map_err(|_| corrupt("appeal")))
            .transpose()?,
        version: u64::try_from(c.4).unwrap_or(0),
    })
}

macro_rules! accountability_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            async fn insert_accountability_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: &uuid::Uuid,
                e: &$crate::AccountabilityEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO accountability_events (record_id, seq, at, actor, action, note) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(id.to_string())
                    .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                    .bind($crate::model::micros(e.at))
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.note)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn select_accountability(
                &self,
                filter: &str,
                bind: Option<i64>,
            ) -> Result<Vec<$crate::AccountabilityRecord>, $crate::StoreError> {
                let sql = format!("SELECT {} FROM accountability_records {filter}", $crate::accountability::COLUMNS);
                let mut q = sqlx::query(&sql);
                if let Some(b) = bind {
                    q = q.bind(b);
                }
                let rows = q.fetch_all(&self.pool).await?;
                use sqlx::Row;
                rows.iter()
                    .map(|r| {
                        $crate::accountability::from_parts(
                            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?),
                            (r.try_get(8)?, r.try_get(9)?, r.try_get(10)?, r.try_get(11)?, r.try_get(12)?, r.try_get(13)?),
                            (r.try_get(14)?, r.try_get(15)?, r.try_get(16)?, r.try_get(17)?, r.try_get(18)?),
                        )
                    })
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::AccountabilityStore for $repo {
            async fn create_accountability(&self, r: &$crate::AccountabilityRecord, e: &$crate::AccountabilityEvent) -> Result<$crate::AccountabilityRecord, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let (last,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(number), 0) FROM accountability_records")
                    .fetch_one(&mut *tx)
                    .await?;
                let mut r = r.clone();
                r.number = u64::try_from(last + 1).unwrap_or(u64::MAX);
                sqlx::query(&format!(
                    "INSERT INTO accountability_records ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                    $crate::accountability::COLUMNS
                ))
                .bind(r.id.to_string())
                .bind(i64::try_from(r.number).unwrap_or(i64::MAX))
                .bind(&r.measure)
                .bind(r.subject.kind())
                .bind(r.subject.code())
                .bind(r.region.as_str())
                .bind(&r.period)
                .bind(r.points)
                .bind(i64::from(r.public))
                .bind(&r.facts)
                .bind(&r.grounds)
                .bind(&r.status)
                .bind(&r.proposed_by)
                .bind($crate::model::micros(r.proposed_at))
                .bind(&r.decided_by)
                .bind(r.decided_at.map($crate::model::micros))
                .bind(&r.decision_note)
                .bind(r.appeal_id.map(|a| a.to_string()))
                .bind(i64::try_from(r.version).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                Self::insert_accountability_event(&mut tx, &r.id, e).await?;
                tx.commit().await?;
                Ok(r)
            }
            async fn update_accountability(&self, r: &$crate::AccountabilityRecord, expected_version: u64, e: &$crate::AccountabilityEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE accountability_records SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5, appeal_id = $6, version = $7 WHERE id = $1 AND version = $8",
                )
                .bind(r.id.to_string())
                .bind(&r.status)
                .bind(&r.decided_by)
                .bind(r.decided_at.map($crate::model::micros))
                .bind(&r.decision_note)
                .bind(r.appeal_id.map(|a| a.to_string()))
                .bind(i64::try_from(expected_version + 1).unwrap_or(i64::MAX))
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM accountability_records WHERE id = $1")
                        .bind(r.id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("accountability record {}", r.id)),
                    });
                }
                Self::insert_accountability_event(&mut tx, &r.id, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn accountability(&self, number: u64) -> Result<Option<$crate::AccountabilityRecord>, $crate::StoreError> {
                Ok(self
                    .select_accountability("WHERE number = $1", Some(i64::try_from(number).unwrap_or(i64::MAX)))
                    .await?
                    .into_iter()
                    .next())
            }
            async fn accountability_records(&self, public_only: bool, limit: u32) -> Result<Vec<$crate::AccountabilityRecord>, $crate::StoreError> {
                let filter = if public_only {
                    "WHERE public = 1 AND status = 'approved' ORDER BY number DESC LIMIT $1"
                } else {
                    "ORDER BY number DESC LIMIT $1"
                };
                self.select_accountability(filter, Some(i64::from(limit))).await
            }
            async fn accountability_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::AccountabilityEvent>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
                    "SELECT seq, at, actor, action, note FROM accountability_events WHERE record_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, at, actor, action, note)| {
                        Ok($crate::AccountabilityEvent {
                            seq: u64::try_from(seq).unwrap_or(0),
                            at: $crate::model::from_micros(at)?,
                            actor,
                            action,
                            note,
                        })
                    })
                    .collect()
            }
        }
    };
}
pub(crate) use accountability_sql;
