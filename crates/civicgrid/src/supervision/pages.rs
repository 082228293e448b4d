//! The supervision pages. The reporter's (`/supervision`: what the channel keeps and does
//! not, the report form with an optional photo, the receipt shown once, and the follow-up by
//! receipt and passphrase) set and read no cookie (`web::csrf_cookie` drops them) and are
//! kept out of logs and metrics; their forms carry the receipt and passphrase, which are the
//! credential, so no CSRF token is needed. The officers' (`/supervision/work`) are staff
//! pages like any other: the list, a report with its conversation and steps, the identity
//! after a custodian's approval, the files.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use civicgrid_domain::supervision::{Concern, Outcome, ReportStatus, grouped_receipt};
use civicgrid_domain::territory::RegionLevel;
use serde_json::{Value, json};

use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, form_map, form_with_file, posted_form, see_other, status_of};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "supervision_report.html",
        include_str!("templates/supervision_report.html"),
    ),
    (
        "supervision_receipt.html",
        include_str!("templates/supervision_receipt.html"),
    ),
    (
        "supervision_follow.html",
        include_str!("templates/supervision_follow.html"),
    ),
    (
        "supervision_list.html",
        include_str!("templates/supervision_list.html"),
    ),
    (
        "supervision_case.html",
        include_str!("templates/supervision_case.html"),
    ),
];

const UPLOAD_LIMIT: usize = super::scrub::MAX_BYTES + 256 * 1024;

