//! People's mediation (人民调解) of disputes (矛盾纠纷), as the 人民调解法 frames it: a dispute
//! is mediated at the lowest competent tier and moves up only by a recorded escalation (and
//! down only when a higher tier sends it back); a session ends in a written agreement
//! (调解协议书, binding once signed), an oral agreement, or a failure with a referral; after
//! an agreement the committee visits to check that it is carried out. Pure: the state machine,
//! the statutory periods on the working calendar, and the agreement's canonical text.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::calendar::WorkingCalendar;
use crate::case::deadline::Alarm;
use crate::territory::{RegionCode, RegionLevel};

/// The tiers of mediation, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 邻里调解 in the grid.
    Grid,
    /// The community's 人民调解委员会.
    Community,
    /// The street's 综治中心 / 司法所.
    Street,
    /// The district.
    District,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Grid, Tier::Community, Tier::Street, Tier::District];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Grid => "grid",
            Tier::Community => "community",
            Tier::Street => "street",
            Tier::District => "district",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Tier::Grid => "网格邻里调解",
            Tier::Community => "社区人民调解委员会",
            Tier::Street => "街道综治中心/司法所",
            Tier::District => "区级调解",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The tier above, if any.
    pub fn up(self) -> Option<Tier> {
        match self {
            Tier::Grid => Some(Tier::Community),
            Tier::Community => Some(Tier::Street),
            Tier::Street => Some(Tier::District),
            Tier::District => None,
        }
    }

    /// The tier below, if any.
    pub fn down(self) -> Option<Tier> {
        match self {
            Tier::Grid => None,
            Tier::Community => Some(Tier::Grid),
            Tier::Street => Some(Tier::Community),
            Tier::District => Some(Tier::Street),
        }
    }

    /// The region whose mediators act at this tier, for a dispute of `community`: the
    /// community itself for the two lowest tiers, then its street, then its district.
    pub fn region_for(self, community: &RegionCode) -> RegionCode {
        let wanted = match self {
            Tier::Grid | Tier::Community => RegionLevel::Community,
            Tier::Street => RegionLevel::Street,
            Tier::District => RegionLevel::District,
        };
        community
            .self_and_ancestors()
            .into_iter()
            .find(|r| r.level() == wanted)
            .unwrap_or_else(|| community.clone())
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How grave a dispute is (风险等级): a grave one starts higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// 一般
    Low,
    /// 较大
    Medium,
    /// 重大: may turn into a mass incident or a 民转刑 case.
    High,
}

impl Risk {
    pub const ALL: [Risk; 3] = [Risk::Low, Risk::Medium, Risk::High];
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The lowest competent tier: the kind's own lowest tier, raised by the risk (a medium risk
/// goes to the committee, a high one to the street), and the community when the dispute is
/// in no grid.
pub fn starting_tier(kind_lowest: Tier, risk: Risk, in_a_grid: bool) -> Tier {
    let by_risk = match risk {
        Risk::Low => Tier::Grid,
        Risk::Medium => Tier::Community,
        Risk::High => Tier::Street,
    };
    let tier = kind_lowest.max(by_risk);
    if tier == Tier::Grid && !in_a_grid {
        Tier::Community
    } else {
        tier
    }
}

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Being mediated.
    Mediating,
    /// An agreement was reached (signed, or an oral one recorded); follow-up visits check it.
    Agreed,
    /// A follow-up found the terms not carried out: mediation reopens or the dispute is
    /// referred.
    NotPerformed,
    /// Settled: the agreement was carried out (closed).
    Settled,
    /// Mediation failed; referred elsewhere (closed).
    Failed,
    /// The applicant withdrew (closed).
    Withdrawn,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 6] = [
        DisputeStatus::Mediating,
        DisputeStatus::Agreed,
        DisputeStatus::NotPerformed,
        DisputeStatus::Settled,
        DisputeStatus::Failed,
        DisputeStatus::Withdrawn,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Mediating => "mediating",
            DisputeStatus::Agreed => "agreed",
            DisputeStatus::NotPerformed => "not_performed",
            DisputeStatus::Settled => "settled",
            DisputeStatus::Failed => "failed",
            DisputeStatus::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Option<DisputeStatus> {
        DisputeStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            DisputeStatus::Settled | DisputeStatus::Failed | DisputeStatus::Withdrawn
        )
    }
}

