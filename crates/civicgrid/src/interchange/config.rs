//! TOML configuration: the working calendar and the roles.

use std::collections::{BTreeMap, BTreeSet};

use civicgrid_domain::access::{Permission, Role};
use civicgrid_domain::calendar::{DayKind, SpecialDay, WorkingCalendar, WorkingWindow};
use civicgrid_store::CalendarUpdate;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::toml_error;
use crate::error::InputError;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    name: String,
    from: String,
    to: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    make_up: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct YearEntry {
    year: i16,
    #[serde(default)]
    holidays: Vec<HolidayEntry>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    windows: Option<Vec<String>>,
    #[serde(default)]
    year: Vec<YearEntry>,
}

/// Reads a calendar file. Settings left out keep their defaults (Asia/Shanghai, 08:30–12:00 and
/// 13:30–17:30). Each year listed replaces that year's holidays and make-up days entirely.
pub fn read_calendar(file: &str, text: &str) -> Result<CalendarUpdate, Vec<InputError>> {
    let parsed: CalendarFile =
        toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let fail = |field: String, m: String| {
        vec![InputError {
            file: file.to_owned(),
            location: crate::error::Location::File,
            field: Some(field),
            message: m,
        }]
    };
    let time_zone = parsed.time_zone.unwrap_or_else(|| "Asia/Shanghai".into());
    let windows = match parsed.windows {
        None => WorkingCalendar::standard_windows(),
        Some(ws) => ws
            .iter()
            .map(|w| w.parse::<WorkingWindow>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail("windows".into(), e.to_string()))?,
    };
    let mut years = Vec::new();
    let mut seen_years = BTreeSet::new();
    for y in &parsed.year {
        if !seen_years.insert(y.year) {
            return Err(fail(
                "year".into(),
                format!("year {} is listed twice", y.year),
            ));
        }
        let mut days = Vec::new();
        for (i, h) in y.holidays.iter().enumerate() {
            let field =
                |name: &str| format!("year {} holiday {} ({}).{name}", y.year, i + 1, h.name);
            let date = |name: &str, s: &str| -> Result<Date, Vec<InputError>> {
                let d: Date = s
                    .parse()
                    .map_err(|e| fail(field(name), format!("`{s}` is not a date: {e}")))?;
                if d.year() != y.year {
                    return Err(fail(field(name), format!("{d} is not in {}", y.year)));
                }
                Ok(d)
            };
            let from = date("from", &h.from)?;
            let to = date("to", &h.to)?;
            if to < from {
                return Err(fail(field("to"), format!("{to} is before {from}")));
            }
            if from.until(to).map(|s| s.get_days()).unwrap_or(0) > 31 {
                return Err(fail(
                    field("to"),
                    "a holiday longer than a month is surely a typo".into(),
                ));
            }
            let mut d = from;
            while d <= to {
                days.push(SpecialDay {
                    date: d,
                    kind: DayKind::Holiday,
                    name: h.name.clone(),
                });
                match d.tomorrow() {
                    Ok(next) => d = next,
                    Err(_) => break,
                }
            }
            for m in &h.make_up {
                days.push(SpecialDay {
                    date: date("make_up", m)?,
                    kind: DayKind::MakeUpWorkday,
                    name: h.name.clone(),
                });
            }
        }
        years.push((y.year, days));
    }
    // Validate the whole thing the way the domain will use it.
    let all: Vec<SpecialDay> = years.iter().flat_map(|(_, d)| d.clone()).collect();
    WorkingCalendar::new(&time_zone, windows.clone(), all)
        .map_err(|e| vec![InputError::file(file, e.to_string())])?;
    Ok(CalendarUpdate {
        time_zone,
        windows,
        years,
    })
}

/// Writes a calendar in the format [`read_calendar`] reads, one entry per run of days off.
pub fn write_calendar(cal: &WorkingCalendar) -> String {
    let mut by_year: BTreeMap<i16, Vec<HolidayEntry>> = BTreeMap::new();
    let mut make_ups: BTreeMap<(i16, String), Vec<String>> = BTreeMap::new();
    for d in cal.special_days() {
        match d.kind {
            DayKind::MakeUpWorkday => make_ups
                .entry((d.date.year(), d.name.clone()))
                .or_default()
                .push(d.date.to_string()),
            DayKind::Holiday => {
                let entries = by_year.entry(d.date.year()).or_default();
                let extends = entries.last_mut().filter(|e| {
                    e.name == d.name
                        && e.to.parse::<Date>().ok().and_then(|t| t.tomorrow().ok()) == Some(d.date)
                });
                match extends {
                    Some(e) => e.to = d.date.to_string(),
                    None => entries.push(HolidayEntry {
                        name: d.name.clone(),
                        from: d.date.to_string(),
                        to: d.date.to_string(),
                        make_up: vec![],
                    }),
                }
            }
        }
    }
    for ((year, name), days) in make_ups {
        let entries = by_year.entry(year).or_default();
        match entries.iter_mut().find(|e| e.name == name) {
            Some(e) => e.make_up.extend(days),
            // A make-up day whose holiday is not listed keeps its name on an empty range.
            None => {
                if let Some(first) = days.first() {
                    entries.push(HolidayEntry {
                        name,
                        from: first.clone(),
                        to: first.clone(),
                        make_up: days,
                    })
                }
            }
        }
    }
    let file = CalendarFile {
        time_zone: Some(cal.time_zone_name().to_owned()),
        windows: Some(cal.windows().iter().map(|w| w.to_string()).collect()),
        year: by_year
            .into_iter()
            .map(|(year, holidays)| YearEntry { year, holidays })
            .collect(),
    };
    toml::to_string(&file).unwrap_or_default()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    code: String,
    zh: String,
    en: String,
    permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    role: Vec<RoleEntry>,
}

