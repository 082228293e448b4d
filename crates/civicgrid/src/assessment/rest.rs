//! Assessment over REST v1: the KPI table of a scope and period, appeals, surveys.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views;
use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems};
use crate::http::{ApiError, ApiResult, Caller, body};

/// Assessment over REST: KPI tables, appeals, surveys.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(kpi))
        .routes(routes!(submit_appeal, list_appeals))
        .routes(routes!(review_appeal))
        .routes(routes!(decide_appeal))
        .routes(routes!(create_survey))
        .routes(routes!(get_survey))
        .routes(routes!(answer_survey))
}

/// The assessment table (考核) of a region for a period, recounted from the case events: every
/// unit, grid, community and staff member with its indicators, score and grade, the red and
/// black lists, and the scores of the period before and a year before.
#[utoipa::path(get, path = "/api/v1/kpi", tag = "staff",
    params(views::KpiQuery),
    responses((status = 200, description = "The table (see docs/KPIS.md for every indicator)", body = Object), ReadProblems),
    security(("bearer" = [])))]
async fn kpi(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<views::KpiQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let actor = caller.staff()?;
    // A beat (责任网格) is read with the permission on its community.
    let beat = match q.scope.strip_prefix("beat:") {
        Some(code) => Some(
            app.repo
                .beats()
                .await
                .map_err(AppError::from)?
                .into_iter()
                .find(|b| b.code == code)
                .ok_or_else(|| AppError::NotFound(format!("beat {code}")))?,
        ),
        None => None,
    };
    let scope: civicgrid_domain::territory::RegionCode = match &beat {
        Some(b) => b.region.clone(),
        None => q
            .scope
            .parse()
            .map_err(|e| AppError::Unprocessable(vec![("scope".to_owned(), format!("{e}"))]))?,
    };
    app.reference()
        .await?
        .policy()
        .may_read_kpi(actor, &scope)
        .map_err(AppError::Forbidden)?;
    let table = match &beat {
        Some(b) => app.kpi_beat_table(&b.code, &q.period).await?,
        None => app.kpi_table(&scope, &q.period, q.kind.as_deref()).await?,
    };
    Ok(Json(table).into_response())
}

/// Files an appeal against an assessment deduction (by the assessed unit, place or person).
#[utoipa::path(post, path = "/api/v1/kpi/appeals", tag = "staff",
    request_body(content = views::NewAppeal, content_type = "application/json"),
    responses((status = 201, description = "Filed", body = views::AppealView), ChangeProblems),
    security(("bearer" = [])))]
async fn submit_appeal(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewAppeal>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?.clone();
    let n = body(payload)?;
    let subject = civicgrid_domain::kpi::Subject::from_kind(&n.subject_kind, n.subject_code)
        .ok_or_else(|| {
            AppError::Unprocessable(vec![(
                "subject_kind".to_owned(),
                format!("`{}` is not unit, grid, region or staff", n.subject_kind),
            )])
        })?;
    let appeal = app
        .submit_appeal(&actor, subject, &n.period, n.points, &n.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(views::AppealView::from(&appeal))).into_response())
}

/// Appeals, newest first.
#[utoipa::path(get, path = "/api/v1/kpi/appeals", tag = "staff",
    params(views::AppealQuery),
    responses((status = 200, description = "Appeals", body = Vec<views::AppealView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_appeals(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<views::AppealQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<views::AppealView>>> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let actor = caller.staff()?;
    app.reference()
        .await?
        .policy()
        .may_list_appeals(actor)
        .map_err(AppError::Forbidden)?;
    let period = match q.period.as_deref() {
        None => None,
        Some(p) => Some(crate::assessment::period_key(
            &civicgrid_domain::kpi::Period::parse(p)
                .map_err(|e| AppError::Unprocessable(vec![("period".to_owned(), e)]))?,
        )),
    };
    let appeals = app
        .repo
        .appeals(period.as_deref())
        .await
        .map_err(AppError::from)?;
    Ok(Json(appeals.iter().map(views::AppealView::from).collect()))
}

fn appeal_id(id: &str) -> ApiResult<Uuid> {
    id.parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("appeal {id}"))))
}

/// The department's review of an appeal (kpi.read in the subject's region).
#[utoipa::path(post, path = "/api/v1/kpi/appeals/{id}/review", tag = "staff",
    params(("id" = String, Path, description = "The appeal id")),
    request_body(content = views::AppealStepBody, content_type = "application/json"),
    responses((status = 200, description = "Reviewed", body = views::AppealView), ChangeProblems),
    security(("bearer" = [])))]