/// Where a failed mediation is referred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Referral {
    /// 诉讼
    Litigation,
    /// 仲裁
    Arbitration,
    /// 信访
    Petition,
    /// Another body (行政调解, 劳动监察, …), named in the note.
    OtherBody,
}

impl Referral {
    pub const ALL: [Referral; 4] = [
        Referral::Litigation,
        Referral::Arbitration,
        Referral::Petition,
        Referral::OtherBody,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Referral::Litigation => "litigation",
            Referral::Arbitration => "arbitration",
            Referral::Petition => "petition",
            Referral::OtherBody => "other_body",
        }
    }
    pub fn parse(s: &str) -> Option<Referral> {
        Referral::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The form of an agreement reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementForm {
    /// 调解协议书, signed by the parties.
    Written,
    /// 口头协议, recorded by the mediator.
    Oral,
}

/// What happens to a dispute. Every change is one of these, recorded as an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DisputeAction {
    /// Raised at `tier` (the lowest competent one).
    Raise { tier: Tier },
    /// Up one tier, with the reason.
    Escalate { reason: String },
    /// Back down one tier by the tier holding it, with the reason.
    SendDown { reason: String },
    /// A mediation session was held (the record is kept with the session).
    HoldSession,
    /// The mediation limit extended by `days`, approved by a second person.
    Extend { days: u32, reason: String },
    /// A written agreement's text, version `version` (1 for the first; a signed agreement is
    /// changed only by a new version).
    DraftAgreement { version: u32 },
    /// The parties signed `version`; `follow_ups` visits are scheduled.
    SignAgreement { version: u32, follow_ups: u32 },
    /// An oral agreement recorded; `follow_ups` visits are scheduled.
    RecordOralAgreement { follow_ups: u32 },
    /// Mediation failed (or the agreement was not carried out): referred elsewhere.
    Fail { referral: Referral },
    /// The parties applied for judicial confirmation (司法确认).
    ApplyConfirmation,
    /// The parties were reminded that the window for judicial confirmation closes soon.
    RemindConfirmation,
    /// A follow-up visit: were the terms carried out?
    FollowUp { performed: bool },
    /// Mediation reopens after the terms were not carried out.
    Reopen { reason: String },
    /// The applicant withdrew.
    Withdraw { reason: String },
    /// The mediation limit's warning (yellow) or breach (red), recorded once each.
    Warn { alarm: Alarm },
}

impl DisputeAction {
    pub fn name(&self) -> &'static str {
        match self {
            DisputeAction::Raise { .. } => "raise",
            DisputeAction::Escalate { .. } => "escalate",
            DisputeAction::SendDown { .. } => "send_down",
            DisputeAction::HoldSession => "hold_session",
            DisputeAction::Extend { .. } => "extend",
            DisputeAction::DraftAgreement { .. } => "draft_agreement",
            DisputeAction::SignAgreement { .. } => "sign_agreement",
            DisputeAction::RecordOralAgreement { .. } => "record_oral_agreement",
            DisputeAction::Fail { .. } => "fail",
            DisputeAction::ApplyConfirmation => "apply_confirmation",
            DisputeAction::RemindConfirmation => "remind_confirmation",
            DisputeAction::FollowUp { .. } => "follow_up",
            DisputeAction::Reopen { .. } => "reopen",
            DisputeAction::Withdraw { .. } => "withdraw",
            DisputeAction::Warn { .. } => "warn",
        }
    }
}

/// A dispute's state: what the stored row holds, and what replaying its events gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeState {
    pub status: DisputeStatus,
    pub tier: Tier,
    /// The tier it started at.
    pub first_tier: Tier,
    /// The highest tier it ever reached.
    pub highest_tier: Tier,
    pub escalations: u32,
    pub sessions: u32,
    /// Days the mediation limit was extended by, in all.
    pub extended_days: u32,
    /// The latest agreement text drafted, 0 if none.
    pub drafted_version: u32,
    /// The agreement version in force (signed), if written.
    pub signed_version: Option<u32>,
    pub agreement: Option<AgreementForm>,
    /// The tier at which the (latest) agreement was reached.
    pub agreed_tier: Option<Tier>,
    pub follow_ups_pending: u32,
    pub confirmation_applied: bool,
    pub confirmation_reminded: bool,
    pub referral: Option<Referral>,
    /// The highest warning recorded on the mediation limit since it last changed.
    pub alarm: Option<Alarm>,
}

