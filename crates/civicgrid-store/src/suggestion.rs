//! Category suggestion models kept in the database, each a version with its evaluation, and
//! the confirmed history they learn from.

use async_trait::async_trait;

use crate::*;

/// A stored model.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryModelRecord {
    pub version: u64,
    pub trained_at: jiff::Timestamp,
    /// `history` (the deployment's confirmed cases) or `file`.
    pub source: String,
    /// Labelled examples it learnt from.
    pub labelled: u64,
    /// Cases with a confirmed category in the deployment when it was trained.
    pub confirmed: u64,
    /// The evaluation as JSON (the domain's `Evaluation`), `{}` when none was possible.
    pub evaluation: String,
    /// The model as JSON (the domain's `CategoryModel`).
    pub model: String,
}

/// A case's text and, when a person confirmed it, its category.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseText {
    pub description: String,
    pub confirmed_category: Option<String>,
}

#[async_trait]
pub trait SuggestionStore: Send + Sync {
    /// Stores a model as the version after the newest; its version.
    async fn save_category_model(&self, record: &CategoryModelRecord) -> Result<u64, StoreError>;
    /// The newest model.
    async fn current_category_model(&self) -> Result<Option<CategoryModelRecord>, StoreError>;
    /// The newest model's version and the confirmed cases when it was trained, without it.
    async fn current_category_model_version(&self) -> Result<Option<(u64, u64)>, StoreError>;
    /// Cases whose category a call-taker confirmed by accepting them.
    async fn confirmed_case_count(&self) -> Result<u64, StoreError>;
    /// The newest `limit` cases' text, with the category where a person confirmed it.
    async fn case_texts(&self, limit: u32) -> Result<Vec<CaseText>, StoreError>;
}

macro_rules! suggestion_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::SuggestionStore for $repo {
            async fn save_category_model(
                &self,
                r: &$crate::CategoryModelRecord,
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let (newest,): (Option<i64>,) =
                    sqlx::query_as("SELECT MAX(version) FROM category_models")
                        .fetch_one(&mut *tx)
                        .await?;
                let version = newest.unwrap_or(0) + 1;
                // Two instances saving at once: the primary key lets one of them win.
                sqlx::query(
                    "INSERT INTO category_models (version, trained_at, source, labelled, confirmed, evaluation, model)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(version)
                .bind($crate::model::micros(r.trained_at))
                .bind(&r.source)
                .bind(i64::try_from(r.labelled).unwrap_or(i64::MAX))
                .bind(i64::try_from(r.confirmed).unwrap_or(i64::MAX))
                .bind(&r.evaluation)
                .bind(&r.model)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(u64::try_from(version).unwrap_or(0))
            }

            async fn current_category_model(
                &self,
            ) -> Result<Option<$crate::CategoryModelRecord>, $crate::StoreError> {
                let row: Option<(i64, i64, String, i64, i64, String, String)> = sqlx::query_as(
                    "SELECT version, trained_at, source, labelled, confirmed, evaluation, model FROM category_models
                     ORDER BY version DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(version, at, source, labelled, confirmed, evaluation, model)| {
                    Ok($crate::CategoryModelRecord {
                        version: u64::try_from(version).unwrap_or(0),
                        trained_at: $crate::model::from_micros(at)?,
                        source,
                        labelled: u64::try_from(labelled).unwrap_or(0),
                        confirmed: u64::try_from(confirmed).unwrap_or(0),
                        evaluation,
                        model,
                    })
                })
                .transpose()
            }

            async fn current_category_model_version(&self) -> Result<Option<(u64, u64)>, $crate::StoreError> {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT version, confirmed FROM category_models ORDER BY version DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(v, l)| (u64::try_from(v).unwrap_or(0), u64::try_from(l).unwrap_or(0))))
            }

            async fn confirmed_case_count(&self) -> Result<u64, $crate::StoreError> {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM cases c WHERE c.category_code IS NOT NULL
                     AND EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.action = 'accept')",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn case_texts(&self, limit: u32) -> Result<Vec<$crate::CaseText>, $crate::StoreError> {
                let rows: Vec<(String, Option<String>, bool)> = sqlx::query_as(
                    "SELECT c.description, c.category_code,
                            EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.action = 'accept')
                     FROM cases c ORDER BY c.id DESC LIMIT $1",
                )
                .bind(i64::from(limit.clamp(1, 200_000)))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(description, category, confirmed)| $crate::CaseText {
                        description,
                        confirmed_category: category.filter(|_| confirmed),
                    })
                    .collect())
            }
        }
    };
}
pub(crate) use suggestion_sql;
