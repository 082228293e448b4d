//! `GET /api/v1/hotspots`: a region's hotspots over a period, for those who read its
//! assessment figures and dashboards.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::hotspots::HotspotView;
use crate::App;
use crate::error::AppError;
use crate::http::views::ReadProblems;
use crate::http::{ApiError, ApiResult, Caller};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(hotspots))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HotspotQuery {
    /// A region code: district (6 digits), street (9) or community (12).
    pub scope: String,
    /// 2026-10-05, 2026-W41, 2026-10, 2026-Q4, 2026 or 2026-10-01..2026-10-31.
    pub period: String,
}

/// Clusters of cases about one matter in one place (by text, place and time), largest first,
/// each with its label, grids, trend and why its cases belong together.
#[utoipa::path(get, path = "/api/v1/hotspots", tag = "staff",
    params(HotspotQuery),
    responses((status = 200, description = "Largest first", body = [HotspotView]), ReadProblems),
    security(("bearer" = [])))]
async fn hotspots(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<HotspotQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<HotspotView>>> {
    let actor = caller.staff()?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let scope: civicgrid_domain::territory::RegionCode = q
        .scope
        .parse()
        .map_err(|e| AppError::Unprocessable(vec![("scope".to_owned(), format!("{e}"))]))?;
    app.reference()
        .await?
        .policy()
        .may_read_kpi(actor, &scope)
        .map_err(AppError::Forbidden)?;
    Ok(Json(app.hotspots(&scope, &q.period, Some(actor)).await?))
}
