//! Disputes over REST v1 (`/api/v1/disputes`): raising, lists, the whole record (a recorded
//! read), sessions, agreement versions and signatures, follow-up visits, the other actions,
//! kinds and mediators.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DisputeStep, NewDispute, Party, views};
use crate::App;
use crate::consultation::unprocessable;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems};
use crate::http::{ApiError, ApiResult, Caller, body};
use civicgrid_domain::dispute::{Referral, Risk, Term, Tier};
use civicgrid_domain::territory::RegionCode;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_disputes, raise_dispute))
        .routes(routes!(dispute_kinds))
        .routes(routes!(put_kind))
        .routes(routes!(list_mediators, add_mediator))
        .routes(routes!(remove_mediator))
        .routes(routes!(get_dispute))
        .routes(routes!(record_session))
        .routes(routes!(draft_agreement))
        .routes(routes!(get_agreement))
        .routes(routes!(sign_agreement))
        .routes(routes!(follow_up))
        .routes(routes!(dispute_action))
}

fn region(field: &str, text: &str) -> Result<RegionCode, ApiError> {
    text.parse()
        .map_err(|e: civicgrid_domain::territory::TerritoryError| {
            unprocessable(field, e.to_string()).into()
        })
}

/// An agreement version from the path: anything but a number names no version.
fn version_number(text: &str) -> Result<u32, ApiError> {
    text.parse()
        .map_err(|_| AppError::NotFound(format!("agreement version {text}")).into())
}

fn tier(text: &str) -> Result<Tier, ApiError> {
    Tier::parse(text)
        .ok_or_else(|| unprocessable("tier", "grid, community, street or district").into())
}

/// Raises a dispute at its lowest competent tier (mediators of the community).
#[utoipa::path(post, path = "/api/v1/disputes", tag = "disputes",
    request_body(content = views::NewDisputeBody, content_type = "application/json"),
    responses((status = 201, description = "Raised", body = views::DisputeView), IntakeProblems),
    security(("bearer" = [])))]
async fn raise_dispute(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewDisputeBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let community = match b.community.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(region("community", c)?),
        None => None,
    };
    let grid = match b.grid.filter(|g| !g.is_empty()) {
        Some(g) => Some(g.parse().map_err(
            |e: civicgrid_domain::territory::TerritoryError| -> ApiError {
                unprocessable("grid", e.to_string()).into()
            },
        )?),
        None => None,
    };
    let case = match b.case.filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<uuid::Uuid>()
                .map_err(|_| -> ApiError { unprocessable("case", "a case id").into() })?,
        ),
        None => None,
    };
    let risk = Risk::parse(&b.risk)
        .ok_or_else(|| -> ApiError { unprocessable("risk", "low, medium or high").into() })?;
    let d = app
        .raise_dispute(
            actor,
            NewDispute {
                community,
                grid,
                kind: b.kind,
                risk,
                summary: b.summary,
                parties: b
                    .parties
                    .into_iter()
                    .map(|p| Party {
                        side: p.side,
                        name: p.name,
                        phone: p.phone,
                    })
                    .collect(),
                case,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::DisputeView::from(&d))).into_response())
}

/// Disputes of a region, newest first (those who read disputes there).
#[utoipa::path(get, path = "/api/v1/disputes", tag = "disputes",
    params(views::DisputeQuery),
    responses((status = 200, description = "Disputes, at most 500", body = Vec<views::DisputeView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_disputes(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::DisputeQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::DisputeView>>> {
    let actor = caller.staff()?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let within = region("within", &q.within)?;
    let list = app
        .disputes(actor, &within, q.open.unwrap_or(false))
        .await?;
    Ok(Json(list.iter().map(views::DisputeView::from).collect()))
}

/// The kinds of dispute and the lowest tier each starts at.
#[utoipa::path(get, path = "/api/v1/disputes/kinds", tag = "public",
    responses((status = 200, description = "Kinds", body = Vec<views::DisputeKindView>), ReadProblems),
    security(()))]
async fn dispute_kinds(State(app): State<App>) -> ApiResult<Json<Vec<views::DisputeKindView>>> {
    let kinds = app.dispute_kinds().await?;
    Ok(Json(
        kinds.iter().map(views::DisputeKindView::from).collect(),
    ))
}

/// Adds or changes a kind of dispute (catalogue.manage).
#[utoipa::path(put, path = "/api/v1/disputes/kinds/{code}", tag = "disputes",
    params(("code" = String, Path, description = "The kind's code")),
    request_body(content = views::DisputeKindBody, content_type = "application/json"),
    responses((status = 200, description = "Saved", body = views::DisputeKindView), ChangeProblems),
    security(("bearer" = [])))]
async fn put_kind(
    State(app): State<App>,
    caller: Caller,
    Path(code): Path<String>,
    payload: Result<Json<views::DisputeKindBody>, JsonRejection>,
) -> ApiResult<Json<views::DisputeKindView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let kind = civicgrid_store::DisputeKind {
        code,
        name_zh: b.name_zh,
        name_en: b.name_en,
        lowest_tier: tier(&b.lowest_tier)?,
        position: b.position,
    };
    app.put_dispute_kind(actor, kind.clone()).await?;
    Ok(Json(views::DisputeKindView::from(&kind)))
}

