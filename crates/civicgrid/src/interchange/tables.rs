//! CSV tables of regions, units and the responsibility list.

use civicgrid_domain::routing::{AttributeCondition, Basis, ResponsibilityRule, Unit, UnitKind};
use civicgrid_domain::territory::{Beat, GridCode, Region, RegionCode};

use super::csv_table::{self, field_error};
use crate::error::InputError;

pub const REGION_COLUMNS: &[&str] = &["code", "name"];

pub const PLACE_COLUMNS: &[&str] = &["name", "kind", "lon", "lat"];

/// A gazetteer entry as read, before it is placed in a grid: (name, kind, lon, lat).
pub type RawPlace = (String, civicgrid_domain::territory::PlaceKind, f64, f64);

/// The gazetteer as CSV: `name,kind,lon,lat` (kind: building or landmark; WGS84).
pub fn read_places(file: &str, text: &str) -> Result<Lined<RawPlace>, Vec<InputError>> {
    csv_table::read(file, text, PLACE_COLUMNS, |row| {
        let name = row.get("name")?;
        if name.chars().count() > 100 {
            return Err(field_error("name", "is longer than 100 characters"));
        }
        let lon: f64 = row.parse("lon")?;
        let lat: f64 = row.parse("lat")?;
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(field_error("lon", format!("{lon} is not a longitude")));
        }
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(field_error("lat", format!("{lat} is not a latitude")));
        }
        Ok((row.line, (name.to_owned(), row.parse("kind")?, lon, lat)))
    })
}

pub fn write_places(places: &[civicgrid_domain::territory::Place]) -> String {
    csv_table::write(
        PLACE_COLUMNS,
        places.iter().map(|p| {
            vec![
                p.name.clone(),
                p.kind.as_str().to_owned(),
                p.lon.to_string(),
                p.lat.to_string(),
            ]
        }),
    )
}

/// Each value comes with the file line it was read from, for later cross-reference errors.
pub type Lined<T> = Vec<(u64, T)>;

pub fn read_regions(file: &str, text: &str) -> Result<Lined<Region>, Vec<InputError>> {
    csv_table::read(file, text, REGION_COLUMNS, |row| {
        Ok((
            row.line,
            Region {
                code: row.parse::<RegionCode>("code")?,
                name: row.get("name")?.to_owned(),
            },
        ))
    })
}

pub fn write_regions(regions: &[Region]) -> String {
    csv_table::write(
        REGION_COLUMNS,
        regions
            .iter()
            .map(|r| vec![r.code.to_string(), r.name.clone()]),
    )
}

pub const UNIT_COLUMNS: &[&str] = &["code", "name", "kind", "region"];

pub fn read_units(file: &str, text: &str) -> Result<Lined<Unit>, Vec<InputError>> {
    csv_table::read(file, text, UNIT_COLUMNS, |row| {
        let code = row.get("code")?;
        Unit::validate_code(code).map_err(|e| field_error("code", e.to_string()))?;
        Ok((
            row.line,
            Unit {
                code: code.to_owned(),
                name: row.get("name")?.to_owned(),
                kind: row.parse::<UnitKind>("kind")?,
                region: row.parse::<RegionCode>("region")?,
            },
        ))
    })
}

pub fn write_units(units: &[Unit]) -> String {
    csv_table::write(
        UNIT_COLUMNS,
        units.iter().map(|u| {
            vec![
                u.code.clone(),
                u.name.clone(),
                u.kind.to_string(),
                u.region.to_string(),
            ]
        }),
    )
}

pub const RULE_COLUMNS: &[&str] = &[
    "line",
    "category",
    "region",
    "condition",
    "basis",
    "primary",
    "co_handlers",
    "note",
];