pub fn routes() -> Pages {
    Pages::new()
        .route(
            "/supervision",
            get(report_form)
                .post(submit)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/supervision/follow-up", axum::routing::post(follow_up))
        .route(
            "/supervision/follow-up/messages",
            axum::routing::post(follow_up_message),
        )
        .route(
            "/supervision/follow-up/files",
            axum::routing::post(follow_up_file).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/supervision/work", get(list))
        .route("/supervision/work/{id}", get(report).post(step))
        .route("/supervision/work/{id}/identity", get(identity))
        .route("/supervision/work/{id}/files/{seq}", get(file))
}

#[derive(serde::Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

/// The reporter's pages are in the language asked for by `?lang=` (no cookie keeps it).
fn reporter_ctx(mut ctx: Ctx, lang: Option<&str>) -> Ctx {
    if let Some(l) = lang {
        ctx.lang = crate::web::i18n::negotiate(Some(l));
    }
    ctx
}

/// Nothing a reporter's page shows is cached or referred on (as the channel's REST answers).
use super::rest::private;

fn render_reporter(ctx: &Ctx, status: StatusCode, template: &str, mut extra: Value) -> Response {
    if let Value::Object(m) = &mut extra {
        m.insert("reporter_page".into(), Value::Bool(true));
    }
    private(ctx.render_status(status, template, extra))
}

/// The choices the form offers: concerns, units, streets and communities.
async fn form_choices(app: &App, ctx: &Ctx) -> Result<Value, AppError> {
    let reference = app.reference().await?;
    let concerns: Vec<Value> = Concern::ALL
        .iter()
        .map(|c| json!({"code": c.as_str(), "name": ctx.t(&format!("supervision-concern-{}", c.as_str()))}))
        .collect();
    let mut units: Vec<Value> = reference
        .units
        .iter()
        .map(|u| json!({"code": u.code, "name": u.name}))
        .collect();
    units.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut regions: Vec<(String, String)> = reference
        .region_names
        .iter()
        .filter(|(c, _)| matches!(c.level(), RegionLevel::Street | RegionLevel::Community))
        .map(|(c, n)| (c.to_string(), n.clone()))
        .collect();
    regions.sort();
    Ok(json!({
        "concerns": concerns,
        "units": units,
        "regions": regions.iter().map(|(c, n)| json!({"code": c, "name": n})).collect::<Vec<_>>(),
    }))
}

async fn report_form(
    State(app): State<App>,
    ctx: Ctx,
    q: Result<Query<LangQuery>, QueryRejection>,
) -> Response {
    let lang = q.ok().and_then(|Query(q)| q.lang);
    let ctx = reporter_ctx(ctx, lang.as_deref());
    match form_choices(&app, &ctx).await {
        Ok(choices) => render_reporter(
            &ctx,
            StatusCode::OK,
            "supervision_report.html",
            json!({"choices": choices, "form": {}, "errors": {}}),
        ),
        Err(e) => private(ctx.app_error(e)),
    }
}

fn field_errors(ctx: &Ctx, e: &AppError) -> serde_json::Map<String, Value> {
    let mut errors = serde_json::Map::new();
    match e {
        AppError::Unprocessable(list) => {
            for (field, message) in list {
                let text = if ctx.lang == "en" {
                    message.clone()
                } else {
                    ctx.t(&format!("supervision-err-{field}"))
                };
                errors.insert(field.clone(), Value::String(text));
            }
        }
        other => {
            errors.insert("form".into(), Value::String(other.to_string()));
        }
    }
    errors
}

async fn submit(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let ctx = reporter_ctx(ctx, None);
    let (fields, file) = match form_with_file(&mut multipart, "file").await {
        Ok(x) => x,
        Err(status) => return private(ctx.error(status, &ctx.t("err-form-broken"))),
    };
    let f = form_map(&fields);
    let ctx = reporter_ctx(ctx, f.get("lang").map(String::as_str));
    let get = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    // The file is checked before anything is kept: a refused file keeps the report back too.
    if let Some((_, data)) = &file
        && let Err(refused) = super::scrub::scrub(data)
    {
        let mut errors = serde_json::Map::new();
        let text = match &refused {
            _ if ctx.lang == "en" => refused.to_string(),
            super::scrub::Refused::Unreadable(_) => ctx.t("supervision-err-photo-unreadable"),
            _ => ctx.t("supervision-err-file"),
        };
        errors.insert("file".into(), Value::String(text));
        return form_again(&app, &ctx, &f, StatusCode::UNPROCESSABLE_ENTITY, errors).await;
    }
    let receipt = match app
        .submit_report(super::NewReport {
            subject: get("subject").unwrap_or_default(),
            content: get("content").unwrap_or_default(),
            concern: get("concern"),
            accused_unit: get("accused_unit"),
            region: get("region"),
            identity: get("identity"),
            passphrase: get("passphrase"),
        })
        .await
    {
        Ok(r) => r,
        Err(e) => {
            let errors = field_errors(&ctx, &e);
            return form_again(&app, &ctx, &f, status_of(&e), errors).await;
        }
    };
    if let Some((_, data)) = &file
        && let Err(e) = app
            .reporter_file(&receipt.receipt, &receipt.passphrase, data)
            .await
    {
        return private(ctx.app_error(e));
    }
    render_reporter(
        &ctx,
        StatusCode::CREATED,
        "supervision_receipt.html",
        json!({
            "receipt": grouped_receipt(&receipt.receipt),
            "passphrase": receipt.passphrase,
            "acknowledge_by": receipt.acknowledge_by.to_string(),
            "feedback_by": receipt.feedback_by.to_string(),
            "with_file": file.is_some(),
        }),
    )
}

/// The report form again, with what was typed (never the file) and the problems.
async fn form_again(
    app: &App,
    ctx: &Ctx,
    form: &std::collections::HashMap<String, String>,
    status: StatusCode,
    errors: serde_json::Map<String, Value>,
) -> Response {
    match form_choices(app, ctx).await {
        Ok(choices) => render_reporter(
            ctx,
            status,
            "supervision_report.html",
            json!({"choices": choices, "form": form, "errors": errors}),
        ),
        Err(e) => private(ctx.app_error(e)),
    }
}

/// The reporter's view, or the follow-up form again with the refusal.
async fn reporter_page(
    app: &App,
    ctx: &Ctx,
    receipt: &str,
    passphrase: &str,
    result: Result<super::ReporterView, AppError>,
    refusal: Option<String>,
) -> Response {
    match result {
        Ok(view) => {
            let messages: Vec<Value> = view
                .messages
                .iter()
                .map(|m| json!({"on": m.on.to_string(), "from": m.from, "text": m.text, "substantive": m.substantive}))
                .collect();
            let files: Vec<Value> = view
                .files
                .iter()
                .map(|f| json!({"on": f.on.to_string(), "name": f.name, "size": f.size}))
                .collect();
            let status = if refusal.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            render_reporter(
                ctx,
                status,
                "supervision_follow.html",
                json!({
                    "receipt": receipt,
                    "passphrase": passphrase,
                    "status": view.status.as_str(),
                    "status_name": ctx.t(&format!("supervision-status-{}", view.status.as_str())),
                    "outcome": view.outcome.map(|o| ctx.t(&format!("supervision-outcome-{}", o.as_str()))),
                    "closed": view.status == ReportStatus::Closed,
                    "subject": view.subject,
                    "submitted_on": view.submitted_on.to_string(),
                    "acknowledged_on": view.acknowledged_on.map(|d| d.to_string()),
                    "feedback_on": view.feedback_on.map(|d| d.to_string()),
                    "acknowledge_by": view.acknowledge_by.to_string(),
                    "feedback_by": view.feedback_by.to_string(),
                    "messages": messages,
                    "files": files,
                    "refusal": refusal,
                }),
            )
        }
        Err(e @ AppError::Forbidden(_)) => match form_choices(app, ctx).await {
            Ok(choices) => {
                let message = if e.to_string().contains("tomorrow") {
                    ctx.t("supervision-err-locked")
                } else {
                    ctx.t("supervision-err-credentials")
                };
                // Public pages never answer 403 to a wrong secret: 422 with the form again.
                render_reporter(
                    ctx,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "supervision_report.html",
                    json!({"choices": choices, "form": {}, "errors": {}, "follow_error": message}),
                )
            }
            Err(e) => private(ctx.app_error(e)),
        },
        Err(e) => private(ctx.app_error(e)),
    }
}

async fn follow_up(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    let ctx = reporter_ctx(ctx, f.get("lang").map(String::as_str));
    let receipt = f.get("receipt").cloned().unwrap_or_default();
    let passphrase = f.get("passphrase").cloned().unwrap_or_default();
    let result = app.follow_up_report(&receipt, &passphrase).await;
    reporter_page(&app, &ctx, &receipt, &passphrase, result, None).await
}

async fn follow_up_message(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    let ctx = reporter_ctx(ctx, f.get("lang").map(String::as_str));
    let receipt = f.get("receipt").cloned().unwrap_or_default();
    let passphrase = f.get("passphrase").cloned().unwrap_or_default();
    let text = f.get("text").cloned().unwrap_or_default();
    let result = app.reporter_message(&receipt, &passphrase, &text).await;
    match result {
        Err(AppError::Unprocessable(_) | AppError::Invalid(_)) => {
            let view = app.follow_up_report(&receipt, &passphrase).await;
            let refusal = Some(ctx.t("supervision-err-text"));
            reporter_page(&app, &ctx, &receipt, &passphrase, view, refusal).await
        }
        other => reporter_page(&app, &ctx, &receipt, &passphrase, other, None).await,
    }
}

async fn follow_up_file(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let (fields, file) = match form_with_file(&mut multipart, "file").await {
        Ok(x) => x,
        Err(status) => return private(ctx.error(status, &ctx.t("err-form-broken"))),
    };
    let f = form_map(&fields);
    let ctx = reporter_ctx(ctx, f.get("lang").map(String::as_str));
    let receipt = f.get("receipt").cloned().unwrap_or_default();
    let passphrase = f.get("passphrase").cloned().unwrap_or_default();
    let result = match file {
        Some((_, data)) => app.reporter_file(&receipt, &passphrase, &data).await,
        None => Err(AppError::Unprocessable(vec![(
            "file".into(),
            "choose a file".into(),
        )])),
    };
    match result {
        Err(AppError::Unprocessable(problems)) => {
            let view = app.follow_up_report(&receipt, &passphrase).await;
            let refusal = Some(match problems.first() {
                Some((_, m)) if ctx.lang == "en" => m.clone(),
                _ => ctx.t("supervision-err-file"),
            });
            reporter_page(&app, &ctx, &receipt, &passphrase, view, refusal).await
        }
        Err(e @ AppError::Invalid(_)) => {
            let view = app.follow_up_report(&receipt, &passphrase).await;
            let refusal = Some(if ctx.lang == "en" {
                e.to_string()
            } else {
                ctx.t("err-not-allowed")
            });
            reporter_page(&app, &ctx, &receipt, &passphrase, view, refusal).await
        }
        other => reporter_page(&app, &ctx, &receipt, &passphrase, other, None).await,
    }
}

fn staff_actor(ctx: &Ctx) -> Result<&crate::cases::Actor, Box<Response>> {
    ctx.staff().ok_or_else(|| Box::new(see_other("/login")))
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
}

async fn list(
    State(app): State<App>,
    ctx: Ctx,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let actor = match staff_actor(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let status = q
        .ok()
        .and_then(|Query(q)| q.status)
        .and_then(|s| s.parse::<ReportStatus>().ok());
    let lines = match app.reports_for(actor, status).await {
        Ok(l) => l,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let rows: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "id": l.id.to_string(),
                "region": reference.region_name(&l.region),
                "accused": l.accused_unit.as_deref().map(|u| reference.unit_name(u)),
                "concern": ctx.t(&format!("supervision-concern-{}", l.concern.as_str())),
                "subject": l.subject,
                "status": l.status.as_str(),
                "status_name": ctx.t(&format!("supervision-status-{}", l.status.as_str())),
                "submitted_on": l.submitted_on.to_string(),
                "acknowledge_by": l.acknowledge_by.to_string(),
                "feedback_by": l.feedback_by.to_string(),
                "overdue": l.overdue.iter().map(|w| ctx.t(&format!("supervision-warning-{}", w.as_str()))).collect::<Vec<_>>(),
                "identity_requested": l.identity_requested,
            })
        })
        .collect();
    let statuses: Vec<Value> = ReportStatus::ALL
        .iter()
        .map(|s| json!({"code": s.as_str(), "name": ctx.t(&format!("supervision-status-{}", s.as_str()))}))
        .collect();
    ctx.render(
        "supervision_list.html",
        json!({"rows": rows, "statuses": statuses, "status": status.map(|s| s.as_str())}),
    )
}

