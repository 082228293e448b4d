//! The party-building pages: `/party` (organisations as a tree, alliances and their
//! commitments, members where the reader may see membership, home-community registrations to
//! decide, CSV import and export) and `/my`, the phone page of a member or volunteer: their
//! households (due first), the wish they hold and the wishes of their communities, their
//! shifts and hours, and the home-community registration.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::access::Permission;
use civicgrid_domain::party::Organisation;
use civicgrid_domain::policy::Actor;
use civicgrid_domain::wish::WishStatus;
use serde_json::{Value, json};

use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, form_map, form_with_file, posted_form, see_other};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("party.html", include_str!("templates/party.html")),
    ("mine.html", include_str!("templates/mine.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/party", get(party))
        .route(
            "/party/import",
            post(import).layer(DefaultBodyLimit::max(2 * 1024 * 1024)),
        )
        .route("/party/export/{kind}", get(export))
        .route("/party/members/{id}/home", post(decide_home))
        .route("/my", get(mine))
        .route("/my/home", post(apply_home))
}

fn signed_in(ctx: &Ctx) -> Result<&Actor, Box<Response>> {
    ctx.staff().ok_or_else(|| Box::new(see_other("/login")))
}

/// The organisations as an indented list, parents before children.
fn tree(
    orgs: &[Organisation],
    ctx: &Ctx,
    names: &dyn Fn(&civicgrid_domain::territory::RegionCode) -> String,
) -> Vec<Value> {
    fn walk(
        orgs: &[Organisation],
        parent: Option<&str>,
        depth: usize,
        out: &mut Vec<(usize, Organisation)>,
    ) {
        for o in orgs.iter().filter(|o| {
            o.parent.as_deref() == parent
                || (parent.is_none()
                    && o.parent
                        .as_ref()
                        .is_some_and(|p| !orgs.iter().any(|x| &x.code == p)))
        }) {
            out.push((depth, o.clone()));
            walk(orgs, Some(&o.code), depth + 1, out);
        }
    }
    let mut flat = Vec::new();
    walk(orgs, None, 0, &mut flat);
    flat.into_iter()
        .map(|(depth, o)| {
            json!({
                "depth": depth.min(5),
                "code": o.code,
                "name": o.name,
                "kind": ctx.t(&format!("org-kind-{}", o.kind.as_str())),
                "region": names(&o.region),
                "grid": o.grid.as_ref().map(|g| g.to_string()),
            })
        })
        .collect()
}

