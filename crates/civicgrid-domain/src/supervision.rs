//! Supervision (监督微平台 and 问责): the protected reporting channel, accountability
//! records, and the published power and responsibility lists.
//!
//! A report is told by days only: the reporter's channel keeps no time finer than the day
//! (`on` everywhere below is a civil date), so nothing here can place a reporter in time.
//! The statutory clocks (acknowledgement within 7 days, substantive feedback within 3 months,
//! EU Directive 2019/1937) and retention are date arithmetic on those days.

use std::collections::BTreeSet;

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

word_enum!(
    /// What a report is about.
    Concern, "concern", {
    /// 作风问题: officials' conduct (rudeness, shirking, formalism).
    Conduct = "conduct",
    /// 微腐败: petty corruption (bribes, favours, fees asked for nothing).
    PettyCorruption = "petty_corruption",
    /// 惠民资金: misuse of benefit funds (subsidies, relief, low-income support).
    BenefitFunds = "benefit_funds",
    Other = "other",
});

word_enum!(
    /// Where a report stands.
    ReportStatus, "report status", {
    /// Submitted; nobody has acknowledged it yet.
    Received = "received",
    /// An officer acknowledged it to the reporter.
    Acknowledged = "acknowledged",
    /// Being looked into.
    Investigating = "investigating",
    /// Concluded with an outcome told to the reporter.
    Closed = "closed",
});

word_enum!(
    /// How a report was concluded.
    Outcome, "outcome", {
    /// 属实.
    Substantiated = "substantiated",
    /// 部分属实.
    PartlySubstantiated = "partly_substantiated",
    /// 不属实.
    NotSubstantiated = "not_substantiated",
    /// 移送: handed to the discipline commission or another competent body.
    Referred = "referred",
});

word_enum!(
    /// A clock that ran out, warned about once.
    Warning, "warning", {
    AcknowledgementOverdue = "acknowledgement_overdue",
    FeedbackOverdue = "feedback_overdue",
});

/// Who did something to a report: the reporter (anonymous, by receipt and passphrase) or an
/// officer (by account name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "name", rename_all = "snake_case")]
pub enum Party {
    Reporter,
    Officer(String),
    /// The platform's own jobs (warnings).
    Platform,
}

/// Something done to a report. Texts (messages, reasons, the conclusion) travel sealed beside
/// the action; the rules need only the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReportAction {
    /// The report was made.
    Submit { identity_given: bool },
    /// An officer confirms receipt to the reporter.
    Acknowledge,
    /// An officer starts looking into it.
    Investigate,
    /// A message to the reporter; `substantive` when it says what was done or found
    /// (the feedback the 3-month clock asks for).
    Message { substantive: bool },
    /// A message from the reporter.
    ReporterMessage,
    /// A file from the reporter.
    ReporterFile,
    /// An officer asks to see the identity the reporter disclosed.
    RequestIdentity,
    /// A custodian, another person, approves the request.
    ApproveIdentity,
    /// A custodian refuses it.
    RefuseIdentity,
    /// The conclusion, told to the reporter.
    Close { outcome: Outcome },
    /// A clock ran out.
    Warn { warning: Warning },
}

impl ReportAction {
    pub fn kind(&self) -> &'static str {
        match self {
            ReportAction::Submit { .. } => "submit",
            ReportAction::Acknowledge => "acknowledge",
            ReportAction::Investigate => "investigate",
            ReportAction::Message { .. } => "message",
            ReportAction::ReporterMessage => "reporter_message",
            ReportAction::ReporterFile => "reporter_file",
            ReportAction::RequestIdentity => "request_identity",
            ReportAction::ApproveIdentity => "approve_identity",
            ReportAction::RefuseIdentity => "refuse_identity",
            ReportAction::Close { .. } => "close",
            ReportAction::Warn { .. } => "warn",
        }
    }
}

/// Where a request to see the reporter's identity stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reveal {
    /// Nobody asked (or the last request was refused).
    None,
    Requested {
        by: String,
    },
    /// Approved: `by` (the requester) may read it; every read is recorded.
    Approved {
        by: String,
        approved_by: String,
    },
}