/// Why an action does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(text: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(text.into()))
}

/// The state after `action`, or why it does not apply. `state` is `None` before the dispute
/// is raised.
pub fn apply(
    state: Option<&DisputeState>,
    action: &DisputeAction,
) -> Result<DisputeState, Refusal> {
    use DisputeAction as A;
    use DisputeStatus as S;
    let Some(s) = state else {
        return match action {
            A::Raise { tier } => Ok(DisputeState {
                status: S::Mediating,
                tier: *tier,
                first_tier: *tier,
                highest_tier: *tier,
                escalations: 0,
                sessions: 0,
                extended_days: 0,
                drafted_version: 0,
                signed_version: None,
                agreement: None,
                agreed_tier: None,
                follow_ups_pending: 0,
                confirmation_applied: false,
                confirmation_reminded: false,
                referral: None,
                alarm: None,
            }),
            _ => refuse("a dispute is raised first"),
        };
    };
    let mut n = s.clone();
    let mediating = s.status == S::Mediating;
    match action {
        A::Raise { .. } => return refuse("the dispute was raised already"),
        A::Escalate { reason } | A::SendDown { reason } => {
            if !mediating {
                return refuse("only a dispute being mediated moves between tiers");
            }
            if reason.trim().is_empty() {
                return refuse("a move between tiers needs a reason");
            }
            let to = if matches!(action, A::Escalate { .. }) {
                n.escalations += 1;
                s.tier
                    .up()
                    .ok_or_else(|| Refusal("the district is the highest tier".into()))?
            } else {
                let down = s
                    .tier
                    .down()
                    .ok_or_else(|| Refusal("the grid is the lowest tier".into()))?;
                if down < s.first_tier {
                    return refuse(
                        "a dispute is not sent below the lowest competent tier, where it started",
                    );
                }
                down
            };
            n.tier = to;
            n.highest_tier = s.highest_tier.max(to);
        }
        A::HoldSession => {
            if !mediating {
                return refuse("sessions are held while the dispute is mediated");
            }
            n.sessions += 1;
        }
        A::Extend { days, reason } => {
            if !mediating {
                return refuse("only a dispute being mediated has a limit to extend");
            }
            if *days == 0 || *days > 30 || reason.trim().is_empty() {
                return refuse("an extension is 1 to 30 days, with a reason");
            }
            if s.extended_days + days > 30 {
                return refuse("extensions add up to 30 days at most");
            }
            n.extended_days += days;
            // The limit moved: its warnings are raised again against the new one.
            n.alarm = None;
        }
        A::DraftAgreement { version } => {
            if !(mediating || s.status == S::Agreed && s.agreement == Some(AgreementForm::Written))
            {
                return refuse(
                    "an agreement is written during mediation, or as a new version of a signed one",
                );
            }
            if *version != s.drafted_version + 1 {
                return refuse(format!("the next version is {}", s.drafted_version + 1));
            }
            n.drafted_version = *version;
        }
        A::SignAgreement {
            version,
            follow_ups,
        } => {
            if s.drafted_version == 0 || *version != s.drafted_version {
                return refuse("only the latest version of the agreement is signed");
            }
            if s.signed_version == Some(*version) {
                return refuse("this version is signed already");
            }
            if mediating {
                n.status = S::Agreed;
                n.agreement = Some(AgreementForm::Written);
                n.agreed_tier = Some(s.tier);
                n.follow_ups_pending = *follow_ups;
                n.alarm = None;
                n.confirmation_applied = false;
                n.confirmation_reminded = false;
            } else if s.status != S::Agreed {
                return refuse("the dispute is not being mediated");
            }
            n.signed_version = Some(*version);
        }
        A::RecordOralAgreement { follow_ups } => {
            if !mediating {
                return refuse("an agreement is reached during mediation");
            }
            n.status = S::Agreed;
            n.agreement = Some(AgreementForm::Oral);
            n.agreed_tier = Some(s.tier);
            n.follow_ups_pending = *follow_ups;
            n.alarm = None;
        }
        A::Fail { referral } => {
            if !(mediating || s.status == S::NotPerformed) {
                return refuse(
                    "a dispute is referred from mediation, or when an agreement is not carried out",
                );
            }
            n.status = S::Failed;
            n.referral = Some(*referral);
        }
        A::ApplyConfirmation => {
            if s.status != S::Agreed || s.agreement != Some(AgreementForm::Written) {
                return refuse(
                    "judicial confirmation is applied for on a signed written agreement",
                );
            }
            if s.confirmation_applied {
                return refuse("judicial confirmation was applied for already");
            }
            n.confirmation_applied = true;
        }
        A::RemindConfirmation => {
            if s.status != S::Agreed
                || s.agreement != Some(AgreementForm::Written)
                || s.confirmation_applied
                || s.confirmation_reminded
            {
                return refuse("a reminder goes once, for a signed agreement not yet confirmed");
            }
            n.confirmation_reminded = true;
        }
        A::FollowUp { performed } => {
            if s.status != S::Agreed {
                return refuse("follow-up visits check an agreement reached");
            }
            if *performed {
                n.follow_ups_pending = s.follow_ups_pending.saturating_sub(1);
                if n.follow_ups_pending == 0 {
                    n.status = S::Settled;
                }
            } else {
                n.status = S::NotPerformed;
                n.follow_ups_pending = 0;
            }
        }
        A::Reopen { reason } => {
            if s.status != S::NotPerformed {
                return refuse("mediation reopens when an agreement was not carried out");
            }
            if reason.trim().is_empty() {
                return refuse("reopening needs a reason");
            }
            n.status = S::Mediating;
            n.agreement = None;
            n.agreed_tier = None;
            n.signed_version = None;
            n.alarm = None;
        }
        A::Withdraw { reason } => {
            if !mediating {
                return refuse("only a dispute being mediated is withdrawn");
            }
            if reason.trim().is_empty() {
                return refuse("a withdrawal needs a reason");
            }
            n.status = S::Withdrawn;
        }
        A::Warn { alarm } => {
            if !mediating {
                return refuse("only a dispute being mediated has a running limit");
            }
            if *alarm == Alarm::Green || s.alarm.is_some_and(|a| a >= *alarm) {
                return refuse("this warning was recorded already");
            }
            n.alarm = Some(*alarm);
        }
    }
    Ok(n)
}

