//! The catalogue of service items (事项清单): one item at a time (REST, pages), or a whole
//! CSV, all or nothing, each problem named by file, line and field; the export reads back.
//! Also the command line (`civicgrid import|export service-items`).

use std::io::Write;
use std::path::PathBuf;

use civicgrid_domain::application::{Material, ServiceChannel, ServiceItem};
use civicgrid_domain::policy::Actor;
use clap::Subcommand;

use crate::App;
use crate::cli::read_table;
use crate::error::{AppError, AppResult, InputError};

/// The columns of the catalogue's CSV. `materials` lists the checklist, `;`-separated, each
/// `code:name` with `*` before the code when required and `|sample` after the name when a
/// sample is given; `channels` is `;`-separated (online, counter, proxy).
pub const ITEM_COLUMNS: [&str; 11] = [
    "code",
    "name",
    "name_en",
    "unit",
    "limit_days",
    "materials",
    "fees",
    "channels",
    "place",
    "basis",
    "active",
];

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// The catalogue of service items, CSV with the columns
    /// code,name,name_en,unit,limit_days,materials,fees,channels,place,basis,active; new and
    /// changed items, all or nothing
    ServiceItems { file: PathBuf },
}

/// Tables this capability exports (`civicgrid export …`).
#[derive(Subcommand, Debug)]
pub enum Export {
    /// The catalogue of service items as CSV (withdrawn ones too)
    ServiceItems,
}

pub async fn import(
    app: &App,
    what: Import,
    _out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    Ok(match what {
        Import::ServiceItems { file } => {
            let (name, text) = read_table(&file)?;
            (
                "service items",
                app.import_service_items(&Actor::System, &name, &text)
                    .await?,
            )
        }
    })
}

pub async fn export(app: &App, what: Export) -> AppResult<String> {
    match what {
        Export::ServiceItems => app.export_service_items().await,
    }
}

