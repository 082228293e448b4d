//! What the search indexer reads from the database: the cases changed since a point, in
//! the order it reads them, and the rebuild generation. The index itself is each instance's
//! (tantivy, `civicgrid::search::index`).

use async_trait::async_trait;

use crate::*;

#[async_trait]
pub trait SearchStore: Send + Sync {
    /// Cases changed after `after` (update time in microseconds, case id), in (updated_at,
    /// id) order: ids and update times.
    async fn cases_to_index(
        &self,
        after: (i64, &str),
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, i64)>, StoreError>;
    /// The rebuild generation every instance's index must be of: a random number made on
    /// first use, kept until a rebuild.
    async fn search_generation(&self) -> Result<i64, StoreError>;
    /// Starts a new generation: every instance rebuilds its index. The new generation.
    async fn next_search_generation(&self) -> Result<i64, StoreError>;
}

/// A new generation: 63 random bits of a v7 id.
pub(crate) fn random_generation() -> i64 {
    (uuid::Uuid::now_v7().as_u128() & u128::from(u64::MAX >> 1)) as i64
}

macro_rules! search_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::SearchStore for $repo {
            async fn cases_to_index(
                &self,
                after: (i64, &str),
                limit: u32,
            ) -> Result<Vec<(uuid::Uuid, i64)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT id, updated_at FROM cases
                     WHERE updated_at > $1 OR (updated_at = $1 AND id > $2)
                     ORDER BY updated_at, id LIMIT $3",
                )
                .bind(after.0)
                .bind(after.1)
                .bind(i64::from(limit.clamp(1, 10_000)))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, at)| Ok(($crate::sql::parse("case id", &id)?, at)))
                    .collect()
            }

            async fn search_generation(&self) -> Result<i64, $crate::StoreError> {
                // Made at random on first use, so that an index left from another database
                // (one dropped and made again under the same name) is never taken as current.
                sqlx::query(
                    "INSERT INTO search_progress (name, updated_at, case_id, generation) VALUES ('cases', 0, '', $1)
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind($crate::search::random_generation())
                .execute(&self.pool)
                .await?;
                let (generation,): (i64,) = sqlx::query_as(
                    "SELECT generation FROM search_progress WHERE name = 'cases'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(generation)
            }

            async fn next_search_generation(&self) -> Result<i64, $crate::StoreError> {
                let (generation,): (i64,) = sqlx::query_as(
                    "INSERT INTO search_progress (name, updated_at, case_id, generation) VALUES ('cases', 0, '', $1)
                     ON CONFLICT (name) DO UPDATE SET generation = excluded.generation
                     RETURNING generation",
                )
                .bind($crate::search::random_generation())
                .fetch_one(&self.pool)
                .await?;
                Ok(generation)
            }
        }
    };
}
pub(crate) use search_sql;
