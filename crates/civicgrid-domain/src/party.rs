//! Party-building leadership (党建引领): the tree of party organisations tied to regions and
//! grids, alliances of organisations, units and companies (区域化党建联盟), and members with
//! their home-community registration (双报到).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::territory::{GridCode, RegionCode, RegionLevel};

/// The tiers of party organisation, from the top down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    /// 党委 (e.g. the street or community party committee).
    Committee,
    /// 党总支.
    GeneralBranch,
    /// 党支部 (a grid branch, 网格党支部, is a branch tied to a grid).
    Branch,
    /// 网格党小组.
    GridGroup,
}

impl OrganisationKind {
    pub const ALL: [OrganisationKind; 4] = [
        OrganisationKind::Committee,
        OrganisationKind::GeneralBranch,
        OrganisationKind::Branch,
        OrganisationKind::GridGroup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationKind::Committee => "committee",
            OrganisationKind::GeneralBranch => "general_branch",
            OrganisationKind::Branch => "branch",
            OrganisationKind::GridGroup => "grid_group",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            OrganisationKind::Committee => "党委",
            OrganisationKind::GeneralBranch => "党总支",
            OrganisationKind::Branch => "党支部",
            OrganisationKind::GridGroup => "网格党小组",
        }
    }

    /// Whether an organisation of this kind may lead one of `child`'s: a higher tier, or a
    /// committee leading a committee (a street's 党工委 leads the communities' 党委).
    pub fn may_lead(self, child: OrganisationKind) -> bool {
        self.tier() < child.tier()
            || (self == OrganisationKind::Committee && child == OrganisationKind::Committee)
    }

    fn tier(self) -> u8 {
        match self {
            OrganisationKind::Committee => 0,
            OrganisationKind::GeneralBranch => 1,
            OrganisationKind::Branch => 2,
            OrganisationKind::GridGroup => 3,
        }
    }
}

impl fmt::Display for OrganisationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrganisationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrganisationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.name_zh() == s)
            .ok_or_else(|| {
                format!("`{s}` is not an organisation kind (committee, general_branch, branch, grid_group)")
            })
    }
}

/// A party organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub code: String,
    pub name: String,
    pub kind: OrganisationKind,
    pub parent: Option<String>,
    /// The region it leads: a street, a community.
    pub region: RegionCode,
    /// The grid of a grid branch or grid group.
    pub grid: Option<GridCode>,
}

/// A problem with one organisation of a tree: (its index, the field, what is wrong).
pub type TreeProblem = (usize, &'static str, String);

/// Checks a whole tree: codes unique; every parent present and of a kind that may lead it;
/// no organisation its own ancestor; a child's region within its parent's; a grid group tied
/// to a grid, and a grid within the region.
pub fn check_tree(orgs: &[Organisation]) -> Vec<TreeProblem> {
    let mut problems = Vec::new();
    let mut by_code: BTreeMap<&str, &Organisation> = BTreeMap::new();
    for (i, o) in orgs.iter().enumerate() {
        if o.code.trim().is_empty() || o.code.len() > 40 {
            problems.push((i, "code", "1 to 40 characters".to_owned()));
        }
        if o.name.trim().is_empty() || o.name.chars().count() > 100 {
            problems.push((i, "name", "1 to 100 characters".to_owned()));
        }
        if by_code.insert(o.code.as_str(), o).is_some() {
            problems.push((i, "code", format!("`{}` appears twice", o.code)));
        }
    }
    for (i, o) in orgs.iter().enumerate() {
        if let Some(parent) = &o.parent {
            match by_code.get(parent.as_str()) {
                None => problems.push((i, "parent", format!("no organisation `{parent}`"))),
                Some(p) if !p.kind.may_lead(o.kind) => problems.push((
                    i,
                    "parent",
                    format!("a {} cannot lead a {}", p.kind.name_zh(), o.kind.name_zh()),
                )),
                Some(p) if !p.region.contains(&o.region) => problems.push((
                    i,
                    "region",
                    format!(
                        "{} is not within {}'s region {}",
                        o.region, p.code, p.region
                    ),
                )),
                Some(_) => {}
            }
        }
        // Walk up: a chain longer than the tree, or back to itself, is a cycle.
        let mut at = o.parent.as_deref();
        let mut steps = 0;
        while let Some(code) = at {
            if code == o.code || steps > orgs.len() {
                problems.push((i, "parent", format!("{} would lead itself", o.code)));
                break;
            }
            at = by_code.get(code).and_then(|p| p.parent.as_deref());
            steps += 1;
        }
        match (&o.grid, o.kind) {
            (None, OrganisationKind::GridGroup) => {
                problems.push((i, "grid", "a grid group needs its grid".to_owned()))
            }
            (Some(g), _) if !g.community().is_some_and(|c| o.region.contains(&c)) => {
                problems.push((
                    i,
                    "grid",
                    format!("grid {g} is not within region {}", o.region),
                ))
            }
            _ => {}
        }
    }
    problems
}

/// What takes part in an alliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    /// A party organisation of the tree, by code.
    Organisation,
    /// A unit of the responsibility list, by code.
    Unit,
    /// A company or other body outside the platform, by name.
    Company,
}

