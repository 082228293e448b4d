//! The mapping file of a hotline import (TOML): which column of the export holds what, the
//! hotline's category names as catalogue codes, its status words as the state the case
//! enters. An example is `docs/hotline-mapping.example.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::InputError;

/// What a hotline status word makes of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Enters as reported (上报): the street accepts it in its own loop.
    Reported,
    /// Enters accepted (受理) by the hotline's own acceptance.
    Accepted,
    /// Not imported: finished at the hotline, or not the street's.
    Skip,
}

impl Entry {
    fn parse(word: &str) -> Option<Entry> {
        match word {
            "reported" => Some(Entry::Reported),
            "accepted" => Some(Entry::Accepted),
            "skip" => Some(Entry::Skip),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    source: String,
    #[serde(default)]
    sheet: Option<String>,
    #[serde(default)]
    time_format: Option<String>,
    columns: Columns,
    #[serde(default)]
    categories: BTreeMap<String, CategoryFile>,
    statuses: BTreeMap<String, String>,
}

/// The export's headings for each field; only ticket, description and status are required.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub ticket: String,
    pub description: String,
    pub status: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub received_at: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub grid: Option<String>,
    #[serde(default)]
    pub longitude: Option<String>,
    #[serde(default)]
    pub latitude: Option<String>,
    #[serde(default)]
    pub caller_name: Option<String>,
    #[serde(default)]
    pub caller_phone: Option<String>,
}

impl Columns {
    /// (field, heading) for every column named.
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            ("ticket", self.ticket.as_str()),
            ("description", self.description.as_str()),
            ("status", self.status.as_str()),
        ];
        let optional = [
            ("title", &self.title),
            ("received_at", &self.received_at),
            ("category", &self.category),
            ("address", &self.address),
            ("grid", &self.grid),
            ("longitude", &self.longitude),
            ("latitude", &self.latitude),
            ("caller_name", &self.caller_name),
            ("caller_phone", &self.caller_phone),
        ];
        out.extend(
            optional
                .into_iter()
                .filter_map(|(f, h)| h.as_deref().map(|h| (f, h))),
        );
        out
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CategoryFile {
    Code(String),
    Detailed {
        code: String,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
    },
}

/// A hotline category as a catalogue category, with the attributes its cases get (the
/// hotline does not ask what the catalogue asks, e.g. whether a street light is dark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryMapping {
    pub code: civicgrid_domain::catalogue::CategoryCode,
    pub attributes: BTreeMap<String, String>,
}

/// A checked mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The hotline's name (`12345`); its ticket numbers are unique within it.
    pub source: String,
    pub sheet: Option<String>,
    /// How times are written when a cell is text (jiff's strftime); by default the usual
    /// forms are tried.
    pub time_format: Option<String>,
    pub columns: Columns,
    pub categories: BTreeMap<String, CategoryMapping>,
    pub statuses: BTreeMap<String, Entry>,
}

