//! Party-building over REST v1: `/api/v1/organisations` (the tree, alliances, CSV import and
//! export) and `/api/v1/members` (membership, phones audited, 双报到).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
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
        .routes(routes!(list_organisations, save_organisation))
        .routes(routes!(import_organisations))
        .routes(routes!(list_alliances, save_alliance))
        .routes(routes!(import_alliances))
        .routes(routes!(list_members, add_member))
        .routes(routes!(get_member))
        .routes(routes!(member_phone))
        .routes(routes!(apply_home))
        .routes(routes!(decide_home))
}

fn csv(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
}

fn wants_csv(format: Option<&str>) -> ApiResult<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(AppError::Unprocessable(vec![(
            "format".into(),
            format!("`{other}` is not json or csv"),
        )])
        .into()),
    }
}

/// The tree of party organisations (党委, 党总支, 党支部, 网格党小组), as JSON or as CSV.
#[utoipa::path(get, path = "/api/v1/organisations", tag = "party",
    params(views::ListQuery),
    responses((status = 200, description = "Every organisation, by code", body = Vec<views::OrganisationBody>), ReadProblems),
    security(("bearer" = [])))]
async fn list_organisations(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let actor = caller.staff()?;
    let orgs = app.organisations_for(actor).await?;
    if wants_csv(q.format.as_deref())? {
        return Ok(csv(app.export_organisations().await?));
    }
    Ok(Json(
        orgs.iter()
            .map(views::OrganisationBody::from)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// Adds or changes one organisation (by code); party.manage in its region.
#[utoipa::path(post, path = "/api/v1/organisations", tag = "party",
    request_body(content = views::OrganisationBody, content_type = "application/json"),
    responses((status = 201, description = "Saved", body = views::OrganisationBody), ChangeProblems),
    security(("bearer" = [])))]
async fn save_organisation(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::OrganisationBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let org = body(payload)?.parse().map_err(AppError::Unprocessable)?;
    app.save_organisations(actor, std::slice::from_ref(&org))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::OrganisationBody::from(&org)),
    )
        .into_response())
}

/// Imports organisations from CSV (`code,name,kind,parent,region,grid`), all or nothing;
/// each problem names its line and field.
#[utoipa::path(post, path = "/api/v1/organisations/import", tag = "party",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Imported", body = views::Imported), ChangeProblems),
    security(("bearer" = [])))]
async fn import_organisations(
    State(app): State<App>,
    caller: Caller,
    text: String,
) -> ApiResult<Json<views::Imported>> {
    let actor = caller.staff()?;
    let imported = app
        .import_organisations(actor, "request body", &text)
        .await?;
    Ok(Json(views::Imported { imported }))
}

/// Regional alliances (区域化党建联盟) with their partners and commitments, as JSON or CSV.
#[utoipa::path(get, path = "/api/v1/organisations/alliances", tag = "party",
    params(views::ListQuery),
    responses((status = 200, description = "Every alliance, by code", body = Vec<views::AllianceBody>), ReadProblems),
    security(("bearer" = [])))]
async fn list_alliances(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let actor = caller.staff()?;
    app.organisations_for(actor).await?;
    if wants_csv(q.format.as_deref())? {
        return Ok(csv(app.export_alliances().await?));
    }
    let all = app.alliances().await?;
    Ok(Json(
        all.iter()
            .map(views::AllianceBody::from)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// Adds or replaces one alliance (by code) with its partner list; party.manage in its region.
#[utoipa::path(post, path = "/api/v1/organisations/alliances", tag = "party",
    request_body(content = views::AllianceBody, content_type = "application/json"),
    responses((status = 201, description = "Saved", body = views::AllianceBody), ChangeProblems),
    security(("bearer" = [])))]
async fn save_alliance(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::AllianceBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let alliance = body(payload)?.parse().map_err(AppError::Unprocessable)?;
    app.save_alliances(actor, std::slice::from_ref(&alliance))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::AllianceBody::from(&alliance)),
    )
        .into_response())
}

/// Imports alliances from CSV, one row per partner
/// (`alliance,name,region,partner_kind,partner,commitment`), all or nothing.
#[utoipa::path(post, path = "/api/v1/organisations/alliances/import", tag = "party",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Imported", body = views::Imported), ChangeProblems),
    security(("bearer" = [])))]
