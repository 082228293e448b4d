//! The one-stop pages: the public catalogue (`/services`, an item with its checklist and the
//! application form), the receipt (number and secret, shown once), the resident's tracking
//! page (status, corrections to supply, the evaluation), and the handling staff's list and
//! application page (materials, 一次性告知, acceptance, completion).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::application::{ApplicationStatus, Rating, ServiceChannel, ServiceItem};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::RegionLevel;
use civicgrid_store::ApplicationRecord;
use serde_json::{Value, json};

use super::NewApplication;
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::AppError;
use crate::web::{Ctx, Pages, posted_form, see_other};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("services.html", include_str!("templates/services.html")),
    ("service.html", include_str!("templates/service.html")),
    (
        "application_receipt.html",
        include_str!("templates/application_receipt.html"),
    ),
    (
        "application_track.html",
        include_str!("templates/application_track.html"),
    ),
    (
        "applications.html",
        include_str!("templates/applications.html"),
    ),
    (
        "application.html",
        include_str!("templates/application.html"),
    ),
];

const UPLOAD_LIMIT: usize = 32 * 1024 * 1024;

pub fn routes() -> Pages {
    Pages::new()
        .route("/services", get(catalogue))
        .route("/services/{code}", get(item))
        .route(
            "/services/{code}/apply",
            post(apply).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/applications/track", get(track_form).post(track))
        .route(
            "/applications/{number}/resident",
            post(resident_step).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/applications", get(staff_list))
        .route("/applications/{number}", get(staff_page))
        .route("/applications/{number}/act", post(staff_act))
        .route("/applications/{number}/files/{seq}", get(file))
}

fn item_json(ctx: &Ctx, i: &ServiceItem, unit_name: &str) -> Value {
    json!({
        "code": i.code,
        "name": if ctx.lang == "en" && !i.name_en.is_empty() { &i.name_en } else { &i.name },
        "unit": unit_name,
        "limit_days": i.limit_days,
        "materials": i.materials.iter().map(|m| json!({"code": m.code, "name": m.name, "required": m.required, "sample": m.sample})).collect::<Vec<_>>(),
        "fees": i.fees,
        "channels": i.channels.iter().map(|c| ctx.t(&format!("service-channel-{}", c.as_str()))).collect::<Vec<_>>(),
        "online": i.channels.contains(&ServiceChannel::Online),
        "proxy": i.channels.contains(&ServiceChannel::Proxy),
        "place": i.place,
        "basis": i.basis,
    })
}

async fn unit_names(app: &App) -> HashMap<String, String> {
    app.reference()
        .await
        .map(|r| {
            r.units
                .iter()
                .map(|u| (u.code.clone(), u.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

async fn catalogue(State(app): State<App>, ctx: Ctx) -> Response {
    let items = match app.service_items(false).await {
        Ok(i) => i,
        Err(e) => return ctx.app_error(e),
    };
    let units = unit_names(&app).await;
    let list: Vec<Value> = items
        .iter()
        .map(|i| {
            item_json(
                &ctx,
                i,
                units.get(&i.unit).map_or(i.unit.as_str(), String::as_str),
            )
        })
        .collect();
    ctx.render("services.html", json!({"items": list}))
}

async fn item_page(app: &App, ctx: &Ctx, code: &str, extra: Value, status: StatusCode) -> Response {
    let i = match app.service_item(code).await {
        Ok(i) if i.active => i,
        Ok(_) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        Err(e) => return ctx.app_error(e),
    };
    let refs = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let units = unit_names(app).await;
    let mut communities: Vec<(String, String)> = refs
        .region_names
        .iter()
        .filter(|(c, _)| c.level() == RegionLevel::Community)
        .map(|(c, n)| (c.to_string(), n.clone()))
        .collect();
    communities.sort();
    let mut page = json!({
        "item": item_json(ctx, &i, units.get(&i.unit).map_or(i.unit.as_str(), String::as_str)),
        "communities": communities.iter().map(|(c, n)| json!({"code": c, "name": n})).collect::<Vec<_>>(),
        "typed": {},
    });
    if let (Some(p), Value::Object(e)) = (page.as_object_mut(), extra) {
        p.extend(e);
    }
    ctx.render_status(status, "service.html", page)
}

async fn item(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    item_page(&app, &ctx, &code, json!({}), StatusCode::OK).await
}

/// A multipart form's text fields and every file, by field name.
async fn multipart_fields(
    multipart: &mut Multipart,
) -> Result<
    (
        HashMap<String, String>,
        Vec<(String, String, String, Vec<u8>)>,
    ),
    StatusCode,
> {
    let mut fields = HashMap::new();
    let mut files = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                if let Some(file_name) = field.file_name().map(str::to_owned) {
                    let ct = field
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_owned();
                    match field.bytes().await {
                        Ok(b) if !b.is_empty() => files.push((name, file_name, ct, b.to_vec())),
                        Ok(_) => {}
                        Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE),
                    }
                } else if let Ok(v) = field.text().await {
                    if v.contains('\0') || name.contains('\0') {
                        return Err(StatusCode::BAD_REQUEST);
                    }
                    fields.insert(name, v);
                }
            }
            Ok(None) => return Ok((fields, files)),
            Err(e) => return Err(e.status()),
        }
    }
}

/// Uploads the files of a form (`file_CODE` fields) as materials; the first problem, if any.
async fn upload_all(
    app: &App,
    a: &ApplicationRecord,
    who: &str,
    files: Vec<(String, String, String, Vec<u8>)>,
) -> Result<(), AppError> {
    for (field, name, ct, data) in files {
        let Some(material) = field.strip_prefix("file_") else {
            continue;
        };
        app.add_material(a, who, material, &name, &ct, data).await?;
    }
    Ok(())
}

fn problems_text(ctx: &Ctx, e: &AppError) -> String {
    match e {
        AppError::Unprocessable(fields) => {
            let names: Vec<String> = fields
                .iter()
                .map(|(f, m)| {
                    let label = ctx.t(&format!("service-field-{f}"));
                    if ctx.lang == "en" {
                        format!("{label}: {m}")
                    } else {
                        label
                    }
                })
                .collect();
            format!("{} {}", ctx.t("service-check-fields"), names.join("；"))
        }
        AppError::Conflict(m) if ctx.lang == "en" => m.clone(),
        AppError::Conflict(_) => ctx.t("service-not-now"),
        AppError::Stale { .. } => ctx.t("err-stale"),
        AppError::Forbidden(_) => ctx.t("service-secret-wrong"),
        _ => ctx.t("err-invalid"),
    }
}

async fn apply(
    State(app): State<App>,
    ctx: Ctx,
    Path(code): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let (f, files) = match multipart_fields(&mut multipart).await {
        Ok(x) => x,
        Err(status) => return ctx.error(status, &ctx.t("err-invalid")),
    };
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Ok(community) = get("community").parse() else {
        return item_page(
            &app,
            &ctx,
            &code,
            json!({"error": ctx.t("service-field-community")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let actor = ctx.staff().cloned().unwrap_or(Actor::Resident);
    let new = NewApplication {
        item: code.clone(),
        community,
        grid: get("grid").parse().ok(),
        name: get("name"),
        phone: Some(get("phone")),
        details: get("details"),
    };
    let receipt = match app.submit_application(&actor, new).await {
        Ok(r) => r,
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            let error = problems_text(&ctx, &e);
            return item_page(
                &app,
                &ctx,
                &code,
                json!({"error": error, "typed": {"name": get("name"), "details": get("details")}}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return ctx.app_error(e),
    };
    let who = match &actor {
        Actor::Staff { username, .. } if receipt.application.filed_by == *username => {
            username.clone()
        }
        _ => "resident".to_owned(),
    };
    // The application is filed; a file refused here is named, and can be added on tracking.
    let upload_error = upload_all(&app, &receipt.application, &who, files)
        .await
        .err()
        .map(|e| problems_text(&ctx, &e));
    let mut r = ctx.render(
        "application_receipt.html",
        json!({"number": receipt.application.public_id, "secret": receipt.secret, "upload_error": upload_error, "proxy": who != "resident"}),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn track_form(ctx: Ctx) -> Response {
    ctx.render("application_track.html", json!({"typed": ""}))
}

async fn track_page(
    app: &App,
    ctx: &Ctx,
    a: &ApplicationRecord,
    secret: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let item = match app.service_item(&a.item).await {
        Ok(i) => i,
        Err(e) => return ctx.app_error(e),
    };
    let files = app.material_files(a).await.unwrap_or_default();
    let provided: Vec<String> = files.iter().map(|f| f.material.clone()).collect();
    let corrections: Vec<Value> = item
        .materials
        .iter()
        .filter(|m| a.corrections.contains(&m.code))
        .map(|m| json!({"code": m.code, "name": m.name, "sample": m.sample, "uploaded": provided.contains(&m.code)}))
        .collect();
    let mut page = json!({
        "a": application_json(ctx, a, &item),
        "secret": secret,
        "corrections": corrections,
        "correcting": a.state.status == ApplicationStatus::Correcting,
        "evaluable": a.state.status.is_closed() && a.state.rating.is_none(),
        "ratings": Rating::ALL.iter().map(|r| json!({"code": r.as_str(), "name": ctx.t(&format!("service-rating-{}", r.as_str()))})).collect::<Vec<_>>(),
        "files": files.iter().map(|f| json!({"material": f.material, "name": f.name})).collect::<Vec<_>>(),
    });
    if let (Some(p), Value::Object(e)) = (page.as_object_mut(), extra) {
        p.extend(e);
    }
    let mut r = ctx.render_status(status, "application_track.html", page);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn application_json(ctx: &Ctx, a: &ApplicationRecord, item: &ServiceItem) -> Value {
    json!({
        "number": a.public_id,
        "item": item.name,
        "status": ctx.t(&format!("service-status-{}", a.state.status.as_str())),
        "status_code": a.state.status.as_str(),
        "submitted": ctx.when(a.submitted_at),
        "accepted": a.accepted_at.map(|t| ctx.when(t)),
        "due": a.due.map(|t| ctx.when(t)),
        "done": a.done_at.map(|t| ctx.when(t)),
        "approved": a.state.approved,
        "result": a.result,
        "correction_note": a.correction_note,
        "rating": a.state.rating.map(|r| ctx.t(&format!("service-rating-{}", r.as_str()))),
        "channel": ctx.t(&format!("service-channel-{}", a.channel.as_str())),
        "corrected": a.state.corrections > 0,
    })
}

async fn track(State(app): State<App>, ctx: Ctx, from: ClientAddr, body: Bytes) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let number = f.get("number").cloned().unwrap_or_default();
    let secret = f.get("secret").cloned().unwrap_or_default();
    match app.application_for_resident(&number, &secret, &from).await {
        Ok(a) => track_page(&app, &ctx, &a, &secret, json!({}), StatusCode::OK).await,
        Err(AppError::Forbidden(_)) => ctx.render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "application_track.html",
            json!({"error": ctx.t("service-secret-wrong"), "typed": number}),
        ),
        Err(e) => ctx.app_error(e),
    }
}

async fn resident_step(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    Path(number): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let (f, files) = match multipart_fields(&mut multipart).await {
        Ok(x) => x,
        Err(status) => return ctx.error(status, &ctx.t("err-invalid")),
    };
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let secret = f.get("secret").cloned().unwrap_or_default();
    let a = match app.application_for_resident(&number, &secret, &from).await {
        Ok(a) => a,
        Err(AppError::Forbidden(_)) => {
            return ctx.render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "application_track.html",
                json!({"error": ctx.t("service-secret-wrong"), "typed": number}),
            );
        }
        Err(e) => return ctx.app_error(e),
    };
    let result = match f.get("step").map(String::as_str) {
        Some("resubmit") => match upload_all(&app, &a, "resident", files).await {
            Ok(()) => app
                .resubmit_application(&a, "resident")
                .await
                .map(|_| "service-resubmitted"),
            Err(e) => Err(e),
        },
        Some("upload") => upload_all(&app, &a, "resident", files)
            .await
            .map(|()| "service-uploaded"),
        Some("evaluate") => match Rating::parse(f.get("rating").map_or("", String::as_str)) {
            Some(r) => app
                .evaluate_application(&a, r, f.get("note").map_or("", String::as_str))
                .await
                .map(|_| "service-evaluated"),
            None => Err(AppError::Unprocessable(vec![(
                "rating".into(),
                "a rating".into(),
            )])),
        },
        _ => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
    };
    let fresh = app
        .repo
        .application(&a.id)
        .await
        .ok()
        .flatten()
        .unwrap_or(a);
    match result {
        Ok(key) => {
            track_page(
                &app,
                &ctx,
                &fresh,
                &secret,
                json!({"notice": ctx.t(key)}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let status = crate::web::status_of(&e);
            track_page(
                &app,
                &ctx,
                &fresh,
                &secret,
                json!({"error": problems_text(&ctx, &e)}),
                status,
            )
            .await
        }
    }
}

async fn staff_list(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let list = match app.applications(&actor).await {
        Ok(l) => l,
        Err(e) => return ctx.app_error(e),
    };
    let items: HashMap<String, ServiceItem> = app
        .service_items(true)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|i| (i.code.clone(), i))
        .collect();
    let now = app.clock.now();
    let rows: Vec<Value> = list
        .iter()
        .filter_map(|a| {
            let item = items.get(&a.item)?;
            let mut v = application_json(&ctx, a, item);
            v["late"] = json!(
                a.due.is_some_and(|d| d < now) && a.state.status == ApplicationStatus::Accepted
            );
            Some(v)
        })
        .collect();
    ctx.render("applications.html", json!({"applications": rows}))
}

async fn staff_page_with(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    number: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let result = async {
        let a = app.application(actor, number).await?;
        let applicant = app.applicant(actor, &a).await?;
        let item = app.service_item(&a.item).await?;
        let files = app.material_files(&a).await?;
        let events = app.application_events(&a).await?;
        let refs = app.reference().await?;
        Ok::<_, AppError>((a, applicant, item, files, events, refs))
    }
    .await;
    let (a, applicant, item, files, events, refs) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let provided: Vec<String> = files.iter().map(|f| f.material.clone()).collect();
    let missing: Vec<String> = item
        .missing(&provided)
        .iter()
        .map(|m| m.code.clone())
        .collect();
    let mut page = json!({
        "a": application_json(ctx, &a, &item),
        "version": a.version,
        "applicant": applicant.map(|c| json!({"name": c.name, "phone": c.phone})),
        "details": a.details,
        "filed_by": a.filed_by,
        "checklist": item.materials.iter().map(|m| json!({
            "code": m.code, "name": m.name, "required": m.required,
            "files": files.iter().filter(|f| f.material == m.code).map(|f| json!({"seq": f.seq, "name": f.name})).collect::<Vec<_>>(),
            "missing": missing.contains(&m.code),
        })).collect::<Vec<_>>(),
        "submitted": a.state.status == ApplicationStatus::Submitted,
        "accepted": a.state.status == ApplicationStatus::Accepted,
        "may_correct": a.state.status == ApplicationStatus::Submitted && a.state.corrections == 0,
        "complete_materials": missing.is_empty(),
        "units": refs.units.iter().map(|u| json!({"code": u.code, "name": u.name})).collect::<Vec<_>>(),
        "events": events.iter().map(|e| {
            let action = serde_json::from_str::<Value>(&e.action).ok().and_then(|v| v["action"].as_str().map(str::to_owned)).unwrap_or_default();
            json!({"at": ctx.when(e.at), "actor": e.actor, "action": ctx.t(&format!("service-event-{action}")), "note": e.note})
        }).collect::<Vec<_>>(),
    });
    if let (Some(p), Value::Object(e)) = (page.as_object_mut(), extra) {
        p.extend(e);
    }
    ctx.render_status(status, "application.html", page)
}

async fn staff_page(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    staff_page_with(&app, &ctx, &actor, &number, json!({}), StatusCode::OK).await
}

async fn staff_act(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    // Every ticked item of the checklist (a repeated field).
    let items: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.clone())
        .collect();
    let step = match super::rest::action_step(
        &get("step"),
        items,
        get("note"),
        get("reason"),
        get("unit"),
        Some(get("approved") != "no"),
        get("result"),
    ) {
        Ok(s) => s,
        Err(_) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
    };
    let version: u64 = get("version").parse().unwrap_or(u64::MAX);
    match app.application_step(&actor, &number, version, step).await {
        Ok(_) => see_other(&format!("/applications/{number}")),
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_) | AppError::Stale { .. })) => {
            let status = crate::web::status_of(&e);
            staff_page_with(
                &app,
                &ctx,
                &actor,
                &number,
                json!({"error": problems_text(&ctx, &e)}),
                status,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn file(
    State(app): State<App>,
    ctx: Ctx,
    Path((number, seq)): Path<(String, String)>,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let Ok(seq) = seq.parse::<u64>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    match app.material_file(&actor, &number, seq).await {
        Ok((meta, data)) => {
            let mut r = (StatusCode::OK, data).into_response();
            if let Ok(v) = HeaderValue::from_str(&meta.content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ctx.app_error(e),
    }
}
