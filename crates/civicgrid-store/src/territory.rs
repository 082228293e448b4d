//! Territory: regions, grids and beats.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `territory_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use civicgrid_domain::territory::{Beat, Grid, Place, Region, RegionCode};

use crate::*;

#[async_trait]
pub trait TerritoryStore: Send + Sync {
    async fn regions(&self) -> Result<Vec<Region>, StoreError>;
    /// Grids in `within` (a region subtree), or all of them.
    async fn grids(&self, within: Option<&RegionCode>) -> Result<Vec<Grid>, StoreError>;
    async fn beats(&self) -> Result<Vec<Beat>, StoreError>;
    /// The gazetteer, replaced whole in one transaction (an import is all or nothing).
    async fn replace_places(&self, places: &[Place]) -> Result<(), StoreError>;
    /// Every place, by name.
    async fn places(&self) -> Result<Vec<Place>, StoreError>;
    /// Places whose name holds `text`, by name, at most `limit`.
    async fn find_places(&self, text: &str, limit: u32) -> Result<Vec<Place>, StoreError>;
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
            async fn replace_places(&self, places: &[civicgrid_domain::territory::Place]) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query("DELETE FROM places").execute(&mut *tx).await?;
                for p in places {
                    sqlx::query("INSERT INTO places (name, kind, lon, lat, region_code) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&p.name)
                        .bind(p.kind.as_str())
                        .bind(p.lon)
                        .bind(p.lat)
                        .bind(p.region.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn places(&self) -> Result<Vec<civicgrid_domain::territory::Place>, $crate::StoreError> {
                let rows: Vec<(String, String, f64, f64, String)> = sqlx::query_as(
                    "SELECT name, kind, lon, lat, region_code FROM places ORDER BY name, id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::sql::place_from_row).collect()
            }
            async fn find_places(&self, text: &str, limit: u32) -> Result<Vec<civicgrid_domain::territory::Place>, $crate::StoreError> {
                // The text is matched literally: LIKE's wildcards in it are escaped.
                let pattern = format!(
                    "%{}%",
                    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
                );
                let rows: Vec<(String, String, f64, f64, String)> = sqlx::query_as(
                    "SELECT name, kind, lon, lat, region_code FROM places WHERE name LIKE $1 ESCAPE '\\' ORDER BY length(name), name LIMIT $2",
                )
                .bind(pattern)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::sql::place_from_row).collect()
            }
        }
    };
}

pub(crate) use territory_sql;