impl Mapping {
    /// Parses and checks a mapping file; every problem names the file and the key.
    pub fn parse(file: &str, text: &str) -> Result<Mapping, Vec<InputError>> {
        let raw: MappingFile = toml::from_str(text)
            .map_err(|e| vec![crate::interchange::toml_error(file, text, &e)])?;
        let mut problems = Vec::new();
        let mut problem = |field: String, message: String| {
            problems.push(InputError {
                file: file.to_owned(),
                location: crate::error::Location::File,
                field: Some(field),
                message,
            });
        };
        let source = raw.source.trim().to_owned();
        if source.is_empty() || source.chars().count() > 40 {
            problem(
                "source".into(),
                "give the hotline's name, 1 to 40 characters".into(),
            );
        }
        for (field, heading) in raw.columns.named() {
            if heading.trim().is_empty() {
                problem(format!("columns.{field}"), "is empty".into());
            }
        }
        if raw.columns.longitude.is_some() != raw.columns.latitude.is_some() {
            problem(
                "columns.longitude".into(),
                "name both longitude and latitude, or neither".into(),
            );
        }
        let mut categories = BTreeMap::new();
        for (name, c) in raw.categories {
            let (code, attributes) = match c {
                CategoryFile::Code(code) => (code, BTreeMap::new()),
                CategoryFile::Detailed { code, attributes } => (code, attributes),
            };
            match code.trim().parse() {
                Ok(code) => {
                    categories.insert(name.trim().to_owned(), CategoryMapping { code, attributes });
                }
                Err(e) => problem(format!("categories.{name}"), format!("{code}: {e}")),
            }
        }
        let mut statuses = BTreeMap::new();
        for (word, target) in raw.statuses {
            match Entry::parse(target.trim()) {
                Some(entry) => {
                    statuses.insert(word.trim().to_owned(), entry);
                }
                None => problem(
                    format!("statuses.{word}"),
                    format!("`{target}` is not one of reported, accepted, skip"),
                ),
            }
        }
        if statuses.is_empty() {
            problem("statuses".into(), "map at least one status word".into());
        }
        if let Some(format) = &raw.time_format
            && jiff::fmt::strtime::format(format, jiff::civil::date(2026, 1, 2).at(3, 4, 5, 0))
                .is_err()
        {
            problem(
                "time_format".into(),
                format!("`{format}` is not a time format"),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Mapping {
            source,
            sheet: raw.sheet.filter(|s| !s.trim().is_empty()),
            time_format: raw.time_format,
            columns: raw.columns,
            categories,
            statuses,
        })
    }

    /// A time as the export writes it, in the calendar's time zone's civil time.
    pub fn parse_time(&self, text: &str) -> Option<jiff::civil::DateTime> {
        let text = text.trim();
        if let Some(format) = &self.time_format {
            return jiff::civil::DateTime::strptime(format, text)
                .ok()
                .or_else(|| {
                    jiff::civil::Date::strptime(format, text)
                        .ok()
                        .map(|d| d.at(0, 0, 0, 0))
                });
        }
        const FORMS: &[&str] = &[
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y/%m/%d %H:%M:%S",
            "%Y/%m/%d %H:%M",
            "%Y年%m月%d日 %H:%M:%S",
            "%Y年%m月%d日 %H:%M",
            "%Y-%m-%dT%H:%M:%S",
        ];
        FORMS
            .iter()
            .find_map(|f| jiff::civil::DateTime::strptime(f, text).ok())
            .or_else(|| {
                ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"]
                    .iter()
                    .find_map(|f| jiff::civil::Date::strptime(f, text).ok())
                    .map(|d| d.at(0, 0, 0, 0))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
source = "12345"
[columns]
ticket = "工单编号"
description = "诉求内容"
status = "工单状态"
category = "问题分类"
[categories]
"路灯故障" = { code = "01007", attributes = { fault = "dark" } }
"井盖缺失" = "01001"
[statuses]
"待签收" = "reported"
"已签收" = "accepted"
"已办结" = "skip"
"#;

    #[test]
    fn a_good_mapping_is_read() {
        let m = Mapping::parse("m.toml", GOOD).expect("good");
        assert_eq!(m.source, "12345");
        assert_eq!(m.statuses.get("已签收"), Some(&Entry::Accepted));
        let light = m.categories.get("路灯故障").expect("light");
        assert_eq!(light.code.as_str(), "01007");
        assert_eq!(
            light.attributes.get("fault").map(String::as_str),
            Some("dark")
        );
        assert_eq!(
            m.columns
                .named()
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>(),
            ["ticket", "description", "status", "category"]
        );
    }

    #[test]
    fn every_problem_is_named_by_key() {
        let bad = GOOD
            .replace("\"reported\"", "\"closed\"")
            .replace("\"01001\"", "\"1x\"")
            .replace("source = \"12345\"", "source = \"\"");
        let problems = Mapping::parse("m.toml", &bad).expect_err("bad");
        let fields: Vec<&str> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
        assert_eq!(
            fields,
            ["source", "categories.井盖缺失", "statuses.待签收"],
            "{problems:?}"
        );
        let unknown = Mapping::parse("m.toml", &format!("colour = 1\n{GOOD}")).expect_err("x");
        assert!(unknown[0].to_string().contains("colour"), "{unknown:?}");
        let half = GOOD.replace("category = \"问题分类\"", "longitude = \"经度\"");
        let problems = Mapping::parse("m.toml", &half).expect_err("half");
        assert_eq!(problems[0].field.as_deref(), Some("columns.longitude"));
    }

    #[test]
    fn times_are_read_in_the_usual_forms_or_the_given_one() {
        let m = Mapping::parse("m.toml", GOOD).expect("good");
        let t = |s: &str| m.parse_time(s).map(|d| d.to_string());
        assert_eq!(
            t("2026-12-07 08:30:00").as_deref(),
            Some("2026-12-07T08:30:00")
        );
        assert_eq!(t("2026/12/7 8:30").as_deref(), Some("2026-12-07T08:30:00"));
        assert_eq!(
            t("2026年12月07日 08:30").as_deref(),
            Some("2026-12-07T08:30:00")
        );
        assert_eq!(t("2026-12-07").as_deref(), Some("2026-12-07T00:00:00"));
        assert_eq!(t("yesterday"), None);
        let m = Mapping::parse(
            "m.toml",
            &GOOD.replace(
                "source = \"12345\"",
                "source = \"12345\"\ntime_format = \"%d.%m.%Y %H:%M\"",
            ),
        )
        .expect("good");
        assert_eq!(
            m.parse_time("07.12.2026 08:30")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-12-07T08:30:00")
        );
        assert_eq!(m.parse_time("2026-12-07 08:30:00"), None);
    }
}
