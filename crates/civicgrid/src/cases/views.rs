//! The shapes of the case loop over REST v1: serialised by the handlers and described in the
//! OpenAPI document from the same definitions, so the two cannot drift apart.

use std::collections::BTreeMap;

use civicgrid_domain::case::Case;
use civicgrid_store::CaseEvent;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A report: what, where, and optionally who (sealed at rest, shown only to roles that need it).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// What the resident reports, plain text, at most 5,000 characters.
    #[schema(example = "安乐社区3号楼旁井盖丢失，晚上很危险")]
    pub description: String,
    /// WGS84 longitude; with `lat`.
    #[schema(example = 113.9171)]
    pub lon: Option<f64>,
    /// WGS84 latitude; with `lon`.
    #[schema(example = 22.5168)]
    pub lat: Option<f64>,
    /// A minor category code of the catalogue (2-digit major + 3-digit minor).
    #[schema(example = "01001")]
    pub category: Option<String>,
    /// Where, in words; alone (without lon/lat) it places the case for the dispatcher.
    pub address: Option<String>,
    /// web (default), open311, hotline, patrol or import.
    pub channel: Option<String>,
    /// urgent, high or normal; the category's default otherwise.
    pub priority: Option<String>,
    /// The category's attributes, by code.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, Value>,
    /// Contact details: `{name?, phone?, email?}`, sealed before they are stored.
    #[schema(value_type = Option<Contact>)]
    pub reporter: Option<Value>,
}

/// A reporter's contact details.
#[derive(Serialize, ToSchema)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The clock of the current stage.
#[derive(Serialize, ToSchema)]
pub struct StageClockView {
    /// accept, dispatch, handle or verify.
    pub stage: String,
    /// The time limit, e.g. `3d working_days`.
    pub limit: String,
    pub started_at: Timestamp,
    pub due_at: Timestamp,
    /// Set while the case is shelved.
    pub paused_at: Option<Timestamp>,
}

/// An open case that may report the same matter.
#[derive(Serialize, ToSchema)]
pub struct DuplicateHint {
    pub id: Uuid,
    pub receipt_code: String,
    /// Metres apart, when both cases are placed.
    pub distance_m: Option<f64>,
    /// How alike, 0–1: text 60 %, place 25 %, time 15 %.
    pub score: f64,
    /// The words both say.
    pub because: Vec<String>,
}

/// A case as staff see it.
#[derive(Serialize, ToSchema)]
pub struct CaseView {
    pub id: Uuid,
    /// The reporter's receipt code, e.g. `7Q4M-2XKD` (staff read it out on the phone).
    pub receipt_code: String,
    /// The number public lists, maps and Open311 show; it grants nothing.
    pub public_id: String,
    /// Only in the answer to the report: the secret that, with the receipt code, lets the
    /// reporter evaluate the case. It is never shown again; the platform keeps its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter_secret: Option<String>,
    pub status: String,
    pub status_zh: String,
    /// The optimistic-concurrency token; also the ETag.
    pub version: u64,
    pub channel: String,
    pub description: String,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub grid: Option<String>,
    pub region: String,
    pub category: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, String>,
    pub priority: String,
    /// Dispatched units once dispatched; until then the units routing named.
    pub assigned_units: Vec<String>,
    pub routed_units: Vec<String>,
    /// Under 首接负责, the first unit dispatched leads.
    pub lead_unit: Option<String>,
    /// grid, community, street or district.
    pub tier: String,
    pub supervised: bool,
    pub rework_count: u32,
    pub send_back_count: u32,
    /// An extension, shelving or voiding awaiting approval.
    #[schema(value_type = Option<Object>)]
    pub pending_request: Option<Value>,
    pub deadlines: Option<StageClockView>,
    /// Why routing chose these units.
    pub routing: String,
    pub has_reporter_contact: bool,
    pub reported_at: Timestamp,
    pub updated_at: Timestamp,
    /// Only at staff intake: open cases nearby that may be the same matter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub possible_duplicates: Option<Vec<DuplicateHint>>,
    /// Only at staff intake without a category: the three likeliest, with the words that
    /// weighed (empty until a model is trained).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_suggestions: Option<Vec<crate::suggestion::CategorySuggestion>>,
}

