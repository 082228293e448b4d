//! Small wishes (微心愿): a resident's wish, claimed by a registered member or volunteer, one
//! at a time, delivered, and confirmed by the resident with the wish's receipt, as with cases.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a wish stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WishStatus {
    /// Posted, waiting for someone to take it on.
    Open,
    /// Taken on by one member or volunteer.
    Claimed,
    /// The claimant says it is done; the resident has not confirmed yet.
    Delivered,
    /// The resident confirmed it was fulfilled.
    Fulfilled,
    /// Withdrawn by the resident or by staff before it was fulfilled.
    Withdrawn,
}

impl WishStatus {
    pub const ALL: [WishStatus; 5] = [
        WishStatus::Open,
        WishStatus::Claimed,
        WishStatus::Delivered,
        WishStatus::Fulfilled,
        WishStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WishStatus::Open => "open",
            WishStatus::Claimed => "claimed",
            WishStatus::Delivered => "delivered",
            WishStatus::Fulfilled => "fulfilled",
            WishStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, WishStatus::Fulfilled | WishStatus::Withdrawn)
    }
}

impl FromStr for WishStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WishStatus::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a wish status"))
    }
}

/// Something done to a wish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WishAction {
    /// A registered member or volunteer takes it on.
    Claim {
        by: String,
    },
    /// The claimant gives it back.
    Release {
        by: String,
    },
    /// The claimant reports it done.
    Deliver {
        by: String,
        note: String,
    },
    /// The resident confirms (by receipt).
    Confirm,
    /// The resident says it was not done; it goes back to the claimant.
    Dispute {
        note: String,
    },
    /// Unclaimed too long: it goes up to the community (the wish stays open).
    Escalate,
    Withdraw {
        reason: String,
    },
}

impl WishAction {
    pub fn name(&self) -> &'static str {
        match self {
            WishAction::Claim { .. } => "claim",
            WishAction::Release { .. } => "release",
            WishAction::Deliver { .. } => "deliver",
            WishAction::Confirm => "confirm",
            WishAction::Dispute { .. } => "dispute",
            WishAction::Escalate => "escalate",
            WishAction::Withdraw { .. } => "withdraw",
        }
    }
}

/// The state the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WishState {
    pub status: WishStatus,
    pub claimed_by: Option<String>,
    pub escalated: bool,
}

/// Decides an action on a wish. `claims_held` is how many unfinished wishes the claimant
/// already holds (for `Claim`): one at a time.
pub fn decide(
    state: &WishState,
    action: &WishAction,
    claims_held: usize,
) -> Result<WishState, String> {
    use WishStatus::*;
    let mut next = state.clone();
    match (state.status, action) {
        (Open, WishAction::Claim { by }) => {
            if claims_held > 0 {
                return Err("finish the wish you hold before taking on another".into());
            }
            next.status = Claimed;
            next.claimed_by = Some(by.clone());
        }
        (Claimed, WishAction::Release { by }) if state.claimed_by.as_ref() == Some(by) => {
            next.status = Open;
            next.claimed_by = None;
        }
        (Claimed, WishAction::Deliver { by, note }) if state.claimed_by.as_ref() == Some(by) => {
            if note.trim().is_empty() {
                return Err("say what was done".into());
            }
            next.status = Delivered;
        }
        (Claimed, WishAction::Release { .. } | WishAction::Deliver { .. }) => {
            return Err("only the one who took the wish on may do that".into());
        }
        (Delivered, WishAction::Confirm) => next.status = Fulfilled,
        (Delivered, WishAction::Dispute { note }) => {
            if note.trim().is_empty() {
                return Err("say what is still missing".into());
            }
            next.status = Claimed;
        }
        (Open, WishAction::Escalate) if !state.escalated => next.escalated = true,
        (s, WishAction::Withdraw { reason }) if !s.is_final() => {
            if reason.trim().is_empty() {
                return Err("give a reason".into());
            }
            next.status = Withdrawn;
            next.claimed_by = None;
        }
        (s, a) => {
            return Err(format!(
                "a wish that is {} cannot be {}ed",
                s.as_str(),
                a.name()
            ));
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn open() -> WishState {
        WishState {
            status: WishStatus::Open,
            claimed_by: None,
            escalated: false,
        }
    }

    #[test]
    fn a_wish_goes_from_post_to_fulfilment() {
        let a = "li".to_owned();
        let s = decide(&open(), &WishAction::Claim { by: a.clone() }, 0).expect("claim");
        assert_eq!(s.claimed_by.as_deref(), Some("li"));
        assert!(decide(&open(), &WishAction::Claim { by: a.clone() }, 1).is_err());
        assert!(
            decide(
                &s,
                &WishAction::Deliver {
                    by: "wang".into(),
                    note: "done".into()
                },
                0
            )
            .is_err()
        );
        assert!(
            decide(
                &s,
                &WishAction::Deliver {
                    by: a.clone(),
                    note: " ".into()
                },
                0
            )
            .is_err()
        );
        let s = decide(
            &s,
            &WishAction::Deliver {
                by: a.clone(),
                note: "送到了".into(),
            },
            0,
        )
        .expect("deliver");
        let back = decide(
            &s,
            &WishAction::Dispute {
                note: "还缺一个".into(),
            },
            0,
        )
        .expect("dispute");
        assert_eq!(back.status, WishStatus::Claimed);
        let s = decide(&s, &WishAction::Confirm, 0).expect("confirm");
        assert_eq!(s.status, WishStatus::Fulfilled);
        assert!(decide(&s, &WishAction::Withdraw { reason: "x".into() }, 0).is_err());
        let e = decide(&open(), &WishAction::Escalate, 0).expect("escalate");
        assert!(e.escalated);
        assert!(decide(&e, &WishAction::Escalate, 0).is_err(), "once");
    }

    fn action() -> impl Strategy<Value = WishAction> {
        let who = prop_oneof![Just("a".to_owned()), Just("b".to_owned())];
        prop_oneof![
            who.clone().prop_map(|by| WishAction::Claim { by }),
            who.clone().prop_map(|by| WishAction::Release { by }),
            who.prop_map(|by| WishAction::Deliver {
                by,
                note: "done".into()
            }),
            Just(WishAction::Confirm),
            Just(WishAction::Dispute { note: "no".into() }),
            Just(WishAction::Escalate),
            Just(WishAction::Withdraw {
                reason: "moved".into()
            }),
        ]
    }

    proptest! {
        /// Whatever happens: a claimed or delivered wish has its claimant and an open one has
        /// none, a final state never changes, and only a delivered wish becomes fulfilled.
        #[test]
        fn wishes_keep_their_invariants(actions in proptest::collection::vec(action(), 0..30)) {
            let mut s = open();
            for a in &actions {
                if let Ok(next) = decide(&s, a, 0) {
                    prop_assert!(!s.status.is_final(), "a final wish changed");
                    if next.status == WishStatus::Fulfilled {
                        prop_assert_eq!(s.status, WishStatus::Delivered);
                    }
                    s = next;
                }
                match s.status {
                    WishStatus::Claimed | WishStatus::Delivered => prop_assert!(s.claimed_by.is_some()),
                    WishStatus::Open | WishStatus::Withdrawn => prop_assert!(s.claimed_by.is_none()),
                    WishStatus::Fulfilled => {}
                }
            }
        }
    }
}
