//! The Open311 link to an upstream system (the county's GeoReport v2 server): the systems and
//! which cases go to each (by category and region), the accept events waiting to be looked at
//! (kept by a trigger in the event's own transaction), and one link per forwarded case, sent
//! under a lease like webhooks, with the upstream request id and the last status pulled back.

use async_trait::async_trait;
use jiff::Timestamp;
use uuid::Uuid;

use crate::*;

/// An upstream Open311 server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSystem {
    pub name: String,
    /// The GeoReport v2 base, e.g. `https://county.example.cn/open311/v2`.
    pub base_url: String,
    pub jurisdiction_id: Option<String>,
    /// The API key, sealed under the data key (bound to the system's name).
    pub api_key_sealed: String,
    pub active: bool,
    pub created_at: Timestamp,
}

/// Cases of `category_code` in `region_code` (or a region inside it) go to `system` as its
/// `service_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRoute {
    pub system: String,
    pub category_code: String,
    pub region_code: String,
    pub service_code: String,
}

/// A forwarded case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLink {
    pub case_id: Uuid,
    pub system: String,
    pub service_code: String,
    /// pending, sent or failed.
    pub status: String,
    pub request_id: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// The upstream status and its time as last pulled (`open` / `closed`, RFC 3339).
    pub upstream_status: Option<String>,
    pub upstream_updated: Option<String>,
}

/// What a try to send a link came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    Sent { request_id: String },
    Retry { at: Timestamp, error: String },
    Failed { error: String },
}

#[async_trait]
pub trait UpstreamStore: Send + Sync {
    async fn upstream_systems(&self) -> Result<Vec<UpstreamSystem>, StoreError>;
    /// Adds or replaces a system.
    async fn save_upstream_system(&self, s: &UpstreamSystem) -> Result<(), StoreError>;
    async fn upstream_routes(&self) -> Result<Vec<UpstreamRoute>, StoreError>;
    /// Adds or replaces the route of (category, region).
    async fn save_upstream_route(&self, r: &UpstreamRoute) -> Result<(), StoreError>;
    /// Accept events not yet looked at, oldest first.
    async fn waiting_forward_events(&self, limit: u32) -> Result<Vec<(Uuid, u64)>, StoreError>;
    /// Creates the case's link (if any, and if it has none) and forgets the event, at once.
    async fn settle_forward_event(
        &self,
        event: (&Uuid, u64),
        link: Option<(&str, &str)>,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Leases the pending links that are due (each try counted).
    async fn claim_links(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<UpstreamLink>, StoreError>;
    /// Records a try's outcome if `owner` still holds the lease.
    async fn finish_link(
        &self,
        case: &Uuid,
        owner: &str,
        at: Timestamp,
        outcome: &LinkOutcome,
    ) -> Result<bool, StoreError>;
    /// Links in a status (every status when empty), newest first.
    async fn upstream_links(
        &self,
        status: &str,
        limit: u32,
    ) -> Result<Vec<UpstreamLink>, StoreError>;
    /// Records the upstream status last seen.
    async fn note_upstream_status(
        &self,
        case: &Uuid,
        status: &str,
        updated: &str,
    ) -> Result<(), StoreError>;
    /// A failed link goes again now; false if it was not failed.
    async fn retry_link(&self, case: &Uuid, at: Timestamp) -> Result<bool, StoreError>;
}

pub(crate) const LINK_COLUMNS: &str = "case_id, system, service_code, status, request_id, attempts, next_attempt_at, last_error, created_at, sent_at, upstream_status, upstream_updated";

pub(crate) type LinkRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

pub(crate) fn link_from_row(r: LinkRow) -> Result<UpstreamLink, StoreError> {
    Ok(UpstreamLink {
        case_id: r
            .0
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("upstream link case {}", r.0)))?,
        system: r.1,
        service_code: r.2,
        status: r.3,
        request_id: r.4,
        attempts: u32::try_from(r.5).unwrap_or(u32::MAX),
        next_attempt_at: crate::model::from_micros(r.6)?,
        last_error: r.7,
        created_at: crate::model::from_micros(r.8)?,
        sent_at: r.9.map(crate::model::from_micros).transpose()?,
        upstream_status: r.10,
        upstream_updated: r.11,
    })
}

