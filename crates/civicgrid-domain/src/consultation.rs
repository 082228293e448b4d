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

/// Flags that hide an opinion until a moderator reviews it.
pub const FLAGS_TO_HIDE: u32 = 3;

/// Whether an opinion shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Visible,
    /// Flagged `FLAGS_TO_HIDE` times: hidden until a moderator reviews it.
    AwaitingReview,
    /// Hidden by a moderator, with a reason the author (and everyone) sees in its place.
    Hidden,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [
        Visibility::Visible,
        Visibility::AwaitingReview,
        Visibility::Hidden,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::AwaitingReview => "awaiting_review",
            Visibility::Hidden => "hidden",
        }
    }
}

impl FromStr for Visibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Visibility::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a visibility"))
    }
}

/// A step of moderation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// Anyone flags (the caller makes sure each flagger counts once).
    Flag,
    /// A moderator hides it, with a reason.
    Hide { reason: String },
    /// A moderator reviewed it and lets it show: earlier flags are settled.
    Restore,
}

impl Moderation {
    pub fn name(&self) -> &'static str {
        match self {
            Moderation::Flag => "flag",
            Moderation::Hide { .. } => "hide",
            Moderation::Restore => "restore",
        }
    }
}

/// An opinion as moderation sees it: flags since the last review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moderated {
    pub visibility: Visibility,
    pub flags: u32,
}

/// Decides a moderation step. Flags on a hidden opinion are kept but change nothing; a
/// restored opinion starts counting flags afresh.
pub fn moderate(state: Moderated, step: &Moderation) -> Result<Moderated, String> {
    let mut next = state;
    match step {
        Moderation::Flag => {
            next.flags = state.flags.saturating_add(1);
            if state.visibility == Visibility::Visible && next.flags >= FLAGS_TO_HIDE {
                next.visibility = Visibility::AwaitingReview;
            }
        }
        Moderation::Hide { reason } => {
            if reason.trim().is_empty() {
                return Err("give the reason the author will see".into());
            }
            if state.visibility == Visibility::Hidden {
                return Err("it is hidden already".into());
            }
            next.visibility = Visibility::Hidden;
        }
        Moderation::Restore => {
            if state.visibility == Visibility::Visible && state.flags == 0 {
                return Err("nothing to review".into());
            }
            next = Moderated {
                visibility: Visibility::Visible,
                flags: 0,
            };
        }
    }
    Ok(next)
}

/// The kinds of meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingKind {
    /// 居民议事会
    ResidentCouncil,
    /// 党建联席会
    PartyJoint,
    /// 联席会商: units summoned on one or more cases.
    JointConsultation,
    /// 听证会
    Hearing,
}

impl MeetingKind {
    pub const ALL: [MeetingKind; 4] = [
        MeetingKind::ResidentCouncil,
        MeetingKind::PartyJoint,
        MeetingKind::JointConsultation,
        MeetingKind::Hearing,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingKind::ResidentCouncil => "resident_council",
            MeetingKind::PartyJoint => "party_joint",
            MeetingKind::JointConsultation => "joint_consultation",
            MeetingKind::Hearing => "hearing",
        }
    }
}

impl FromStr for MeetingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MeetingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a meeting kind (resident_council, party_joint, joint_consultation, hearing)")
            })
    }
}

/// Whom a meeting invites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteeKind {
    /// A unit of the responsibility list: it must answer by the deadline, as to a whistle call.
    Unit,
    /// A party member (by member number).
    Member,
    /// A resident or resident representative (by name).
    Resident,
}

impl InviteeKind {
    pub const ALL: [InviteeKind; 3] = [
        InviteeKind::Unit,
        InviteeKind::Member,
        InviteeKind::Resident,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            InviteeKind::Unit => "unit",
            InviteeKind::Member => "member",
            InviteeKind::Resident => "resident",
        }
    }
}

impl FromStr for InviteeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InviteeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an invitee kind (unit, member, resident)"))
    }
}

/// A summoned unit's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Its head attends.
    Attend,
    /// It sends someone in its place (named in the note).
    Delegate,
    /// It cannot attend, with a reason (still an answer, but not an attendance).
    Decline,
}

