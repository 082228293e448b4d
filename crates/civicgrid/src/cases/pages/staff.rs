//! The staff workbench: queues per role, the case page with its timeline, deadlines,
//! routing explanation, duplicates, photos and one form per action the user may take, bulk
//! dispatch, and the grid worker's phone view.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::access::Permission;
use civicgrid_domain::case::{Action, Case, PhotoStage, Request, Satisfaction, Status, decide};
use civicgrid_domain::catalogue::Stage;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::App;
use crate::cases::Actor;
use crate::cases::pages::resident::status_name;
use crate::error::AppError;
use crate::web::Pages;
use crate::web::{Ctx, form_map, see_other};

pub fn routes() -> Pages {
    Pages::new()
        .route("/work", get(queues))
        .route("/work/dispatch", post(bulk_dispatch))
        .route("/work/field", get(field))
        .route(
            "/work/field/report",
            post(patrol_report).layer(axum::extract::DefaultBodyLimit::max(11 * 1024 * 1024)),
        )
        .route("/work/case/{id}", get(case_page))
        .route(
            "/work/case/{id}/act",
            post(act).layer(DefaultBodyLimit::max(11 * 1024 * 1024)),
        )
        .route("/work/case/{id}/photo/{sha}", get(photo))
}

/// The signed-in staff member if the policy lets them use the workbench; else the sign-in
/// page, or 403.
async fn workbench_user(app: &App, ctx: &Ctx) -> Result<Actor, Box<Response>> {
    let actor = staff(ctx)?.clone();
    let reference = app
        .reference()
        .await
        .map_err(|e| Box::new(ctx.app_error(e)))?;
    if reference.policy().may_use_workbench(&actor).is_err() {
        return Err(Box::new(
            ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden")),
        ));
    }
    Ok(actor)
}

/// The signed-in staff member, or the sign-in page.
fn staff(ctx: &Ctx) -> Result<&Actor, Box<Response>> {
    ctx.staff().ok_or_else(|| Box::new(see_other("/login")))
}

#[derive(serde::Deserialize)]
struct QueueQuery {
    queue: Option<String>,
    /// A receipt code to go straight to (the search box).
    code: Option<String>,
}

const QUEUES: &[&str] = &[
    "accept",
    "dispatch",
    "handle",
    "verify",
    "overdue",
    "supervised",
    "beat",
];

async fn queues(
    State(app): State<App>,
    ctx: Ctx,
    Query(q): Query<QueueQuery>,
    Query(find): Query<crate::cases::pages::finding::ListQuery>,
) -> Response {
    let actor = match workbench_user(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    // A receipt code read out on the phone: straight to the case, if it is in this user's scope.
    let mut not_found = None;
    if let Some(code) = q.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let shown: String = code.chars().take(20).collect();
        let found = match civicgrid_domain::case::normalize_receipt_code(code) {
            Some(normal) => app.repo.case_by_receipt(&normal).await.ok().flatten(),
            None => None,
        };
        match found {
            Some(c) if app.case_for(&actor, &c.id).await.is_ok() => {
                return crate::web::see_other(&format!("/work/case/{}", c.id));
            }
            _ => {
                not_found = Some(crate::web::i18n::t(
                    ctx.lang,
                    "work-search-none",
                    &[("code", shown)],
                ))
            }
        }
    }
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let roles = &reference.roles;
    // The first queue this user works on, unless another is asked for.
    let default_queue = QUEUES
        .iter()
        .find(|name| {
            let p = queue_permission(name);
            matches!(&actor, Actor::Staff { grants, .. } if grants.iter().any(|g| roles.iter().any(|r| r.code == g.role && r.permissions.contains(&p))))
        })
        .copied()
        .unwrap_or("overdue");
    let queue = q
        .queue
        .as_deref()
        .filter(|n| QUEUES.contains(n))
        .unwrap_or(default_queue);
    let all = match queue_cases(&app, &actor, queue).await {
        Ok(c) => c,
        Err(e) => return ctx.app_error(e),
    };
    let find = find.search(&app, &actor).await;
    let listing = find.apply(&all, app.clock.now(), &ctx.tz, &ctx);
    let rows: Vec<Value> = listing
        .cases
        .iter()
        .map(|c| case_row(&ctx, &app, &reference, c))
        .collect();
    let can_dispatch = queue == "dispatch"
        && listing.cases.iter().any(|c| {
            reference
                .policy()
                .holds_on_case(&actor, Permission::CaseDispatch, c)
        });
    let problems: std::collections::BTreeMap<&str, String> =
        listing.problems.iter().cloned().collect();
    let base = format!("/work?queue={queue}");
    ctx.render(
        "work.html",
        json!({
            "queue": queue,
            "queues": QUEUES,
            "cases": rows,
            "total": listing.total,
            "bulk_dispatch": can_dispatch,
            "q": find.form_values(),
            "choices": crate::cases::pages::finding::choices(&ctx, &reference, true),
            "problems": problems,
            "pager": listing.pager(&find, &base),
            "search_none": not_found,
        }),
    )
}