/// The state a history of actions gives, or the first action that does not apply.
pub fn replay<'a>(
    actions: impl IntoIterator<Item = &'a DisputeAction>,
) -> Result<Option<DisputeState>, Refusal> {
    let mut state: Option<DisputeState> = None;
    for a in actions {
        state = Some(apply(state.as_ref(), a)?);
    }
    Ok(state)
}

/// The statutory periods, in calendar days (the 人民调解法 and the civil procedure count
/// 期间 in days; a period whose last day is a rest day ends on the next working day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Periods {
    /// The mediation limit (调解期限).
    pub mediation_days: u32,
    /// Warn this many days before the limit.
    pub warn_days: u32,
    /// The window to apply for 司法确认 after signing.
    pub confirmation_days: u32,
    /// Remind the parties this many days before the window closes.
    pub remind_days: u32,
    /// Follow-up visits after an agreement, in days.
    pub follow_ups: [u32; 2],
}

impl Default for Periods {
    fn default() -> Self {
        Periods {
            mediation_days: 30,
            warn_days: 5,
            confirmation_days: 30,
            remind_days: 7,
            follow_ups: [7, 30],
        }
    }
}

/// The end of a period of `days` calendar days started at `start`: the end of its last day,
/// or of the next working day when the last day is a rest day (weekend or holiday; a 调休
/// make-up Saturday is a working day).
pub fn period_end(cal: &WorkingCalendar, start: Timestamp, days: u32) -> Timestamp {
    let mut date = start.to_zoned(cal.time_zone().clone()).date();
    for _ in 0..days {
        date = date.tomorrow().unwrap_or(date);
    }
    let mut guard = 0;
    while !cal.is_working_day(date) && guard < 60 {
        date = date.tomorrow().unwrap_or(date);
        guard += 1;
    }
    end_of(cal, date)
}

