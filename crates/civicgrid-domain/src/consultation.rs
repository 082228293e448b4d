//! Consultation (议事协商): topics raised in a grid, a community or a street, supported by
//! residents until they pass their scope's threshold and must be put on a meeting's agenda
//! within a number of working days; polls answered with one-time household codes as a secret
//! ballot; and the progress of a decision's result, computed from its linked work — never
//! typed in.

use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Supports a topic needs: `per_mille` of the scope's registered households, rounded up, and
/// at least one (e.g. 50‰ = 5 % of 240 households is 12).
pub fn threshold(households: u64, per_mille: u32) -> u64 {
    let needed = households
        .saturating_mul(u64::from(per_mille))
        .div_ceil(1000);
    needed.max(1)
}

/// Where a topic stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicStatus {
    /// Raised; collecting support.
    Open,
    /// Passed its threshold: it must be put on an agenda by its deadline.
    Qualified,
    /// On a meeting's agenda.
    Scheduled,
    /// The meeting decided on it.
    Decided,
    /// Withdrawn or merged, with a reason.
    Withdrawn,
}

impl TopicStatus {
    pub const ALL: [TopicStatus; 5] = [
        TopicStatus::Open,
        TopicStatus::Qualified,
        TopicStatus::Scheduled,
        TopicStatus::Decided,
        TopicStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TopicStatus::Open => "open",
            TopicStatus::Qualified => "qualified",
            TopicStatus::Scheduled => "scheduled",
            TopicStatus::Decided => "decided",
            TopicStatus::Withdrawn => "withdrawn",
        }
    }
}

impl FromStr for TopicStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TopicStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a topic status"))
    }
}

/// What happens to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicAction {
    /// A household supports it (the caller makes sure each household counts once).
    Support,
    /// Put on a meeting's agenda.
    Schedule,
    /// The meeting decided on it.
    Decide,
    Withdraw {
        reason: String,
    },
}

/// A topic as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicState {
    pub status: TopicStatus,
    pub supports: u64,
    pub threshold: u64,
}

/// Decides an action. A support that reaches the threshold qualifies the topic (its agenda
/// deadline starts then, set by the caller on the working calendar). A topic may be put on an
/// agenda before it qualifies: the community may take up what it finds urgent.
pub fn decide_topic(state: &TopicState, action: &TopicAction) -> Result<TopicState, String> {
    use TopicStatus::*;
    let mut next = state.clone();
    match (state.status, action) {
        (Open | Qualified | Scheduled, TopicAction::Support) => {
            next.supports += 1;
            if state.status == Open && next.supports >= state.threshold {
                next.status = Qualified;
            }
        }
        (Open | Qualified, TopicAction::Schedule) => next.status = Scheduled,
        (Scheduled, TopicAction::Decide) => next.status = Decided,
        (Open | Qualified | Scheduled, TopicAction::Withdraw { reason }) => {
            if reason.trim().is_empty() {
                return Err("give a reason".into());
            }
            next.status = Withdrawn;
        }
        (s, _) => return Err(format!("a {} topic cannot do that", s.as_str())),
    }
    Ok(next)
}

/// How many options a ballot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ballot {
    Single,
    /// Up to `max` different options.
    Multiple {
        max: u8,
    },
}

/// Checks a ballot's choices (option indexes) against the poll: one for a single choice, 1 to
/// `max` different ones for a multiple choice, each an option of the poll.
pub fn check_choices(ballot: Ballot, options: usize, choices: &[usize]) -> Result<(), String> {
    if choices.iter().any(|c| *c >= options) {
        return Err("a choice is not an option of this poll".into());
    }
    let mut distinct = choices.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != choices.len() {
        return Err("an option is chosen twice".into());
    }
    match ballot {
        Ballot::Single if choices.len() == 1 => Ok(()),
        Ballot::Single => Err("choose one option".into()),
        Ballot::Multiple { max } if (1..=usize::from(max)).contains(&choices.len()) => Ok(()),
        Ballot::Multiple { max } => Err(format!("choose 1 to {max} options")),
    }
}

/// Whether a poll takes votes, and whether its count may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollPhase {
    NotOpen,
    Open,
    /// Closed: the count is published.
    Closed,
}

pub fn poll_phase(opens_at: Timestamp, closes_at: Timestamp, now: Timestamp) -> PollPhase {
    if now < opens_at {
        PollPhase::NotOpen
    } else if now < closes_at {
        PollPhase::Open
    } else {
        PollPhase::Closed
    }
}

/// One piece of a result's work: a case dispatched through the loop, or a project milestone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    pub due: Option<Timestamp>,
    /// When it was closed (a case) or done (a milestone); None while open.
    pub done_at: Option<Timestamp>,
}

/// A result's progress: computed from its work, never typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub total: u32,
    pub done: u32,
    /// Done by its deadline (or without one).
    pub done_on_time: u32,
    /// Not done, and past its deadline.
    pub overdue: u32,
    /// done ÷ total in whole per cent (0 without work).
    pub percent: u32,
}