fn queue_permission(queue: &str) -> Permission {
    match queue {
        "accept" => Permission::CaseAccept,
        "dispatch" => Permission::CaseDispatch,
        "handle" => Permission::CaseHandle,
        "verify" | "beat" => Permission::CaseVerify,
        "supervised" => Permission::CaseSupervise,
        _ => Permission::CaseRead,
    }
}

/// The cases of one queue that this user may act on (or, for overdue and supervised, read).
async fn queue_cases(app: &App, actor: &Actor, queue: &str) -> Result<Vec<Case>, AppError> {
    let statuses = match queue {
        "accept" => vec![Status::Reported],
        "dispatch" => vec![Status::Accepted, Status::Registered],
        "handle" => vec![Status::Dispatched, Status::Handling],
        "verify" => vec![Status::ReportedBack],
        _ => vec![],
    };
    let open: Vec<Status> = Status::ALL
        .iter()
        .copied()
        .filter(|s| s.is_open())
        .collect();
    let filter = civicgrid_store::CaseFilter {
        statuses: if statuses.is_empty() { open } else { statuses },
        overdue_at: (queue == "overdue").then(|| app.clock.now()),
        // The filters, sort and pages work on this window of the newest cases.
        limit: 2000,
        ..Default::default()
    };
    let reference = app.reference().await?;
    let beat_grids: Vec<String> = if queue == "beat" {
        app.repo
            .beats()
            .await?
            .into_iter()
            .filter(|b| b.workers.iter().any(|w| w == actor.name()))
            .flat_map(|b| b.grids.into_iter().map(|g| g.to_string()))
            .collect()
    } else {
        vec![]
    };
    let permission = queue_permission(queue);
    Ok(app
        .list_cases(&filter)
        .await?
        .into_iter()
        .filter(|c| queue != "supervised" || c.state.supervised)
        .filter(|c| {
            queue != "beat"
                || c.grid
                    .as_ref()
                    .is_some_and(|g| beat_grids.contains(&g.to_string()))
        })
        .filter(|c| {
            let policy = reference.policy();
            policy.holds_on_case(actor, permission, c)
                || (queue == "beat" && policy.holds_on_case(actor, Permission::CaseRead, c))
        })
        .collect())
}

/// Green, yellow or red: how much of the current stage's time is used.
fn deadline_colour(app: &App, reference: &crate::reference::Reference, c: &Case) -> &'static str {
    let Some(clock) = c.clock.filter(|_| c.state.status.is_open()) else {
        return "none";
    };
    let now = app.clock.now();
    if now >= clock.due_at {
        return "red";
    }
    let cal = &reference.calendar;
    let total = cal
        .working_time_between(clock.started_at, clock.due_at)
        .as_secs_f64();
    let used = cal
        .working_time_between(clock.started_at, now)
        .as_secs_f64();
    if total > 0.0 && used / total >= 0.8 {
        "yellow"
    } else {
        "green"
    }
}

