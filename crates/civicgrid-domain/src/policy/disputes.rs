//! The policy on mediation and one-stop services: who mediates a dispute at its tier, who
//! approves extensions and registers mediators, who reads disputes (and so the parties'
//! sealed details, each read audited), who handles service applications and who files them
//! for residents.

use super::{Actor, Policy, Verdict, verdict};
use crate::access::{Permission, Target, allows};
use crate::dispute::Tier;
use crate::territory::RegionCode;

impl Policy<'_> {
    /// Acting on a dispute of `community` held at `tier`: a mediator of that tier's region
    /// (the community for grid and community tiers, then its street, then its district).
    pub fn may_mediate(&self, actor: &Actor, community: &RegionCode, tier: Tier) -> Verdict {
        let region = tier.region_for(community);
        verdict(
            self.holds_in(actor, Permission::DisputeMediate, &region),
            || {
                format!(
                    "mediating at {} tier needs dispute.mediate in {region}",
                    tier.as_str()
                )
            },
        )
    }

    /// Reading the disputes of `community`: mediators and approvers there or above.
    pub fn may_read_disputes(&self, actor: &Actor, community: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::DisputeMediate, community)
                || self.holds_in(actor, Permission::DisputeApprove, community),
            || format!("disputes need dispute.mediate in {community}"),
        )
    }

    /// Reading one dispute (its parties, records and agreements): mediators of a tier it
    /// was held at (where it started, or where it is), or approvers of the tier holding it. A
    /// community's grid workers do not read what the street took up from the start.
    pub fn may_read_dispute(
        &self,
        actor: &Actor,
        community: &RegionCode,
        first_tier: Tier,
        tier: Tier,
    ) -> Verdict {
        let yes = self.may_mediate(actor, community, tier).is_ok()
            || self.may_mediate(actor, community, first_tier).is_ok()
            || self
                .may_approve_mediation(actor, &tier.region_for(community))
                .is_ok();
        verdict(yes, || {
            format!("this dispute is read by mediators of its tiers in {community}")
        })
    }

    /// Approving an extension of a dispute held at `tier`, or registering mediators for
    /// `region`.
    pub fn may_approve_mediation(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::DisputeApprove, region),
            || format!("this needs dispute.approve in {region}"),
        )
    }

    /// Checking, accepting, forwarding and completing an application of `region` held by
    /// `unit`: service.handle in the region, or granted for the unit.
    pub fn may_handle_application(
        &self,
        actor: &Actor,
        region: &RegionCode,
        unit: &str,
    ) -> Verdict {
        let yes = match actor {
            Actor::System => true,
            Actor::Staff { grants, .. } => {
                allows(
                    grants,
                    self.roles,
                    Permission::ServiceHandle,
                    &Target {
                        region: Some(region),
                        unit: None,
                    },
                ) || allows(
                    grants,
                    self.roles,
                    Permission::ServiceHandle,
                    &Target {
                        region: None,
                        unit: Some(unit),
                    },
                )
            }
            Actor::Resident | Actor::Reporter { .. } => false,
        };
        verdict(yes, || {
            format!("applications of {region} held by {unit} need service.handle there")
        })
    }

    /// Filing an application for a resident of `region` (代办).
    pub fn may_file_for_resident(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::ServiceProxy, region),
            || format!("filing for a resident needs service.proxy in {region}"),
        )
    }

    /// Keeping the catalogue of service items.
    pub fn may_manage_service_items(&self, actor: &Actor) -> Verdict {
        verdict(self.holds(actor, Permission::CatalogueManage), || {
            "the catalogue of service items needs catalogue.manage".to_owned()
        })
    }
}
