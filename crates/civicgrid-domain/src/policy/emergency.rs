//! The policy on emergency response: who keeps plans and commands an incident
//! (`emergency.command` over its area), who acknowledges and reports for a grid
//! (`emergency.respond` there: the grid workers and community staff), who marks a unit's task
//! done (the unit's handlers, as for a dispatched case), and who sees an incident at all.

use super::{Actor, Policy, Verdict, verdict};
use crate::access::{Permission, Scope, Target, allows};
use crate::emergency::Target as TaskTarget;
use crate::territory::RegionCode;

impl Policy<'_> {
    /// Whether the actor has any part in emergency response: commanding, responding in some
    /// grid, or handling for some unit. Pages and REST ask this first, before looking anything up.
    pub fn may_use_emergency(&self, actor: &Actor) -> Verdict {
        verdict(
            self.holds(actor, Permission::EmergencyCommand)
                || self.holds(actor, Permission::EmergencyRespond)
                || self.holds(actor, Permission::CaseHandle),
            || {
                "emergency response needs emergency.command, emergency.respond or case.handle"
                    .into()
            },
        )
    }

    /// Keeping plans and declaring incidents: emergency.command somewhere (plans are the
    /// street's; an incident's area is checked on its own).
    pub fn may_keep_plans(&self, actor: &Actor) -> Verdict {
        verdict(self.holds(actor, Permission::EmergencyCommand), || {
            "emergency plans need emergency.command".into()
        })
    }

    /// Commanding an incident over `region`: declaring, changing its level, lifting,
    /// writing situation reports, turning needs into cases or volunteer calls.
    pub fn may_command_incident(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::EmergencyCommand, region),
            || format!("commanding an incident needs emergency.command in {region}"),
        )
    }

    /// Acknowledging and reporting for a grid of `grid_region`.
    pub fn may_respond_in(&self, actor: &Actor, grid_region: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::EmergencyRespond, grid_region)
                || self.holds_in(actor, Permission::EmergencyCommand, grid_region),
            || format!("responding for a grid needs emergency.respond in {grid_region}"),
        )
    }

    /// Marking a task done: the addressed unit's handlers, a holder of the addressed role over
    /// the incident's region, the grid's responders, or the commander.
    pub fn may_finish_task(
        &self,
        actor: &Actor,
        target: &TaskTarget,
        incident_region: &RegionCode,
        grid_region: Option<&RegionCode>,
    ) -> Verdict {
        if self.may_command_incident(actor, incident_region).is_ok() {
            return Ok(());
        }
        let yes = match (actor, target) {
            (Actor::System, _) => true,
            (Actor::Staff { grants, .. }, TaskTarget::Unit(unit)) => allows(
                grants,
                self.roles,
                Permission::CaseHandle,
                &Target {
                    region: None,
                    unit: Some(unit),
                },
            ),
            (Actor::Staff { grants, .. }, TaskTarget::Role(role)) => grants.iter().any(|g| {
                &g.role == role
                    && match &g.scope {
                        Scope::Region(r) => {
                            r.contains(incident_region) || incident_region.contains(r)
                        }
                        Scope::Unit(_) => true,
                    }
            }),
            (_, TaskTarget::Grid(_)) => {
                grid_region.is_some_and(|r| self.may_respond_in(actor, r).is_ok())
            }
            (Actor::Resident | Actor::Reporter { .. }, _) => false,
        };
        verdict(yes, || {
            "only the task's addressee or the commander marks it done".into()
        })
    }

    /// Reading an incident over `region` whose tasks go to `units`: those who command or
    /// respond there, and the units' handlers.
    pub fn may_read_incident<'u>(
        &self,
        actor: &Actor,
        region: &RegionCode,
        grid_regions: impl IntoIterator<Item = &'u RegionCode>,
        units: impl IntoIterator<Item = &'u str>,
    ) -> Verdict {
        let yes = self.holds_in(actor, Permission::EmergencyCommand, region)
            || self.holds_in(actor, Permission::EmergencyRespond, region)
            || grid_regions
                .into_iter()
                .any(|r| self.holds_in(actor, Permission::EmergencyRespond, r))
            || match actor {
                Actor::Staff { grants, .. } => units.into_iter().any(|u| {
                    allows(
                        grants,
                        self.roles,
                        Permission::CaseHandle,
                        &Target {
                            region: None,
                            unit: Some(u),
                        },
                    )
                }),
                Actor::System => true,
                Actor::Resident | Actor::Reporter { .. } => false,
            };
        verdict(yes, || {
            format!("the incident over {region} is not yours to see")
        })
    }
}
