//! Accountability records over REST v1: propose, list and read (officers and leaders; the
//! subject reads its own), decide (a leader), appeal (the subject), and the public 通报.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems};
use crate::http::{ApiResult, Caller, body};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list, propose))
        .routes(routes!(notices))
        .routes(routes!(get_record))
        .routes(routes!(decide))
        .routes(routes!(appeal))
}

/// A proposed record.
#[derive(Deserialize, ToSchema)]
pub struct NewRecordBody {
    /// talk_reminder (谈话提醒), criticism_education (批评教育), public_criticism (通报批评),
    /// ordered_review (责令检查) or referral (移送纪委)
    pub measure: String,
    /// unit or staff
    pub subject_kind: String,
    /// The unit's code or the account's name.
    pub subject_code: String,
    /// The assessment period its points count in (2026-03, 2026-Q1, 2026).
    pub period: String,
    /// Points deducted, 0 to 20.
    #[serde(default)]
    pub points: f64,
    /// Published as a 通报 once approved.
    #[serde(default)]
    pub public: bool,
    pub facts: String,
    /// Case ids.
    #[serde(default)]
    pub cases: Vec<String>,
    /// A supervision report's id.
    pub report: Option<String>,
    /// black_list or overdue_cases, for the period.
    pub kpi: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionBody {
    pub version: u64,
    pub approve: bool,
    /// The reason; required to reject.
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
pub struct AppealBody {
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecordView {
    pub number: u64,
    pub version: u64,
    pub measure: String,
    pub subject_kind: String,
    pub subject_code: String,
    pub region: String,
    pub period: String,
    pub points: f64,
    pub public: bool,
    pub facts: String,
    pub cases: Vec<String>,
    pub report: Option<String>,
    pub kpi: Option<String>,
    /// proposed, approved or rejected
    pub status: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    /// The assessment appeal against it and where it stands.
    pub appeal_id: Option<String>,
    pub appeal_status: Option<String>,
}

/// A public 通报: no names of staff beyond what the record is about.
#[derive(Serialize, ToSchema)]
pub struct NoticeView {
    pub number: u64,
    pub measure: String,
    pub subject_kind: String,
    pub subject_code: String,
    pub period: String,
    pub facts: String,
    pub decided_at: Option<String>,
}

impl From<&super::Record> for RecordView {
    fn from(r: &super::Record) -> Self {
        let x = &r.record;
        RecordView {
            number: x.number,
            version: x.version,
            measure: x.measure.clone(),
            subject_kind: x.subject.kind().to_owned(),
            subject_code: x.subject.code().to_owned(),
            region: x.region.to_string(),
            period: r.period_text.clone(),
            points: x.points,
            public: x.public,
            facts: x.facts.clone(),
            cases: r.grounds.cases.iter().map(|c| c.to_string()).collect(),
            report: r.grounds.report.map(|c| c.to_string()),
            kpi: r.grounds.kpi.clone(),
            status: x.status.clone(),
            proposed_by: x.proposed_by.clone(),
            proposed_at: x.proposed_at.to_string(),
            decided_by: x.decided_by.clone(),
            decided_at: x.decided_at.map(|t| t.to_string()),
            decision_note: x.decision_note.clone(),
            appeal_id: x.appeal_id.map(|a| a.to_string()),
            appeal_status: r.appeal.as_ref().map(|a| a.status.as_str().to_owned()),
        }
    }
}

fn number_of(n: &str) -> ApiResult<u64> {
    n.parse()
        .map_err(|_| AppError::NotFound(format!("accountability record {n}")).into())
}

fn uuid_field(field: &str, s: &str) -> ApiResult<uuid::Uuid> {
    s.trim().parse().map_err(|_| {
        AppError::Unprocessable(vec![(field.to_owned(), format!("`{s}` is not an id"))]).into()
    })
}

/// Accountability records, newest first (accountability.propose or .approve).
#[utoipa::path(get, path = "/api/v1/accountability", tag = "supervision",
    responses((status = 200, description = "The records", body = Vec<RecordView>), ReadProblems),
    security(("bearer" = [])))]
async fn list(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<RecordView>>> {
    let actor = caller.staff()?;
    let records = app.accountability_records_for(actor).await?;
    Ok(Json(records.iter().map(RecordView::from).collect()))
}

/// Proposes a record (accountability.propose in the subject's region), founded on cases, a
/// supervision report or an assessment result.
#[utoipa::path(post, path = "/api/v1/accountability", tag = "supervision",
    request_body(content = NewRecordBody, content_type = "application/json"),
    responses((status = 201, description = "Proposed", body = RecordView), ChangeProblems),
    security(("bearer" = [])))]
