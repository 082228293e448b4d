//! The full-text index of case text, kept in the database (both backends alike): postings
//! per (term, case) and each case's length. Terms are cut by the domain
//! (`civicgrid_domain::text::terms`); ranking is BM25 computed in one query.

use async_trait::async_trait;
use civicgrid_domain::territory::RegionCode;

use crate::*;

/// A case's text as indexed: its terms with their counts.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDocument {
    pub case_id: uuid::Uuid,
    pub region: RegionCode,
    pub postings: Vec<(String, u32)>,
    /// All terms counted (the document's length).
    pub length: u64,
    /// The case's update time as read: an older read never replaces a newer one.
    pub updated_at: jiff::Timestamp,
}

/// A query term and its weight (its IDF, computed by the caller from [`SearchStore::term_counts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTerm {
    pub term: String,
    pub weight: f64,
}

/// Where the indexer has read to: cases are read in (updated_at, id) order. A rebuild
/// starts a new generation; progress of an older one is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchProgress {
    pub updated_at: i64,
    pub case_id: String,
    pub generation: i64,
}

#[async_trait]
pub trait SearchStore: Send + Sync {
    /// Replaces the index entries of the documents' cases, in one transaction.
    async fn index_documents(
        &self,
        documents: &[SearchDocument],
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Cases changed after `after`, in (updated_at, id) order: ids and update times.
    async fn cases_to_index(
        &self,
        after: &SearchProgress,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, i64)>, StoreError>;
    async fn search_progress(&self) -> Result<SearchProgress, StoreError>;
    /// Moves the progress forward only (another instance may have gone further), and only
    /// within its generation.
    async fn set_search_progress(&self, progress: &SearchProgress) -> Result<(), StoreError>;
    /// Empties the index and starts its progress again as a new generation (a rebuild
    /// follows).
    async fn clear_search_index(&self) -> Result<(), StoreError>;
    /// Documents indexed and their mean length.
    async fn search_statistics(&self) -> Result<(u64, f64), StoreError>;
    /// In how many documents each term occurs.
    async fn term_counts(&self, terms: &[String]) -> Result<Vec<(String, u64)>, StoreError>;
    /// Cases holding every term (with `every_term`; else any), in `within` when given, best
    /// first by BM25 (k1 1.2, b 0.75) with the terms' weights as IDF: at most `limit`
    /// (case, score).
    async fn search(
        &self,
        terms: &[WeightedTerm],
        mean_length: f64,
        within: Option<&RegionCode>,
        every_term: bool,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, f64)>, StoreError>;
}

/// `$from, $from+1, …` for `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Postings per INSERT: three values each, well under either engine's bind limit.
pub(crate) const POSTINGS_PER_INSERT: usize = 500;

macro_rules! search_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::SearchStore for $repo {
            async fn index_documents(
                &self,
                documents: &[$crate::SearchDocument],
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for d in documents {
                    let id = d.case_id.to_string();
                    // Claims the document unless a newer read of the case is indexed already.
                    let claimed = sqlx::query(
                        "INSERT INTO search_documents (case_id, region_code, length, updated_at, indexed_at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (case_id) DO UPDATE SET region_code = excluded.region_code, length = excluded.length,
                             updated_at = excluded.updated_at, indexed_at = excluded.indexed_at
                         WHERE search_documents.updated_at <= excluded.updated_at",
                    )
                    .bind(&id)
                    .bind(d.region.as_str())
                    .bind(i64::try_from(d.length).unwrap_or(i64::MAX))
                    .bind($crate::model::micros(d.updated_at))
                    .bind($crate::model::micros(at))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if claimed == 0 {
                        continue;
                    }
                    sqlx::query("DELETE FROM search_postings WHERE case_id = $1")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    for chunk in d.postings.chunks($crate::search::POSTINGS_PER_INSERT) {
                        let values = (0..chunk.len())
                            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let sql = format!(
                            "INSERT INTO search_postings (term, case_id, hits) VALUES {values}
                             ON CONFLICT (term, case_id) DO UPDATE SET hits = excluded.hits"
                        );
                        let mut q = sqlx::query(&sql);
                        for (term, hits) in chunk {
                            q = q.bind(term).bind(&id).bind(i64::from(*hits));
                        }
                        q.execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn cases_to_index(
                &self,
                after: &$crate::SearchProgress,
                limit: u32,
            ) -> Result<Vec<(uuid::Uuid, i64)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT id, updated_at FROM cases
                     WHERE updated_at > $1 OR (updated_at = $1 AND id > $2)
                     ORDER BY updated_at, id LIMIT $3",
                )
                .bind(after.updated_at)
                .bind(&after.case_id)
                .bind(i64::from(limit.clamp(1, 10_000)))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, at)| Ok(($crate::sql::parse("case id", &id)?, at)))
                    .collect()
            }

