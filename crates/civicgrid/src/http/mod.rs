//! The HTTP shell: REST API v1 under `/api/v1/` (described by the OpenAPI document at
//! `/api/v1/openapi.json`, generated from the handlers' annotations), Open311 under
//! `/open311/`, the pages, health, readiness and metrics. It merges the capabilities' routers
//! (each capability's `rest.rs`) and owns what they share: who the caller is (`Caller`), how a
//! JSON body is read, and how errors become problem details (`problem.rs`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::cases::Actor;
use crate::error::AppError;
pub use problem::ApiError;

pub mod client;
pub mod metrics;
pub mod problem;
pub mod views;

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// REST v1 with its document: every route here comes from a handler's `#[utoipa::path]`, so
/// a route cannot exist without being described.
fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(views::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
        // The capabilities' REST routes, one line each.
        .merge(crate::cases::rest::routes())
        .merge(crate::accounts::rest::routes())
        .merge(crate::assessment::rest::routes())
        .merge(crate::search::rest::routes())
        .merge(crate::party::rest::routes())
        .merge(crate::households::rest::routes())
        .merge(crate::wishes::rest::routes())
        .merge(crate::disputes::rest::routes())
        .merge(crate::one_stop::rest::routes())
        .merge(crate::supervision::rest::routes())
        .merge(crate::lists::rest::routes())
        .merge(crate::notifications::rest::routes())
        .merge(crate::upstream::rest::routes())
        .merge(crate::emergency::rest::routes())
        .merge(crate::accountability::rest::routes())
        .merge(crate::volunteers::rest::routes())
        .merge(crate::consultation::rest::routes())
}

/// The OpenAPI 3.1 document of REST v1.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

static OPENAPI_JSON: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| openapi().to_json().unwrap_or_default());

/// No text the API takes in may hold a NUL character: PostgreSQL's text cannot store one, and
/// no name, address or note needs it. A JSON, CSV or form body, or a query, that carries one is
/// refused as malformed before any handler sees it (photos, which are binary, pass).
async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let textual = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.contains("json") || t.starts_with("text/") || t.contains("form-urlencoded")
        });
    let refused = || {
        ApiError::BadRequest("text may not contain NUL characters (\\u0000)".into()).into_response()
    };
    if request
        .uri()
        .query()
        .is_some_and(|q| q.contains("%00") || q.contains('\0'))
        || request.uri().path().contains("%00")
    {
        return refused();
    }
    if !textual {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return ApiError::BadRequest("the body is unreadable or too large".into()).into_response();
    };
    if bytes.contains(&0) || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return refused();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

pub fn router(app: App) -> Router {
    let (rest, _) = api().split_for_parts();
    let rest = rest.layer(axum::middleware::from_fn(refuse_nul));
    let requests = Arc::new(metrics::HttpMetrics::default());
    let scrape = requests.clone();
    rest.merge(crate::open311::rest::routes())
        .merge(crate::web::routes())
        .route(
            "/metrics",
            axum::routing::get(move |State(app): State<App>| metrics::render(app, scrape.clone())),
        )
        .fallback(unknown_path)
        .layer(axum::middleware::from_fn(move |request, next| {
            metrics::track(requests.clone(), request, next)
        }))
        .with_state(app)
}

/// An unknown path: a problem under the API, a page (in the reader's language) anywhere else,
/// so that a mistyped link in a browser does not answer with JSON.
async fn unknown_path(State(app): State<App>, request: axum::extract::Request) -> Response {
    let path = request.uri().path();
    let wants_json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json") && !a.contains("text/html"));
    if path.starts_with("/api/") || wants_json {
        return ApiError::App(AppError::NotFound("no such endpoint".into())).into_response();
    }
    let (mut parts, _) = request.into_parts();
    match <crate::web::Ctx as FromRequestParts<App>>::from_request_parts(&mut parts, &app).await {
        Ok(ctx) => ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-page-not-found")),
        Err(r) => r,
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process is up", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of REST v1", body = Object)))]
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.as_str(),
    )
        .into_response()
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain"),
        (status = 503, description = "The database does not answer", body = String, content_type = "text/plain")))]
async fn readyz(State(app): State<App>) -> Response {
    match app.repo.summary().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// The caller: anonymous unless a valid `Authorization: Bearer <API key>` is sent.
pub struct Caller(pub Option<Actor>);

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthorized("expected `Authorization: Bearer <API key>`".into())
            })?;
        let actor = if key.starts_with("cs_") {
            app.authenticate_session(key).await?
        } else {
            app.authenticate_api_key(key).await?
        };
        match actor {
            Some(actor) => Ok(Caller(Some(actor))),
            None => Err(ApiError::Unauthorized(
                "unknown, expired or revoked credentials".into(),
            )),
        }
    }
}

impl Caller {
    pub(crate) fn staff(&self) -> ApiResult<&Actor> {
        match &self.0 {
            Some(a @ Actor::Staff { .. }) => Ok(a),
            _ => Err(ApiError::Unauthorized("this needs a staff API key".into())),
        }
    }
}

/// Query strings whose rejection is a problem, not axum's plain text.
pub(crate) fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<T> {
    q.map(|axum::extract::Query(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// A region code given in `field` (a query or body value), or a 422 naming it.
pub(crate) fn region_param(
    field: &str,
    s: &str,
) -> ApiResult<civicgrid_domain::territory::RegionCode> {
    s.parse()
        .map_err(|e: civicgrid_domain::territory::TerritoryError| {
            AppError::Unprocessable(vec![(field.to_owned(), e.to_string())]).into()
        })
}

/// JSON bodies whose rejection is a problem, not axum's plain text.
pub(crate) fn body<T>(r: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    r.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}
