//! The page residents reach from a message: stopping a case's messages without an account.
//! The link asks to confirm, so that a mail scanner opening it unsubscribes nobody.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::App;
use crate::web::{Ctx, Pages, posted_form};

pub const TEMPLATES: &[(&str, &str)] = &[(
    "unsubscribe.html",
    include_str!("templates/unsubscribe.html"),
)];

pub fn routes() -> Pages {
    Pages::new().route(
        "/notifications/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe),
    )
}

async fn unsubscribe_page(State(app): State<App>, ctx: Ctx, Path(token): Path<String>) -> Response {
    match app.unsubscribe_case(&token) {
        Ok(_) => ctx.render("unsubscribe.html", json!({"token": token, "done": false})),
        Err(_) => ctx.error(StatusCode::NOT_FOUND, &ctx.t("unsubscribe-invalid")),
    }
}

async fn unsubscribe(
    State(app): State<App>,
    ctx: Ctx,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = posted_form(&ctx, &body) {
        return *r;
    }
    match app.unsubscribe(&token).await {
        Ok(()) => ctx.render("unsubscribe.html", json!({"token": token, "done": true})),
        Err(crate::error::AppError::NotFound(_)) => {
            ctx.error(StatusCode::NOT_FOUND, &ctx.t("unsubscribe-invalid"))
        }
        Err(e) => ctx.error(crate::web::status_of(&e), &e.to_string()),
    }
}
