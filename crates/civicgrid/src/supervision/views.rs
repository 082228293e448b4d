//! The supervision channel's REST documents.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A report, from anyone, without an account.
#[derive(Deserialize, ToSchema)]
pub struct NewReportBody {
    /// A line saying what it is about (sealed at rest).
    #[schema(example = "社区低保名单有问题")]
    pub subject: String,
    /// What happened: who, what, where, when (sealed at rest).
    pub content: String,
    /// conduct (作风问题), petty_corruption (微腐败), benefit_funds (惠民资金) or other.
    pub concern: Option<String>,
    /// The accused unit's code, as in the responsibility list.
    pub accused_unit: Option<String>,
    /// The region it concerns (a street's or community's code).
    pub region: Option<String>,
    /// Who you are, only if you choose to say; shown to an officer only with a custodian's
    /// approval.
    pub identity: Option<String>,
    /// A passphrase of your own (12+ characters, 8 different, three kinds or 20 long); one is
    /// generated if left out.
    pub passphrase: Option<String>,
}

/// The receipt and passphrase: shown once, never again. Keep both to follow the report.
#[derive(Serialize, ToSchema)]
pub struct ReceiptView {
    /// 16 digits.
    pub receipt: String,
    pub passphrase: String,
    /// The last day for an acknowledgement.
    pub acknowledge_by: String,
    /// The last day for substantive feedback.
    pub feedback_by: String,
}

/// The reporter's credentials.
#[derive(Deserialize, ToSchema)]
pub struct FollowUpBody {
    pub receipt: String,
    pub passphrase: String,
}

/// A message from the reporter.
#[derive(Deserialize, ToSchema)]
pub struct ReporterMessageBody {
    pub receipt: String,
    pub passphrase: String,
    pub text: String,
}

/// A file from the reporter: a photo (JPEG, PNG, WebP; re-encoded without metadata) or
/// plain text, base64-encoded, at most 8 MiB. Its name is not kept.
#[derive(Deserialize, ToSchema)]
pub struct ReporterFileBody {
    pub receipt: String,
    pub passphrase: String,
    pub content_base64: String,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub seq: u64,
    pub on: String,
    /// reporter or officer
    pub from: String,
    /// The officer's account (staff only).
    pub officer: Option<String>,
    pub text: String,
    pub substantive: bool,
}

#[derive(Serialize, ToSchema)]
pub struct FileView {
    pub seq: u64,
    pub on: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
}

/// What the reporter reads.
#[derive(Serialize, ToSchema)]
pub struct ReporterReportView {
    /// received, acknowledged, investigating or closed
    pub status: String,
    pub submitted_on: String,
    pub acknowledged_on: Option<String>,
    pub feedback_on: Option<String>,
    pub closed_on: Option<String>,
    /// substantiated, partly_substantiated, not_substantiated or referred
    pub outcome: Option<String>,
    pub acknowledge_by: String,
    pub feedback_by: String,
    pub subject: String,
    pub messages: Vec<MessageView>,
    pub files: Vec<FileView>,
}

#[derive(Deserialize, IntoParams)]
pub struct ReportQuery {
    /// received, acknowledged, investigating or closed
    pub status: Option<String>,
}

/// A line of the officers' list.
#[derive(Serialize, ToSchema)]
pub struct ReportLineView {
    pub id: String,
    pub region: String,
    pub accused_unit: Option<String>,
    pub concern: String,
    /// Empty for a custodian, who does not read reports.
    pub subject: String,
    pub status: String,
    pub submitted_on: String,
    pub acknowledge_by: String,
    pub feedback_by: String,
    /// acknowledgement_overdue, feedback_overdue
    pub overdue: Vec<String>,
    pub identity_requested: bool,
}

/// A report as its officer reads it.
#[derive(Serialize, ToSchema)]
pub struct StaffReportView {
    pub id: String,
    pub version: u64,
    pub region: String,
    pub accused_unit: Option<String>,
    pub concern: String,
    pub subject: String,
    pub content: String,
    pub status: String,
    pub submitted_on: String,
    pub acknowledged_on: Option<String>,
    pub feedback_on: Option<String>,
    pub closed_on: Option<String>,
    pub outcome: Option<String>,
    pub acknowledge_by: String,
    pub feedback_by: String,
    pub overdue: Vec<String>,
    pub identity_given: bool,
    /// none, requested or approved
    pub identity_request: String,
    /// Who asked, when asked or approved.
    pub identity_requested_by: Option<String>,
    pub messages: Vec<MessageView>,
    pub files: Vec<FileView>,
    pub history: Vec<HistoryView>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    pub seq: u64,
    pub on: String,
    pub by: String,
    pub what: String,
    /// The reason given (identity requests and refusals).
    pub reason: Option<String>,
}

