//! The volunteer pages: `/volunteers` (whoever organises volunteers: the people, the hours
//! waiting for approval — decided in bulk —, activities and a form for a new one), the
//! volunteer's registration, the activity (shifts, places, sign-up), its check-in page (the
//! target of the QR code the organiser's phone shows at `/activities/{id}/organise`, with
//! manual check-in and -out, flagged) and the printable service-record certificate.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use civicgrid_domain::access::Permission;
use civicgrid_domain::policy::Actor;
use civicgrid_domain::volunteer::{HoursStatus, Placement, hours_text};
use serde_json::{Value, json};

use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, posted_form, see_other, status_of};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("volunteers.html", include_str!("templates/volunteers.html")),
    (
        "volunteer_register.html",
        include_str!("templates/volunteer_register.html"),
    ),
    ("activity.html", include_str!("templates/activity.html")),
    ("check_in.html", include_str!("templates/check_in.html")),
    ("organise.html", include_str!("templates/organise.html")),
    (
        "certificate.html",
        include_str!("templates/certificate.html"),
    ),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/volunteers", get(volunteers))
        .route("/volunteers/hours", post(decide_hours))
        .route("/volunteers/activities", post(create_activity))
        .route("/volunteers/register", get(register_form).post(register))
        .route("/volunteers/{id}/certificate", get(certificate))
        .route("/activities/{id}", get(activity))
        .route("/activities/{id}/signup", post(sign_up))
        .route("/activities/{id}/cancel", post(cancel))
        .route(
            "/activities/{id}/check-in",
            get(check_in_page).post(check_in),
        )
        .route("/activities/{id}/organise", get(organise))
        .route("/activities/{id}/attendance", post(attendance))
}

fn signed_in(ctx: &Ctx) -> Result<Actor, Box<Response>> {
    ctx.staff()
        .cloned()
        .ok_or_else(|| Box::new(see_other("/login")))
}

