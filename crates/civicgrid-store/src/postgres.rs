//! PostgreSQL, for a district, a city or a province.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

use crate::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgRepository {
    pub(crate) pool: PgPool,
}

impl PgRepository {
    /// A write transaction (the same name as SQLite's, which must take its lock at BEGIN).
    pub(crate) async fn begin(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl PgRepository {
    /// Connects to the database `url` names and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::from)?;
        Self::connect_with(options).await
    }

    /// Connects with every table in `schema`, creating it if needed. Tests use one schema each
    /// so they never see each other's rows.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::Invalid(format!("schema name `{schema}`")));
        }
        let options = PgConnectOptions::from_str(url).map_err(StoreError::from)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        admin
            .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        admin.close().await;
        Self::connect_with(options.options([("search_path", schema)])).await
    }

    async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        // Cases and events are partitioned, and PostgreSQL's default plan cache re-plans a
        // lookup on a partitioned table at every execution (its generic plan is costed over
        // every partition, before run-time pruning, so it never looks cheaper). civicgrid's
        // statements are key lookups and bounded lists, so prepared statements keep their
        // generic plan: planning was most of the server's CPU per request in the load bench.
        // A URL that sets plan_cache_mode in its options keeps its own choice.
        let options = if options
            .get_options()
            .is_some_and(|o| o.contains("plan_cache_mode"))
        {
            options
        } else {
            options.options([("plan_cache_mode", "force_generic_plan")])
        };
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let repo = PgRepository { pool };
        repo.run_migrations().await?;
        Ok(repo)
    }

    pub(crate) async fn run_migrations(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool, for tools and tests that look below the repository.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Drops a schema made by [`PgRepository::connect_in_schema`].
    pub async fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::Invalid(format!("schema name `{schema}`")));
        }
        self.pool
            .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await?;
        Ok(())
    }
}

impl PgRepository {
    /// PostgreSQL enforces its constraints on every write and checksums pages where enabled;
    /// there is no cheap whole-database check to run here, so only civicgrid's own invariants
    /// are checked.
    pub(crate) async fn engine_check(&self) -> Result<Vec<String>, StoreError> {
        Ok(vec![])
    }
}

crate::deployment::store_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::territory::territory_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::catalogue::catalogue_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::routing::routing_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::accounts::accounts_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::cases::cases_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::assessment::assessment_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::jobs::jobs_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::webhooks::webhooks_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::party::party_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::households::households_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::wishes::wishes_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::supervision::supervision_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::accountability::accountability_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::lists::lists_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::notifications::notifications_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::hotline::hotline_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::upstream::upstream_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::emergency::emergency_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::search::search_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::suggestion::suggestion_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::volunteers::volunteers_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::polls::polls_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::consultation::consultation_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::disputes::disputes_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::services::services_sql!(PgRepository, sqlx::Postgres, "postgres");
crate::limits::limits_sql!(PgRepository, pool);