/// Why the case went to its units, told in the reader's language with names, not codes or
/// rule numbers (the stored sentence is the API's, in English).
fn routing_sentence(
    ctx: &Ctx,
    reference: &crate::reference::Reference,
    regions: &std::collections::HashMap<String, String>,
    case: &Case,
) -> String {
    use civicgrid_domain::routing::{Basis, Reason};
    let t = |key: &str, args: &[(&str, String)]| crate::web::i18n::t(ctx.lang, key, args);
    let region = |code: &str| {
        regions
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    };
    let category = |code: &str| {
        code.parse()
            .ok()
            .and_then(|c| reference.category(&c))
            .map_or_else(
                || code.to_owned(),
                |c| {
                    if ctx.lang == "en" {
                        c.name_en.clone()
                    } else {
                        c.name_zh.clone()
                    }
                },
            )
    };
    let lead = case
        .routed_units
        .first()
        .map(|u| unit_name(reference, u))
        .unwrap_or_default();
    match Reason::parse(&case.routing) {
        Some(Reason::Rule {
            basis,
            category: cat,
            region: r,
            condition,
            outranked,
            kind,
            ..
        }) => {
            let condition = condition
                .map(|(attribute, value)| {
                    let def = cat
                        .parse()
                        .ok()
                        .and_then(|c| reference.category(&c))
                        .and_then(|c| c.attributes.iter().find(|a| a.code == attribute).cloned());
                    let value_name = def
                        .as_ref()
                        .and_then(|d| d.values.iter().find(|v| v.key == value))
                        .map_or(value.clone(), |v| ctx.bilingual(&v.name));
                    let attribute_name = def.map_or(attribute, |d| ctx.bilingual(&d.description));
                    t(
                        "routing-condition",
                        &[("attribute", attribute_name), ("value", value_name)],
                    )
                })
                .unwrap_or_default();
            let basis = t(
                match basis {
                    Basis::Owner => "routing-basis-owner",
                    Basis::Locality => "routing-basis-locality",
                },
                &[],
            );
            let order = t(
                match kind {
                    civicgrid_domain::catalogue::CategoryKind::Component => {
                        "routing-order-component"
                    }
                    civicgrid_domain::catalogue::CategoryKind::Matter => "routing-order-matter",
                },
                &[],
            );
            let mut sentence = t(
                "routing-rule",
                &[
                    ("category", category(&cat)),
                    ("region", region(&r)),
                    ("condition", condition),
                    ("basis", basis),
                    ("unit", lead),
                    ("order", order),
                ],
            );
            if outranked > 0 {
                sentence.push_str(&t("routing-outranked", &[("count", outranked.to_string())]));
            }
            sentence
        }
        Some(Reason::Fallback {
            category: cat,
            region: r,
            unit,
            ..
        }) => t(
            "routing-fallback",
            &[
                ("category", category(&cat)),
                ("region", region(&r)),
                ("unit", unit_name(reference, &unit)),
            ],
        ),
        Some(Reason::NoCategory) => t("routing-no-category", &[]),
        Some(Reason::AddressOnly { region: r, .. }) => {
            t("routing-address-only", &[("region", region(&r))])
        }
        None if ctx.lang == "en" => case.routing.clone(),
        None => t("routing-unknown", &[("unit", lead)]),
    }
}

fn unit_name(reference: &crate::reference::Reference, code: &str) -> String {
    reference
        .units
        .iter()
        .find(|u| u.code == code)
        .map_or_else(|| code.to_owned(), |u| u.name.clone())
}

fn case_row(ctx: &Ctx, app: &App, reference: &crate::reference::Reference, c: &Case) -> Value {
    json!({
        "id": c.id,
        "receipt_code": c.receipt_code,
        "status": status_name(ctx, c.state.status),
        "category": c.category.as_ref().and_then(|k| reference.category(k)).map(|k| if ctx.lang == "en" { k.name_en.clone() } else { k.name_zh.clone() }),
        "category_code": c.category.as_ref().map(|k| k.as_str()),
        "description": c.description.chars().take(60).collect::<String>(),
        "grid": c.grid.as_ref().map(|g| reference.place_name(g)),
        "units": c.state.units.iter().chain(if c.state.units.is_empty() { c.routed_units.iter() } else { [].iter() }).map(|u| unit_name(reference, u)).collect::<Vec<_>>(),
        "due_at": c.clock.filter(|_| c.state.status.is_open()).map(|k| ctx.when(k.due_at)),
        "colour": deadline_colour(app, reference, c),
        "supervised": c.state.supervised,
    })
}

