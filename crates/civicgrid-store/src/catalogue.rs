//! The category catalogue and the working calendar.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `catalogue_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use civicgrid_domain::calendar::WorkingCalendar;
use civicgrid_domain::catalogue::Category;

use crate::*;

#[async_trait]
pub trait CatalogueStore: Send + Sync {
    async fn categories(&self) -> Result<Vec<Category>, StoreError>;
    /// The stored calendar, or `None` before one was configured.
    async fn calendar(&self) -> Result<Option<WorkingCalendar>, StoreError>;
}

macro_rules! catalogue_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::CatalogueStore for $repo {
            async fn categories(&self) -> Result<Vec<civicgrid_domain::catalogue::Category>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, String, String, String, String)> = sqlx::query_as(
                    "SELECT code, name_zh, name_en, kind, default_priority, deadlines, attributes, service_type
                     FROM categories ORDER BY code",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(c, zh, en, k, p, d, a, t)| $crate::sql::category_from_row(c, zh, en, k, p, d, a, t))
                    .collect()
            }
            async fn calendar(
                &self,
            ) -> Result<Option<civicgrid_domain::calendar::WorkingCalendar>, $crate::StoreError> {
                let settings: Option<(String, String)> =
                    sqlx::query_as("SELECT time_zone, windows FROM calendar_settings WHERE id = 1")
                        .fetch_optional(&self.pool)
                        .await?;
                let Some((tz, windows)) = settings else {
                    return Ok(None);
                };
                let days: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT day, kind, name FROM calendar_days ORDER BY day")
                        .fetch_all(&self.pool)
                        .await?;
                $crate::sql::calendar_from_rows(tz, windows, days).map(Some)
            }
        }
    };
}

pub(crate) use catalogue_sql;