            async fn search_progress(&self) -> Result<$crate::SearchProgress, $crate::StoreError> {
                let row: Option<(i64, String, i64)> = sqlx::query_as(
                    "SELECT updated_at, case_id, generation FROM search_progress WHERE name = 'cases'",
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(row
                    .map(|(updated_at, case_id, generation)| $crate::SearchProgress { updated_at, case_id, generation })
                    .unwrap_or_default())
            }

            async fn set_search_progress(&self, p: &$crate::SearchProgress) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO search_progress (name, updated_at, case_id, generation) VALUES ('cases', $1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at, case_id = excluded.case_id
                     WHERE search_progress.generation = excluded.generation
                       AND (search_progress.updated_at < excluded.updated_at
                        OR (search_progress.updated_at = excluded.updated_at AND search_progress.case_id < excluded.case_id))",
                )
                .bind(p.updated_at)
                .bind(&p.case_id)
                .bind(p.generation)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn clear_search_index(&self) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for table in ["search_postings", "search_documents"] {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO search_progress (name, updated_at, case_id, generation) VALUES ('cases', 0, '', 1)
                     ON CONFLICT (name) DO UPDATE SET updated_at = 0, case_id = '', generation = search_progress.generation + 1",
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn search_statistics(&self) -> Result<(u64, f64), $crate::StoreError> {
                let (n, mean): (i64, Option<f64>) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(AVG(length) AS DOUBLE PRECISION) FROM search_documents",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok((u64::try_from(n).unwrap_or(0), mean.unwrap_or(0.0)))
            }

            async fn term_counts(&self, terms: &[String]) -> Result<Vec<(String, u64)>, $crate::StoreError> {
                if terms.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT term, COUNT(*) FROM search_postings WHERE term IN ({}) GROUP BY term",
                    $crate::search::placeholders(1, terms.len())
                );
                let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
                for t in terms {
                    q = q.bind(t);
                }
                let rows = q.fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map(|(t, n)| (t, u64::try_from(n).unwrap_or(0)))
                    .collect())
            }

            async fn search(
                &self,
                terms: &[$crate::WeightedTerm],
                mean_length: f64,
                within: Option<&civicgrid_domain::territory::RegionCode>,
                every_term: bool,
                limit: u32,
            ) -> Result<Vec<(uuid::Uuid, f64)>, $crate::StoreError> {
                if terms.is_empty() {
                    return Ok(Vec::new());
                }
                let n = terms.len();
                // $1..$n the terms, $n+1..$2n their weights, then mean length, region, count, limit.
                let weights = (0..n)
                    .map(|i| format!("WHEN ${} THEN CAST(${} AS DOUBLE PRECISION)", i + 1, n + i + 1))
                    .collect::<Vec<_>>()
                    .join(" ");
                let sql = format!(
                    "SELECT p.case_id, SUM((CASE p.term {weights} ELSE 0 END)
                            * CAST(p.hits AS DOUBLE PRECISION) * 2.2
                            / (CAST(p.hits AS DOUBLE PRECISION) + 1.2 * (0.25 + 0.75 * CAST(d.length AS DOUBLE PRECISION) / CAST(${m} AS DOUBLE PRECISION)))) AS score
                     FROM search_postings p JOIN search_documents d ON d.case_id = p.case_id
                     WHERE p.term IN ({terms}) AND d.region_code LIKE ${r}
                     GROUP BY p.case_id HAVING COUNT(*) >= ${c}
                     ORDER BY score DESC, p.case_id DESC LIMIT ${l}",
                    terms = $crate::search::placeholders(1, n),
                    m = 2 * n + 1,
                    r = 2 * n + 2,
                    c = 2 * n + 3,
                    l = 2 * n + 4,
                );
                let mut q = sqlx::query_as::<_, (String, f64)>(&sql);
                for t in terms {
                    q = q.bind(&t.term);
                }
                for t in terms {
                    q = q.bind(t.weight);
                }
                q = q
                    .bind(mean_length.max(1.0))
                    .bind(format!("{}%", within.map(|r| r.as_str()).unwrap_or("")))
                    .bind(if every_term { i64::try_from(n).unwrap_or(i64::MAX) } else { 1 })
                    .bind(i64::from(limit.clamp(1, 10_000)));
                let rows = q.fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(id, score)| Ok(($crate::sql::parse("case id", &id)?, score)))
                    .collect()
            }
        }
    };
}
pub(crate) use search_sql;
