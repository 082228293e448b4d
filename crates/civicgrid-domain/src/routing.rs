//! Units and the responsibility list (责任清单): which unit must act on a case.
//!
//! A rule says: for this category (a major covers its minors), in this region subtree,
//! optionally only when an attribute has a given value, the primary unit is X and the
//! co-handling units are Y. Each rule is either an owner rule (属主: the unit that owns the
//! component) or a locality rule (属地: the unit responsible for the place).
//!
//! Ordering when several rules match:
//! 1. components go to their owner first, matters to the locality first
//!    (部件先属主后属地, 事件先属地后属主);
//! 2. then the more specific rule: deeper region, then minor over major category, then a rule
//!    with an attribute condition over one without;
//! 3. then the earlier rule in the published list.
//!
//! When no rule matches, the case falls back (兜底) to the locality: the community committee of
//! the case's community, else the street office, else the district government.

pub mod reason;

pub use reason::Reason;

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalogue::{CategoryCode, CategoryKind};
use crate::territory::{RegionCode, RegionLevel};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("unknown unit kind `{0}`")]
    UnknownUnitKind(String),
    #[error("unknown basis `{0}` (expected owner or locality)")]
    UnknownBasis(String),
    #[error("`{0}` is not a unit code (expected 1 to 32 letters, digits, '-' or '_')")]
    BadUnitCode(String),
    #[error(
        "no rule matches and no locality unit (community committee, street office or district government) covers region {0}"
    )]
    NoLocalityUnit(RegionCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 区县人民政府
    DistrictGovernment,
    /// 街道办事处 / 乡镇人民政府
    StreetOffice,
    /// 社区居委会 / 村委会
    CommunityCommittee,
    /// 职能部门 (城管、住建、交通…)
    Department,
    /// 公用事业单位 (供水、供电、燃气…): owners of many components
    PublicUtility,
    /// 物业服务企业
    PropertyCompany,
    /// 社会组织
    SocialOrganisation,
    /// 党组织
    PartyOrganisation,
}

impl UnitKind {
    pub const ALL: &[UnitKind] = &[
        UnitKind::DistrictGovernment,
        UnitKind::StreetOffice,
        UnitKind::CommunityCommittee,
        UnitKind::Department,
        UnitKind::PublicUtility,
        UnitKind::PropertyCompany,
        UnitKind::SocialOrganisation,
        UnitKind::PartyOrganisation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::DistrictGovernment => "district_government",
            UnitKind::StreetOffice => "street_office",
            UnitKind::CommunityCommittee => "community_committee",
            UnitKind::Department => "department",
            UnitKind::PublicUtility => "public_utility",
            UnitKind::PropertyCompany => "property_company",
            UnitKind::SocialOrganisation => "social_organisation",
            UnitKind::PartyOrganisation => "party_organisation",
        }
    }

    /// The locality unit kind for a region level (the fallback chain).
    pub fn locality_for(level: RegionLevel) -> UnitKind {
        match level {
            RegionLevel::District => UnitKind::DistrictGovernment,
            RegionLevel::Street => UnitKind::StreetOffice,
            RegionLevel::Community => UnitKind::CommunityCommittee,
        }
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UnitKind {
    type Err = RoutingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| RoutingError::UnknownUnitKind(s.to_owned()))
    }
}

/// A department, committee, company or organisation that handles cases, scoped to a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub region: RegionCode,
}

impl Unit {
    pub fn validate_code(code: &str) -> Result<(), RoutingError> {
        let ok = (1..=32).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(RoutingError::BadUnitCode(code.to_owned()))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// 属主: the owner of the component.
    Owner,
    /// 属地: the unit responsible for the place.
    Locality,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Owner => "owner",
            Basis::Locality => "locality",
        }
    }
}

impl FromStr for Basis {
    type Err = RoutingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" | "属主" => Ok(Basis::Owner),
            "locality" | "属地" => Ok(Basis::Locality),
            other => Err(RoutingError::UnknownBasis(other.to_owned())),
        }
    }
}

/// `attribute = value`, matched against the case's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeCondition {
    pub attribute: String,
    pub equals: String,
}

/// One line of the responsibility list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibilityRule {
    /// Position in the published list, 1-based; earlier wins ties.
    pub line: u32,
    pub category: CategoryCode,
    pub region: RegionCode,
    pub condition: Option<AttributeCondition>,
    pub basis: Basis,
    pub primary: String,
    pub co_handlers: Vec<String>,
    pub note: String,
}

