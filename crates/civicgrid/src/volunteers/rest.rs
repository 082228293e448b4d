//! Volunteers over REST v1: `/api/v1/volunteers` (registration, the ledger, hours recorded and
//! approved in bulk, phones audited) and `/api/v1/activities` (activities and shifts, sign-up,
//! check-in by the QR code's token, attendance by hand).

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
use civicgrid_domain::volunteer::HoursStatus;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_volunteers, register))
        .routes(routes!(get_volunteer))
        .routes(routes!(volunteer_phone))
        .routes(routes!(ledger))
        .routes(routes!(list_hours, record_hours))
        .routes(routes!(decide_hours))
        .routes(routes!(list_activities, create_activity))
        .routes(routes!(get_activity))
        .routes(routes!(sign_up, cancel))
        .routes(routes!(check_in))
        .routes(routes!(attendance))
}

fn unprocessable(field: &str, message: String) -> ApiError {
    AppError::Unprocessable(vec![(field.into(), message)]).into()
}

fn id(what: &str, s: &str) -> ApiResult<Uuid> {
    s.parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("{what} {s}"))))
}

/// Volunteers registered in a region (whoever organises volunteers there).
#[utoipa::path(get, path = "/api/v1/volunteers", tag = "volunteers",
    params(views::WithinQuery),
    responses((status = 200, description = "Volunteers, by name", body = Vec<views::VolunteerView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_volunteers(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::VolunteerView>>> {
    let q = query(q)?;
    let actor = caller.staff()?;
    let list = app
        .volunteers_for(actor, &region("within", &q.within)?)
        .await?;
    Ok(Json(list.iter().map(views::VolunteerView::from).collect()))
}

/// Registers a volunteer: oneself (`username` = the caller's account), or another person by
/// whoever organises volunteers in the community. Consent is required.
#[utoipa::path(post, path = "/api/v1/volunteers", tag = "volunteers",
    request_body(content = views::NewVolunteerBody, content_type = "application/json"),
    responses((status = 201, description = "Registered", body = views::VolunteerView), ChangeProblems),
    security(("bearer" = [])))]
async fn register(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewVolunteerBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let v = app
        .register_volunteer(
            actor,
            super::NewVolunteer {
                name: b.name,
                phone: b.phone,
                community: region("community", &b.community)?,
                skills: b.skills,
                availability: b.availability,
                consent: b.consent,
                username: b.username,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::VolunteerView::from(&v))).into_response())
}

/// One volunteer (themself, or whoever organises volunteers where they registered).
#[utoipa::path(get, path = "/api/v1/volunteers/{id}", tag = "volunteers",
    params(("id" = String, Path, description = "The volunteer id")),
    responses((status = 200, description = "The volunteer", body = views::VolunteerView), ReadProblems),
    security(("bearer" = [])))]
async fn get_volunteer(
    State(app): State<App>,
    caller: Caller,
    Path(v): Path<String>,
) -> ApiResult<Json<views::VolunteerView>> {
    let actor = caller.staff()?;
    Ok(Json(views::VolunteerView::from(
        &app.volunteer_for(actor, &id("volunteer", &v)?).await?,
    )))
}

/// A volunteer's phone (people.read_contact in their community); every read is audited.
#[utoipa::path(get, path = "/api/v1/volunteers/{id}/phone", tag = "volunteers",
    params(("id" = String, Path, description = "The volunteer id")),
    responses((status = 200, description = "The phone, if one is kept", body = crate::party::views::PhoneView), ReadProblems),
    security(("bearer" = [])))]
async fn volunteer_phone(
    State(app): State<App>,
    caller: Caller,
    Path(v): Path<String>,
) -> ApiResult<Json<crate::party::views::PhoneView>> {
    let actor = caller.staff()?;
    let phone = app.volunteer_phone(actor, &id("volunteer", &v)?).await?;
    Ok(Json(crate::party::views::PhoneView { phone }))
}

