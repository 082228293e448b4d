//! Staff sign-in and sign-out pages, with the shared abuse limits (see `limits.rs`).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use crate::App;
use crate::error::AppError;
use crate::web::Pages;
use crate::web::{Ctx, form_map, see_other};

pub const TEMPLATES: &[(&str, &str)] = &[("login.html", include_str!("templates/login.html"))];

pub fn routes() -> Pages {
    Pages::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

async fn login_form(ctx: Ctx) -> Response {
    ctx.render("login.html", json!({}))
}

async fn login(
    State(app): State<App>,
    ctx: Ctx,
    from: crate::accounts::limits::ClientAddr,
    body: axum::body::Bytes,
) -> Response {
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let username = f
        .get("username")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let again = |status: StatusCode, key: &str| {
        ctx.render_status(
            status,
            "login.html",
            json!({"username": username, "error": ctx.t(key)}),
        )
    };
    if username.is_empty() || password.is_empty() {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "err-login-missing");
    }
    match app.sign_in(&username, &password, &from).await {
        Ok(token) => {
            let secure = if ctx.secure { "; Secure" } else { "" };
            // Each lands where their work is (the access policy says where).
            let landing = match (
                app.authenticate_session(&token).await,
                app.reference().await,
            ) {
                (Ok(Some(actor)), Ok(reference)) => reference.policy().landing(&actor).path(),
                _ => "/work",
            };
            let mut r = see_other(landing);
            if let Ok(v) = HeaderValue::from_str(&format!(
                "cg_session={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(AppError::Forbidden(_)) => again(StatusCode::UNAUTHORIZED, "err-login"),
        Err(AppError::TooManyRequests { retry_after }) => {
            let minutes = retry_after.div_ceil(60).to_string();
            let mut r = ctx.render_status(
                StatusCode::TOO_MANY_REQUESTS,
                "login.html",
                json!({"username": username, "error": crate::web::i18n::t(ctx.lang, "err-too-many", &[("minutes", minutes)])}),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            r
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn logout(
    State(app): State<App>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    if let Err(r) = ctx.check_csrf(form_map(&pairs).get("csrf").map(String::as_str)) {
        return *r;
    }
    if let Some(token) = crate::web::cookie(&headers, "cg_session") {
        let _ = app.logout(&token).await;
    }
    let mut r = see_other("/");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("cg_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    );
    r
}
