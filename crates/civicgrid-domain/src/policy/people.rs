//! The policy on people: party membership, household contacts, small wishes and volunteers.
//! Each answer is about a region — the organisation's, the household's community, the wish's,
//! the activity's — and a grant covers its subtree, as for cases.

use super::{Actor, Policy, Verdict, verdict};
use crate::access::{Permission, Target, allows};
use crate::territory::RegionCode;

impl Policy<'_> {
    /// Whether the actor holds `p` on `region` (a region grant above it, or the platform).
    pub fn holds_in(&self, actor: &Actor, p: Permission, region: &RegionCode) -> bool {
        match actor {
            Actor::System => true,
            Actor::Staff { grants, .. } => allows(
                grants,
                self.roles,
                p,
                &Target {
                    region: Some(region),
                    unit: None,
                },
            ),
            Actor::Resident | Actor::Reporter { .. } => false,
        }
    }

    fn needs(&self, actor: &Actor, p: Permission, region: &RegionCode, what: &str) -> Verdict {
        verdict(self.holds_in(actor, p, region), || {
            format!("{what} needs {} in {region}", p.as_str())
        })
    }

    /// Who is a party member, and the organisations' member lists: roles that read membership
    /// or keep it.
    pub fn may_read_membership(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        if self.holds_in(actor, Permission::PartyManage, region) {
            return Ok(());
        }
        self.needs(actor, Permission::PartyRead, region, "party membership")
    }

    /// Organisations, alliances, members, and deciding home-community registrations (双报到).
    pub fn may_manage_party(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        self.needs(
            actor,
            Permission::PartyManage,
            region,
            "keeping party organisations",
        )
    }

    /// A member's, household's or volunteer's phone number (each read is audited).
    pub fn may_read_personal_contact(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        self.needs(
            actor,
            Permission::PeopleReadContact,
            region,
            "a phone number",
        )
    }

    /// The household register, assignments and visit plans of a community.
    pub fn may_manage_households(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        self.needs(
            actor,
            Permission::HouseholdManage,
            region,
            "the household register",
        )
    }

    /// A household (its address and visits): whoever keeps the register, or the member or
    /// grid worker it is assigned to.
    pub fn may_read_household(
        &self,
        actor: &Actor,
        region: &RegionCode,
        assignee: Option<&str>,
    ) -> Verdict {
        if self.holds_in(actor, Permission::HouseholdManage, region) {
            return Ok(());
        }
        let own =
            matches!(actor, Actor::Staff { username, .. } if Some(username.as_str()) == assignee);
        verdict(
            own && self.holds_in(actor, Permission::VisitLog, region),
            || "a household is for whoever keeps the register and its assigned contact".to_owned(),
        )
    }

    /// Logging a contact with a household: its assigned contact, or whoever keeps the
    /// register and logs visits there.
    pub fn may_log_visit(
        &self,
        actor: &Actor,
        region: &RegionCode,
        assignee: Option<&str>,
    ) -> Verdict {
        let own =
            matches!(actor, Actor::Staff { username, .. } if Some(username.as_str()) == assignee);
        let keeper = self.holds_in(actor, Permission::HouseholdManage, region);
        verdict(
            (own || keeper) && self.holds_in(actor, Permission::VisitLog, region),
            || "visits are logged by the household's contact".to_owned(),
        )
    }

    /// Posting a wish on a resident's behalf, withdrawing wishes, seeing the escalated ones.
    pub fn may_manage_wishes(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        self.needs(
            actor,
            Permission::WishManage,
            region,
            "following up small wishes",
        )
    }

    /// Registering volunteers, organising activities, recording and approving hours,
    /// certifying them.
    pub fn may_manage_volunteers(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        self.needs(
            actor,
            Permission::VolunteerManage,
            region,
            "organising volunteers",
        )
    }
}
