//! Roles and permissions.
//!
//! Permissions are a fixed vocabulary because code checks them. Roles are data: a role is a
//! name and a set of permissions, stored in the database and editable by an administrator.
//! Every grant of a role to a person is scoped to a region subtree or to a unit.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::territory::RegionCode;

macro_rules! permissions {
    ($($variant:ident = $text:literal : $doc:literal),+ $(,)?) => {
        /// Something a role may do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum Permission { $(#[doc = $doc] $variant),+ }

        impl Permission {
            pub const ALL: &[Permission] = &[$(Permission::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $text),+ }
            }
            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $doc),+ }
            }
        }
    };
}

permissions! {
    CaseReport = "case.report": "report a case",
    CaseReadOwn = "case.read_own": "follow one's own cases",
    CaseRead = "case.read": "read cases in scope",
    CaseReadContact = "case.read_contact": "see reporters' contact details",
    CaseAccept = "case.accept": "accept or refuse a reported case",
    CaseDispatch = "case.dispatch": "dispatch, transfer and send back cases",
    CaseHandle = "case.handle": "handle a dispatched case and report back",
    CaseVerify = "case.verify": "verify a case on site",
    CaseResolveOnSite = "case.resolve_on_site": "resolve a small matter on the spot",
    CaseApprove = "case.approve": "approve extensions, shelving and voiding",
    CaseSupervise = "case.supervise": "flag cases for supervision and call departments (吹哨)",
    CaseClose = "case.close": "close a verified case",
    VisitLog = "visit.log": "log household visits",
    PartyRead = "party.read": "see party membership",
    PartyManage = "party.manage": "administer party organisations, alliances and members, and approve home-community registrations",
    PeopleReadContact = "people.read_contact": "see members', households' and volunteers' phone numbers (every read is audited)",
    HouseholdManage = "household.manage": "keep the household register, assignments and visit plans",
    WishManage = "wish.manage": "post small wishes for residents and follow them up",
    VolunteerManage = "volunteer.manage": "register volunteers, organise activities and approve service hours",
    ConsultationManage = "consultation.manage": "schedule topics, convene meetings, record minutes and decisions, run polls",
    ConsultationModerate = "consultation.moderate": "hide and restore opinions on topics, with a reason",
    DisputeMediate = "dispute.mediate": "raise disputes, hold mediation sessions, write agreements and record follow-up visits (parties' details are audited)",
    DisputeApprove = "dispute.approve": "approve extensions of the mediation limit and register mediators",
    ServiceHandle = "service.handle": "check, accept and complete service applications",
    ServiceProxy = "service.proxy": "file service applications for residents (代办)",
    KpiRead = "kpi.read": "read assessment figures and dashboards",
    KpiManage = "kpi.manage": "configure assessment weights and review appeals",
    TerritoryManage = "territory.manage": "import and edit regions, grids and beats",
    CatalogueManage = "catalogue.manage": "edit the category catalogue",
    ResponsibilityManage = "responsibility.manage": "edit units and the responsibility list",
    CalendarManage = "calendar.manage": "edit the working calendar",
    UserManage = "user.manage": "manage staff accounts, roles and API keys",
    NotificationManage = "notification.manage": "keep the message templates and the dead-letter list of e-mail and SMS",
    NoticeIssue = "notice.issue": "send urgent notices (紧急通知) to the grid workers of chosen grids",
    EmergencyCommand = "emergency.command": "keep emergency plans, declare, raise, lower and lift incidents, and write situation reports",
    EmergencyRespond = "emergency.respond": "acknowledge an incident for one's grids and report what was checked, moved and needed",
    WhistleblowingRead = "whistleblowing.read": "read and answer supervision reports (纪检监察), except where one's own unit or its chain of command is accused",
    AccountabilityPropose = "accountability.propose": "propose accountability records (问责) against units and staff",
    AccountabilityApprove = "accountability.approve": "approve or reject proposed accountability records, never one's own",
    WhistleblowingCustody = "whistleblowing.custody": "approve or refuse another officer's request to see a reporter's disclosed identity (保管人)",
    AuditRead = "audit.read": "read the audit trail",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown permission `{s}`"))
    }
}

