//! The SQL of the repository, written once and compiled for each backend.
//!
//! Every statement here is in the common dialect of SQLite and PostgreSQL. The macro expands
//! into an `impl Repository` for a struct holding a `sqlx::Pool<$db>`.

use std::collections::BTreeMap;
use std::str::FromStr;

use civicgrid_domain::access::{Grant, Permission, Role, Scope};
use civicgrid_domain::calendar::{DayKind, SpecialDay, WorkingCalendar, WorkingWindow};
use civicgrid_domain::catalogue::{Category, CategoryCode};
use civicgrid_domain::routing::{AttributeCondition, ResponsibilityRule, Unit};
use civicgrid_domain::territory::{Beat, Grid, Region, RegionCode};
use geo::{BoundingRect, GeodesicArea};
use jiff::civil::Date;

use crate::StoreError;
use crate::error::corrupt;

pub(crate) fn parse<T: FromStr>(what: &str, s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| corrupt(format!("{what} `{s}`: {e}")))
}

/// The end of the range of codes starting with `prefix`: every code within the region lies in
/// `[prefix, end)`. An index range, unlike `LIKE 'prefix%'`, is usable by PostgreSQL's generic
/// plans (see postgres.rs). Region codes are digits, so the end raises the last digit, carrying
/// past 9s (which orders the same in every collation); any other last character is raised by
/// one code point. None: no end (an empty prefix, or only 9s).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if last == '9' {
            continue;
        }
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(corrupt)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("{what}: {e}")))
}

/// The derived columns stored beside a grid's geometry.
pub(crate) struct GridRow {
    pub geometry: String,
    pub bbox: [f64; 4],
    pub area_m2: f64,
}

pub(crate) fn grid_row(g: &Grid) -> GridRow {
    let bbox = g
        .geometry
        .bounding_rect()
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
        .unwrap_or([0.0; 4]);
    GridRow {
        geometry: crate::multipolygon_to_json(&g.geometry).to_string(),
        bbox,
        area_m2: g.geometry.geodesic_area_unsigned(),
    }
}