/// A report's state, rebuilt from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportState {
    pub status: ReportStatus,
    pub submitted_on: Date,
    pub acknowledged_on: Option<Date>,
    /// The first substantive feedback (a substantive message or the conclusion).
    pub feedback_on: Option<Date>,
    pub closed_on: Option<Date>,
    pub outcome: Option<Outcome>,
    pub identity_given: bool,
    pub reveal: Reveal,
    pub warned: BTreeSet<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisionError {
    #[error("a report is submitted once")]
    AlreadySubmitted,
    #[error("the report is not submitted")]
    NotSubmitted,
    #[error("the report is closed")]
    Closed,
    #[error("{0} is not possible while the report is {1}")]
    NotNow(&'static str, ReportStatus),
    #[error("only an officer does this")]
    OfficersOnly,
    #[error("only the reporter does this")]
    ReporterOnly,
    #[error("the reporter disclosed no identity")]
    NoIdentity,
    #[error("a request to see the identity is already {0}")]
    RevealPending(&'static str),
    #[error("nobody asked to see the identity")]
    NothingRequested,
    #[error("the identity is revealed only with another person's approval")]
    SamePerson,
    #[error("the clock `{0}` has not run out, or was warned about already")]
    NotDue(Warning),
}

fn officer(by: &Party) -> Result<&str, SupervisionError> {
    match by {
        Party::Officer(name) => Ok(name),
        _ => Err(SupervisionError::OfficersOnly),
    }
}

/// Applies `action` by `by` on day `on` to the state (None before submission).
pub fn apply(
    state: Option<&ReportState>,
    by: &Party,
    action: &ReportAction,
    on: Date,
) -> Result<ReportState, SupervisionError> {
    let Some(state) = state else {
        return match action {
            ReportAction::Submit { identity_given } if *by == Party::Reporter => Ok(ReportState {
                status: ReportStatus::Received,
                submitted_on: on,
                acknowledged_on: None,
                feedback_on: None,
                closed_on: None,
                outcome: None,
                identity_given: *identity_given,
                reveal: Reveal::None,
                warned: BTreeSet::new(),
            }),
            ReportAction::Submit { .. } => Err(SupervisionError::ReporterOnly),
            _ => Err(SupervisionError::NotSubmitted),
        };
    };
    let mut next = state.clone();
    let open = state.status != ReportStatus::Closed;
    let acknowledge = |next: &mut ReportState| {
        if next.acknowledged_on.is_none() {
            next.acknowledged_on = Some(on);
        }
        if next.status == ReportStatus::Received {
            next.status = ReportStatus::Acknowledged;
        }
    };
    match action {
        ReportAction::Submit { .. } => return Err(SupervisionError::AlreadySubmitted),
        ReportAction::Acknowledge => {
            officer(by)?;
            if state.status != ReportStatus::Received {
                return Err(SupervisionError::NotNow("acknowledging", state.status));
            }
            acknowledge(&mut next);
        }
        ReportAction::Investigate => {
            officer(by)?;
            if !matches!(
                state.status,
                ReportStatus::Received | ReportStatus::Acknowledged
            ) {
                return Err(SupervisionError::NotNow("investigating", state.status));
            }
            acknowledge(&mut next);
            next.status = ReportStatus::Investigating;
        }
        ReportAction::Message { substantive } => {
            officer(by)?;
            if !open {
                return Err(SupervisionError::Closed);
            }
            // Writing to the reporter acknowledges the report.
            acknowledge(&mut next);
            if *substantive && next.feedback_on.is_none() {
                next.feedback_on = Some(on);
            }
        }
        ReportAction::ReporterMessage | ReportAction::ReporterFile => {
            if *by != Party::Reporter {
                return Err(SupervisionError::ReporterOnly);
            }
            if !open {
                return Err(SupervisionError::Closed);
            }
        }
        ReportAction::RequestIdentity => {
            let name = officer(by)?;
            if !state.identity_given {
                return Err(SupervisionError::NoIdentity);
            }
            match &state.reveal {
                Reveal::None => {}
                Reveal::Requested { .. } => return Err(SupervisionError::RevealPending("asked")),
                Reveal::Approved { .. } => {
                    return Err(SupervisionError::RevealPending("approved"));
                }
            }
            next.reveal = Reveal::Requested {
                by: name.to_owned(),
            };
        }
        ReportAction::ApproveIdentity | ReportAction::RefuseIdentity => {
            let name = officer(by)?;
            let Reveal::Requested { by: requester } = &state.reveal else {
                return Err(SupervisionError::NothingRequested);
            };
            if requester == name {
                return Err(SupervisionError::SamePerson);
            }
            next.reveal = if *action == ReportAction::ApproveIdentity {
                Reveal::Approved {
                    by: requester.clone(),
                    approved_by: name.to_owned(),
                }
            } else {
                Reveal::None
            };
        }
        ReportAction::Close { outcome } => {
            officer(by)?;
            if !open {
                return Err(SupervisionError::Closed);
            }
            acknowledge(&mut next);
            if next.feedback_on.is_none() {
                next.feedback_on = Some(on);
            }
            next.status = ReportStatus::Closed;
            next.closed_on = Some(on);
            next.outcome = Some(*outcome);
        }
        ReportAction::Warn { warning } => {
            if *by != Party::Platform {
                return Err(SupervisionError::OfficersOnly);
            }
            let due = match warning {
                Warning::AcknowledgementOverdue => state.acknowledged_on.is_none(),
                Warning::FeedbackOverdue => state.feedback_on.is_none(),
            };
            if !open || !due || state.warned.contains(warning) {
                return Err(SupervisionError::NotDue(*warning));
            }
            next.warned.insert(*warning);
        }
    }
    Ok(next)
}

/// Replays a report's events, oldest first.
pub fn replay<'a>(
    events: impl IntoIterator<Item = (&'a Party, &'a ReportAction, Date)>,
) -> Result<Option<ReportState>, SupervisionError> {
    let mut state = None;
    for (by, action, on) in events {
        state = Some(apply(state.as_ref(), by, action, on)?);
    }
    Ok(state)
}

/// The clocks of the channel, configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clocks {
    /// Days to acknowledge a report (7).
    pub acknowledge_days: i32,
    /// Months to give substantive feedback (3).
    pub feedback_months: i32,
    /// Months a closed report is kept before it is erased with its messages and files (24).
    pub retention_months: i32,
}