/// Reads the responsibility list. `condition` is empty or `attribute=value`; `co_handlers` is
/// a `;`-separated list of unit codes. `line` gives the order; rows without it take their
/// position in the file.
pub fn read_rules(file: &str, text: &str) -> Result<Lined<ResponsibilityRule>, Vec<InputError>> {
    let mut position = 0u32;
    let mut rules = csv_table::read(
        file,
        text,
        &["category", "region", "basis", "primary"],
        |row| {
            position += 1;
            let line = match row.opt("line") {
                Some(l) => l.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    field_error("line", format!("`{l}` is not a positive number"))
                })?,
                None => position,
            };
            let condition = match row.opt("condition") {
                None => None,
                Some(c) => {
                    let (a, v) = c.split_once('=').ok_or_else(|| {
                        field_error("condition", format!("`{c}` is not attribute=value"))
                    })?;
                    Some(AttributeCondition {
                        attribute: a.trim().to_owned(),
                        equals: v.trim().to_owned(),
                    })
                }
            };
            let primary = row.get("primary")?;
            Unit::validate_code(primary).map_err(|e| field_error("primary", e.to_string()))?;
            let co_handlers: Vec<String> = row
                .opt("co_handlers")
                .map(|s| {
                    s.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            for c in &co_handlers {
                Unit::validate_code(c).map_err(|e| field_error("co_handlers", e.to_string()))?;
            }
            Ok((
                row.line,
                ResponsibilityRule {
                    line,
                    category: row.parse("category")?,
                    region: row.parse("region")?,
                    condition,
                    basis: row.parse::<Basis>("basis")?,
                    primary: primary.to_owned(),
                    co_handlers,
                    note: row.opt("note").unwrap_or("").to_owned(),
                },
            ))
        },
    )?;
    let mut seen = std::collections::BTreeSet::new();
    for (file_line, r) in &rules {
        if !seen.insert(r.line) {
            return Err(vec![InputError::line(
                file,
                *file_line,
                Some("line"),
                format!("rule line {} is used twice", r.line),
            )]);
        }
    }
    rules.sort_by_key(|(_, r)| r.line);
    Ok(rules)
}

pub fn write_rules(rules: &[ResponsibilityRule]) -> String {
    csv_table::write(
        RULE_COLUMNS,
        rules.iter().map(|r| {
            vec![
                r.line.to_string(),
                r.category.to_string(),
                r.region.to_string(),
                r.condition
                    .as_ref()
                    .map(|c| format!("{}={}", c.attribute, c.equals))
                    .unwrap_or_default(),
                r.basis.as_str().to_owned(),
                r.primary.clone(),
                r.co_handlers.join(";"),
                r.note.clone(),
            ]
        }),
    )
}

pub const BEAT_COLUMNS: &[&str] = &["code", "name", "region", "grids", "workers"];

fn split_list(s: Option<&str>) -> Vec<&str> {
    s.map(|s| {
        s.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Reads beats: `grids` and `workers` (usernames) are `;`-separated lists.
pub fn read_beats(file: &str, text: &str) -> Result<Lined<Beat>, Vec<InputError>> {
    csv_table::read(file, text, &["code", "name", "region", "grids"], |row| {
        let code = row.get("code")?;
        Beat::validate_code(code).map_err(|e| field_error("code", e.to_string()))?;
        let grids = split_list(row.opt("grids"))
            .into_iter()
            .map(|g| {
                g.parse::<GridCode>()
                    .map_err(|e| field_error("grids", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if grids.is_empty() {
            return Err(field_error("grids", "a beat needs at least one grid"));
        }
        Ok((
            row.line,
            Beat {
                code: code.to_owned(),
                name: row.get("name")?.to_owned(),
                region: row.parse("region")?,
                grids,
                workers: split_list(row.opt("workers"))
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            },
        ))
    })
}

pub fn write_beats(beats: &[Beat]) -> String {
    csv_table::write(
        BEAT_COLUMNS,
        beats.iter().map(|b| {
            vec![
                b.code.clone(),
                b.name.clone(),
                b.region.to_string(),
                b.grids
                    .iter()
                    .map(GridCode::as_str)
                    .collect::<Vec<_>>()
                    .join(";"),
                b.workers.join(";"),
            ]
        }),
    )
}