/// What routing needs to know about a case.
#[derive(Debug, Clone)]
pub struct RoutingFacts<'a> {
    pub category: &'a CategoryCode,
    pub kind: CategoryKind,
    /// The region the case lies in: the grid's region.
    pub region: &'a RegionCode,
    pub attributes: &'a BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A rule of the list matched.
    Rule {
        line: u32,
        basis: Basis,
        /// How many other rules also matched but ranked lower.
        outranked: usize,
    },
    /// No rule matched: the locality unit of `level` takes it (兜底).
    Fallback { level: RegionLevel },
}

/// The outcome of routing, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub primary: String,
    pub co_handlers: Vec<String>,
    pub decision: Decision,
    pub explanation: String,
}

fn matches(rule: &ResponsibilityRule, facts: &RoutingFacts<'_>) -> bool {
    rule.category.covers(facts.category)
        && rule.region.contains(facts.region)
        && rule
            .condition
            .as_ref()
            .is_none_or(|c| facts.attributes.get(&c.attribute) == Some(&c.equals))
}

/// Routes a case through the responsibility list. Pure: same facts, same list, same answer.
pub fn route(
    facts: &RoutingFacts<'_>,
    rules: &[ResponsibilityRule],
    units: &[Unit],
) -> Result<Assignment, RoutingError> {
    let preferred = match facts.kind {
        CategoryKind::Component => Basis::Owner,
        CategoryKind::Matter => Basis::Locality,
    };
    let mut candidates: Vec<&ResponsibilityRule> =
        rules.iter().filter(|r| matches(r, facts)).collect();
    candidates.sort_by_key(|r| {
        (
            r.basis != preferred,
            Reverse(r.region.as_str().len()),
            r.category.is_major(),
            r.condition.is_none(),
            r.line,
        )
    });
    if let Some(rule) = candidates.first() {
        let explanation = Reason::Rule {
            line: rule.line,
            basis: rule.basis,
            category: rule.category.to_string(),
            region: rule.region.to_string(),
            condition: rule
                .condition
                .as_ref()
                .map(|c| (c.attribute.clone(), c.equals.clone())),
            outranked: candidates.len() - 1,
            kind: facts.kind,
        }
        .english();
        return Ok(Assignment {
            primary: rule.primary.clone(),
            co_handlers: rule.co_handlers.clone(),
            decision: Decision::Rule {
                line: rule.line,
                basis: rule.basis,
                outranked: candidates.len() - 1,
            },
            explanation,
        });
    }
    for region in facts.region.self_and_ancestors() {
        let kind = UnitKind::locality_for(region.level());
        // Several locality units for one region would be a data error; the smallest code wins
        // so the answer stays deterministic.
        if let Some(unit) = units
            .iter()
            .filter(|u| u.kind == kind && u.region == region)
            .min_by(|a, b| a.code.cmp(&b.code))
        {
            return Ok(Assignment {
                primary: unit.code.clone(),
                co_handlers: vec![],
                decision: Decision::Fallback {
                    level: region.level(),
                },
                explanation: Reason::Fallback {
                    category: facts.category.to_string(),
                    region: facts.region.to_string(),
                    unit_kind: kind,
                    unit: unit.code.clone(),
                    unit_region: region.to_string(),
                }
                .english(),
            });
        }
    }
    Err(RoutingError::NoLocalityUnit(facts.region.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(code: &str, kind: UnitKind, region: &str) -> Unit {
        Unit {
            code: code.into(),
            name: code.into(),
            kind,
            region: region.parse().expect("region"),
        }
    }

    fn rule(line: u32, cat: &str, region: &str, basis: Basis, primary: &str) -> ResponsibilityRule {
        ResponsibilityRule {
            line,
            category: cat.parse().expect("category"),
            region: region.parse().expect("region"),
            condition: None,
            basis,
            primary: primary.into(),
            co_handlers: vec![],
            note: String::new(),
        }
    }

    fn units() -> Vec<Unit> {
        vec![
            unit("GOV", UnitKind::DistrictGovernment, "440305"),
            unit("ST1", UnitKind::StreetOffice, "440305001"),
            unit("CM1", UnitKind::CommunityCommittee, "440305001001"),
        ]
    }

    fn facts<'a>(
        cat: &'a CategoryCode,
        kind: CategoryKind,
        region: &'a RegionCode,
        attrs: &'a BTreeMap<String, String>,
    ) -> RoutingFacts<'a> {
        RoutingFacts {
            category: cat,
            kind,
            region,
            attributes: attrs,
        }
    }

    #[test]
    fn components_go_to_the_owner_first_and_matters_to_the_locality_first() {
        let rules = vec![
            rule(1, "01", "440305", Basis::Locality, "ST1"),
            rule(2, "01", "440305", Basis::Owner, "WATER"),
        ];
        let cat: CategoryCode = "01001".parse().expect("c");
        let region: RegionCode = "440305001001".parse().expect("r");
        let attrs = BTreeMap::new();
        let a = route(
            &facts(&cat, CategoryKind::Component, &region, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(a.primary, "WATER");
        assert!(a.explanation.contains("部件先属主后属地"));
        let b = route(
            &facts(&cat, CategoryKind::Matter, &region, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(b.primary, "ST1");
        assert_eq!(
            b.decision,
            Decision::Rule {
                line: 1,
                basis: Basis::Locality,
                outranked: 1
            }
        );
    }

    #[test]
    fn the_more_specific_rule_wins() {
        let mut conditional = rule(4, "01001", "440305", Basis::Owner, "GAS");
        conditional.condition = Some(AttributeCondition {
            attribute: "network".into(),
            equals: "gas".into(),
        });
        let rules = vec![
            rule(1, "01", "440305", Basis::Owner, "DISTRICT-WIDE"),
            rule(2, "01", "440305001", Basis::Owner, "STREET-LEVEL"),
            rule(3, "01001", "440305", Basis::Owner, "MINOR"),
            conditional,
        ];
        let cat: CategoryCode = "01001".parse().expect("c");
        let region: RegionCode = "440305001001".parse().expect("r");
        let mut attrs = BTreeMap::new();
        // Deeper region beats finer category.
        let a = route(
            &facts(&cat, CategoryKind::Component, &region, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(a.primary, "STREET-LEVEL");
        // Outside that street, the minor-category rule beats the major one.
        let elsewhere: RegionCode = "440305002001".parse().expect("r");
        let b = route(
            &facts(&cat, CategoryKind::Component, &elsewhere, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(b.primary, "MINOR");
        // With the attribute, the conditional rule beats the unconditional one at the same depth.
        attrs.insert("network".into(), "gas".into());
        let c = route(
            &facts(&cat, CategoryKind::Component, &elsewhere, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(c.primary, "GAS");
    }

    #[test]
    fn falls_back_to_the_nearest_locality_unit() {
        let rules = vec![rule(1, "02", "440305", Basis::Owner, "X")];
        let cat: CategoryCode = "01001".parse().expect("c");
        let attrs = BTreeMap::new();
        let in_cm1: RegionCode = "440305001001".parse().expect("r");
        let a = route(
            &facts(&cat, CategoryKind::Matter, &in_cm1, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(a.primary, "CM1");
        assert!(a.explanation.contains("兜底"));
        // A community without a committee falls to its street.
        let in_cm2: RegionCode = "440305001002".parse().expect("r");
        let b = route(
            &facts(&cat, CategoryKind::Matter, &in_cm2, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(b.primary, "ST1");
        // Another street falls to the district.
        let other: RegionCode = "440305009001".parse().expect("r");
        let c = route(
            &facts(&cat, CategoryKind::Matter, &other, &attrs),
            &rules,
            &units(),
        )
        .expect("routes");
        assert_eq!(c.primary, "GOV");
        assert_eq!(
            c.decision,
            Decision::Fallback {
                level: RegionLevel::District
            }
        );
        // A region outside every locality unit is an error, not a guess.
        let outside: RegionCode = "110105001001".parse().expect("r");
        assert!(matches!(
            route(
                &facts(&cat, CategoryKind::Matter, &outside, &attrs),
                &rules,
                &units()
            ),
            Err(RoutingError::NoLocalityUnit(_))
        ));
    }

    proptest! {
        // Routing does not depend on the order rules are stored in, only on their content.
        #[test]
        fn order_of_the_list_in_memory_does_not_matter(seed in proptest::collection::vec((0u8..3, 0u8..3, any::<bool>(), any::<bool>()), 1..12), rotate in 0usize..12) {
            let regions = ["440305", "440305001", "440305001001"];
            let cats = ["01", "01001", "01002"];
            let rules: Vec<ResponsibilityRule> = seed.iter().enumerate().map(|(i, &(r, c, owner, _))| {
                let line = u32::try_from(i).expect("small") + 1;
                rule(line, cats[c as usize], regions[r as usize], if owner { Basis::Owner } else { Basis::Locality }, &format!("U{i}"))
            }).collect();
            let mut rotated = rules.clone();
            let n = rotated.len();
            rotated.rotate_left(rotate % n);
            let cat: CategoryCode = "01001".parse().expect("c");
            let region: RegionCode = "440305001001".parse().expect("r");
            let attrs = BTreeMap::new();
            for kind in [CategoryKind::Component, CategoryKind::Matter] {
                let a = route(&facts(&cat, kind, &region, &attrs), &rules, &units()).expect("routes");
                let b = route(&facts(&cat, kind, &region, &attrs), &rotated, &units()).expect("routes");
                prop_assert_eq!(a, b);
            }
        }
    }
}
