//! Published lists (权力清单 and 责任清单): each published as numbered versions with the
//! day they take effect; the version in force on a day is the latest that took effect by
//! then; two versions are compared entry by entry (added, removed, which fields changed).
//! A version never changes once published: a correction is a new version.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// 权力清单: the street's powers.
    Power,
    /// 责任清单: who answers for which matter where (the routing list, as published).
    Responsibility,
}

impl ListKind {
    pub const ALL: &[ListKind] = &[ListKind::Power, ListKind::Responsibility];
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Power => "power",
            ListKind::Responsibility => "responsibility",
        }
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ListKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ListKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a list (power or responsibility)"))
    }
}

/// One power of the street (a line of the 权力清单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Power {
    /// The list's own code for it (e.g. `QL-XK-001`).
    pub code: String,
    pub name: String,
    /// 行政许可, 行政处罚, 行政检查, 行政确认, 公共服务, 其他.
    pub category: String,
    /// The legal basis (law, article).
    pub basis: String,
    /// The unit that exercises it (a unit code).
    pub unit: String,
    /// How it is exercised, step by step.
    pub process: String,
    /// The time limit, as the law words it (e.g. 20个工作日).
    pub time_limit: String,
    /// Where to complain about it (the supervision channel, a phone line).
    pub supervision: String,
}

/// The columns of a power list file, in order.
pub const POWER_COLUMNS: [&str; 8] = [
    "code",
    "name",
    "category",
    "basis",
    "unit",
    "process",
    "time_limit",
    "supervision",
];

impl Power {
    /// The fields by column name, for comparing versions.
    pub fn fields(&self) -> BTreeMap<String, String> {
        [
            ("code", &self.code),
            ("name", &self.name),
            ("category", &self.category),
            ("basis", &self.basis),
            ("unit", &self.unit),
            ("process", &self.process),
            ("time_limit", &self.time_limit),
            ("supervision", &self.supervision),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
    }

    /// Each problem as (field, message): every field given, within length, a code of
    /// letters, digits and dashes.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (field, value) in self.fields() {
            let max = if field == "process" || field == "basis" {
                2000
            } else {
                200
            };
            let n = value.trim().chars().count();
            if n == 0 || n > max || value.contains('\0') {
                out.push((field, format!("1 to {max} characters")));
            }
        }
        if !self
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push((
                "code".to_owned(),
                "letters, digits, - and _ only".to_owned(),
            ));
        }
        out
    }
}

/// One entry of a published version: its key and its fields.
pub type Entry = (String, BTreeMap<String, String>);

/// What changed between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Added {
        key: String,
    },
    Removed {
        key: String,
    },
    /// The fields whose values differ: (field, before, after).
    Changed {
        key: String,
        fields: Vec<(String, String, String)>,
    },
}

/// Compares two versions' entries by key, in key order.
pub fn diff(before: &[Entry], after: &[Entry]) -> Vec<Change> {
    let old: BTreeMap<&str, &BTreeMap<String, String>> =
        before.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let new: BTreeMap<&str, &BTreeMap<String, String>> =
        after.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut keys: Vec<&str> = old.keys().chain(new.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (None, Some(_)) => out.push(Change::Added {
                key: key.to_owned(),
            }),
            (Some(_), None) => out.push(Change::Removed {
                key: key.to_owned(),
            }),
            (Some(a), Some(b)) if a != b => {
                let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
                names.sort_unstable();
                names.dedup();
                let fields = names
                    .into_iter()
                    .filter_map(|f| {
                        let x = a.get(f).cloned().unwrap_or_default();
                        let y = b.get(f).cloned().unwrap_or_default();
                        (x != y).then(|| (f.clone(), x, y))
                    })
                    .collect();
                out.push(Change::Changed {
                    key: key.to_owned(),
                    fields,
                });
            }
            _ => {}
        }
    }
    out
}

/// Checks a power list: no two powers share a code; each power's problems, by line
/// (1-based, as in the file after its header).
pub fn check_powers(powers: &[Power]) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, p) in powers.iter().enumerate() {
        for (field, message) in p.problems() {
            out.push((i + 1, field, message));
        }
        if let Some(first) = seen.insert(p.code.clone(), i + 1) {
            out.push((
                i + 1,
                "code".to_owned(),
                format!("`{}` is on line {first} already", p.code),
            ));
        }
    }
    if powers.is_empty() {
        out.push((
            0,
            "file".to_owned(),
            "a list has at least one entry".to_owned(),
        ));
    }
    out
}

