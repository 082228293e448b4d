//! The deployment as a whole: engine, migrations, reference-data batches, settings, summary, integrity and partitions.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `store_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;

use crate::*;

#[async_trait]
pub trait Store: Send + Sync {
    /// Which engine this is: "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Applies pending migrations. Also done on connect; idempotent.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Applies every change of the batch in one transaction, or none of them.
    async fn apply(&self, batch: &Batch) -> Result<(), StoreError>;
    async fn summary(&self) -> Result<Summary, StoreError>;
    /// Problems found by the engine's own consistency check (SQLite's integrity and foreign-key
    /// checks) and by civicgrid's invariants (each case's version is the seq of its latest
    /// event). Empty when all is well.
    async fn check_integrity(&self) -> Result<Vec<String>, StoreError>;
    /// Makes sure the store is ready for the cases of `now`'s year and the next: on
    /// PostgreSQL, their partitions of `cases` and `case_events` (others fall into the default
    /// partition); nothing to do on SQLite. Returns how many partitions it made.
    async fn prepare_partitions(&self, now: jiff::Timestamp) -> Result<u64, StoreError>;
    /// A deployment setting (JSON), if set.
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a deployment setting unless it is set already.
    async fn put_setting_if_absent(
        &self,
        key: &str,
        value: &str,
        at: jiff::Timestamp,
        by: &str,
    ) -> Result<(), StoreError>;
    /// Sets a deployment setting, recording when and by whom.
    async fn put_setting(
        &self,
        key: &str,
        value: &str,
        at: jiff::Timestamp,
        by: &str,
    ) -> Result<(), StoreError>;
}