/// Mediators registered in a region and below.
#[utoipa::path(get, path = "/api/v1/disputes/mediators", tag = "disputes",
    params(views::WithinQuery),
    responses((status = 200, description = "Mediators", body = Vec<views::MediatorView>), ReadProblems),
    security(("bearer" = [])))]
async fn list_mediators(
    State(app): State<App>,
    caller: Caller,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::MediatorView>>> {
    let actor = caller.staff()?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let within = region("within", &q.within)?;
    let list = app.mediators(actor, &within).await?;
    Ok(Json(list.iter().map(views::MediatorView::from).collect()))
}

/// Registers a mediator at a tier (dispute.approve in the region).
#[utoipa::path(post, path = "/api/v1/disputes/mediators", tag = "disputes",
    request_body(content = views::MediatorBody, content_type = "application/json"),
    responses((status = 201, description = "Registered", body = views::MediatorView), ChangeProblems),
    security(("bearer" = [])))]
async fn add_mediator(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::MediatorBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let m = app
        .add_mediator(
            actor,
            tier(&b.tier)?,
            region("region", &b.region)?,
            &b.kind,
            &b.reference,
            &b.name,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::MediatorView::from(&m))).into_response())
}

/// Retires a mediator (their sessions keep their name).
#[utoipa::path(delete, path = "/api/v1/disputes/mediators/{id}", tag = "disputes",
    params(("id" = String, Path, description = "The mediator's id")),
    responses((status = 204, description = "Removed"), ChangeProblems),
    security(("bearer" = [])))]
async fn remove_mediator(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = caller.staff()?;
    let id = id
        .parse::<uuid::Uuid>()
        .map_err(|_| ApiError::from(AppError::NotFound(format!("mediator {id}"))))?;
    app.remove_mediator(actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything about a dispute, parties and records opened (the read is recorded).
#[utoipa::path(get, path = "/api/v1/disputes/{number}", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number")),
    responses((status = 200, description = "The dispute", body = views::DisputeDetailView), ReadProblems),
    security(("bearer" = [])))]
async fn get_dispute(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::DisputeDetailView>> {
    let actor = caller.staff()?;
    let d = app.dispute_detail(actor, &number).await?;
    Ok(Json(detail_view(&d)))
}

pub(crate) fn detail_view(d: &super::DisputeDetail) -> views::DisputeDetailView {
    views::DisputeDetailView {
        dispute: views::DisputeView::from(&d.dispute),
        parties: d
            .parties
            .iter()
            .map(|p| views::PartyBody {
                side: p.side.clone(),
                name: p.name.clone(),
                phone: p.phone.clone(),
            })
            .collect(),
        sessions: d
            .dispute
            .sessions
            .iter()
            .zip(&d.records)
            .map(|(s, (record, attended))| views::SessionView {
                seq: s.seq,
                held_at: s.held_at,
                place: s.place.clone(),
                mediators: s.mediators.clone(),
                attended: attended.clone(),
                record: record.clone(),
                outcome: s.outcome.clone(),
            })
            .collect(),
        agreements: d
            .agreements
            .iter()
            .map(views::AgreementDocView::from)
            .collect(),
        oral_terms: d.oral_terms.clone(),
        referral_note: d.dispute.referral_note.clone(),
        events: d
            .events
            .iter()
            .map(|e| views::DisputeEventView {
                at: e.at,
                actor: e.actor.clone(),
                action: e.action.clone(),
                note: if e.action.contains("record_oral_agreement") {
                    String::new()
                } else {
                    e.note.clone()
                },
            })
            .collect(),
    }
}

async fn step(
    app: &App,
    caller: &Caller,
    number: &str,
    version: u64,
    step: DisputeStep,
) -> ApiResult<Json<views::DisputeView>> {
    let actor = caller.staff()?;
    let d = app.dispute_step(actor, number, version, step).await?;
    Ok(Json(views::DisputeView::from(&d)))
}

/// Records a mediation session and its record (调解笔录).
#[utoipa::path(post, path = "/api/v1/disputes/{number}/sessions", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number")),
    request_body(content = views::SessionBody, content_type = "application/json"),
    responses((status = 200, description = "Recorded", body = views::DisputeView), ChangeProblems),
    security(("bearer" = [])))]
async fn record_session(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::SessionBody>, JsonRejection>,
) -> ApiResult<Json<views::DisputeView>> {
    caller.staff()?;
    let b = body(payload)?;
    step(
        &app,
        &caller,
        &number,
        b.version,
        DisputeStep::Session {
            held_at: b.held_at,
            place: b.place,
            mediators: b.mediators,
            attended: b.attended,
            record: b.record,
            outcome: b.outcome,
        },
    )
    .await
}

/// Writes the agreement (调解协议书) from the template: the first version, or a new one.
#[utoipa::path(post, path = "/api/v1/disputes/{number}/agreements", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number")),
    request_body(content = views::DraftBody, content_type = "application/json"),
    responses((status = 200, description = "Drafted", body = views::DisputeView), ChangeProblems),
    security(("bearer" = [])))]