impl Default for Clocks {
    fn default() -> Self {
        Clocks {
            acknowledge_days: 7,
            feedback_months: 3,
            retention_months: 24,
        }
    }
}

impl Clocks {
    /// Checks the configured values: each at least 1, and bounded.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=90).contains(&self.acknowledge_days) {
            return Err("acknowledgement days must be 1 to 90".into());
        }
        if !(1..=24).contains(&self.feedback_months) {
            return Err("feedback months must be 1 to 24".into());
        }
        if !(1..=240).contains(&self.retention_months) {
            return Err("retention months must be 1 to 240".into());
        }
        Ok(())
    }

    /// The last day to acknowledge a report submitted on `submitted`.
    pub fn acknowledge_by(&self, submitted: Date) -> Date {
        submitted
            .checked_add(self.acknowledge_days.days())
            .unwrap_or(Date::MAX)
    }

    /// The last day for substantive feedback (the same day of the month, or the month's last
    /// day when it has no such day).
    pub fn feedback_by(&self, submitted: Date) -> Date {
        submitted
            .checked_add(self.feedback_months.months())
            .unwrap_or(Date::MAX)
    }

    /// The first day a report closed on `closed` may be erased.
    pub fn erase_from(&self, closed: Date) -> Date {
        closed
            .checked_add(self.retention_months.months())
            .unwrap_or(Date::MAX)
            .tomorrow()
            .unwrap_or(Date::MAX)
    }

    /// The warnings that are due on `today` and not given yet: a clock is overdue the day
    /// after its last day.
    pub fn warnings_due(&self, state: &ReportState, today: Date) -> Vec<Warning> {
        let mut due = Vec::new();
        if state.status == ReportStatus::Closed {
            return due;
        }
        if state.acknowledged_on.is_none()
            && today > self.acknowledge_by(state.submitted_on)
            && !state.warned.contains(&Warning::AcknowledgementOverdue)
        {
            due.push(Warning::AcknowledgementOverdue);
        }
        if state.feedback_on.is_none()
            && today > self.feedback_by(state.submitted_on)
            && !state.warned.contains(&Warning::FeedbackOverdue)
        {
            due.push(Warning::FeedbackOverdue);
        }
        due
    }

    /// Whether the report is erased on `today`: closed, and kept its retention time.
    pub fn is_erasable(&self, state: &ReportState, today: Date) -> bool {
        state.closed_on.is_some_and(|c| today >= self.erase_from(c))
    }
}

/// A receipt as typed (spaces and dashes allowed): the 16 digits, or None.
pub fn normalise_receipt(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .collect();
    (digits.len() == RECEIPT_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A receipt is this many random digits (as GlobaLeaks'), about 53 bits.
pub const RECEIPT_DIGITS: usize = 16;

/// A receipt grouped by four for reading aloud and writing down.
pub fn grouped_receipt(receipt: &str) -> String {
    receipt
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a passphrase a reporter chose is too weak, or None: at least 12 characters, of which
/// at least 8 different, and either three kinds of character (lower case, upper case,
/// digits, other) or a length of 20 (a character outside ASCII counting twice).
pub fn passphrase_weakness(p: &str) -> Option<&'static str> {
    let chars: Vec<char> = p.chars().collect();
    if chars.len() < 12 {
        return Some("at least 12 characters");
    }
    if chars.len() > 128 {
        return Some("at most 128 characters");
    }
    let distinct: BTreeSet<char> = chars.iter().copied().collect();
    if distinct.len() < 8 {
        return Some("at least 8 different characters");
    }
    let kinds = [
        chars.iter().any(|c| c.is_lowercase()),
        chars.iter().any(|c| c.is_uppercase()),
        chars.iter().any(|c| c.is_ascii_digit()),
        chars.iter().any(|c| !c.is_alphanumeric() || !c.is_ascii()),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    // A character outside ASCII (a Chinese one, say) is worth two for length.
    let length = chars.len() + chars.iter().filter(|c| !c.is_ascii()).count();
    if kinds < 3 && length < 20 {
        return Some(
            "three kinds of character (lower case, upper case, digits, others), or 20 characters",
        );
    }
    None
}

#[cfg(test)]
mod tests;