impl PartnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerKind::Organisation => "organisation",
            PartnerKind::Unit => "unit",
            PartnerKind::Company => "company",
        }
    }
}

impl FromStr for PartnerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "organisation" => Ok(PartnerKind::Organisation),
            "unit" => Ok(PartnerKind::Unit),
            "company" => Ok(PartnerKind::Company),
            _ => Err(format!(
                "`{s}` is not a partner kind (organisation, unit, company)"
            )),
        }
    }
}

/// A member of an alliance and what it commits to (共建项目).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub kind: PartnerKind,
    /// An organisation's or unit's code, or a company's name.
    pub reference: String,
    pub commitment: String,
}

/// A regional alliance of party organisations, units and companies (区域化党建联盟).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alliance {
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub partners: Vec<Partner>,
}

/// Where a member's home-community registration (双报到) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HomeStatus {
    Pending,
    Approved,
    Declined,
}

impl HomeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HomeStatus::Pending => "pending",
            HomeStatus::Approved => "approved",
            HomeStatus::Declined => "declined",
        }
    }
}

impl FromStr for HomeStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(HomeStatus::Pending),
            "approved" => Ok(HomeStatus::Approved),
            "declined" => Ok(HomeStatus::Declined),
            _ => Err(format!("`{s}` is not a registration status")),
        }
    }
}

/// An in-service member's registration with the community where they live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeRegistration {
    pub community: RegionCode,
    pub status: HomeStatus,
}

/// A party member: the minimum the work needs. The phone is sealed outside the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: uuid::Uuid,
    pub name: String,
    pub organisation: String,
    /// 职务, e.g. 支部书记, 党员.
    pub duty: String,
    /// In service (在职党员) with an employer unit, who registers with their home community.
    pub in_service: bool,
    pub employer_unit: Option<String>,
    /// The staff account the member signs in with, if any.
    pub username: Option<String>,
    pub home: Option<HomeRegistration>,
}

impl Member {
    /// Problems with the fields, each (field, problem).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 50 {
            out.push(("name", "1 to 50 characters".to_owned()));
        }
        if self.duty.chars().count() > 50 {
            out.push(("duty", "at most 50 characters".to_owned()));
        }
        if self.in_service != self.employer_unit.is_some() {
            out.push((
                "employer_unit",
                "an in-service member names their employer unit, and only they do".to_owned(),
            ));
        }
        out
    }

    /// The community whose wishes, tasks and activities the member sees: the approved home
    /// registration.
    pub fn home_community(&self) -> Option<&RegionCode> {
        self.home
            .as_ref()
            .filter(|h| h.status == HomeStatus::Approved)
            .map(|h| &h.community)
    }

    /// An in-service member applies to the community where they live (双报到). A member may
    /// apply again (having moved, or after a refusal), but not while an application waits.
    pub fn apply_home(&mut self, community: RegionCode) -> Result<(), String> {
        if !self.in_service {
            return Err("only in-service members register with their home community".into());
        }
        if community.level() != RegionLevel::Community {
            return Err(format!("{community} is not a community"));
        }
        if self
            .home
            .as_ref()
            .is_some_and(|h| h.status == HomeStatus::Pending)
        {
            return Err("an application is already waiting for the community".into());
        }
        self.home = Some(HomeRegistration {
            community,
            status: HomeStatus::Pending,
        });
        Ok(())
    }

    /// The community approves or declines a waiting application.
    pub fn decide_home(&mut self, approve: bool) -> Result<&RegionCode, String> {
        match &mut self.home {
            Some(h) if h.status == HomeStatus::Pending => {
                h.status = if approve {
                    HomeStatus::Approved
                } else {
                    HomeStatus::Declined
                };
                Ok(&h.community)
            }
            _ => Err("no application is waiting".into()),
        }
    }
}

