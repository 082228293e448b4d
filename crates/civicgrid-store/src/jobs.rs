//! Job leases: how instances divide background work by scope and round.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `jobs_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;

use crate::*;

#[async_trait]
pub trait JobStore: Send + Sync {
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
    /// How many scopes of `job` are not yet finished in the round that started at `round_start`.
    async fn leases_unfinished(
        &self,
        job: &str,
        round_start: jiff::Timestamp,
    ) -> Result<u64, StoreError>;
    /// Figures for monitoring, read at `now`.
    async fn operations_gauges(&self, now: jiff::Timestamp)
    -> Result<OperationsGauges, StoreError>;
}

macro_rules! jobs_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::JobStore for $repo {
            async fn ensure_leases(&self, job: &str, scopes: &[String]) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for scope in scopes {
                    sqlx::query(
                        "INSERT INTO job_leases (job, scope, region_code) VALUES ($1, $2, $2)
                         ON CONFLICT (job, scope) DO NOTHING",
                    )
                    .bind(job)
                    .bind(scope)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn claim_lease(
                &self,
                job: &str,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
                round_start: jiff::Timestamp,
            ) -> Result<Option<String>, $crate::StoreError> {
                // PostgreSQL: SKIP LOCKED lets instances claiming at once take different scopes
                // without waiting for each other; SQLite serialises writers anyway.
                let skip_locked = if $backend == "postgres" { " FOR UPDATE SKIP LOCKED" } else { "" };
                let sql = format!(
                    "UPDATE job_leases SET owner = $2, leased_until = $4
                     WHERE job = $1 AND scope = (
                       SELECT scope FROM job_leases
                        WHERE job = $1 AND leased_until <= $3 AND finished_at < $5
                        ORDER BY finished_at, scope LIMIT 1{skip_locked})
                       AND leased_until <= $3 AND finished_at < $5
                     RETURNING scope"
                );
                let row: Option<(String,)> = sqlx::query_as(&sql)
                    .bind(job)
                    .bind(owner)
                    .bind($crate::model::micros(now))
                    .bind($crate::model::micros(until))
                    .bind($crate::model::micros(round_start))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|(s,)| s))
            }
            async fn renew_lease(
                &self,
                job: &str,
                scope: &str,
                owner: &str,
                until: jiff::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE job_leases SET leased_until = $4 WHERE job = $1 AND scope = $2 AND owner = $3",
                )
                .bind(job)
                .bind(scope)
                .bind(owner)
                .bind($crate::model::micros(until))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
            async fn finish_lease(
                &self,
                job: &str,
                scope: &str,
                owner: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "UPDATE job_leases SET owner = NULL, leased_until = 0, finished_at = $4
                     WHERE job = $1 AND scope = $2 AND owner = $3",
                )
                .bind(job)
                .bind(scope)
                .bind(owner)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn release_leases(&self, owner: &str) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE job_leases SET owner = NULL, leased_until = 0 WHERE owner = $1",
                )
                .bind(owner)
                .execute(&self.pool)
                .await?;
                let deliveries = sqlx::query(
                    "UPDATE webhook_deliveries SET leased_by = NULL, leased_until = 0 WHERE leased_by = $1",
                )
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() + deliveries.rows_affected())
            }
            async fn leases_unfinished(&self, job: &str, round_start: jiff::Timestamp) -> Result<u64, $crate::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM job_leases WHERE job = $1 AND finished_at < $2")
                    .bind(job)
                    .bind($crate::model::micros(round_start))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
            async fn operations_gauges(&self, now: jiff::Timestamp) -> Result<$crate::OperationsGauges, $crate::StoreError> {
                let cases_by_status: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM cases GROUP BY status ORDER BY status")
                        .fetch_all(&self.pool)
                        .await?;
                let (overdue_open_cases,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM cases WHERE due_at < $1
                       AND status NOT IN ('refused', 'closed', 'evaluated', 'voided', 'merged', 'shelved')",
                )
                .bind($crate::model::micros(now))
                .fetch_one(&self.pool)
                .await?;
                let (kpi_queue,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM kpi_dirty")
                    .fetch_one(&self.pool)
                    .await?;
                let job_rounds: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT job, COUNT(*), MIN(finished_at) FROM job_leases GROUP BY job ORDER BY job",
                )
                .fetch_all(&self.pool)
                .await?;
                // Both counts read partial indexes: delivered rows, the many, are not visited.
                let (webhooks_pending,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                        .fetch_one(&self.pool)
                        .await?;
                let (webhooks_failed,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'failed'")
                        .fetch_one(&self.pool)
                        .await?;
                Ok($crate::OperationsGauges {
                    cases_by_status,
                    overdue_open_cases,
                    kpi_queue,
                    job_rounds,
                    webhooks_pending,
                    webhooks_failed,
                })
            }
        }
    };
}

pub(crate) use jobs_sql;