impl From<&Case> for CaseView {
    fn from(c: &Case) -> Self {
        CaseView {
            id: c.id,
            receipt_code: c.receipt_code.clone(),
            public_id: c.public_id.clone(),
            reporter_secret: None,
            status: c.state.status.as_str().to_owned(),
            status_zh: c.state.status.name_zh().to_owned(),
            version: c.state.version,
            channel: c.channel.as_str().to_owned(),
            description: c.description.clone(),
            address: c.address.clone(),
            lon: c.location.map(|l| l.0),
            lat: c.location.map(|l| l.1),
            grid: c.grid.as_ref().map(|g| g.to_string()),
            region: c.region.to_string(),
            category: c.category.as_ref().map(|g| g.to_string()),
            attributes: c.attributes.clone(),
            priority: c.priority.as_str().to_owned(),
            assigned_units: if c.state.units.is_empty() {
                c.routed_units.clone()
            } else {
                c.state.units.clone()
            },
            routed_units: c.routed_units.clone(),
            lead_unit: c.state.lead().map(str::to_owned),
            tier: serde_json::to_value(c.state.tier)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            supervised: c.state.supervised,
            rework_count: c.state.rework_count,
            send_back_count: c.state.send_back_count,
            pending_request: c
                .state
                .pending
                .as_ref()
                .and_then(|p| serde_json::to_value(p).ok()),
            deadlines: c.clock.map(|k| StageClockView {
                stage: k.stage.as_str().to_owned(),
                limit: k.limit.to_string(),
                started_at: k.started_at,
                due_at: k.due_at,
                paused_at: k.paused_at,
            }),
            routing: c.routing.clone(),
            has_reporter_contact: c.reporter_sealed.is_some(),
            reported_at: c.reported_at,
            updated_at: c.updated_at,
            possible_duplicates: None,
            category_suggestions: None,
        }
    }
}

/// A page of cases, newest first.
#[derive(Serialize, ToSchema)]
pub struct CasePage {
    pub cases: Vec<CaseView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<Uuid>,
}

