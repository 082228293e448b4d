//! Household contacts over REST v1: `/api/v1/households` (the register, contacts audited,
//! assignments, visit plans, CSV import) and `/api/v1/visits` (the log, a case from a visit).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views;
use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, ReadProblems};
use crate::http::{ApiError, ApiResult, Caller, body, query, region_param as region};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_households, add_household))
        .routes(routes!(import_households))
        .routes(routes!(get_household))
        .routes(routes!(household_contact))
        .routes(routes!(assign))
        .routes(routes!(list_plans, set_plan))
        .routes(routes!(list_visits, log_visit))
        .routes(routes!(case_from_visit))
}

fn household_id(id: &str) -> ApiResult<Uuid> {
    id.parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("household {id}"))))
}

/// Households: every one in a region (household.manage there), or the caller's own.
#[utoipa::path(get, path = "/api/v1/households", tag = "households",
    params(views::HouseholdQuery),
    responses((status = 200, description = "Households, by address", body = Vec<views::HouseholdView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_households(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::HouseholdQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::HouseholdView>>> {
    let q = query(q)?;
    let actor = caller.staff()?;
    let list = match q.within.as_deref() {
        Some(w) => {
            app.households_for(actor, Some(&region("within", w)?))
                .await?
        }
        None => app.my_households(actor).await?,
    };
    Ok(Json(list.iter().map(views::HouseholdView::from).collect()))
}

/// Registers a household (household.manage in its community).
#[utoipa::path(post, path = "/api/v1/households", tag = "households",
    request_body(content = views::NewHouseholdBody, content_type = "application/json"),
    responses((status = 201, description = "Registered", body = views::HouseholdView), ChangeProblems),
    security(("bearer" = [])))]
async fn add_household(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewHouseholdBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let grid = b
        .grid
        .parse()
        .map_err(|e: civicgrid_domain::territory::TerritoryError| {
            AppError::Unprocessable(vec![("grid".into(), e.to_string())])
        })?;
    let contact = crate::contacts::Contact {
        name: b.contact_name,
        phone: b.contact_phone,
        email: None,
        ..Default::default()
    };
    let records = app
        .add_households(
            actor,
            vec![super::NewHousehold {
                grid,
                building: b.building,
                unit: b.unit,
                room: b.room,
                consent: b.consent,
                contact: (!contact.is_empty()).then_some(contact),
            }],
        )
        .await?;
    let id = records
        .first()
        .map(|r| r.id)
        .ok_or_else(|| AppError::Invalid("nothing registered".into()))?;
    let (status, _) = app.household_for(actor, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::HouseholdView::from(&status)),
    )
        .into_response())
}

/// Registers households from CSV (`grid,building,unit,room,consent,contact_name,
/// contact_phone`), all or nothing; each problem names its line and field.
#[utoipa::path(post, path = "/api/v1/households/import", tag = "households",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Imported", body = crate::party::views::Imported), ChangeProblems),
    security(("bearer" = [])))]
async fn import_households(
    State(app): State<App>,
    caller: Caller,
    text: String,
) -> ApiResult<Json<crate::party::views::Imported>> {
    let actor = caller.staff()?;
    let imported = app.import_households(actor, "request body", &text).await?;
    Ok(Json(crate::party::views::Imported { imported }))
}

/// One household with its visits (its contact, or household.manage in its community).
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "households",
    params(("id" = String, Path, description = "The household id")),
    responses((status = 200, description = "The household and its visits, newest first", body = views::HouseholdDetail), ReadProblems),
    security(("bearer" = [])))]
async fn get_household(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<views::HouseholdDetail>> {
    let actor = caller.staff()?;
    let (status, visits) = app.household_for(actor, &household_id(&id)?).await?;
    Ok(Json(views::HouseholdDetail {
        household: views::HouseholdView::from(&status),
        visits: visits.iter().map(views::VisitView::from).collect(),
    }))
}

/// A household's contact (people.read_contact in its community); every read is audited.
#[utoipa::path(get, path = "/api/v1/households/{id}/contact", tag = "households",
    params(("id" = String, Path, description = "The household id")),
    responses((status = 200, description = "The contact, if one is kept", body = views::ContactView), ReadProblems),
    security(("bearer" = [])))]
async fn household_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<views::ContactView>> {
    let actor = caller.staff()?;
    let c = app.household_contact(actor, &household_id(&id)?).await?;
    Ok(Json(views::ContactView {
        name: c.as_ref().and_then(|c| c.name.clone()),
        phone: c.and_then(|c| c.phone),
    }))
}

