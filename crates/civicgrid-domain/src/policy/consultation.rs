//! The policy on consultation: scheduling topics, convening meetings and recording their
//! outcome; moderating opinions; answering a meeting's summons for a unit; and handing out
//! voting codes (the household's contact or whoever keeps the register).

use super::{Actor, Policy, Verdict, verdict};
use crate::access::{Permission, Target, allows};
use crate::territory::RegionCode;

impl Policy<'_> {
    /// Scheduling and withdrawing topics, meetings (convening, attendance, minutes,
    /// decisions), results and polls in `region`.
    pub fn may_manage_consultation(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::ConsultationManage, region),
            || format!("consultation needs consultation.manage in {region}"),
        )
    }

    /// Hiding and restoring opinions on topics of `region`.
    pub fn may_moderate(&self, actor: &Actor, region: &RegionCode) -> Verdict {
        verdict(
            self.holds_in(actor, Permission::ConsultationModerate, region),
            || format!("moderating opinions needs consultation.moderate in {region}"),
        )
    }

    /// Answering a meeting's summons for `unit`: its handlers, as for a whistle call.
    pub fn may_answer_for_unit(&self, actor: &Actor, unit: &str) -> Verdict {
        let yes = match actor {
            Actor::System => true,
            Actor::Staff { grants, .. } => allows(
                grants,
                self.roles,
                Permission::CaseHandle,
                &Target {
                    region: None,
                    unit: Some(unit),
                },
            ),
            Actor::Resident | Actor::Reporter { .. } => false,
        };
        verdict(yes, || format!("only {unit} answers its summons"))
    }
}