/// The codes of `code` and everything below it in the tree.
pub fn subtree(orgs: &[Organisation], code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::from([code.to_owned()]);
    loop {
        let before = out.len();
        for o in orgs {
            if o.parent.as_ref().is_some_and(|p| out.contains(p)) {
                out.insert(o.code.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(code: &str, kind: OrganisationKind, parent: Option<&str>, region: &str) -> Organisation {
        Organisation {
            code: code.into(),
            name: format!("{code} 组织"),
            kind,
            parent: parent.map(Into::into),
            region: region.parse().expect("region"),
            grid: None,
        }
    }

    #[test]
    fn a_sound_tree_has_no_problems_and_its_subtrees_follow_parents() {
        let mut group = org(
            "G1",
            OrganisationKind::GridGroup,
            Some("B1"),
            "440305001002",
        );
        group.grid = Some("440305001002003".parse().expect("grid"));
        let tree = vec![
            org("C", OrganisationKind::Committee, None, "440305001"),
            org("B1", OrganisationKind::Branch, Some("C"), "440305001002"),
            group,
            org("B2", OrganisationKind::Branch, Some("C2"), "440305001003"),
            org("C2", OrganisationKind::Committee, Some("C"), "440305001003"),
        ];
        assert!(check_tree(&tree).is_empty(), "{:?}", check_tree(&tree));
        assert_eq!(
            subtree(&tree, "B1"),
            BTreeSet::from(["B1".to_owned(), "G1".to_owned()])
        );
        assert_eq!(subtree(&tree, "C").len(), 5);
    }

    #[test]
    fn a_tree_names_each_broken_field() {
        let mut group = org(
            "G1",
            OrganisationKind::GridGroup,
            Some("B1"),
            "440305001002",
        );
        group.grid = None;
        let mut stray = org("B3", OrganisationKind::Branch, Some("C"), "440305001004");
        stray.grid = Some("440305002001001".parse().expect("grid"));
        let tree = vec![
            org("C", OrganisationKind::Committee, None, "440305001"),
            org("B1", OrganisationKind::Branch, Some("C"), "440305001002"),
            group,
            org("B1", OrganisationKind::Branch, None, "440305001002"),
            org("X", OrganisationKind::Committee, Some("B1"), "440305001002"),
            org("L1", OrganisationKind::Committee, Some("L2"), "440305"),
            org("L2", OrganisationKind::Committee, Some("L1"), "440305"),
            org(
                "Y",
                OrganisationKind::Branch,
                Some("nobody"),
                "440305001002",
            ),
            org("Z", OrganisationKind::Branch, Some("C"), "440305002001"),
            stray,
        ];
        let problems: Vec<(usize, &str)> =
            check_tree(&tree).iter().map(|(i, f, _)| (*i, *f)).collect();
        assert!(problems.contains(&(2, "grid")));
        assert!(problems.contains(&(3, "code")));
        assert!(problems.contains(&(4, "parent")));
        assert!(
            problems.contains(&(5, "parent")) && problems.contains(&(6, "parent")),
            "a cycle"
        );
        assert!(problems.contains(&(7, "parent")));
        assert!(problems.contains(&(8, "region")));
        assert!(problems.contains(&(9, "grid")));
        assert_eq!(problems.len(), 8, "{problems:?}");
    }

    fn member(in_service: bool) -> Member {
        Member {
            id: uuid::Uuid::nil(),
            name: "王建国".into(),
            organisation: "B1".into(),
            duty: "党员".into(),
            in_service,
            employer_unit: in_service.then(|| "440305-water".to_owned()),
            username: None,
            home: None,
        }
    }

    #[test]
    fn home_registration_waits_for_the_community() {
        let community: RegionCode = "440305001002".parse().expect("region");
        let mut m = member(true);
        assert!(m.problems().is_empty());
        assert_eq!(m.home_community(), None);
        m.apply_home(community.clone()).expect("apply");
        assert_eq!(m.home_community(), None, "not before approval");
        assert!(m.apply_home(community.clone()).is_err(), "one at a time");
        m.decide_home(true).expect("approve");
        assert_eq!(m.home_community(), Some(&community));
        assert!(m.decide_home(false).is_err(), "nothing waits any more");
        // Moving house: a new application, and the old community stays until approval.
        m.apply_home("440305001003".parse().expect("region"))
            .expect("apply");
        assert_eq!(m.home_community(), None);
        m.decide_home(false).expect("decline");
        assert_eq!(
            m.home.as_ref().map(|h| h.status),
            Some(HomeStatus::Declined)
        );

        let mut retired = member(false);
        assert!(retired.apply_home(community).is_err());
        assert!(
            retired
                .apply_home("440305001".parse().expect("street"))
                .is_err()
        );
        retired.employer_unit = Some("x".into());
        assert_eq!(retired.problems().len(), 1);
    }
}