/// The instant a civil day ends (the next midnight) in the calendar's zone.
pub fn end_of(cal: &WorkingCalendar, date: Date) -> Timestamp {
    let next = date.tomorrow().unwrap_or(date);
    next.to_zoned(cal.time_zone().clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// The mediation limit of a dispute raised at `raised`.
pub fn mediation_due(
    cal: &WorkingCalendar,
    raised: Timestamp,
    periods: &Periods,
    extended_days: u32,
) -> Timestamp {
    period_end(cal, raised, periods.mediation_days + extended_days)
}

/// The alarm on a limit `due` at `now`: yellow from `warn_days` calendar days before.
pub fn limit_alarm(due: Timestamp, warn_days: u32, now: Timestamp) -> Alarm {
    if now >= due {
        return Alarm::Red;
    }
    let warn = jiff::SignedDuration::from_hours(24 * i64::from(warn_days));
    match due.checked_sub(warn) {
        Ok(from) if now >= from => Alarm::Yellow,
        _ => Alarm::Green,
    }
}

/// One party as the agreement names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedParty {
    /// applicant or respondent.
    pub side: String,
    pub name: String,
}

/// One term of an agreement, with the date by which it is to be carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub text: String,
    pub due: Option<Date>,
}

/// What a written agreement says. Its canonical text is what the parties sign and what the
/// SHA-256 is taken of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementContent {
    pub number: String,
    pub version: u32,
    /// The mediating body, e.g. 沙河街道白石洲社区人民调解委员会.
    pub committee: String,
    pub parties: Vec<NamedParty>,
    /// The facts and the matter in dispute (纠纷主要事实、争议事项).
    pub facts: String,
    pub terms: Vec<Term>,
    pub mediators: Vec<String>,
    pub date: Date,
}

impl AgreementContent {
    /// Problems with the content, each (field, problem).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for side in ["applicant", "respondent"] {
            if !self.parties.iter().any(|p| p.side == side) {
                out.push(("parties".to_owned(), format!("at least one {side}")));
            }
        }
        if self.facts.trim().is_empty() || self.facts.chars().count() > 2000 {
            out.push(("facts".to_owned(), "1 to 2000 characters".to_owned()));
        }
        if self.terms.is_empty() || self.terms.len() > 20 {
            out.push(("terms".to_owned(), "1 to 20 terms".to_owned()));
        }
        for (i, t) in self.terms.iter().enumerate() {
            if t.text.trim().is_empty() || t.text.chars().count() > 500 {
                out.push((format!("terms[{i}].text"), "1 to 500 characters".to_owned()));
            }
            if t.due.is_some_and(|d| d < self.date) {
                out.push((
                    format!("terms[{i}].due"),
                    "a term is carried out after the agreement is made".to_owned(),
                ));
            }
        }
        if self.mediators.is_empty() {
            out.push(("mediators".to_owned(), "at least one mediator".to_owned()));
        }
        out
    }

    /// The document as printed: the same content always gives the same text.
    pub fn canonical_text(&self) -> String {
        let mut out = String::new();
        out.push_str("人民调解协议书\n");
        out.push_str(&format!("编号：{}（第{}版）\n", self.number, self.version));
        out.push_str(&format!("调解组织：{}\n", self.committee));
        for p in &self.parties {
            let side = if p.side == "applicant" {
                "申请人"
            } else {
                "被申请人"
            };
            out.push_str(&format!("{side}：{}\n", p.name));
        }
        out.push_str(&format!(
            "纠纷主要事实、争议事项：\n{}\n",
            self.facts.trim()
        ));
        out.push_str("经调解，自愿达成如下协议：\n");
        for (i, t) in self.terms.iter().enumerate() {
            let due = t
                .due
                .map(|d| format!("（于{d}前履行）"))
                .unwrap_or_default();
            out.push_str(&format!("{}. {}{due}\n", i + 1, t.text.trim()));
        }
        out.push_str(
            "本协议自各方当事人签名之日起生效，具有法律约束力，当事人应当按照约定履行。\n",
        );
        out.push_str("当事人可以自本协议生效之日起三十日内共同向人民法院申请司法确认。\n");
        out.push_str(&format!("调解员：{}\n", self.mediators.join("、")));
        out.push_str(&format!("日期：{}\n", self.date));
        out
    }
}

#[cfg(test)]
mod tests;