/// A volunteer's hours ledger with its totals.
#[utoipa::path(get, path = "/api/v1/volunteers/{id}/hours", tag = "volunteers",
    params(("id" = String, Path, description = "The volunteer id")),
    responses((status = 200, description = "Every entry, by day", body = views::Ledger), ReadProblems),
    security(("bearer" = [])))]
async fn ledger(
    State(app): State<App>,
    caller: Caller,
    Path(v): Path<String>,
) -> ApiResult<Json<views::Ledger>> {
    let actor = caller.staff()?;
    let (v, entries) = app.ledger_of(actor, &id("volunteer", &v)?).await?;
    let minutes = |s: HoursStatus| {
        entries
            .iter()
            .filter(|e| e.status == s)
            .map(|e| u64::from(e.minutes))
            .sum()
    };
    Ok(Json(views::Ledger {
        volunteer: views::VolunteerView::from(&v),
        approved_minutes: minutes(HoursStatus::Approved),
        pending_minutes: minutes(HoursStatus::Pending),
        entries: entries.iter().map(views::HoursView::from).collect(),
    }))
}

/// Ledger entries served in a region (whoever organises volunteers there), newest first.
#[utoipa::path(get, path = "/api/v1/volunteers/hours", tag = "volunteers",
    params(views::HoursQuery),
    responses((status = 200, description = "Entries, at most 1000", body = Vec<views::HoursView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_hours(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::HoursQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::HoursView>>> {
    let q = query(q)?;
    let actor = caller.staff()?;
    let status = match q.status.as_deref() {
        Some(s) => Some(s.parse().map_err(|e| unprocessable("status", e))?),
        None => None,
    };
    let entries = app
        .hours_for(actor, &region("within", &q.within)?, status)
        .await?;
    Ok(Json(entries.iter().map(views::HoursView::from).collect()))
}

/// Records hours by hand, pending approval and flagged as manual.
#[utoipa::path(post, path = "/api/v1/volunteers/hours", tag = "volunteers",
    request_body(content = views::NewHoursBody, content_type = "application/json"),
    responses((status = 201, description = "Recorded, pending", body = views::HoursView), ChangeProblems),
    security(("bearer" = [])))]
async fn record_hours(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewHoursBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let day = b
        .day
        .parse()
        .map_err(|_| unprocessable("day", format!("`{}` is not a date (YYYY-MM-DD)", b.day)))?;
    let e = app
        .record_hours(
            actor,
            &b.volunteer,
            day,
            b.minutes,
            &b.note,
            b.activity,
            b.case,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::HoursView::from(&e))).into_response())
}

/// Approves or declines pending entries in bulk; entries already decided stay as they were.
#[utoipa::path(post, path = "/api/v1/volunteers/hours/decisions", tag = "volunteers",
    request_body(content = views::HoursDecision, content_type = "application/json"),
    responses((status = 200, description = "The entries decided now", body = views::Decided), ChangeProblems),
    security(("bearer" = [])))]
async fn decide_hours(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::HoursDecision>, JsonRejection>,
) -> ApiResult<Json<views::Decided>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let decided = app.decide_hours(actor, &b.entries, b.approve).await?;
    Ok(Json(views::Decided { decided }))
}

/// Activities in a region not over yet, soonest first (public).
#[utoipa::path(get, path = "/api/v1/activities", tag = "public",
    params(views::WithinQuery),
    responses((status = 200, description = "Activities with their shifts, at most 200", body = Vec<views::ActivityView>), ReadProblems),
    security(()))]
async fn list_activities(
    State(app): State<App>,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::ActivityView>>> {
    let q = query(q)?;
    let mut out = Vec::new();
    for a in app
        .upcoming_activities(&region("within", &q.within)?, 200)
        .await?
    {
        let (a, shifts) = app.activity_places(&a.id).await?;
        out.push(views::ActivityView::of(&a, &shifts));
    }
    Ok(Json(out))
}

/// Creates an activity with its shifts (whoever organises volunteers in the community).
#[utoipa::path(post, path = "/api/v1/activities", tag = "volunteers",
    request_body(content = views::NewActivityBody, content_type = "application/json"),
    responses((status = 201, description = "Created", body = views::ActivityView), ChangeProblems),
    security(("bearer" = [])))]