async fn import_alliances(
    State(app): State<App>,
    caller: Caller,
    text: String,
) -> ApiResult<Json<views::Imported>> {
    let actor = caller.staff()?;
    let imported = app.import_alliances(actor, "request body", &text).await?;
    Ok(Json(views::Imported { imported }))
}

/// Members of the organisations in a region (party.read there), or the home-community
/// registrations waiting there (party.manage).
#[utoipa::path(get, path = "/api/v1/members", tag = "party",
    params(views::MemberQuery),
    responses((status = 200, description = "Members, by name", body = Vec<views::MemberView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_members(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::MemberQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::MemberView>>> {
    let q = query(q)?;
    let actor = caller.staff()?;
    let within = region("within", &q.within)?;
    let members = if q.waiting {
        app.home_applications_for(actor, &within).await?
    } else {
        app.members_for(actor, &within).await?
    };
    Ok(Json(members.iter().map(views::MemberView::from).collect()))
}

/// Adds a member to an organisation (party.manage in its region).
#[utoipa::path(post, path = "/api/v1/members", tag = "party",
    request_body(content = views::NewMemberBody, content_type = "application/json"),
    responses((status = 201, description = "Added", body = views::MemberView), ChangeProblems),
    security(("bearer" = [])))]
async fn add_member(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewMemberBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let record = app
        .add_member(
            actor,
            super::NewMember {
                name: b.name,
                organisation: b.organisation,
                duty: b.duty,
                phone: b.phone,
                in_service: b.in_service,
                employer_unit: b.employer_unit,
                username: b.username,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::MemberView::from(&record))).into_response())
}

fn member_id(id: &str) -> ApiResult<Uuid> {
    id.parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("member {id}"))))
}

/// One member (party.read in their organisation's region, or the member themself).
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "party",
    params(("id" = String, Path, description = "The member id")),
    responses((status = 200, description = "The member", body = views::MemberView), ReadProblems),
    security(("bearer" = [])))]
async fn get_member(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<views::MemberView>> {
    let actor = caller.staff()?;
    let record = app.member_for(actor, &member_id(&id)?).await?;
    Ok(Json(views::MemberView::from(&record)))
}

/// A member's phone number (people.read_contact in their region); every read is audited.
#[utoipa::path(get, path = "/api/v1/members/{id}/phone", tag = "party",
    params(("id" = String, Path, description = "The member id")),
    responses((status = 200, description = "The phone, if one is kept", body = views::PhoneView), ReadProblems),
    security(("bearer" = [])))]
async fn member_phone(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<views::PhoneView>> {
    let actor = caller.staff()?;
    let phone = app.member_phone(actor, &member_id(&id)?).await?;
    Ok(Json(views::PhoneView { phone }))
}

/// 双报到: the signed-in in-service member applies to the community where they live.
#[utoipa::path(post, path = "/api/v1/members/home-registration", tag = "party",
    request_body(content = views::HomeApplication, content_type = "application/json"),
    responses((status = 200, description = "Applied; the community decides", body = views::MemberView), ChangeProblems),
    security(("bearer" = [])))]
async fn apply_home(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::HomeApplication>, JsonRejection>,
) -> ApiResult<Json<views::MemberView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let community = region("community", &b.community)?;
    let record = app.apply_home(actor, community).await?;
    Ok(Json(views::MemberView::from(&record)))
}

/// The community's decision on a member's home-community registration (party.manage there).
#[utoipa::path(post, path = "/api/v1/members/{id}/home-registration/decision", tag = "party",
    params(("id" = String, Path, description = "The member id")),
    request_body(content = views::Decision, content_type = "application/json"),
    responses((status = 200, description = "Decided", body = views::MemberView), ChangeProblems),
    security(("bearer" = [])))]
async fn decide_home(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<views::Decision>, JsonRejection>,
) -> ApiResult<Json<views::MemberView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let record = app.decide_home(actor, &member_id(&id)?, b.approve).await?;
    Ok(Json(views::MemberView::from(&record)))
}