pub(crate) fn grid_from_row(
    code: String,
    name: String,
    region: String,
    geometry: String,
) -> Result<Grid, StoreError> {
    let value: serde_json::Value = from_json("grid geometry", &geometry)?;
    Ok(Grid {
        code: parse("grid code", &code)?,
        name,
        region: parse("region code", &region)?,
        geometry: crate::multipolygon_from_json(&value).map_err(corrupt)?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn category_from_row(
    code: String,
    name_zh: String,
    name_en: String,
    kind: String,
    priority: String,
    deadlines: String,
    attributes: String,
    service_type: String,
) -> Result<Category, StoreError> {
    Ok(Category {
        code: parse::<CategoryCode>("category code", &code)?,
        name_zh,
        name_en,
        kind: parse("category kind", &kind)?,
        default_priority: parse("priority", &priority)?,
        service_type: parse("service type", &service_type)?,
        deadlines: from_json("deadlines", &deadlines)?,
        attributes: from_json("attributes", &attributes)?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn rule_from_row(
    line: i64,
    category: String,
    region: String,
    cond_attr: Option<String>,
    cond_value: Option<String>,
    basis: String,
    primary: String,
    co_handlers: String,
    note: String,
) -> Result<ResponsibilityRule, StoreError> {
    Ok(ResponsibilityRule {
        line: u32::try_from(line).map_err(corrupt)?,
        category: parse("category code", &category)?,
        region: parse("region code", &region)?,
        condition: match (cond_attr, cond_value) {
            (Some(attribute), Some(equals)) => Some(AttributeCondition { attribute, equals }),
            _ => None,
        },
        basis: parse("basis", &basis)?,
        primary,
        co_handlers: from_json("co-handlers", &co_handlers)?,
        note,
    })
}

pub(crate) fn calendar_from_rows(
    time_zone: String,
    windows: String,
    days: Vec<(String, String, String)>,
) -> Result<WorkingCalendar, StoreError> {
    let windows: Vec<String> = from_json("working windows", &windows)?;
    let windows = windows
        .iter()
        .map(|w| parse::<WorkingWindow>("working window", w))
        .collect::<Result<Vec<_>, _>>()?;
    let days = days
        .into_iter()
        .map(|(day, kind, name)| {
            Ok(SpecialDay {
                date: parse::<Date>("calendar day", &day)?,
                kind: parse::<DayKind>("day kind", &kind)?,
                name,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    WorkingCalendar::new(&time_zone, windows, days).map_err(corrupt)
}

pub(crate) fn roles_from_rows(
    roles: Vec<(String, String, String)>,
    permissions: Vec<(String, String)>,
) -> Result<Vec<Role>, StoreError> {
    let mut by_role: BTreeMap<String, Role> = roles
        .into_iter()
        .map(|(code, name_zh, name_en)| {
            (
                code.clone(),
                Role {
                    code,
                    name_zh,
                    name_en,
                    permissions: Default::default(),
                },
            )
        })
        .collect();
    for (role, permission) in permissions {
        if let Some(r) = by_role.get_mut(&role) {
            r.permissions
                .insert(parse::<Permission>("permission", &permission)?);
        }
    }
    Ok(by_role.into_values().collect())
}

pub(crate) fn scope_columns(scope: &Scope) -> (&'static str, &str) {
    match scope {
        Scope::Region(r) => ("region", r.as_str()),
        Scope::Unit(u) => ("unit", u.as_str()),
    }
}

pub(crate) fn grant_from_row(
    role: String,
    kind: String,
    code: String,
) -> Result<Grant, StoreError> {
    let scope = match kind.as_str() {
        "region" => Scope::Region(parse::<RegionCode>("scope region", &code)?),
        "unit" => Scope::Unit(code),
        other => return Err(corrupt(format!("scope kind `{other}`"))),
    };
    Ok(Grant { role, scope })
}

pub(crate) fn region_from_row(code: String, name: String) -> Result<Region, StoreError> {
    Ok(Region {
        code: parse("region code", &code)?,
        name,
    })
}

pub(crate) fn unit_from_row(
    code: String,
    name: String,
    kind: String,
    region: String,
) -> Result<Unit, StoreError> {
    Ok(Unit {
        code,
        name,
        kind: parse("unit kind", &kind)?,
        region: parse("region code", &region)?,
    })
}

pub(crate) fn beats_from_rows(
    beats: Vec<(String, String, String)>,
    grids: Vec<(String, String)>,
    workers: Vec<(String, String)>,
) -> Result<Vec<Beat>, StoreError> {
    let mut by_code: BTreeMap<String, Beat> = BTreeMap::new();
    for (code, name, region) in beats {
        by_code.insert(
            code.clone(),
            Beat {
                code,
                name,
                region: parse("region code", &region)?,
                grids: vec![],
                workers: vec![],
            },
        );
    }
    for (beat, grid) in grids {
        if let Some(b) = by_code.get_mut(&beat) {
            b.grids.push(parse("grid code", &grid)?);
        }
    }
    for (beat, username) in workers {
        if let Some(b) = by_code.get_mut(&beat) {
            b.workers.push(username);
        }
    }
    Ok(by_code.into_values().collect())
}

/// The columns of a case row, as read.
pub(crate) struct CaseRow {
    pub id: String,
    pub receipt_code: String,
    pub channel: String,
    pub description: String,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub grid_code: Option<String>,
    pub region_code: String,
    pub category_code: Option<String>,
    pub attributes: String,
    pub priority: String,
    pub reporter_sealed: Option<String>,
    pub routed_units: String,
    pub routing: String,
    pub state: String,
    pub clock: Option<String>,
    pub reported_at: i64,
    pub updated_at: i64,
}

pub(crate) const CASE_COLUMNS: &str = "id, receipt_code, channel, description, address, lon, lat, grid_code, region_code, \
    category_code, attributes, priority, reporter_sealed, routed_units, routing, state, clock, \
    reported_at, updated_at";

pub(crate) fn case_from_row(r: CaseRow) -> Result<civicgrid_domain::case::Case, StoreError> {
    use civicgrid_domain::case::Case;
    let clock = r.clock.map(|c| from_json("stage clock", &c)).transpose()?;
    Ok(Case {
        id: parse("case id", &r.id)?,
        receipt_code: r.receipt_code,
        channel: parse("channel", &r.channel)?,
        description: r.description,
        address: r.address,
        location: r.lon.zip(r.lat),
        grid: r.grid_code.map(|g| parse("grid code", &g)).transpose()?,
        region: parse("region code", &r.region_code)?,
        category: r
            .category_code
            .map(|c| parse("category code", &c))
            .transpose()?,
        attributes: from_json("case attributes", &r.attributes)?,
        priority: parse("priority", &r.priority)?,
        reporter_sealed: r.reporter_sealed,
        routed_units: from_json("routed units", &r.routed_units)?,
        routing: r.routing,
        reported_at: crate::model::from_micros(r.reported_at)?,
        updated_at: crate::model::from_micros(r.updated_at)?,
        clock,
        state: from_json("case state", &r.state)?,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn event_from_row(
    case_id: String,
    seq: i64,
    action: String,
    from: Option<String>,
    to: String,
    actor: String,
    at: i64,
    payload: String,
) -> Result<crate::CaseEvent, StoreError> {
    Ok(crate::CaseEvent {
        case_id: parse("case id", &case_id)?,
        seq: u64::try_from(seq).map_err(corrupt)?,
        action,
        from: from.map(|f| parse("status", &f)).transpose()?,
        to: parse("status", &to)?,
        actor,
        at: crate::model::from_micros(at)?,
        payload: from_json("event payload", &payload)?,
    })
}

/// Inserts a case row; parameters $1–$23.
pub(crate) const NEW_CASE: &str = "INSERT INTO cases (id, receipt_code, channel, description, address, lon, lat, grid_code, region_code,
                       category_code, attributes, priority, reporter_sealed, routing, status, state, version, lead_unit,
                       clock, due_at, reported_at, updated_at, routed_units)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)";

/// The UPDATE of `CHANGE_CASE`, a literal so that `concat!` can build on it.
macro_rules! update_case {
    () => {
        "UPDATE cases SET grid_code = $2, category_code = $3, attributes = $4, priority = $5,
           routing = $6, status = $7, state = $8, version = $9, lead_unit = $10, clock = $11,
           due_at = $12, updated_at = $13, routed_units = $15
         WHERE id = $1 AND version = $14"
    };
}

/// A case's new state, provided it is still at the expected version ($14). The region is not
/// updated: a case's place is fixed at intake (a transfer changes its unit, not its place),
/// which makes it the distribution key.
pub(crate) const CHANGE_CASE: &str = update_case!();

/// PostgreSQL only: a whole case change in one statement, so it needs no BEGIN/COMMIT. The
/// version check of the UPDATE gates the rest: no row updated, nothing written. Units not in
/// the new list are deleted and the others upserted (disjoint rows, as one statement needs).
/// $16 is the units as a JSON array, $17 the events as a JSON array of rows (text parameters
/// bind the same on both engines). Answers the number of cases updated (0 or 1).
pub(crate) const CHANGE_CASE_AT_ONCE: &str = concat!(
    "WITH u AS (",
    update_case!(),
    "
       RETURNING id, region_code),
     gone AS (
       DELETE FROM case_units WHERE case_id = (SELECT id FROM u)
         AND unit_code NOT IN (SELECT jsonb_array_elements_text($16::jsonb))),
     units AS (
       INSERT INTO case_units (case_id, unit_code, lead, region_code)
       SELECT u.id, x.unit, x.n = 1, u.region_code
       FROM u, jsonb_array_elements_text($16::jsonb) WITH ORDINALITY AS x(unit, n)
       ON CONFLICT (case_id, unit_code) DO UPDATE SET lead = EXCLUDED.lead),
     events AS (
       INSERT INTO case_events (case_id, seq, action, from_status, to_status, actor, at, payload, region_code)
       SELECT u.id, e.seq, e.action, e.from_status, e.to_status, e.actor, e.at, e.payload, u.region_code
       FROM u, jsonb_to_recordset($17::jsonb)
         AS e(seq bigint, action text, from_status text, to_status text, actor text, at bigint, payload text))
     SELECT COUNT(*) FROM u"
);

/// PostgreSQL only: `n` case rows and their first events in one statement. Case parameters
/// come first (23 per case), then 8 per event; events take their case's region.
pub(crate) fn new_cases_with_events(n: usize) -> String {
    let mut p = 0;
    let mut next = || {
        p += 1;
        p
    };
    let case_rows: Vec<String> = (0..n)
        .map(|_| {
            format!(
                "({})",
                (0..23)
                    .map(|_| format!("${}", next()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let casts = [
        "text", "bigint", "text", "text", "text", "text", "bigint", "text",
    ];
    let event_rows: Vec<String> = (0..n)
        .map(|_| {
            format!(
                "({})",
                casts
                    .iter()
                    .map(|t| format!("${}::{t}", next()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    format!(
        "WITH c AS (
           INSERT INTO cases (id, receipt_code, channel, description, address, lon, lat, grid_code, region_code,
             category_code, attributes, priority, reporter_sealed, routing, status, state, version, lead_unit,
             clock, due_at, reported_at, updated_at, routed_units)
           VALUES {}
           RETURNING id, region_code),
         ev (case_id, seq, action, from_status, to_status, actor, at, payload) AS (VALUES {})
         INSERT INTO case_events (case_id, seq, action, from_status, to_status, actor, at, payload, region_code)
         SELECT ev.case_id, ev.seq, ev.action, ev.from_status, ev.to_status, ev.actor, ev.at, ev.payload, c.region_code
         FROM ev JOIN c ON c.id = ev.case_id",
        case_rows.join(", "),
        event_rows.join(", ")
    )
}

pub(crate) type AppealRow = (
    String,
    String,
    String,
    String,
    f64,
    String,
    String,
    String,
    String,
    i64,
    String,
);

pub(crate) fn subject(
    kind: &str,
    code: String,
) -> Result<civicgrid_domain::kpi::Subject, StoreError> {
    civicgrid_domain::kpi::Subject::from_kind(kind, code)
        .ok_or_else(|| StoreError::Corrupt(format!("kpi subject kind {kind}")))
}

pub(crate) fn appeal_from_row(r: AppealRow) -> Result<crate::Appeal, StoreError> {
    let (id, kind, code, period, points, reason, status, history, by, at, region) = r;
    Ok(crate::Appeal {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("appeal id {id}")))?,
        subject: subject(&kind, code)?,
        period,
        points,
        reason,
        status: civicgrid_domain::kpi::AppealStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("appeal status {status}")))?,
        history: from_json("appeal history", &history)?,
        submitted_by: by,
        submitted_at: crate::model::from_micros(at)?,
        region,
    })
}

/// Expands into `impl Repository for $repo`, where `$repo` has a field `pool: sqlx::Pool<$db>`.
macro_rules! sql_repository {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::Repository for $repo {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn migrate(&self) -> Result<(), $crate::StoreError> {
                self.run_migrations().await
            }

            async fn apply(&self, batch: &$crate::Batch) -> Result<(), $crate::StoreError> {
                use $crate::sql::*;
                let at = $crate::model::micros(batch.at);
                let mut tx = self.pool.begin().await?;

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

            async fn units(&self) -> Result<Vec<civicgrid_domain::routing::Unit>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String)> =
                    sqlx::query_as("SELECT code, name, kind, region_code FROM units ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map(|(c, n, k, r)| $crate::sql::unit_from_row(c, n, k, r))
                    .collect()
            }

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

            async fn roles(&self) -> Result<Vec<civicgrid_domain::access::Role>, $crate::StoreError> {
                let roles: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT code, name_zh, name_en FROM roles ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                let perms: Vec<(String, String)> =
                    sqlx::query_as("SELECT role_code, permission FROM role_permissions ORDER BY role_code, permission")
                        .fetch_all(&self.pool)
                        .await?;
                $crate::sql::roles_from_rows(roles, perms)
            }

            async fn user(&self, username: &str) -> Result<Option<$crate::User>, $crate::StoreError> {
                Ok(self.load_users(Some(username)).await?.pop())
            }

            async fn users(&self) -> Result<Vec<$crate::User>, $crate::StoreError> {
                self.load_users(None).await
            }

            async fn create_api_key(&self, key: &$crate::ApiKeyRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO api_keys (id, name, prefix, key_hash, created_at, revoked_at, username) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(&key.key_hash)
                .bind($crate::model::micros(key.created_at))
                .bind(key.revoked_at.map($crate::model::micros))
                .bind(key.username.as_deref())
                .execute(&self.pool)
                .await
                .map_err(|e| match $crate::StoreError::from(e) {
                    $crate::StoreError::Conflict(_) => {
                        $crate::StoreError::Conflict(format!("API key named `{}`", key.name))
                    }
                    other => other,
                })?;
                Ok(())
            }

            async fn create_session(
                &self,
                token_hash: &str,
                username: &str,
                created_at: jiff::Timestamp,
                expires_at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(token_hash)
                    .bind(username)
                    .bind($crate::model::micros(created_at))
                    .bind($crate::model::micros(expires_at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session_user(&self, token_hash: &str, now: jiff::Timestamp) -> Result<Option<String>, $crate::StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT username FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                        .bind(token_hash)
                        .bind($crate::model::micros(now))
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(u,)| u))
            }

            async fn delete_session(&self, token_hash: &str) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn api_key_by_hash(
                &self,
                key_hash: &str,
            ) -> Result<Option<$crate::ApiKeyRecord>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
                    "SELECT id, name, prefix, key_hash, created_at, revoked_at, username FROM api_keys WHERE key_hash = $1",
                )
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, name, prefix, key_hash, created, revoked, username)| {
                    Ok($crate::ApiKeyRecord {
                        id,
                        name,
                        prefix,
                        key_hash,
                        username,
                        created_at: $crate::model::from_micros(created)?,
                        revoked_at: revoked.map($crate::model::from_micros).transpose()?,
                    })
                })
                .transpose()
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

            async fn create_appeal(&self, a: &$crate::Appeal) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO kpi_appeals (id, subject_kind, subject_code, period, points, reason, status, history,
                       submitted_by, submitted_at, region_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(a.id.to_string())
                .bind(a.subject.kind())
                .bind(a.subject.code())
                .bind(&a.period)
                .bind(a.points)
                .bind(&a.reason)
                .bind(a.status.as_str())
                .bind(a.history.to_string())
                .bind(&a.submitted_by)
                .bind($crate::model::micros(a.submitted_at))
                .bind(&a.region)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn appeal(&self, id: &uuid::Uuid) -> Result<Option<$crate::Appeal>, $crate::StoreError> {
                let row: Option<$crate::sql::AppealRow> = sqlx::query_as(
                    "SELECT id, subject_kind, subject_code, period, points, reason, status, history, submitted_by, submitted_at,
                            region_code FROM kpi_appeals WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::sql::appeal_from_row).transpose()
            }

            async fn appeals(&self, period: Option<&str>) -> Result<Vec<$crate::Appeal>, $crate::StoreError> {
                let rows: Vec<$crate::sql::AppealRow> = sqlx::query_as(
                    "SELECT id, subject_kind, subject_code, period, points, reason, status, history, submitted_by, submitted_at,
                            region_code FROM kpi_appeals WHERE ($1 IS NULL OR period = $1) ORDER BY submitted_at DESC, id DESC LIMIT 500",
                )
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::sql::appeal_from_row).collect()
            }

            async fn update_appeal(
                &self,
                a: &$crate::Appeal,
                expected: civicgrid_domain::kpi::AppealStatus,
                adjustment: Option<&$crate::ScoreAdjustment>,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query("UPDATE kpi_appeals SET status = $2, history = $3 WHERE id = $1 AND status = $4")
                    .bind(a.id.to_string())
                    .bind(a.status.as_str())
                    .bind(a.history.to_string())
                    .bind(expected.as_str())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Stale { current: 0 });
                }
                if let Some(adj) = adjustment {
                    sqlx::query(
                        "INSERT INTO kpi_adjustments (appeal_id, subject_kind, subject_code, period, points, reason, made_by, made_at,
                           region_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(adj.appeal_id.to_string())
                    .bind(adj.subject.kind())
                    .bind(adj.subject.code())
                    .bind(&adj.period)
                    .bind(adj.points)
                    .bind(&adj.reason)
                    .bind(&adj.made_by)
                    .bind($crate::model::micros(adj.made_at))
                    .bind(&a.region)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn adjustments(&self, period: &str) -> Result<Vec<$crate::ScoreAdjustment>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, f64, String, String, i64)> = sqlx::query_as(
                    "SELECT appeal_id, subject_kind, subject_code, period, points, reason, made_by, made_at
                     FROM kpi_adjustments WHERE period = $1 ORDER BY made_at",
                )
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, kind, code, period, points, reason, by, at)| {
                        Ok($crate::ScoreAdjustment {
                            appeal_id: id.parse().map_err(|_| $crate::StoreError::Corrupt(format!("appeal id {id}")))?,
                            subject: $crate::sql::subject(&kind, code)?,
                            period,
                            points,
                            reason,
                            made_by: by,
                            made_at: $crate::model::from_micros(at)?,
                        })
                    })
                    .collect()
            }

            async fn create_survey(&self, s: &$crate::Survey) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO surveys (id, title, period, units, closes_at, created_by, created_at, region_code)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(s.id.to_string())
                .bind(&s.title)
                .bind(&s.period)
                .bind($crate::sql::to_json(&s.units)?)
                .bind($crate::model::micros(s.closes_at))
                .bind(&s.created_by)
                .bind($crate::model::micros(s.created_at))
                .bind(&s.region)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn survey(&self, id: &uuid::Uuid) -> Result<Option<$crate::Survey>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, String, i64, String, i64, String)> = sqlx::query_as(
                    "SELECT id, title, period, units, closes_at, created_by, created_at, region_code FROM surveys WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, title, period, units, closes, by, at, region)| {
                    Ok($crate::Survey {
                        id: id.parse().map_err(|_| $crate::StoreError::Corrupt(format!("survey id {id}")))?,
                        title,
                        period,
                        units: $crate::sql::from_json("survey units", &units)?,
                        closes_at: $crate::model::from_micros(closes)?,
                        created_by: by,
                        created_at: $crate::model::from_micros(at)?,
                        region,
                    })
                })
                .transpose()
            }

            async fn add_survey_response(
                &self,
                survey: &uuid::Uuid,
                respondent: &str,
                ratings: &std::collections::BTreeMap<String, u8>,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO survey_responses (survey_id, respondent, ratings, at, region_code)
                     VALUES ($1, $2, $3, $4, (SELECT region_code FROM surveys WHERE id = $1))
                     ON CONFLICT (survey_id, respondent) DO NOTHING",
                )
                .bind(survey.to_string())
                .bind(respondent)
                .bind($crate::sql::to_json(ratings)?)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Conflict("this person has answered the survey already".into()));
                }
                Ok(())
            }

            async fn survey_ratings(
                &self,
                period: &str,
            ) -> Result<std::collections::BTreeMap<String, (u64, u64)>, $crate::StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT r.ratings FROM survey_responses r JOIN surveys s ON s.id = r.survey_id WHERE s.period = $1",
                )
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
                let mut out: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
                for (json,) in rows {
                    let ratings: std::collections::BTreeMap<String, u8> = $crate::sql::from_json("survey ratings", &json)?;
                    for (unit, r) in ratings {
                        let e = out.entry(unit).or_default();
                        e.0 += u64::from(r);
                        e.1 += 1;
                    }
                }
                Ok(out)
            }

            async fn setting(&self, key: &str) -> Result<Option<String>, $crate::StoreError> {
                let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn ensure_leases(&self, job: &str, scopes: &[String]) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                for scope in scopes {
                    sqlx::query(
                        "INSERT INTO job_leases (job, scope, region_code) VALUES ($1, $2, $2)
                         ON CONFLICT (job, scope) DO NOTHING",
                    )
                    .bind(job)
                    .bind(scope)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn claim_lease(
                &self,
                job: &str,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
                round_start: jiff::Timestamp,
            ) -> Result<Option<String>, $crate::StoreError> {
                // PostgreSQL: SKIP LOCKED lets instances claiming at once take different scopes
                // without waiting for each other; SQLite serialises writers anyway.
                let skip_locked = if $backend == "postgres" { " FOR UPDATE SKIP LOCKED" } else { "" };
                let sql = format!(
                    "UPDATE job_leases SET owner = $2, leased_until = $4
                     WHERE job = $1 AND scope = (
                       SELECT scope FROM job_leases
                        WHERE job = $1 AND leased_until <= $3 AND finished_at < $5
                        ORDER BY finished_at, scope LIMIT 1{skip_locked})
                       AND leased_until <= $3 AND finished_at < $5
                     RETURNING scope"
                );
                let row: Option<(String,)> = sqlx::query_as(&sql)
                    .bind(job)
                    .bind(owner)
                    .bind($crate::model::micros(now))
                    .bind($crate::model::micros(until))
                    .bind($crate::model::micros(round_start))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|(s,)| s))
            }

            async fn renew_lease(
                &self,
                job: &str,
                scope: &str,
                owner: &str,
                until: jiff::Timestamp,
            ) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE job_leases SET leased_until = $4 WHERE job = $1 AND scope = $2 AND owner = $3",
                )
                .bind(job)
                .bind(scope)
                .bind(owner)
                .bind($crate::model::micros(until))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_lease(
                &self,
                job: &str,
                scope: &str,
                owner: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "UPDATE job_leases SET owner = NULL, leased_until = 0, finished_at = $4
                     WHERE job = $1 AND scope = $2 AND owner = $3",
                )
                .bind(job)
                .bind(scope)
                .bind(owner)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn operations_gauges(&self, now: jiff::Timestamp) -> Result<$crate::OperationsGauges, $crate::StoreError> {
                let cases_by_status: Vec<(String, i64)> =
                    sqlx::query_as("SELECT status, COUNT(*) FROM cases GROUP BY status ORDER BY status")
                        .fetch_all(&self.pool)
                        .await?;
                let (overdue_open_cases,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM cases WHERE due_at < $1
                       AND status NOT IN ('refused', 'closed', 'evaluated', 'voided', 'merged', 'shelved')",
                )
                .bind($crate::model::micros(now))
                .fetch_one(&self.pool)
                .await?;
                let (kpi_queue,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM kpi_dirty")
                    .fetch_one(&self.pool)
                    .await?;
                let job_rounds: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT job, COUNT(*), MIN(finished_at) FROM job_leases GROUP BY job ORDER BY job",
                )
                .fetch_all(&self.pool)
                .await?;
                // Both counts read partial indexes: delivered rows, the many, are not visited.
                let (webhooks_pending,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                        .fetch_one(&self.pool)
                        .await?;
                let (webhooks_failed,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'failed'")
                        .fetch_one(&self.pool)
                        .await?;
                Ok($crate::OperationsGauges {
                    cases_by_status,
                    overdue_open_cases,
                    kpi_queue,
                    job_rounds,
                    webhooks_pending,
                    webhooks_failed,
                })
            }

            async fn leases_unfinished(&self, job: &str, round_start: jiff::Timestamp) -> Result<u64, $crate::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM job_leases WHERE job = $1 AND finished_at < $2")
                    .bind(job)
                    .bind($crate::model::micros(round_start))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn release_leases(&self, owner: &str) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE job_leases SET owner = NULL, leased_until = 0 WHERE owner = $1",
                )
                .bind(owner)
                .execute(&self.pool)
                .await?;
                let deliveries = sqlx::query(
                    "UPDATE webhook_deliveries SET leased_by = NULL, leased_until = 0 WHERE leased_by = $1",
                )
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() + deliveries.rows_affected())
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

            async fn kpi_dirty(&self, limit: u32) -> Result<Vec<(uuid::Uuid, i64)>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT case_id, marked FROM kpi_dirty ORDER BY case_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, m)| {
                        id.parse()
                            .map(|id| (id, m))
                            .map_err(|_| $crate::StoreError::Corrupt(format!("case id {id}")))
                    })
                    .collect()
            }

            async fn apply_kpi(
                &self,
                case_id: &uuid::Uuid,
                marked: i64,
                contributions: &[$crate::KpiEntry],
            ) -> Result<(), $crate::StoreError> {
                use civicgrid_domain::kpi::Counters;
                let id = case_id.to_string();
                let parse = |text: &str| -> Result<Counters, $crate::StoreError> {
                    serde_json::from_str(text).map_err(|e| $crate::StoreError::Corrupt(format!("kpi counters: {e}")))
                };
                let mut tx = self.pool.begin().await?;
                // Two instances counting the same case would both subtract its old
                // contribution: on PostgreSQL the second waits here and then reads what the
                // first wrote (SQLite has one writer; a stale read fails its commit instead).
                if $backend == "postgres" {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                let old: Vec<(String, String, String, String, String)> = sqlx::query_as(
                    "SELECT region_code, subject_kind, subject_code, day, counters FROM kpi_contributions WHERE case_id = $1",
                )
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?;
                // The change to each daily sum: minus what the case gave, plus what it gives now.
                let mut delta: std::collections::BTreeMap<(String, String, String, String), (Counters, Counters)> =
                    std::collections::BTreeMap::new();
                for (region, kind, code, day, counters) in &old {
                    delta.entry((region.clone(), day.clone(), kind.clone(), code.clone())).or_default().1 += &parse(counters)?;
                }
                for e in contributions {
                    delta
                        .entry((e.region.clone(), e.day.clone(), e.subject.kind().to_owned(), e.subject.code().to_owned()))
                        .or_default()
                        .0 += &e.counters;
                }
                for ((region, day, kind, code), (plus, minus)) in &delta {
                    if plus == minus {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO kpi_daily (region_code, day, subject_kind, subject_code, counters) VALUES ($1, $2, $3, $4, '{}')
                         ON CONFLICT (region_code, day, subject_kind, subject_code) DO NOTHING",
                    )
                    .bind(region).bind(day).bind(kind).bind(code)
                    .execute(&mut *tx)
                    .await?;
                    let lock = if $backend == "postgres" { " FOR UPDATE" } else { "" };
                    let (current,): (String,) = sqlx::query_as(&format!(
                        "SELECT counters FROM kpi_daily WHERE region_code = $1 AND day = $2 AND subject_kind = $3 AND subject_code = $4{lock}"
                    ))
                    .bind(region).bind(day).bind(kind).bind(code)
                    .fetch_one(&mut *tx)
                    .await?;
                    let mut sum: Counters = if current == "{}" { Counters::default() } else { parse(&current)? };
                    sum -= minus;
                    sum += plus;
                    if sum.is_zero() {
                        sqlx::query("DELETE FROM kpi_daily WHERE region_code = $1 AND day = $2 AND subject_kind = $3 AND subject_code = $4")
                            .bind(region).bind(day).bind(kind).bind(code)
                            .execute(&mut *tx)
                            .await?;
                    } else {
                        sqlx::query("UPDATE kpi_daily SET counters = $5 WHERE region_code = $1 AND day = $2 AND subject_kind = $3 AND subject_code = $4")
                            .bind(region).bind(day).bind(kind).bind(code)
                            .bind($crate::sql::to_json(&sum)?)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                sqlx::query("DELETE FROM kpi_contributions WHERE case_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                for e in contributions {
                    sqlx::query(
                        "INSERT INTO kpi_contributions (case_id, region_code, subject_kind, subject_code, day, counters)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&id)
                    .bind(&e.region)
                    .bind(e.subject.kind())
                    .bind(e.subject.code())
                    .bind(&e.day)
                    .bind($crate::sql::to_json(&e.counters)?)
                    .execute(&mut *tx)
                    .await?;
                }
                // Cleared only if no event arrived since the events this was computed from.
                sqlx::query("DELETE FROM kpi_dirty WHERE case_id = $1 AND marked = $2")
                    .bind(&id)
                    .bind(marked)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn kpi_sum(
                &self,
                region_prefix: &str,
                from: &str,
                to: &str,
            ) -> Result<Vec<(civicgrid_domain::kpi::Subject, civicgrid_domain::kpi::Counters)>, $crate::StoreError> {
                use civicgrid_domain::kpi::{Counters, Subject};
                let end = $crate::sql::prefix_end(region_prefix);
                let sql = format!(
                    "SELECT subject_kind, subject_code, counters FROM kpi_daily
                     WHERE region_code >= $1 {} AND day >= $2 AND day < $3",
                    if end.is_some() { "AND region_code < $4" } else { "" }
                );
                let mut q = sqlx::query_as(&sql).bind(region_prefix).bind(from).bind(to);
                if let Some(end) = end {
                    q = q.bind(end);
                }
                let rows: Vec<(String, String, String)> = q.fetch_all(&self.pool).await?;
                let mut sums: std::collections::BTreeMap<Subject, Counters> = std::collections::BTreeMap::new();
                for (kind, code, counters) in rows {
                    let subject = $crate::sql::subject(&kind, code)?;
                    let c: Counters = serde_json::from_str(&counters)
                        .map_err(|e| $crate::StoreError::Corrupt(format!("kpi counters: {e}")))?;
                    *sums.entry(subject).or_default() += &c;
                }
                Ok(sums.into_iter().collect())
            }

            async fn create_case(
                &self,
                case: &civicgrid_domain::case::Case,
                event: &$crate::CaseEvent,
            ) -> Result<(), $crate::StoreError> {
                self.create_cases(&[(case.clone(), event.clone())]).await
            }

            async fn create_cases(
                &self,
                items: &[(civicgrid_domain::case::Case, $crate::CaseEvent)],
            ) -> Result<(), $crate::StoreError> {
                let items: Vec<_> = items.iter().map(|(c, e)| (c, e)).collect();
                self.create_new_cases(&items).await
            }

            async fn write_cases(
                &self,
                writes: &[$crate::CaseWrite],
            ) -> Result<Vec<Result<(), $crate::StoreError>>, $crate::StoreError> {
                use $crate::CaseWrite;
                let new: Vec<_> = writes
                    .iter()
                    .filter_map(|w| match w {
                        CaseWrite::New { case, event } => Some((case, event)),
                        CaseWrite::Change { .. } => None,
                    })
                    .collect();
                if new.len() == writes.len() {
                    self.create_new_cases(&new).await?;
                    return Ok(writes.iter().map(|_| Ok(())).collect());
                }
                if let [CaseWrite::Change { case, expected_version, events }] = writes
                    && $backend == "postgres"
                {
                    // PostgreSQL makes a change in one statement, atomic by itself.
                    let mut conn = self.pool.acquire().await?;
                    return Ok(vec![Self::change_in(&mut conn, case, *expected_version, events, None).await]);
                }
                let mut tx = self.pool.begin().await?;
                // New cases first, together: a change in the batch cannot be to one of them (a
                // change is made to a case read after its report was committed).
                Self::insert_cases(&mut tx, &new).await?;
                let mut answers = Vec::with_capacity(writes.len());
                for w in writes {
                    match w {
                        CaseWrite::New { .. } => answers.push(Ok(())),
                        CaseWrite::Change { case, expected_version, events } => {
                            // A stale version is found before anything is written, so it
                            // leaves the transaction clean for the others.
                            match Self::change_in(&mut tx, case, *expected_version, events, None).await {
                                Err(e @ ($crate::StoreError::Stale { .. } | $crate::StoreError::NotFound(_))) => {
                                    answers.push(Err(e))
                                }
                                other => answers.push(Ok(other?)),
                            }
                        }
                    }
                }
                tx.commit().await?;
                Ok(answers)
            }

            async fn record_change(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                events: &[$crate::CaseEvent],
            ) -> Result<(), $crate::StoreError> {
                if events.is_empty() {
                    return Err($crate::StoreError::Invalid("a change needs at least one event".into()));
                }
                self.change_case(case, expected_version, events, None).await
            }

            async fn attach_photo(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                event: &$crate::CaseEvent,
                photo: &$crate::Photo,
            ) -> Result<(), $crate::StoreError> {
                self.change_case(case, expected_version, std::slice::from_ref(event), Some(photo)).await
            }

            async fn photo(
                &self,
                case: &uuid::Uuid,
                sha256: &str,
            ) -> Result<Option<$crate::Photo>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, Vec<u8>, String, i64)> = sqlx::query_as(
                    "SELECT sha256, stage, content_type, data, added_by, added_at FROM case_photos
                     WHERE case_id = $1 AND sha256 = $2",
                )
                .bind(case.to_string())
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(sha256, stage, content_type, data, added_by, at)| {
                    Ok($crate::Photo { sha256, stage, content_type, data, added_by, added_at: $crate::model::from_micros(at)? })
                })
                .transpose()
            }

            async fn case(&self, id: &uuid::Uuid) -> Result<Option<civicgrid_domain::case::Case>, $crate::StoreError> {
                let sql = format!("SELECT {} FROM cases WHERE id = $1", $crate::sql::CASE_COLUMNS);
                let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await?;
                row.map(|r| Self::case_row(&r)).transpose()
            }

            async fn case_by_receipt(&self, receipt_code: &str) -> Result<Option<civicgrid_domain::case::Case>, $crate::StoreError> {
                // PostgreSQL: the receipt names the case id, so only its partition is read.
                let sql = if $backend == "postgres" {
                    format!(
                        "SELECT {} FROM cases WHERE id = (SELECT case_id FROM case_receipts WHERE receipt_code = $1)",
                        $crate::sql::CASE_COLUMNS
                    )
                } else {
                    format!("SELECT {} FROM cases WHERE receipt_code = $1", $crate::sql::CASE_COLUMNS)
                };
                let row = sqlx::query(&sql).bind(receipt_code).fetch_optional(&self.pool).await?;
                row.map(|r| Self::case_row(&r)).transpose()
            }

            async fn case_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::CaseEvent>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, i64, String, Option<String>, String, String, i64, String)> = sqlx::query_as(
                    "SELECT case_id, seq, action, from_status, to_status, actor, at, payload FROM case_events
                     WHERE case_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(c, s, a, f, t, who, at, p)| $crate::sql::event_from_row(c, s, a, f, t, who, at, p))
                    .collect()
            }

            async fn record_personal_data_read(
                &self,
                case: &civicgrid_domain::case::Case,
                actor: &str,
                what: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO personal_data_reads (at, actor, case_id, what, region_code) VALUES ($1, $2, $3, $4, $5)")
                    .bind($crate::model::micros(at))
                    .bind(actor)
                    .bind(case.id.to_string())
                    .bind(what)
                    .bind(case.region.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn personal_data_reads(
                &self,
                case: &uuid::Uuid,
            ) -> Result<Vec<(jiff::Timestamp, String, String)>, $crate::StoreError> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT at, actor, what FROM personal_data_reads WHERE case_id = $1 ORDER BY at",
                )
                .bind(case.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(at, actor, what)| Ok(($crate::model::from_micros(at)?, actor, what)))
                    .collect()
            }

            async fn events_since(
                &self,
                actions: &[&str],
                within: Option<&civicgrid_domain::territory::RegionCode>,
                since: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::CaseEvent>, $crate::StoreError> {
                // The action list is short and fixed by the caller; one query per action keeps
                // the SQL identical on both engines (no array binding in SQLite).
                let mut out = Vec::new();
                for action in actions {
                    #[allow(clippy::type_complexity)]
                    let rows: Vec<(String, i64, String, Option<String>, String, String, i64, String)> = sqlx::query_as(
                        "SELECT case_id, seq, action, from_status, to_status, actor, at, payload FROM case_events
                         WHERE action = $1 AND region_code LIKE $2 AND at >= $3 ORDER BY at, case_id, seq LIMIT $4",
                    )
                    .bind(*action)
                    .bind(format!("{}%", within.map(|r| r.as_str()).unwrap_or("")))
                    .bind($crate::model::micros(since))
                    .bind(i64::from(limit.clamp(1, 1000)))
                    .fetch_all(&self.pool)
                    .await?;
                    for (c, s, a, f, t, who, at, p) in rows {
                        out.push($crate::sql::event_from_row(c, s, a, f, t, who, at, p)?);
                    }
                }
                out.sort_by(|a, b| a.at.cmp(&b.at).then(a.case_id.cmp(&b.case_id)).then(a.seq.cmp(&b.seq)));
                out.truncate(limit.clamp(1, 1000) as usize);
                Ok(out)
            }

            async fn cases(&self, f: &$crate::CaseFilter) -> Result<Vec<civicgrid_domain::case::Case>, $crate::StoreError> {
                // Only the filters in use become conditions, so that the planner can pick the
                // index that fits (a queue of one grid walks `cases_grid`, not every case of
                // the status). Values are always bound, never written into the SQL.
                enum Arg { Text(String), Int(i64) }
                const CLOSED: &str = "('refused', 'closed', 'evaluated', 'voided', 'merged', 'shelved')";
                let mut conditions: Vec<String> = Vec::new();
                let mut args: Vec<Arg> = Vec::new();
                let bind = |args: &mut Vec<Arg>, a: Arg| {
                    args.push(a);
                    format!("${}", args.len())
                };
                if let Some(s) = f.status {
                    let p = bind(&mut args, Arg::Text(s.as_str().to_owned()));
                    conditions.push(format!("c.status = {p}"));
                }
                if let Some(g) = &f.grid {
                    let p = bind(&mut args, Arg::Text(g.clone()));
                    conditions.push(format!("c.grid_code = {p}"));
                }
                if let Some(u) = &f.unit {
                    let p = bind(&mut args, Arg::Text(u.clone()));
                    conditions.push(format!(
                        "EXISTS (SELECT 1 FROM case_units u WHERE u.case_id = c.id AND u.unit_code = {p})"
                    ));
                }
                if let Some(c) = &f.category {
                    let p = bind(&mut args, Arg::Text(c.clone()));
                    conditions.push(format!("c.category_code = {p}"));
                }
                if let Some(w) = &f.within {
                    let p = bind(&mut args, Arg::Text(w.as_str().to_owned()));
                    conditions.push(format!("c.region_code >= {p}"));
                    if let Some(end) = $crate::sql::prefix_end(w.as_str()) {
                        let p = bind(&mut args, Arg::Text(end));
                        conditions.push(format!("c.region_code < {p}"));
                    }
                }
                if let Some(r) = &f.region {
                    let p = bind(&mut args, Arg::Text(r.clone()));
                    conditions.push(format!("c.region_code = {p}"));
                }
                if let Some(t) = f.overdue_at {
                    let p = bind(&mut args, Arg::Int($crate::model::micros(t)));
                    conditions.push(format!("c.due_at < {p} AND c.status NOT IN {CLOSED}"));
                }
                if let Some(t) = f.reported_from {
                    let p = bind(&mut args, Arg::Int($crate::model::micros(t)));
                    conditions.push(format!("c.reported_at >= {p}"));
                }
                if let Some(t) = f.reported_to {
                    let p = bind(&mut args, Arg::Int($crate::model::micros(t)));
                    conditions.push(format!("c.reported_at < {p}"));
                }
                if let Some(b) = f.before {
                    let p = bind(&mut args, Arg::Text(b.to_string()));
                    conditions.push(format!("c.id < {p}"));
                }
                if f.running_clock {
                    conditions.push(format!("c.due_at IS NOT NULL AND c.status NOT IN {CLOSED}"));
                }
                if !f.statuses.is_empty() {
                    let ps: Vec<String> = f
                        .statuses
                        .iter()
                        .map(|s| bind(&mut args, Arg::Text(s.as_str().to_owned())))
                        .collect();
                    conditions.push(format!("c.status IN ({})", ps.join(", ")));
                }
                if !f.categories.is_empty() {
                    let ps: Vec<String> = f
                        .categories
                        .iter()
                        .map(|c| bind(&mut args, Arg::Text(c.clone())))
                        .collect();
                    conditions.push(format!("c.category_code IN ({})", ps.join(", ")));
                }
                if !f.open311_batch_categories.is_empty() {
                    let ps: Vec<String> = f
                        .open311_batch_categories
                        .iter()
                        .map(|c| bind(&mut args, Arg::Text(c.clone())))
                        .collect();
                    conditions.push(format!(
                        "NOT (c.channel = 'open311' AND c.status = 'reported' AND c.category_code IN ({}))",
                        ps.join(", ")
                    ));
                }
                let limit = bind(&mut args, Arg::Int(i64::from(f.limit.clamp(1, 1000))));
                let offset = bind(&mut args, Arg::Int(i64::from(f.offset)));
                let sql = format!(
                    "SELECT {} FROM cases c {} ORDER BY c.id DESC LIMIT {limit} OFFSET {offset}",
                    $crate::sql::CASE_COLUMNS,
                    if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) }
                );
                let mut q = sqlx::query(&sql);
                for a in args {
                    q = match a {
                        Arg::Text(t) => q.bind(t),
                        Arg::Int(i) => q.bind(i),
                    };
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter().map(Self::case_row).collect()
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

            async fn create_webhook(&self, w: &$crate::Webhook) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO webhooks (id, url, secret, region_code, actions, active, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(w.id.to_string())
                .bind(&w.url)
                .bind(&w.secret)
                .bind(&w.region)
                .bind(&w.actions)
                .bind(w.active)
                .bind(&w.created_by)
                .bind($crate::model::micros(w.created_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn webhooks(&self) -> Result<Vec<($crate::Webhook, $crate::DeliveryCounts)>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, String, bool, String, i64, i64)> = sqlx::query_as(
                    "SELECT id, url, secret, region_code, actions, active, created_by, created_at, delivered FROM webhooks
                     ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?;
                // The outbox holds only pending and failed deliveries (a delivered one is
                // deleted and counted on its subscription), so this stays small.
                let counts: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT webhook_id, status, COUNT(*) FROM webhook_deliveries GROUP BY webhook_id, status",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for (id, url, secret, region, actions, active, created_by, created_at, delivered) in rows {
                    let mut c = $crate::DeliveryCounts { delivered, ..Default::default() };
                    for (w, status, n) in &counts {
                        if *w == id {
                            match status.as_str() {
                                "pending" => c.pending = *n,
                                "failed" => c.failed = *n,
                                _ => {}
                            }
                        }
                    }
                    out.push((
                        $crate::Webhook {
                            id: $crate::sql::parse("webhook id", &id)?,
                            url,
                            secret,
                            region,
                            actions,
                            active,
                            created_by,
                            created_at: $crate::model::from_micros(created_at)?,
                        },
                        c,
                    ));
                }
                Ok(out)
            }

            async fn set_webhook_active(&self, id: &uuid::Uuid, active: bool) -> Result<bool, $crate::StoreError> {
                let done = sqlx::query("UPDATE webhooks SET active = $2 WHERE id = $1")
                    .bind(id.to_string())
                    .bind(active)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_deliveries(
                &self,
                owner: &str,
                now: jiff::Timestamp,
                until: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::DueDelivery>, $crate::StoreError> {
                // Most rounds find nothing: look before taking the write lock (SQLite has one).
                let due: Option<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM webhook_deliveries
                      WHERE status = 'pending' AND next_attempt_at <= $1 AND leased_until <= $1 LIMIT 1",
                )
                .bind($crate::model::micros(now))
                .fetch_optional(&self.pool)
                .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let skip_locked = if $backend == "postgres" { " FOR UPDATE SKIP LOCKED" } else { "" };
                let claim = format!(
                    "UPDATE webhook_deliveries SET leased_by = $1, leased_until = $3, attempts = attempts + 1
                     WHERE (webhook_id, case_id, seq) IN (
                       SELECT webhook_id, case_id, seq FROM webhook_deliveries
                        WHERE status = 'pending' AND next_attempt_at <= $2 AND leased_until <= $2
                        ORDER BY next_attempt_at LIMIT $4{skip_locked})
                       AND status = 'pending' AND leased_until <= $2
                     RETURNING webhook_id, case_id, seq"
                );
                let claimed: Vec<(String, String, i64)> = sqlx::query_as(&claim)
                    .bind(owner)
                    .bind($crate::model::micros(now))
                    .bind($crate::model::micros(until))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                if claimed.is_empty() {
                    return Ok(Vec::new());
                }
                // What was just claimed: this owner's rows with exactly this lease.
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, i64, String, i64, String, Option<String>, String, String, i64, String, String, Option<String>, Option<String>)> =
                    sqlx::query_as(
                        "SELECT d.webhook_id, w.url, w.secret, d.attempts,
                                e.case_id, e.seq, e.action, e.from_status, e.to_status, e.actor, e.at, e.payload,
                                c.region_code, c.grid_code, c.category_code
                           FROM webhook_deliveries d
                           JOIN webhooks w ON w.id = d.webhook_id
                           JOIN case_events e ON e.case_id = d.case_id AND e.seq = d.seq
                           JOIN cases c ON c.id = d.case_id
                          WHERE d.leased_by = $1 AND d.leased_until = $2 AND d.status = 'pending'
                          ORDER BY e.at, e.case_id, e.seq",
                    )
                    .bind(owner)
                    .bind($crate::model::micros(until))
                    .fetch_all(&self.pool)
                    .await?;
                let wanted: std::collections::HashSet<(String, String, i64)> = claimed.into_iter().collect();
                let mut out = Vec::with_capacity(rows.len());
                for (w, url, secret, attempts, c, seq, a, f, t, who, at, p, region_code, grid_code, category_code) in rows {
                    if !wanted.contains(&(w.clone(), c.clone(), seq)) {
                        continue;
                    }
                    out.push($crate::DueDelivery {
                        webhook_id: $crate::sql::parse("webhook id", &w)?,
                        url,
                        secret,
                        attempts: u32::try_from(attempts).map_err($crate::error::corrupt)?,
                        event: $crate::sql::event_from_row(c, seq, a, f, t, who, at, p)?,
                        region_code,
                        grid_code,
                        category_code,
                    });
                }
                Ok(out)
            }

            async fn finish_delivery(
                &self,
                webhook: &uuid::Uuid,
                event: (&uuid::Uuid, u64),
                owner: &str,
                at: jiff::Timestamp,
                outcome: &$crate::DeliveryOutcome,
            ) -> Result<bool, $crate::StoreError> {
                let key = (
                    webhook.to_string(),
                    event.0.to_string(),
                    i64::try_from(event.1).map_err($crate::error::corrupt)?,
                );
                if let $crate::DeliveryOutcome::Delivered = outcome {
                    // Done with: the row goes and its subscription counts it, in one commit.
                    let mut tx = self.pool.begin().await?;
                    let gone = sqlx::query(
                        "DELETE FROM webhook_deliveries
                          WHERE webhook_id = $1 AND case_id = $2 AND seq = $3 AND leased_by = $4 AND status = 'pending'",
                    )
                    .bind(&key.0)
                    .bind(&key.1)
                    .bind(key.2)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?;
                    if gone.rows_affected() != 1 {
                        return Ok(false);
                    }
                    sqlx::query("UPDATE webhooks SET delivered = delivered + 1 WHERE id = $1")
                        .bind(&key.0)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(true);
                }
                let (status, next, error) = match outcome {
                    $crate::DeliveryOutcome::Delivered => ("delivered", None, None),
                    $crate::DeliveryOutcome::Retry { at, error } => ("pending", Some($crate::model::micros(*at)), Some(error.as_str())),
                    $crate::DeliveryOutcome::Failed { error } => ("failed", None, Some(error.as_str())),
                };
                let done_at = (status != "pending").then(|| $crate::model::micros(at));
                let done = sqlx::query(
                    "UPDATE webhook_deliveries
                        SET status = $5, next_attempt_at = COALESCE($6, next_attempt_at), done_at = $7,
                            last_error = $8, leased_by = NULL, leased_until = 0
                      WHERE webhook_id = $1 AND case_id = $2 AND seq = $3 AND leased_by = $4 AND status = 'pending'",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(key.2)
                .bind(owner)
                .bind(status)
                .bind(next)
                .bind(done_at)
                .bind(error)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }

        impl $repo {
            /// A case change and its event (and a photo, if any) in one transaction, provided
            /// the stored version is still the expected one.
            async fn change_case(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                events: &[$crate::CaseEvent],
                photo: Option<&$crate::Photo>,
            ) -> Result<(), $crate::StoreError> {
                if events.is_empty() {
                    return Err($crate::StoreError::Invalid("a change needs at least one event".into()));
                }
                let mut tx = self.pool.begin().await?;
                Self::change_in(&mut tx, case, expected_version, events, photo).await?;
                tx.commit().await?;
                Ok(())
            }

            /// New cases with their first events, all or none.
            async fn create_new_cases(
                &self,
                items: &[(&civicgrid_domain::case::Case, &$crate::CaseEvent)],
            ) -> Result<(), $crate::StoreError> {
                if $backend == "postgres" && items.iter().all(|(c, _)| c.state.units.is_empty()) {
                    // One statement is atomic without BEGIN/COMMIT: one round trip.
                    let mut conn = self.pool.acquire().await?;
                    return Self::insert_cases(&mut conn, items).await;
                }
                let mut tx = self.pool.begin().await?;
                Self::insert_cases(&mut tx, items).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Inserts new cases, their units and their first events: on PostgreSQL, when none
            /// is with a unit yet (intake), in one statement.
            async fn insert_cases(
                conn: &mut <$db as sqlx::Database>::Connection,
                items: &[(&civicgrid_domain::case::Case, &$crate::CaseEvent)],
            ) -> Result<(), $crate::StoreError> {
                if items.is_empty() {
                    return Ok(());
                }
                if $backend == "postgres" && items.iter().all(|(c, _)| c.state.units.is_empty()) {
                    let sql = $crate::sql::new_cases_with_events(items.len());
                    let mut q = sqlx::query(&sql);
                    for (case, _) in items {
                        q = Self::bind_new_case(q, case)?;
                    }
                    for (_, e) in items {
                        q = q
                            .bind(e.case_id.to_string())
                            .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                            .bind(e.action.clone())
                            .bind(e.from.map(|s| s.as_str()))
                            .bind(e.to.as_str())
                            .bind(e.actor.clone())
                            .bind($crate::model::micros(e.at))
                            .bind(e.payload.to_string());
                    }
                    q.execute(&mut *conn).await?;
                    return Ok(());
                }
                for (case, event) in items {
                    Self::bind_new_case(sqlx::query($crate::sql::NEW_CASE), case)?
                        .execute(&mut *conn)
                        .await?;
                    Self::write_units(conn, case).await?;
                    Self::write_event(conn, case, event).await?;
                }
                Ok(())
            }

            /// A change, within a transaction unless it is one statement (PostgreSQL without a
            /// photo); [`StoreError::Stale`] or `NotFound` before anything is written.
            async fn change_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                events: &[$crate::CaseEvent],
                photo: Option<&$crate::Photo>,
            ) -> Result<(), $crate::StoreError> {
                if events.is_empty() {
                    return Err($crate::StoreError::Invalid("a change needs at least one event".into()));
                }
                // PostgreSQL: one statement, atomic by itself (no BEGIN/COMMIT needed around it).
                let at_once = $backend == "postgres" && photo.is_none();
                let updated = if at_once {
                    use sqlx::Row;
                    let rows: Vec<serde_json::Value> = events
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "seq": e.seq,
                                "action": e.action,
                                "from_status": e.from.map(|s| s.as_str()),
                                "to_status": e.to.as_str(),
                                "actor": e.actor,
                                "at": $crate::model::micros(e.at),
                                "payload": e.payload.to_string(),
                            })
                        })
                        .collect();
                    let row = Self::bind_change(sqlx::query($crate::sql::CHANGE_CASE_AT_ONCE), case, expected_version)?
                        .bind($crate::sql::to_json(&case.state.units)?)
                        .bind(serde_json::Value::Array(rows).to_string())
                        .fetch_one(&mut *conn)
                        .await?;
                    row.try_get::<i64, _>(0)? > 0
                } else {
                    Self::bind_change(sqlx::query($crate::sql::CHANGE_CASE), case, expected_version)?
                        .execute(&mut *conn)
                        .await?
                        .rows_affected()
                        > 0
                };
                if !updated {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM cases WHERE id = $1")
                        .bind(case.id.to_string())
                        .fetch_optional(&mut *conn)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("case {}", case.id)),
                    });
                }
                if at_once {
                    return Ok(());
                }
                sqlx::query("DELETE FROM case_units WHERE case_id = $1")
                    .bind(case.id.to_string())
                    .execute(&mut *conn)
                    .await?;
                Self::write_units(conn, case).await?;
                for event in events {
                    Self::write_event(conn, case, event).await?;
                }
                if let Some(p) = photo {
                    sqlx::query(
                        "INSERT INTO case_photos (case_id, sha256, stage, content_type, size, data, added_by, added_at, region_code)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(case.id.to_string())
                    .bind(&p.sha256)
                    .bind(&p.stage)
                    .bind(&p.content_type)
                    .bind(i64::try_from(p.data.len()).unwrap_or(i64::MAX))
                    .bind(&p.data)
                    .bind(&p.added_by)
                    .bind($crate::model::micros(p.added_at))
                    .bind(case.region.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            /// Binds a case change's 15 parameters (`CHANGE_CASE`, `CHANGE_CASE_AT_ONCE`).
            fn bind_change<'q>(
                q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                case: &'q civicgrid_domain::case::Case,
                expected_version: u64,
            ) -> Result<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, $crate::StoreError> {
                Ok(q
                .bind(case.id.to_string())
                .bind(case.grid.as_ref().map(|g| g.to_string()))
                .bind(case.category.as_ref().map(|c| c.to_string()))
                .bind($crate::sql::to_json(&case.attributes)?)
                .bind(case.priority.as_str())
                .bind(&case.routing)
                .bind(case.state.status.as_str())
                .bind($crate::sql::to_json(&case.state)?)
                .bind(i64::try_from(case.state.version).unwrap_or(i64::MAX))
                .bind(case.state.lead().map(str::to_owned))
                .bind(case.clock.as_ref().map($crate::sql::to_json).transpose()?)
                .bind(case.clock.map(|c| $crate::model::micros(c.due_at)))
                .bind($crate::model::micros(case.updated_at))
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .bind($crate::sql::to_json(&case.routed_units)?))
            }

            /// Binds a new case's 23 columns to a statement starting with `NEW_CASE`'s parameters.
            fn bind_new_case<'q>(
                q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                case: &'q civicgrid_domain::case::Case,
            ) -> Result<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, $crate::StoreError> {
                Ok(q
                .bind(case.id.to_string())
                .bind(&case.receipt_code)
                .bind(case.channel.as_str())
                .bind(&case.description)
                .bind(case.address.as_deref())
                .bind(case.location.map(|l| l.0))
                .bind(case.location.map(|l| l.1))
                .bind(case.grid.as_ref().map(|g| g.to_string()))
                .bind(case.region.as_str())
                .bind(case.category.as_ref().map(|c| c.to_string()))
                .bind($crate::sql::to_json(&case.attributes)?)
                .bind(case.priority.as_str())
                .bind(case.reporter_sealed.as_deref())
                .bind(&case.routing)
                .bind(case.state.status.as_str())
                .bind($crate::sql::to_json(&case.state)?)
                .bind(i64::try_from(case.state.version).unwrap_or(i64::MAX))
                .bind(case.state.lead().map(str::to_owned))
                .bind(case.clock.as_ref().map($crate::sql::to_json).transpose()?)
                .bind(case.clock.map(|c| $crate::model::micros(c.due_at)))
                .bind($crate::model::micros(case.reported_at))
                .bind($crate::model::micros(case.updated_at))
                .bind($crate::sql::to_json(&case.routed_units)?))
            }

            async fn write_units(
                conn: &mut <$db as sqlx::Database>::Connection,
                case: &civicgrid_domain::case::Case,
            ) -> Result<(), $crate::StoreError> {
                for (i, unit) in case.state.units.iter().enumerate() {
                    sqlx::query("INSERT INTO case_units (case_id, unit_code, lead, region_code) VALUES ($1, $2, $3, $4)")
                        .bind(case.id.to_string())
                        .bind(unit)
                        .bind(i == 0)
                        .bind(case.region.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }

            async fn write_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                case: &civicgrid_domain::case::Case,
                e: &$crate::CaseEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO case_events (case_id, seq, action, from_status, to_status, actor, at, payload, region_code)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.case_id.to_string())
                .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                .bind(&e.action)
                .bind(e.from.map(|s| s.as_str()))
                .bind(e.to.as_str())
                .bind(&e.actor)
                .bind($crate::model::micros(e.at))
                .bind(e.payload.to_string())
                .bind(case.region.as_str())
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            fn case_row(r: &<$db as sqlx::Database>::Row) -> Result<civicgrid_domain::case::Case, $crate::StoreError> {
                use sqlx::Row;
                $crate::sql::case_from_row($crate::sql::CaseRow {
                    id: r.try_get("id")?,
                    receipt_code: r.try_get("receipt_code")?,
                    channel: r.try_get("channel")?,
                    description: r.try_get("description")?,
                    address: r.try_get("address")?,
                    lon: r.try_get("lon")?,
                    lat: r.try_get("lat")?,
                    grid_code: r.try_get("grid_code")?,
                    region_code: r.try_get("region_code")?,
                    category_code: r.try_get("category_code")?,
                    attributes: r.try_get("attributes")?,
                    priority: r.try_get("priority")?,
                    reporter_sealed: r.try_get("reporter_sealed")?,
                    routed_units: r.try_get("routed_units")?,
                    routing: r.try_get("routing")?,
                    state: r.try_get("state")?,
                    clock: r.try_get("clock")?,
                    reported_at: r.try_get("reported_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            async fn load_users(&self, only: Option<&str>) -> Result<Vec<$crate::User>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, Option<String>, bool, i64)> = sqlx::query_as(
                    "SELECT id, username, display_name, password_hash, unit_code, active, created_at FROM users
                     WHERE ($1 IS NULL OR username = $1) ORDER BY username",
                )
                .bind(only)
                .fetch_all(&self.pool)
                .await?;
                let grants: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT g.user_id, g.role_code, g.scope_kind, g.scope_code FROM role_grants g
                     JOIN users u ON u.id = g.user_id WHERE ($1 IS NULL OR u.username = $1)
                     ORDER BY g.role_code, g.scope_kind, g.scope_code",
                )
                .bind(only)
                .fetch_all(&self.pool)
                .await?;
                let mut users = Vec::with_capacity(rows.len());
                for (id, username, display_name, password_hash, unit, active, created) in rows {
                    let mut user_grants = Vec::new();
                    for (uid, role, kind, code) in &grants {
                        if *uid == id {
                            user_grants.push($crate::sql::grant_from_row(role.clone(), kind.clone(), code.clone())?);
                        }
                    }
                    users.push($crate::User {
                        id,
                        username,
                        display_name,
                        password_hash,
                        unit,
                        active,
                        grants: user_grants,
                        created_at: $crate::model::from_micros(created)?,
                    });
                }
                Ok(users)
            }
        }
    };
}

pub(crate) use sql_repository;

#[cfg(test)]
mod prefix_tests {
    use super::prefix_end;

    #[test]
    fn every_code_of_a_region_lies_before_its_end() {
        assert_eq!(prefix_end("440305").as_deref(), Some("440306"));
        assert_eq!(prefix_end("4403059").as_deref(), Some("440306"));
        assert_eq!(prefix_end("440399").as_deref(), Some("4404"));
        assert_eq!(prefix_end("999"), None);
        assert_eq!(prefix_end(""), None);
        // A code is in the range exactly when it starts with the prefix.
        let codes = [
            "440304",
            "440305",
            "4403050",
            "440305001",
            "440305001999",
            "440305009",
            "4403059",
            "44030599",
            "440306",
            "4403060",
            "440399",
            "4404",
            "44",
        ];
        for prefix in ["440305", "4403059", "440305001", "440399", "44"] {
            let end = prefix_end(prefix).expect("end");
            for code in codes {
                assert_eq!(
                    code.starts_with(prefix),
                    prefix <= code && code < end.as_str(),
                    "{code} against [{prefix}, {end})"
                );
            }
        }
    }
}