macro_rules! upstream_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::UpstreamStore for $repo {
            async fn upstream_systems(&self) -> Result<Vec<$crate::UpstreamSystem>, $crate::StoreError> {
                let rows: Vec<(String, String, Option<String>, String, bool, i64)> = sqlx::query_as(
                    "SELECT name, base_url, jurisdiction_id, api_key_sealed, active, created_at FROM upstream_systems ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok($crate::UpstreamSystem {
                            name: r.0,
                            base_url: r.1,
                            jurisdiction_id: r.2,
                            api_key_sealed: r.3,
                            active: r.4,
                            created_at: $crate::model::from_micros(r.5)?,
                        })
                    })
                    .collect()
            }

            async fn save_upstream_system(&self, s: &$crate::UpstreamSystem) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO upstream_systems (name, base_url, jurisdiction_id, api_key_sealed, active, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (name) DO UPDATE SET base_url = EXCLUDED.base_url, jurisdiction_id = EXCLUDED.jurisdiction_id,
                       api_key_sealed = EXCLUDED.api_key_sealed, active = EXCLUDED.active",
                )
                .bind(&s.name)
                .bind(&s.base_url)
                .bind(s.jurisdiction_id.as_deref())
                .bind(&s.api_key_sealed)
                .bind(s.active)
                .bind($crate::model::micros(s.created_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn upstream_routes(&self) -> Result<Vec<$crate::UpstreamRoute>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT system, category_code, region_code, service_code FROM upstream_routes ORDER BY category_code, region_code",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::UpstreamRoute {
                        system: r.0,
                        category_code: r.1,
                        region_code: r.2,
                        service_code: r.3,
                    })
                    .collect())
            }

            async fn save_upstream_route(&self, r: &$crate::UpstreamRoute) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO upstream_routes (system, category_code, region_code, service_code) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (category_code, region_code) DO UPDATE SET system = EXCLUDED.system, service_code = EXCLUDED.service_code",
                )
                .bind(&r.system)
                .bind(&r.category_code)
                .bind(&r.region_code)
                .bind(&r.service_code)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn waiting_forward_events(&self, limit: u32) -> Result<Vec<(uuid::Uuid, u64)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT case_id, seq FROM upstream_events ORDER BY at, case_id, seq LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(c, seq)| {
                        let id = c.parse().map_err(|_| $crate::StoreError::Corrupt(format!("upstream event case {c}")))?;
                        Ok((id, u64::try_from(seq).map_err($crate::error::corrupt)?))
                    })
                    .collect()
            }

            async fn settle_forward_event(
                &self,
                event: (&uuid::Uuid, u64),
                link: Option<(&str, &str)>,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let case_id = event.0.to_string();
                let seq = i64::try_from(event.1).map_err($crate::error::corrupt)?;
                let mut tx = self.begin().await?;
                if let Some((system, service_code)) = link {
                    sqlx::query(
                        "INSERT INTO upstream_links (case_id, system, service_code, status, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT (case_id) DO NOTHING",
                    )
                    .bind(&case_id)
                    .bind(system)
                    .bind(service_code)
                    .bind($crate::model::micros(at))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("DELETE FROM upstream_events WHERE case_id = $1 AND seq = $2")
                    .bind(&case_id)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_links(
                &self,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::UpstreamLink>, $crate::StoreError> {
                let claim = if $backend == "postgres" {
                    "WITH picked AS MATERIALIZED (
                       SELECT case_id FROM upstream_links
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at, case_id LIMIT $4 FOR UPDATE SKIP LOCKED)
                     UPDATE upstream_links l SET leased_by = $1, leased_until = $3, attempts = l.attempts + 1
                       FROM picked p WHERE l.case_id = p.case_id
                     RETURNING l.case_id"
                } else {
                    "UPDATE upstream_links SET leased_by = $1, leased_until = $3, attempts = attempts + 1
                      WHERE case_id IN (SELECT case_id FROM upstream_links
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at, case_id LIMIT $4)
                     RETURNING case_id"
                };
                let mut tx = self.begin().await?;
                let ids: Vec<(String,)> = sqlx::query_as(claim)
                    .bind(owner)
                    .bind($crate::model::micros(now))
                    .bind($crate::model::micros(until))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut out = Vec::with_capacity(ids.len());
                for (id,) in ids {
                    let row: $crate::upstream::LinkRow = sqlx::query_as(&format!(
                        "SELECT {} FROM upstream_links WHERE case_id = $1",
                        $crate::upstream::LINK_COLUMNS
                    ))
                    .bind(&id)
                    .fetch_one(&mut *tx)
                    .await?;
                    out.push($crate::upstream::link_from_row(row)?);
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn finish_link(
                &self,
                case: &uuid::Uuid,
                owner: &str,
                at: jiff::Timestamp,
                outcome: &$crate::LinkOutcome,
            ) -> Result<bool, $crate::StoreError> {
                let case_id = case.to_string();
                let done = match outcome {
                    $crate::LinkOutcome::Sent { request_id } => sqlx::query(
                        "UPDATE upstream_links SET status = 'sent', request_id = $3, sent_at = $4, last_error = NULL,
                           leased_by = NULL, leased_until = 0
                         WHERE case_id = $1 AND leased_by = $2",
                    )
                    .bind(&case_id)
                    .bind(owner)
                    .bind(request_id)
                    .bind($crate::model::micros(at)),
                    $crate::LinkOutcome::Retry { at: next, error } => sqlx::query(
                        "UPDATE upstream_links SET next_attempt_at = $3, last_error = $4, leased_by = NULL, leased_until = 0
                         WHERE case_id = $1 AND leased_by = $2",
                    )
                    .bind(&case_id)
                    .bind(owner)
                    .bind($crate::model::micros(*next))
                    .bind(error),
                    $crate::LinkOutcome::Failed { error } => sqlx::query(
                        "UPDATE upstream_links SET status = 'failed', last_error = $3, leased_by = NULL, leased_until = 0
                         WHERE case_id = $1 AND leased_by = $2",
                    )
                    .bind(&case_id)
                    .bind(owner)
                    .bind(error),
                };
                Ok(done.execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn upstream_links(&self, status: &str, limit: u32) -> Result<Vec<$crate::UpstreamLink>, $crate::StoreError> {
                let rows: Vec<$crate::upstream::LinkRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM upstream_links WHERE ($1 = '' OR status = $1) ORDER BY created_at DESC, case_id LIMIT $2",
                    $crate::upstream::LINK_COLUMNS
                ))
                .bind(status)
                .bind(i64::from(limit.clamp(1, 10_000)))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::upstream::link_from_row).collect()
            }

            async fn note_upstream_status(&self, case: &uuid::Uuid, status: &str, updated: &str) -> Result<(), $crate::StoreError> {
                sqlx::query("UPDATE upstream_links SET upstream_status = $2, upstream_updated = $3 WHERE case_id = $1")
                    .bind(case.to_string())
                    .bind(status)
                    .bind(updated)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn retry_link(&self, case: &uuid::Uuid, at: jiff::Timestamp) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE upstream_links SET status = 'pending', next_attempt_at = $2, attempts = 0 WHERE case_id = $1 AND status = 'failed'",
                )
                .bind(case.to_string())
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use upstream_sql;
