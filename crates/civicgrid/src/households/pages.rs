//! The household-contact pages, made for a phone in a stairwell: one household with its
//! visits, a short log form (how, what about, notes) and, from a visit, one button that
//! reports what was found as a case in the loop.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use civicgrid_domain::household::VisitChannel;
use civicgrid_domain::policy::Actor;
use serde_json::{Value, json};

use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, posted_form, see_other};

pub const TEMPLATES: &[(&str, &str)] =
    &[("household.html", include_str!("templates/household.html"))];

pub fn routes() -> Pages {
    Pages::new()
        .route("/my/households/{id}", get(household))
        .route("/my/households/{id}/visit", post(log_visit))
        .route("/my/visits/{id}/case", post(report_case))
}

fn signed_in(ctx: &Ctx) -> Result<Actor, Box<Response>> {
    ctx.staff()
        .cloned()
        .ok_or_else(|| Box::new(see_other("/login")))
}

async fn page(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    notice: Value,
    status: StatusCode,
) -> Response {
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let (status_of, visits) = match app.household_for(actor, &id).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let h = &status_of.household;
    let mut extra = json!({
        "id": h.id,
        "address": format!("{}{}{}", h.building, h.unit, h.room),
        "place": reference.place_name(&h.grid),
        "due": status_of.due,
        "interval": status_of.interval_days,
        "consent": h.consent,
        "own": h.assignee.as_deref() == Some(actor.name()),
        // Consultation's codes are handed out from here (see `crate::consultation::pages`).
        "polls": crate::consultation::pages::open_polls(app, &h.region).await,
        "channels": VisitChannel::ALL.iter().map(|c| json!({"value": c.as_str(), "name": ctx.t(&format!("visit-channel-{}", c.as_str()))})).collect::<Vec<_>>(),
        "visits": visits.iter().take(20).map(|v| json!({
            "id": v.id,
            "when": ctx.when(v.at),
            "who": v.visitor,
            "channel": ctx.t(&format!("visit-channel-{}", v.channel.as_str())),
            "topics": v.topics,
            "notes": v.notes,
            "case": v.case,
            "mine": v.visitor == actor.name(),
        })).collect::<Vec<_>>(),
    });
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "household.html", extra)
}

async fn household(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    page(&app, &ctx, &actor, &id, json!({}), StatusCode::OK).await
}

async fn log_visit(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(household) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let Ok(channel) = text("channel").parse::<VisitChannel>() else {
        return page(
            &app,
            &ctx,
            &actor,
            &id,
            json!({"error": ctx.t("err-visit-channel")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let visit = crate::households::NewVisit {
        household,
        channel,
        topics: text("topics"),
        notes: text("notes"),
        at: None,
    };
    match app.log_visit(&actor, visit).await {
        Ok(_) => {
            page(
                &app,
                &ctx,
                &actor,
                &id,
                json!({"notice": ctx.t("visit-logged")}),
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::Unprocessable(_)) => {
            page(
                &app,
                &ctx,
                &actor,
                &id,
                json!({"error": ctx.t("err-visit-topics")}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn report_case(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(visit) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let description = f
        .get("description")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let household = match app.repo.visit(&visit).await {
        Ok(Some(v)) => v.household.to_string(),
        Ok(None) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        Err(e) => return ctx.app_error(e.into()),
    };
    if description.is_empty() {
        return page(
            &app,
            &ctx,
            &actor,
            &household,
            json!({"error": ctx.t("err-description")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match app.report_from_visit(&actor, &visit, description, None, None).await {
        Ok(case) => page(
            &app,
            &ctx,
            &actor,
            &household,
            json!({"notice": crate::web::i18n::t(ctx.lang, "visit-case-reported", &[("number", case.public_id.clone())])}),
            StatusCode::OK,
        )
        .await,
        Err(e) => ctx.app_error(e),
    }
}