async fn propose(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<NewRecordBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let cases = b
        .cases
        .iter()
        .map(|c| uuid_field("cases", c))
        .collect::<ApiResult<Vec<_>>>()?;
    let report = b
        .report
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(|r| uuid_field("report", r))
        .transpose()?;
    let r = app
        .propose_accountability(
            actor,
            super::NewRecord {
                measure: b.measure,
                subject_kind: b.subject_kind,
                subject_code: b.subject_code,
                period: b.period,
                points: b.points,
                public: b.public,
                facts: b.facts,
                grounds: civicgrid_domain::accountability::Grounds {
                    cases,
                    report,
                    kpi: b.kpi.filter(|k| !k.is_empty()),
                },
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(RecordView::from(&r))).into_response())
}

/// The public 通报: approved records marked public.
#[utoipa::path(get, path = "/api/v1/accountability/notices", tag = "public",
    responses((status = 200, description = "The notices", body = Vec<NoticeView>), IntakeProblems),
    security(()))]
async fn notices(State(app): State<App>) -> ApiResult<Json<Vec<NoticeView>>> {
    let records = app.accountability_notices().await?;
    Ok(Json(
        records
            .iter()
            .map(|r| NoticeView {
                number: r.record.number,
                measure: r.record.measure.clone(),
                subject_kind: r.record.subject.kind().to_owned(),
                subject_code: r.record.subject.code().to_owned(),
                period: r.period_text.clone(),
                facts: r.record.facts.clone(),
                decided_at: r.record.decided_at.map(|t| t.to_string()),
            })
            .collect(),
    ))
}

/// One record (those who propose or approve records, and whom it concerns).
#[utoipa::path(get, path = "/api/v1/accountability/{number}", tag = "supervision",
    params(("number" = u64, Path, description = "The record's number")),
    responses((status = 200, description = "The record", body = RecordView), ReadProblems),
    security(("bearer" = [])))]
async fn get_record(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<RecordView>> {
    let actor = caller.staff()?;
    let n = number_of(&number)?;
    Ok(Json(RecordView::from(
        &app.accountability_record_for(actor, n).await?,
    )))
}

/// A leader approves or rejects a proposed record (not who proposed it, not the unit's own
/// staff); approval deducts its points in its period.
#[utoipa::path(post, path = "/api/v1/accountability/{number}/decision", tag = "supervision",
    params(("number" = u64, Path, description = "The record's number")),
    request_body(content = DecisionBody, content_type = "application/json"),
    responses((status = 200, description = "Decided", body = RecordView), ChangeProblems),
    security(("bearer" = [])))]
async fn decide(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<DecisionBody>, JsonRejection>,
) -> ApiResult<Json<RecordView>> {
    let actor = caller.staff()?;
    let n = number_of(&number)?;
    let b = body(payload)?;
    let r = app
        .decide_accountability(actor, n, b.version, b.approve, &b.note)
        .await?;
    Ok(Json(RecordView::from(&r)))
}

/// The unit or person concerned appeals an approved deduction through the assessment's
/// appeal workflow (reviewed by the department, decided by the leader).
#[utoipa::path(post, path = "/api/v1/accountability/{number}/appeal", tag = "supervision",
    params(("number" = u64, Path, description = "The record's number")),
    request_body(content = AppealBody, content_type = "application/json"),
    responses((status = 201, description = "Appealed", body = RecordView), ChangeProblems),
    security(("bearer" = [])))]
async fn appeal(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<AppealBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let n = number_of(&number)?;
    let b = body(payload)?;
    let r = app.appeal_accountability(actor, n, &b.reason).await?;
    Ok((StatusCode::CREATED, Json(RecordView::from(&r))).into_response())
}