/// Gives households to a member or grid worker from today (包片联户), or takes them back.
#[utoipa::path(post, path = "/api/v1/households/assignments", tag = "households",
    request_body(content = views::Assignment, content_type = "application/json"),
    responses((status = 200, description = "How many households changed", body = views::Changed), ChangeProblems),
    security(("bearer" = [])))]
async fn assign(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::Assignment>, JsonRejection>,
) -> ApiResult<Json<views::Changed>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let changed = app
        .assign_households(actor, &b.households, b.assignee.as_deref())
        .await?;
    Ok(Json(views::Changed { changed }))
}

/// Visit plans: how often households must be contacted, per grid or beat.
#[utoipa::path(get, path = "/api/v1/households/plans", tag = "households",
    responses((status = 200, description = "Every plan", body = Vec<views::VisitPlanView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_plans(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<Vec<views::VisitPlanView>>> {
    caller.staff()?;
    let plans = app.repo.visit_plans().await.map_err(AppError::from)?;
    Ok(Json(
        plans
            .into_iter()
            .map(|(scope, interval_days)| views::VisitPlanView {
                scope,
                interval_days,
            })
            .collect(),
    ))
}

/// Sets or removes the plan of a grid or beat (household.manage in its community).
#[utoipa::path(put, path = "/api/v1/households/plans", tag = "households",
    request_body(content = views::VisitPlanBody, content_type = "application/json"),
    responses((status = 204, description = "Set"), ChangeProblems),
    security(("bearer" = [])))]
async fn set_plan(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::VisitPlanBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    app.set_visit_plan(actor, &b.scope, b.interval_days).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Visits in a region over days (household.manage there), newest first.
#[utoipa::path(get, path = "/api/v1/visits", tag = "households",
    params(views::VisitQuery),
    responses((status = 200, description = "Visits, at most 1000", body = Vec<views::VisitView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_visits(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::VisitQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::VisitView>>> {
    let q = query(q)?;
    let actor = caller.staff()?;
    let day = |field: &str, s: &str| -> ApiResult<jiff::civil::Date> {
        s.parse().map_err(|_| {
            AppError::Unprocessable(vec![(
                field.into(),
                format!("`{s}` is not a date (YYYY-MM-DD)"),
            )])
            .into()
        })
    };
    let visits = app
        .visits_for(
            actor,
            &region("within", &q.within)?,
            day("from", &q.from)?,
            day("to", &q.to)?,
        )
        .await?;
    Ok(Json(visits.iter().map(views::VisitView::from).collect()))
}

/// Logs a contact with a household (its contact, or whoever keeps the register there).
#[utoipa::path(post, path = "/api/v1/visits", tag = "households",
    request_body(content = views::NewVisitBody, content_type = "application/json"),
    responses((status = 201, description = "Logged", body = views::VisitView), ChangeProblems),
    security(("bearer" = [])))]
async fn log_visit(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewVisitBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let channel = b
        .channel
        .parse()
        .map_err(|e| AppError::Unprocessable(vec![("channel".into(), e)]))?;
    let visit = app
        .log_visit(
            actor,
            super::NewVisit {
                household: b.household,
                channel,
                topics: b.topics,
                notes: b.notes,
                at: b.at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::VisitView::from(&visit))).into_response())
}

/// Reports what a visit found as a case, linked to the visit (by whoever made the visit).
#[utoipa::path(post, path = "/api/v1/visits/{id}/case", tag = "households",
    params(("id" = String, Path, description = "The visit id")),
    request_body(content = views::VisitCaseBody, content_type = "application/json"),
    responses((status = 201, description = "Reported", body = views::VisitCaseView), ChangeProblems),
    security(("bearer" = [])))]
async fn case_from_visit(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<views::VisitCaseBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let visit: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("visit {id}"))))?;
    let category = match b.category.as_deref() {
        Some(c) => Some(c.parse().map_err(|_| {
            AppError::Unprocessable(vec![(
                "category".into(),
                format!("`{c}` is not a category code"),
            )])
        })?),
        None => None,
    };
    let location = match (b.lon, b.lat) {
        (Some(lon), Some(lat)) => Some((lon, lat)),
        (None, None) => None,
        _ => {
            return Err(AppError::Unprocessable(vec![(
                "lon".into(),
                "give both lon and lat, or neither".into(),
            )])
            .into());
        }
    };
    let case = app
        .report_from_visit(actor, &visit, b.description, category, location)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::VisitCaseView {
            case: case.id,
            public_id: case.public_id.clone(),
            receipt_code: case.receipt_code.clone(),
        }),
    )
        .into_response())
}
