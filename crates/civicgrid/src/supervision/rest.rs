//! The supervision channel over REST v1. A reporter's routes take no credentials but the
//! receipt and passphrase in the body (never in a path or query, which proxies log), read
//! no header, and are left out of the request log and metrics (`REPORTER_ROUTES`). Officers'
//! routes need a bearer token.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems};
use crate::http::{ApiError, ApiResult, Caller, body, query};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_reports, post_report))
        .routes(routes!(get_report))
        .routes(routes!(report_step))
        .routes(routes!(report_identity))
        .routes(routes!(report_file))
        .routes(routes!(follow_up))
        .routes(routes!(follow_up_message))
        .routes(routes!(follow_up_file))
}

/// Every answer of the channel is private: no cache keeps it, no page refers on from it.
pub(super) fn private(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

fn report_id(id: &str) -> ApiResult<uuid::Uuid> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("report {id}")).into())
}

/// Reports misconduct (作风问题, 微腐败, misuse of benefit funds), anonymously. Nothing about
/// the sender is kept: no address, header or time finer than the day. The answer holds the
/// receipt and passphrase, shown only here.
#[utoipa::path(post, path = "/api/v1/supervision/reports", tag = "public",
    request_body(content = views::NewReportBody, content_type = "application/json"),
    responses((status = 201, description = "Received; keep the receipt and passphrase", body = views::ReceiptView), IntakeProblems),
    security(()))]
async fn post_report(
    State(app): State<App>,
    payload: Result<Json<views::NewReportBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let receipt = app
        .submit_report(super::NewReport {
            subject: b.subject,
            content: b.content,
            concern: b.concern,
            accused_unit: b.accused_unit,
            region: b.region,
            identity: b.identity,
            passphrase: b.passphrase,
        })
        .await?;
    Ok(private(
        (
            StatusCode::CREATED,
            Json(views::ReceiptView {
                receipt: receipt.receipt,
                passphrase: receipt.passphrase,
                acknowledge_by: receipt.acknowledge_by.to_string(),
                feedback_by: receipt.feedback_by.to_string(),
            }),
        )
            .into_response(),
    ))
}

/// The reporter reads the status, the clocks, the messages and the files.
#[utoipa::path(post, path = "/api/v1/supervision/follow-up", tag = "public",
    request_body(content = views::FollowUpBody, content_type = "application/json"),
    responses((status = 200, description = "The report as its reporter sees it", body = views::ReporterReportView), ChangeProblems),
    security(()))]
async fn follow_up(
    State(app): State<App>,
    payload: Result<Json<views::FollowUpBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let view = app.follow_up_report(&b.receipt, &b.passphrase).await?;
    Ok(private(
        Json(views::ReporterReportView::from(&view)).into_response(),
    ))
}

/// The reporter writes to the officers (answers a question, adds facts).
#[utoipa::path(post, path = "/api/v1/supervision/follow-up/messages", tag = "public",
    request_body(content = views::ReporterMessageBody, content_type = "application/json"),
    responses((status = 201, description = "Added", body = views::ReporterReportView), ChangeProblems),
    security(()))]
async fn follow_up_message(
    State(app): State<App>,
    payload: Result<Json<views::ReporterMessageBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let view = app
        .reporter_message(&b.receipt, &b.passphrase, &b.text)
        .await?;
    Ok(private(
        (
            StatusCode::CREATED,
            Json(views::ReporterReportView::from(&view)),
        )
            .into_response(),
    ))
}

/// The reporter adds a photo or a text file; photos are re-encoded without metadata, other
/// formats are refused, and the file's name is not kept.
#[utoipa::path(post, path = "/api/v1/supervision/follow-up/files", tag = "public",
    request_body(content = views::ReporterFileBody, content_type = "application/json"),
    responses((status = 201, description = "Added", body = views::ReporterReportView), ChangeProblems),
    security(()))]
