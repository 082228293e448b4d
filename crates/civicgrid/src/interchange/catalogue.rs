//! The category catalogue as TOML (with named deadline profiles) or CSV (one row a category).

use std::collections::BTreeMap;

use civicgrid_domain::calendar::TimeLimit;
use civicgrid_domain::catalogue::{
    AttributeDef, AttributeType, AttributeValue, Catalogue, Category, CategoryCode, CategoryKind,
    DeadlineTable, Priority, ServiceType, Stage,
};
use serde::{Deserialize, Serialize};

use super::csv_table::{self, field_error};
use super::toml_error;
use crate::error::{InputError, Location};

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct StageLimits {
    accept: String,
    dispatch: String,
    handle: String,
    verify: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum DeadlinesSpec {
    Profile(String),
    Inline(BTreeMap<String, StageLimits>),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AttributeEntry {
    code: String,
    datatype: String,
    #[serde(default)]
    required: bool,
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    values: Vec<AttributeValue>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    code: String,
    zh: String,
    en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    /// Open311 service type: realtime (the default) or batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadlines: Option<DeadlinesSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attribute: Vec<AttributeEntry>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    profiles: BTreeMap<String, BTreeMap<String, StageLimits>>,
    category: Vec<CategoryEntry>,
}

/// The 1-based line of the first line of `text` containing `needle`, to point at an entry.
fn line_of(text: &str, needle: &str) -> Option<u64> {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
}

fn table(limits: &BTreeMap<String, StageLimits>) -> Result<DeadlineTable, (String, String)> {
    let mut out = DeadlineTable::new();
    for (priority, stages) in limits {
        let p: Priority =
            priority
                .parse()
                .map_err(|e: civicgrid_domain::catalogue::CatalogueError| {
                    (format!("deadlines.{priority}"), e.to_string())
                })?;
        let mut row = BTreeMap::new();
        for (stage, text) in [
            (Stage::Accept, &stages.accept),
            (Stage::Dispatch, &stages.dispatch),
            (Stage::Handle, &stages.handle),
            (Stage::Verify, &stages.verify),
        ] {
            let limit: TimeLimit =
                text.parse()
                    .map_err(|e: civicgrid_domain::calendar::CalendarError| {
                        (format!("deadlines.{priority}.{stage}"), e.to_string())
                    })?;
            row.insert(stage, limit);
        }
        out.insert(p, row);
    }
    Ok(out)
}

fn stage_limits(row: &BTreeMap<Stage, TimeLimit>) -> Option<StageLimits> {
    let get = |s| row.get(&s).map(|l: &TimeLimit| l.to_string());
    Some(StageLimits {
        accept: get(Stage::Accept)?,
        dispatch: get(Stage::Dispatch)?,
        handle: get(Stage::Handle)?,
        verify: get(Stage::Verify)?,
    })
}

pub fn read_toml(file: &str, text: &str) -> Result<Catalogue, Vec<InputError>> {
    let parsed: CatalogueFile =
        toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let mut profiles = BTreeMap::new();
    for (name, limits) in &parsed.profiles {
        let t = table(limits).map_err(|(field, m)| {
            vec![InputError {
                file: file.to_owned(),
                location: line_of(text, &format!("[profiles.{name}]"))
                    .map(|line| Location::Line { line, column: None })
                    .unwrap_or(Location::File),
                field: Some(format!(
                    "profiles.{name}.{}",
                    field.trim_start_matches("deadlines.")
                )),
                message: m,
            }]
        })?;
        profiles.insert(name.clone(), t);
    }
    let mut errors = Vec::new();
    let mut majors: BTreeMap<String, (CategoryKind, Priority, DeadlineTable)> = BTreeMap::new();
    let mut categories = Vec::new();
    // Majors first, so their minors can inherit from them wherever they appear in the file.
    let mut entries: Vec<&CategoryEntry> = parsed.category.iter().collect();
    entries.sort_by_key(|e| e.code.len());
    for entry in entries {
        let at = |field: &str, message: String| InputError {
            file: file.to_owned(),
            location: line_of(text, &format!("code = \"{}\"", entry.code))
                .map(|line| Location::Line { line, column: None })
                .unwrap_or(Location::File),
            field: Some(format!("category {}: {field}", entry.code)),
            message,
        };
        match resolve_entry(entry, &profiles, &majors) {
            Ok((c, resolved)) => {
                if c.code.is_major() {
                    majors.insert(c.code.to_string(), (c.kind, c.default_priority, resolved));
                }
                categories.push(c);
            }
            Err((field, message)) => errors.push(at(&field, message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Catalogue::new(categories).map_err(|e| vec![InputError::file(file, e.to_string())])
}

fn resolve_entry(
    entry: &CategoryEntry,
    profiles: &BTreeMap<String, DeadlineTable>,
    majors: &BTreeMap<String, (CategoryKind, Priority, DeadlineTable)>,
) -> Result<(Category, DeadlineTable), (String, String)> {
    let code: CategoryCode =
        entry
            .code
            .parse()
            .map_err(|e: civicgrid_domain::catalogue::CatalogueError| {
                ("code".to_owned(), e.to_string())
            })?;
    let inherited = if code.is_major() {
        None
    } else {
        Some(majors.get(code.major().as_str()).ok_or_else(|| {
            (
                "code".to_owned(),
                format!("major category {} is not in the file", code.major()),
            )
        })?)
    };
    let kind = match (&entry.kind, inherited) {
        (Some(k), _) => k
            .parse()
            .map_err(|e: civicgrid_domain::catalogue::CatalogueError| {
                ("kind".to_owned(), e.to_string())
            })?,
        (None, Some((k, _, _))) => *k,
        (None, None) => return Err(("kind".into(), "a major category needs a kind".into())),
    };
    let default_priority = match (&entry.priority, inherited) {
        (Some(p), _) => p
            .parse()
            .map_err(|e: civicgrid_domain::catalogue::CatalogueError| {
                ("priority".to_owned(), e.to_string())
            })?,
        (None, Some((_, p, _))) => *p,
        (None, None) => Priority::Normal,
    };
    let service_type = match &entry.service_type {
        Some(t) => t
            .parse()
            .map_err(|e: civicgrid_domain::catalogue::CatalogueError| {
                ("service_type".to_owned(), e.to_string())
            })?,
        None => ServiceType::Realtime,
    };
    let deadlines = match &entry.deadlines {
        Some(DeadlinesSpec::Profile(name)) => profiles
            .get(name)
            .cloned()
            .ok_or_else(|| ("deadlines".to_owned(), format!("no profile named `{name}`")))?,
        Some(DeadlinesSpec::Inline(t)) => table(t)?,
        None => inherited.map(|(_, _, t)| t.clone()).unwrap_or_default(),
    };
    let mut attributes = Vec::new();
    for (i, a) in entry.attribute.iter().enumerate() {
        attributes.push(AttributeDef {
            code: a.code.clone(),
            datatype: a
                .datatype
                .parse::<AttributeType>()
                .map_err(|e| (format!("attribute {}.datatype", a.code), e.to_string()))?,
            required: a.required,
            description: a.description.clone(),
            order: a.order.unwrap_or(u32::try_from(i).unwrap_or(0) + 1),
            values: a.values.clone(),
        });
    }
    let category = Category {
        code: code.clone(),
        name_zh: entry.zh.clone(),
        name_en: entry.en.clone(),
        kind,
        default_priority,
        service_type,
        // Majors only group; the table they name is what their minors inherit.
        deadlines: if code.is_major() {
            DeadlineTable::new()
        } else {
            deadlines.clone()
        },
        attributes,
    };
    Ok((category, deadlines))
}

/// Writes the catalogue as TOML with every minor's deadlines spelt out.
pub fn write_toml(categories: &[Category]) -> String {
    let entries = categories
        .iter()
        .map(|c| CategoryEntry {
            code: c.code.to_string(),
            zh: c.name_zh.clone(),
            en: c.name_en.clone(),
            kind: Some(c.kind.to_string()),
            priority: Some(c.default_priority.to_string()),
            service_type: (c.service_type != ServiceType::Realtime)
                .then(|| c.service_type.to_string()),
            deadlines: (!c.deadlines.is_empty()).then(|| {
                DeadlinesSpec::Inline(
                    c.deadlines
                        .iter()
                        .filter_map(|(p, row)| Some((p.to_string(), stage_limits(row)?)))
                        .collect(),
                )
            }),
            attribute: c
                .attributes
                .iter()
                .map(|a| AttributeEntry {
                    code: a.code.clone(),
                    datatype: a.datatype.to_string(),
                    required: a.required,
                    description: a.description.clone(),
                    order: Some(a.order),
                    values: a.values.clone(),
                })
                .collect(),
        })
        .collect();
    let file = CatalogueFile {
        profiles: BTreeMap::new(),
        category: entries,
    };
    toml::to_string(&file).unwrap_or_default()
}

fn csv_columns() -> Vec<String> {
    let mut cols: Vec<String> = ["code", "zh", "en", "kind", "priority"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for p in Priority::ALL {
        for s in Stage::ALL {
            cols.push(format!("{p}_{s}"));
        }
    }
    cols.push("attributes".into());
    cols.push("service_type".into());
    cols
}

/// Writes the catalogue as CSV: one row per category, a column per priority × stage holding
/// `<amount> <clock>`, and the attributes as a JSON array.
pub fn write_csv(categories: &[Category]) -> String {
    let cols = csv_columns();
    let header: Vec<&str> = cols.iter().map(String::as_str).collect();
    csv_table::write(
        &header,
        categories.iter().map(|c| {
            let mut row = vec![
                c.code.to_string(),
                c.name_zh.clone(),
                c.name_en.clone(),
                c.kind.to_string(),
                c.default_priority.to_string(),
            ];
            for &p in Priority::ALL {
                for &s in Stage::ALL {
                    row.push(c.deadline(p, s).map(|l| l.to_string()).unwrap_or_default());
                }
            }
            row.push(if c.attributes.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&c.attributes).unwrap_or_default()
            });
            row.push(c.service_type.to_string());
            row
        }),
    )
}

pub fn read_csv(file: &str, text: &str) -> Result<Catalogue, Vec<InputError>> {
    let cols = csv_columns();
    let required: Vec<&str> = cols[..5].iter().map(String::as_str).collect();
    let categories = csv_table::read(file, text, &required, |row| {
        let code: CategoryCode = row.parse("code")?;
        let mut deadlines = DeadlineTable::new();
        if !code.is_major() {
            for &p in Priority::ALL {
                for &s in Stage::ALL {
                    let col = format!("{p}_{s}");
                    let limit: TimeLimit = row.parse(&col)?;
                    deadlines.entry(p).or_default().insert(s, limit);
                }
            }
        }
        let attributes = match row.opt("attributes") {
            None => vec![],
            Some(json) => serde_json::from_str::<Vec<AttributeDef>>(json).map_err(|e| {
                field_error("attributes", format!("not a JSON list of attributes: {e}"))
            })?,
        };
        Ok(Category {
            code,
            name_zh: row.get("zh")?.to_owned(),
            name_en: row.get("en")?.to_owned(),
            kind: row.parse("kind")?,
            default_priority: row.parse("priority")?,
            service_type: match row.opt("service_type") {
                None => ServiceType::Realtime,
                Some(_) => row.parse("service_type")?,
            },
            deadlines,
            attributes,
        })
    })?;
    Catalogue::new(categories).map_err(|e| vec![InputError::file(file, e.to_string())])
}
