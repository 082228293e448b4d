//! The small-wish pages and the community board: `/community` (the communities),
//! `/community/{code}` (the board: wishes without personal data, activities, the alliance's
//! commitments), posting a wish and its receipt (the number and the secret, shown once),
//! the wish's page (claim, deliver with a photo, the resident's confirmation).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{RegionCode, RegionLevel};
use civicgrid_domain::wish::WishStatus;
use serde_json::{Value, json};

use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::AppError;
use crate::web::{Ctx, Pages, form_map, form_with_file, posted_form, see_other};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "communities.html",
        include_str!("templates/communities.html"),
    ),
    ("board.html", include_str!("templates/board.html")),
    ("wish_form.html", include_str!("templates/wish_form.html")),
    (
        "wish_receipt.html",
        include_str!("templates/wish_receipt.html"),
    ),
    ("wish.html", include_str!("templates/wish.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/community", get(communities))
        .route("/community/{code}", get(board))
        .route("/community/{code}/wish", get(wish_form).post(post_wish))
        .route("/wishes/{number}", get(wish))
        .route("/wishes/{number}/claim", post(claim))
        .route(
            "/wishes/{number}/deliver",
            post(deliver).layer(DefaultBodyLimit::max(11 * 1024 * 1024)),
        )
        .route("/wishes/{number}/confirm", post(confirm))
        .route("/wishes/{number}/photo", get(photo))
}

async fn community_of(
    app: &App,
    ctx: &Ctx,
    code: &str,
) -> Result<(RegionCode, String), Box<Response>> {
    let reference = app
        .reference()
        .await
        .map_err(|e| Box::new(ctx.app_error(e)))?;
    match code.parse::<RegionCode>() {
        Ok(c) if c.level() == RegionLevel::Community && reference.region_names.contains_key(&c) => {
            let name = reference.region_name(&c);
            Ok((c, name))
        }
        _ => Err(Box::new(
            ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        )),
    }
}

async fn communities(State(app): State<App>, ctx: Ctx) -> Response {
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let mut list: Vec<(String, String, String)> = reference
        .region_names
        .iter()
        .filter(|(c, _)| c.level() == RegionLevel::Community)
        .map(|(c, n)| {
            let street = c
                .parent()
                .map(|p| reference.region_name(&p))
                .unwrap_or_default();
            (c.to_string(), n.clone(), street)
        })
        .collect();
    list.sort();
    ctx.render(
        "communities.html",
        json!({"communities": list.iter().map(|(code, name, street)| json!({"code": code, "name": name, "street": street})).collect::<Vec<_>>()}),
    )
}

fn wish_card(ctx: &Ctx, w: &civicgrid_store::WishRecord) -> Value {
    json!({
        "number": w.public_id,
        "title": w.title,
        "description": w.description,
        "status": ctx.t(&format!("wish-status-{}", w.status.as_str())),
        "status_code": w.status.as_str(),
        "escalated": w.escalated,
        "posted": ctx.when(w.posted_at),
    })
}

