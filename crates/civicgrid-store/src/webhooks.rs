//! Webhook subscriptions and their outbox of deliveries.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `webhooks_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use uuid::Uuid;

use crate::*;

#[async_trait]
pub trait WebhookStore: Send + Sync {
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

macro_rules! webhooks_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::WebhookStore for $repo {
            async fn create_webhook(&self, w: &$crate::Webhook) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO webhooks (id, url, secret, region_code, actions, active, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(w.id.to_string())
                .bind(&w.url)
                .bind(&w.secret)
                .bind(&w.region)
                .bind(&w.actions)
                .bind(w.active)
                .bind(&w.created_by)
                .bind($crate::model::micros(w.created_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn webhooks(&self) -> Result<Vec<($crate::Webhook, $crate::DeliveryCounts)>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, String, bool, String, i64, i64)> = sqlx::query_as(
                    "SELECT id, url, secret, region_code, actions, active, created_by, created_at, delivered FROM webhooks
                     ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?;
                // The outbox holds only pending and failed deliveries (a delivered one is
                // deleted and counted on its subscription), so this stays small.
                let counts: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT webhook_id, status, COUNT(*) FROM webhook_deliveries GROUP BY webhook_id, status",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for (id, url, secret, region, actions, active, created_by, created_at, delivered) in rows {
                    let mut c = $crate::DeliveryCounts { delivered, ..Default::default() };
                    for (w, status, n) in &counts {
                        if *w == id {
                            match status.as_str() {
                                "pending" => c.pending = *n,
                                "failed" => c.failed = *n,
                                _ => {}
                            }
                        }
                    }
                    out.push((
                        $crate::Webhook {
                            id: $crate::sql::parse("webhook id", &id)?,
                            url,
                            secret,
                            region,
                            actions,
                            active,
                            created_by,
                            created_at: $crate::model::from_micros(created_at)?,
                        },
                        c,
                    ));
                }
                Ok(out)
            }
            async fn set_webhook_active(&self, id: &uuid::Uuid, active: bool) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("UPDATE webhooks SET active = $2 WHERE id = $1")
                    .bind(id.to_string())
                    .bind(active)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
            async fn claim_deliveries(
                &self,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::DueDelivery>, $crate::StoreError> {
                // Most rounds find nothing: look before taking the write lock (SQLite has one).
                let due: Option<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM webhook_deliveries
                      WHERE status = 'pending' AND next_attempt_at <= $1 AND leased_until <= $1 LIMIT 1",
                )
                .bind($crate::model::micros(now))
                .fetch_optional(&self.pool)
                .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                // PostgreSQL: instances claiming at once skip each other's rows (SKIP LOCKED),
                // and the pick is materialised first: as `IN (SELECT … LIMIT … FOR UPDATE)` the
                // planner may rescan the subquery and lease more than `limit` rows (the store
                // suite caught 5 leased for a limit of 1). SQLite has one writer: a plain IN.
                let claim = if $backend == "postgres" {
                    "WITH picked AS MATERIALIZED (
                       SELECT webhook_id, case_id, seq FROM webhook_deliveries
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
                     UPDATE webhook_deliveries d SET leased_by = $1, leased_until = $3, attempts = d.attempts + 1
                       FROM picked p
                      WHERE d.webhook_id = p.webhook_id AND d.case_id = p.case_id AND d.seq = p.seq
                     RETURNING d.webhook_id, d.case_id, d.seq"
                } else {
                    "UPDATE webhook_deliveries SET leased_by = $1, leased_until = $3, attempts = attempts + 1
                     WHERE (webhook_id, case_id, seq) IN (
                       SELECT webhook_id, case_id, seq FROM webhook_deliveries
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at LIMIT $4)
                       AND status = 'pending' AND leased_until <= $2
                     RETURNING webhook_id, case_id, seq"
                };
                let claimed: Vec<(String, String, i64)> = sqlx::query_as(claim)
                    .bind(owner)
                    .bind($crate::model::micros(now))
                    .bind($crate::model::micros(until))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                if claimed.is_empty() {
                    return Ok(Vec::new());
                }
                // What was just claimed: this owner's rows with exactly this lease.
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, i64, String, i64, String, Option<String>, String, String, i64, String, String, Option<String>, Option<String>)> =
                    sqlx::query_as(
                        "SELECT d.webhook_id, w.url, w.secret, d.attempts,
                                e.case_id, e.seq, e.action, e.from_status, e.to_status, e.actor, e.at, e.payload,
                                c.region_code, c.grid_code, c.category_code
                           FROM webhook_deliveries d
                           JOIN webhooks w ON w.id = d.webhook_id
                           JOIN case_events e ON e.case_id = d.case_id AND e.seq = d.seq
                           JOIN cases c ON c.id = d.case_id
                          WHERE d.leased_by = $1 AND d.leased_until = $2 AND d.status = 'pending'
                          ORDER BY e.at, e.case_id, e.seq",
                    )
                    .bind(owner)
                    .bind($crate::model::micros(until))
                    .fetch_all(&self.pool)
                    .await?;
                let wanted: std::collections::HashSet<(String, String, i64)> = claimed.into_iter().collect();
                let mut out = Vec::with_capacity(rows.len());
                for (w, url, secret, attempts, c, seq, a, f, t, who, at, p, region_code, grid_code, category_code) in rows {
                    if !wanted.contains(&(w.clone(), c.clone(), seq)) {
                        continue;
                    }
                    out.push($crate::DueDelivery {
                        webhook_id: $crate::sql::parse("webhook id", &w)?,
                        url,
                        secret,
                        attempts: u32::try_from(attempts).map_err($crate::error::corrupt)?,
                        event: $crate::sql::event_from_row(c, seq, a, f, t, who, at, p)?,
                        region_code,
                        grid_code,
                        category_code,
                    });
                }
                Ok(out)
            }
            async fn finish_delivery(
                &self,
                webhook: &uuid::Uuid,
                event: (&uuid::Uuid, u64),
                owner: &str,
                at: jiff::Timestamp,
                outcome: &$crate::DeliveryOutcome,
            ) -> Result<bool, $crate::StoreError> {
                let key = (
                    webhook.to_string(),
                    event.0.to_string(),
                    i64::try_from(event.1).map_err($crate::error::corrupt)?,
                );
                if let $crate::DeliveryOutcome::Delivered = outcome {
                    // Done with: the row goes and its subscription counts it, in one commit.
                    let mut tx = self.begin().await?;
                    let gone = sqlx::query(
                        "DELETE FROM webhook_deliveries
                          WHERE webhook_id = $1 AND case_id = $2 AND seq = $3 AND leased_by = $4 AND status = 'pending'",
                    )
                    .bind(&key.0)
                    .bind(&key.1)
                    .bind(key.2)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?;
                    if gone.rows_affected() != 1 {
                        return Ok(false);
                    }
                    sqlx::query("UPDATE webhooks SET delivered = delivered + 1 WHERE id = $1")
                        .bind(&key.0)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(true);
                }
                let (status, next, error) = match outcome {
                    $crate::DeliveryOutcome::Delivered => ("delivered", None, None),
                    $crate::DeliveryOutcome::Retry { at, error } => ("pending", Some($crate::model::micros(*at)), Some(error.as_str())),
                    $crate::DeliveryOutcome::Failed { error } => ("failed", None, Some(error.as_str())),
                };
                let done_at = (status != "pending").then(|| $crate::model::micros(at));
                let done = sqlx::query(
                    "UPDATE webhook_deliveries
                        SET status = $5, next_attempt_at = COALESCE($6, next_attempt_at), done_at = $7,
                            last_error = $8, leased_by = NULL, leased_until = 0
                      WHERE webhook_id = $1 AND case_id = $2 AND seq = $3 AND leased_by = $4 AND status = 'pending'",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(key.2)
                .bind(owner)
                .bind(status)
                .bind(next)
                .bind(done_at)
                .bind(error)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use webhooks_sql;
