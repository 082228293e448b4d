//! Published versions of the power and responsibility lists: numbered per list, each with
//! the day it takes effect and its entries as JSON; never changed once published (triggers
//! on both backends).

use async_trait::async_trait;

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub struct ListVersionRecord {
    pub kind: String,
    pub number: u32,
    pub effective_from: jiff::civil::Date,
    pub published_by: String,
    pub published_at: jiff::Timestamp,
    pub note: String,
    /// The entries as JSON (`[[key, {field: value}], …]`).
    pub entries: String,
}

#[async_trait]
pub trait ListStore: Send + Sync {
    /// Publishes the next version of list `kind` (one more than the last); returns it.
    async fn publish_list_version(
        &self,
        version: &ListVersionRecord,
    ) -> Result<ListVersionRecord, StoreError>;
    /// Every version of a list, oldest first (entries included).
    async fn list_versions(&self, kind: &str) -> Result<Vec<ListVersionRecord>, StoreError>;
}

type Row = (String, i64, String, String, i64, String, String);

pub(crate) fn from_row(r: Row) -> Result<ListVersionRecord, StoreError> {
    Ok(ListVersionRecord {
        kind: r.0,
        number: u32::try_from(r.1).unwrap_or(0),
        effective_from: r
            .2
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("effective_from {}", r.2)))?,
        published_by: r.3,
        published_at: crate::model::from_micros(r.4)?,
        note: r.5,
        entries: r.6,
    })
}

macro_rules! lists_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::ListStore for $repo {
            async fn publish_list_version(&self, v: &$crate::ListVersionRecord) -> Result<$crate::ListVersionRecord, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let (last,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(number), 0) FROM list_versions WHERE kind = $1")
                    .bind(&v.kind)
                    .fetch_one(&mut *tx)
                    .await?;
                let mut published = v.clone();
                published.number = u32::try_from(last + 1).unwrap_or(u32::MAX);
                sqlx::query("INSERT INTO list_versions (kind, number, effective_from, published_by, published_at, note, entries) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&published.kind)
                    .bind(i64::from(published.number))
                    .bind(published.effective_from.to_string())
                    .bind(&published.published_by)
                    .bind($crate::model::micros(published.published_at))
                    .bind(&published.note)
                    .bind(&published.entries)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(published)
            }
            async fn list_versions(&self, kind: &str) -> Result<Vec<$crate::ListVersionRecord>, $crate::StoreError> {
                let rows: Vec<(String, i64, String, String, i64, String, String)> = sqlx::query_as(
                    "SELECT kind, number, effective_from, published_by, published_at, note, entries FROM list_versions WHERE kind = $1 ORDER BY number",
                )
                .bind(kind)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::lists::from_row).collect()
            }
        }
    };
}
pub(crate) use lists_sql;