fn materials_text(ms: &[Material]) -> String {
    ms.iter()
        .map(|m| {
            let mut s = format!("{}{}:{}", if m.required { "*" } else { "" }, m.code, m.name);
            if !m.sample.is_empty() {
                s.push('|');
                s.push_str(&m.sample);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The checklist from its CSV notation, or what is wrong with it.
pub fn parse_materials(text: &str) -> Result<Vec<Material>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (head, sample) = match part.split_once('|') {
            Some((h, s)) => (h, s.trim().to_owned()),
            None => (part, String::new()),
        };
        let (code, name) = head
            .split_once(':')
            .ok_or_else(|| format!("`{part}` is not code:name"))?;
        let (required, code) = match code.trim().strip_prefix('*') {
            Some(c) => (true, c.trim()),
            None => (false, code.trim()),
        };
        out.push(Material {
            code: code.to_owned(),
            name: name.trim().to_owned(),
            required,
            sample,
        });
    }
    Ok(out)
}

/// Channels from `online;counter;proxy`.
pub fn parse_channels(text: &str) -> Result<Vec<ServiceChannel>, String> {
    let mut out = Vec::new();
    for c in text.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let ch = ServiceChannel::parse(c)
            .ok_or_else(|| format!("`{c}` is not online, counter or proxy"))?;
        if !out.contains(&ch) {
            out.push(ch);
        }
    }
    Ok(out)
}

impl App {
    /// The catalogue, by code: active items, or all.
    pub async fn service_items(&self, all: bool) -> AppResult<Vec<ServiceItem>> {
        Ok(self.repo.service_items(all).await?)
    }

    pub async fn service_item(&self, code: &str) -> AppResult<ServiceItem> {
        self.repo
            .service_item(code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("service item {code}")))
    }

    /// The problems of an item, its handling unit checked against the units.
    async fn item_problems(&self, item: &ServiceItem) -> AppResult<Vec<(String, String)>> {
        let refs = self.reference().await?;
        let mut problems = item.problems();
        if !item.unit.is_empty() && !refs.units.iter().any(|u| u.code == item.unit) {
            problems.push(("unit".to_owned(), format!("`{}` is not a unit", item.unit)));
        }
        Ok(problems)
    }

    /// Adds or changes one item (catalogue.manage).
    pub async fn put_service_item(
        &self,
        actor: &Actor,
        item: ServiceItem,
    ) -> AppResult<ServiceItem> {
        self.reference()
            .await?
            .policy()
            .may_manage_service_items(actor)
            .map_err(AppError::Forbidden)?;
        let problems = self.item_problems(&item).await?;
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        self.repo
            .put_service_items(std::slice::from_ref(&item), actor.name(), self.clock.now())
            .await?;
        Ok(item)
    }

    /// Imports the catalogue's CSV: all items or none.
    pub async fn import_service_items(
        &self,
        actor: &Actor,
        file: &str,
        data: &str,
    ) -> AppResult<usize> {
        self.reference()
            .await?
            .policy()
            .may_manage_service_items(actor)
            .map_err(AppError::Forbidden)?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(data.as_bytes());
        let problem = |line: u64, field: &str, message: String| {
            InputError::line(file, line, Some(field), message)
        };
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.trim().to_owned()).collect(),
            Err(e) => return Err(AppError::Input(vec![problem(1, "header", e.to_string())])),
        };
        if header.iter().map(String::as_str).ne(ITEM_COLUMNS) {
            return Err(AppError::Input(vec![problem(
                1,
                "header",
                format!("the columns are {}", ITEM_COLUMNS.join(",")),
            )]));
        }
        let mut errors = Vec::new();
        let mut items: Vec<ServiceItem> = Vec::new();
        for row in reader.records() {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    errors.push(problem(
                        e.position().map_or(0, |p| p.line()),
                        "row",
                        e.to_string(),
                    ));
                    continue;
                }
            };
            let line = row.position().map_or(0, |p| p.line());
            let get = |i: usize| row.get(i).unwrap_or("").trim().to_owned();
            // This line's problems, each field once.
            let mut found: Vec<(String, String)> = Vec::new();
            let limit_days = get(4).parse::<u32>().unwrap_or_else(|_| {
                found.push((
                    "limit_days".into(),
                    format!("`{}` is not a number of working days", get(4)),
                ));
                0
            });
            let materials = parse_materials(&get(5)).unwrap_or_else(|e| {
                found.push(("materials".into(), e));
                vec![]
            });
            let channels = parse_channels(&get(7)).unwrap_or_else(|e| {
                found.push(("channels".into(), e));
                vec![]
            });
            let active = match get(10).as_str() {
                "" | "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                other => {
                    found.push(("active".into(), format!("`{other}` is not true or false")));
                    true
                }
            };
            let item = ServiceItem {
                code: get(0),
                name: get(1),
                name_en: get(2),
                unit: get(3),
                limit_days,
                materials,
                fees: get(6),
                channels,
                place: get(8),
                basis: get(9),
                active,
            };
            if items.iter().any(|i| i.code == item.code) {
                found.push(("code".into(), format!("`{}` is listed twice", item.code)));
            }
            for (field, message) in self.item_problems(&item).await? {
                let base = field.split(['[', '.']).next().unwrap_or(&field).to_owned();
                if !found.iter().any(|(f, _)| *f == base) {
                    found.push((field, message));
                }
            }
            errors.extend(found.into_iter().map(|(f, m)| problem(line, &f, m)));
            items.push(item);
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        self.repo
            .put_service_items(&items, actor.name(), self.clock.now())
            .await?;
        Ok(items.len())
    }

    /// The whole catalogue as CSV, in the columns the import reads.
    pub async fn export_service_items(&self) -> AppResult<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| AppError::Invalid(e.to_string());
        w.write_record(ITEM_COLUMNS).map_err(csv_err)?;
        for i in self.repo.service_items(true).await? {
            let channels: Vec<&str> = i.channels.iter().map(|c| c.as_str()).collect();
            w.write_record([
                i.code.as_str(),
                &i.name,
                &i.name_en,
                &i.unit,
                &i.limit_days.to_string(),
                &materials_text(&i.materials),
                &i.fees,
                &channels.join(";"),
                &i.place,
                &i.basis,
                if i.active { "true" } else { "false" },
            ])
            .map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| AppError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_notation_reads_back() {
        let ms = parse_materials("*id_card:身份证原件|正反面;lease:租赁合同").expect("parses");
        assert_eq!(ms.len(), 2);
        assert!(ms[0].required && !ms[1].required);
        assert_eq!(ms[0].sample, "正反面");
        assert_eq!(parse_materials(&materials_text(&ms)).expect("again"), ms);
        assert!(parse_materials("身份证").is_err());
        assert!(parse_channels("online;fax").is_err());
    }
}
