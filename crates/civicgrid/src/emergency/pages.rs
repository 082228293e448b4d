//! The emergency pages: `/emergency` (incidents, plans, the units' response figures, the
//! declaration form and plan upload), a plan, an incident's live board (refreshing itself,
//! with the commander's controls), a grid worker's page for one grid (acknowledge, report —
//! made for a phone), and the after-action record (printable, and as CSV).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::emergency::{Area, Level};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::GridCode;
use serde_json::{Value, json};

use super::{GridReportInput, NeedInput, NewIncident};
use crate::App;
use crate::error::AppError;
use crate::web::svg::{MapGrid, MapText, grid_map};
use crate::web::{Ctx, Pages, form_map, form_with_file, posted_form, see_other};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("emergency.html", include_str!("templates/emergency.html")),
    (
        "emergency_plan.html",
        include_str!("templates/emergency_plan.html"),
    ),
    (
        "incident_board.html",
        include_str!("templates/incident_board.html"),
    ),
    (
        "incident_grid.html",
        include_str!("templates/incident_grid.html"),
    ),
    (
        "incident_record.html",
        include_str!("templates/incident_record.html"),
    ),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/emergency", get(overview))
        .route(
            "/emergency/plans",
            post(upload_plans).layer(DefaultBodyLimit::max(2 * 1024 * 1024)),
        )
        .route("/emergency/plans/{code}", get(plan_page))
        .route("/emergency/plans/{code}/export", get(plan_export))
        .route("/emergency/incidents", post(declare))
        .route("/emergency/incidents/{id}", get(board_page))
        .route("/emergency/incidents/{id}/act", post(act))
        .route(
            "/emergency/incidents/{id}/grids/{grid}",
            get(grid_page).post(grid_act),
        )
        .route("/emergency/incidents/{id}/record", get(record_page))
        .route("/emergency/incidents/{id}/record.csv", get(record_csv))
}

/// The signed-in actor with a part in emergency response, or the page to answer with.
async fn responder(app: &App, ctx: &Ctx) -> Result<Actor, Box<Response>> {
    let Some(actor) = ctx.staff() else {
        return Err(Box::new(see_other("/login")));
    };
    let reference = app
        .reference()
        .await
        .map_err(|e| Box::new(ctx.app_error(e)))?;
    reference
        .policy()
        .may_use_emergency(actor)
        .map_err(|m| Box::new(ctx.app_error(AppError::Forbidden(m))))?;
    Ok(actor.clone())
}

/// A field of a form named as the form names it (`needs[0].text` → 需求).
fn field_label(ctx: &Ctx, field: &str) -> String {
    let root = field.split(['[', '.']).next().unwrap_or(field);
    ctx.t(&format!("emergency-field-{}", root.replace('_', "-")))
}

/// A field's problem in the reader's language: the service's words are English, so a
/// Chinese page names the field and asks to check it.
fn field_problem(ctx: &Ctx, field: &str, message: &str) -> String {
    if ctx.lang == "en" {
        format!("{}: {message}", field_label(ctx, field))
    } else {
        format!(
            "{}：{}",
            field_label(ctx, field),
            ctx.t("emergency-check-field")
        )
    }
}

/// A refusal shown on the board or the grid page.
fn problem_text(ctx: &Ctx, e: &AppError) -> String {
    match e {
        AppError::Unprocessable(p) => p
            .iter()
            .map(|(f, m)| field_problem(ctx, f, m))
            .collect::<Vec<_>>()
            .join("; "),
        other if ctx.lang == "en" => other.to_string(),
        _ => ctx.t("emergency-not-now"),
    }
}

