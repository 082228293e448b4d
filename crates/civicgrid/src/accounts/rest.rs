//! Staff sign-in and sign-out over REST v1 (session tokens), with the shared abuse limits.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::*;
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::AppError;
use crate::http::views::{IntakeProblems, ReadProblems, Throttled};
use crate::http::{ApiError, ApiResult, body};

/// Staff sign-in over REST.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(login, logout))
}

/// Staff sign-in: a session token to send as `Authorization: Bearer cs_…`.
#[utoipa::path(post, path = "/api/v1/session", tag = "staff",
    request_body(content = Login, content_type = "application/json"),
    responses((status = 201, description = "Signed in", body = Session), IntakeProblems, Throttled),
    security(()))]
async fn login(
    State(app): State<App>,
    from: ClientAddr,
    payload: Result<Json<Login>, JsonRejection>,
) -> ApiResult<Response> {
    let l = body(payload)?;
    let token = app
        .sign_in(&l.username, &l.password, &from)
        .await
        .map_err(|e| match e {
            AppError::Forbidden(m) => ApiError::Unauthorized(m),
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            token,
            expires_in: crate::accounts::SESSION_LIFETIME.as_secs(),
        }),
    )
        .into_response())
}

/// Staff sign-out: ends the session whose token is sent.
#[utoipa::path(delete, path = "/api/v1/session", tag = "staff",
    responses((status = 204, description = "Signed out"), ReadProblems),
    security(("bearer" = [])))]
async fn logout(State(app): State<App>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("send the session token to end it".into()))?;
    let token = token.trim();
    // Only a live session can be ended: anything else is a bad credential, not a success.
    if app.authenticate_session(token).await?.is_none() {
        return Err(ApiError::Unauthorized(
            "unknown or expired session token".into(),
        ));
    }
    app.logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}
