//! Territory: regions, grids and beats.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `territory_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use civicgrid_domain::territory::{Beat, Grid, Region, RegionCode};

use crate::*;

#[async_trait]
pub trait TerritoryStore: Send + Sync {
    async fn regions(&self) -> Result<Vec<Region>, StoreError>;
    /// Grids in `within` (a region subtree), or all of them.
    async fn grids(&self, within: Option<&RegionCode>) -> Result<Vec<Grid>, StoreError>;
    async fn beats(&self) -> Result<Vec<Beat>, StoreError>;
}

macro_rules! territory_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::TerritoryStore for $repo {
            async fn regions(&self) -> Result<Vec<civicgrid_domain::territory::Region>, $crate::StoreError> {
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT code, name FROM regions ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map(|(c, n)| $crate::sql::region_from_row(c, n))
                    .collect()
            }
            async fn grids(
                &self,
                within: Option<&civicgrid_domain::territory::RegionCode>,
            ) -> Result<Vec<civicgrid_domain::territory::Grid>, $crate::StoreError> {
                let prefix = format!("{}%", within.map(|r| r.as_str()).unwrap_or(""));
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT code, name, region_code, geometry FROM grids WHERE region_code LIKE $1 ORDER BY code",
                )
                .bind(prefix)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(c, n, r, g)| $crate::sql::grid_from_row(c, n, r, g))
                    .collect()
            }
            async fn beats(&self) -> Result<Vec<civicgrid_domain::territory::Beat>, $crate::StoreError> {
                let beats: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT code, name, region_code FROM beats ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                let grids: Vec<(String, String)> = sqlx::query_as(
                    "SELECT beat_code, grid_code FROM beat_grids ORDER BY beat_code, grid_code",
                )
                .fetch_all(&self.pool)
                .await?;
                let workers: Vec<(String, String)> = sqlx::query_as(
                    "SELECT w.beat_code, u.username FROM beat_workers w JOIN users u ON u.id = w.user_id
                     ORDER BY w.beat_code, u.username",
                )
                .fetch_all(&self.pool)
                .await?;
                $crate::sql::beats_from_rows(beats, grids, workers)
            }
        }
    };
}

pub(crate) use territory_sql;