/// What an event of the incident's log recorded, told in the reader's language.
fn detail_text(ctx: &Ctx, action: &str, body: &Value) -> String {
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let number = |k: &str| body[k].as_i64().unwrap_or_default().to_string();
    let t = |key: &str, a: Vec<(&str, String)>| crate::web::i18n::t(ctx.lang, key, &a);
    match action {
        "declare" => t("incident-detail-declare", vec![("grids", number("grids"))]),
        "activate" | "raise" | "lower" => t(
            "incident-detail-level",
            vec![
                ("to", text("to")),
                ("created", number("created")),
                ("cancelled", number("cancelled")),
            ],
        ),
        "acknowledge" => t(
            "incident-detail-acknowledge",
            vec![("minutes", number("minutes_after_activation"))],
        ),
        "report" => t(
            "incident-detail-report",
            vec![
                ("households", number("households_checked")),
                ("transferred", number("people_transferred")),
                (
                    "needs",
                    body["needs"].as_array().map_or(0, Vec::len).to_string(),
                ),
            ],
        ),
        "task_done" => t(
            "incident-detail-task",
            vec![("title", text("title")), ("late", number("late_minutes"))],
        ),
        "need_case" => format!("{}（{}）", text("text"), text("receipt")),
        "need_call" => t(
            "incident-detail-call",
            vec![("text", text("text")), ("matched", number("matched"))],
        ),
        "need_closed" => format!("{}：{}", text("text"), text("note")),
        "sitrep" => text("text"),
        "sitrep_reminder" => t(
            "incident-detail-reminder",
            vec![("period", number("period"))],
        ),
        "lift" => t(
            "incident-detail-lift",
            vec![("reason", text("reason")), ("closed", number("closed"))],
        ),
        _ => String::new(),
    }
}

fn level_json(level: Option<&str>) -> Value {
    match level.and_then(Level::parse) {
        Some(l) => json!({"code": l.as_str(), "name": l.name_zh(), "colour": l.colour()}),
        None => Value::Null,
    }
}

fn incident_json(ctx: &Ctx, i: &civicgrid_store::IncidentRecord) -> Value {
    json!({
        "number": i.number,
        "title": i.title,
        "kind": ctx.t(&format!("incident-kind-{}", i.kind.replace('_', "-"))),
        "status": i.status,
        "status_text": ctx.t(&format!("incident-status-{}", i.status)),
        "level": level_json(i.level.as_deref()),
        "exercise": i.exercise,
        "grids": i.grids.len(),
        "declared": ctx.when(i.declared_at),
        "activated": i.activated_at.map(|t| ctx.when(t)),
        "lifted": i.lifted_at.map(|t| ctx.when(t)),
        "lift_reason": i.lift_reason,
        "commander": i.commander,
        "plan": i.plan_code,
        "plan_title": super::plan_from(&i.plan_body).map(|p| p.title).unwrap_or_else(|_| i.plan_code.clone()),
        "period": i.period_minutes,
    })
}

async fn overview(State(app): State<App>, ctx: Ctx) -> Response {
    overview_page(&app, &ctx, json!({}), StatusCode::OK).await
}