async fn bulk_dispatch(State(app): State<App>, ctx: Ctx, body: axum::body::Bytes) -> Response {
    let actor = match workbench_user(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let pairs = match crate::open311::wire::parse_form(&body) {
        Ok(p) => p,
        Err(_) => return ctx.error(StatusCode::BAD_REQUEST, &ctx.t("err-form-broken")),
    };
    if let Err(r) = ctx.check_csrf(form_map(&pairs).get("csrf").map(String::as_str)) {
        return *r;
    }
    let ids: Vec<Uuid> = pairs
        .iter()
        .filter(|(k, _)| k == "case")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if ids.is_empty() {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-bulk-none"));
    }
    // Each case to the units the responsibility list named; registered first if need be.
    let mut done = 0;
    let mut failed = Vec::new();
    for id in ids {
        let result: Result<(), AppError> = async {
            let mut case = app.get_case(&id).await?;
            if case.state.status == Status::Accepted {
                case = app
                    .act_on_case(&id, case.state.version, Action::Register, &actor)
                    .await?;
            }
            app.act_on_case(
                &id,
                case.state.version,
                Action::Dispatch {
                    units: case.routed_units.clone(),
                },
                &actor,
            )
            .await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => done += 1,
            Err(e) => failed.push(format!("{id}: {e}")),
        }
    }
    ctx.render(
        "error.html",
        json!({
            "status": 200,
            "message": crate::web::i18n::t(ctx.lang, "bulk-done", &[("count", done.to_string())]),
            "detail": failed.join("; "),
            "back": "/work?queue=dispatch",
        }),
    )
}

/// The actions the case page offers: each legal in the case's state (asked of the loop with a
/// sample) and allowed to this user (asked of the same check as the API).
async fn offered_actions(app: &App, actor: &Actor, case: &Case) -> Vec<&'static str> {
    // A case without a place can be given one: the sample names any grid.
    let some_grid = match &case.grid {
        Some(g) => Some(g.clone()),
        None => app
            .reference()
            .await
            .ok()
            .and_then(|r| r.grid_regions.keys().next().cloned()),
    };
    let samples: Vec<(&'static str, Action)> = vec![
        (
            "correct",
            Action::Correct {
                grid: some_grid,
                location_e6: None,
                category: case.category.clone(),
                routed_units: vec![],
                routing: String::new(),
                reason: "x".into(),
            },
        ),
        ("accept", Action::Accept),
        ("refuse", Action::Refuse { reason: "x".into() }),
        ("register", Action::Register),
        (
            "dispatch",
            Action::Dispatch {
                units: case.routed_units.clone(),
            },
        ),
        ("start_handling", Action::StartHandling),
        ("report_back", Action::ReportBack { note: "x".into() }),
        ("send_back", Action::SendBack { reason: "x".into() }),
        (
            "transfer",
            Action::Transfer {
                units: case.routed_units.clone(),
                reason: "x".into(),
            },
        ),
        (
            "verify",
            Action::Verify {
                passed: true,
                note: "x".into(),
            },
        ),
        (
            "resolve_on_site",
            Action::ResolveOnSite { note: "x".into() },
        ),
        (
            "evaluate",
            Action::Evaluate {
                satisfaction: Satisfaction::Satisfied,
                comment: String::new(),
            },
        ),
        ("reopen", Action::Reopen { reason: "x".into() }),
        (
            "request_approval",
            Action::RequestApproval {
                request: Request::Shelve { reason: "x".into() },
            },
        ),
        (
            "decide_approval",
            Action::DecideApproval {
                approve: true,
                note: "x".into(),
            },
        ),
        ("resume", Action::Resume),
        (
            "supervise",
            Action::Supervise {
                on: !case.state.supervised,
                note: "x".into(),
            },
        ),
        (
            "merge",
            Action::MergeInto {
                master: Uuid::nil(),
            },
        ),
        (
            "whistle_call",
            Action::WhistleCall {
                units: case.routed_units.clone(),
                due_at: app.clock.now() + jiff::SignedDuration::from_hours(24),
                note: "x".into(),
            },
        ),
    ];
    let mut out = Vec::new();
    // Reporting in answers a summons of one of the user's units.
    for s in case.state.open_summons() {
        let answer = Action::AnswerWhistle {
            unit: s.unit.clone(),
            note: "x".into(),
        };
        if decide(&case.state, answer.clone()).is_ok()
            && app.may(actor, &answer, case).await.unwrap_or(false)
        {
            out.push("answer_whistle");
            break;
        }
    }
    for (name, action) in samples {
        let legal = decide(&case.state, action.clone()).is_ok()
            || (name == "dispatch" && case.state.status == Status::Accepted);
        if legal && app.may(actor, &action, case).await.unwrap_or(false) {
            out.push(name);
        }
    }
    out
}

async fn case_page(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    render_case(&app, &ctx, &id, None, StatusCode::OK).await
}

