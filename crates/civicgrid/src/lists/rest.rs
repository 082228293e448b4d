//! Published lists over REST v1: the versions of the power and responsibility lists with
//! their differences (public), and publishing the next version (responsibility.manage).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use civicgrid_domain::lists::{ListKind, Power};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, ReadProblems};
use crate::http::{ApiError, ApiResult, Caller, body};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(in_force))
        .routes(routes!(versions, publish))
        .routes(routes!(version))
}

/// A power, as published.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct PowerBody {
    pub code: String,
    pub name: String,
    /// 行政许可, 行政处罚, 行政检查, 行政确认, 公共服务, 其他
    pub category: String,
    pub basis: String,
    /// The unit's code.
    pub unit: String,
    pub process: String,
    pub time_limit: String,
    pub supervision: String,
}

/// The next version: for the power list its powers; for the responsibility list the routing
/// list in force is published as it stands.
#[derive(Deserialize, ToSchema)]
pub struct PublishBody {
    /// The day it takes effect (YYYY-MM-DD).
    pub effective_from: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub powers: Vec<PowerBody>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    /// added, removed or changed
    pub change: String,
    pub key: String,
    /// For a change: [field, before, after].
    pub fields: Vec<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub key: String,
    #[schema(value_type = Object)]
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    /// power or responsibility
    pub kind: String,
    pub number: u32,
    pub effective_from: String,
    pub published_by: String,
    pub published_at: String,
    pub note: String,
    pub in_force: bool,
    pub entries: Vec<EntryView>,
    /// Against the previous version.
    pub changes: Vec<ChangeView>,
}

impl From<&super::Version> for VersionView {
    fn from(v: &super::Version) -> Self {
        use civicgrid_domain::lists::Change;
        VersionView {
            kind: v.kind.as_str().to_owned(),
            number: v.number,
            effective_from: v.effective_from.to_string(),
            published_by: v.published_by.clone(),
            published_at: v.published_at.to_string(),
            note: v.note.clone(),
            in_force: v.in_force,
            entries: v
                .entries
                .iter()
                .map(|(k, f)| EntryView {
                    key: k.clone(),
                    fields: f.clone(),
                })
                .collect(),
            changes: v
                .changes
                .iter()
                .map(|c| match c {
                    Change::Added { key } => ChangeView {
                        change: "added".into(),
                        key: key.clone(),
                        fields: vec![],
                    },
                    Change::Removed { key } => ChangeView {
                        change: "removed".into(),
                        key: key.clone(),
                        fields: vec![],
                    },
                    Change::Changed { key, fields } => ChangeView {
                        change: "changed".into(),
                        key: key.clone(),
                        fields: fields
                            .iter()
                            .map(|(f, a, b)| vec![f.clone(), a.clone(), b.clone()])
                            .collect(),
                    },
                })
                .collect(),
        }
    }
}

fn kind_of(kind: &str) -> ApiResult<ListKind> {
    kind.parse()
        .map_err(|e: String| AppError::NotFound(e).into())
}

/// The version in force today (404 before any took effect).
#[utoipa::path(get, path = "/api/v1/lists/{kind}", tag = "public",
    params(("kind" = String, Path, description = "power or responsibility")),
    responses((status = 200, description = "The version in force", body = VersionView), ReadProblems),
    security(()))]
async fn in_force(
    State(app): State<App>,
    Path(kind): Path<String>,
) -> ApiResult<Json<VersionView>> {
    let kind = kind_of(&kind)?;
    let v = app
        .list_in_force(kind)
        .await?
        .ok_or_else(|| ApiError::from(AppError::NotFound(format!("no {kind} list in force"))))?;
    Ok(Json(VersionView::from(&v)))
}

/// Every published version, oldest first, each with its changes.
#[utoipa::path(get, path = "/api/v1/lists/{kind}/versions", tag = "public",
    params(("kind" = String, Path, description = "power or responsibility")),
    responses((status = 200, description = "The versions", body = Vec<VersionView>), ReadProblems),
    security(()))]
async fn versions(
    State(app): State<App>,
    Path(kind): Path<String>,
) -> ApiResult<Json<Vec<VersionView>>> {
    let kind = kind_of(&kind)?;
    let all = app.list_history(kind).await?;
    Ok(Json(all.iter().map(VersionView::from).collect()))
}

/// One version with its changes against the one before.
#[utoipa::path(get, path = "/api/v1/lists/{kind}/versions/{number}", tag = "public",
    params(("kind" = String, Path, description = "power or responsibility"),
           ("number" = u32, Path, description = "The version's number")),
    responses((status = 200, description = "The version", body = VersionView), ReadProblems),
    security(()))]
async fn version(
    State(app): State<App>,
    Path((kind, number)): Path<(String, String)>,
) -> ApiResult<Json<VersionView>> {
    let kind = kind_of(&kind)?;
    let number: u32 = number
        .parse()
        .map_err(|_| ApiError::from(AppError::NotFound(format!("version {number}"))))?;
    Ok(Json(VersionView::from(
        &app.list_version(kind, number).await?,
    )))
}

/// Publishes the next version (responsibility.manage for the whole territory); a version
/// never changes once published.
#[utoipa::path(post, path = "/api/v1/lists/{kind}/versions", tag = "lists",
    params(("kind" = String, Path, description = "power or responsibility")),
    request_body(content = PublishBody, content_type = "application/json"),
    responses((status = 201, description = "Published", body = VersionView), ChangeProblems),
    security(("bearer" = [])))]
async fn publish(
    State(app): State<App>,
    caller: Caller,
    Path(kind): Path<String>,
    payload: Result<Json<PublishBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let kind = kind_of(&kind)?;
    let b = body(payload)?;
    let effective_from: jiff::civil::Date = b.effective_from.trim().parse().map_err(|_| {
        ApiError::from(AppError::Unprocessable(vec![(
            "effective_from".into(),
            "a day, YYYY-MM-DD".into(),
        )]))
    })?;
    let v = match kind {
        ListKind::Power => {
            let powers = b
                .powers
                .into_iter()
                .map(|p| Power {
                    code: p.code,
                    name: p.name,
                    category: p.category,
                    basis: p.basis,
                    unit: p.unit,
                    process: p.process,
                    time_limit: p.time_limit,
                    supervision: p.supervision,
                })
                .collect();
            app.publish_power_list(actor, "powers", effective_from, &b.note, powers)
                .await?
        }
        ListKind::Responsibility => {
            app.publish_responsibility_version(actor, effective_from, &b.note)
                .await?
        }
    };
    Ok((StatusCode::CREATED, Json(VersionView::from(&v))).into_response())
}
