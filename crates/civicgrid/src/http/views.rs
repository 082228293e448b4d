//! The shapes REST v1 sends and receives, as types: serialised by the handlers and described
//! in the OpenAPI document from the same definitions, so the two cannot drift apart.

use std::collections::BTreeMap;

use civicgrid_domain::case::Case;
use civicgrid_store::CaseEvent;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "civicgrid REST API",
        version = "1",
        description = "The case loop of grassroots grid governance: intake, dispatch, handling, verification, closure and evaluation, with deadlines, escalation and an audit trail. Errors are RFC 9457 problem details (application/problem+json)."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, ActionName)),
    tags(
        (name = "cases", description = "Cases and their loop"),
        (name = "public", description = "What residents see without an account"),
        (name = "staff", description = "Staff sign-in and alerts"),
        (name = "operations", description = "Health, readiness and this document")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        api.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff API key (cg_…) or a session token (cs_…) from POST /api/v1/session",
                    ))
                    .build(),
            ),
        );
    }
}

/// An RFC 9457 problem: what went wrong, for people and for programs.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `urn:civicgrid:problem:<slug>`, stable for programs to branch on.
    #[serde(rename = "type")]
    #[schema(example = "urn:civicgrid:problem:invalid-fields")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid fields: each field and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// For a stale version (412): the case's version now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// For a transition the loop does not allow (409): where the case stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status_zh: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// Error answers, grouped by what an operation can run into. Never constructed: they only
/// describe responses in the document.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum ReadProblems {
    #[response(
        status = 400,
        description = "A malformed path, query or body",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "No or bad credentials",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "Outside the caller's scope",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 404,
        description = "No such case or resource",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 422,
        description = "Parameters that cannot be accepted",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
    #[response(
        status = 503,
        description = "Storage is unavailable",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

/// The refusal of a caller over its abuse limit (sign-in, public lookups).
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum Throttled {
    #[response(
        status = 429,
        description = "Too many attempts lately; try again after Retry-After seconds",
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))
    )]
    TooMany(Problem),
}

#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum ChangeProblems {
    #[response(
        status = 400,
        description = "A malformed path, body or If-Match",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "No or bad credentials",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "The caller's role or scope does not allow it",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 404,
        description = "No such case",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 409,
        description = "Not allowed in the case's current state; names the state",
        content_type = "application/problem+json"
    )]
    Conflict(Problem),
    #[response(
        status = 412,
        description = "The case changed since it was read (stale version)",
        content_type = "application/problem+json"
    )]
    Stale(Problem),
    #[response(
        status = 422,
        description = "Fields that cannot be accepted",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
    #[response(
        status = 428,
        description = "The case version is missing (If-Match or `version`)",
        content_type = "application/problem+json"
    )]
    VersionRequired(Problem),
    #[response(
        status = 503,
        description = "Storage is unavailable; nothing was changed",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum IntakeProblems {
    #[response(
        status = 400,
        description = "A malformed body",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "Bad credentials (anonymous intake needs none)",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 422,
        description = "Fields that cannot be accepted; each is listed",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
    #[response(
        status = 503,
        description = "Storage is unavailable; nothing was stored",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

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
    pub distance_m: f64,
}

/// A case as staff see it.
#[derive(Serialize, ToSchema)]
pub struct CaseView {
    pub id: Uuid,
    /// The public receipt code, e.g. `7Q4M-2XKD`.
    pub receipt_code: String,
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
}

impl From<&Case> for CaseView {
    fn from(c: &Case) -> Self {
        CaseView {
            id: c.id,
            receipt_code: c.receipt_code.clone(),
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Session {
    /// Send as `Authorization: Bearer cs_…`.
    pub token: String,
    /// Seconds.
    pub expires_in: i64,
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
    /// The master case's receipt code when this report was merged into it.
    pub merged_into: Option<String>,
    pub status: String,
    pub status_zh: String,
    pub category: Option<String>,
    pub grid: Option<String>,
    pub reported_at: Timestamp,
    pub updated_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub timeline: Vec<PublicStep>,
}

/// The fields of an action; which are needed depends on the action (see its description).
/// The case version goes here as `version` or in `If-Match`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ActionBody {
    /// The version the caller read (instead of If-Match).
    version: Option<u64>,
    /// refuse, reopen, send_back, transfer.
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    /// A region code: district (6 digits), street (9) or community (12); or `beat:CODE`.
    pub scope: String,
    /// 2026-10-05, 2026-W41, 2026-10, 2026-Q4, 2026 or 2026-10-01..2026-10-31.
    pub period: String,
    /// Only subjects of this kind: unit, grid, region or staff.
    pub kind: Option<String>,
}

/// An appeal against an assessment deduction.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppeal {
    /// unit, grid, region or staff.
    pub subject_kind: String,
    /// The unit code, grid code, community code or username.
    pub subject_code: String,
    /// The assessment period, e.g. 2026-10.
    pub period: String,
    /// Score points asked back, more than 0 and at most 100.
    pub points: f64,
    pub reason: String,
}

/// A review (the department) or a decision (a leader).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealStepBody {
    /// Review: whether the department supports the appeal. Decision: whether it is upheld.
    pub yes: bool,
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct AppealView {
    pub id: Uuid,
    pub subject_kind: String,
    pub subject_code: String,
    /// The period's days, `start..end` (end excluded).
    pub period: String,
    pub points: f64,
    pub reason: String,
    /// submitted, reviewed, upheld or rejected.
    pub status: String,
    /// Every step: who, when, what and why.
    #[schema(value_type = Vec<Object>)]
    pub history: Value,
    pub submitted_by: String,
    pub submitted_at: Timestamp,
}

impl From<&civicgrid_store::Appeal> for AppealView {
    fn from(a: &civicgrid_store::Appeal) -> Self {
        AppealView {
            id: a.id,
            subject_kind: a.subject.kind().to_owned(),
            subject_code: a.subject.code().to_owned(),
            period: a.period.clone(),
            points: a.points,
            reason: a.reason.clone(),
            status: a.status.as_str().to_owned(),
            history: a.history.clone(),
            submitted_by: a.submitted_by.clone(),
            submitted_at: a.submitted_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AppealQuery {
    /// Only appeals of this period, e.g. 2026-10.
    pub period: Option<String>,
}

/// A public evaluation survey (群众评议) to open.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSurvey {
    pub title: String,
    /// The assessment period its results feed, e.g. 2026-10.
    pub period: String,
    /// The unit codes residents rate.
    pub units: Vec<String>,
    pub closes_at: Timestamp,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyUnit {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyView {
    pub id: Uuid,
    pub title: String,
    /// The period's days, `start..end` (end excluded).
    pub period: String,
    pub units: Vec<SurveyUnit>,
    pub closes_at: Timestamp,
}

/// One resident's answer: a rating from 1 to 5 per unit. One answer per phone number; the
/// number is not stored, only a hash.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    pub phone: String,
    #[schema(value_type = Object)]
    pub ratings: BTreeMap<String, u8>,
}