async fn follow_up_file(
    State(app): State<App>,
    payload: Result<Json<views::ReporterFileBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(b.content_base64.trim())
        .map_err(|_| {
            ApiError::from(AppError::Unprocessable(vec![(
                "content_base64".into(),
                "is not base64".into(),
            )]))
        })?;
    let view = app.reporter_file(&b.receipt, &b.passphrase, &data).await?;
    Ok(private(
        (
            StatusCode::CREATED,
            Json(views::ReporterReportView::from(&view)),
        )
            .into_response(),
    ))
}

/// The reports the caller may read (whistleblowing.read in their region, never one that
/// accuses their unit or a unit they command), most recent first; custodians see the ones
/// waiting for their decision. Every listed report is recorded as read.
#[utoipa::path(get, path = "/api/v1/supervision/reports", tag = "supervision",
    params(views::ReportQuery),
    responses((status = 200, description = "The reports", body = Vec<views::ReportLineView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_reports(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let q = query(q)?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse().map_err(|e: String| {
            ApiError::from(AppError::Unprocessable(vec![("status".into(), e)]))
        })?),
        None => None,
    };
    let lines = app.reports_for(actor, status).await?;
    Ok(private(
        Json(
            lines
                .iter()
                .map(views::ReportLineView::from)
                .collect::<Vec<_>>(),
        )
        .into_response(),
    ))
}

/// One report, with its conversation, files and history; the reading is recorded.
#[utoipa::path(get, path = "/api/v1/supervision/reports/{id}", tag = "supervision",
    params(("id" = String, Path, description = "The report's id")),
    responses((status = 200, description = "The report", body = views::StaffReportView), ReadProblems),
    security(("bearer" = [])))]
async fn get_report(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let id = report_id(&id)?;
    let report = app.report_for(actor, &id).await?;
    Ok(private(
        Json(views::StaffReportView::from(&report)).into_response(),
    ))
}

/// An officer's step (acknowledge, investigate, message, feedback, close, request the
/// identity) or a custodian's (approve or refuse that request; another person).
#[utoipa::path(post, path = "/api/v1/supervision/reports/{id}/steps", tag = "supervision",
    params(("id" = String, Path, description = "The report's id")),
    request_body(content = views::StepBody, content_type = "application/json"),
    responses((status = 200, description = "Done", body = views::StaffReportView), ChangeProblems),
    security(("bearer" = [])))]
async fn report_step(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<views::StepBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let id = report_id(&id)?;
    let b = body(payload)?;
    let report = app
        .act_on_report(
            actor,
            &id,
            super::StaffStep {
                action: b.action,
                version: b.version,
                text: b.text,
                outcome: b.outcome,
            },
        )
        .await?;
    Ok(private(
        Json(views::StaffReportView::from(&report)).into_response(),
    ))
}

/// The identity the reporter disclosed: only for the officer whose request a custodian
/// approved; the reading is recorded.
#[utoipa::path(get, path = "/api/v1/supervision/reports/{id}/identity", tag = "supervision",
    params(("id" = String, Path, description = "The report's id")),
    responses((status = 200, description = "The identity", body = views::IdentityView), ReadProblems),
    security(("bearer" = [])))]
async fn report_identity(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let id = report_id(&id)?;
    let identity = app.report_identity(actor, &id).await?;
    Ok(private(
        Json(views::IdentityView { identity }).into_response(),
    ))
}

/// A file of a report (already without metadata); the reading is recorded.
#[utoipa::path(get, path = "/api/v1/supervision/reports/{id}/files/{seq}", tag = "supervision",
    params(("id" = String, Path, description = "The report's id"),
           ("seq" = u64, Path, description = "The file's number")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), ReadProblems),
    security(("bearer" = [])))]
async fn report_file(
    State(app): State<App>,
    caller: Caller,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let id = report_id(&id)?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::from(AppError::NotFound(format!("file {seq}"))))?;
    let (media_type, data) = app.report_file_for(actor, &id, seq).await?;
    let mut r = (StatusCode::OK, data).into_response();
    if let Ok(v) = HeaderValue::from_str(&media_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    Ok(private(r))
}