pub fn progress(work: &[Work], now: Timestamp) -> Progress {
    let total = u32::try_from(work.len()).unwrap_or(u32::MAX);
    let mut p = Progress {
        total,
        done: 0,
        done_on_time: 0,
        overdue: 0,
        percent: 0,
    };
    for w in work {
        match (w.done_at, w.due) {
            (Some(at), due) => {
                p.done += 1;
                if due.is_none_or(|d| at <= d) {
                    p.done_on_time += 1;
                }
            }
            (None, Some(due)) if due < now => p.overdue += 1,
            (None, _) => {}
        }
    }
    if total > 0 {
        p.percent = u32::try_from(u64::from(p.done) * 100 / u64::from(total)).unwrap_or(100);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn thresholds_round_up_and_never_fall_to_zero() {
        assert_eq!(threshold(240, 50), 12);
        assert_eq!(threshold(241, 50), 13);
        assert_eq!(threshold(0, 50), 1);
        assert_eq!(threshold(10, 0), 1);
    }

    #[test]
    fn a_topic_qualifies_at_its_threshold_and_moves_on() {
        let open = TopicState {
            status: TopicStatus::Open,
            supports: 1,
            threshold: 2,
        };
        let q = decide_topic(&open, &TopicAction::Support).expect("support");
        assert_eq!((q.status, q.supports), (TopicStatus::Qualified, 2));
        let more = decide_topic(&q, &TopicAction::Support).expect("support");
        assert_eq!(more.status, TopicStatus::Qualified, "stays qualified");
        let s = decide_topic(&more, &TopicAction::Schedule).expect("schedule");
        let d = decide_topic(&s, &TopicAction::Decide).expect("decide");
        assert_eq!(d.status, TopicStatus::Decided);
        assert!(decide_topic(&d, &TopicAction::Support).is_err());
        assert!(
            decide_topic(&open, &TopicAction::Decide).is_err(),
            "decided only at a meeting"
        );
        assert!(decide_topic(&open, &TopicAction::Withdraw { reason: " ".into() }).is_err());
    }

    #[test]
    fn ballots_take_what_their_poll_allows() {
        assert!(check_choices(Ballot::Single, 3, &[1]).is_ok());
        assert!(check_choices(Ballot::Single, 3, &[0, 1]).is_err());
        assert!(check_choices(Ballot::Single, 3, &[3]).is_err());
        assert!(check_choices(Ballot::Multiple { max: 2 }, 3, &[0, 2]).is_ok());
        assert!(check_choices(Ballot::Multiple { max: 2 }, 3, &[0, 0]).is_err());
        assert!(check_choices(Ballot::Multiple { max: 2 }, 3, &[]).is_err());
        assert!(check_choices(Ballot::Multiple { max: 2 }, 3, &[0, 1, 2]).is_err());
        let (a, b) = (t("2026-05-01T00:00:00Z"), t("2026-05-08T00:00:00Z"));
        assert_eq!(
            poll_phase(a, b, t("2026-04-30T00:00:00Z")),
            PollPhase::NotOpen
        );
        assert_eq!(poll_phase(a, b, a), PollPhase::Open);
        assert_eq!(poll_phase(a, b, b), PollPhase::Closed);
    }

    #[test]
    fn progress_counts_done_on_time_and_overdue() {
        let now = t("2026-06-10T00:00:00Z");
        let due = Some(t("2026-06-05T00:00:00Z"));
        let work = [
            Work {
                due,
                done_at: Some(t("2026-06-01T00:00:00Z")),
            },
            Work {
                due,
                done_at: Some(t("2026-06-07T00:00:00Z")),
            },
            Work { due, done_at: None },
            Work {
                due: None,
                done_at: None,
            },
        ];
        assert_eq!(
            progress(&work, now),
            Progress {
                total: 4,
                done: 2,
                done_on_time: 1,
                overdue: 1,
                percent: 50
            }
        );
        assert_eq!(progress(&[], now).percent, 0);
    }

    fn instant() -> impl Strategy<Value = Timestamp> {
        (0i64..1_000_000).prop_map(|s| Timestamp::from_second(1_780_000_000 + s).expect("t"))
    }

    proptest! {
        /// Whatever order a result's work is completed in (its cases closing, its milestones
        /// done, events arriving late or out of order), the progress is the recomputation from
        /// the final state; and its counts always add up.
        #[test]
        fn progress_is_the_recomputation_whatever_the_order(
            dues in proptest::collection::vec(proptest::option::of(instant()), 0..12),
            completions in proptest::collection::vec((0usize..12, instant()), 0..20),
            order in any::<u64>(),
            now in instant(),
        ) {
            let completions: Vec<(usize, Timestamp)> = completions.into_iter().filter(|(i, _)| *i < dues.len()).collect();
            // The final state: each item done at its first completion (a case closed once;
            // reopenings are closings again, later ones do not undo the first).
            let apply = |events: &[(usize, Timestamp)]| {
                let mut work: Vec<Work> = dues.iter().map(|d| Work { due: *d, done_at: None }).collect();
                for (i, at) in events {
                    let w = &mut work[*i];
                    w.done_at = Some(w.done_at.map_or(*at, |d| d.min(*at)));
                }
                work
            };
            let in_order = apply(&completions);
            let mut shuffled = completions.clone();
            // A deterministic shuffle from `order`.
            let mut seed = order;
            for k in (1..shuffled.len()).rev() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = usize::try_from(seed >> 33).unwrap_or(0) % (k + 1);
                shuffled.swap(k, j);
            }
            let out_of_order = apply(&shuffled);
            let p = progress(&in_order, now);
            prop_assert_eq!(p, progress(&out_of_order, now));
            prop_assert_eq!(p.total as usize, dues.len());
            prop_assert!(p.done_on_time <= p.done && p.done + p.overdue <= p.total);
            prop_assert!(p.percent <= 100);
            if let Some(expected) = (p.done * 100).checked_div(p.total) {
                prop_assert_eq!(p.percent, expected);
            }
        }
    }
}