async fn draft_agreement(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::DraftBody>, JsonRejection>,
) -> ApiResult<Json<views::DisputeView>> {
    caller.staff()?;
    let b = body(payload)?;
    step(
        &app,
        &caller,
        &number,
        b.version,
        DisputeStep::Draft {
            facts: b.facts,
            terms: b
                .terms
                .into_iter()
                .map(|t| Term {
                    text: t.text,
                    due: t.due,
                })
                .collect(),
        },
    )
    .await
}

/// One version of the agreement: its text and SHA-256 (the read is recorded).
#[utoipa::path(get, path = "/api/v1/disputes/{number}/agreements/{version}", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number"),
           ("version" = u32, Path, description = "The agreement's version")),
    responses((status = 200, description = "The agreement", body = views::AgreementDocView), ReadProblems),
    security(("bearer" = [])))]
async fn get_agreement(
    State(app): State<App>,
    caller: Caller,
    Path((number, version)): Path<(String, String)>,
) -> ApiResult<Json<views::AgreementDocView>> {
    let actor = caller.staff()?;
    let version = version_number(&version)?;
    let (_, a) = app.agreement(actor, &number, version).await?;
    Ok(Json(views::AgreementDocView::from(&a)))
}

/// Records that every party signed the version (it binds from then; it never changes).
#[utoipa::path(post, path = "/api/v1/disputes/{number}/agreements/{version}/signatures", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number"),
           ("version" = u32, Path, description = "The agreement's version")),
    request_body(content = views::SignBody, content_type = "application/json"),
    responses((status = 200, description = "Signed", body = views::DisputeView), ChangeProblems),
    security(("bearer" = [])))]
async fn sign_agreement(
    State(app): State<App>,
    caller: Caller,
    Path((number, version)): Path<(String, String)>,
    payload: Result<Json<views::SignBody>, JsonRejection>,
) -> ApiResult<Json<views::DisputeView>> {
    caller.staff()?;
    let version = version_number(&version)?;
    let b = body(payload)?;
    step(
        &app,
        &caller,
        &number,
        b.version,
        DisputeStep::Sign {
            version,
            signed_by: b.signed_by,
        },
    )
    .await
}

/// Records a follow-up visit (回访): were the terms carried out?
#[utoipa::path(post, path = "/api/v1/disputes/{number}/follow-ups", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number")),
    request_body(content = views::FollowUpBody, content_type = "application/json"),
    responses((status = 200, description = "Recorded", body = views::DisputeView), ChangeProblems),
    security(("bearer" = [])))]
async fn follow_up(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::FollowUpBody>, JsonRejection>,
) -> ApiResult<Json<views::DisputeView>> {
    caller.staff()?;
    let b = body(payload)?;
    step(
        &app,
        &caller,
        &number,
        b.version,
        DisputeStep::FollowUp {
            performed: b.performed,
            note: b.note,
        },
    )
    .await
}

/// The other changes: escalate, send_down, extend, oral, fail, apply_confirmation, reopen,
/// withdraw.
#[utoipa::path(post, path = "/api/v1/disputes/{number}/actions/{action}", tag = "disputes",
    params(("number" = String, Path, description = "The dispute's number"),
           ("action" = String, Path, description = "escalate, send_down, extend, oral, fail, apply_confirmation, reopen or withdraw")),
    request_body(content = views::DisputeActionBody, content_type = "application/json"),
    responses((status = 200, description = "Done", body = views::DisputeView), ChangeProblems),
    security(("bearer" = [])))]
async fn dispute_action(
    State(app): State<App>,
    caller: Caller,
    Path((number, action)): Path<(String, String)>,
    payload: Result<Json<views::DisputeActionBody>, JsonRejection>,
) -> ApiResult<Json<views::DisputeView>> {
    caller.staff()?;
    let b = body(payload)?;
    let s = action_step(
        &action,
        b.reason,
        b.days,
        b.terms,
        b.referral.as_deref(),
        b.note,
    )?;
    step(&app, &caller, &number, b.version, s).await
}

/// A named action as a step (the pages' forms name them the same way).
pub(crate) fn action_step(
    action: &str,
    reason: String,
    days: Option<u32>,
    terms: String,
    referral: Option<&str>,
    note: String,
) -> Result<DisputeStep, ApiError> {
    Ok(match action {
        "escalate" => DisputeStep::Escalate { reason },
        "send_down" => DisputeStep::SendDown { reason },
        "extend" => DisputeStep::Extend {
            days: days.unwrap_or(0),
            reason,
        },
        "oral" => DisputeStep::Oral { terms },
        "fail" => DisputeStep::Fail {
            referral: referral.and_then(Referral::parse),
            note,
        },
        "apply_confirmation" => DisputeStep::ApplyConfirmation,
        "reopen" => DisputeStep::Reopen { reason },
        "withdraw" => DisputeStep::Withdraw { reason },
        other => {
            return Err(AppError::NotFound(format!("no dispute action `{other}`")).into());
        }
    })
}