async fn overview_page(app: &App, ctx: &Ctx, extra: Value, status: StatusCode) -> Response {
    let actor = match responder(app, ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let result = async {
        let incidents = app.incidents_for(&actor).await?;
        let plans = app.emergency_plans(&actor).await?;
        let responses = app.unit_responses(&actor).await?;
        let grids = app.repo.grids(None).await?;
        Ok::<_, AppError>((incidents, plans, responses, grids))
    }
    .await;
    let (incidents, plans, responses, grids) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let commands = reference.policy().may_keep_plans(&actor).is_ok();
    // Grids by community, for picking the affected area.
    let mut communities: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for g in &grids {
        communities
            .entry(reference.region_name(&g.region))
            .or_default()
            .push(json!({"code": g.code.as_str(), "name": g.name}));
    }
    // The map to pick the affected grids on (a click ticks a grid's box; see app.js).
    let pick: Vec<MapGrid<'_>> = grids
        .iter()
        .map(|g| MapGrid {
            fill: None,
            code: g.code.as_str(),
            name: &g.name,
            community: reference.region_names.get(&g.region).map(String::as_str),
            geometry: &g.geometry,
            shade: None,
            note: String::new(),
            href: None,
        })
        .collect();
    let pick_map = grid_map(
        &pick,
        &[],
        &MapText {
            title: &ctx.t("emergency-map-pick"),
            legend: vec![
                ("outline", ctx.t("legend-grid")),
                ("picked", ctx.t("emergency-picked")),
            ],
            skip: None,
        },
    );
    let mut out = json!({
        "pick_map": pick_map,
        "active": incidents.iter().filter(|i| i.status != "lifted").map(|i| incident_json(ctx, i)).collect::<Vec<_>>(),
        "past": incidents.iter().filter(|i| i.status == "lifted").map(|i| incident_json(ctx, i)).collect::<Vec<_>>(),
        "plans": plans.iter().map(|(r, p)| json!({
            "code": r.code, "title": r.title,
            "kind": ctx.t(&format!("incident-kind-{}", r.kind.replace('_', "-"))),
            "version": r.version,
            "tasks": Level::ALL.iter().map(|l| p.tasks.iter().filter(|t| t.level == *l).count()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "responses": responses,
        "commands": commands,
        "levels": Level::ALL.iter().map(|l| json!({"code": l.as_str(), "name": l.name_zh()})).collect::<Vec<_>>(),
        "communities": communities.into_iter().map(|(name, grids)| json!({"name": name, "grids": grids})).collect::<Vec<_>>(),
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    ctx.render_status(status, "emergency.html", out)
}

async fn upload_plans(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Err(e) = app.reference().await.and_then(|r| {
        r.policy()
            .may_keep_plans(&actor)
            .map_err(AppError::Forbidden)
    }) {
        return ctx.app_error(e);
    }
    let (fields, file) = match form_with_file(&mut multipart, "file").await {
        Ok(f) => f,
        Err(status) => return ctx.error(status, &ctx.t("err-invalid")),
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let outcome: Result<String, String> = async {
        let Some((_, bytes)) = file else {
            return Err(ctx.t("emergency-upload-none"));
        };
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(ctx.t("emergency-upload-not-text"));
        };
        // A CSV of plans opens with its header; anything else is read as a TOML plan.
        let first = text.trim_start_matches('\u{feff}').trim_start();
        let name = if first.starts_with("plan,") {
            "plans.csv"
        } else {
            "plan.toml"
        }
        .to_owned();
        let plans = super::cli::read_plan_files(&[(name, text)]).map_err(|problems| {
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        match app.save_emergency_plans(&actor, plans).await {
            Ok(saved) => Ok(saved
                .iter()
                .map(|p| format!("{} v{}", p.code, p.version))
                .collect::<Vec<_>>()
                .join("、")),
            Err(AppError::Unprocessable(p)) => Err(p
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("\n")),
            Err(e) => Err(e.to_string()),
        }
    }
    .await;
    match outcome {
        Ok(uploaded) => {
            overview_page(&app, &ctx, json!({"uploaded": uploaded}), StatusCode::OK).await
        }
        Err(message) => {
            overview_page(
                &app,
                &ctx,
                json!({"upload_error": message}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn plan_page(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (r, plan) = match app.emergency_plan(&actor, &code).await {
        Ok(p) => p,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let to = |a: &civicgrid_domain::emergency::Addressee| match a {
        civicgrid_domain::emergency::Addressee::Unit(u) => reference.unit_name(u),
        civicgrid_domain::emergency::Addressee::Role(r) => {
            reference.roles.iter().find(|x| &x.code == r).map_or_else(
                || r.clone(),
                |x| {
                    if ctx.lang == "en" {
                        x.name_en.clone()
                    } else {
                        x.name_zh.clone()
                    }
                },
            )
        }
        civicgrid_domain::emergency::Addressee::GridWorkers => ctx.t("emergency-to-grid-workers"),
    };
    let grid_name = |g: &Option<GridCode>| {
        g.as_ref()
            .map(|g| reference.place_name(g))
            .unwrap_or_default()
    };
    let levels: Vec<Value> = Level::ALL
        .iter()
        .map(|l| {
            json!({
                "level": level_json(Some(l.as_str())),
                "tasks": plan.tasks.iter().filter(|t| t.level == *l).map(|t| json!({
                    "key": t.key, "title": t.title, "to": to(&t.addressee),
                    "due": t.due_after.as_mins(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    ctx.render(
        "emergency_plan.html",
        json!({
            "code": r.code, "title": r.title, "version": r.version,
            "kind": ctx.t(&format!("incident-kind-{}", r.kind.replace('_', "-"))),
            "updated": ctx.when(r.updated_at), "updated_by": r.updated_by,
            "levels": levels,
            "contacts": plan.contacts.iter().map(|c| json!({"name": c.name, "role": c.role, "phone": c.phone, "grid": grid_name(&c.grid)})).collect::<Vec<_>>(),
            "resources": plan.resources.iter().map(|x| json!({"name": x.name, "quantity": x.quantity, "unit": x.unit, "grid": grid_name(&x.grid)})).collect::<Vec<_>>(),
            "shelters": plan.shelters.iter().map(|s| json!({"name": s.name, "capacity": s.capacity, "address": s.address, "grid": reference.place_name(&s.grid)})).collect::<Vec<_>>(),
        }),
    )
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

async fn plan_export(
    State(app): State<App>,
    ctx: Ctx,
    Path(code): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (_, plan) = match app.emergency_plan(&actor, &code).await {
        Ok(p) => p,
        Err(e) => return ctx.app_error(e),
    };
    let (written, kind, ext) = match q.format.as_deref() {
        Some("csv") => (
            super::plan_file::write_plans_csv(std::slice::from_ref(&plan)),
            "text/csv; charset=utf-8",
            "csv",
        ),
        _ => (
            super::plan_file::write_plan(&plan),
            "application/toml; charset=utf-8",
            "toml",
        ),
    };
    match written {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, kind.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.{ext}\"", plan.code),
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => ctx.app_error(AppError::Invalid(e)),
    }
}

/// The declaration form: title, plan, level, drill, period, and the area as picked grids, a
/// circle (point and radius) or a polygon (one "lon,lat" per line).
async fn declare(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Err(e) = app.reference().await.and_then(|r| {
        r.policy()
            .may_keep_plans(&actor)
            .map_err(AppError::Forbidden)
    }) {
        return ctx.app_error(e);
    }
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    if let Err(r) = posted_form(&ctx, &body) {
        return *r;
    }
    let f = form_map(&pairs);
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let number = |k: &str| text(k).parse::<f64>().ok();
    let area = match text("area").as_str() {
        "circle" => Area::Circle {
            lon: number("lon").unwrap_or(f64::NAN),
            lat: number("lat").unwrap_or(f64::NAN),
            radius_m: number("radius").unwrap_or(0.0),
        },
        "polygon" => Area::Polygon {
            ring: text("ring")
                .lines()
                .filter_map(|l| {
                    let (x, y) = l.split_once(',')?;
                    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
                })
                .collect(),
        },
        _ => Area::Grids {
            grids: pairs
                .iter()
                .filter(|(k, _)| k == "grid")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
        },
    };
    let new = NewIncident {
        title: text("title"),
        plan: text("plan"),
        level: Some(text("level")).filter(|l| !l.is_empty()),
        exercise: f.contains_key("exercise"),
        commander: Some(text("commander")).filter(|c| !c.is_empty()),
        area,
        period_minutes: text("period").parse().ok(),
    };
    match app.declare_incident(&actor, new).await {
        Ok(i) => see_other(&format!("/emergency/incidents/{}", i.number)),
        Err(AppError::Unprocessable(p)) => {
            overview_page(
                &app,
                &ctx,
                json!({"declare_errors": p.iter().map(|(f, m)| field_problem(&ctx, f, m)).collect::<Vec<_>>()}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn board_page(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    board(&app, &ctx, &id, json!({}), StatusCode::OK).await
}

async fn board(app: &App, ctx: &Ctx, id: &str, extra: Value, status: StatusCode) -> Response {
    let actor = match responder(app, ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let b = match app.incident_board(&actor, id).await {
        Ok(b) => b,
        Err(e) => return ctx.app_error(e),
    };
    let result = async {
        let reference = app.reference().await?;
        let l = app.load_incident(id).await?;
        let mine = app.my_incident_grids(&actor, &l).await?;
        let grids = app.repo.grids(None).await?;
        Ok::<_, AppError>((reference, l, mine, grids))
    }
    .await;
    let (reference, l, mine, outlines) = match result {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let policy = reference.policy();
    let commands = super::parse_region(&l.incident.region)
        .map(|r| policy.may_command_incident(&actor, &r).is_ok())
        .unwrap_or(false);
    // Whether the reader may mark a task done (its addressee, or the commander).
    let region = super::parse_region(&l.incident.region).ok();
    let may_finish = |target: &str| {
        let (kind, code) = target.split_once(':').unwrap_or(("", target));
        let target = match kind {
            "unit" => civicgrid_domain::emergency::Target::Unit(code.to_owned()),
            "role" => civicgrid_domain::emergency::Target::Role(code.to_owned()),
            _ => match code.parse::<GridCode>() {
                Ok(g) => civicgrid_domain::emergency::Target::Grid(g),
                Err(_) => return false,
            },
        };
        let grid_region = match &target {
            civicgrid_domain::emergency::Target::Grid(g) => reference.grid_regions.get(g),
            _ => None,
        };
        region.as_ref().is_some_and(|r| {
            policy
                .may_finish_task(&actor, &target, r, grid_region)
                .is_ok()
        })
    };
    let state_of = |code: &str| b.grids.iter().find(|g| g.grid == code);
    let map: Vec<MapGrid<'_>> = outlines
        .iter()
        .filter(|g| l.grids.contains(&g.code))
        .map(|g| {
            let s = state_of(g.code.as_str());
            MapGrid {
                fill: Some(match s.map(|s| s.state.as_str()) {
                    Some("reported") => "#a9dfbf",
                    Some("acknowledged") => "#f9e79f",
                    _ => "#f5b7b1",
                }),
                code: g.code.as_str(),
                name: &g.name,
                community: reference.region_names.get(&g.region).map(String::as_str),
                geometry: &g.geometry,
                shade: None,
                note: s
                    .map(|s| ctx.t(&format!("grid-state-{}", s.state)))
                    .unwrap_or_default(),
                href: Some(format!(
                    "/emergency/incidents/{}/grids/{}",
                    l.incident.number, g.code
                )),
            }
        })
        .collect();
    let svg = grid_map(
        &map,
        &[],
        &MapText {
            title: &ctx.t("board-map-title"),
            legend: vec![
                ("silent", ctx.t("grid-state-silent")),
                ("acknowledged", ctx.t("grid-state-acknowledged")),
                ("reported", ctx.t("grid-state-reported")),
            ],
            skip: Some(ctx.t("map-skip")),
        },
    );
    // Tasks grouped by addressee, units first.
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for t in &b.tasks {
        let row = json!({
            "key": t.key, "target": t.target, "title": t.title, "level": t.level,
            "due": ctx.when(t.due_at), "status": t.status,
            "status_text": ctx.t(&format!("task-status-{}", t.status)),
            "overdue": t.overdue, "reason": t.reason,
            "ended": t.ended_at.map(|x| ctx.when(x)),
            "may_finish": may_finish(&t.target),
        });
        match groups.iter_mut().find(|(n, _)| n == &t.target_name) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((t.target_name.clone(), vec![row])),
        }
    }
    let mut out = json!({
        "incident": incident_json(ctx, &l.incident),
        "figures": b.figures,
        "since": b.minutes_since_activation.map(|m| format!("{}:{:02}", m / 60, m % 60)),
        "map": svg,
        "grids": b.grids.iter().map(|g| json!({
            "code": g.grid, "name": g.name, "state": g.state,
            "state_text": ctx.t(&format!("grid-state-{}", g.state)),
            "households": g.households_checked, "transferred": g.people_transferred,
            "needs": g.needs_open, "reported": g.reported_at.map(|t| ctx.when(t)),
            "mine": mine.iter().any(|m| m.as_str() == g.grid),
        })).collect::<Vec<_>>(),
        "mine": mine.iter().map(|g| json!({"code": g.as_str(), "name": reference.place_name(g)})).collect::<Vec<_>>(),
        "task_groups": groups.into_iter().map(|(name, rows)| json!({"name": name, "tasks": rows})).collect::<Vec<_>>(),
        "needs": b.needs.iter().map(|n| json!({
            "id": n.id, "grid": n.grid_name, "text": n.text, "skills": n.skills.join("、"),
            "status": n.status, "status_text": ctx.t(&format!("need-status-{}", n.status)),
            "open": n.status == "open", "case": n.case_id, "activity": n.activity_id,
        })).collect::<Vec<_>>(),
        "sitreps": b.sitreps,
        "latest": b.latest_sitrep.as_ref().map(|s| json!({"number": s.number, "at": ctx.when(s.at), "author": s.author, "text": s.text, "figures": s.figures})),
        "next_due": b.next_sitrep_due.map(|t| ctx.when(t)),
        "sitrep_overdue": b.sitrep_overdue,
        "commands": commands,
        "active": l.incident.status == "active",
        "lifted": l.incident.status == "lifted",
        "levels": Level::ALL.iter().map(|lv| json!({"code": lv.as_str(), "name": lv.name_zh(), "current": l.incident.level.as_deref() == Some(lv.as_str())})).collect::<Vec<_>>(),
        "refresh": l.incident.status != "lifted",
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    ctx.render_status(status, "incident_board.html", out)
}

/// The commander's and addressees' actions on the board, one form each: `action` is level,
/// lift, sitrep, task_done, need_case, need_call or need_close.
async fn act(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let need = || {
        text("need")
            .parse::<uuid::Uuid>()
            .map_err(|_| AppError::NotFound("need".into()))
    };
    let done: Result<String, AppError> = match text("action").as_str() {
        "level" => match super::level_of(&text("level")) {
            Ok(level) => app.set_incident_level(&actor, &id, level).await.map(|c| {
                ctx.t(if c.changed {
                    "board-level-changed"
                } else {
                    "board-level-same"
                })
            }),
            Err(e) => Err(e),
        },
        "lift" => app
            .lift_incident(&actor, &id, &text("reason"))
            .await
            .map(|_| ctx.t("board-lifted")),
        "sitrep" => app
            .write_sitrep(&actor, &id, &text("text"))
            .await
            .map(|_| ctx.t("board-sitrep-written")),
        "task_done" => app
            .finish_incident_task(&actor, &id, &text("task"), &text("target"), &text("note"))
            .await
            .map(|_| ctx.t("board-task-done")),
        "need_case" => match need() {
            Ok(n) => app
                .need_to_case(&actor, &id, &n)
                .await
                .map(|c| format!("{} {}", ctx.t("board-need-case"), c.public_id)),
            Err(e) => Err(e),
        },
        "need_call" => match need() {
            Ok(n) => app
                .need_to_volunteer_call(&actor, &id, &n, text("places").parse().unwrap_or(5))
                .await
                .map(|c| format!("{} {}", ctx.t("board-need-call"), c.matched.len())),
            Err(e) => Err(e),
        },
        "need_close" => match need() {
            Ok(n) => app
                .close_need(&actor, &id, &n, &text("note"))
                .await
                .map(|_| ctx.t("board-need-closed")),
            Err(e) => Err(e),
        },
        _ => Err(AppError::Unprocessable(vec![(
            "action".into(),
            "unknown action".into(),
        )])),
    };
    match done {
        Ok(notice) => board(&app, &ctx, &id, json!({"notice": notice}), StatusCode::OK).await,
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            let status = crate::web::status_of(&e);
            let message = problem_text(&ctx, &e);
            board(&app, &ctx, &id, json!({"error": message}), status).await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn grid_page(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, grid)): Path<(String, String)>,
) -> Response {
    grid_view(&app, &ctx, &id, &grid, json!({}), StatusCode::OK).await
}

async fn grid_view(
    app: &App,
    ctx: &Ctx,
    id: &str,
    grid: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let actor = match responder(app, ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let b = match app.incident_board(&actor, id).await {
        Ok(b) => b,
        Err(e) => return ctx.app_error(e),
    };
    let Some(g) = b.grids.iter().find(|g| g.grid == grid) else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let may_respond = grid
        .parse::<GridCode>()
        .ok()
        .and_then(|c| reference.grid_regions.get(&c).cloned())
        .is_some_and(|r| reference.policy().may_respond_in(&actor, &r).is_ok());
    let mine_acked = g.acknowledged_by.iter().any(|u| u == actor.name());
    let record = match app.incident_record(id).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let tasks: Vec<Value> = b
        .tasks
        .iter()
        .filter(|t| t.target == format!("grid:{grid}"))
        .map(|t| json!({"key": t.key, "target": t.target, "title": t.title, "due": ctx.when(t.due_at), "status": t.status, "status_text": ctx.t(&format!("task-status-{}", t.status)), "overdue": t.overdue}))
        .collect();
    let mut out = json!({
        "incident": incident_json(ctx, &record),
        "grid": {"code": g.grid, "name": g.name, "state": g.state, "state_text": ctx.t(&format!("grid-state-{}", g.state)),
                 "households": g.households_checked, "transferred": g.people_transferred, "needs": g.needs_open,
                 "reported": g.reported_at.map(|t| ctx.when(t))},
        "tasks": tasks,
        "may_respond": may_respond && b.incident.status == "active",
        "acknowledged": mine_acked,
        "needs": b.needs.iter().filter(|n| n.grid == grid).map(|n| json!({"text": n.text, "status_text": ctx.t(&format!("need-status-{}", n.status))})).collect::<Vec<_>>(),
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    ctx.render_status(status, "incident_grid.html", out)
}

/// A grid worker's acknowledgement (`action=acknowledge`) or report (`action=report`, with
/// the figures and one need per line, `skills` after a `#`: 独居老人需转移 #急救).
async fn grid_act(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, grid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let done = match text("action").as_str() {
        "acknowledge" => app
            .acknowledge_incident(&actor, &id, &grid)
            .await
            .map(|_| ctx.t("grid-acknowledged")),
        "report" => {
            let count = |k: &str| -> Result<u32, AppError> {
                let v = text(k);
                if v.is_empty() {
                    return Ok(0);
                }
                v.parse().map_err(|_| {
                    AppError::Unprocessable(vec![(
                        k.to_owned(),
                        format!("`{v}` is not a whole number"),
                    )])
                })
            };
            match (count("households_checked"), count("people_transferred")) {
                (Ok(h), Ok(p)) => {
                    let needs = text("needs")
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            let mut parts = l.split('#');
                            let text = parts.next().unwrap_or("").trim().to_owned();
                            NeedInput {
                                text,
                                skills: parts
                                    .map(|s| s.trim().to_owned())
                                    .filter(|s| !s.is_empty())
                                    .collect(),
                            }
                        })
                        .collect();
                    let input = GridReportInput {
                        households_checked: h,
                        people_transferred: p,
                        note: text("note"),
                        needs,
                    };
                    app.report_for_grid(&actor, &id, &grid, input)
                        .await
                        .map(|_| ctx.t("grid-reported"))
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        _ => Err(AppError::Unprocessable(vec![(
            "action".into(),
            "unknown action".into(),
        )])),
    };
    match done {
        Ok(notice) => {
            grid_view(
                &app,
                &ctx,
                &id,
                &grid,
                json!({"notice": notice}),
                StatusCode::OK,
            )
            .await
        }
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            let status = crate::web::status_of(&e);
            let message = problem_text(&ctx, &e);
            grid_view(&app, &ctx, &id, &grid, json!({"error": message}), status).await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn record_page(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let r = match app.after_action(&actor, &id).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let l = match app.load_incident(&id).await {
        Ok(l) => l,
        Err(e) => return ctx.app_error(e),
    };
    let minutes = |m: Option<i64>| m.map(|m| format!("{}:{:02}", m / 60, m.rem_euclid(60)));
    // People by the names they go by.
    let names: std::collections::HashMap<String, String> = match app.repo.users().await {
        Ok(users) => users
            .into_iter()
            .map(|u| (u.username, u.display_name))
            .collect(),
        Err(e) => return ctx.app_error(e.into()),
    };
    let name = |u: &str| names.get(u).cloned().unwrap_or_else(|| u.to_owned());
    let events = match app.repo.incident_events(&l.incident.id).await {
        Ok(e) => e,
        Err(e) => return ctx.app_error(e.into()),
    };
    let body_of = |seq: u64| {
        events
            .iter()
            .find(|e| e.seq == seq)
            .map(|e| e.body.clone())
            .unwrap_or_default()
    };
    let mut incident = incident_json(&ctx, &l.incident);
    incident["commander"] = json!(name(&l.incident.commander));
    ctx.render(
        "incident_record.html",
        json!({
            "incident": incident,
            "duration": minutes(r.duration_minutes),
            "slowest_ack": r.slowest_acknowledgement_minutes,
            "figures": r.figures,
            "timeline": r.timeline.iter().map(|e| json!({
                "at": ctx.when(e.at), "minute": e.minute,
                "actor": if e.actor == "platform" { ctx.t("incident-platform") } else { name(&e.actor) },
                "action": ctx.t(&format!("incident-action-{}", e.action.replace('_', "-"))),
                "grid": e.grid_name, "detail": detail_text(&ctx, &e.action, &body_of(e.seq)),
            })).collect::<Vec<_>>(),
            "tasks": r.tasks.iter().map(|t| json!({
                "title": t.task.title, "to": t.task.target_name, "level": t.task.level,
                "due": ctx.when(t.task.due_at), "ended": t.task.ended_at.map(|x| ctx.when(x)),
                "status_text": ctx.t(&format!("task-status-{}", t.task.status)),
                "delay": t.delay_minutes, "late": t.delay_minutes.is_some_and(|d| d > 0),
            })).collect::<Vec<_>>(),
            "silent": r.never_acknowledged.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
            "needs": r.needs.iter().map(|n| json!({
                "text": n.need.text, "grid": n.need.grid_name,
                "status_text": ctx.t(&format!("need-status-{}", n.need.status)),
                "raised": ctx.when(n.need.raised_at), "met": n.met,
            })).collect::<Vec<_>>(),
            "needs_met": r.needs.iter().filter(|n| n.met).count(),
            "sitreps": r.sitreps.iter().map(|s| json!({"number": s.number, "at": ctx.when(s.at), "author": name(&s.author), "text": s.text})).collect::<Vec<_>>(),
        }),
    )
}

async fn record_csv(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let actor = match responder(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let r = match app.after_action(&actor, &id).await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    match super::record::record_csv(&r) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}-record.csv\"", r.incident.number),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => ctx.app_error(e),
    }
}
