//! Emergency response over REST v1: `/api/v1/plans` (import and export as JSON, TOML or CSV)
//! and `/api/v1/incidents` (declare, change level, lift, tasks, grid acknowledgements and
//! reports, needs, situation reports, the live board and the after-action record). Every
//! route asks first whether the caller has any part in emergency response, before it reads
//! anything.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::board::{Board, IncidentView};
use super::record::{AfterAction, UnitResponse};
use super::{GridReportInput, LevelChange, NewIncident, VolunteerCall};
use crate::App;
use crate::error::{AppError, InputError};
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems};
use crate::http::{ApiResult, Caller, body};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, import_plans))
        .routes(routes!(get_plan))
        .routes(routes!(list_incidents, declare))
        .routes(routes!(board))
        .routes(routes!(set_level))
        .routes(routes!(lift))
        .routes(routes!(finish_task))
        .routes(routes!(acknowledge))
        .routes(routes!(report))
        .routes(routes!(need_case))
        .routes(routes!(need_call))
        .routes(routes!(need_close))
        .routes(routes!(sitrep))
        .routes(routes!(record))
        .routes(routes!(responses))
}

/// A plan in brief.
#[derive(serde::Serialize, ToSchema)]
pub struct PlanSummary {
    pub code: String,
    pub kind: String,
    pub title: String,
    pub version: u64,
    /// How many tasks each level lists (I, II, III, IV).
    pub tasks_per_level: Vec<usize>,
    pub contacts: usize,
    pub resources: usize,
    pub shelters: usize,
}

fn summary(r: &civicgrid_store::PlanRecord, p: &civicgrid_domain::emergency::Plan) -> PlanSummary {
    PlanSummary {
        code: r.code.clone(),
        kind: r.kind.clone(),
        title: r.title.clone(),
        version: r.version,
        tasks_per_level: civicgrid_domain::emergency::Level::ALL
            .iter()
            .map(|l| p.tasks.iter().filter(|t| t.level == *l).count())
            .collect(),
        contacts: p.contacts.len(),
        resources: p.resources.len(),
        shelters: p.shelters.len(),
    }
}

async fn gate(app: &App, caller: &Caller) -> ApiResult<civicgrid_domain::policy::Actor> {
    let actor = caller.staff()?.clone();
    let reference = app.reference().await?;
    reference
        .policy()
        .may_use_emergency(&actor)
        .map_err(AppError::Forbidden)?;
    Ok(actor)
}

/// The plans (anyone with a part in emergency response).
#[utoipa::path(get, path = "/api/v1/plans", tag = "emergency",
    responses((status = 200, description = "Plans by code", body = [PlanSummary]), ReadProblems),
    security(("bearer" = [])))]
async fn list_plans(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<PlanSummary>>> {
    let actor = gate(&app, &caller).await?;
    let plans = app.emergency_plans(&actor).await?;
    Ok(Json(plans.iter().map(|(r, p)| summary(r, p)).collect()))
}

/// Imports plans, all or nothing (emergency.command): a TOML plan file
/// (`application/toml`), plans as CSV (`text/csv`, the columns of `civicgrid emergency plans
/// export`), or a JSON array of plans. A plan already kept is replaced, one version up.
#[utoipa::path(post, path = "/api/v1/plans", tag = "emergency",
    request_body(content((String = "application/toml"), (String = "text/csv"), (Object = "application/json"))),
    responses((status = 200, description = "Kept", body = [PlanSummary]), ChangeProblems),
    security(("bearer" = [])))]
