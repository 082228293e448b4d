//! Small wishes (微心愿) and their append-only events.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `wishes_sql!`. A change of a wish and its event are one transaction, with
//! an optimistic version check, and queue the wish for the assessment.

use async_trait::async_trait;
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_domain::wish::WishStatus;

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub struct WishRecord {
    pub id: uuid::Uuid,
    /// The number the public board and the resident's receipt show.
    pub public_id: String,
    /// The digest of the resident's secret (as with cases' receipts).
    pub reporter_key: Option<String>,
    /// The community.
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    pub title: String,
    pub description: String,
    /// `resident`, or the account that posted it on the resident's behalf.
    pub posted_by: String,
    pub posted_at: jiff::Timestamp,
    pub status: WishStatus,
    pub claimed_by: Option<String>,
    pub escalated: bool,
    pub delivery_note: Option<String>,
    pub fulfilled_at: Option<jiff::Timestamp>,
    pub version: u64,
}

/// One change of a wish.
#[derive(Debug, Clone, PartialEq)]
pub struct WishEvent {
    pub seq: u64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

/// The assessment source wishes are queued under.
pub const WISH_SOURCE: &str = "wish";

#[async_trait]
pub trait WishStore: Send + Sync {
    /// A new wish with its first event.
    async fn create_wish(&self, wish: &WishRecord, event: &WishEvent) -> Result<(), StoreError>;
    /// Writes a changed wish (its version one more than `expected_version`) with its event,
    /// in one transaction; `Stale` if someone changed it first.
    async fn update_wish(
        &self,
        wish: &WishRecord,
        expected_version: u64,
        event: &WishEvent,
    ) -> Result<(), StoreError>;
    async fn wish(&self, id: &uuid::Uuid) -> Result<Option<WishRecord>, StoreError>;
    async fn wish_by_public_id(&self, public_id: &str) -> Result<Option<WishRecord>, StoreError>;
    /// Wishes in `within`, newest first, optionally of some statuses only, at most `limit`.
    async fn wishes(
        &self,
        within: &RegionCode,
        statuses: &[WishStatus],
        limit: u32,
    ) -> Result<Vec<WishRecord>, StoreError>;
    /// The wishes `claimant` holds and has not reported done (a delivered wish waits for the
    /// resident, not for its claimant).
    async fn wishes_held_by(&self, claimant: &str) -> Result<Vec<WishRecord>, StoreError>;
    /// Open, not yet escalated wishes posted before `before` (the escalation sweep).
    async fn unclaimed_wishes(
        &self,
        before: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<WishRecord>, StoreError>;
    async fn wish_events(&self, id: &uuid::Uuid) -> Result<Vec<WishEvent>, StoreError>;
    /// The delivery photo (replaces an earlier one).
    async fn save_wish_photo(
        &self,
        id: &uuid::Uuid,
        content_type: &str,
        data: &[u8],
    ) -> Result<(), StoreError>;
    async fn wish_photo(&self, id: &uuid::Uuid) -> Result<Option<(String, Vec<u8>)>, StoreError>;
}

pub(crate) const WISH_COLUMNS: &str = "id, public_id, reporter_key, region_code, grid_code, title, description, posted_by, posted_at, status, claimed_by, escalated, delivery_note, fulfilled_at, version";

#[allow(clippy::type_complexity)]
type WishRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    bool,
    Option<String>,
    Option<i64>,
    i64,
);

pub(crate) fn wish_from_row(r: WishRow) -> Result<WishRecord, StoreError> {
    let (
        id,
        public_id,
        reporter_key,
        region,
        grid,
        title,
        description,
        posted_by,
        posted_at,
        status,
        claimed_by,
        escalated,
        delivery_note,
        fulfilled_at,
        version,
    ) = r;
    Ok(WishRecord {
        id: crate::sql::parse("wish id", &id)?,
        public_id,
        reporter_key,
        region: crate::sql::parse("wish region", &region)?,
        grid: grid
            .map(|g| crate::sql::parse("wish grid", &g))
            .transpose()?,
        title,
        description,
        posted_by,
        posted_at: crate::model::from_micros(posted_at)?,
        status: crate::sql::parse("wish status", &status)?,
        claimed_by,
        escalated,
        delivery_note,
        fulfilled_at: fulfilled_at.map(crate::model::from_micros).transpose()?,
        version: u64::try_from(version).unwrap_or(0),
    })
}

macro_rules! wishes_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            async fn insert_wish_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                wish: &$crate::WishRecord,
                e: &$crate::WishEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO wish_events (wish_id, seq, at, actor, action, note) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(wish.id.to_string())
                    .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                    .bind($crate::model::micros(e.at))
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.note)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query($crate::sql::MARK_KPI)
                    .bind($crate::wishes::WISH_SOURCE)
                    .bind(wish.id.to_string())
                    .bind(wish.region.as_str())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::WishStore for $repo {
            async fn create_wish(&self, w: &$crate::WishRecord, e: &$crate::WishEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO wishes ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                    $crate::wishes::WISH_COLUMNS
                ))
                .bind(w.id.to_string())
                .bind(&w.public_id)
                .bind(&w.reporter_key)
                .bind(w.region.as_str())
                .bind(w.grid.as_ref().map(|g| g.as_str()))
                .bind(&w.title)
                .bind(&w.description)
                .bind(&w.posted_by)
                .bind($crate::model::micros(w.posted_at))
                .bind(w.status.as_str())
                .bind(&w.claimed_by)
                .bind(w.escalated)
                .bind(&w.delivery_note)
                .bind(w.fulfilled_at.map($crate::model::micros))
                .bind(i64::try_from(w.version).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                Self::insert_wish_event(&mut tx, w, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn update_wish(
                &self,
                w: &$crate::WishRecord,
                expected_version: u64,
                e: &$crate::WishEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE wishes SET status = $2, claimed_by = $3, escalated = $4, delivery_note = $5,
                       fulfilled_at = $6, version = $7, title = $8, description = $9
                     WHERE id = $1 AND version = $10",
                )
                .bind(w.id.to_string())
                .bind(w.status.as_str())
                .bind(&w.claimed_by)
                .bind(w.escalated)
                .bind(&w.delivery_note)
                .bind(w.fulfilled_at.map($crate::model::micros))
                .bind(i64::try_from(expected_version + 1).unwrap_or(i64::MAX))
                .bind(&w.title)
                .bind(&w.description)
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM wishes WHERE id = $1")
                        .bind(w.id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("wish {}", w.id)),
                    });
                }
                Self::insert_wish_event(&mut tx, w, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn wish(&self, id: &uuid::Uuid) -> Result<Option<$crate::WishRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!("SELECT {} FROM wishes WHERE id = $1", $crate::wishes::WISH_COLUMNS))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::wishes::wish_from_row).transpose()
            }
            async fn wish_by_public_id(&self, public_id: &str) -> Result<Option<$crate::WishRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!("SELECT {} FROM wishes WHERE public_id = $1", $crate::wishes::WISH_COLUMNS))
                    .bind(public_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::wishes::wish_from_row).transpose()
            }
            async fn wishes(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
                statuses: &[civicgrid_domain::wish::WishStatus],
                limit: u32,
            ) -> Result<Vec<$crate::WishRecord>, $crate::StoreError> {
                // The statuses as one delimited text, so that one statement serves any set.
                let wanted: String = statuses.iter().map(|s| format!(",{}", s.as_str())).collect::<String>() + ",";
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM wishes WHERE region_code LIKE $1
                       AND ($2 = ',' OR $2 LIKE '%,' || status || ',%')
                     ORDER BY posted_at DESC, id DESC LIMIT $3",
                    $crate::wishes::WISH_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind(wanted)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::wishes::wish_from_row).collect()
            }
            async fn wishes_held_by(&self, claimant: &str) -> Result<Vec<$crate::WishRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM wishes WHERE claimed_by = $1 AND status = 'claimed' ORDER BY posted_at",
                    $crate::wishes::WISH_COLUMNS
                ))
                .bind(claimant)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::wishes::wish_from_row).collect()
            }
            async fn unclaimed_wishes(&self, before: jiff::Timestamp, limit: u32) -> Result<Vec<$crate::WishRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM wishes WHERE status = 'open' AND escalated = $1 AND posted_at < $2
                     ORDER BY posted_at LIMIT $3",
                    $crate::wishes::WISH_COLUMNS
                ))
                .bind(false)
                .bind($crate::model::micros(before))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::wishes::wish_from_row).collect()
            }
            async fn wish_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::WishEvent>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
                    "SELECT seq, at, actor, action, note FROM wish_events WHERE wish_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, at, actor, action, note)| {
                        Ok($crate::WishEvent {
                            seq: u64::try_from(seq).unwrap_or(0),
                            at: $crate::model::from_micros(at)?,
                            actor,
                            action,
                            note,
                        })
                    })
                    .collect()
            }
            async fn save_wish_photo(&self, id: &uuid::Uuid, content_type: &str, data: &[u8]) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO wish_photos (wish_id, content_type, data) VALUES ($1, $2, $3)
                     ON CONFLICT (wish_id) DO UPDATE SET content_type = $2, data = $3",
                )
                .bind(id.to_string())
                .bind(content_type)
                .bind(data)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn wish_photo(&self, id: &uuid::Uuid) -> Result<Option<(String, Vec<u8>)>, $crate::StoreError> {
                Ok(sqlx::query_as("SELECT content_type, data FROM wish_photos WHERE wish_id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use wishes_sql;
