//! The shapes of disputes over REST v1.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civicgrid_store::{DisputeKind, DisputeRecord, MediatorRecord};

/// A party as the mediator records them.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyBody {
    /// applicant or respondent.
    pub side: String,
    /// 1 to 50 characters.
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
}

/// A dispute as it is raised: at a counter, by a grid worker, or from a case (`case`: its
/// id, whose place the dispute takes).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisputeBody {
    /// The community (12 digits); not needed with `case`.
    #[serde(default)]
    pub community: Option<String>,
    #[serde(default)]
    pub grid: Option<String>,
    /// A kind's code (`GET /api/v1/disputes/kinds`), e.g. neighbour.
    pub kind: String,
    /// low, medium or high.
    #[serde(default = "low")]
    pub risk: String,
    /// What it is about, without names: 1 to 200 characters.
    pub summary: String,
    /// At least one applicant and one respondent.
    pub parties: Vec<PartyBody>,
    #[serde(default)]
    pub case: Option<String>,
}

fn low() -> String {
    "low".into()
}

/// A dispute without personal data.
#[derive(Serialize, ToSchema)]
pub struct DisputeView {
    pub number: String,
    pub community: String,
    pub grid: Option<String>,
    pub kind: String,
    pub risk: String,
    /// counter, grid_worker or case.
    pub channel: String,
    pub case: Option<String>,
    pub summary: String,
    /// mediating, agreed, not_performed, settled, failed or withdrawn.
    pub status: String,
    /// grid, community, street or district.
    pub tier: String,
    pub first_tier: String,
    pub highest_tier: String,
    #[schema(value_type = String)]
    pub raised_at: Timestamp,
    pub raised_by: String,
    /// The mediation limit (extensions included).
    #[schema(value_type = String)]
    pub limit_due: Timestamp,
    /// yellow or red once warned.
    pub alarm: Option<String>,
    /// written or oral, once agreed.
    pub agreement: Option<String>,
    pub signed_version: Option<u32>,
    pub drafted_version: u32,
    #[schema(value_type = Option<String>)]
    pub confirmation_due: Option<Timestamp>,
    pub confirmation_applied: bool,
    pub follow_ups: Vec<FollowUpView>,
    pub sessions: u32,
    pub repeat: bool,
    pub referral: Option<String>,
    pub version: u64,
}

#[derive(Serialize, ToSchema)]
pub struct FollowUpView {
    #[schema(value_type = String)]
    pub due: Timestamp,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<Timestamp>,
    pub performed: Option<bool>,
    pub note: String,
}

fn alarm_name(a: civicgrid_domain::case::deadline::Alarm) -> Option<String> {
    use civicgrid_domain::case::deadline::Alarm;
    match a {
        Alarm::Green => None,
        Alarm::Yellow => Some("yellow".into()),
        Alarm::Red => Some("red".into()),
    }
}

impl From<&DisputeRecord> for DisputeView {
    fn from(d: &DisputeRecord) -> Self {
        let s = &d.state;
        DisputeView {
            number: d.public_id.clone(),
            community: d.region.to_string(),
            grid: d.grid.as_ref().map(|g| g.to_string()),
            kind: d.kind.clone(),
            risk: d.risk.as_str().to_owned(),
            channel: d.channel.clone(),
            case: d.case_id.map(|c| c.to_string()),
            summary: d.summary.clone(),
            status: s.status.as_str().to_owned(),
            tier: s.tier.as_str().to_owned(),
            first_tier: s.first_tier.as_str().to_owned(),
            highest_tier: s.highest_tier.as_str().to_owned(),
            raised_at: d.raised_at,
            raised_by: d.raised_by.clone(),
            limit_due: d.limit_due,
            alarm: s.alarm.and_then(alarm_name),
            agreement: s.agreement.map(|a| match a {
                civicgrid_domain::dispute::AgreementForm::Written => "written".to_owned(),
                civicgrid_domain::dispute::AgreementForm::Oral => "oral".to_owned(),
            }),
            signed_version: s.signed_version,
            drafted_version: s.drafted_version,
            confirmation_due: d.confirmation_due,
            confirmation_applied: s.confirmation_applied,
            follow_ups: d
                .follow_ups
                .iter()
                .map(|f| FollowUpView {
                    due: f.due,
                    done_at: f.done_at,
                    performed: f.performed,
                    note: f.note.clone(),
                })
                .collect(),
            sessions: s.sessions,
            repeat: d.repeat,
            referral: s.referral.map(|r| r.as_str().to_owned()),
            version: d.version,
        }
    }
}