async fn review_appeal(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<views::AppealStepBody>, JsonRejection>,
) -> ApiResult<Json<views::AppealView>> {
    let actor = caller.staff()?.clone();
    let b = body(payload)?;
    let id = appeal_id(&id)?;
    let a = app
        .advance_appeal(
            &actor,
            &id,
            civicgrid_domain::kpi::AppealStep::Review { supports: b.yes },
            &b.note,
        )
        .await?;
    Ok(Json(views::AppealView::from(&a)))
}

/// A leader's decision on a reviewed appeal (kpi.manage); upheld, it gives the points back.
#[utoipa::path(post, path = "/api/v1/kpi/appeals/{id}/decide", tag = "staff",
    params(("id" = String, Path, description = "The appeal id")),
    request_body(content = views::AppealStepBody, content_type = "application/json"),
    responses((status = 200, description = "Decided", body = views::AppealView), ChangeProblems),
    security(("bearer" = [])))]
async fn decide_appeal(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<views::AppealStepBody>, JsonRejection>,
) -> ApiResult<Json<views::AppealView>> {
    let actor = caller.staff()?.clone();
    let b = body(payload)?;
    let id = appeal_id(&id)?;
    let a = app
        .advance_appeal(
            &actor,
            &id,
            civicgrid_domain::kpi::AppealStep::Decide { uphold: b.yes },
            &b.note,
        )
        .await?;
    Ok(Json(views::AppealView::from(&a)))
}

async fn survey_view(app: &App, s: &civicgrid_store::Survey) -> ApiResult<views::SurveyView> {
    let reference = app.reference().await?;
    Ok(views::SurveyView {
        id: s.id,
        title: s.title.clone(),
        period: s.period.clone(),
        units: s
            .units
            .iter()
            .map(|u| views::SurveyUnit {
                code: u.clone(),
                name: reference
                    .units
                    .iter()
                    .find(|x| &x.code == u)
                    .map_or_else(|| u.clone(), |x| x.name.clone()),
            })
            .collect(),
        closes_at: s.closes_at,
    })
}

/// Opens a public evaluation survey (群众评议) of units for a period (kpi.manage).
#[utoipa::path(post, path = "/api/v1/surveys", tag = "staff",
    request_body(content = views::NewSurvey, content_type = "application/json"),
    responses((status = 201, description = "Opened", body = views::SurveyView), IntakeProblems,
        (status = 403, description = "Needs kpi.manage", body = crate::http::views::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_survey(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewSurvey>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?.clone();
    let n = body(payload)?;
    let s = app
        .create_survey(&actor, &n.title, &n.period, &n.units, n.closes_at)
        .await?;
    Ok((StatusCode::CREATED, Json(survey_view(&app, &s).await?)).into_response())
}

/// A survey, for residents to answer.
#[utoipa::path(get, path = "/api/v1/surveys/{id}", tag = "public",
    params(("id" = String, Path, description = "The survey id")),
    responses((status = 200, description = "The survey", body = views::SurveyView), ReadProblems),
    security(()))]
async fn get_survey(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<views::SurveyView>> {
    let not_found = || ApiError::App(AppError::NotFound(format!("survey {id}")));
    let uuid: Uuid = id.parse().map_err(|_| not_found())?;
    let s = app
        .repo
        .survey(&uuid)
        .await
        .map_err(AppError::from)?
        .ok_or_else(not_found)?;
    Ok(Json(survey_view(&app, &s).await?))
}

/// A resident's answer: one per phone number per survey.
#[utoipa::path(post, path = "/api/v1/surveys/{id}/responses", tag = "public",
    params(("id" = String, Path, description = "The survey id")),
    request_body(content = views::SurveyAnswer, content_type = "application/json"),
    responses((status = 204, description = "Counted"), ReadProblems,
        (status = 409, description = "This phone number has answered already", body = crate::http::views::Problem, content_type = "application/problem+json")),
    security(()))]
async fn answer_survey(
    State(app): State<App>,
    Path(id): Path<String>,
    payload: Result<Json<views::SurveyAnswer>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let a = body(payload)?;
    let uuid: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("survey {id}"))))?;
    app.answer_survey(&uuid, &a.phone, &a.ratings).await?;
    Ok(StatusCode::NO_CONTENT)
}