pub fn read_roles(file: &str, text: &str) -> Result<Vec<Role>, Vec<InputError>> {
    let parsed: RolesFile = toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let mut roles = Vec::new();
    let mut errors = Vec::new();
    let mut codes = BTreeSet::new();
    for r in parsed.role {
        if !codes.insert(r.code.clone()) {
            errors.push(InputError::file(
                file,
                format!("role `{}` is listed twice", r.code),
            ));
        }
        let mut permissions = BTreeSet::new();
        for p in &r.permissions {
            match p.parse::<Permission>() {
                Ok(p) => {
                    permissions.insert(p);
                }
                Err(e) => errors.push(InputError {
                    file: file.to_owned(),
                    location: crate::error::Location::File,
                    field: Some(format!("role {}.permissions", r.code)),
                    message: e,
                }),
            }
        }
        roles.push(Role {
            code: r.code,
            name_zh: r.zh,
            name_en: r.en,
            permissions,
        });
    }
    if errors.is_empty() {
        Ok(roles)
    } else {
        Err(errors)
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AssessmentFile {
    /// The fewest cases a subject needs in a period to be scored (5 when not given).
    #[serde(default)]
    min_cases: Option<u64>,
    bands: BTreeMap<String, f64>,
    weights: BTreeMap<String, BTreeMap<String, f64>>,
}

/// Reads the assessment scheme: grade bands and the weight of each rate per kind of subject.
pub fn read_assessment(
    file: &str,
    text: &str,
) -> Result<civicgrid_domain::kpi::Scheme, Vec<InputError>> {
    let parsed: AssessmentFile =
        toml::from_str(text).map_err(|e| vec![toml_error(file, text, &e)])?;
    let mut bands: Vec<(char, f64)> = Vec::new();
    let mut errors = Vec::new();
    for (g, min) in &parsed.bands {
        match g.chars().collect::<Vec<_>>().as_slice() {
            [c] => bands.push((*c, *min)),
            _ => errors.push(InputError {
                file: file.to_owned(),
                location: crate::error::Location::File,
                field: Some(format!("bands.{g}")),
                message: "a grade is one letter".into(),
            }),
        }
    }
    bands.sort_by_key(|b| b.0);
    let scheme = civicgrid_domain::kpi::Scheme {
        weights: parsed.weights,
        bands,
        min_cases: parsed
            .min_cases
            .unwrap_or(civicgrid_domain::kpi::DEFAULT_MIN_CASES),
    };
    for (field, message) in scheme.problems() {
        errors.push(InputError {
            file: file.to_owned(),
            location: crate::error::Location::File,
            field: Some(field),
            message,
        });
    }
    if errors.is_empty() {
        Ok(scheme)
    } else {
        Err(errors)
    }
}

pub fn write_assessment(scheme: &civicgrid_domain::kpi::Scheme) -> String {
    let file = AssessmentFile {
        min_cases: Some(scheme.min_cases),
        bands: scheme
            .bands
            .iter()
            .map(|(g, m)| (g.to_string(), *m))
            .collect(),
        weights: scheme.weights.clone(),
    };
    toml::to_string(&file).unwrap_or_default()
}

#[cfg(test)]
mod assessment_tests {
    #[test]
    fn the_shipped_scheme_is_the_default_and_round_trips() {
        let shipped = super::read_assessment(
            "data/assessment.toml",
            include_str!("../../../../data/assessment.toml"),
        )
        .expect("shipped scheme");
        assert_eq!(shipped, civicgrid_domain::kpi::Scheme::default());
        let again = super::read_assessment("x.toml", &super::write_assessment(&shipped))
            .expect("round trip");
        assert_eq!(again, shipped);
    }

    #[test]
    fn bad_schemes_name_the_field() {
        let text = "[bands]\nA = 90\nB = 95\nC = 60\nD = 40\n[weights.unit]\nresponse_rate = -1\nspeed = 3\n[weights.mayor]\nresponse_rate = 1\n";
        let errors = super::read_assessment("a.toml", text).expect_err("bad");
        let fields: Vec<String> = errors.iter().filter_map(|e| e.field.clone()).collect();
        for f in [
            "bands",
            "weights.unit.response_rate",
            "weights.unit.speed",
            "weights.mayor",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f}: {fields:?}");
        }
    }
}