macro_rules! store_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::Store for $repo {
            fn backend(&self) -> &'static str {
                $backend
            }
            async fn migrate(&self) -> Result<(), $crate::StoreError> {
                self.run_migrations().await
            }
            async fn apply(&self, batch: &$crate::Batch) -> Result<(), $crate::StoreError> {
                use $crate::sql::*;
                let at = $crate::model::micros(batch.at);
                let mut tx = self.begin().await?;

                for r in &batch.regions {
                    sqlx::query(
                        "INSERT INTO regions (code, name, level, parent_code) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name",
                    )
                    .bind(r.code.as_str())
                    .bind(&r.name)
                    .bind(r.level().as_str())
                    .bind(r.code.parent().map(String::from))
                    .execute(&mut *tx)
                    .await?;
                }

                for u in &batch.units {
                    sqlx::query(
                        "INSERT INTO units (code, name, kind, region_code) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                           region_code = excluded.region_code",
                    )
                    .bind(&u.code)
                    .bind(&u.name)
                    .bind(u.kind.as_str())
                    .bind(u.region.as_str())
                    .execute(&mut *tx)
                    .await?;
                }

                for g in &batch.grids {
                    let row = grid_row(g);
                    sqlx::query(
                        "INSERT INTO grids (code, name, region_code, geometry, min_lon, min_lat, max_lon, max_lat, area_m2, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, region_code = excluded.region_code,
                           geometry = excluded.geometry, min_lon = excluded.min_lon, min_lat = excluded.min_lat,
                           max_lon = excluded.max_lon, max_lat = excluded.max_lat, area_m2 = excluded.area_m2,
                           updated_at = excluded.updated_at",
                    )
                    .bind(g.code.as_str())
                    .bind(&g.name)
                    .bind(g.region.as_str())
                    .bind(&row.geometry)
                    .bind(row.bbox[0])
                    .bind(row.bbox[1])
                    .bind(row.bbox[2])
                    .bind(row.bbox[3])
                    .bind(row.area_m2)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }

                // Majors first so that minors can reference them.
                let mut categories: Vec<_> = batch.categories.iter().collect();
                categories.sort_by_key(|c| (!c.code.is_major(), c.code.clone()));
                for c in categories {
                    sqlx::query(
                        "INSERT INTO categories (code, parent_code, name_zh, name_en, kind, default_priority, deadlines, attributes,
                           service_type)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en,
                           kind = excluded.kind, default_priority = excluded.default_priority,
                           deadlines = excluded.deadlines, attributes = excluded.attributes,
                           service_type = excluded.service_type",
                    )
                    .bind(c.code.as_str())
                    .bind((!c.code.is_major()).then(|| String::from(c.code.major())))
                    .bind(&c.name_zh)
                    .bind(&c.name_en)
                    .bind(c.kind.as_str())
                    .bind(c.default_priority.as_str())
                    .bind(to_json(&c.deadlines)?)
                    .bind(to_json(&c.attributes)?)
                    .bind(c.service_type.as_str())
                    .execute(&mut *tx)
                    .await?;
                }

                for r in &batch.roles {
                    sqlx::query(
                        "INSERT INTO roles (code, name_zh, name_en) VALUES ($1, $2, $3)
                         ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en",
                    )
                    .bind(&r.code)
                    .bind(&r.name_zh)
                    .bind(&r.name_en)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM role_permissions WHERE role_code = $1")
                        .bind(&r.code)
                        .execute(&mut *tx)
                        .await?;
                    for p in &r.permissions {
                        sqlx::query("INSERT INTO role_permissions (role_code, permission) VALUES ($1, $2)")
                            .bind(&r.code)
                            .bind(p.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                }

                for u in &batch.users {
                    let id = uuid::Uuid::now_v7().to_string();
                    sqlx::query(
                        "INSERT INTO users (id, username, display_name, password_hash, unit_code, active, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&id)
                    .bind(&u.username)
                    .bind(&u.display_name)
                    .bind(&u.password_hash)
                    .bind(u.unit.as_deref())
                    .bind(true)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match $crate::StoreError::from(e) {
                        $crate::StoreError::Conflict(_) => {
                            $crate::StoreError::Conflict(format!("user `{}`", u.username))
                        }
                        other => other,
                    })?;
                    for g in &u.grants {
                        let (kind, code) = scope_columns(&g.scope);
                        sqlx::query(
                            "INSERT INTO role_grants (user_id, role_code, scope_kind, scope_code) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&id)
                        .bind(&g.role)
                        .bind(kind)
                        .bind(code)
                        .execute(&mut *tx)
                        .await?;
                    }
                }

                for (username, g) in &batch.grants {
                    let (kind, code) = scope_columns(&g.scope);
                    let done = sqlx::query(
                        "INSERT INTO role_grants (user_id, role_code, scope_kind, scope_code)
                         SELECT id, $2, $3, $4 FROM users WHERE username = $1
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(username)
                    .bind(&g.role)
                    .bind(kind)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE username = $1")
                            .bind(username)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if exists.is_none() {
                            return Err($crate::StoreError::Invalid(format!("no user `{username}`")));
                        }
                    }
                }

                for b in &batch.beats {
                    sqlx::query(
                        "INSERT INTO beats (code, name, region_code) VALUES ($1, $2, $3)
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, region_code = excluded.region_code",
                    )
                    .bind(&b.code)
                    .bind(&b.name)
                    .bind(b.region.as_str())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM beat_grids WHERE beat_code = $1")
                        .bind(&b.code)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM beat_workers WHERE beat_code = $1")
                        .bind(&b.code)
                        .execute(&mut *tx)
                        .await?;
                    for g in &b.grids {
                        sqlx::query("INSERT INTO beat_grids (beat_code, grid_code, region_code) VALUES ($1, $2, $3)")
                            .bind(&b.code)
                            .bind(g.as_str())
                            .bind(b.region.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                    for w in &b.workers {
                        let done = sqlx::query(
                            "INSERT INTO beat_workers (beat_code, user_id, region_code)
                             SELECT $1, id, $3 FROM users WHERE username = $2",
                        )
                        .bind(&b.code)
                        .bind(w)
                        .bind(b.region.as_str())
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err($crate::StoreError::Invalid(format!(
                                "beat {}: no user `{w}`",
                                b.code
                            )));
                        }
                    }
                }

                if let Some(rules) = &batch.responsibility_list {
                    sqlx::query("DELETE FROM responsibility_rules").execute(&mut *tx).await?;
                    for r in rules {
                        sqlx::query(
                            "INSERT INTO responsibility_rules (line, category_code, region_code, condition_attribute,
                               condition_value, basis, primary_unit, co_handlers, note)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(i64::from(r.line))
                        .bind(r.category.as_str())
                        .bind(r.region.as_str())
                        .bind(r.condition.as_ref().map(|c| c.attribute.clone()))
                        .bind(r.condition.as_ref().map(|c| c.equals.clone()))
                        .bind(r.basis.as_str())
                        .bind(&r.primary)
                        .bind(to_json(&r.co_handlers)?)
                        .bind(&r.note)
                        .execute(&mut *tx)
                        .await?;
                    }
                    // Co-handlers live in a JSON column, so check them here.
                    for r in rules {
                        for co in &r.co_handlers {
                            let found: Option<(String,)> = sqlx::query_as("SELECT code FROM units WHERE code = $1")
                                .bind(co)
                                .fetch_optional(&mut *tx)
                                .await?;
                            if found.is_none() {
                                return Err($crate::StoreError::Invalid(format!(
                                    "responsibility rule {}: no unit `{co}`",
                                    r.line
                                )));
                            }
                        }
                    }
                }

                if let Some(cal) = &batch.calendar {
                    let windows: Vec<String> = cal.windows.iter().map(|w| w.to_string()).collect();
                    sqlx::query(
                        "INSERT INTO calendar_settings (id, time_zone, windows) VALUES (1, $1, $2)
                         ON CONFLICT (id) DO UPDATE SET time_zone = excluded.time_zone, windows = excluded.windows",
                    )
                    .bind(&cal.time_zone)
                    .bind(to_json(&windows)?)
                    .execute(&mut *tx)
                    .await?;
                    for (year, days) in &cal.years {
                        sqlx::query("DELETE FROM calendar_days WHERE day >= $1 AND day <= $2")
                            .bind(format!("{year:04}-01-01"))
                            .bind(format!("{year:04}-12-31"))
                            .execute(&mut *tx)
                            .await?;
                        for d in days {
                            sqlx::query("INSERT INTO calendar_days (day, kind, name) VALUES ($1, $2, $3)")
                                .bind(d.date.to_string())
                                .bind(d.kind.as_str())
                                .bind(&d.name)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }

                tx.commit().await?;
                Ok(())
            }
            async fn summary(&self) -> Result<$crate::Summary, $crate::StoreError> {
                let count = |table: &'static str| {
                    let pool = &self.pool;
                    async move {
                        let sql = match table {
                            "regions" => "SELECT COUNT(*) FROM regions",
                            "grids" => "SELECT COUNT(*) FROM grids",
                            "beats" => "SELECT COUNT(*) FROM beats",
                            "units" => "SELECT COUNT(*) FROM units",
                            "categories" => "SELECT COUNT(*) FROM categories",
                            "rules" => "SELECT COUNT(*) FROM responsibility_rules",
                            "calendar_days" => "SELECT COUNT(*) FROM calendar_days",
                            "roles" => "SELECT COUNT(*) FROM roles",
                            _ => "SELECT COUNT(*) FROM users",
                        };
                        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
                        Ok::<i64, $crate::StoreError>(n)
                    }
                };
                Ok($crate::Summary {
                    regions: count("regions").await?,
                    grids: count("grids").await?,
                    beats: count("beats").await?,
                    units: count("units").await?,
                    categories: count("categories").await?,
                    rules: count("rules").await?,
                    calendar_days: count("calendar_days").await?,
                    roles: count("roles").await?,
                    users: count("users").await?,
                })
            }
            async fn check_integrity(&self) -> Result<Vec<String>, $crate::StoreError> {
                let mut problems = self.engine_check().await?;
                let bad: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT c.id, c.version, (SELECT MAX(e.seq) FROM case_events e WHERE e.case_id = c.id)
                     FROM cases c
                     WHERE c.version <> COALESCE((SELECT MAX(e.seq) FROM case_events e WHERE e.case_id = c.id), -1)",
                )
                .fetch_all(&self.pool)
                .await?;
                for (id, version, last) in bad {
                    problems.push(format!("case {id} is at version {version} but its last event is {last:?}"));
                }
                Ok(problems)
            }
            async fn prepare_partitions(&self, now: jiff::Timestamp) -> Result<u64, $crate::StoreError> {
                if $backend != "postgres" {
                    return Ok(0);
                }
                let year = i32::from(now.to_zoned(jiff::tz::TimeZone::UTC).year());
                let (made,): (i32,) = sqlx::query_as("SELECT civicgrid_add_case_partitions($1, $2)")
                    .bind(year)
                    .bind(year + 1)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(made).unwrap_or(0))
            }
            async fn setting(&self, key: &str) -> Result<Option<String>, $crate::StoreError> {
                let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.0))
            }
            async fn put_setting_if_absent(
                &self,
                key: &str,
                value: &str,
                at: jiff::Timestamp,
                by: &str,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(value)
                .bind($crate::model::micros(at))
                .bind(by)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn put_setting(
                &self,
                key: &str,
                value: &str,
                at: jiff::Timestamp,
                by: &str,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                       updated_by = excluded.updated_by",
                )
                .bind(key)
                .bind(value)
                .bind($crate::model::micros(at))
                .bind(by)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use store_sql;