async fn import_plans(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Vec<PlanSummary>>> {
    let actor = gate(&app, &caller).await?;
    app.reference()
        .await?
        .policy()
        .may_keep_plans(&actor)
        .map_err(AppError::Forbidden)?;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        AppError::Input(vec![InputError::file("request body", "is not UTF-8 text")])
    })?;
    let plans = if kind.starts_with("application/json") {
        serde_json::from_str::<Vec<civicgrid_domain::emergency::Plan>>(text).map_err(|e| {
            AppError::Unprocessable(vec![(
                "plans".into(),
                format!("not an array of plans: {e}"),
            )])
        })?
    } else if kind.starts_with("application/toml") {
        vec![super::plan_file::read_plan("request body", text).map_err(AppError::Input)?]
    } else if kind.starts_with("text/csv") {
        super::plan_file::read_plans_csv("request body", text).map_err(AppError::Input)?
    } else {
        return Err(AppError::Unprocessable(vec![(
            "content-type".into(),
            "send application/toml, text/csv or application/json".into(),
        )])
        .into());
    };
    let saved = app.save_emergency_plans(&actor, plans).await?;
    let mut out = Vec::new();
    for r in &saved {
        out.push(summary(r, &super::plan_from(&r.body)?));
    }
    Ok(Json(out))
}

#[derive(Deserialize, IntoParams)]
pub struct PlanQuery {
    /// json (default), toml or csv.
    pub format: Option<String>,
}

/// One plan: as JSON, or exported as its TOML file or as CSV.
#[utoipa::path(get, path = "/api/v1/plans/{code}", tag = "emergency",
    params(("code" = String, Path, description = "The plan's code"), PlanQuery),
    responses((status = 200, description = "The plan", body = Object), ReadProblems),
    security(("bearer" = [])))]
async fn get_plan(
    State(app): State<App>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Response> {
    let actor = gate(&app, &caller).await?;
    let (_, plan) = app.emergency_plan(&actor, &code).await?;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "toml" => (
            [(header::CONTENT_TYPE, "application/toml; charset=utf-8")],
            super::plan_file::write_plan(&plan).map_err(AppError::Invalid)?,
        )
            .into_response(),
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            super::plan_file::write_plans_csv(std::slice::from_ref(&plan))
                .map_err(AppError::Invalid)?,
        )
            .into_response(),
        "json" => Json(plan).into_response(),
        other => {
            return Err(AppError::Unprocessable(vec![(
                "format".into(),
                format!("`{other}` is not json, toml or csv"),
            )])
            .into());
        }
    })
}

/// The incidents the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "emergency",
    responses((status = 200, description = "Incidents", body = [IncidentView]), ReadProblems),
    security(("bearer" = [])))]
async fn list_incidents(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<Vec<IncidentView>>> {
    let actor = gate(&app, &caller).await?;
    let list = app.incidents_for(&actor).await?;
    Ok(Json(list.iter().map(IncidentView::from).collect()))
}

/// Declares an incident under a plan over an area (grids by code, a polygon, or a radius
/// around a point), activating it at once when a level is given (emergency.command over the
/// area). `area` is `{"kind":"grids","grids":[…]}`, `{"kind":"polygon","ring":[[lon,lat],…]}`
/// or `{"kind":"circle","lon":…,"lat":…,"radius_m":…}`.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "emergency",
    request_body(content = NewIncident, content_type = "application/json"),
    responses((status = 201, description = "Declared", body = IncidentView), IntakeProblems),
    security(("bearer" = [])))]
async fn declare(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<NewIncident>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<IncidentView>)> {
    let actor = gate(&app, &caller).await?;
    app.reference()
        .await?
        .policy()
        .may_keep_plans(&actor)
        .map_err(AppError::Forbidden)?;
    let b = body(payload)?;
    let i = app.declare_incident(&actor, b).await?;
    Ok((StatusCode::CREATED, Json(IncidentView::from(&i))))
}

/// The live board: grids by acknowledgement and report, tasks with deadlines and the overdue
/// ones, needs, figures and the latest situation report.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number (YJ…) or id")),
    responses((status = 200, description = "The board", body = Board), ReadProblems),
    security(("bearer" = [])))]