impl Answer {
    pub const ALL: [Answer; 3] = [Answer::Attend, Answer::Delegate, Answer::Decline];
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Attend => "attend",
            Answer::Delegate => "delegate",
            Answer::Decline => "decline",
        }
    }
}

impl FromStr for Answer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Answer::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an answer (attend, delegate, decline)"))
    }
}

/// Checks an answer: a delegate is named and a refusal has its reason.
pub fn check_answer(answer: Answer, note: &str) -> Result<(), String> {
    match answer {
        Answer::Delegate | Answer::Decline if note.trim().is_empty() => Err(match answer {
            Answer::Delegate => "name who attends in the unit's place".into(),
            _ => "give the reason the unit cannot attend".into(),
        }),
        _ => Ok(()),
    }
}

/// A summons, as the assessment counts it: answered by its deadline or not.
pub fn answered_on_time(due: Timestamp, answered_at: Option<Timestamp>) -> bool {
    answered_at.is_some_and(|at| at <= due)
}

/// A topic's agenda deadline was kept: scheduled by it (or scheduled without ever having
/// one, when taken up before qualifying).
pub fn agenda_kept(due: Option<Timestamp>, scheduled_at: Option<Timestamp>) -> bool {
    match (due, scheduled_at) {
        (Some(d), Some(s)) => s <= d,
        (None, Some(_)) => true,
        (_, None) => false,
    }
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

    #[test]
    fn flags_hide_until_a_moderator_reviews_and_every_hide_has_a_reason() {
        let mut m = Moderated {
            visibility: Visibility::Visible,
            flags: 0,
        };
        for _ in 0..FLAGS_TO_HIDE - 1 {
            m = moderate(m, &Moderation::Flag).expect("flag");
            assert_eq!(m.visibility, Visibility::Visible);
        }
        m = moderate(m, &Moderation::Flag).expect("flag");
        assert_eq!(m.visibility, Visibility::AwaitingReview);
        let restored = moderate(m, &Moderation::Restore).expect("restore");
        assert_eq!(
            restored,
            Moderated {
                visibility: Visibility::Visible,
                flags: 0
            }
        );
        assert!(moderate(restored, &Moderation::Restore).is_err());
        assert!(moderate(m, &Moderation::Hide { reason: " ".into() }).is_err());
        let hidden = moderate(
            m,
            &Moderation::Hide {
                reason: "personal data".into(),
            },
        )
        .expect("hide");
        assert_eq!(hidden.visibility, Visibility::Hidden);
        let flagged = moderate(hidden, &Moderation::Flag).expect("flag");
        assert_eq!(
            flagged.visibility,
            Visibility::Hidden,
            "flags do not unhide"
        );
        assert!(
            moderate(
                hidden,
                &Moderation::Hide {
                    reason: "again".into()
                }
            )
            .is_err()
        );
        assert_eq!(
            moderate(hidden, &Moderation::Restore)
                .expect("restore")
                .visibility,
            Visibility::Visible
        );
    }

    #[test]
    fn answers_and_agenda_deadlines() {
        assert!(check_answer(Answer::Attend, "").is_ok());
        assert!(check_answer(Answer::Delegate, " ").is_err());
        assert!(check_answer(Answer::Decline, "").is_err());
        assert!(check_answer(Answer::Decline, "on a flood duty").is_ok());
        let due = t("2026-05-08T10:00:00Z");
        assert!(answered_on_time(due, Some(due)));
        assert!(!answered_on_time(due, Some(t("2026-05-08T10:00:01Z"))));
        assert!(!answered_on_time(due, None));
        assert!(agenda_kept(Some(due), Some(due)));
        assert!(!agenda_kept(Some(due), Some(t("2026-05-09T00:00:00Z"))));
        assert!(agenda_kept(None, Some(due)));
        assert!(!agenda_kept(Some(due), None));
        for k in MeetingKind::ALL {
            assert_eq!(k.as_str().parse::<MeetingKind>(), Ok(k));
        }
        for k in InviteeKind::ALL {
            assert_eq!(k.as_str().parse::<InviteeKind>(), Ok(k));
        }
        for a in Answer::ALL {
            assert_eq!(a.as_str().parse::<Answer>(), Ok(a));
        }
        assert!("council".parse::<MeetingKind>().is_err());
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
