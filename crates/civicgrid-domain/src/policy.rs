//! The access policy: the one place that decides what an actor may see or do.
//!
//! Every shell (REST, pages, CLI, jobs) and every service asks these functions; none of them
//! derives a rule of its own from grants and roles. `access` holds the vocabulary (permissions,
//! roles, scoped grants and `allows`); this module turns it into answers about the things the
//! platform holds: cases, their photos and reporters, assessment scopes, appeals, surveys and
//! the administration tables.

use uuid::Uuid;

use crate::access::{Grant, Permission, Role, Target, allows};
use crate::case::{Action, Case, PhotoStage};
use crate::kpi::{AppealStep, Subject};
use crate::territory::RegionCode;

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A member of the public, usually anonymous.
    Resident,
    /// A staff account with its grants.
    Staff {
        username: String,
        grants: Vec<Grant>,
    },
    /// Whoever holds the receipt code (and its secret) of this case: the reporter, who may add
    /// report photos and evaluate it once closed, and nothing else.
    Reporter { case: Uuid },
    /// The platform itself: its jobs, and the operator at the command line (who holds the
    /// database and its key anyway).
    System,
}

impl Actor {
    pub fn name(&self) -> &str {
        match self {
            Actor::Resident | Actor::Reporter { .. } => "resident",
            Actor::Staff { username, .. } => username,
            Actor::System => "system",
        }
    }

    fn grants(&self) -> Option<&[Grant]> {
        match self {
            Actor::Staff { grants, .. } => Some(grants),
            _ => None,
        }
    }
}

/// The permissions that each guard a part of the administration page.
pub const ADMINISTRATION: &[Permission] = &[
    Permission::KpiManage,
    Permission::TerritoryManage,
    Permission::CatalogueManage,
    Permission::ResponsibilityManage,
    Permission::CalendarManage,
    Permission::UserManage,
    Permission::NotificationManage,
];

/// The policy over the deployment's roles (roles are data, so the policy is built from them).
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    roles: &'a [Role],
}

/// The answer to "may I", with the reason when it is no, in words a refusal can show.
pub type Verdict = Result<(), String>;

fn verdict(yes: bool, why_not: impl FnOnce() -> String) -> Verdict {
    if yes { Ok(()) } else { Err(why_not()) }
}

/// The page a member of staff lands on after signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    Dashboard,
    Field,
    Workbench,
    Administration,
    /// A party member's or volunteer's own page: households, wishes, shifts, hours.
    Mine,
    Home,
}

impl Landing {
    pub fn path(self) -> &'static str {
        match self {
            Landing::Dashboard => "/dashboard",
            Landing::Field => "/work/field",
            Landing::Workbench => "/work",
            Landing::Administration => "/admin",
            Landing::Mine => "/my",
            Landing::Home => "/",
        }
    }
}

impl<'a> Policy<'a> {
    pub fn new(roles: &'a [Role]) -> Self {
        Policy { roles }
    }

    /// Whether the actor holds `p` in some scope: what menus, lists across scopes and
    /// deployment-wide settings (the administration tables, surveys) ask.
    pub fn holds(&self, actor: &Actor, p: Permission) -> bool {
        match actor {
            Actor::System => true,
            Actor::Staff { grants, .. } => grants.iter().any(|g| {
                self.roles
                    .iter()
                    .any(|r| r.code == g.role && r.permissions.contains(&p))
            }),
            Actor::Resident | Actor::Reporter { .. } => false,
        }
    }

