//! One-stop services over REST v1: the catalogue (`/api/v1/service-items`, public to read)
//! and applications (`/api/v1/applications`): filing (anyone; a grid worker for a resident),
//! the resident's status, materials, resubmission and evaluation by number and secret, and
//! the handling staff's list, record and actions.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApplicationStep, NewApplication, views};
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::consultation::unprocessable;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems, Throttled};
use crate::http::{ApiError, ApiResult, Caller, body};
use civicgrid_domain::application::Rating;
use civicgrid_domain::policy::Actor;

pub fn routes() -> OpenApiRouter<App> {
    // Materials may be up to 10 MiB; every other body keeps axum's 2 MiB limit.
    let (schemas, paths, upload) = routes!(upload_material);
    let upload = upload.layer(axum::extract::DefaultBodyLimit::max(
        super::MATERIAL_MAX_BYTES + 1,
    ));
    OpenApiRouter::new()
        .routes(routes!(list_items))
        .routes(routes!(get_item, put_item))
        .routes(routes!(list_applications, file_application))
        .routes(routes!(get_application))
        .routes(routes!(application_status))
        .routes((schemas, paths, upload))
        .routes(routes!(get_material))
        .routes(routes!(resubmit))
        .routes(routes!(evaluate))
        .routes(routes!(application_action))
}

/// The catalogue of service items in force (public).
#[utoipa::path(get, path = "/api/v1/service-items", tag = "public",
    responses((status = 200, description = "Service items", body = Vec<views::ServiceItemView>), ReadProblems),
    security(()))]
async fn list_items(State(app): State<App>) -> ApiResult<Json<Vec<views::ServiceItemView>>> {
    let items = app.service_items(false).await?;
    Ok(Json(
        items.iter().map(views::ServiceItemView::from).collect(),
    ))
}

/// One service item (public).
#[utoipa::path(get, path = "/api/v1/service-items/{code}", tag = "public",
    params(("code" = String, Path, description = "The item's code")),
    responses((status = 200, description = "The item", body = views::ServiceItemView), ReadProblems),
    security(()))]
async fn get_item(
    State(app): State<App>,
    Path(code): Path<String>,
) -> ApiResult<Json<views::ServiceItemView>> {
    Ok(Json(views::ServiceItemView::from(
        &app.service_item(&code).await?,
    )))
}

/// Adds or changes a service item (catalogue.manage).
#[utoipa::path(put, path = "/api/v1/service-items/{code}", tag = "one-stop",
    params(("code" = String, Path, description = "The item's code")),
    request_body(content = views::ServiceItemBody, content_type = "application/json"),
    responses((status = 200, description = "Saved", body = views::ServiceItemView), ChangeProblems),
    security(("bearer" = [])))]
async fn put_item(
    State(app): State<App>,
    caller: Caller,
    Path(code): Path<String>,
    payload: Result<Json<views::ServiceItemBody>, JsonRejection>,
) -> ApiResult<Json<views::ServiceItemView>> {
    let actor = caller.staff()?;
    app.reference()
        .await?
        .policy()
        .may_manage_service_items(actor)
        .map_err(AppError::Forbidden)?;
    let b = body(payload)?;
    let item = b
        .into_item(code)
        .map_err(|(f, m)| ApiError::from(unprocessable(&f, m)))?;
    let saved = app.put_service_item(actor, item).await?;
    Ok(Json(views::ServiceItemView::from(&saved)))
}

/// Files an application: anyone (a resident); a grid worker with service.proxy files it for
/// a resident. The answer carries the secret the resident follows it with, only here.
#[utoipa::path(post, path = "/api/v1/applications", tag = "public",
    request_body(content = views::NewApplicationBody, content_type = "application/json"),
    responses((status = 201, description = "Filed", body = views::FiledApplication), IntakeProblems),
    security((), ("bearer" = [])))]
async fn file_application(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewApplicationBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let community =
        b.community
            .parse()
            .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                ApiError::from(unprocessable("community", e.to_string()))
            })?;
    let grid = match b.grid.filter(|g| !g.is_empty()) {
        Some(g) => Some(
            g.parse()
                .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                    ApiError::from(unprocessable("grid", e.to_string()))
                })?,
        ),
        None => None,
    };
    let actor = caller.0.unwrap_or(Actor::Resident);
    let receipt = app
        .submit_application(
            &actor,
            NewApplication {
                item: b.item,
                community,
                grid,
                name: b.name,
                phone: Some(b.phone),
                details: b.details,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::FiledApplication {
            application: views::ApplicationView::from(&receipt.application),
            secret: receipt.secret,
        }),
    )
        .into_response())
}

