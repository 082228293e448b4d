//! Units and the responsibility list.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `routing_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use civicgrid_domain::routing::{ResponsibilityRule, Unit};

use crate::*;

#[async_trait]
pub trait RoutingStore: Send + Sync {
    async fn units(&self) -> Result<Vec<Unit>, StoreError>;
    async fn responsibility_list(&self) -> Result<Vec<ResponsibilityRule>, StoreError>;
}

macro_rules! routing_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::RoutingStore for $repo {
            async fn units(&self) -> Result<Vec<civicgrid_domain::routing::Unit>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String)> =
                    sqlx::query_as("SELECT code, name, kind, region_code FROM units ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map(|(c, n, k, r)| $crate::sql::unit_from_row(c, n, k, r))
                    .collect()
            }
            async fn responsibility_list(
                &self,
            ) -> Result<Vec<civicgrid_domain::routing::ResponsibilityRule>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(i64, String, String, Option<String>, Option<String>, String, String, String, String)> =
                    sqlx::query_as(
                        "SELECT line, category_code, region_code, condition_attribute, condition_value, basis,
                           primary_unit, co_handlers, note FROM responsibility_rules ORDER BY line",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|(l, c, r, ca, cv, b, p, co, n)| $crate::sql::rule_from_row(l, c, r, ca, cv, b, p, co, n))
                    .collect()
            }
        }
    };
}

pub(crate) use routing_sql;
