//! Hotline import (12345 热线): the city hotline's export of work orders for the street, an
//! XLSX workbook or CSV, becomes cases of the platform through a mapping file (which column
//! holds what, the hotline's categories as catalogue codes, its status words as the state a
//! case enters). All or nothing: every problem is named by row and column and nothing is
//! stored unless every row is good. Idempotent on the hotline's own ticket number: a ticket
//! already imported is passed over, so importing the same file twice adds nothing.
//!
//! The cases are placed and routed like any report (channel `hotline`); the report event
//! keeps the hotline, the ticket, the file and the time the hotline took the call. A status
//! mapped to `accepted` adds the acceptance event in the same transaction.

pub mod cli;
pub mod export;
pub mod mapping;

use std::collections::{BTreeMap, BTreeSet};

use civicgrid_domain::case::{Action, Channel};
use civicgrid_store::{HotlineCase, StoreError};

use crate::App;
use crate::cases::{Actor, Intake};
use crate::error::{AppError, AppResult};
use export::Export;
use mapping::{Entry, Mapping};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HotlineReport {
    pub source: String,
    /// New cases.
    pub added: usize,
    /// Of them, entered accepted.
    pub accepted: usize,
    /// Tickets imported before, passed over.
    pub already: usize,
    /// Rows whose status is mapped to `skip`.
    pub skipped: usize,
}

/// The cells of one row by field.
struct Row<'a> {
    number: u64,
    cells: &'a [String],
    index: &'a BTreeMap<&'static str, usize>,
}

impl Row<'_> {
    fn get(&self, field: &str) -> &str {
        self.index
            .get(field)
            .and_then(|i| self.cells.get(*i))
            .map_or("", |s| s.trim())
    }

    fn column(&self, field: &str) -> Option<usize> {
        self.index.get(field).copied()
    }
}