async fn board(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    let (community, name) = match community_of(&app, &ctx, &code).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let result = async {
        let open = app
            .board_wishes(
                &community,
                &[WishStatus::Open, WishStatus::Claimed, WishStatus::Delivered],
                50,
            )
            .await?;
        let done = app
            .board_wishes(&community, &[WishStatus::Fulfilled], 10)
            .await?;
        let activities = app.upcoming_activities(&community, 20).await?;
        let mut shifts = Vec::new();
        for a in &activities {
            shifts.push(app.activity_places(&a.id).await?.1);
        }
        let alliances = app.alliances_in(&community).await?;
        let orgs = app.organisations_for(&Actor::System).await?;
        Ok::<_, AppError>((open, done, activities, shifts, alliances, orgs))
    }
    .await;
    let (open, done, activities, shifts, alliances, orgs) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    ctx.render(
        "board.html",
        json!({
            "code": community.as_str(),
            "name": name,
            "open": open.iter().map(|w| wish_card(&ctx, w)).collect::<Vec<_>>(),
            "done": done.iter().map(|w| wish_card(&ctx, w)).collect::<Vec<_>>(),
            "activities": activities.iter().zip(shifts.iter()).map(|(a, s)| json!({
                "id": a.id, "title": a.title, "place": a.place,
                "when": s.first().map(|p| ctx.when(p.shift.starts_at)),
                "places": s.iter().map(|p| p.shift.capacity as usize).sum::<usize>(),
                "taken": s.iter().map(|p| p.confirmed()).sum::<usize>(),
            })).collect::<Vec<_>>(),
            "alliances": alliances.iter().map(|a| json!({"name": a.name, "commitments": a.partners.iter().filter(|p| !p.commitment.is_empty()).map(|p| json!({
                "who": match p.kind {
                    civicgrid_domain::party::PartnerKind::Unit => reference.unit_name(&p.reference),
                    civicgrid_domain::party::PartnerKind::Organisation => orgs.iter().find(|o| o.code == p.reference).map_or_else(|| p.reference.clone(), |o| o.name.clone()),
                    civicgrid_domain::party::PartnerKind::Company => p.reference.clone(),
                },
                "what": p.commitment,
            })).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        }),
    )
}

async fn wish_form(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    let (community, name) = match community_of(&app, &ctx, &code).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    ctx.render(
        "wish_form.html",
        json!({"code": community.as_str(), "name": name}),
    )
}

/// Posts a wish from the board's form and shows its receipt: the number and the secret,
/// once (the page is not cached).
async fn post_wish(
    State(app): State<App>,
    ctx: Ctx,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let (community, name) = match community_of(&app, &ctx, &code).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let actor = ctx.staff().cloned().unwrap_or(Actor::Resident);
    let new = crate::wishes::NewWish {
        community: community.clone(),
        grid: None,
        title: text("title"),
        description: text("description"),
    };
    match app.post_wish(&actor, new).await {
        Ok(receipt) => {
            let mut r = ctx.render(
                "wish_receipt.html",
                json!({"number": receipt.wish.public_id, "secret": receipt.secret, "title": receipt.wish.title, "name": name, "code": community.as_str()}),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(AppError::Unprocessable(fields)) => {
            let errors: serde_json::Map<String, Value> = fields
                .iter()
                .map(|(field, _)| (field.clone(), json!(ctx.t(&format!("err-wish-{field}")))))
                .collect();
            ctx.render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wish_form.html",
                json!({"code": community.as_str(), "name": name, "errors": errors, "typed": {"title": text("title"), "description": text("description")}}),
            )
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn wish_page(
    app: &App,
    ctx: &Ctx,
    number: &str,
    notice: Value,
    status: StatusCode,
) -> Response {
    let w = match app.wish(number).await {
        Ok(w) => w,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let actor = ctx.staff().cloned();
    let may_claim = match &actor {
        Some(a) if w.status == WishStatus::Open => app
            .communities_of(a)
            .await
            .map(|c| c.contains(&w.region))
            .unwrap_or(false),
        _ => false,
    };
    let holds = actor.as_ref().is_some_and(|a| {
        w.claimed_by.as_deref() == Some(a.name()) && w.status == WishStatus::Claimed
    });
    let has_photo = app
        .repo
        .wish_photo(&w.id)
        .await
        .map(|p| p.is_some())
        .unwrap_or(false);
    let mut extra = json!({
        "wish": wish_card(ctx, &w),
        "community": reference.region_name(&w.region),
        "code": w.region.as_str(),
        "delivery_note": w.delivery_note,
        "has_photo": has_photo,
        "may_claim": may_claim,
        "holds": holds,
        "delivered": w.status == WishStatus::Delivered,
    });
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "wish.html", extra)
}

async fn wish(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    wish_page(&app, &ctx, &number, json!({}), StatusCode::OK).await
}

/// Refusals a member or resident can understand, in their language.
fn wish_refusal(ctx: &Ctx, e: &AppError) -> Option<String> {
    let key = match e {
        AppError::Conflict(m) if m.contains("finish the wish") => "err-wish-one-at-a-time",
        AppError::Conflict(m) if m.contains("missing") || m.contains("what was done") => {
            "err-wish-note"
        }
        AppError::Conflict(_) | AppError::Stale { .. } => "err-wish-changed",
        AppError::Forbidden(m) if m.contains("registered with the community") => {
            "err-wish-not-registered"
        }
        AppError::Forbidden(_) => "err-wish-secret",
        AppError::Unprocessable(_) => "err-wish-note",
        _ => return None,
    };
    Some(ctx.t(key))
}

async fn claim(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    if let Err(r) = posted_form(&ctx, &body) {
        return *r;
    }
    match app.claim_wish(&actor, &number).await {
        Ok(_) => {
            wish_page(
                &app,
                &ctx,
                &number,
                json!({"notice": ctx.t("wish-claimed")}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => match wish_refusal(&ctx, &e) {
            Some(m) => {
                wish_page(
                    &app,
                    &ctx,
                    &number,
                    json!({"error": m}),
                    crate::web::status_of(&e),
                )
                .await
            }
            None => ctx.app_error(e),
        },
    }
}

async fn deliver(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let (fields, photo) = match form_with_file(&mut multipart, "photo").await {
        Ok(read) => read,
        Err(status) => return ctx.error(status, &ctx.t("err-photo-too-large")),
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let note = f
        .get("note")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    match app.deliver_wish(&actor, &number, &note, photo).await {
        Ok(_) => {
            wish_page(
                &app,
                &ctx,
                &number,
                json!({"notice": ctx.t("wish-delivered")}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => match wish_refusal(&ctx, &e) {
            Some(m) => {
                wish_page(
                    &app,
                    &ctx,
                    &number,
                    json!({"error": m}),
                    crate::web::status_of(&e),
                )
                .await
            }
            None => ctx.app_error(e),
        },
    }
}

/// The resident's confirmation with the number and the secret.
async fn confirm(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let secret = f.get("secret").map(|s| s.trim()).unwrap_or_default();
    if secret.is_empty() {
        return wish_page(
            &app,
            &ctx,
            &number,
            json!({"error": ctx.t("err-wish-secret-missing")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let fulfilled = f.get("fulfilled").map(String::as_str) != Some("no");
    let note = f
        .get("note")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    match app
        .confirm_wish(&number, secret, fulfilled, &note, &from)
        .await
    {
        Ok(_) => wish_page(
            &app,
            &ctx,
            &number,
            json!({"notice": ctx.t(if fulfilled { "wish-confirmed" } else { "wish-disputed" })}),
            StatusCode::OK,
        )
        .await,
        Err(AppError::TooManyRequests { retry_after }) => ctx.too_many(retry_after),
        Err(e) => match wish_refusal(&ctx, &e) {
            Some(m) => {
                wish_page(
                    &app,
                    &ctx,
                    &number,
                    json!({"error": m}),
                    crate::web::status_of(&e),
                )
                .await
            }
            None => ctx.app_error(e),
        },
    }
}

async fn photo(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    match app.wish_photo(&number).await {
        Ok((content_type, bytes)) => {
            let ct = HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(e) => ctx.app_error(e),
    }
}