    /// Every permission the actor holds somewhere, for menus.
    pub fn held(&self, actor: &Actor) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| self.holds(actor, *p))
            .collect()
    }

    /// Whether the actor holds `p` on the case (on its region, a unit it is with or a unit
    /// summoned to it): which work queues show the case.
    pub fn holds_on_case(&self, actor: &Actor, p: Permission, case: &Case) -> bool {
        match actor {
            Actor::System => true,
            Actor::Staff { grants, .. } => self.on_case(grants, p, case),
            Actor::Resident | Actor::Reporter { .. } => false,
        }
    }

    /// `p` on the case: on its region, on a unit it is with, or on a unit summoned to it by a
    /// whistle call (a summoned unit must be able to read what it is called to).
    fn on_case(&self, grants: &[Grant], p: Permission, case: &Case) -> bool {
        let region = Target {
            region: Some(&case.region),
            unit: None,
        };
        allows(grants, self.roles, p, &region)
            || case
                .state
                .units
                .iter()
                .chain(case.state.summons.iter().map(|s| &s.unit))
                .any(|u| {
                    allows(
                        grants,
                        self.roles,
                        p,
                        &Target {
                            region: None,
                            unit: Some(u),
                        },
                    )
                })
    }

    /// Whether the actor may read the whole case: its record, timeline, photos, duplicates.
    /// The public sees cases only through the tracking view, which shows no staff detail.
    pub fn may_read_case(&self, actor: &Actor, case: &Case) -> Verdict {
        match actor {
            Actor::System => Ok(()),
            Actor::Staff { grants, .. } => {
                verdict(self.on_case(grants, Permission::CaseRead, case), || {
                    "this case is outside your scope".to_owned()
                })
            }
            Actor::Resident | Actor::Reporter { .. } => {
                Err("cases are read by staff in whose scope they lie".to_owned())
            }
        }
    }

    /// Whether the actor may see a photo of the case: whoever may read the case, and the
    /// reporter the photos of their own report.
    pub fn may_read_photo(&self, actor: &Actor, case: &Case, stage: PhotoStage) -> Verdict {
        match actor {
            Actor::Reporter { case: own } if *own == case.id && stage == PhotoStage::Report => {
                Ok(())
            }
            _ => self.may_read_case(actor, case),
        }
    }

    /// Whether the actor may open the reporter's sealed contact details (each read is audited
    /// by the caller): `case.read_contact` on the case's region only, not through a unit.
    pub fn may_read_contact(&self, actor: &Actor, case: &Case) -> Verdict {
        match actor {
            Actor::Staff { username, grants } => verdict(
                allows(
                    grants,
                    self.roles,
                    Permission::CaseReadContact,
                    &Target {
                        region: Some(&case.region),
                        unit: None,
                    },
                ),
                || format!("{username} may not read reporters' contact details"),
            ),
            Actor::System => Ok(()),
            Actor::Resident | Actor::Reporter { .. } => {
                Err("contact details are for staff who need them".to_owned())
            }
        }
    }

    /// Whether the actor may take `action` on `case`: a grant of one of the action's
    /// permissions on the case's region or one of its (summoned) units. Alarms and missed
    /// whistle answers are facts only the deadline job records.
    pub fn may_take(&self, actor: &Actor, action: &Action, case: &Case) -> Verdict {
        let grants = match actor {
            Actor::System => return Ok(()),
            Actor::Resident => return Err("residents act on a case by its receipt".to_owned()),
            Actor::Reporter { case: own } => {
                return verdict(
                    *own == case.id
                        && matches!(
                            action,
                            Action::Evaluate { .. }
                                | Action::AttachPhoto {
                                    stage: PhotoStage::Report,
                                    ..
                                }
                        ),
                    || "the reporter may add report photos and evaluate, nothing else".to_owned(),
                );
            }
            Actor::Staff { grants, .. } => grants,
        };
        if matches!(
            action,
            Action::RaiseAlarm { .. }
                | Action::MissWhistle { .. }
                | Action::Forward { .. }
                | Action::UpstreamUpdate { .. }
        ) {
            return Err(
                "alarms, missed answers and upstream systems' news are recorded by the platform"
                    .to_owned(),
            );
        }
        verdict(
            action
                .permissions()
                .iter()
                .any(|p| self.on_case(grants, *p, case)),
            || format!("{} may not {}", actor.name(), action.name()),
        )
    }

    /// Whether the actor may read assessment figures of a region (a beat is read with the
    /// permission on its community).
    pub fn may_read_kpi(&self, actor: &Actor, scope: &RegionCode) -> Verdict {
        let ok = match actor {
            Actor::System => true,
            Actor::Staff { grants, .. } => allows(
                grants,
                self.roles,
                Permission::KpiRead,
                &Target {
                    region: Some(scope),
                    unit: None,
                },
            ),
            _ => false,
        };
        verdict(ok, || {
            format!("assessment figures of {scope} are outside your scope")
        })
    }

    /// Whether the actor may list appeals: roles that read assessments somewhere.
    pub fn may_list_appeals(&self, actor: &Actor) -> Verdict {
        verdict(self.holds(actor, Permission::KpiRead), || {
            "appeals are for roles that read assessments".to_owned()
        })
    }

    /// Whether the actor may appeal the assessment of `subject` (in `region`): only the
    /// assessed may — the person themself, staff of the unit, staff reading cases of the place.
    pub fn may_appeal(&self, actor: &Actor, subject: &Subject, region: &RegionCode) -> Verdict {
        let Some(grants) = actor.grants() else {
            return Err("appeals are for staff".to_owned());
        };
        let own = match subject {
            Subject::Staff(u) => actor.name() == u,
            Subject::Unit(u) => grants
                .iter()
                .any(|g| matches!(&g.scope, crate::access::Scope::Unit(x) if x == u)),
            Subject::Grid(_) | Subject::Region(_) => allows(
                grants,
                self.roles,
                Permission::CaseRead,
                &Target {
                    region: Some(region),
                    unit: None,
                },
            ),
        };
        verdict(own, || {
            "only the assessed may appeal its assessment".to_owned()
        })
    }

    /// Whether the actor may take the next step of an appeal filed by `submitted_by` about a
    /// subject in `region`: the department's review needs `kpi.read` there, the leader's
    /// decision `kpi.manage`; no one reviews or decides their own appeal.
    pub fn may_advance_appeal(
        &self,
        actor: &Actor,
        step: &AppealStep,
        region: &RegionCode,
        submitted_by: &str,
    ) -> Verdict {
        let Some(grants) = actor.grants() else {
            return Err("appeals are for staff".to_owned());
        };
        let (needed, what) = match step {
            AppealStep::Review { .. } => (Permission::KpiRead, "a review"),
            AppealStep::Decide { .. } => (Permission::KpiManage, "a decision"),
        };
        let target = Target {
            region: Some(region),
            unit: None,
        };
        if !allows(grants, self.roles, needed, &target) {
            return Err(format!("{what} needs {} in {region}", needed.as_str()));
        }
        verdict(submitted_by != actor.name(), || {
            "no one reviews or decides their own appeal".to_owned()
        })
    }

    /// Whether the actor may open a survey (public evaluation): roles with `kpi.manage`.
    pub fn may_open_survey(&self, actor: &Actor) -> Verdict {
        verdict(
            matches!(actor, Actor::Staff { .. }) && self.holds(actor, Permission::KpiManage),
            || "surveys are opened by roles with kpi.manage".to_owned(),
        )
    }

    /// Whether the actor may use the staff workbench (queues, bulk dispatch, the grid worker's
    /// view): roles that read cases somewhere. What each queue shows is decided per case.
    /// Where a member of staff starts after signing in: a leader, who reads figures and acts
    /// on no case, on the dashboard; a grid worker, who verifies and resolves on site but does
    /// not take in or dispatch, in the field view; anyone else who reads cases in the
    /// workbench; an administrator of tables only on the admin page.
    pub fn landing(&self, actor: &Actor) -> Landing {
        let holds = |p: Permission| self.holds(actor, p);
        let acts = [
            Permission::CaseAccept,
            Permission::CaseDispatch,
            Permission::CaseHandle,
            Permission::CaseVerify,
            Permission::CaseResolveOnSite,
        ]
        .into_iter()
        .any(holds);
        let desk = holds(Permission::CaseAccept) || holds(Permission::CaseDispatch);
        // Keeping the assessment scheme is a leader's matter; the other tables an administrator's.
        let administers = ADMINISTRATION
            .iter()
            .any(|p| *p != Permission::KpiManage && holds(*p));
        if administers && !holds(Permission::CaseRead) {
            Landing::Administration
        } else if holds(Permission::KpiRead) && !acts {
            Landing::Dashboard
        } else if (holds(Permission::CaseVerify) || holds(Permission::CaseResolveOnSite))
            && !desk
            && !holds(Permission::CaseHandle)
        {
            Landing::Field
        } else if holds(Permission::CaseRead) {
            Landing::Workbench
        } else if holds(Permission::VisitLog) {
            Landing::Mine
        } else {
            Landing::Home
        }
    }

    /// Whether a member of staff reports what a patrol found (巡查上报), as a grid worker does.
    pub fn may_report_on_patrol(&self, actor: &Actor) -> Verdict {
        verdict(
            matches!(actor, Actor::Staff { .. }) && self.holds(actor, Permission::CaseReport),
            || "patrol reports are for roles that report cases".to_owned(),
        )
    }

    pub fn may_use_workbench(&self, actor: &Actor) -> Verdict {
        verdict(
            matches!(actor, Actor::Staff { .. }) && self.holds(actor, Permission::CaseRead),
            || "the workbench is for roles that read cases".to_owned(),
        )
    }

    /// Whether the actor may open the administration page: roles that keep one of its tables
    /// or the accounts. Each table on it still asks `may_administer`.
    pub fn may_open_administration(&self, actor: &Actor) -> Verdict {
        verdict(ADMINISTRATION.iter().any(|p| self.holds(actor, *p)), || {
            "administration is for roles that keep its tables".to_owned()
        })
    }

    /// Whether the actor may change a deployment-wide table or setting guarded by `p`
    /// (territory, catalogue, list, calendar, assessment scheme, accounts).
    pub fn may_administer(&self, actor: &Actor, p: Permission) -> Verdict {
        verdict(self.holds(actor, p), || {
            format!("this needs the permission {}", p.as_str())
        })
    }

    /// The regions where the actor holds `p`, each the top of its subtree (a region inside
    /// another listed one is left out): what a feed across regions (alerts) reads.
    pub fn regions_with(&self, actor: &Actor, p: Permission) -> Vec<RegionCode> {
        let Some(grants) = actor.grants() else {
            return vec![];
        };
        let mut regions: Vec<RegionCode> = grants
            .iter()
            .filter(|g| {
                self.roles
                    .iter()
                    .any(|r| r.code == g.role && r.permissions.contains(&p))
            })
            .filter_map(|g| match &g.scope {
                crate::access::Scope::Region(r) => Some(r.clone()),
                crate::access::Scope::Unit(_) => None,
            })
            .collect();
        regions.sort();
        regions.dedup_by(|b, a| a.contains(b));
        regions
    }
}

mod consultation;
mod disputes;
mod emergency;
mod people;
mod supervision;
pub use supervision::{Accused, COMMAND};

#[cfg(test)]
mod tests;