/// Applications the caller handles (service.handle), newest first.
#[utoipa::path(get, path = "/api/v1/applications", tag = "one-stop",
    responses((status = 200, description = "Applications, at most 500", body = Vec<views::ApplicationView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_applications(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<Vec<views::ApplicationView>>> {
    let actor = caller.staff()?;
    let list = app.applications(actor).await?;
    Ok(Json(
        list.iter().map(views::ApplicationView::from).collect(),
    ))
}

/// An application with its applicant and materials, for those who handle it (the read is
/// recorded).
#[utoipa::path(get, path = "/api/v1/applications/{number}", tag = "one-stop",
    params(("number" = String, Path, description = "The application's number")),
    responses((status = 200, description = "The application", body = views::ApplicationDetailView), ReadProblems),
    security(("bearer" = [])))]
async fn get_application(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::ApplicationDetailView>> {
    let actor = caller.staff()?;
    let a = app.application(actor, &number).await?;
    let applicant = app.applicant(actor, &a).await?;
    let files = app.material_files(&a).await?;
    let item = app.service_item(&a.item).await?;
    let provided: Vec<String> = files.iter().map(|f| f.material.clone()).collect();
    Ok(Json(views::ApplicationDetailView {
        application: views::ApplicationView::from(&a),
        applicant_name: applicant.as_ref().and_then(|c| c.name.clone()),
        applicant_phone: applicant.and_then(|c| c.phone),
        details: a.details.clone(),
        filed_by: a.filed_by.clone(),
        files: files.iter().map(views::MaterialFileView::from).collect(),
        missing: item
            .missing(&provided)
            .iter()
            .map(|m| m.code.clone())
            .collect(),
    }))
}

/// The resident reads the application's status with its number and secret. Every attempt
/// counts against the caller's lookups; a wrong secret and an unknown number get the same 403.
#[utoipa::path(post, path = "/api/v1/applications/{number}/status", tag = "public",
    params(("number" = String, Path, description = "The application's number")),
    request_body(content = views::SecretBody, content_type = "application/json"),
    responses((status = 200, description = "The application", body = views::ApplicationView), ChangeProblems, Throttled),
    security(()))]
async fn application_status(
    State(app): State<App>,
    from: ClientAddr,
    Path(number): Path<String>,
    payload: Result<Json<views::SecretBody>, JsonRejection>,
) -> ApiResult<Json<views::ApplicationView>> {
    let b = body(payload)?;
    let a = app
        .application_for_resident(&number, &b.secret, &from)
        .await?;
    Ok(Json(views::ApplicationView::from(&a)))
}

#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MaterialQuery {
    /// The file's name.
    name: String,
}

/// Uploads a material (PDF scan or photo, at most 10 MiB; `application/octet-stream` is
/// recognised by its first bytes) while the application awaits its check or corrections:
/// the resident, with the secret in `X-Application-Secret`, or staff who handle it or filed it.
#[utoipa::path(put, path = "/api/v1/applications/{number}/materials/{material}", tag = "public",
    params(("number" = String, Path, description = "The application's number"),
           ("material" = String, Path, description = "The checklist item's code"),
           MaterialQuery,
           ("X-Application-Secret" = Option<String>, Header, description = "The resident's secret")),
    request_body(content((Vec<u8> = "application/octet-stream"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"))),
    responses((status = 201, description = "Uploaded", body = views::MaterialFileView), ChangeProblems, Throttled),
    security((), ("bearer" = [])))]
#[allow(clippy::too_many_arguments)]
async fn upload_material(
    State(app): State<App>,
    caller: Caller,
    from: ClientAddr,
    Path((number, material)): Path<(String, String)>,
    q: Result<Query<MaterialQuery>, QueryRejection>,
    headers: HeaderMap,
    data: Bytes,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let secret = headers
        .get("x-application-secret")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The secret proves the resident; without it, a staff key and the policy decide.
    let (a, who) = match (&caller.0, secret) {
        (_, Some(secret)) => (
            app.application_for_resident(&number, &secret, &from)
                .await?,
            "resident".to_owned(),
        ),
        (Some(actor @ Actor::Staff { .. }), None) => (
            app.application(actor, &number).await?,
            actor.name().to_owned(),
        ),
        _ => {
            return Err(ApiError::Unauthorized(
                "the resident's secret (X-Application-Secret) or a staff API key".into(),
            ));
        }
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let f = app
        .add_material(&a, &who, &material, &q.name, &ct, data.to_vec())
        .await?;
    Ok((StatusCode::CREATED, Json(views::MaterialFileView::from(&f))).into_response())
}

/// A material's file, for those who handle the application (the read is recorded).
#[utoipa::path(get, path = "/api/v1/applications/{number}/files/{seq}", tag = "one-stop",
    params(("number" = String, Path, description = "The application's number"),
           ("seq" = u64, Path, description = "The file's number")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), ReadProblems),
    security(("bearer" = [])))]