async fn render_case(
    app: &App,
    ctx: &Ctx,
    id: &str,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let actor = match staff(ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let case = match app.case_for(&actor, &id).await {
        Ok(c) => c,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let events = match app.case_timeline(&case.id).await {
        Ok(e) => e,
        Err(e) => return ctx.app_error(e),
    };
    // Open cases most like this one, with why (shared words, metres and hours apart).
    let duplicates: Vec<Value> = if case.state.status.is_open() {
        app.similar_cases(
            &crate::search::similar::Probe::of(&case, true).for_actor(&actor),
            5,
        )
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            json!({
                "id": s.case.id,
                "receipt_code": s.case.receipt_code,
                "percent": format!("{:.0}", s.likeness.score * 100.0),
                "distance": s.likeness.distance_m.map(|d| format!("{d:.0}")),
                "hours": format!("{:.0}", s.likeness.hours),
                "because": s.likeness.shared.join("、"),
                "status": status_name(ctx, s.case.state.status),
            })
        })
        .collect()
    } else {
        vec![]
    };
    // While the case waits for a call-taker, the model's likeliest categories and why.
    let suggestions: Vec<Value> = if case.state.status == Status::Reported {
        super::suggested_categories(app, ctx, &case.description).await
    } else {
        vec![]
    };
    let actions = offered_actions(app, &actor, &case).await;
    // Who acted, as colleagues know them: 王芳（派遣员）.
    let people: std::collections::HashMap<String, String> = match app.repo.users().await {
        Ok(users) => users
            .into_iter()
            .map(|u| {
                let role = u
                    .grants
                    .first()
                    .and_then(|g| reference.roles.iter().find(|r| r.code == g.role))
                    .map(|r| ctx.role_name(r));
                let shown = match role {
                    Some(role) => format!("{}（{role}）", u.display_name),
                    None => u.display_name.clone(),
                };
                (u.username, shown)
            })
            .collect(),
        Err(e) => return ctx.app_error(e.into()),
    };
    let region_names: std::collections::HashMap<String, String> = match app.repo.regions().await {
        Ok(rs) => rs
            .into_iter()
            .map(|r| (r.code.to_string(), r.name))
            .collect(),
        Err(e) => return ctx.app_error(e.into()),
    };
    // The dispatch list: the units the responsibility list names first, in its order and with
    // why; then the units of the case's own place; then every other unit by kind and name.
    let mut units: Vec<(u8, usize, String, Value)> = reference
        .units
        .iter()
        .map(|u| {
            let routed = case.routed_units.iter().position(|r| *r == u.code);
            // The community's and the street's own units (not every district department).
            let local = u.region.contains(&case.region)
                && u.region.level() != civicgrid_domain::territory::RegionLevel::District;
            let (rank, why) = match routed {
                Some(0) => (0, ctx.t("dispatch-why-primary")),
                Some(_) => (0, ctx.t("dispatch-why-co")),
                None if local => (1, ctx.t("dispatch-why-local")),
                None => (2, String::new()),
            };
            let kind = ctx.unit_kind(u.kind.as_str());
            (
                rank,
                routed.unwrap_or(usize::MAX),
                format!("{kind}{}", u.name),
                json!({"code": u.code, "name": u.name, "kind": kind, "routed": routed.is_some(), "why": why}),
            )
        })
        .collect();
    units.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let units: Vec<Value> = units.into_iter().map(|(_, _, _, v)| v).collect();
    let summoned: Vec<Value> = case
        .state
        .open_summons()
        .map(|s| json!({"code": s.unit, "name": unit_name(&reference, &s.unit), "due_at": ctx.when(s.due_at)}))
        .collect();
    // The disputes this case became, and whether the reader may turn it into one.
    let disputes: Vec<String> = app
        .disputes_of_case(&case.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.public_id)
        .collect();
    let may_raise_dispute = reference
        .policy()
        .may_mediate(
            &actor,
            &case.region,
            civicgrid_domain::dispute::Tier::Community,
        )
        .is_ok();
    let mut row = case_row(ctx, app, &reference, &case);
    if let Some(o) = row.as_object_mut() {
        o.insert("description".into(), json!(case.description));
        o.insert("address".into(), json!(case.address));
        o.insert(
            "routing".into(),
            json!(routing_sentence(ctx, &reference, &region_names, &case)),
        );
        o.insert("version".into(), json!(case.state.version));
        o.insert(
            "stage".into(),
            json!(
                case.clock
                    .map(|k| ctx.t(&format!("stage-{}", k.stage.as_str())))
            ),
        );
        o.insert(
            "tier".into(),
            json!(ctx.t(&format!(
                    "tier-{}",
                    serde_json::to_value(case.state.tier)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ))),
        );
        o.insert("rework".into(), json!(case.state.rework_count));
        o.insert("pending".into(), json!(case.state.pending.is_some()));
        o.insert("lon".into(), json!(case.location.map(|l| l.0)));
        o.insert("lat".into(), json!(case.location.map(|l| l.1)));
        o.insert("attributes".into(), json!(case.attributes));
    }
    ctx.render_status(
        status,
        "work_case.html",
        json!({
            "case": row,
            "timeline": events.iter().map(|e| json!({
                "at": ctx.when(e.at),
                "action": ctx.t(&format!("action-{}", e.action.replace('_', "-"))),
                "status": status_name(ctx, e.to),
                // People by name and role; the public and the platform in the reader's language.
                "actor": match e.actor.as_str() {
                    "resident" => ctx.t("actor-resident"),
                    "system" => ctx.t("actor-system"),
                    other => people.get(other).cloned().unwrap_or_else(|| other.to_owned()),
                },
                "note": event_note(e),
            })).collect::<Vec<_>>(),
            "photos": case.state.photos.iter().map(|(stage, sha)| json!({
                "stage": ctx.t(&format!("photo-{}", stage.as_str())),
                "href": format!("/work/case/{}/photo/{sha}", case.id),
            })).collect::<Vec<_>>(),
            "duplicates": duplicates,
            "suggestions": suggestions,
            "actions": actions,
            "units": units,
            "choices": crate::cases::pages::finding::choices(ctx, &reference, false),
            "summoned": summoned,
            "problem": problem,
            "disputes": disputes,
            "may_raise_dispute": may_raise_dispute,
        }),
    )
}

