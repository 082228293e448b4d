//! The policy on supervision reports (监督微平台): only the supervision role in the report's
//! region reads and answers a report, and never someone the report implicates — the accused
//! unit's own staff, or anyone who commands that unit's work — even when they hold the role.
//! Revealing a reporter's identity needs a custodian, who is another person.

use super::{Actor, Policy, Verdict, verdict};
use crate::access::{Permission, Scope, Target, allows};
use crate::territory::RegionCode;

/// The unit a report accuses, with its region.
#[derive(Debug, Clone, Copy)]
pub struct Accused<'a> {
    pub unit: &'a str,
    pub region: &'a RegionCode,
}

/// Permissions that direct a unit's work: whoever holds one of them over the unit is in its
/// chain of command (dispatching to it, approving for it, assessing it).
pub const COMMAND: &[Permission] = &[
    Permission::CaseDispatch,
    Permission::CaseApprove,
    Permission::KpiManage,
    Permission::ResponsibilityManage,
];

impl Policy<'_> {
    /// Whether a report against `accused` implicates the actor: a grant on the unit itself
    /// (its staff), or a command permission over it (a region above it, or the unit).
    pub fn is_implicated(&self, actor: &Actor, accused: &Accused<'_>) -> bool {
        let Actor::Staff { grants, .. } = actor else {
            return false;
        };
        let own_staff = grants
            .iter()
            .any(|g| matches!(&g.scope, Scope::Unit(u) if u == accused.unit));
        let target = Target {
            region: Some(accused.region),
            unit: Some(accused.unit),
        };
        own_staff
            || COMMAND.iter().any(|p| {
                allows(grants, self.roles, *p, &target)
                    || allows(
                        grants,
                        self.roles,
                        *p,
                        &Target {
                            region: None,
                            unit: Some(accused.unit),
                        },
                    )
            })
    }

    /// Reading and answering a report of `region`: whistleblowing.read there, and not
    /// implicated by it.
    pub fn may_read_report(
        &self,
        actor: &Actor,
        region: &RegionCode,
        accused: Option<&Accused<'_>>,
    ) -> Verdict {
        let holds = matches!(actor, Actor::Staff { .. })
            && self.holds_in(actor, Permission::WhistleblowingRead, region);
        if !holds {
            return Err(format!(
                "supervision reports of {region} are read by whistleblowing.read there"
            ));
        }
        verdict(
            !accused.is_some_and(|a| self.is_implicated(actor, a)),
            || {
                "this report accuses your unit or a unit you command; it is kept from you"
                    .to_owned()
            },
        )
    }

    /// Approving or refusing a request to see a reporter's identity: whistleblowing.custody
    /// in the report's region, not implicated (the domain checks it is another person).
    pub fn may_keep_identity(
        &self,
        actor: &Actor,
        region: &RegionCode,
        accused: Option<&Accused<'_>>,
    ) -> Verdict {
        let holds = matches!(actor, Actor::Staff { .. })
            && self.holds_in(actor, Permission::WhistleblowingCustody, region);
        verdict(
            holds && !accused.is_some_and(|a| self.is_implicated(actor, a)),
            || {
                format!(
                    "identities of reporters in {region} are kept by whistleblowing.custody there, never by anyone the report implicates"
                )
            },
        )
    }

    /// Proposing an accountability record in `region`: accountability.propose there.
    pub fn may_propose_accountability(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        verdict(
            matches!(actor, Actor::Staff { .. } | Actor::System)
                && self.holds_in(actor, Permission::AccountabilityPropose, region),
            || {
                format!(
                    "accountability records in {region} are proposed with accountability.propose there"
                )
            },
        )
    }

    /// Approving or rejecting a record about `region` (and `accused`, a unit): a leader with
    /// accountability.approve there, not implicated when the record is about a unit of theirs
    /// (the domain checks it is not who proposed it).
    pub fn may_approve_accountability(
        &self,
        actor: &Actor,
        region: &RegionCode,
        accused: Option<&Accused<'_>>,
    ) -> Verdict {
        let holds = matches!(actor, Actor::Staff { .. } | Actor::System)
            && self.holds_in(actor, Permission::AccountabilityApprove, region);
        let own_unit = match (actor, accused) {
            (Actor::Staff { grants, .. }, Some(a)) => grants
                .iter()
                .any(|g| matches!(&g.scope, Scope::Unit(u) if u == a.unit)),
            _ => false,
        };
        verdict(holds && !own_unit, || {
            format!(
                "accountability records in {region} are decided with accountability.approve there, not by the unit's own staff"
            )
        })
    }

    /// Reading accountability records: who proposes or approves them somewhere.
    pub fn may_read_accountability(&self, actor: &Actor) -> Verdict {
        verdict(
            matches!(actor, Actor::Staff { .. })
                && (self.holds(actor, Permission::AccountabilityPropose)
                    || self.holds(actor, Permission::AccountabilityApprove)),
            || {
                "accountability records need accountability.propose or accountability.approve"
                    .to_owned()
            },
        )
    }

    /// Whether the actor has any part in the channel (for the staff list and navigation).
    pub fn may_list_reports(&self, actor: &Actor) -> Verdict {
        verdict(
            matches!(actor, Actor::Staff { .. })
                && (self.holds(actor, Permission::WhistleblowingRead)
                    || self.holds(actor, Permission::WhistleblowingCustody)),
            || "supervision reports need whistleblowing.read or whistleblowing.custody".to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Grant, Role};

    fn role(code: &str, perms: &[Permission]) -> Role {
        Role {
            code: code.into(),
            name_zh: code.into(),
            name_en: code.into(),
            permissions: perms.iter().copied().collect(),
        }
    }

    fn staff(grants: &[(&str, Scope)]) -> Actor {
        Actor::Staff {
            username: "x".into(),
            grants: grants
                .iter()
                .map(|(r, s)| Grant {
                    role: (*r).into(),
                    scope: s.clone(),
                })
                .collect(),
        }
    }

    fn region(s: &str) -> RegionCode {
        s.parse().expect("region")
    }

    #[test]
    fn the_accused_units_staff_and_its_chain_of_command_never_read() {
        let roles = vec![
            role("supervisor", &[Permission::WhistleblowingRead]),
            role("custodian", &[Permission::WhistleblowingCustody]),
            role("handler", &[Permission::CaseHandle]),
            role("leader", &[Permission::CaseApprove]),
            role("dispatcher", &[Permission::CaseDispatch]),
        ];
        let policy = Policy::new(&roles);
        let district = region("440305");
        let street = region("440305001");
        let other_street = region("440305002");
        let accused = Accused {
            unit: "SWJT",
            region: &street,
        };
        let supervisor = staff(&[("supervisor", Scope::Region(district.clone()))]);
        assert!(policy.may_read_report(&supervisor, &street, None).is_ok());
        assert!(
            policy
                .may_read_report(&supervisor, &street, Some(&accused))
                .is_ok()
        );
        // The supervision role does not reach outside its region.
        let elsewhere = staff(&[("supervisor", Scope::Region(other_street.clone()))]);
        assert!(policy.may_read_report(&elsewhere, &street, None).is_err());
        // Its own staff, even holding the role.
        let own = staff(&[
            ("supervisor", Scope::Region(district.clone())),
            ("handler", Scope::Unit("SWJT".into())),
        ]);
        assert!(policy.may_read_report(&own, &street, None).is_ok());
        assert!(
            policy
                .may_read_report(&own, &street, Some(&accused))
                .is_err()
        );
        // Anyone who commands it: a leader or a dispatcher over its region.
        for commander in ["leader", "dispatcher"] {
            let above = staff(&[
                ("supervisor", Scope::Region(district.clone())),
                (commander, Scope::Region(street.clone())),
            ]);
            assert!(
                policy
                    .may_read_report(&above, &street, Some(&accused))
                    .is_err()
            );
            let beside = staff(&[
                ("supervisor", Scope::Region(district.clone())),
                (commander, Scope::Region(other_street.clone())),
            ]);
            assert!(
                policy
                    .may_read_report(&beside, &street, Some(&accused))
                    .is_ok()
            );
        }
        // Handling cases for another unit implicates nobody.
        let other_unit = staff(&[
            ("supervisor", Scope::Region(district.clone())),
            ("handler", Scope::Unit("SWJ".into())),
        ]);
        assert!(
            policy
                .may_read_report(&other_unit, &street, Some(&accused))
                .is_ok()
        );
        // Custodians likewise; residents and reporters never.
        let custodian = staff(&[("custodian", Scope::Region(district.clone()))]);
        assert!(policy.may_keep_identity(&custodian, &street, None).is_ok());
        assert!(policy.may_read_report(&custodian, &street, None).is_err());
        let implicated_custodian = staff(&[
            ("custodian", Scope::Region(district.clone())),
            ("leader", Scope::Region(district.clone())),
        ]);
        assert!(
            policy
                .may_keep_identity(&implicated_custodian, &street, Some(&accused))
                .is_err()
        );
        assert!(
            policy
                .may_read_report(&Actor::Resident, &street, None)
                .is_err()
        );
        assert!(policy.may_list_reports(&Actor::Resident).is_err());
        assert!(policy.may_list_reports(&custodian).is_ok());
    }
}