async fn create_activity(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewActivityBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let grid = match b.grid.filter(|g| !g.is_empty()) {
        Some(g) => Some(
            g.parse()
                .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                    unprocessable("grid", e.to_string())
                })?,
        ),
        None => None,
    };
    let (a, _) = app
        .create_activity(
            actor,
            super::NewActivity {
                title: b.title,
                description: b.description,
                community: region("community", &b.community)?,
                grid,
                place: b.place,
                required_skills: b.required_skills,
                shifts: b
                    .shifts
                    .into_iter()
                    .map(|s| super::NewShift {
                        starts_at: s.starts_at,
                        ends_at: s.ends_at,
                        capacity: s.capacity,
                    })
                    .collect(),
                case: b.case,
            },
        )
        .await?;
    let (a, shifts) = app.activity_places(&a.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::ActivityView::of(&a, &shifts)),
    )
        .into_response())
}

/// One activity with its shifts and how many have a place or wait on each (public).
#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "public",
    params(("id" = String, Path, description = "The activity id")),
    responses((status = 200, description = "The activity", body = views::ActivityView), ReadProblems),
    security(()))]
async fn get_activity(
    State(app): State<App>,
    Path(a): Path<String>,
) -> ApiResult<Json<views::ActivityView>> {
    let (a, shifts) = app.activity_places(&id("activity", &a)?).await?;
    Ok(Json(views::ActivityView::of(&a, &shifts)))
}

/// The signed-in volunteer signs up for a shift; a full shift puts them on its waiting list.
#[utoipa::path(post, path = "/api/v1/activities/shifts/{shift}/signup", tag = "volunteers",
    params(("shift" = String, Path, description = "The shift id")),
    responses((status = 201, description = "Signed up", body = views::PlacementView), ChangeProblems),
    security(("bearer" = [])))]
async fn sign_up(
    State(app): State<App>,
    caller: Caller,
    Path(shift): Path<String>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let p = app.sign_up(actor, &id("shift", &shift)?).await?;
    Ok((StatusCode::CREATED, Json(views::PlacementView::from(p))).into_response())
}

/// The signed-in volunteer cancels; the first on the waiting list moves up.
#[utoipa::path(delete, path = "/api/v1/activities/shifts/{shift}/signup", tag = "volunteers",
    params(("shift" = String, Path, description = "The shift id")),
    responses((status = 204, description = "Cancelled"), ChangeProblems),
    security(("bearer" = [])))]
async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Path(shift): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = caller.staff()?;
    app.cancel_signup(actor, &id("shift", &shift)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A scan of the activity's QR code by the signed-in volunteer: checks in on the shift
/// running now, or out if in (the served time goes into the ledger, pending approval).
#[utoipa::path(post, path = "/api/v1/activities/{id}/check-in", tag = "volunteers",
    params(("id" = String, Path, description = "The activity id")),
    request_body(content = views::CheckInBody, content_type = "application/json"),
    responses((status = 200, description = "Checked in or out", body = views::ScanView), ChangeProblems),
    security(("bearer" = [])))]
async fn check_in(
    State(app): State<App>,
    caller: Caller,
    Path(a): Path<String>,
    payload: Result<Json<views::CheckInBody>, JsonRejection>,
) -> ApiResult<Json<views::ScanView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(views::ScanView::from(
        app.scan_check_in(actor, &id("activity", &a)?, &b.token)
            .await?,
    )))
}

/// Checks a volunteer in (or out, if in) by hand: the organiser's manual entry, flagged.
#[utoipa::path(post, path = "/api/v1/activities/attendance", tag = "volunteers",
    request_body(content = views::AttendanceBody, content_type = "application/json"),
    responses((status = 200, description = "Checked in or out", body = views::ScanView), ChangeProblems),
    security(("bearer" = [])))]
async fn attendance(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::AttendanceBody>, JsonRejection>,
) -> ApiResult<Json<views::ScanView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(views::ScanView::from(
        app.attend_by_hand(actor, &b.shift, &b.volunteer, b.at)
            .await?,
    )))
}