impl App {
    /// Imports the export `bytes` (named `file`) through `mapping`, as `actor`.
    pub async fn import_hotline(
        &self,
        file: &str,
        bytes: &[u8],
        mapping: &Mapping,
        actor: &Actor,
    ) -> AppResult<HotlineReport> {
        let export = Export::read(file, bytes, mapping.sheet.as_deref())
            .map_err(|e| AppError::Input(vec![e]))?;
        let mut index = BTreeMap::new();
        let mut problems = Vec::new();
        for (field, heading) in mapping.columns.named() {
            match export.headers.iter().position(|h| h == heading.trim()) {
                Some(i) => {
                    index.insert(field, i);
                }
                None => problems.push(export.problem(
                    file,
                    1,
                    None,
                    format!(
                        "no column is headed `{heading}` (columns.{field} of the mapping); the headings are: {}",
                        export.headers.join(", ")
                    ),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Input(problems));
        }
        let rows: Vec<Row<'_>> = export
            .rows
            .iter()
            .map(|(number, cells)| Row {
                number: *number,
                cells,
                index: &index,
            })
            .collect();

        // Tickets: present and once each in the file.
        let mut first_seen: BTreeMap<&str, u64> = BTreeMap::new();
        for row in &rows {
            let ticket = row.get("ticket");
            if ticket.is_empty() {
                problems.push(export.problem(
                    file,
                    row.number,
                    row.column("ticket"),
                    "the ticket number is empty",
                ));
            } else if ticket.chars().count() > 64 {
                problems.push(export.problem(
                    file,
                    row.number,
                    row.column("ticket"),
                    "a ticket number is at most 64 characters",
                ));
            } else if let Some(first) = first_seen.insert(ticket, row.number) {
                first_seen.insert(ticket, first);
                problems.push(export.problem(
                    file,
                    row.number,
                    row.column("ticket"),
                    format!("ticket {ticket} is also on row {first}"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Input(problems));
        }

        // Concurrent imports of the same file: the store refuses a ticket imported meanwhile,
        // and the next attempt passes it over.
        for _attempt in 0..3 {
            let tickets: Vec<String> = first_seen.keys().map(|t| (*t).to_owned()).collect();
            let already: BTreeSet<String> = self
                .repo
                .hotline_tickets(&mapping.source, &tickets)
                .await?
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            let (cases, mut report) = self
                .hotline_cases(file, &export, &rows, &already, mapping, actor)
                .await?;
            report.source = mapping.source.clone();
            match self
                .repo
                .import_hotline_cases(&mapping.source, &cases, self.clock.now())
                .await
            {
                Ok(()) => return Ok(report),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "another import of the same hotline keeps changing its tickets; try again".into(),
        ))
    }

    /// The new cases of the rows not yet imported, or every problem found.
    async fn hotline_cases(
        &self,
        file: &str,
        export: &Export,
        rows: &[Row<'_>],
        already: &BTreeSet<String>,
        mapping: &Mapping,
        actor: &Actor,
    ) -> AppResult<(Vec<HotlineCase>, HotlineReport)> {
        let reference = self.reference().await?;
        let now = self.clock.now();
        let mut problems = Vec::new();
        let mut cases = Vec::new();
        let mut report = HotlineReport::default();
        for row in rows {
            let ticket = row.get("ticket");
            if already.contains(ticket) {
                report.already += 1;
                continue;
            }
            let found_before = problems.len();
            let at = |field: &str, message: String| {
                export.problem(file, row.number, row.column(field), message)
            };
            let status = row.get("status");
            let entry = match mapping.statuses.get(status) {
                Some(e) => *e,
                None => {
                    problems.push(at(
                        "status",
                        format!(
                            "the status `{status}` is not in the mapping's [statuses] ({})",
                            mapping
                                .statuses
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    continue;
                }
            };
            if entry == Entry::Skip {
                report.skipped += 1;
                continue;
            }
            let intake = match self.hotline_intake(row, mapping) {
                Ok(i) => i,
                Err(row_problems) => {
                    problems.extend(row_problems.into_iter().map(|(f, m)| at(f, m)));
                    continue;
                }
            };
            let received_at = row.get("received_at");
            let received_at = if received_at.is_empty() {
                None
            } else {
                match mapping.parse_time(received_at) {
                    Some(t) => Some(t.to_string()),
                    None => {
                        problems.push(at(
                            "received_at",
                            format!("`{received_at}` is not a time (e.g. 2026-12-07 08:30:00)"),
                        ));
                        None
                    }
                }
            };
            let intake_problems = self.intake_problems(&intake).await?;
            if !intake_problems.is_empty() {
                problems.extend(
                    intake_problems
                        .into_iter()
                        .map(|(field, m)| at(column_of(&field, mapping), format!("{field}: {m}"))),
                );
                continue;
            }
            if problems.len() > found_before {
                continue;
            }
            let drafted = self.draft_case(&intake, actor, &reference, now);
            let (case, mut event, _secret) =
                match drafted {
                    Ok(d) => d,
                    Err(AppError::Unprocessable(fields)) => {
                        problems.extend(fields.into_iter().map(|(field, m)| {
                            at(column_of(&field, mapping), format!("{field}: {m}"))
                        }));
                        continue;
                    }
                    Err(AppError::Invalid(m)) => {
                        problems.push(at("category", m));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
            if let Some(payload) = event.payload.as_object_mut() {
                payload.insert(
                    "hotline".into(),
                    serde_json::json!({
                        "source": mapping.source,
                        "ticket": ticket,
                        "received_at": received_at,
                        "file": file,
                        "row": row.number,
                    }),
                );
            }
            let mut events = vec![event];
            let mut case = case;
            if entry == Entry::Accepted {
                match self.take_step(&case, Action::Accept, actor, None).await {
                    Ok((after, accepted)) => {
                        case = after;
                        events.push(accepted);
                        report.accepted += 1;
                    }
                    Err(e) => {
                        problems.push(at("status", format!("cannot be accepted: {e}")));
                        continue;
                    }
                }
            }
            report.added += 1;
            cases.push(HotlineCase {
                ticket: ticket.to_owned(),
                case,
                events,
            });
        }
        if problems.is_empty() {
            Ok((cases, report))
        } else {
            Err(AppError::Input(problems))
        }
    }

    /// A row as an intake, or its problems as (field, message).
    fn hotline_intake(
        &self,
        row: &Row<'_>,
        mapping: &Mapping,
    ) -> Result<Intake, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let title = row.get("title");
        let body = row.get("description");
        let description = match (title.is_empty(), body.is_empty()) {
            (false, false) => format!("{title}：{body}"),
            (true, _) => body.to_owned(),
            (false, true) => title.to_owned(),
        };
        let (category, attributes) = match row.get("category") {
            "" => (None, BTreeMap::new()),
            name => match mapping.categories.get(name) {
                Some(c) => (Some(c.code.clone()), c.attributes.clone()),
                None => {
                    problems.push((
                        "category",
                        format!("the category `{name}` is not in the mapping's [categories]"),
                    ));
                    (None, BTreeMap::new())
                }
            },
        };
        let grid = match row.get("grid") {
            "" => None,
            code => match code.parse() {
                Ok(g) => Some(g),
                Err(e) => {
                    problems.push(("grid", format!("`{code}`: {e}")));
                    None
                }
            },
        };
        let number = |field: &'static str, problems: &mut Vec<(&'static str, String)>| {
            let text = row.get(field);
            if text.is_empty() {
                return None;
            }
            match text.parse::<f64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push((field, format!("`{text}` is not a number")));
                    None
                }
            }
        };
        let lon = number("longitude", &mut problems);
        let lat = number("latitude", &mut problems);
        let location = match (lon, lat) {
            (Some(lon), Some(lat)) => Some((lon, lat)),
            (None, None) => None,
            (Some(_), None) => {
                problems.push(("latitude", "is empty while the longitude is given".into()));
                None
            }
            (None, Some(_)) => {
                problems.push(("longitude", "is empty while the latitude is given".into()));
                None
            }
        };
        let text = |field: &str| Some(row.get(field).to_owned()).filter(|t| !t.is_empty());
        let reporter = crate::cases::seal::Reporter {
            name: text("caller_name"),
            phone: text("caller_phone"),
            email: None,
            notify: None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Intake {
            description,
            location,
            grid,
            address: text("address"),
            category,
            attributes,
            priority: None,
            channel: Channel::Hotline,
            reporter: (!reporter.is_empty()).then_some(reporter),
            media_url: None,
        })
    }
}

/// The mapping field an intake problem is about, for its column.
fn column_of(field: &str, mapping: &Mapping) -> &'static str {
    let c = &mapping.columns;
    match field {
        "description" if c.title.is_some() && c.description.is_empty() => "title",
        "description" => "description",
        "address" => "address",
        "grid" => "grid",
        "lon" | "lat" if c.longitude.is_some() => "longitude",
        "lon" | "lat" if c.address.is_some() => "address",
        "lon" | "lat" => "grid",
        "reporter.name" => "caller_name",
        f if f.starts_with("reporter") => "caller_phone",
        f if f.starts_with("category") || f.starts_with("attributes") => "category",
        _ => "ticket",
    }
}
