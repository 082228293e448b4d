//! The consultation pages: `/consultation` (the streets and communities), the public page of
//! a grid, community or street (`/consultation/{code}`: topic → meeting → decision → result →
//! progress, with the share executed on time per region), a topic's page (supports with the
//! household key, threaded opinions with flags and moderation, scheduling), a meeting's page
//! (summons and answers, attendance, minutes, attachments, decisions), a result's page, a
//! poll's page, and the household key and voting code handed out from the register.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::consultation::{
    Answer, InviteeKind, MeetingKind, Moderation, PollPhase, TopicStatus, Visibility,
};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{RegionCode, RegionLevel};
use serde_json::{Value, json};

use super::{MeetingDetail, ResultProgress};
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::AppError;
use crate::web::{Ctx, Pages, form_map, form_with_file, posted_form, see_other, status_of};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "consultation.html",
        include_str!("templates/consultation.html"),
    ),
    (
        "consultation_region.html",
        include_str!("templates/consultation_region.html"),
    ),
    ("topic.html", include_str!("templates/topic.html")),
    ("meeting.html", include_str!("templates/meeting.html")),
    ("result.html", include_str!("templates/result.html")),
    ("poll.html", include_str!("templates/poll.html")),
    ("handed_out.html", include_str!("templates/handed_out.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/consultation", get(index))
        .route("/consultation/{code}", get(region_page))
        .route("/consultation/{code}/topics", post(raise))
        .route("/consultation/{code}/meetings", post(convene))
        .route("/consultation/household-key", post(household_key))
        .route("/topics/{number}", get(topic))
        .route("/topics/{number}/support", post(support))
        .route(
            "/topics/{number}/opinions",
            post(opine).layer(DefaultBodyLimit::max(11 * 1024 * 1024)),
        )
        .route("/topics/{number}/opinions/{id}/flag", post(flag))
        .route("/topics/{number}/opinions/{id}/moderate", post(moderate))
        .route("/topics/{number}/opinions/{id}/photo", get(opinion_photo))
        .route("/topics/{number}/schedule", post(schedule))
        .route("/topics/{number}/withdraw", post(withdraw))
        .route("/meetings/{number}", get(meeting))
        .route("/meetings/{number}/answer", post(answer))
        .route("/meetings/{number}/check-in", post(check_in))
        .route("/meetings/{number}/minutes", post(minutes))
        .route("/meetings/{number}/decisions", post(decide))
        .route(
            "/meetings/{number}/attachments",
            post(attach).layer(DefaultBodyLimit::max(11 * 1024 * 1024)),
        )
        .route("/meetings/{number}/attachments/{seq}", get(attachment))
        .route("/results/{number}", get(result))
        .route(
            "/results/{number}/milestones/{seq}/done",
            post(milestone_done),
        )
        .route("/polls/{id}", get(poll))
        .route("/polls/{id}/vote", post(vote))
        .route("/polls/{id}/code", post(poll_code))
}