async fn report(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let actor = match staff_actor(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    match app.report_for(actor, &id).await {
        Ok(r) => report_page(&app, &ctx, &r, StatusCode::OK, None).await,
        Err(e) => ctx.app_error(e),
    }
}

async fn report_page(
    app: &App,
    ctx: &Ctx,
    r: &super::StaffReport,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    use civicgrid_domain::supervision::Reveal;
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let me = ctx.staff().map(|a| a.name().to_owned()).unwrap_or_default();
    let (request, requested_by) = match &r.state.reveal {
        Reveal::None => ("none", None),
        Reveal::Requested { by } => ("requested", Some(by.clone())),
        Reveal::Approved { by, .. } => ("approved", Some(by.clone())),
    };
    let reads = !r.subject.is_empty() || !r.content.is_empty();
    // Officers by the names people know them by, not their accounts.
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let accounts = r
        .history
        .iter()
        .map(|(_, _, by, _)| by.clone())
        .chain(r.messages.iter().filter_map(|m| m.officer.clone()))
        .chain(requested_by.clone());
    for account in accounts {
        if names.contains_key(&account) || matches!(account.as_str(), "reporter" | "platform") {
            continue;
        }
        let name = match app.repo.user(&account).await {
            Ok(Some(u)) => u.display_name,
            _ => account.clone(),
        };
        names.insert(account, name);
    }
    let name_of = |account: &str| {
        names
            .get(account)
            .cloned()
            .unwrap_or_else(|| account.to_owned())
    };
    let requested_by = requested_by.map(|a| name_of(&a));
    let history: Vec<Value> = r
        .history
        .iter()
        .map(|(seq, on, by, what)| {
            let (kind, detail) = what.split_once(':').unwrap_or((what.as_str(), ""));
            let detail_name = match kind {
                "close" => ctx.t(&format!("supervision-outcome-{detail}")),
                "warn" => ctx.t(&format!("supervision-warning-{detail}")),
                _ => String::new(),
            };
            json!({
                "on": on.to_string(),
                "by": match by.as_str() {
                    "reporter" => ctx.t("supervision-by-reporter"),
                    "platform" => ctx.t("supervision-by-platform"),
                    account => name_of(account),
                },
                "what": ctx.t(&format!("supervision-step-{kind}")),
                "detail": detail_name,
                "reason": r.reasons.iter().find(|(s, _)| s == seq).map(|(_, t)| t.clone()),
            })
        })
        .collect();
    let outcomes: Vec<Value> = Outcome::ALL
        .iter()
        .map(|o| json!({"code": o.as_str(), "name": ctx.t(&format!("supervision-outcome-{}", o.as_str()))}))
        .collect();
    ctx.render_status(
        status,
        "supervision_case.html",
        json!({
            "id": r.id.to_string(),
            "version": r.version,
            "reads": reads,
            "region": reference.region_name(&r.region),
            "accused": r.accused_unit.as_deref().map(|u| reference.unit_name(u)),
            "concern": ctx.t(&format!("supervision-concern-{}", r.concern.as_str())),
            "subject": r.subject,
            "content": r.content,
            "status": r.state.status.as_str(),
            "status_name": ctx.t(&format!("supervision-status-{}", r.state.status.as_str())),
            "closed": r.state.status == ReportStatus::Closed,
            "received": r.state.status == ReportStatus::Received,
            "investigating": r.state.status == ReportStatus::Investigating,
            "outcome": r.state.outcome.map(|o| ctx.t(&format!("supervision-outcome-{}", o.as_str()))),
            "submitted_on": r.state.submitted_on.to_string(),
            "acknowledge_by": r.acknowledge_by.to_string(),
            "feedback_by": r.feedback_by.to_string(),
            "overdue": r.overdue.iter().map(|w| ctx.t(&format!("supervision-warning-{}", w.as_str()))).collect::<Vec<_>>(),
            "identity_given": r.state.identity_given,
            "identity_request": request,
            "identity_requested_by": requested_by,
            "mine_approved": matches!(&r.state.reveal, Reveal::Approved { by, .. } if *by == me),
            "asked_by_me": matches!(&r.state.reveal, Reveal::Requested { by } if *by == me),
            "custodian": ctx.permissions.contains(&civicgrid_domain::access::Permission::WhistleblowingCustody),
            "messages": r.messages.iter().map(|m| json!({"on": m.on.to_string(), "from": m.from, "officer": m.officer.as_deref().map(name_of), "text": m.text, "substantive": m.substantive})).collect::<Vec<_>>(),
            "files": r.files.iter().map(|f| json!({"seq": f.seq, "on": f.on.to_string(), "name": f.name, "size": f.size})).collect::<Vec<_>>(),
            "history": history,
            "outcomes": outcomes,
            "error": error,
        }),
    )
}

async fn step(State(app): State<App>, ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let actor = match staff_actor(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let step = super::StaffStep {
        action: f.get("action").cloned().unwrap_or_default(),
        version: f
            .get("version")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
        text: f.get("text").cloned().unwrap_or_default(),
        outcome: f.get("outcome").cloned().filter(|o| !o.is_empty()),
    };
    match app.act_on_report(actor, &id, step).await {
        Ok(_) => see_other(&format!("/supervision/work/{id}")),
        Err(e @ (AppError::Forbidden(_) | AppError::NotFound(_))) => ctx.app_error(e),
        Err(e) => {
            let status = status_of(&e);
            let message = match &e {
                AppError::Unprocessable(_) => ctx.t("supervision-err-step-text"),
                AppError::Stale { .. } => ctx.t("err-stale"),
                _ if ctx.lang == "en" => e.to_string(),
                _ => ctx.t("err-not-allowed"),
            };
            match app.report_for(actor, &id).await {
                Ok(r) => report_page(&app, &ctx, &r, status, Some(message)).await,
                Err(e) => ctx.app_error(e),
            }
        }
    }
}

async fn identity(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let actor = match staff_actor(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    match app.report_identity(actor, &id).await {
        Ok(identity) => {
            let mut r = ctx.render(
                "error.html",
                json!({"status": 200, "message": ctx.t("supervision-identity-title"), "detail": identity}),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ctx.app_error(e),
    }
}

async fn file(
    State(app): State<App>,
    ctx: Ctx,
    Path((id, seq)): Path<(String, String)>,
) -> Response {
    let actor = match staff_actor(&ctx) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (Ok(id), Ok(seq)) = (id.parse::<uuid::Uuid>(), seq.parse::<u64>()) else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    match app.report_file_for(actor, &id, seq).await {
        Ok((media_type, data)) => {
            let mut r = (StatusCode::OK, data).into_response();
            if let Ok(v) = HeaderValue::from_str(&media_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ctx.app_error(e),
    }
}