/// An officer's or custodian's step.
#[derive(Deserialize, ToSchema)]
pub struct StepBody {
    /// acknowledge, investigate, message, feedback (a substantive message), close,
    /// request_identity, approve_identity (custodians), refuse_identity (custodians)
    pub action: String,
    /// The report's version as read.
    pub version: u64,
    /// The message, the conclusion, or the reason.
    #[serde(default)]
    pub text: String,
    /// For close: substantiated, partly_substantiated, not_substantiated or referred.
    pub outcome: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    pub identity: String,
}

impl From<&super::Message> for MessageView {
    fn from(m: &super::Message) -> Self {
        MessageView {
            seq: m.seq,
            on: m.on.to_string(),
            from: m.from.to_owned(),
            officer: m.officer.clone(),
            text: m.text.clone(),
            substantive: m.substantive,
        }
    }
}

impl From<&super::FileEntry> for FileView {
    fn from(f: &super::FileEntry) -> Self {
        FileView {
            seq: f.seq,
            on: f.on.to_string(),
            name: f.name.clone(),
            media_type: f.media_type.clone(),
            size: f.size,
        }
    }
}

impl From<&super::ReporterView> for ReporterReportView {
    fn from(v: &super::ReporterView) -> Self {
        ReporterReportView {
            status: v.status.as_str().to_owned(),
            submitted_on: v.submitted_on.to_string(),
            acknowledged_on: v.acknowledged_on.map(|d| d.to_string()),
            feedback_on: v.feedback_on.map(|d| d.to_string()),
            closed_on: v.closed_on.map(|d| d.to_string()),
            outcome: v.outcome.map(|o| o.as_str().to_owned()),
            acknowledge_by: v.acknowledge_by.to_string(),
            feedback_by: v.feedback_by.to_string(),
            subject: v.subject.clone(),
            messages: v.messages.iter().map(MessageView::from).collect(),
            files: v.files.iter().map(FileView::from).collect(),
        }
    }
}

impl From<&super::ReportLine> for ReportLineView {
    fn from(l: &super::ReportLine) -> Self {
        ReportLineView {
            id: l.id.to_string(),
            region: l.region.to_string(),
            accused_unit: l.accused_unit.clone(),
            concern: l.concern.as_str().to_owned(),
            subject: l.subject.clone(),
            status: l.status.as_str().to_owned(),
            submitted_on: l.submitted_on.to_string(),
            acknowledge_by: l.acknowledge_by.to_string(),
            feedback_by: l.feedback_by.to_string(),
            overdue: l.overdue.iter().map(|w| w.as_str().to_owned()).collect(),
            identity_requested: l.identity_requested,
        }
    }
}

impl From<&super::StaffReport> for StaffReportView {
    fn from(r: &super::StaffReport) -> Self {
        use civicgrid_domain::supervision::Reveal;
        let s = &r.state;
        let (request, by) = match &s.reveal {
            Reveal::None => ("none", None),
            Reveal::Requested { by } => ("requested", Some(by.clone())),
            Reveal::Approved { by, .. } => ("approved", Some(by.clone())),
        };
        StaffReportView {
            id: r.id.to_string(),
            version: r.version,
            region: r.region.to_string(),
            accused_unit: r.accused_unit.clone(),
            concern: r.concern.as_str().to_owned(),
            subject: r.subject.clone(),
            content: r.content.clone(),
            status: s.status.as_str().to_owned(),
            submitted_on: s.submitted_on.to_string(),
            acknowledged_on: s.acknowledged_on.map(|d| d.to_string()),
            feedback_on: s.feedback_on.map(|d| d.to_string()),
            closed_on: s.closed_on.map(|d| d.to_string()),
            outcome: s.outcome.map(|o| o.as_str().to_owned()),
            acknowledge_by: r.acknowledge_by.to_string(),
            feedback_by: r.feedback_by.to_string(),
            overdue: r.overdue.iter().map(|w| w.as_str().to_owned()).collect(),
            identity_given: s.identity_given,
            identity_request: request.to_owned(),
            identity_requested_by: by,
            messages: r.messages.iter().map(MessageView::from).collect(),
            files: r.files.iter().map(FileView::from).collect(),
            history: r
                .history
                .iter()
                .map(|(seq, on, by, what)| HistoryView {
                    seq: *seq,
                    on: on.to_string(),
                    by: by.clone(),
                    what: what.clone(),
                    reason: r
                        .reasons
                        .iter()
                        .find(|(s, _)| s == seq)
                        .map(|(_, t)| t.clone()),
                })
                .collect(),
        }
    }
}
