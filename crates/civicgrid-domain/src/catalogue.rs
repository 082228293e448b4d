//! The category catalogue: a two-level tree of components (部件) and matters (事项), each minor
//! category with its default priority, its stage deadlines per priority, and the attributes a
//! report must carry (in the style of Open311 service definitions).
//!
//! Codes: a major category has 2 digits ("01"); a minor category has its major's 2 digits
//! followed by 3 ("01001"), as in GB/T 47678.5.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::TimeLimit;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error(
        "`{0}` is not a category code (expected 2 digits for a major or 5 for a minor category)"
    )]
    BadCode(String),
    #[error("category {0} has no major category {1} in the catalogue")]
    MissingMajor(String, String),
    #[error("category {0} is listed twice")]
    Duplicate(String),
    #[error("minor category {code} has no {stage} deadline for priority {priority}")]
    MissingDeadline {
        code: String,
        stage: Stage,
        priority: Priority,
    },
    #[error("category {code}: attribute `{attribute}`: {problem}")]
    BadAttribute {
        code: String,
        attribute: String,
        problem: String,
    },
    #[error("`{0}` is not a {1}")]
    UnknownValue(String, &'static str),
}

/// A validated category code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn is_major(&self) -> bool {
        self.0.len() == 2
    }
    /// The major category of a minor one; a major is its own major.
    pub fn major(&self) -> CategoryCode {
        CategoryCode(self.0[..2].to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether `other` is this category or lies under it.
    pub fn covers(&self, other: &CategoryCode) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl FromStr for CategoryCode {
    type Err = CatalogueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if matches!(s.len(), 2 | 5) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CategoryCode(s.to_owned()))
        } else {
            Err(CatalogueError::BadCode(s.to_owned()))
        }
    }
}

impl TryFrom<String> for CategoryCode {
    type Error = CatalogueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CategoryCode> for String {
    fn from(c: CategoryCode) -> String {
        c.0
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = CatalogueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| CatalogueError::UnknownValue(s.to_owned(), $what))
            }
        }
    };
}

text_enum!(
    /// 部件 (a city component with an owner) or 事项 (an event or matter).
    CategoryKind, "category kind (component or matter)", {
    Component = "component",
    Matter = "matter",
});

text_enum!(
    /// How fast a case must move; every minor category has deadlines for each.
    Priority, "priority (urgent, high or normal)", {
    Urgent = "urgent",
    High = "high",
    Normal = "normal",
});

text_enum!(
    /// The stages of the loop that carry a deadline.
    Stage, "stage (accept, dispatch, handle or verify)", {
    Accept = "accept",
    Dispatch = "dispatch",
    Handle = "handle",
    Verify = "verify",
});

text_enum!(
    /// How a report of the category is taken in over Open311 (its service `type`): realtime
    /// answers with the service request id at once; batch answers with a token, and the id is
    /// issued when a call-taker accepts the report (受理), for matters that are reviewed first.
    ServiceType, "service type (realtime or batch)", {
    Realtime = "realtime",
    Batch = "batch",
});

text_enum!(
    /// Open311 attribute datatypes.
    AttributeType, "attribute datatype", {
    String = "string",
    Number = "number",
    Datetime = "datetime",
    Text = "text",
    SingleValueList = "singlevaluelist",
    MultiValueList = "multivaluelist",
});

/// One allowed value of a list attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// A field a report of this category must or may carry (Open311 service definition attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDef {
    pub code: String,
    pub datatype: AttributeType,
    pub required: bool,
    pub description: String,
    /// Position in the form, 1-based.
    pub order: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<AttributeValue>,
}

/// Stage deadlines for each priority.
pub type DeadlineTable = BTreeMap<Priority, BTreeMap<Stage, TimeLimit>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub code: CategoryCode,
    pub name_zh: String,
    pub name_en: String,
    pub kind: CategoryKind,
    pub default_priority: Priority,
    pub service_type: ServiceType,
    /// Empty for a major category; complete (every priority × stage) for a minor one.
    pub deadlines: DeadlineTable,
    pub attributes: Vec<AttributeDef>,
}

impl Category {
    pub fn deadline(&self, priority: Priority, stage: Stage) -> Option<TimeLimit> {
        self.deadlines.get(&priority)?.get(&stage).copied()
    }