/// A session as recorded (the record opened for the reader).
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub seq: u32,
    #[schema(value_type = String)]
    pub held_at: Timestamp,
    pub place: String,
    pub mediators: Vec<String>,
    pub attended: Vec<String>,
    pub record: String,
    pub outcome: String,
}

#[derive(Serialize, ToSchema)]
pub struct DisputeEventView {
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

/// An agreement version: its text, its SHA-256, and whether the text still gives it.
#[derive(Serialize, ToSchema)]
pub struct AgreementDocView {
    pub version: u32,
    pub text: String,
    pub sha256: String,
    pub intact: bool,
    #[schema(value_type = Option<String>)]
    pub signed_at: Option<Timestamp>,
    pub signed_by: Vec<String>,
}

impl From<&super::AgreementView> for AgreementDocView {
    fn from(a: &super::AgreementView) -> Self {
        AgreementDocView {
            version: a.version,
            text: a.text.clone(),
            sha256: a.sha256.clone(),
            intact: a.intact,
            signed_at: a.signed_at,
            signed_by: a.signed_by.clone(),
        }
    }
}

/// Everything about a dispute (reading it is recorded).
#[derive(Serialize, ToSchema)]
pub struct DisputeDetailView {
    #[serde(flatten)]
    pub dispute: DisputeView,
    pub parties: Vec<PartyBody>,
    pub sessions: Vec<SessionView>,
    pub agreements: Vec<AgreementDocView>,
    pub oral_terms: Option<String>,
    pub referral_note: Option<String>,
    pub events: Vec<DisputeEventView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DisputeQuery {
    /// A region code: disputes there.
    pub within: String,
    /// Only those still open (being mediated or followed up).
    #[serde(default)]
    pub open: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// The dispute's version as read.
    pub version: u64,
    #[schema(value_type = String)]
    pub held_at: Timestamp,
    pub place: String,
    pub mediators: Vec<String>,
    /// Who attended, e.g. 申请人张某, 被申请人李某.
    pub attended: Vec<String>,
    /// The mediation record (调解笔录).
    pub record: String,
    /// continued, written, oral or failed.
    pub outcome: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermBody {
    pub text: String,
    /// By when (YYYY-MM-DD).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub due: Option<jiff::civil::Date>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    pub version: u64,
    /// The facts and the matter in dispute.
    pub facts: String,
    pub terms: Vec<TermBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignBody {
    pub version: u64,
    /// The parties who signed, by name: every party.
    pub signed_by: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpBody {
    pub version: u64,
    /// Were the terms carried out?
    pub performed: bool,
    pub note: String,
}

/// An action on a dispute: escalate, send_down, extend (days), oral (terms), fail (referral,
/// note), apply_confirmation, reopen, withdraw (reason).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeActionBody {
    pub version: u64,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub terms: String,
    /// litigation, arbitration, petition or other_body.
    #[serde(default)]
    pub referral: Option<String>,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct DisputeKindView {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub lowest_tier: String,
}

impl From<&DisputeKind> for DisputeKindView {
    fn from(k: &DisputeKind) -> Self {
        DisputeKindView {
            code: k.code.clone(),
            name_zh: k.name_zh.clone(),
            name_en: k.name_en.clone(),
            lowest_tier: k.lowest_tier.as_str().to_owned(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeKindBody {
    pub name_zh: String,
    pub name_en: String,
    /// grid, community, street or district.
    pub lowest_tier: String,
    #[serde(default)]
    pub position: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MediatorView {
    pub id: String,
    pub tier: String,
    pub region: String,
    pub kind: String,
    pub reference: String,
    pub name: String,
}

impl From<&MediatorRecord> for MediatorView {
    fn from(m: &MediatorRecord) -> Self {
        MediatorView {
            id: m.id.to_string(),
            tier: m.tier.as_str().to_owned(),
            region: m.region.to_string(),
            kind: m.kind.clone(),
            reference: m.reference.clone(),
            name: m.name.clone(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediatorBody {
    /// grid, community, street or district.
    pub tier: String,
    /// The community (grid and community tiers), street or district.
    pub region: String,
    /// staff or volunteer.
    pub kind: String,
    /// The username, or the volunteer's id.
    pub reference: String,
    pub name: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WithinQuery {
    pub within: String,
}
