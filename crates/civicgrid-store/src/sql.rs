//! What the stores' SQL shares: row ↔ domain conversions, the region-range helper, and the
//! case statements that several places build on. Each store's own SQL is in its file
//! (`cases.rs`, `territory.rs`, …), in the common dialect of SQLite and PostgreSQL.

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

pub(crate) fn place_from_row(
    (name, kind, lon, lat, region): (String, String, f64, f64, String),
) -> Result<civicgrid_domain::territory::Place, StoreError> {
    Ok(civicgrid_domain::territory::Place {
        name,
        kind: parse("place kind", &kind)?,
        lon,
        lat,
        region: parse("region code", &region)?,
    })
}

/// The columns of a case row, as read.
pub(crate) struct CaseRow {
    pub id: String,
    pub receipt_code: String,
    pub public_id: String,
    pub reporter_key: Option<String>,
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

pub(crate) const CASE_COLUMNS: &str = "id, receipt_code, public_id, reporter_key, channel, description, address, lon, lat, grid_code, region_code, \
    category_code, attributes, priority, reporter_sealed, routed_units, routing, state, clock, \
    reported_at, updated_at";

pub(crate) fn case_from_row(r: CaseRow) -> Result<civicgrid_domain::case::Case, StoreError> {
    use civicgrid_domain::case::Case;
    let clock = r.clock.map(|c| from_json("stage clock", &c)).transpose()?;
    Ok(Case {
        id: parse("case id", &r.id)?,
        receipt_code: r.receipt_code,
        public_id: r.public_id,
        reporter_key: r.reporter_key,
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

/// Inserts a case row; parameters $1–$25.
pub(crate) const NEW_CASE: &str = "INSERT INTO cases (id, receipt_code, channel, description, address, lon, lat, grid_code, region_code,
                       category_code, attributes, priority, reporter_sealed, routing, status, state, version, lead_unit,
                       clock, due_at, reported_at, updated_at, routed_units, public_id, reporter_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)";

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
/// come first (25 per case), then 8 per event; events take their case's region.
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
                (0..25)
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
             clock, due_at, reported_at, updated_at, routed_units, public_id, reporter_key)
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

/// Queues a record of a capability for the assessment (`kpi_dirty`), in the transaction that
/// changes it: $1 source, $2 item id, $3 region.
pub(crate) const MARK_KPI: &str =
    "INSERT INTO kpi_dirty (source, item_id, region_code) VALUES ($1, $2, $3)
     ON CONFLICT (item_id) DO UPDATE SET marked = kpi_dirty.marked + 1";

pub(crate) fn date(what: &str, s: &str) -> Result<jiff::civil::Date, StoreError> {
    parse(what, s)
}

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