fn id_of(ctx: &Ctx, id: &str) -> Result<uuid::Uuid, Box<Response>> {
    id.parse()
        .map_err(|_| Box::new(ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"))))
}

async fn volunteers_page(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    notice: Value,
    status: StatusCode,
) -> Response {
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let regions = reference
        .policy()
        .regions_with(actor, Permission::VolunteerManage);
    if regions.is_empty() {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let result = async {
        let mut people = Vec::new();
        let mut pending = Vec::new();
        let mut activities = Vec::new();
        for r in &regions {
            people.extend(app.volunteers_for(actor, r).await?);
            pending.extend(app.hours_for(actor, r, Some(HoursStatus::Pending)).await?);
            activities.extend(app.upcoming_activities(r, 50).await?);
        }
        Ok::<_, AppError>((people, pending, activities))
    }
    .await;
    let (people, pending, activities) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let name_of = |id: &uuid::Uuid| {
        people
            .iter()
            .find(|v| &v.id == id)
            .map_or_else(|| id.to_string(), |v| v.name.clone())
    };
    let mut communities: Vec<Value> = reference
        .region_names
        .iter()
        .filter(|(c, _)| {
            c.level() == civicgrid_domain::territory::RegionLevel::Community
                && regions.iter().any(|r| r.contains(c))
        })
        .map(|(c, n)| json!({"code": c.as_str(), "name": n}))
        .collect();
    communities.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    let mut extra = json!({
        "people": people.iter().map(|v| json!({"id": v.id, "name": v.name, "number": v.number, "community": reference.region_name(&v.region), "skills": v.skills.join("、"), "availability": v.availability})).collect::<Vec<_>>(),
        "pending": pending.iter().map(|e| json!({"id": e.id, "volunteer": name_of(&e.volunteer), "day": e.day.to_string(), "hours": hours_text(u64::from(e.minutes)), "manual": e.manual, "note": e.note, "by": e.recorded_by})).collect::<Vec<_>>(),
        "activities": activities.iter().map(|a| json!({"id": a.id, "title": a.title, "place": a.place, "community": reference.region_name(&a.region)})).collect::<Vec<_>>(),
        "communities": communities,
    });
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "volunteers.html", extra)
}

async fn volunteers(State(app): State<App>, ctx: Ctx) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    volunteers_page(&app, &ctx, &actor, json!({}), StatusCode::OK).await
}

/// Approves or declines the ticked entries, in one go.
async fn decide_hours(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let ids: Vec<uuid::Uuid> = pairs
        .iter()
        .filter(|(k, _)| k == "entry")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if ids.is_empty() {
        return volunteers_page(
            &app,
            &ctx,
            &actor,
            json!({"error": ctx.t("err-hours-none")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let approve = f.get("decision").map(String::as_str) == Some("approve");
    match app.decide_hours(&actor, &ids, approve).await {
        Ok(done) => {
            let key = if approve {
                "hours-approved"
            } else {
                "hours-declined"
            };
            let notice = crate::web::i18n::t(ctx.lang, key, &[("count", done.len().to_string())]);
            volunteers_page(
                &app,
                &ctx,
                &actor,
                json!({"notice": notice}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn create_activity(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let tz = ctx.tz.clone();
    let start = format!("{}T{}", text("date"), text("time"))
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(tz).ok())
        .map(|z| z.timestamp());
    let hours: i64 = text("hours").parse().unwrap_or(0);
    let capacity: u32 = text("capacity").parse().unwrap_or(0);
    let (Some(start), Ok(community)) = (start, text("community").parse()) else {
        return volunteers_page(
            &app,
            &ctx,
            &actor,
            json!({"error": ctx.t("err-activity-when")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // A case's task handed to volunteers, by the case's public number.
    let case = match text("case").to_ascii_uppercase().as_str() {
        "" => None,
        number => match app.repo.case_by_public_id(number).await {
            Ok(Some(c)) => Some(c.id),
            Ok(None) => {
                return volunteers_page(
                    &app,
                    &ctx,
                    &actor,
                    json!({"error": ctx.t("err-activity-case")}),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            Err(e) => return ctx.app_error(e.into()),
        },
    };
    let new = crate::volunteers::NewActivity {
        title: text("title"),
        description: text("description"),
        community,
        grid: None,
        place: text("place"),
        required_skills: text("skills")
            .split(['、', ',', '，'])
            .map(str::to_owned)
            .collect(),
        shifts: vec![crate::volunteers::NewShift {
            starts_at: start,
            ends_at: start + jiff::SignedDuration::from_hours(hours),
            capacity,
        }],
        case,
    };
    match app.create_activity(&actor, new).await {
        Ok((a, _)) => see_other(&format!("/activities/{}/organise", a.id)),
        Err(AppError::Unprocessable(fields)) => {
            let key = if fields.iter().any(|(f, _)| f == "case") {
                "err-activity-case"
            } else {
                "err-activity"
            };
            volunteers_page(
                &app,
                &ctx,
                &actor,
                json!({"error": ctx.t(key)}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn register_form(State(app): State<App>, ctx: Ctx) -> Response {
    if let Err(r) = signed_in(&ctx) {
        return *r;
    }
    register_page(&app, &ctx, json!({}), StatusCode::OK).await
}

async fn register_page(app: &App, ctx: &Ctx, extra: Value, status: StatusCode) -> Response {
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let mut communities: Vec<Value> = reference
        .region_names
        .iter()
        .filter(|(c, _)| c.level() == civicgrid_domain::territory::RegionLevel::Community)
        .map(|(c, n)| json!({"code": c.as_str(), "name": n}))
        .collect();
    communities.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    let mut v = json!({"communities": communities, "skills": ["急救", "驾驶", "文明劝导", "助老", "心理疏导", "法律咨询", "维修", "摄影"]});
    if let (Some(e), Value::Object(n)) = (v.as_object_mut(), extra) {
        e.extend(n);
    }
    ctx.render_status(status, "volunteer_register.html", v)
}

/// A signed-in account registers itself as a volunteer, with consent.
async fn register(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Err(r) = posted_form(&ctx, &body) {
        return *r;
    }
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let Ok(community) = get("community").parse() else {
        return register_page(
            &app,
            &ctx,
            json!({"error": ctx.t("err-community")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let new = crate::volunteers::NewVolunteer {
        name: get("name"),
        phone: Some(get("phone")).filter(|p| !p.is_empty()),
        community,
        skills: pairs
            .iter()
            .filter(|(k, _)| k == "skill")
            .map(|(_, v)| v.clone())
            .collect(),
        availability: get("availability"),
        consent: get("consent") == "yes",
        username: Some(actor.name().to_owned()),
    };
    match app.register_volunteer(&actor, new).await {
        Ok(_) => see_other("/my"),
        Err(AppError::Unprocessable(fields)) => {
            let message = fields
                .iter()
                .map(|(f, _)| {
                    ctx.t(&format!(
                        "err-volunteer-{}",
                        f.split('.').next().unwrap_or(f)
                    ))
                })
                .collect::<Vec<_>>()
                .join(" ");
            register_page(
                &app,
                &ctx,
                json!({"error": message}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn activity_page(
    app: &App,
    ctx: &Ctx,
    id: &uuid::Uuid,
    notice: Value,
    status: StatusCode,
) -> Response {
    let (a, shifts) = match app.activity_places(id).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let me = match ctx.staff() {
        Some(actor) => app.me_as_volunteer(actor).await.ok().flatten(),
        None => None,
    };
    let organiser = ctx.staff().is_some_and(|actor| {
        reference
            .policy()
            .may_manage_volunteers(actor, &a.region)
            .is_ok()
    });
    let now = app.clock.now();
    let mut extra = json!({
        "id": a.id, "title": a.title, "description": a.description, "place": a.place,
        "community": reference.region_name(&a.region), "code": a.region.as_str(),
        "skills": a.required_skills.join("、"),
        "case": a.case.is_some(),
        "volunteer": me.is_some(),
        "organiser": organiser,
        "shifts": shifts.iter().map(|p| {
            let mine = me.as_ref().and_then(|v| p.placement_of(&v.id));
            json!({
                "id": p.shift.id,
                "starts": ctx.when(p.shift.starts_at),
                "ends": ctx.when(p.shift.ends_at),
                "capacity": p.shift.capacity,
                "confirmed": p.confirmed(),
                "waiting": p.waiting(),
                "open": p.shift.starts_at > now,
                "mine": mine.map(|m| match m {
                    Placement::Confirmed => ctx.t("shift-confirmed"),
                    Placement::Waiting(n) => crate::web::i18n::t(ctx.lang, "shift-waiting", &[("position", n.to_string())]),
                }),
            })
        }).collect::<Vec<_>>(),
    });
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "activity.html", extra)
}

async fn activity(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    activity_page(&app, &ctx, &id, json!({}), StatusCode::OK).await
}

fn volunteer_refusal(ctx: &Ctx, e: &AppError) -> Option<String> {
    let key = match e {
        AppError::Forbidden(m) if m.contains("register as a volunteer") => "err-not-volunteer",
        AppError::Forbidden(m) if m.contains("check-in code") => "err-check-in-code",
        AppError::Conflict(m) if m.contains("asks for") => "err-shift-skills",
        AppError::Conflict(m) if m.contains("already signed up") => "err-shift-twice",
        AppError::Conflict(m) if m.contains("no place on a shift") => "err-no-running-shift",
        AppError::Conflict(_) => "err-shift-changed",
        _ => return None,
    };
    Some(ctx.t(key))
}

async fn shift_action(app: App, ctx: Ctx, id: String, body: Bytes, cancel: bool) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let Some(shift) = f.get("shift").and_then(|s| s.parse::<uuid::Uuid>().ok()) else {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-invalid"));
    };
    let result = if cancel {
        app.cancel_signup(&actor, &shift)
            .await
            .map(|()| ctx.t("shift-cancelled"))
    } else {
        app.sign_up(&actor, &shift).await.map(|p| match p {
            Placement::Confirmed => ctx.t("shift-confirmed"),
            Placement::Waiting(n) => {
                crate::web::i18n::t(ctx.lang, "shift-waiting", &[("position", n.to_string())])
            }
        })
    };
    match result {
        Ok(notice) => {
            activity_page(&app, &ctx, &id, json!({"notice": notice}), StatusCode::OK).await
        }
        Err(e) => match volunteer_refusal(&ctx, &e) {
            Some(m) => activity_page(&app, &ctx, &id, json!({"error": m}), status_of(&e)).await,
            None => ctx.app_error(e),
        },
    }
}

async fn sign_up(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    shift_action(app, ctx, id, body, false).await
}

async fn cancel(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    shift_action(app, ctx, id, body, true).await
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The QR code's target: a page with one button (a scan never changes anything by itself).
async fn check_in_page(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if ctx.staff().is_none() {
        return see_other("/login");
    }
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match app.activity_places(&id).await {
        Ok((a, _)) => ctx.render("check_in.html", json!({"id": a.id, "title": a.title, "place": a.place, "token": q.token.unwrap_or_default()})),
        Err(e) => ctx.app_error(e),
    }
}

async fn check_in(
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
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let token = f.get("token").cloned().unwrap_or_default();
    let (title, place) = match app.activity_places(&id).await {
        Ok((a, _)) => (a.title, a.place),
        Err(e) => return ctx.app_error(e),
    };
    let page = |status: StatusCode, extra: Value| {
        let mut v = json!({"id": id, "title": title, "place": place, "token": token});
        if let (Some(e), Value::Object(n)) = (v.as_object_mut(), extra) {
            e.extend(n);
        }
        ctx.render_status(status, "check_in.html", v)
    };
    match app.scan_check_in(&actor, &id, &token).await {
        Ok(crate::volunteers::Scan::CheckedIn) => {
            page(StatusCode::OK, json!({"done": ctx.t("checked-in")}))
        }
        Ok(crate::volunteers::Scan::CheckedOut { minutes }) => page(
            StatusCode::OK,
            json!({"done": crate::web::i18n::t(ctx.lang, "checked-out", &[("hours", hours_text(u64::from(minutes)))])}),
        ),
        Err(e) => match volunteer_refusal(&ctx, &e) {
            Some(m) => page(status_of(&e), json!({"error": m})),
            None => ctx.app_error(e),
        },
    }
}

/// The organiser's phone page: the check-in QR code and who is signed up, with manual
/// check-in and -out.
async fn organise(
    State(app): State<App>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let origin = origin(&ctx, &headers);
    organise_page(&app, &ctx, &actor, &id, &origin, json!({}), StatusCode::OK).await
}

/// Where the phones that scan the code reach this server: the address the organiser's own
/// browser used.
fn origin(ctx: &Ctx, headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("{}://{host}", if ctx.secure { "https" } else { "http" })
}

#[allow(clippy::too_many_arguments)]
async fn organise_page(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &uuid::Uuid,
    origin: &str,
    notice: Value,
    status: StatusCode,
) -> Response {
    let (a, shifts) = match app.activity_places(id).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    if reference
        .policy()
        .may_manage_volunteers(actor, &a.region)
        .is_err()
    {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let path = format!("/activities/{}/check-in?token={}", a.id, a.check_token);
    let qr = match qrcode::QrCode::new(format!("{origin}{path}").as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    };
    let mut rows = Vec::new();
    for p in &shifts {
        let mut people = Vec::new();
        for (s, place) in &p.signups {
            let name = match app.repo.volunteer(&s.volunteer).await {
                Ok(Some(v)) => v.name,
                _ => s.volunteer.to_string(),
            };
            people.push(json!({
                "volunteer": s.volunteer, "name": name,
                "place": match place { Placement::Confirmed => ctx.t("shift-confirmed"), Placement::Waiting(n) => crate::web::i18n::t(ctx.lang, "shift-waiting", &[("position", n.to_string())]) },
                "in": s.checked_in_at.map(|t| ctx.when(t)), "out": s.checked_out_at.map(|t| ctx.when(t)), "manual": s.manual,
                "confirmed": *place == Placement::Confirmed,
            }));
        }
        rows.push(json!({"id": p.shift.id, "starts": ctx.when(p.shift.starts_at), "ends": ctx.when(p.shift.ends_at), "people": people}));
    }
    let mut extra = json!({"id": a.id, "title": a.title, "place": a.place, "qr": qr, "link": path, "shifts": rows});
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "organise.html", extra)
}

async fn attendance(
    State(app): State<App>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let origin = origin(&ctx, &headers);
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let (Some(shift), Some(volunteer)) = (
        f.get("shift").and_then(|s| s.parse::<uuid::Uuid>().ok()),
        f.get("volunteer")
            .and_then(|s| s.parse::<uuid::Uuid>().ok()),
    ) else {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-invalid"));
    };
    match app.attend_by_hand(&actor, &shift, &volunteer, None).await {
        Ok(_) => {
            organise_page(
                &app,
                &ctx,
                &actor,
                &id,
                &origin,
                json!({"notice": ctx.t("attendance-recorded")}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => match volunteer_refusal(&ctx, &e) {
            Some(m) => {
                organise_page(
                    &app,
                    &ctx,
                    &actor,
                    &id,
                    &origin,
                    json!({"error": m}),
                    status_of(&e),
                )
                .await
            }
            None => ctx.app_error(e),
        },
    }
}

/// The printable service-record certificate (志愿服务记录证明).
async fn certificate(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let id = match id_of(&ctx, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match app.certificate(&actor, &id).await {
        Ok(c) => ctx.render(
            "certificate.html",
            json!({
                "number": c.number, "name": c.volunteer_name, "volunteer_number": c.volunteer_number,
                "registered_with": c.registered_with, "issued_by": c.issued_by, "issued_on": c.issued_on.to_string(),
                "total": hours_text(c.total_minutes),
                "lines": c.lines.iter().map(|l| json!({"day": l.day.to_string(), "content": l.content, "place": l.place, "hours": hours_text(u64::from(l.minutes)), "by": l.certified_by})).collect::<Vec<_>>(),
            }),
        ),
        Err(e) => ctx.app_error(e),
    }
}