async fn party_page(
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
    let policy = reference.policy();
    let mut readable = policy.regions_with(actor, Permission::PartyRead);
    readable.extend(policy.regions_with(actor, Permission::PartyManage));
    readable.sort();
    readable.dedup_by(|b, a| a.contains(b));
    if readable.is_empty() {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let managed = policy.regions_with(actor, Permission::PartyManage);
    let (orgs, alliances) = match (app.organisations_for(actor).await, app.alliances().await) {
        (Ok(o), Ok(a)) => (o, a),
        (Err(e), _) | (_, Err(e)) => return ctx.app_error(e),
    };
    // The tree where the reader works: the organisations of their regions, and those above
    // them for context.
    // Names come from the whole tree (an applicant's branch may lie elsewhere).
    let all_orgs = orgs.clone();
    let orgs: Vec<Organisation> = orgs
        .into_iter()
        .filter(|o| {
            readable
                .iter()
                .any(|r| r.contains(&o.region) || o.region.contains(r))
        })
        .collect();
    let alliances: Vec<civicgrid_domain::party::Alliance> = alliances
        .into_iter()
        .filter(|a| {
            readable
                .iter()
                .any(|r| r.contains(&a.region) || a.region.contains(r))
        })
        .collect();
    let names = |r: &civicgrid_domain::territory::RegionCode| reference.region_name(r);
    let mut members = Vec::new();
    let mut waiting = Vec::new();
    for region in &readable {
        match app.members_for(actor, region).await {
            Ok(list) => members.extend(list),
            Err(e) => return ctx.app_error(e),
        }
    }
    for region in &managed {
        if let Ok(list) = app.home_applications_for(actor, region).await {
            waiting.extend(list);
        }
    }
    let org_name = |code: &str| {
        all_orgs
            .iter()
            .find(|o| o.code == code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let member_rows: Vec<Value> = members
        .iter()
        .map(|r| {
            let m = &r.member;
            json!({
                "id": m.id, "name": m.name, "organisation": org_name(&m.organisation), "duty": m.duty,
                "in_service": m.in_service, "employer": m.employer_unit,
                "home": m.home.as_ref().map(|h| json!({"community": names(&h.community), "status": ctx.t(&format!("home-{}", h.status.as_str()))})),
                "account": m.username,
            })
        })
        .collect();
    let waiting_rows: Vec<Value> = waiting
        .iter()
        .filter_map(|r| {
            let h = r.member.home.as_ref()?;
            Some(json!({"id": r.member.id, "name": r.member.name, "organisation": org_name(&r.member.organisation),
                "employer": r.member.employer_unit, "community": names(&h.community)}))
        })
        .collect();
    let alliance_rows: Vec<Value> = alliances
        .iter()
        .map(|a| {
            json!({"code": a.code, "name": a.name, "region": names(&a.region), "partners": a.partners.iter().map(|p| json!({
                "kind": ctx.t(&format!("partner-{}", p.kind.as_str())),
                "name": match p.kind {
                    civicgrid_domain::party::PartnerKind::Organisation => org_name(&p.reference),
                    civicgrid_domain::party::PartnerKind::Unit => reference.unit_name(&p.reference),
                    civicgrid_domain::party::PartnerKind::Company => p.reference.clone(),
                },
                "commitment": p.commitment,
            })).collect::<Vec<_>>()})
        })
        .collect();
    let mut extra = json!({
        "tree": tree(&orgs, ctx, &names),
        "alliances": alliance_rows,
        "members": member_rows,
        "waiting": waiting_rows,
        "manages": !managed.is_empty(),
    });
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "party.html", extra)
}

async fn party(State(app): State<App>, ctx: Ctx) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    party_page(&app, &ctx, &actor, json!({}), StatusCode::OK).await
}

/// Imports organisations or alliances from an uploaded CSV file, all or nothing; the page
/// lists every problem by line and field.
async fn import(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    let (fields, file) = match form_with_file(&mut multipart, "file").await {
        Ok(read) => read,
        Err(status) => return ctx.error(status, &ctx.t("err-file-too-large")),
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let Some((_, bytes)) = file else {
        return party_page(
            &app,
            &ctx,
            &actor,
            json!({"import_errors": [ctx.t("err-file-missing")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return party_page(
            &app,
            &ctx,
            &actor,
            json!({"import_errors": [ctx.t("err-not-utf8")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let result = match f.get("kind").map(String::as_str) {
        Some("alliances") => app.import_alliances(&actor, "alliances.csv", &text).await,
        _ => {
            app.import_organisations(&actor, "organisations.csv", &text)
                .await
        }
    };
    match result {
        Ok(n) => party_page(&app, &ctx, &actor, json!({"imported": n}), StatusCode::OK).await,
        Err(AppError::Input(errors)) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            party_page(
                &app,
                &ctx,
                &actor,
                json!({"import_errors": lines}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn export(State(app): State<App>, ctx: Ctx, Path(kind): Path<String>) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    if let Err(e) = app.organisations_for(&actor).await {
        return ctx.app_error(e);
    }
    let text = match kind.as_str() {
        "organisations.csv" => app.export_organisations().await,
        "alliances.csv" => app.export_alliances().await,
        _ => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-page-not-found")),
    };
    match text {
        Ok(t) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], t).into_response(),
        Err(e) => ctx.app_error(e),
    }
}

async fn decide_home(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let approve = f.get("decision").map(String::as_str) == Some("approve");
    match app.decide_home(&actor, &id, approve).await {
        Ok(_) => see_other("/party"),
        Err(e) => ctx.app_error(e),
    }
}

/// The member's and volunteer's own page, made for a phone.
async fn mine(State(app): State<App>, ctx: Ctx) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    mine_page(&app, &ctx, &actor, json!({}), StatusCode::OK).await
}

pub(crate) async fn mine_page(
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
    let result = async {
        let households = app.my_households(actor).await?;
        let member = app.member_of(actor).await?;
        let volunteer = app.me_as_volunteer(actor).await?;
        let communities = app.communities_of(actor).await?;
        let held = app.my_wishes(actor).await?;
        let mut open = Vec::new();
        let mut activities = Vec::new();
        for c in &communities {
            open.extend(app.board_wishes(c, &[WishStatus::Open], 20).await?);
            activities.extend(app.upcoming_activities(c, 10).await?);
        }
        let mut shifts = Vec::new();
        let mut hours = (0u64, 0u64);
        if let Some(v) = &volunteer {
            for s in app.repo.signups_of(&v.id).await? {
                if s.cancelled_at.is_some() {
                    continue;
                }
                if let Some(shift) = app.repo.shift(&s.shift).await?
                    && shift.ends_at > app.clock.now()
                    && let Some(a) = app.repo.activity(&shift.activity).await?
                {
                    shifts.push((a, shift, s));
                }
            }
            for e in app.repo.hours_of(&v.id).await? {
                match e.status {
                    civicgrid_domain::volunteer::HoursStatus::Approved => {
                        hours.0 += u64::from(e.minutes)
                    }
                    civicgrid_domain::volunteer::HoursStatus::Pending => {
                        hours.1 += u64::from(e.minutes)
                    }
                    civicgrid_domain::volunteer::HoursStatus::Declined => {}
                }
            }
        }
        Ok::<_, AppError>((
            households,
            member,
            volunteer,
            communities,
            held,
            open,
            activities,
            shifts,
            hours,
        ))
    }
    .await;
    let (households, member, volunteer, communities, held, open, activities, shifts, hours) =
        match result {
            Ok(r) => r,
            Err(e) => return ctx.app_error(e),
        };
    let due = households.iter().filter(|h| h.due).count();
    let wish = |w: &civicgrid_store::WishRecord| {
        json!({"number": w.public_id, "title": w.title, "community": reference.region_name(&w.region),
            "status": ctx.t(&format!("wish-status-{}", w.status.as_str())), "status_code": w.status.as_str(), "escalated": w.escalated})
    };
    let mut extra = json!({
        "households": households.iter().map(|h| json!({
            "id": h.household.id,
            "address": format!("{}{}{}", h.household.building, h.household.unit, h.household.room),
            "place": reference.place_name(&h.household.grid),
            "due": h.due,
            "last": h.last_visit.map(|d| d.to_string()),
            "interval": h.interval_days,
        })).collect::<Vec<_>>(),
        "due": due,
        "member": member.as_ref().map(|m| json!({
            "name": m.member.name,
            "in_service": m.member.in_service,
            "home": m.member.home.as_ref().map(|h| json!({"community": reference.region_name(&h.community), "status": ctx.t(&format!("home-{}", h.status.as_str()))})),
        })),
        "volunteer": volunteer.as_ref().map(|v| json!({"id": v.id, "name": v.name, "number": v.number})),
        "communities": communities.iter().map(|c| json!({"code": c.as_str(), "name": reference.region_name(c)})).collect::<Vec<_>>(),
        "all_communities": reference.region_names.iter().filter(|(c, _)| c.level() == civicgrid_domain::territory::RegionLevel::Community).map(|(c, n)| json!({"code": c.as_str(), "name": n})).collect::<Vec<_>>(),
        "held": held.iter().map(wish).collect::<Vec<_>>(),
        "open_wishes": open.iter().map(wish).collect::<Vec<_>>(),
        "activities": activities.iter().map(|a| json!({"id": a.id, "title": a.title, "place": a.place, "community": reference.region_name(&a.region)})).collect::<Vec<_>>(),
        "shifts": shifts.iter().map(|(a, s, _)| json!({"activity": a.id, "title": a.title, "starts": ctx.when(s.starts_at), "place": a.place})).collect::<Vec<_>>(),
        "approved_hours": civicgrid_domain::volunteer::hours_text(hours.0),
        "pending_hours": civicgrid_domain::volunteer::hours_text(hours.1),
    });
    if let Some(list) = extra
        .get_mut("all_communities")
        .and_then(Value::as_array_mut)
    {
        list.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    }
    if let (Some(e), Value::Object(n)) = (extra.as_object_mut(), notice) {
        e.extend(n);
    }
    ctx.render_status(status, "mine.html", extra)
}

/// 双报到 from the member's page.
async fn apply_home(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let actor = match signed_in(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(community) = f.get("community").and_then(|c| c.parse().ok()) else {
        return mine_page(
            &app,
            &ctx,
            &actor,
            json!({"error": ctx.t("err-community")}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match app.apply_home(&actor, community).await {
        Ok(_) => see_other("/my"),
        Err(e @ (AppError::Conflict(_) | AppError::Unprocessable(_))) => {
            let message = if ctx.lang == "en" {
                e.to_string()
            } else {
                ctx.t("err-home-apply")
            };
            mine_page(
                &app,
                &ctx,
                &actor,
                json!({"error": message}),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}