async fn get_material(
    State(app): State<App>,
    caller: Caller,
    Path((number, seq)): Path<(String, String)>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::from(AppError::NotFound(format!("material file {seq}"))))?;
    let (meta, data) = app.material_file(actor, &number, seq).await?;
    let mut r = (StatusCode::OK, data).into_response();
    if let Ok(v) = HeaderValue::from_str(&meta.content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The resident hands the corrected application back (with the secret).
#[utoipa::path(post, path = "/api/v1/applications/{number}/resubmission", tag = "public",
    params(("number" = String, Path, description = "The application's number")),
    request_body(content = views::SecretBody, content_type = "application/json"),
    responses((status = 200, description = "Back for its check", body = views::ApplicationView), ChangeProblems, Throttled),
    security(()))]
async fn resubmit(
    State(app): State<App>,
    from: ClientAddr,
    Path(number): Path<String>,
    payload: Result<Json<views::SecretBody>, JsonRejection>,
) -> ApiResult<Json<views::ApplicationView>> {
    let b = body(payload)?;
    let a = app
        .application_for_resident(&number, &b.secret, &from)
        .await?;
    let a = app.resubmit_application(&a, "resident").await?;
    Ok(Json(views::ApplicationView::from(&a)))
}

/// The resident evaluates the result (好差评), once, with the secret.
#[utoipa::path(post, path = "/api/v1/applications/{number}/evaluation", tag = "public",
    params(("number" = String, Path, description = "The application's number")),
    request_body(content = views::EvaluationBody, content_type = "application/json"),
    responses((status = 200, description = "Evaluated", body = views::ApplicationView), ChangeProblems, Throttled),
    security(()))]
async fn evaluate(
    State(app): State<App>,
    from: ClientAddr,
    Path(number): Path<String>,
    payload: Result<Json<views::EvaluationBody>, JsonRejection>,
) -> ApiResult<Json<views::ApplicationView>> {
    let b = body(payload)?;
    let a = app
        .application_for_resident(&number, &b.secret, &from)
        .await?;
    let rating = Rating::parse(&b.rating).ok_or_else(|| {
        ApiError::from(unprocessable(
            "rating",
            "very_satisfied, satisfied, basic, dissatisfied or very_dissatisfied",
        ))
    })?;
    let a = app.evaluate_application(&a, rating, &b.note).await?;
    Ok(Json(views::ApplicationView::from(&a)))
}

/// What handling staff do: correct (every missing item at once, once), accept, decline,
/// forward, complete.
#[utoipa::path(post, path = "/api/v1/applications/{number}/actions/{action}", tag = "one-stop",
    params(("number" = String, Path, description = "The application's number"),
           ("action" = String, Path, description = "correct, accept, decline, forward or complete")),
    request_body(content = views::ApplicationActionBody, content_type = "application/json"),
    responses((status = 200, description = "Done", body = views::ApplicationView), ChangeProblems),
    security(("bearer" = [])))]
async fn application_action(
    State(app): State<App>,
    caller: Caller,
    Path((number, action)): Path<(String, String)>,
    payload: Result<Json<views::ApplicationActionBody>, JsonRejection>,
) -> ApiResult<Json<views::ApplicationView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let step = action_step(
        &action, b.items, b.note, b.reason, b.unit, b.approved, b.result,
    )?;
    let a = app
        .application_step(actor, &number, b.version, step)
        .await?;
    Ok(Json(views::ApplicationView::from(&a)))
}

/// A named staff action as a step (the pages' forms name them the same way).
pub(crate) fn action_step(
    action: &str,
    items: Vec<String>,
    note: String,
    reason: String,
    unit: String,
    approved: Option<bool>,
    result: String,
) -> Result<ApplicationStep, ApiError> {
    Ok(match action {
        "correct" => ApplicationStep::RequestCorrections { items, note },
        "accept" => ApplicationStep::Accept,
        "decline" => ApplicationStep::Decline { reason },
        "forward" => ApplicationStep::Forward { unit },
        "complete" => ApplicationStep::Complete {
            approved: approved.unwrap_or(true),
            result,
        },
        other => return Err(AppError::NotFound(format!("no application action `{other}`")).into()),
    })
}
