//! Abuse limits: hits counted per key in fixed windows (wrong passwords per account and per
//! client address, public lookups, Open311 posts). Kept in the database so that every
//! instance counts the same hits; one statement per hit, so concurrent hits are never lost.

use jiff::{SignedDuration, Timestamp};

use crate::StoreError;

/// The counters' table on SQLite, made in their own file when it is opened (PostgreSQL keeps
/// them in an unlogged table of the deployment's schema: migration 0018).
pub(crate) const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS abuse_counters (
    key TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    hits BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS abuse_counters_expiry ON abuse_counters (expires_at);";

/// The hits on a key in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub hits: u64,
    /// When the window ends and the count starts again from zero.
    pub resets_at: Timestamp,
}

#[async_trait::async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts one hit on `key` at `now`: in the running window, or in a new one of length
    /// `window` if the last has ended. Returns the count including this hit.
    async fn count_hit(
        &self,
        key: &str,
        now: Timestamp,
        window: SignedDuration,
    ) -> Result<WindowCount, StoreError>;
    /// The hits on `key` in the window running at `now`; zero if none runs.
    async fn window_count(&self, key: &str, now: Timestamp) -> Result<WindowCount, StoreError>;
    /// Forgets the hits on `key` (a successful sign-in clears its account's failures).
    async fn clear_hits(&self, key: &str) -> Result<(), StoreError>;
    /// Forgets every window that ended at or before `now`; returns how many.
    async fn forget_ended_windows(&self, now: Timestamp) -> Result<u64, StoreError>;
}

pub(crate) fn count_of(hits: i64, expires_at: i64) -> Result<WindowCount, StoreError> {
    Ok(WindowCount {
        hits: u64::try_from(hits).unwrap_or(0),
        resets_at: crate::model::from_micros(expires_at)?,
    })
}

macro_rules! limits_sql {
    ($repo:ty, $pool:ident) => {
        #[async_trait::async_trait]
        impl $crate::limits::LimitStore for $repo {
            async fn count_hit(
                &self,
                key: &str,
                now: jiff::Timestamp,
                window: jiff::SignedDuration,
            ) -> Result<$crate::limits::WindowCount, $crate::StoreError> {
                let now = $crate::model::micros(now);
                let ends = now.saturating_add(window.as_micros().try_into().unwrap_or(i64::MAX));
                // Every SET expression sees the row as it was: an ended window restarts.
                let (hits, expires_at): (i64, i64) = sqlx::query_as(
                    "INSERT INTO abuse_counters (key, started_at, expires_at, hits)
                     VALUES ($1, $2, $3, 1)
                     ON CONFLICT (key) DO UPDATE SET
                       hits = CASE WHEN abuse_counters.expires_at <= $2 THEN 1
                                   ELSE abuse_counters.hits + 1 END,
                       started_at = CASE WHEN abuse_counters.expires_at <= $2 THEN $2
                                         ELSE abuse_counters.started_at END,
                       expires_at = CASE WHEN abuse_counters.expires_at <= $2 THEN $3
                                         ELSE abuse_counters.expires_at END
                     RETURNING hits, expires_at",
                )
                .bind(key)
                .bind(now)
                .bind(ends)
                .fetch_one(&self.$pool)
                .await?;
                $crate::limits::count_of(hits, expires_at)
            }

            async fn window_count(
                &self,
                key: &str,
                now: jiff::Timestamp,
            ) -> Result<$crate::limits::WindowCount, $crate::StoreError> {
                let now = $crate::model::micros(now);
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT hits, expires_at FROM abuse_counters WHERE key = $1 AND expires_at > $2",
                )
                .bind(key)
                .bind(now)
                .fetch_optional(&self.$pool)
                .await?;
                let (hits, expires_at) = row.unwrap_or((0, now));
                $crate::limits::count_of(hits, expires_at)
            }

            async fn clear_hits(&self, key: &str) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM abuse_counters WHERE key = $1")
                    .bind(key)
                    .execute(&self.$pool)
                    .await?;
                Ok(())
            }

            async fn forget_ended_windows(
                &self,
                now: jiff::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                Ok(sqlx::query("DELETE FROM abuse_counters WHERE expires_at <= $1")
                    .bind($crate::model::micros(now))
                    .execute(&self.$pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}

pub(crate) use limits_sql;
