//! Small wishes over REST v1 (`/api/v1/wishes`): posting (residents, or staff for them), the
//! public list, claiming, delivering, the resident's confirmation by number and secret.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems, Throttled};
use crate::http::{ApiError, ApiResult, Caller, body};
use civicgrid_domain::policy::Actor;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_wishes, post_wish))
        .routes(routes!(get_wish))
        .routes(routes!(wish_history))
        .routes(routes!(claim))
        .routes(routes!(release))
        .routes(routes!(deliver))
        .routes(routes!(confirm))
        .routes(routes!(withdraw))
}

fn unprocessable(field: &str, message: String) -> ApiError {
    AppError::Unprocessable(vec![(field.into(), message)]).into()
}

/// Posts a wish: anyone (a resident); staff who follow up wishes there post on a resident's
/// behalf, under their name. The answer carries the secret the resident confirms the wish with, only here.
#[utoipa::path(post, path = "/api/v1/wishes", tag = "public",
    request_body(content = views::NewWishBody, content_type = "application/json"),
    responses((status = 201, description = "Posted", body = views::PostedWish), IntakeProblems),
    security((), ("bearer" = [])))]
async fn post_wish(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewWishBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let community =
        b.community
            .parse()
            .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                unprocessable("community", e.to_string())
            })?;
    let grid = match b.grid.filter(|g| !g.is_empty()) {
        Some(g) => Some(
            g.parse()
                .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                    unprocessable("grid", e.to_string())
                })?,
        ),
        None => None,
    };
    let actor = caller.0.unwrap_or(Actor::Resident);
    let receipt = app
        .post_wish(
            &actor,
            super::NewWish {
                community,
                grid,
                title: b.title,
                description: b.description,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::PostedWish {
            wish: views::WishView::from(&receipt.wish),
            secret: receipt.secret,
        }),
    )
        .into_response())
}

/// Wishes in a region, newest first (public: no personal data).
#[utoipa::path(get, path = "/api/v1/wishes", tag = "public",
    params(views::WishQuery),
    responses((status = 200, description = "Wishes, at most 500", body = Vec<views::WishView>), ReadProblems),
    security(()))]
async fn list_wishes(
    State(app): State<App>,
    q: Result<Query<views::WishQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::WishView>>> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let within = q
        .within
        .parse()
        .map_err(|e: civicgrid_domain::territory::TerritoryError| {
            unprocessable("within", e.to_string())
        })?;
    let statuses = match q.status.as_deref() {
        Some(s) => vec![s.parse().map_err(|e| unprocessable("status", e))?],
        None => vec![],
    };
    let wishes = app.board_wishes(&within, &statuses, 500).await?;
    Ok(Json(wishes.iter().map(views::WishView::from).collect()))
}

/// One wish by its number (public).
#[utoipa::path(get, path = "/api/v1/wishes/{number}", tag = "public",
    params(("number" = String, Path, description = "The wish's number")),
    responses((status = 200, description = "The wish", body = views::WishView), ReadProblems),
    security(()))]
async fn get_wish(
    State(app): State<App>,
    Path(number): Path<String>,
) -> ApiResult<Json<views::WishView>> {
    Ok(Json(views::WishView::from(&app.wish(&number).await?)))
}

/// A wish's changes with who made them, oldest first (staff who follow up wishes there).
#[utoipa::path(get, path = "/api/v1/wishes/{number}/history", tag = "wishes",
    params(("number" = String, Path, description = "The wish's number")),
    responses((status = 200, description = "The wish and its events", body = views::WishHistory), ReadProblems),
    security(("bearer" = [])))]
async fn wish_history(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::WishHistory>> {
    let actor = caller.staff()?;
    let (w, events) = app.wish_history(actor, &number).await?;
    Ok(Json(views::WishHistory {
        wish: views::WishView::from(&w),
        claimed_by: w.claimed_by.clone(),
        events: events
            .into_iter()
            .map(|e| views::WishEventView {
                at: e.at,
                actor: e.actor,
                action: e.action,
                note: e.note,
            })
            .collect(),
    }))
}

/// A member or volunteer registered with the wish's community takes it on (one at a time).
#[utoipa::path(post, path = "/api/v1/wishes/{number}/claim", tag = "wishes",
    params(("number" = String, Path, description = "The wish's number")),
    responses((status = 200, description = "Claimed", body = views::WishView), ChangeProblems),
    security(("bearer" = [])))]
async fn claim(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::WishView>> {
    let actor = caller.staff()?;
    Ok(Json(views::WishView::from(
        &app.claim_wish(actor, &number).await?,
    )))
}

/// The claimant gives the wish back.
#[utoipa::path(post, path = "/api/v1/wishes/{number}/release", tag = "wishes",
    params(("number" = String, Path, description = "The wish's number")),
    responses((status = 200, description = "Open again", body = views::WishView), ChangeProblems),
    security(("bearer" = [])))]
async fn release(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::WishView>> {
    let actor = caller.staff()?;
    Ok(Json(views::WishView::from(
        &app.release_wish(actor, &number).await?,
    )))
}

/// The claimant reports the wish done (a photo can be added on the wish's page).
#[utoipa::path(post, path = "/api/v1/wishes/{number}/delivery", tag = "wishes",
    params(("number" = String, Path, description = "The wish's number")),
    request_body(content = views::DeliveryBody, content_type = "application/json"),
    responses((status = 200, description = "Delivered; the resident confirms", body = views::WishView), ChangeProblems),
    security(("bearer" = [])))]
async fn deliver(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::DeliveryBody>, JsonRejection>,
) -> ApiResult<Json<views::WishView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(views::WishView::from(
        &app.deliver_wish(actor, &number, &b.note, None).await?,
    )))
}

/// The resident confirms the delivered wish, or says what is missing: with the number and
/// the secret. Every attempt counts against the caller's lookups; a wrong secret and an
/// unknown number get the same 403.
#[utoipa::path(post, path = "/api/v1/wishes/{number}/confirmation", tag = "public",
    params(("number" = String, Path, description = "The wish's number")),
    request_body(content = views::ConfirmationBody, content_type = "application/json"),
    responses((status = 200, description = "Confirmed or sent back", body = views::WishView), ChangeProblems, Throttled),
    security(()))]
async fn confirm(
    State(app): State<App>,
    from: ClientAddr,
    Path(number): Path<String>,
    payload: Result<Json<views::ConfirmationBody>, JsonRejection>,
) -> ApiResult<Json<views::WishView>> {
    let b = body(payload)?;
    Ok(Json(views::WishView::from(
        &app.confirm_wish(&number, &b.secret, b.fulfilled, &b.note, &from)
            .await?,
    )))
}

/// Staff who follow up wishes in the community withdraw one, with the reason.
#[utoipa::path(post, path = "/api/v1/wishes/{number}/withdrawal", tag = "wishes",
    params(("number" = String, Path, description = "The wish's number")),
    request_body(content = views::WithdrawalBody, content_type = "application/json"),
    responses((status = 200, description = "Withdrawn", body = views::WishView), ChangeProblems),
    security(("bearer" = [])))]
async fn withdraw(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::WithdrawalBody>, JsonRejection>,
) -> ApiResult<Json<views::WishView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(views::WishView::from(
        &app.withdraw_wish(actor, &number, &b.reason).await?,
    )))
}