/// The version in force on `day`: the latest (by effective day, then number) that took
/// effect on or before it. `versions` holds (number, effective_from).
pub fn in_force(versions: &[(u32, Date)], day: Date) -> Option<u32> {
    versions
        .iter()
        .filter(|(_, from)| *from <= day)
        .max_by_key(|(n, from)| (*from, *n))
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn power(code: &str, limit: &str) -> Power {
        Power {
            code: code.into(),
            name: "临时占用道路审批".into(),
            category: "行政许可".into(),
            basis: "《城市道路管理条例》第三十一条".into(),
            unit: "ST001".into(),
            process: "申请—受理—审查—决定".into(),
            time_limit: limit.into(),
            supervision: "监督举报平台".into(),
        }
    }

    fn entries(ps: &[Power]) -> Vec<Entry> {
        ps.iter().map(|p| (p.code.clone(), p.fields())).collect()
    }

    #[test]
    fn versions_are_compared_entry_by_entry() {
        let v1 = entries(&[power("A", "20个工作日"), power("B", "10个工作日")]);
        let v2 = entries(&[power("A", "15个工作日"), power("C", "5个工作日")]);
        assert_eq!(
            diff(&v1, &v2),
            vec![
                Change::Changed {
                    key: "A".into(),
                    fields: vec![(
                        "time_limit".into(),
                        "20个工作日".into(),
                        "15个工作日".into()
                    )]
                },
                Change::Removed { key: "B".into() },
                Change::Added { key: "C".into() },
            ]
        );
        assert!(diff(&v1, &v1).is_empty());
    }

    #[test]
    fn a_list_is_checked_line_by_line() {
        let mut bad = power("A", "");
        bad.code = "A B".into();
        let problems = check_powers(&[power("A", "1天"), bad, power("A", "2天")]);
        assert!(
            problems
                .iter()
                .any(|(l, f, _)| *l == 2 && f == "time_limit")
        );
        assert!(problems.iter().any(|(l, f, _)| *l == 2 && f == "code"));
        assert!(
            problems
                .iter()
                .any(|(l, f, m)| *l == 3 && f == "code" && m.contains("line 1"))
        );
        assert!(check_powers(&[power("A", "1天")]).is_empty());
        assert!(!check_powers(&[]).is_empty());
    }

    #[test]
    fn the_version_in_force_is_the_latest_that_took_effect() {
        let d = |s: &str| s.parse::<Date>().expect("day");
        let versions = [
            (1, d("2026-01-01")),
            (2, d("2026-07-01")),
            (3, d("2026-04-01")),
        ];
        assert_eq!(in_force(&versions, d("2025-12-31")), None);
        assert_eq!(in_force(&versions, d("2026-03-31")), Some(1));
        assert_eq!(in_force(&versions, d("2026-04-01")), Some(3));
        assert_eq!(in_force(&versions, d("2026-08-01")), Some(2));
    }

    proptest! {
        /// Applying a diff's view of the world: every key of `after` is either added or
        /// kept; every key of `before` missing from `after` is removed; nothing else appears.
        #[test]
        fn a_diff_accounts_for_every_key(
            a in prop::collection::btree_map("[A-E]", "[xy]{1,2}", 0..5),
            b in prop::collection::btree_map("[A-E]", "[xy]{1,2}", 0..5),
        ) {
            let to_entries = |m: &BTreeMap<String, String>| -> Vec<Entry> {
                m.iter().map(|(k, v)| (k.clone(), [("v".to_owned(), v.clone())].into_iter().collect())).collect()
            };
            let changes = diff(&to_entries(&a), &to_entries(&b));
            for (k, v) in &b {
                let added = changes.contains(&Change::Added { key: k.clone() });
                let changed = changes.iter().any(|c| matches!(c, Change::Changed { key, .. } if key == k));
                prop_assert_eq!(added, !a.contains_key(k));
                prop_assert_eq!(changed, a.get(k).is_some_and(|x| x != v));
            }
            for k in a.keys() {
                prop_assert_eq!(changes.contains(&Change::Removed { key: k.clone() }), !b.contains_key(k));
            }
        }
    }
}