async fn board(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Board>> {
    let actor = gate(&app, &caller).await?;
    Ok(Json(app.incident_board(&actor, &id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct LevelBody {
    /// I, II, III or IV.
    pub level: String,
}

/// Activates the incident at a level or moves it there: the tasks of the level are created
/// (none twice), a lowering cancels the open ones the lower level does not list, each with
/// its reason; one transaction with the notice to the grids. Asking for the level it is at
/// changes nothing (`changed: false`).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/level", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id")),
    request_body(content = LevelBody, content_type = "application/json"),
    responses((status = 200, description = "What changed", body = LevelChange), ChangeProblems),
    security(("bearer" = [])))]
async fn set_level(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<LevelBody>, JsonRejection>,
) -> ApiResult<Json<LevelChange>> {
    let actor = gate(&app, &caller).await?;
    let b = body(payload)?;
    let level = super::level_of(&b.level)?;
    Ok(Json(app.set_incident_level(&actor, &id, level).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ReasonBody {
    pub reason: String,
}

/// Lifts the incident: every open task is closed with the reason.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/lift", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "Lifted", body = IncidentView), ChangeProblems),
    security(("bearer" = [])))]
async fn lift(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<ReasonBody>, JsonRejection>,
) -> ApiResult<Json<IncidentView>> {
    let actor = gate(&app, &caller).await?;
    let b = body(payload)?;
    let i = app.lift_incident(&actor, &id, &b.reason).await?;
    Ok(Json(IncidentView::from(&i)))
}

#[derive(Deserialize, ToSchema)]
pub struct TaskDoneBody {
    /// The task's key.
    pub task: String,
    /// Its addressee: `unit:CODE`, `role:CODE` or `grid:CODE`.
    pub target: String,
    #[serde(default)]
    pub note: String,
}

/// Marks a task done (its addressee, or the commander).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks/done", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id")),
    request_body(content = TaskDoneBody, content_type = "application/json"),
    responses((status = 204, description = "Done"), ChangeProblems),
    security(("bearer" = [])))]
async fn finish_task(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<TaskDoneBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let actor = gate(&app, &caller).await?;
    let b = body(payload)?;
    app.finish_incident_task(&actor, &id, &b.task, &b.target, &b.note)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Acknowledges the incident for a grid (its grid workers, emergency.respond there).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/grids/{grid}/acknowledge", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id"),
        ("grid" = String, Path, description = "The grid's code")),
    responses((status = 204, description = "Acknowledged (or already)"), ChangeProblems),
    security(("bearer" = [])))]
async fn acknowledge(
    State(app): State<App>,
    caller: Caller,
    Path((id, grid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let actor = gate(&app, &caller).await?;
    app.acknowledge_incident(&actor, &id, &grid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reports for a grid: households checked, people transferred, needs found.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/grids/{grid}/reports", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id"),
        ("grid" = String, Path, description = "The grid's code")),
    request_body(content = GridReportInput, content_type = "application/json"),
    responses((status = 201, description = "Reported", body = ReportView), ChangeProblems),
    security(("bearer" = [])))]
async fn report(
    State(app): State<App>,
    caller: Caller,
    Path((id, grid)): Path<(String, String)>,
    payload: Result<Json<GridReportInput>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    let actor = gate(&app, &caller).await?;
    let b = body(payload)?;
    let r = app.report_for_grid(&actor, &id, &grid, b).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReportView {
            id: r.id,
            grid: r.grid,
            at: r.at,
            households_checked: r.households_checked,
            people_transferred: r.people_transferred,
        }),
    ))
}

/// A grid report as kept.
#[derive(serde::Serialize, ToSchema)]
pub struct ReportView {
    pub id: uuid::Uuid,
    pub grid: String,
    #[schema(value_type = String)]
    pub at: jiff::Timestamp,
    pub households_checked: u32,
    pub people_transferred: u32,
}

fn need_id(s: &str) -> ApiResult<uuid::Uuid> {
    s.parse()
        .map_err(|_| AppError::NotFound(format!("need {s}")).into())
}

#[derive(serde::Serialize, ToSchema)]
pub struct NeedCase {
    pub case: uuid::Uuid,
    pub public_id: String,
}

/// Turns an open need into a case in its grid (the commander or the grid's responders).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/needs/{need}/case", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id"),
        ("need" = String, Path, description = "The need's id")),
    responses((status = 201, description = "The case", body = NeedCase), ChangeProblems),
    security(("bearer" = [])))]