/// 巡查上报: a grid worker reports what the patrol found, from the phone: the category, what
/// is wrong, the place (the phone's location or a click on the map) and a photo. The case is
/// the worker's (channel patrol) and goes through the same intake as every report.
async fn patrol_report(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let actor = match workbench_user(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match app.reference().await {
        Ok(r) if r.policy().may_report_on_patrol(&actor).is_ok() => {}
        Ok(_) => return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden")),
        Err(e) => return ctx.app_error(e),
    }
    let (fields, photo) = match crate::web::form_with_file(&mut multipart, "photo").await {
        Ok(read) => read,
        Err(status) => {
            let key = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "err-photo-too-large"
            } else {
                "err-form-broken"
            };
            return ctx.error(status, &ctx.t(key));
        }
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let number = |k: &str| text(k).parse::<f64>().ok().filter(|v| v.is_finite());
    let mut problems = Vec::new();
    let category = text("category").parse().ok();
    if category.is_none() {
        problems.push(ctx.t("err-category"));
    }
    let location = number("lon").zip(number("lat"));
    if location.is_none() {
        problems.push(ctx.t("err-place"));
    }
    if text("description").is_empty() {
        problems.push(crate::web::i18n::t(
            ctx.lang,
            "err-required-named",
            &[("field", ctx.t("field-description"))],
        ));
    }
    if !problems.is_empty() {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &problems.join(" "));
    }
    let intake = crate::cases::Intake {
        description: text("description"),
        location,
        grid: None,
        address: None,
        category,
        attributes: fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("attr_").map(|a| (a.to_owned(), v.clone())))
            .collect(),
        priority: None,
        channel: civicgrid_domain::case::Channel::Patrol,
        reporter: None,
        media_url: None,
    };
    let case = match app.report_case(intake, &actor).await {
        Ok(c) => c,
        Err(AppError::Unprocessable(fields)) => {
            let message = fields
                .iter()
                .map(|(field, _)| match field.as_str() {
                    "lon" | "lat" => ctx.t("err-outside"),
                    "category" => ctx.t("err-category"),
                    f if f.starts_with("attributes.") => ctx.t("err-patrol-attributes"),
                    _ => ctx.t("err-invalid"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
        Err(e) => return ctx.app_error(e),
    };
    if let Some((content_type, bytes)) = photo
        && let Err(e) = app
            .attach_photo(
                &case.id,
                case.state.version,
                PhotoStage::Report,
                &content_type,
                bytes,
                &actor,
            )
            .await
    {
        tracing::warn!(error = %e, case = %case.id, "a patrol photo was refused");
    }
    see_other(&format!("/work/case/{}", case.id))
}

/// What someone wrote with an action (its note, reason or comment): the event holds the
/// transition, whose action carries it.
fn event_note(e: &civicgrid_store::CaseEvent) -> Option<&str> {
    let body = e
        .payload
        .get("action")
        .filter(|a| a.is_object())
        .unwrap_or(&e.payload);
    body.get("note")
        .or_else(|| body.get("reason"))
        .or_else(|| body.get("comment"))
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
}

/// One action from the case page: the form names the action and carries the version read.
async fn act(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let actor = match staff(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    let (fields, photo) = match crate::web::form_with_file(&mut multipart, "photo").await {
        Ok(read) => read,
        Err(status) => {
            let key = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "err-photo-too-large"
            } else {
                "err-form-broken"
            };
            return render_case(&app, &ctx, &id, Some(ctx.t(key)), status).await;
        }
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let Ok(case_id) = id.parse::<Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let text = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let Ok(mut version) = text("version").parse::<u64>() else {
        return ctx.error(StatusCode::BAD_REQUEST, &ctx.t("err-form-broken"));
    };
    let units: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "units")
        .map(|(_, v)| v.clone())
        .collect();
    let action_name = text("action");
    if action_name == "correct" {
        // Place (a grid chosen by name, or a point) and category; the service routes again.
        let number = |k: &str| text(k).parse::<f64>().ok().filter(|v| v.is_finite());
        let reason = text("reason");
        if reason.is_empty() {
            let message = crate::web::i18n::t(
                ctx.lang,
                "err-required-named",
                &[("field", ctx.t("field-reason"))],
            );
            return render_case(
                &app,
                &ctx,
                &id,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        let correction = crate::cases::Correction {
            location: number("lon").zip(number("lat")),
            grid: text("grid").parse().ok(),
            category: text("category").parse().ok(),
            reason,
        };
        return match app
            .correct_case(&case_id, version, correction, &actor)
            .await
        {
            Ok(_) => see_other(&format!("/work/case/{case_id}")),
            Err(e) => {
                let (status, message) = match &e {
                    AppError::Stale { .. } => (StatusCode::CONFLICT, ctx.t("err-stale")),
                    AppError::NotAllowed { .. } => (StatusCode::CONFLICT, ctx.t("err-not-allowed")),
                    AppError::Forbidden(_) => (StatusCode::FORBIDDEN, ctx.t("err-forbidden")),
                    AppError::Unprocessable(fields) => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        fields
                            .iter()
                            .map(|(f, _)| match f.as_str() {
                                "lon" | "lat" => ctx.t("err-outside"),
                                "category" => ctx.t("err-category"),
                                _ => ctx.t("err-correct-nothing"),
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    _ => (StatusCode::UNPROCESSABLE_ENTITY, ctx.t("err-invalid")),
                };
                render_case(&app, &ctx, &id, Some(message), status).await
            }
        };
    }
    let built: Result<Action, String> = (|| {
        let missing = |k: &str| {
            crate::web::i18n::t(
                ctx.lang,
                "err-required-named",
                &[("field", ctx.t(&format!("field-{k}")))],
            )
        };
        let required = |k: &str| {
            let v = text(k);
            if v.is_empty() { Err(missing(k)) } else { Ok(v) }
        };
        Ok(match action_name.as_str() {
            "accept" => Action::Accept,
            "refuse" => Action::Refuse {
                reason: required("reason")?,
            },
            "register" => Action::Register,
            "dispatch" => Action::Dispatch {
                units: if units.is_empty() {
                    return Err(missing("units"));
                } else {
                    units.clone()
                },
            },
            "start_handling" => Action::StartHandling,
            "report_back" => Action::ReportBack {
                note: required("note")?,
            },
            "send_back" => Action::SendBack {
                reason: required("reason")?,
            },
            "transfer" => Action::Transfer {
                units: if units.is_empty() {
                    return Err(missing("units"));
                } else {
                    units.clone()
                },
                reason: required("reason")?,
            },
            "verify" => Action::Verify {
                passed: text("passed") == "yes",
                note: required("note")?,
            },
            "resolve_on_site" => Action::ResolveOnSite {
                note: required("note")?,
            },
            "evaluate" => Action::Evaluate {
                satisfaction: match text("satisfaction").as_str() {
                    "satisfied" => Satisfaction::Satisfied,
                    "basically_satisfied" => Satisfaction::BasicallySatisfied,
                    "unsatisfied" => Satisfaction::Unsatisfied,
                    _ => return Err(missing("satisfaction")),
                },
                comment: text("comment"),
            },
            "reopen" => Action::Reopen {
                reason: required("reason")?,
            },
            "request_approval" => Action::RequestApproval {
                request: match text("kind").as_str() {
                    "shelve" => Request::Shelve {
                        reason: required("reason")?,
                    },
                    "void" => Request::Void {
                        reason: required("reason")?,
                    },
                    "extension" => Request::Extension {
                        stage: Stage::Handle,
                        extra: civicgrid_domain::calendar::TimeLimit::parse(
                            civicgrid_domain::calendar::ClockType::WorkingDays,
                            &required("extra_days")?,
                        )
                        .map_err(|_| ctx.t("err-number"))?,
                        reason: required("reason")?,
                    },
                    _ => return Err(missing("kind")),
                },
            },
            "decide_approval" => Action::DecideApproval {
                approve: text("approve") == "yes",
                note: text("note"),
            },
            "resume" => Action::Resume,
            "supervise" => Action::Supervise {
                on: text("on") == "yes",
                note: text("note"),
            },
            "merge" => {
                // The master is named by its receipt code, as staff read it out.
                let code = required("master")?;
                let master = civicgrid_domain::case::normalize_receipt_code(&code)
                    .ok_or_else(|| ctx.t("err-not-found"))?;
                return Err(format!("merge:{master}"));
            }
            "whistle_call" => Action::WhistleCall {
                units: if units.is_empty() {
                    return Err(missing("units"));
                } else {
                    units.clone()
                },
                due_at: {
                    let v = required("due_at")?;
                    v.parse::<jiff::civil::DateTime>()
                        .ok()
                        .and_then(|d| d.to_zoned(ctx.tz.clone()).ok())
                        .map(|z| z.timestamp())
                        .ok_or_else(|| ctx.t("err-datetime"))?
                },
                note: required("note")?,
            },
            "answer_whistle" => Action::AnswerWhistle {
                unit: required("unit")?,
                note: required("note")?,
            },
            _ => return Err(ctx.t("err-not-allowed")),
        })
    })();
    let action = match built {
        Ok(a) => a,
        // A merge names its master by receipt code: look it up here.
        Err(m) if m.starts_with("merge:") => {
            match app
                .repo
                .case_by_receipt(m.trim_start_matches("merge:"))
                .await
            {
                Ok(Some(master)) => Action::MergeInto { master: master.id },
                Ok(None) => {
                    return render_case(
                        &app,
                        &ctx,
                        &id,
                        Some(ctx.t("err-not-found")),
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await;
                }
                Err(e) => return ctx.app_error(e.into()),
            }
        }
        Err(message) => {
            return render_case(
                &app,
                &ctx,
                &id,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    // Accepted cases are registered on the way to dispatch, in one click.
    if matches!(action, Action::Dispatch { .. })
        && let Ok(c) = app.get_case(&case_id).await
        && c.state.status == Status::Accepted
        && c.state.version == version
    {
        {
            match app
                .act_on_case(&case_id, version, Action::Register, &actor)
                .await
            {
                Ok(c) => version = c.state.version,
                Err(e) => {
                    return render_case(&app, &ctx, &id, Some(e.to_string()), StatusCode::CONFLICT)
                        .await;
                }
            }
        }
    }
    // A photo goes first, documenting the stage the action closes (after handling, say).
    if let Some((content_type, bytes)) = photo {
        let stage = match action {
            Action::ReportBack { .. } | Action::ResolveOnSite { .. } | Action::Verify { .. } => {
                PhotoStage::After
            }
            _ => PhotoStage::Before,
        };
        match app
            .attach_photo(&case_id, version, stage, &content_type, bytes, &actor)
            .await
        {
            Ok(c) => version = c.state.version,
            Err(e) => {
                let message = match &e {
                    AppError::Unprocessable(_) => ctx.t("err-photo-type"),
                    other => other.to_string(),
                };
                return render_case(
                    &app,
                    &ctx,
                    &id,
                    Some(message),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    }
    match app.act_on_case(&case_id, version, action, &actor).await {
        Ok(_) => see_other(&format!("/work/case/{case_id}")),
        Err(e) => {
            let (status, key) = match &e {
                AppError::Stale { .. } => (StatusCode::CONFLICT, "err-stale"),
                AppError::NotAllowed { .. } => (StatusCode::CONFLICT, "err-not-allowed"),
                AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "err-forbidden"),
                AppError::NotFound(_) => (StatusCode::NOT_FOUND, "err-not-found"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "err-invalid"),
            };
            render_case(
                &app,
                &ctx,
                &id,
                Some(format!("{} ({e})", ctx.t(key))),
                status,
            )
            .await
        }
    }
}

async fn photo(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    let actor = match staff(&ctx) {
        Ok(a) => a.clone(),
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    if !(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())) {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    }
    match app.photo_for(&actor, &id, &sha.to_ascii_lowercase()).await {
        Ok(p) => {
            let mut r = (StatusCode::OK, p.data).into_response();
            if let Ok(v) = HeaderValue::from_str(&p.content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Err(e) => ctx.app_error(e),
    }
}

/// The grid worker's phone view: the beat's open cases, those waiting for on-site
/// verification nearby, and a form to resolve a small matter on the spot.
async fn field(State(app): State<App>, ctx: Ctx) -> Response {
    let actor = match workbench_user(&app, &ctx).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let beat = match queue_cases(&app, &actor, "beat").await {
        Ok(c) => c,
        Err(e) => return ctx.app_error(e),
    };
    let verify = match queue_cases(&app, &actor, "verify").await {
        Ok(c) => c,
        Err(e) => return ctx.app_error(e),
    };
    let mut on_site = Vec::new();
    for c in &beat {
        if offered_actions(&app, &actor, c)
            .await
            .contains(&"resolve_on_site")
        {
            on_site.push(c.clone());
        }
    }
    let rows = |cases: &[Case]| {
        cases
            .iter()
            .map(|c| case_row(&ctx, &app, &reference, c))
            .collect::<Vec<_>>()
    };
    let patrol = reference.policy().may_report_on_patrol(&actor).is_ok();
    let map = if patrol {
        match crate::cases::pages::resident::map_svg(
            &app,
            &ctx,
            |_| None,
            &std::collections::BTreeMap::new(),
            &[],
        )
        .await
        {
            Ok(m) => m,
            Err(e) => return ctx.app_error(e),
        }
    } else {
        String::new()
    };
    let map_config = app.map_config(
        &ctx,
        crate::territory::map::MapConfig {
            pick: true,
            cases: None,
        },
    );
    ctx.render(
        "field.html",
        json!({
            "patrol": patrol,
            "map": map,
            "map_config": map_config,
            "choices": crate::cases::pages::finding::choices(&ctx, &reference, false),
            "beat": rows(&beat),
            "verify": rows(&verify),
            "on_site": on_site.iter().map(|c| { let mut r = case_row(&ctx, &app, &reference, c); if let Some(o) = r.as_object_mut() { o.insert("version".into(), json!(c.state.version)); } r }).collect::<Vec<_>>(),
        }),
    )
}