/// One event of the audit trail: who did what, when, from which state to which.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub seq: u64,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub to_zh: String,
    pub actor: String,
    pub at: Timestamp,
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<&CaseEvent> for EventView {
    fn from(e: &CaseEvent) -> Self {
        EventView {
            seq: e.seq,
            action: e.action.clone(),
            from: e.from.map(|s| s.as_str().to_owned()),
            to: e.to.as_str().to_owned(),
            to_zh: e.to.name_zh().to_owned(),
            actor: e.actor.clone(),
            at: e.at,
            payload: e.payload.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Timeline {
    pub case: Uuid,
    pub events: Vec<EventView>,
}

#[derive(Serialize, ToSchema)]
pub struct PhotoRef {
    /// report, before or after.
    pub stage: String,
    pub sha256: String,
    pub href: String,
}

#[derive(Serialize, ToSchema)]
pub struct PhotoList {
    pub case: Uuid,
    pub photos: Vec<PhotoRef>,
}

#[derive(Serialize, ToSchema)]
pub struct ReporterView {
    pub case: Uuid,
    /// Null when the report was anonymous.
    pub reporter: Option<Contact>,
}

#[derive(Serialize, ToSchema)]
pub struct Candidate {
    pub id: Uuid,
    pub receipt_code: String,
    pub status: String,
    pub distance_m: f64,
    pub reported_at: Timestamp,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct Duplicates {
    pub case: Uuid,
    pub radius_m: f64,
    pub hours: i64,
    pub candidates: Vec<Candidate>,
}

/// An alarm, escalation or whistle call in the caller's regions.
#[derive(Serialize, ToSchema)]
pub struct Alert {
    pub case: Uuid,
    #[serde(flatten)]
    pub event: EventView,
}

#[derive(Serialize, ToSchema)]
pub struct Alerts {
    pub since: Timestamp,
    pub alerts: Vec<Alert>,
}

/// One step of a case's public timeline.
#[derive(Serialize, ToSchema)]
pub struct PublicStep {
    pub at: Timestamp,
    pub action: String,
    pub status: String,
    pub status_zh: String,
}

/// What anyone with the receipt code sees: where the case stands, without people or text.
#[derive(Serialize, ToSchema)]
pub struct Tracking {
    pub receipt_code: String,
    /// The case's public number.
    pub public_id: String,
    /// The master case's public number when this report was merged into it.
    pub merged_into: Option<String>,
    pub status: String,
    pub status_zh: String,
    pub category: Option<String>,
    pub grid: Option<String>,
    /// The grid and its community by name.
    pub place: Option<String>,
    /// The unit handling the case (or the one routing named, until it is dispatched).
    pub unit: Option<String>,
    pub reported_at: Timestamp,
    pub updated_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub timeline: Vec<PublicStep>,
}

/// The reporter's evaluation of a closed case.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// The secret issued with the receipt code (`reporter_secret` in the report's answer), or
    /// the key of the evaluation link; or leave it out and give `code`.
    #[serde(default)]
    pub secret: String,
    /// The code texted to the reporter's number (`POST /api/v1/track/{receipt}/verification-code`).
    #[serde(default)]
    pub code: String,
    /// satisfied, basically_satisfied or unsatisfied (which reopens the case).
    pub satisfaction: String,
    #[serde(default)]
    pub comment: String,
}

/// The fields of an action; which are needed depends on the action (see its description).
/// The case version goes here as `version` or in `If-Match`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ActionBody {
    /// The version the caller read (instead of If-Match).
    version: Option<u64>,
    /// refuse, reopen, send_back, transfer, correct.
    reason: Option<String>,
    /// dispatch (default: the routed units), transfer, whistle_call.
    units: Option<Vec<String>>,
    /// report_back, verify, decide_approval, supervise, resolve_on_site, whistle_call, answer_whistle.
    note: Option<String>,
    /// verify.
    passed: Option<bool>,
    /// evaluate: satisfied, basically_satisfied or unsatisfied.
    satisfaction: Option<String>,
    /// evaluate.
    comment: Option<String>,
    /// request_approval: `{kind: extension|shelve|void, reason, stage?, extra?}`.
    #[schema(value_type = Option<Object>)]
    request: Option<Value>,
    /// decide_approval.
    approve: Option<bool>,
    /// supervise.
    on: Option<bool>,
    /// merge: the master case's id.
    master: Option<Uuid>,
    /// answer_whistle: the summoned unit.
    unit: Option<String>,
    /// whistle_call: when the departments must report by.
    due_at: Option<Timestamp>,
    /// correct: the place as a point (WGS84), placed in its grid.
    lon: Option<f64>,
    lat: Option<f64>,
    /// correct: the place as a 15-digit grid code (when no point is given).
    grid: Option<String>,
    /// correct: the category code.
    category: Option<String>,
}

/// The actions staff may take through the API.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ActionName {
    Accept,
    Refuse,
    Register,
    Dispatch,
    StartHandling,
    ReportBack,
    Verify,
    Evaluate,
    Reopen,
    SendBack,
    Transfer,
    RequestApproval,
    DecideApproval,
    Resume,
    Supervise,
    Merge,
    ResolveOnSite,
    WhistleCall,
    AnswerWhistle,
    Correct,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A status, e.g. `dispatched`.
    pub status: Option<String>,
    /// A 15-digit grid code.
    pub grid: Option<String>,
    /// A unit code the case is with.
    pub unit: Option<String>,
    /// A category code.
    pub category: Option<String>,
    /// Only cases whose current stage is past its deadline.
    pub overdue: Option<bool>,
    /// Reported at or after (RFC 3339).
    pub from: Option<String>,
    /// Reported before (RFC 3339).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Words to search the cases' text for (description, address, notes; every term must
    /// occur): the best matches first, one page, no cursor.
    #[param(max_length = 200)]
    pub q: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DuplicateQuery {
    /// Metres around the case, up to 5,000; 50 by default.
    #[param(exclusive_minimum = 0, maximum = 5000)]
    pub radius: Option<f64>,
    /// Hours before the case's report, 1 to 2,160; 72 by default.
    #[param(minimum = 1, maximum = 2160)]
    pub hours: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PhotoQuery {
    /// report, before or after.
    pub stage: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// RFC 3339; the last 24 hours by default.
    pub since: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}