    /// Checks a report's attributes against this category's definitions: every required one
    /// present, no unknown ones, and each value of its datatype. Returns (attribute, problem)
    /// pairs.
    pub fn check_attributes(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<(), Vec<(String, String)>> {
        let mut problems = Vec::new();
        for name in given.keys() {
            if !self.attributes.iter().any(|a| &a.code == name) {
                problems.push((
                    name.clone(),
                    format!("category {} has no attribute `{name}`", self.code),
                ));
            }
        }
        for a in &self.attributes {
            let value = given
                .get(&a.code)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty());
            let Some(v) = value else {
                if a.required {
                    problems.push((a.code.clone(), format!("is required ({})", a.description)));
                }
                continue;
            };
            let known = |k: &str| a.values.iter().any(|x| x.key == k);
            let ok = match a.datatype {
                AttributeType::String => v.chars().count() <= 200,
                AttributeType::Text => v.chars().count() <= 5000,
                AttributeType::Number => v.parse::<f64>().is_ok_and(f64::is_finite),
                AttributeType::Datetime => {
                    v.parse::<jiff::Timestamp>().is_ok()
                        || v.parse::<jiff::civil::DateTime>().is_ok()
                }
                AttributeType::SingleValueList => known(v),
                AttributeType::MultiValueList => v.split(',').map(str::trim).all(known),
            };
            if !ok {
                let expected = match a.datatype {
                    AttributeType::String => "text of at most 200 characters".to_owned(),
                    AttributeType::Text => "text of at most 5000 characters".to_owned(),
                    AttributeType::Number => "a number".to_owned(),
                    AttributeType::Datetime => "a date and time (RFC 3339)".to_owned(),
                    AttributeType::SingleValueList | AttributeType::MultiValueList => format!(
                        "one of {}",
                        a.values
                            .iter()
                            .map(|x| x.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                problems.push((a.code.clone(), format!("`{v}` is not {expected}")));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A validated catalogue: every minor has its major, codes are unique, deadlines complete.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalogue {
    categories: BTreeMap<CategoryCode, Category>,
}

impl Catalogue {
    pub fn new(categories: Vec<Category>) -> Result<Self, CatalogueError> {
        let mut map = BTreeMap::new();
        for c in categories {
            validate_category(&c)?;
            let code = c.code.clone();
            if map.insert(code.clone(), c).is_some() {
                return Err(CatalogueError::Duplicate(code.to_string()));
            }
        }
        for code in map.keys() {
            if !code.is_major() && !map.contains_key(&code.major()) {
                return Err(CatalogueError::MissingMajor(
                    code.to_string(),
                    code.major().to_string(),
                ));
            }
        }
        Ok(Catalogue { categories: map })
    }

    pub fn get(&self, code: &CategoryCode) -> Option<&Category> {
        self.categories.get(code)
    }

    /// Majors and minors in code order (each major directly before its minors).
    pub fn iter(&self) -> impl Iterator<Item = &Category> {
        self.categories.values()
    }

    pub fn len(&self) -> usize {
        self.categories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    pub fn minors(&self) -> impl Iterator<Item = &Category> {
        self.categories.values().filter(|c| !c.code.is_major())
    }

    pub fn into_vec(self) -> Vec<Category> {
        self.categories.into_values().collect()
    }
}

fn validate_category(c: &Category) -> Result<(), CatalogueError> {
    if !c.code.is_major() {
        for &priority in Priority::ALL {
            for &stage in Stage::ALL {
                if c.deadline(priority, stage).is_none() {
                    return Err(CatalogueError::MissingDeadline {
                        code: c.code.to_string(),
                        stage,
                        priority,
                    });
                }
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for a in &c.attributes {
        let bad = |problem: &str| CatalogueError::BadAttribute {
            code: c.code.to_string(),
            attribute: a.code.clone(),
            problem: problem.to_owned(),
        };
        if a.code.is_empty()
            || !a
                .code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(bad("codes are letters, digits and '_'"));
        }
        if !seen.insert(a.code.as_str()) {
            return Err(bad("listed twice"));
        }
        let is_list = matches!(
            a.datatype,
            AttributeType::SingleValueList | AttributeType::MultiValueList
        );
        if is_list && a.values.is_empty() {
            return Err(bad("a list attribute needs values"));
        }
        if !is_list && !a.values.is_empty() {
            return Err(bad("only list attributes take values"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ClockType;

    fn full_table() -> DeadlineTable {
        Priority::ALL
            .iter()
            .map(|&p| {
                (
                    p,
                    Stage::ALL
                        .iter()
                        .map(|&s| {
                            (
                                s,
                                TimeLimit {
                                    clock: ClockType::WorkingHours,
                                    amount: 60,
                                },
                            )
                        })
                        .collect(),
                )
            })
            .collect()
    }

    fn cat(code: &str, deadlines: DeadlineTable) -> Category {
        Category {
            code: code.parse().expect("code"),
            name_zh: "井盖".into(),
            name_en: "Manhole cover".into(),
            kind: CategoryKind::Component,
            default_priority: Priority::Normal,
            service_type: ServiceType::Realtime,
            deadlines,
            attributes: vec![],
        }
    }

    #[test]
    fn codes() {
        let minor: CategoryCode = "01001".parse().expect("minor");
        assert!(!minor.is_major());
        assert_eq!(minor.major().as_str(), "01");
        assert!(minor.major().covers(&minor));
        for bad in ["1", "001", "0100", "010011", "ab"] {
            assert!(bad.parse::<CategoryCode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn catalogue_validation() {
        assert!(
            Catalogue::new(vec![cat("01", BTreeMap::new()), cat("01001", full_table())]).is_ok()
        );
        assert!(matches!(
            Catalogue::new(vec![cat("01001", full_table())]),
            Err(CatalogueError::MissingMajor(..))
        ));
        assert!(matches!(
            Catalogue::new(vec![cat("01", BTreeMap::new()), cat("01", BTreeMap::new())]),
            Err(CatalogueError::Duplicate(_))
        ));
        let mut partial = full_table();
        partial
            .get_mut(&Priority::High)
            .expect("high")
            .remove(&Stage::Verify);
        assert!(matches!(
            Catalogue::new(vec![cat("01", BTreeMap::new()), cat("01001", partial)]),
            Err(CatalogueError::MissingDeadline {
                stage: Stage::Verify,
                priority: Priority::High,
                ..
            })
        ));
        let mut with_list = cat("01001", full_table());
        with_list.attributes.push(AttributeDef {
            code: "damage".into(),
            datatype: AttributeType::SingleValueList,
            required: true,
            description: "损坏情况".into(),
            order: 1,
            values: vec![],
        });
        assert!(matches!(
            Catalogue::new(vec![cat("01", BTreeMap::new()), with_list]),
            Err(CatalogueError::BadAttribute { .. })
        ));
    }

    #[test]
    fn attributes_are_checked_against_their_definitions() {
        let mut c = cat("01001", full_table());
        c.attributes = vec![
            AttributeDef {
                code: "damage".into(),
                datatype: AttributeType::SingleValueList,
                required: true,
                description: "损坏情况".into(),
                order: 1,
                values: vec![AttributeValue {
                    key: "missing".into(),
                    name: "丢失".into(),
                }],
            },
            AttributeDef {
                code: "count".into(),
                datatype: AttributeType::Number,
                required: false,
                description: "数量".into(),
                order: 2,
                values: vec![],
            },
        ];
        let attrs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(c.check_attributes(&attrs(&[("damage", "missing")])).is_ok());
        assert!(
            c.check_attributes(&attrs(&[("damage", "missing"), ("count", "2")]))
                .is_ok()
        );
        let problems = c
            .check_attributes(&attrs(&[("count", "two"), ("colour", "red")]))
            .expect_err("three problems");
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["colour", "damage", "count"]);
        assert!(c.check_attributes(&attrs(&[("damage", "stolen")])).is_err());
    }

    #[test]
    fn enums_parse() {
        assert_eq!(
            "singlevaluelist".parse(),
            Ok(AttributeType::SingleValueList)
        );
        assert_eq!("urgent".parse(), Ok(Priority::Urgent));
        assert!("asap".parse::<Priority>().is_err());
        assert_eq!("matter".parse(), Ok(CategoryKind::Matter));
    }
}