async fn need_case(
    State(app): State<App>,
    caller: Caller,
    Path((id, need)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<NeedCase>)> {
    let actor = gate(&app, &caller).await?;
    let case = app.need_to_case(&actor, &id, &need_id(&need)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(NeedCase {
            case: case.id,
            public_id: case.public_id,
        }),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct CallBody {
    /// Volunteers wanted (1 to 100; 5 by default).
    #[serde(default)]
    pub places: Option<u32>,
}

/// Turns an open need into a volunteer call: an activity in the grid for the next four
/// hours asking the need's skills, with the volunteers who match.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/needs/{need}/volunteer-call", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id"),
        ("need" = String, Path, description = "The need's id")),
    request_body(content = CallBody, content_type = "application/json"),
    responses((status = 201, description = "The call", body = VolunteerCall), ChangeProblems),
    security(("bearer" = [])))]
async fn need_call(
    State(app): State<App>,
    caller: Caller,
    Path((id, need)): Path<(String, String)>,
    payload: Result<Json<CallBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<VolunteerCall>)> {
    let actor = gate(&app, &caller).await?;
    let places = match payload {
        Ok(Json(b)) => b.places.unwrap_or(5),
        Err(_) => 5,
    };
    let call = app
        .need_to_volunteer_call(&actor, &id, &need_id(&need)?, places)
        .await?;
    Ok((StatusCode::CREATED, Json(call)))
}

#[derive(Deserialize, ToSchema)]
pub struct NoteBody {
    pub note: String,
}

/// Closes an open need without a case or call (the commander), with a note.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/needs/{need}/close", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id"),
        ("need" = String, Path, description = "The need's id")),
    request_body(content = NoteBody, content_type = "application/json"),
    responses((status = 204, description = "Closed"), ChangeProblems),
    security(("bearer" = [])))]
async fn need_close(
    State(app): State<App>,
    caller: Caller,
    Path((id, need)): Path<(String, String)>,
    payload: Result<Json<NoteBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let actor = gate(&app, &caller).await?;
    let b = body(payload)?;
    app.close_need(&actor, &id, &need_id(&need)?, &b.note)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct SitrepBody {
    pub text: String,
}

/// Writes a situation report (续报): the live figures now, with the text.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/sitreps", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id")),
    request_body(content = SitrepBody, content_type = "application/json"),
    responses((status = 201, description = "Written", body = super::board::SitrepView), ChangeProblems),
    security(("bearer" = [])))]
async fn sitrep(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<SitrepBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<super::board::SitrepView>)> {
    let actor = gate(&app, &caller).await?;
    let b = body(payload)?;
    let s = app.write_sitrep(&actor, &id, &b.text).await?;
    Ok((
        StatusCode::CREATED,
        Json(super::board::SitrepView::from(&s)),
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct RecordQuery {
    /// json (default) or csv.
    pub format: Option<String>,
}

/// The after-action record (复盘): timeline, task delays, grids that never acknowledged,
/// needs raised and met, situation reports; as JSON or CSV.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/record", tag = "emergency",
    params(("id" = String, Path, description = "The incident's number or id"), RecordQuery),
    responses((status = 200, description = "The record", body = AfterAction), ReadProblems),
    security(("bearer" = [])))]
async fn record(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> ApiResult<Response> {
    let actor = gate(&app, &caller).await?;
    let r = app.after_action(&actor, &id).await?;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}-record.csv\"", r.incident.number),
                ),
            ],
            super::record::record_csv(&r)?,
        )
            .into_response(),
        "json" => Json(r).into_response(),
        other => {
            return Err(AppError::Unprocessable(vec![(
                "format".into(),
                format!("`{other}` is not json or csv"),
            )])
            .into());
        }
    })
}

/// How each unit answered the tasks of real incidents (drills left out): on time, late,
/// never done.
#[utoipa::path(get, path = "/api/v1/emergency/responses", tag = "emergency",
    responses((status = 200, description = "Per unit", body = [UnitResponse]), ReadProblems),
    security(("bearer" = [])))]
async fn responses(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<UnitResponse>>> {
    let actor = gate(&app, &caller).await?;
    Ok(Json(app.unit_responses(&actor).await?))
}