/// What a refusal says on a page: the kind in the user's language, and the service's own
/// words in English.
fn refusal(ctx: &Ctx, e: &AppError) -> Value {
    let key = match e {
        AppError::Forbidden(_) => "consult-err-forbidden",
        AppError::Conflict(_) | AppError::Stale { .. } => "consult-err-conflict",
        AppError::Unprocessable(_) | AppError::Invalid(_) | AppError::Input(_) => {
            "consult-err-invalid"
        }
        _ => "err-invalid",
    };
    let fields: Vec<String> = match e {
        AppError::Unprocessable(f) => f.iter().map(|(f, _)| f.clone()).collect(),
        _ => vec![],
    };
    let detail = if ctx.lang == "en" {
        e.to_string()
    } else {
        String::new()
    };
    json!({"error": ctx.t(key), "error_detail": detail, "error_fields": fields})
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn progress_json(ctx: &Ctx, reference: &crate::reference::Reference, rp: &ResultProgress) -> Value {
    let p = rp.progress;
    json!({
        "number": rp.result.public_id,
        "title": rp.result.title,
        "decision": rp.result.decision,
        "decided": ctx.when(rp.result.decided_at),
        "total": p.total, "done": p.done, "on_time": p.done_on_time, "overdue": p.overdue, "percent": p.percent,
        "work": rp.work.iter().map(|(w, item, case)| json!({
            "seq": w.seq,
            "kind": w.kind,
            "kind_label": ctx.t(&format!("consult-work-{}", w.kind)),
            "case": case,
            "case_id": w.case_id,
            "title": w.title,
            // A unit by its name; an account as it is.
            "owner": if reference.units.iter().any(|u| u.code == w.owner) { reference.unit_name(&w.owner) } else { w.owner.clone() },
            "due": w.due_at.map(|d| ctx.when(d)),
            "done": item.done_at.map(|d| ctx.when(d)),
            "overdue": item.done_at.is_none() && w.due_at.is_some_and(|d| d < rp.at),
        })).collect::<Vec<_>>(),
    })
}

/// The region or grid a code names, with its name and level.
async fn place(app: &App, code: &str) -> Result<(super::Scope, String), AppError> {
    let scope = app
        .consultation_scope(code)
        .await
        .map_err(|_| AppError::NotFound(format!("region {code}")))?;
    let reference = app.reference().await?;
    let name = match &scope.grid {
        Some(g) => reference
            .grid_names
            .get(g)
            .cloned()
            .unwrap_or_else(|| g.to_string()),
        None => reference.region_name(&scope.region),
    };
    Ok((scope, name))
}

async fn index(State(app): State<App>, ctx: Ctx) -> Response {
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let mut streets: BTreeMap<String, (String, Vec<Value>)> = BTreeMap::new();
    for (code, name) in &reference.region_names {
        match code.level() {
            RegionLevel::Street => {
                streets
                    .entry(code.to_string())
                    .or_insert_with(|| (name.clone(), vec![]))
                    .0 = name.clone();
            }
            RegionLevel::Community => {
                if let Some(p) = code.parent() {
                    streets
                        .entry(p.to_string())
                        .or_insert_with(|| (reference.region_name(&p), vec![]))
                        .1
                        .push(json!({"code": code.as_str(), "name": name}));
                }
            }
            _ => {}
        }
    }
    let list: Vec<Value> = streets
        .into_iter()
        .map(|(code, (name, mut communities))| {
            communities.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
            json!({"code": code, "name": name, "communities": communities})
        })
        .collect();
    ctx.render("consultation.html", json!({"streets": list}))
}

async fn region_values(app: &App, ctx: &Ctx, code: &str) -> Result<Value, AppError> {
    let (scope, name) = place(app, code).await?;
    let reference = app.reference().await?;
    let in_scope =
        |region: &RegionCode, grid: Option<&civicgrid_domain::territory::GridCode>| match &scope
            .grid
        {
            Some(g) => grid == Some(g),
            None => region.as_str().starts_with(scope.region.as_str()),
        };
    let topics: Vec<_> = app
        .topics_in(&scope.region, &[], 200)
        .await?
        .into_iter()
        .filter(|t| in_scope(&t.region, t.grid.as_ref()))
        .collect();
    let meetings: Vec<_> = app
        .meetings_in(&scope.region, 100)
        .await?
        .into_iter()
        .filter(|m| scope.grid.is_none() || m.grid == scope.grid)
        .collect();
    let results: Vec<ResultProgress> = app
        .results_in(&scope.region, 200)
        .await?
        .into_iter()
        .filter(|r| in_scope(&r.result.region, r.result.grid.as_ref()))
        .collect();
    let polls = app.polls_in(&scope.region, 20).await?;
    let meeting_numbers: std::collections::HashMap<uuid::Uuid, (String, String)> = meetings
        .iter()
        .map(|m| (m.id, (m.public_id.clone(), m.title.clone())))
        .collect();
    // Executed on time, per region below (a street's communities, a community's grids):
    // (results, due, on time).
    let mut per_region: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for rp in &results {
        let key = match (&scope.grid, scope.region.level(), &rp.result.grid) {
            (None, RegionLevel::Street, _) => reference.region_name(&rp.result.region),
            (None, _, Some(g)) => reference
                .grid_names
                .get(g)
                .cloned()
                .unwrap_or_else(|| g.to_string()),
            _ => name.clone(),
        };
        let p = rp.progress;
        let complete = p.total > 0 && p.done == p.total;
        let e = per_region.entry(key).or_default();
        e.0 += 1;
        if complete || p.overdue > 0 {
            e.1 += 1;
            e.2 += u32::from(complete && p.done_on_time == p.total);
        }
    }
    let regions: Vec<Value> = per_region
        .iter()
        .map(|(n, (n_results, due, on_time))| {
            json!({
                "name": n,
                "results": n_results,
                "due": due,
                "on_time": on_time,
                "percent": (u64::from(*on_time) * 100).checked_div(u64::from(*due)),
            })
        })
        .collect();
    let actor = ctx.staff();
    let manages = actor.is_some_and(|a| {
        reference
            .policy()
            .may_manage_consultation(a, &scope.region)
            .is_ok()
    });
    let topic_cards: Vec<Value> = topics
        .iter()
        .map(|t| {
            let meeting = t.meeting_id.and_then(|m| meeting_numbers.get(&m).cloned());
            let result = results.iter().find(|r| r.result.topic_id == Some(t.id));
            json!({
                "number": t.public_id,
                "title": t.title,
                "status": ctx.t(&format!("topic-status-{}", t.status.as_str())),
                "status_code": t.status.as_str(),
                "supports": t.supports,
                "threshold": t.threshold,
                "alarm": t.alarm,
                "meeting": meeting.as_ref().map(|(n, title)| json!({"number": n, "title": title})),
                "result": result.map(|r| json!({"number": r.result.public_id, "percent": r.progress.percent})),
            })
        })
        .collect();
    Ok(json!({
        "code": scope.code,
        "name": name,
        "level": match (&scope.grid, scope.region.level()) {
            (Some(_), _) => "grid",
            (None, RegionLevel::Street) => "street",
            _ => "community",
        },
        "topics": topic_cards,
        "meetings": meetings.iter().map(|m| json!({
            "number": m.public_id,
            "title": m.title,
            "kind": ctx.t(&format!("meeting-kind-{}", m.kind.as_str())),
            "when": ctx.when(m.starts_at),
            "status": ctx.t(&format!("meeting-status-{}", m.status)),
        })).collect::<Vec<_>>(),
        "results": results.iter().map(|r| merge(progress_json(ctx, &reference, r), json!({
            "meeting": r.result.meeting_id.and_then(|m| meeting_numbers.get(&m).map(|(n, _)| n.clone())),
        }))).collect::<Vec<_>>(),
        "regions": regions,
        "polls": polls.iter().map(|p| json!({"id": p.id, "question": p.question, "closes": ctx.when(p.closes_at)})).collect::<Vec<_>>(),
        "manages": manages,
        "kinds": MeetingKind::ALL.iter().map(|k| json!({"code": k.as_str(), "name": ctx.t(&format!("meeting-kind-{}", k.as_str()))})).collect::<Vec<_>>(),
        "units": reference.units.iter().map(|u| json!({"code": u.code, "name": u.name})).collect::<Vec<_>>(),
        "open_topics": topics.iter().filter(|t| matches!(t.status, TopicStatus::Open | TopicStatus::Qualified)).map(|t| json!({"number": t.public_id, "title": t.title})).collect::<Vec<_>>(),
        "may_raise_as": raise_options(app, ctx, &scope).await?,
    }))
}

async fn raise_options(app: &App, ctx: &Ctx, scope: &super::Scope) -> Result<Vec<Value>, AppError> {
    use civicgrid_domain::access::Permission;
    let reference = app.reference().await?;
    let policy = reference.policy();
    let mut out = vec![json!({"code": "resident", "name": ctx.t("topic-raised-resident")})];
    if let Some(a) = ctx.staff() {
        for (code, p) in [
            ("grid_worker", Permission::CaseReport),
            ("community", Permission::ConsultationManage),
            ("party", Permission::PartyManage),
        ] {
            if policy.holds_in(a, p, &scope.region) {
                out.push(json!({"code": code, "name": ctx.t(&format!("topic-raised-{code}"))}));
            }
        }
    }
    Ok(out)
}

async fn render_region(
    app: &App,
    ctx: &Ctx,
    code: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    match region_values(app, ctx, code).await {
        Ok(v) => ctx.render_status(status, "consultation_region.html", merge(v, extra)),
        Err(e) => ctx.app_error(e),
    }
}

async fn region_page(State(app): State<App>, ctx: Ctx, Path(code): Path<String>) -> Response {
    render_region(&app, &ctx, &code, json!({}), StatusCode::OK).await
}

/// Raises a topic from the region's page; a resident is shown the topic's number and secret
/// once (the page is not cached).
async fn raise(
    State(app): State<App>,
    ctx: Ctx,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let actor = ctx.staff().cloned().unwrap_or(Actor::Resident);
    let raised_as = match text("raised_as") {
        s if s.is_empty() => "resident".to_owned(),
        s => s,
    };
    let new = super::NewTopic {
        scope: code.clone(),
        title: text("title"),
        description: text("description"),
        raised_as,
    };
    match app.raise_topic(&actor, new).await {
        Ok(receipt) => {
            let mut r = topic_page(
                &app,
                &ctx,
                &receipt.topic.public_id,
                json!({"notice": ctx.t("topic-raised"), "secret": receipt.secret}),
                StatusCode::CREATED,
            )
            .await;
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e @ (AppError::Unprocessable(_) | AppError::Forbidden(_))) => {
            let status = status_of(&e);
            render_region(
                &app,
                &ctx,
                &code,
                merge(
                    refusal(&ctx, &e),
                    json!({"typed": {"title": text("title"), "description": text("description")}}),
                ),
                status,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

/// Convenes a meeting from the region's page (those who run consultation there).
async fn convene(
    State(app): State<App>,
    ctx: Ctx,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let all = |k: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(n, v)| n == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    };
    let starts_at = ctx.parse_local(&text("starts_at"));
    let kind = text("kind").parse::<MeetingKind>();
    let mut agenda: Vec<super::NewAgendaItem> = all("topic")
        .into_iter()
        .map(|t| super::NewAgendaItem {
            title: String::new(),
            topic: Some(t),
            cases: vec![],
        })
        .collect();
    // Topic items take their topic's title.
    for item in &mut agenda {
        if let Some(t) = &item.topic
            && let Ok(topic) = app.topic(t).await
        {
            item.title = topic.title;
        }
    }
    let cases = all("cases")
        .iter()
        .flat_map(|c| {
            c.split([',', '，', ' '])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    if !text("item").is_empty() || !cases.is_empty() {
        agenda.push(super::NewAgendaItem {
            title: if text("item").is_empty() {
                text("title")
            } else {
                text("item")
            },
            topic: None,
            cases,
        });
    }
    let result = match (kind, starts_at) {
        (Ok(kind), Some(starts_at)) => {
            app.convene_meeting(
                &actor,
                super::NewMeeting {
                    kind,
                    scope: code.clone(),
                    title: text("title"),
                    place: text("place"),
                    starts_at,
                    invitees: all("unit")
                        .into_iter()
                        .map(|u| super::NewInvitee {
                            kind: InviteeKind::Unit,
                            reference: u,
                            name: String::new(),
                        })
                        .chain(all("residents").iter().flat_map(|r| {
                            r.split(['，', ',', '、'])
                                .map(str::trim)
                                .filter(|n| !n.is_empty())
                                .map(|n| super::NewInvitee {
                                    kind: InviteeKind::Resident,
                                    reference: String::new(),
                                    name: n.to_owned(),
                                })
                                .collect::<Vec<_>>()
                        }))
                        .collect(),
                    agenda,
                },
            )
            .await
        }
        (Err(e), _) => Err(AppError::Unprocessable(vec![("kind".into(), e)])),
        (_, None) => Err(AppError::Unprocessable(vec![(
            "starts_at".into(),
            "a date and time".into(),
        )])),
    };
    match result {
        Ok(m) => {
            meeting_page(
                &app,
                &ctx,
                &m.public_id,
                json!({"notice": ctx.t("meeting-convened")}),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e @ (AppError::Unprocessable(_) | AppError::Forbidden(_) | AppError::Conflict(_))) => {
            let status = status_of(&e);
            render_region(&app, &ctx, &code, refusal(&ctx, &e), status).await
        }
        Err(e) => ctx.app_error(e),
    }
}

/// Hands a household its consultation key or a poll's code: shown once, not cached.
fn handed_out(ctx: &Ctx, what: &str, code: &str, back: &str) -> Response {
    let mut r = ctx.render(
        "handed_out.html",
        json!({"what": ctx.t(what), "code": code, "back": back}),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn household_key(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(household) = f
        .get("household")
        .and_then(|h| h.parse::<uuid::Uuid>().ok())
    else {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-invalid"));
    };
    match app.issue_household_key(&actor, &household).await {
        Ok(key) => handed_out(
            &ctx,
            "consult-household-key",
            &key,
            &format!("/my/households/{household}"),
        ),
        Err(e) => ctx.app_error(e),
    }
}

async fn poll_code(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (Ok(poll), Some(household)) = (
        id.parse::<uuid::Uuid>(),
        f.get("household")
            .and_then(|h| h.parse::<uuid::Uuid>().ok()),
    ) else {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-invalid"));
    };
    match app.issue_poll_code(&actor, &poll, &household).await {
        Ok(code) => handed_out(
            &ctx,
            "consult-poll-code",
            &code,
            &format!("/my/households/{household}"),
        ),
        Err(e) => ctx.app_error(e),
    }
}

async fn topic_page(
    app: &App,
    ctx: &Ctx,
    number: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let values = async {
        let t = app.topic(number).await?;
        let reference = app.reference().await?;
        let opinions = app.opinions_of(&t).await?;
        let actor = ctx.staff();
        let policy = reference.policy();
        let moderates = actor.is_some_and(|a| policy.may_moderate(a, &t.region).is_ok());
        let manages = actor.is_some_and(|a| policy.may_manage_consultation(a, &t.region).is_ok());
        let meeting = match t.meeting_id {
            Some(m) => app.repo.meeting(&m).await?,
            None => None,
        };
        let planned: Vec<Value> = if manages && matches!(t.status, TopicStatus::Open | TopicStatus::Qualified) {
            app.meetings_in(&t.region, 50)
                .await?
                .into_iter()
                .filter(|m| m.status == "planned")
                .map(|m| json!({"number": m.public_id, "title": m.title, "when": ctx.when(m.starts_at)}))
                .collect()
        } else {
            vec![]
        };
        let results: Vec<Value> = app
            .results_in(&t.region, 200)
            .await?
            .iter()
            .filter(|r| r.result.topic_id == Some(t.id))
            .map(|r| progress_json(ctx, &reference, r))
            .collect();
        let card = |o: &civicgrid_store::OpinionRecord| {
            let shows = o.visibility == Visibility::Visible;
            json!({
                "id": o.id,
                "author": if o.author == "resident" { ctx.t("opinion-by-resident") } else { o.author.clone() },
                "body": (shows || moderates).then(|| o.body.clone()),
                "photo": (shows || moderates) && o.photo_type.is_some(),
                "visibility": o.visibility.as_str(),
                "hidden_note": match o.visibility {
                    Visibility::Visible => None,
                    Visibility::AwaitingReview => Some(ctx.t("opinion-awaiting-review")),
                    Visibility::Hidden => Some(format!("{}{}", ctx.t("opinion-hidden"), o.hide_reason.clone().unwrap_or_default())),
                },
                "flags": o.flags,
                "when": ctx.when(o.posted_at),
            })
        };
        let threads: Vec<Value> = opinions
            .iter()
            .filter(|o| o.parent_id.is_none())
            .map(|o| {
                merge(
                    card(o),
                    json!({"replies": opinions.iter().filter(|r| r.parent_id == Some(o.id)).map(card).collect::<Vec<_>>()}),
                )
            })
            .collect();
        let scope_name = match &t.grid {
            Some(g) => reference.grid_names.get(g).cloned().unwrap_or_else(|| g.to_string()),
            None => reference.region_name(&t.region),
        };
        Ok::<_, AppError>(json!({
            "topic": {
                "number": t.public_id,
                "title": t.title,
                "description": t.description,
                "scope": t.scope,
                "scope_name": scope_name,
                "status": ctx.t(&format!("topic-status-{}", t.status.as_str())),
                "status_code": t.status.as_str(),
                "supports": t.supports,
                "threshold": t.threshold,
                "percent": (t.supports.min(t.threshold) * 100).checked_div(t.threshold).unwrap_or(0),
                "raised": ctx.when(t.raised_at),
                "raised_as": ctx.t(&format!("topic-raised-{}", t.raised_as)),
                "agenda_due": t.agenda_due.map(|d| ctx.when(d)),
                "alarm": t.alarm,
                "withdraw_reason": t.withdraw_reason,
            },
            "meeting": meeting.map(|m| json!({"number": m.public_id, "title": m.title, "when": ctx.when(m.starts_at)})),
            "results": results,
            "opinions": threads,
            "supportable": matches!(t.status, TopicStatus::Open | TopicStatus::Qualified | TopicStatus::Scheduled),
            "open": t.status != TopicStatus::Withdrawn,
            "moderates": moderates,
            "manages": manages && matches!(t.status, TopicStatus::Open | TopicStatus::Qualified | TopicStatus::Scheduled),
            "planned": planned,
        }))
    }
    .await;
    match values {
        Ok(v) => ctx.render_status(status, "topic.html", merge(v, extra)),
        Err(e) => ctx.app_error(e),
    }
}

async fn topic(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    topic_page(&app, &ctx, &number, json!({}), StatusCode::OK).await
}

/// The topic's page after an action: its notice, or its refusal with the refusal's status.
async fn after_topic<T>(
    app: &App,
    ctx: &Ctx,
    number: &str,
    r: Result<T, AppError>,
    notice: &str,
) -> Response {
    match r {
        Ok(_) => {
            topic_page(
                app,
                ctx,
                number,
                json!({"notice": ctx.t(notice)}),
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::TooManyRequests { retry_after }) => ctx.too_many(retry_after),
        Err(e @ AppError::NotFound(_)) => ctx.app_error(e),
        Err(e) => topic_page(app, ctx, number, refusal(ctx, &e), status_of(&e)).await,
    }
}

async fn support(
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
    let key = f
        .get("household_key")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let r = if key.is_empty() {
        Err(AppError::Unprocessable(vec![(
            "household_key".into(),
            "the household's key".into(),
        )]))
    } else {
        app.support_topic(&number, &key, &from).await
    };
    after_topic(&app, &ctx, &number, r, "topic-supported").await
}

async fn opine(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let (fields, photo) = match form_with_file(&mut multipart, "photo").await {
        Ok(read) => read,
        Err(status) => return ctx.error(status, &ctx.t("err-photo-too-large")),
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let parent = f.get("parent").and_then(|p| p.parse::<uuid::Uuid>().ok());
    let actor = ctx.staff().cloned().unwrap_or(Actor::Resident);
    let body = f.get("body").cloned().unwrap_or_default();
    let r = app
        .post_opinion(&actor, &number, parent, &body, photo)
        .await;
    after_topic(&app, &ctx, &number, r, "opinion-posted").await
}

async fn flag(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    Path((number, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.app_error(AppError::NotFound(format!("opinion {id}")));
    };
    let flagger = match ctx.staff() {
        Some(a) => format!("account:{}", a.name()),
        None => format!("address:{}", from.0),
    };
    let reason = f.get("reason").cloned().unwrap_or_default();
    let r = app.flag_opinion(&flagger, &number, &id, &reason).await;
    after_topic(&app, &ctx, &number, r, "opinion-flagged").await
}

async fn moderate(
    State(app): State<App>,
    ctx: Ctx,
    Path((number, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.app_error(AppError::NotFound(format!("opinion {id}")));
    };
    let step = match f.get("action").map(String::as_str) {
        Some("restore") => Moderation::Restore,
        _ => Moderation::Hide {
            reason: f.get("reason").cloned().unwrap_or_default(),
        },
    };
    let r = app.moderate_opinion(&actor, &number, &id, step).await;
    after_topic(&app, &ctx, &number, r, "opinion-moderated").await
}

async fn opinion_photo(
    State(app): State<App>,
    ctx: Ctx,
    Path((number, id)): Path<(String, String)>,
) -> Response {
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.app_error(AppError::NotFound(format!("opinion {id}")));
    };
    let actor = ctx.staff().cloned().unwrap_or(Actor::Resident);
    match app.opinion_photo(&actor, &number, &id).await {
        Ok((ct, data)) => {
            let ct = HeaderValue::from_str(&ct)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            ([(header::CONTENT_TYPE, ct)], data).into_response()
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn schedule(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let meeting = f.get("meeting").cloned().unwrap_or_default();
    let r = app.schedule_topic(&actor, &number, &meeting, "").await;
    after_topic(&app, &ctx, &number, r, "topic-scheduled").await
}

async fn withdraw(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let reason = f.get("reason").cloned().unwrap_or_default();
    let r = app.withdraw_topic(&actor, &number, &reason).await;
    after_topic(&app, &ctx, &number, r, "topic-withdrawn").await
}

fn meeting_values(
    ctx: &Ctx,
    app_reference: &crate::reference::Reference,
    d: &MeetingDetail,
    results: &[ResultProgress],
    actor: Option<&Actor>,
    names: bool,
) -> Value {
    let policy = app_reference.policy();
    let m = &d.meeting;
    let invitees: Vec<Value> = d
        .invitees
        .iter()
        .map(|i| {
            let unit = i.kind == InviteeKind::Unit;
            let answerable = unit && i.answered_at.is_none() && actor.is_some_and(|a| policy.may_answer_for_unit(a, &i.reference).is_ok());
            json!({
                "kind": i.kind.as_str(),
                "kind_label": ctx.t(&format!("invitee-kind-{}", i.kind.as_str())),
                "reference": i.reference,
                "name": if unit || names { i.name.clone() } else { ctx.t(&format!("invitee-kind-{}", i.kind.as_str())) },
                "due": ctx.when(i.answer_due),
                "answer": i.answer.map(|a| ctx.t(&format!("answer-{}", a.as_str()))),
                "answer_note": if unit { i.answer_note.clone() } else { None },
                "answered": i.answered_at.map(|a| ctx.when(a)),
                "late": i.answered_at.is_some_and(|a| a > i.answer_due) || i.missed,
                "attended": i.attended_at.is_some(),
                "answerable": answerable,
            })
        })
        .collect();
    let agenda: Vec<Value> = m
        .agenda
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let topic = a.topic.and_then(|t| d.topics.get(&t));
            json!({
                "index": i,
                "title": a.title,
                "topic": topic.map(|t| json!({"number": t.public_id, "title": t.title, "status": ctx.t(&format!("topic-status-{}", t.status.as_str()))})),
                "cases": a.cases.iter().filter_map(|c| d.case_numbers.get(c)).collect::<Vec<_>>(),
                "results": results.iter().filter(|r| r.result.agenda_index == Some(i as u32)).map(|r| progress_json(ctx, app_reference, r)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "meeting": {
            "number": m.public_id,
            "title": m.title,
            "kind": ctx.t(&format!("meeting-kind-{}", m.kind.as_str())),
            "place": m.place,
            "when": ctx.when(m.starts_at),
            "convener": m.convener,
            "status": ctx.t(&format!("meeting-status-{}", m.status)),
            "status_code": m.status,
            "minutes": m.minutes,
            "minutes_by": m.minutes_by,
            "minutes_at": m.minutes_at.map(|t| ctx.when(t)),
            "region": m.region.as_str(),
            "region_name": app_reference.region_name(&m.region),
        },
        "invitees": invitees,
        "attended": d.invitees.iter().filter(|i| i.attended_at.is_some()).count(),
        "agenda": agenda,
        "attachments": d.attachments.iter().map(|a| json!({"seq": a.seq, "name": a.name, "type": a.content_type})).collect::<Vec<_>>(),
        "units": app_reference.units.iter().map(|u| json!({"code": u.code, "name": u.name})).collect::<Vec<_>>(),
    })
}

async fn meeting_page(
    app: &App,
    ctx: &Ctx,
    number: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let values = async {
        let d = app.meeting_detail(number).await?;
        let reference = app.reference().await?;
        let names = app.runs_meeting(ctx.staff(), &d.meeting).await?;
        let mut results = Vec::new();
        for r in &d.results {
            let work = app.repo.result_work(&r.id).await?;
            results.push(app.result_progress(r.clone(), work).await?);
        }
        let mut v = meeting_values(ctx, &reference, &d, &results, ctx.staff(), names);
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "manages".into(),
                json!(names && d.meeting.status != "cancelled"),
            );
            o.insert(
                "today".into(),
                json!(app.local_day(app.clock.now()).await?.to_string()),
            );
        }
        Ok::<_, AppError>(v)
    }
    .await;
    match values {
        Ok(v) => ctx.render_status(status, "meeting.html", merge(v, extra)),
        Err(e) => ctx.app_error(e),
    }
}

async fn meeting(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    meeting_page(&app, &ctx, &number, json!({}), StatusCode::OK).await
}

async fn after_meeting<T>(
    app: &App,
    ctx: &Ctx,
    number: &str,
    r: Result<T, AppError>,
    notice: &str,
) -> Response {
    match r {
        Ok(_) => {
            meeting_page(
                app,
                ctx,
                number,
                json!({"notice": ctx.t(notice)}),
                StatusCode::OK,
            )
            .await
        }
        Err(e @ AppError::NotFound(_)) => ctx.app_error(e),
        Err(e) => meeting_page(app, ctx, number, refusal(ctx, &e), status_of(&e)).await,
    }
}

/// The signed-in staff member and the posted form, or where to go instead.
fn staff_form(
    ctx: &Ctx,
    body: &[u8],
) -> Result<(Actor, std::collections::HashMap<String, String>), Box<Response>> {
    let Some(actor) = ctx.staff().cloned() else {
        return Err(Box::new(see_other("/login")));
    };
    Ok((actor, posted_form(ctx, body)?))
}

async fn answer(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let (actor, f) = match staff_form(&ctx, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let r = match text("answer").parse::<Answer>() {
        Ok(a) => {
            app.answer_summons(&actor, &number, &text("unit"), a, &text("note"))
                .await
        }
        Err(e) => {
            // A refusal comes before a problem with the form.
            match app.reference().await.map(|r| {
                r.policy()
                    .may_answer_for_unit(&actor, &text("unit"))
                    .is_ok()
            }) {
                Ok(false) => Err(AppError::Forbidden(format!(
                    "only {} answers its summons",
                    text("unit")
                ))),
                _ => Err(AppError::Unprocessable(vec![("answer".into(), e)])),
            }
        }
    };
    after_meeting(&app, &ctx, &number, r, "meeting-answered").await
}

async fn check_in(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let (actor, f) = match staff_form(&ctx, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let kind = text("kind")
        .parse::<InviteeKind>()
        .unwrap_or(InviteeKind::Unit);
    let r = app
        .check_in(&actor, &number, kind, &text("reference"))
        .await;
    after_meeting(&app, &ctx, &number, r, "meeting-checked-in").await
}

async fn minutes(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let (actor, f) = match staff_form(&ctx, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let text = f.get("minutes").cloned().unwrap_or_default();
    let r = app.record_minutes(&actor, &number, &text).await;
    after_meeting(&app, &ctx, &number, r, "meeting-minutes-saved").await
}

async fn decide(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let (actor, f) = match staff_form(&ctx, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let mut cases = Vec::new();
    if !text("case_unit").is_empty() || !text("case_description").is_empty() {
        cases.push(super::NewWorkCase {
            unit: text("case_unit"),
            description: text("case_description"),
            due_days: text("case_days").parse().unwrap_or(0),
            grid: None,
        });
    }
    let mut milestones = Vec::new();
    let mut problems = Vec::new();
    if !text("milestone_title").is_empty() {
        match text("milestone_due").parse() {
            Ok(due) => milestones.push(super::NewMilestone {
                title: text("milestone_title"),
                owner: text("milestone_owner"),
                due,
            }),
            Err(_) => problems.push(("milestone_due".to_owned(), "a day".to_owned())),
        }
    }
    let r = if problems.is_empty() {
        app.record_decision(
            &actor,
            &number,
            super::NewDecision {
                agenda_index: text("agenda_index").parse().unwrap_or(u32::MAX),
                title: text("title"),
                decision: text("decision"),
                cases,
                milestones,
            },
        )
        .await
    } else {
        Err(AppError::Unprocessable(problems))
    };
    after_meeting(&app, &ctx, &number, r, "meeting-decided").await
}

async fn attach(
    State(app): State<App>,
    ctx: Ctx,
    Path(number): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    let (fields, file) = match form_with_file(&mut multipart, "file").await {
        Ok(read) => read,
        Err(status) => return ctx.error(status, &ctx.t("err-photo-too-large")),
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let name = f.get("name").cloned().unwrap_or_default();
    let (ct, data) = file.unwrap_or_default();
    let r = app
        .attach_to_meeting(&actor, &number, &name, &ct, data)
        .await;
    after_meeting(&app, &ctx, &number, r, "meeting-attached").await
}

async fn attachment(
    State(app): State<App>,
    ctx: Ctx,
    Path((number, seq)): Path<(String, String)>,
) -> Response {
    let Ok(seq) = seq.parse::<u64>() else {
        return ctx.app_error(AppError::NotFound(format!("attachment {seq}")));
    };
    match app.meeting_attachment(&number, seq).await {
        Ok((meta, data)) => {
            let ct = HeaderValue::from_str(&meta.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            (
                [
                    (header::CONTENT_TYPE, ct),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("attachment"),
                    ),
                ],
                data,
            )
                .into_response()
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn result_page(
    app: &App,
    ctx: &Ctx,
    number: &str,
    extra: Value,
    status: StatusCode,
) -> Response {
    let values = async {
        let rp = app.result(number).await?;
        let reference = app.reference().await?;
        let meeting = match rp.result.meeting_id {
            Some(m) => app.repo.meeting(&m).await?,
            None => None,
        };
        let topic = match rp.result.topic_id {
            Some(t) => app.repo.topic(&t).await?,
            None => None,
        };
        let actor = ctx.staff();
        let policy = reference.policy();
        let manages = actor.is_some_and(|a| policy.may_manage_consultation(a, &rp.result.region).is_ok());
        let mut v = progress_json(ctx, &reference, &rp);
        if let Some(work) = v.get_mut("work").and_then(Value::as_array_mut) {
            for (w, (rec, item, _)) in work.iter_mut().zip(rp.work.iter()) {
                let mine = actor.is_some_and(|a| a.name() == rec.owner || policy.may_answer_for_unit(a, &rec.owner).is_ok());
                if let Some(o) = w.as_object_mut() {
                    o.insert("completable".into(), json!(rec.kind == "milestone" && item.done_at.is_none() && (manages || mine)));
                }
            }
        }
        Ok::<_, AppError>(json!({
            "result": v,
            "region": rp.result.region.as_str(),
            "region_name": reference.region_name(&rp.result.region),
            "meeting": meeting.map(|m| json!({"number": m.public_id, "title": m.title, "when": ctx.when(m.starts_at)})),
            "topic": topic.map(|t| json!({"number": t.public_id, "title": t.title})),
        }))
    }
    .await;
    match values {
        Ok(v) => ctx.render_status(status, "result.html", merge(v, extra)),
        Err(e) => ctx.app_error(e),
    }
}

async fn result(State(app): State<App>, ctx: Ctx, Path(number): Path<String>) -> Response {
    result_page(&app, &ctx, &number, json!({}), StatusCode::OK).await
}

async fn milestone_done(
    State(app): State<App>,
    ctx: Ctx,
    Path((number, seq)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(actor) = ctx.staff().cloned() else {
        return see_other("/login");
    };
    if let Err(r) = posted_form(&ctx, &body) {
        return *r;
    }
    let Ok(seq) = seq.parse::<u64>() else {
        return ctx.app_error(AppError::NotFound(format!("milestone {seq}")));
    };
    match app.complete_milestone(&actor, &number, seq).await {
        Ok(_) => {
            result_page(
                &app,
                &ctx,
                &number,
                json!({"notice": ctx.t("result-milestone-done")}),
                StatusCode::OK,
            )
            .await
        }
        Err(e @ AppError::NotFound(_)) => ctx.app_error(e),
        Err(e) => result_page(&app, &ctx, &number, refusal(&ctx, &e), status_of(&e)).await,
    }
}

async fn poll_page(app: &App, ctx: &Ctx, id: &str, extra: Value, status: StatusCode) -> Response {
    let values = async {
        let id = id.parse::<uuid::Uuid>().map_err(|_| AppError::NotFound(format!("poll {id}")))?;
        let v = app.poll_view(&id).await?;
        let reference = app.reference().await?;
        let topic = match v.poll.topic {
            Some(t) => app.repo.topic(&t).await?,
            None => None,
        };
        let total: u64 = v.votes.as_ref().map(|c| c.iter().sum()).unwrap_or(0);
        Ok::<_, AppError>(json!({
            "poll": {
                "id": v.poll.id,
                "question": v.poll.question,
                "multiple": !matches!(v.poll.ballot, civicgrid_domain::consultation::Ballot::Single),
                "opens": ctx.when(v.poll.opens_at),
                "closes": ctx.when(v.poll.closes_at),
                "phase": match v.phase { PollPhase::NotOpen => "not_open", PollPhase::Open => "open", PollPhase::Closed => "closed" },
                "codes": v.codes,
                "voted": v.voted,
                "turnout": v.voted.and_then(|n| (n * 100).checked_div(v.codes)),
                "options": v.poll.options.iter().enumerate().map(|(i, o)| {
                    let votes = v.votes.as_ref().and_then(|c| c.get(i).copied());
                    json!({"index": i, "text": o, "votes": votes, "percent": votes.and_then(|n| (n * 100).checked_div(total))})
                }).collect::<Vec<_>>(),
            },
            "region_name": reference.region_name(&v.poll.region),
            "region": v.poll.region.as_str(),
            "topic": topic.map(|t| json!({"number": t.public_id, "title": t.title})),
        }))
    }
    .await;
    match values {
        Ok(v) => ctx.render_status(status, "poll.html", merge(v, extra)),
        Err(e) => ctx.app_error(e),
    }
}

async fn poll(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    poll_page(&app, &ctx, &id, json!({}), StatusCode::OK).await
}

async fn vote(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let code = f
        .get("code")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let choices: Vec<usize> = pairs
        .iter()
        .filter(|(k, _)| k == "choice")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let Ok(poll) = id.parse::<uuid::Uuid>() else {
        return ctx.app_error(AppError::NotFound(format!("poll {id}")));
    };
    let r = if code.is_empty() {
        Err(AppError::Unprocessable(vec![(
            "code".into(),
            "the household's code".into(),
        )]))
    } else {
        app.vote(&poll, &code, &choices, &from).await
    };
    match r {
        Ok(()) => {
            poll_page(
                &app,
                &ctx,
                &id,
                json!({"notice": ctx.t("poll-voted")}),
                StatusCode::OK,
            )
            .await
        }
        Err(AppError::TooManyRequests { retry_after }) => ctx.too_many(retry_after),
        Err(e @ AppError::NotFound(_)) => ctx.app_error(e),
        Err(e) => poll_page(&app, &ctx, &id, refusal(&ctx, &e), status_of(&e)).await,
    }
}

/// Open polls of a community, for the household page's voting-code buttons.
pub async fn open_polls(app: &App, community: &RegionCode) -> Vec<Value> {
    let now = app.clock.now();
    app.polls_in(community, 20)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.closes_at > now)
        .map(|p| json!({"id": p.id, "question": p.question}))
        .collect()
}
