//! The Open311 link over REST v1, for those who keep the data exchange (notification.manage):
//! the forwarded cases with their upstream ids and errors, and sending a failed one again.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, ReadProblems};
use crate::http::{ApiResult, Caller};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(links))
        .routes(routes!(retry))
}

/// A case forwarded (or to be forwarded) upstream.
#[derive(Serialize, ToSchema)]
pub struct LinkView {
    pub case_id: uuid::Uuid,
    pub system: String,
    pub service_code: String,
    /// pending, sent or failed.
    pub status: String,
    /// The upstream's service_request_id (or `token:…` until it gives one).
    pub request_id: Option<String>,
    pub attempts: u32,
    #[schema(value_type = String)]
    pub next_attempt_at: jiff::Timestamp,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>)]
    pub sent_at: Option<jiff::Timestamp>,
    /// The upstream status last pulled back (open, closed).
    pub upstream_status: Option<String>,
}

impl From<civicgrid_store::UpstreamLink> for LinkView {
    fn from(l: civicgrid_store::UpstreamLink) -> LinkView {
        LinkView {
            case_id: l.case_id,
            system: l.system,
            service_code: l.service_code,
            status: l.status,
            request_id: l.request_id,
            attempts: l.attempts,
            next_attempt_at: l.next_attempt_at,
            last_error: l.last_error,
            sent_at: l.sent_at,
            upstream_status: l.upstream_status,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct LinkQuery {
    /// pending, sent or failed (all when left out).
    #[serde(default)]
    pub status: String,
}

/// The cases forwarded to upstream systems, newest first.
#[utoipa::path(get, path = "/api/v1/upstream/links", tag = "notifications",
    params(LinkQuery),
    responses((status = 200, description = "The links", body = [LinkView]), ReadProblems),
    security(("bearer" = [])))]
async fn links(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<LinkQuery>,
) -> ApiResult<Json<Vec<LinkView>>> {
    let links = app.upstream_links(caller.staff()?, &q.status).await?;
    Ok(Json(links.into_iter().map(LinkView::from).collect()))
}

/// Sends a failed case upstream again, now.
#[utoipa::path(post, path = "/api/v1/upstream/links/{case}/retry", tag = "notifications",
    params(("case" = String, Path, description = "The case's id")),
    responses((status = 204, description = "It goes again"), ChangeProblems),
    security(("bearer" = [])))]
async fn retry(
    State(app): State<App>,
    caller: Caller,
    Path(case): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let actor = caller.staff()?;
    let id = case
        .parse()
        .map_err(|_| AppError::NotFound(format!("case {case}")))?;
    app.retry_upstream_link(actor, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