impl TryFrom<String> for Permission {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Permission> for String {
    fn from(p: Permission) -> String {
        p.as_str().to_owned()
    }
}

/// A role as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub permissions: BTreeSet<Permission>,
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Region(RegionCode),
    Unit(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Region(r) => write!(f, "region:{r}"),
            Scope::Unit(u) => write!(f, "unit:{u}"),
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("region", code)) => code
                .parse()
                .map(Scope::Region)
                .map_err(|e: crate::territory::TerritoryError| e.to_string()),
            Some(("unit", code)) if !code.is_empty() => Ok(Scope::Unit(code.to_owned())),
            _ => Err(format!(
                "`{s}` is not a scope (expected region:CODE or unit:CODE)"
            )),
        }
    }
}

/// A role granted to a person within a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: String,
    pub scope: Scope,
}

/// What is being acted on, for the permission check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub region: Option<&'a RegionCode>,
    pub unit: Option<&'a str>,
}

/// Whether `grants` allow `permission` on `target`. A region grant covers its subtree; a unit
/// grant covers matters assigned to that unit. A target with neither region nor unit (a
/// deployment-wide action) needs a grant on some district-level region.
pub fn allows(
    grants: &[Grant],
    roles: &[Role],
    permission: Permission,
    target: &Target<'_>,
) -> bool {
    grants.iter().any(|g| {
        let role_allows = roles
            .iter()
            .any(|r| r.code == g.role && r.permissions.contains(&permission));
        role_allows
            && match &g.scope {
                Scope::Region(scope) => match target.region {
                    Some(region) => scope.contains(region),
                    None => target.unit.is_none() && scope.parent().is_none(),
                },
                Scope::Unit(unit) => target.unit == Some(unit.as_str()),
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(code: &str, perms: &[Permission]) -> Role {
        Role {
            code: code.into(),
            name_zh: code.into(),
            name_en: code.into(),
            permissions: perms.iter().copied().collect(),
        }
    }

    #[test]
    fn scopes_bound_the_grant() {
        let roles = vec![
            role("dispatcher", &[Permission::CaseDispatch]),
            role("handler", &[Permission::CaseHandle]),
        ];
        let street: RegionCode = "440305001".parse().expect("r");
        let inside: RegionCode = "440305001003".parse().expect("r");
        let outside: RegionCode = "440305002003".parse().expect("r");
        let grants = vec![
            Grant {
                role: "dispatcher".into(),
                scope: Scope::Region(street),
            },
            Grant {
                role: "handler".into(),
                scope: Scope::Unit("CGJ".into()),
            },
        ];
        let at = |region: &'static RegionCode| Target {
            region: Some(region),
            unit: None,
        };
        let inside: &'static RegionCode = Box::leak(Box::new(inside));
        let outside: &'static RegionCode = Box::leak(Box::new(outside));
        assert!(allows(
            &grants,
            &roles,
            Permission::CaseDispatch,
            &at(inside)
        ));
        assert!(!allows(
            &grants,
            &roles,
            Permission::CaseDispatch,
            &at(outside)
        ));
        assert!(!allows(
            &grants,
            &roles,
            Permission::CaseHandle,
            &at(inside)
        ));
        let for_unit = Target {
            region: Some(outside),
            unit: Some("CGJ"),
        };
        assert!(allows(&grants, &roles, Permission::CaseHandle, &for_unit));
        let global = Target {
            region: None,
            unit: None,
        };
        assert!(!allows(&grants, &roles, Permission::CaseDispatch, &global));
    }

    #[test]
    fn permissions_and_scopes_parse() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
        }
        assert!("case.everything".parse::<Permission>().is_err());
        assert!(matches!(
            "region:440305".parse::<Scope>(),
            Ok(Scope::Region(_))
        ));
        assert_eq!("unit:CGJ".parse::<Scope>(), Ok(Scope::Unit("CGJ".into())));
        assert!("region:44".parse::<Scope>().is_err());
        assert!("global".parse::<Scope>().is_err());
    }
}
