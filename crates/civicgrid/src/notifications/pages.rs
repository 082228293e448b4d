//! The pages of notifications: the administrators' view of the outbox (dead letters to retry
//! or discard, the templates to change with a preview), each staff member's own channels
//! (`/me`), and the page a reporter reaches from a message to stop them without an account
//! (it asks to confirm, so that a mail scanner opening the link unsubscribes nobody).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use civicgrid_domain::notification::Template;
use serde_json::{Value, json};

use super::{OwnChannels, StaffAddresses};
use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, posted_form, see_other, status_of};

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "unsubscribe.html",
        include_str!("templates/unsubscribe.html"),
    ),
    (
        "notifications_admin.html",
        include_str!("templates/notifications_admin.html"),
    ),
    (
        "notification_template.html",
        include_str!("templates/notification_template.html"),
    ),
    ("me.html", include_str!("templates/me.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route(
            "/notifications/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route(
            "/admin/notifications",
            get(admin_page).post(dead_letter_action),
        )
        .route(
            "/admin/notifications/templates/{topic}/{language}",
            get(template_page).post(template_action),
        )
        .route("/me", get(me_page).post(save_me))
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
        Err(AppError::NotFound(_)) => {
            ctx.error(StatusCode::NOT_FOUND, &ctx.t("unsubscribe-invalid"))
        }
        Err(e) => ctx.app_error(e),
    }
}

/// The outbox: its counts, the dead letters (each with retry and discard), the templates.
async fn admin_page(State(app): State<App>, ctx: Ctx) -> Response {
    admin(&app, &ctx, json!({}), StatusCode::OK).await
}

async fn admin(app: &App, ctx: &Ctx, errors: Value, status: StatusCode) -> Response {
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let state = match app.notification_status(actor).await {
        Ok(s) => s,
        Err(e) => return ctx.app_error(e),
    };
    let (dead, templates, links) = match (
        app.dead_letters(actor).await,
        app.notification_templates(actor).await,
        app.upstream_links(actor, "").await,
    ) {
        (Ok(d), Ok(t), Ok(l)) => (d, t, l),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return ctx.app_error(e),
    };
    let count = |s: &str| links.iter().filter(|l| l.status == s).count();
    // Who each failed message was for, as people name them.
    let mut names = std::collections::HashMap::new();
    for m in &dead {
        if m.recipient == "reporter" || names.contains_key(&m.recipient) {
            continue;
        }
        let name = match app.repo.user(&m.recipient).await {
            Ok(Some(u)) => u.display_name,
            _ => m.recipient.clone(),
        };
        names.insert(m.recipient.clone(), name);
    }
    let recipient = |r: &str| match names.get(r) {
        Some(name) => name.clone(),
        None => ctx.t("audience-reporter"),
    };
    ctx.render_status(
        status,
        "notifications_admin.html",
        json!({
            "state": state,
            "dead": dead.iter().map(|m| json!({
                "id": m.id,
                "case_id": m.case_id,
                "topic": ctx.t(&format!("topic-{}", m.topic.replace('_', "-"))),
                "on_case": !matches!(m.topic.as_str(), "meeting_summons" | "emergency_notice" | "sitrep_due"),
                "to": m.to,
                "recipient": recipient(&m.recipient),
                "attempts": m.attempts,
                "at": m.done_at.map(|t| ctx.when(t)),
                "error": m.last_error,
            })).collect::<Vec<_>>(),
            "templates": templates.iter().map(|t| json!({
                "topic": t.topic,
                "name": ctx.t(&format!("topic-{}", t.topic.replace('_', "-"))),
                "language": t.language,
                "language_name": ctx.t(&format!("notifications-language-{}", t.language)),
                "audience": ctx.t(&format!("audience-{}", t.audience.replace('_', "-"))),
                "urgent": t.urgent,
                "changed_by": t.changed_by,
                "changed_at": t.changed_at.map(|c| ctx.when(c)),
            })).collect::<Vec<_>>(),
            "upstream": {
                "pending": count("pending"),
                "sent": count("sent"),
                "failed": count("failed"),
                "waiting": links.iter().filter(|l| l.status != "sent").take(50).map(|l| json!({
                    "case_id": l.case_id,
                    "system": l.system,
                    "failed": l.status == "failed",
                    "attempts": l.attempts,
                    "next": ctx.when(l.next_attempt_at),
                    "error": l.last_error,
                })).collect::<Vec<_>>(),
            },
            "errors": errors,
        }),
    )
}

/// Retry or discard a dead letter.
async fn dead_letter_action(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let Ok(id) = get("id").parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let done = match get("action").as_str() {
        "retry" => app.retry_dead_letter(actor, &id).await.map(|_| ()),
        "upstream_retry" => app.retry_upstream_link(actor, &id).await,
        "discard" => app
            .discard_dead_letter(actor, &id, &get("reason"))
            .await
            .map(|_| ()),
        _ => return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-invalid")),
    };
    match done {
        Ok(_) => see_other("/admin/notifications"),
        Err(AppError::Unprocessable(_)) => {
            admin(
                &app,
                &ctx,
                json!({id.to_string(): ctx.t("notifications-reason-needed")}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => ctx.app_error(e),
    }
}

/// One template: its texts, the variables it may use, and a preview with a real case.
async fn template_page(
    State(app): State<App>,
    ctx: Ctx,
    Path((topic, language)): Path<(String, String)>,
) -> Response {
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let all = match app.notification_templates(actor).await {
        Ok(t) => t,
        Err(e) => return ctx.app_error(e),
    };
    let Some(t) = all
        .into_iter()
        .find(|t| t.topic == topic && t.language == language)
    else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let template = Template {
        subject: t.subject.clone(),
        body: t.body.clone(),
        sms: t.sms.clone(),
    };
    let preview = app
        .preview_notification_template(actor, &topic, &language, template.clone())
        .await
        .ok();
    template_view(
        &ctx,
        &t,
        &template,
        preview,
        json!({}),
        false,
        StatusCode::OK,
    )
}

fn template_view(
    ctx: &Ctx,
    t: &super::templates::TemplateView,
    template: &Template,
    preview: Option<super::templates::Preview>,
    errors: Value,
    saved: bool,
    status: StatusCode,
) -> Response {
    ctx.render_status(
        status,
        "notification_template.html",
        json!({
            "topic": t.topic,
            "name": ctx.t(&format!("topic-{}", t.topic.replace('_', "-"))),
            "language": t.language,
            "audience": ctx.t(&format!("audience-{}", t.audience.replace('_', "-"))),
            "urgent": t.urgent,
            "variables": t.variables,
            "changed_by": t.changed_by,
            "changed_at": t.changed_at.map(|c| ctx.when(c)),
            "form": template,
            "preview": preview,
            "errors": errors,
            "saved": saved,
        }),
    )
}

/// Preview, save or reset a template.
async fn template_action(
    State(app): State<App>,
    ctx: Ctx,
    Path((topic, language)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let template = Template {
        subject: get("subject"),
        body: get("body").replace("\r\n", "\n"),
        sms: get("sms"),
    };
    let action = get("action");
    let outcome = match action.as_str() {
        "reset" => app
            .reset_notification_template(actor, &topic, &language)
            .await
            .map(|_| None),
        "save" => app
            .save_notification_template(actor, &topic, &language, template.clone())
            .await
            .map(|_| None),
        "preview" => app
            .preview_notification_template(actor, &topic, &language, template.clone())
            .await
            .map(Some),
        _ => return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-invalid")),
    };
    let all = match app.notification_templates(actor).await {
        Ok(t) => t,
        Err(e) => return ctx.app_error(e),
    };
    let Some(t) = all
        .into_iter()
        .find(|t| t.topic == topic && t.language == language)
    else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    match outcome {
        Ok(Some(preview)) => template_view(
            &ctx,
            &t,
            &template,
            Some(preview),
            json!({}),
            false,
            StatusCode::OK,
        ),
        Ok(None) if action == "reset" => see_other(&format!(
            "/admin/notifications/templates/{topic}/{language}"
        )),
        Ok(None) => template_view(&ctx, &t, &template, None, json!({}), true, StatusCode::OK),
        Err(AppError::Unprocessable(problems)) => {
            let errors: serde_json::Map<String, Value> = problems
                .into_iter()
                .map(|(field, problem)| (field, Value::String(problem)))
                .collect();
            template_view(
                &ctx,
                &t,
                &template,
                None,
                Value::Object(errors),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => ctx.error(status_of(&e), &e.to_string()),
    }
}

/// The signed-in staff member's page: how they are told.
async fn me_page(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    match app.own_channels(actor).await {
        Ok(c) => me_view(&app, &ctx, &c, json!({}), false, StatusCode::OK),
        Err(AppError::Invalid(_)) => me_view(
            &app,
            &ctx,
            &OwnChannels::default(),
            json!({"form": ctx.t("me-no-data-key")}),
            false,
            StatusCode::OK,
        ),
        Err(e) => ctx.app_error(e),
    }
}

fn me_view(
    app: &App,
    ctx: &Ctx,
    c: &OwnChannels,
    errors: Value,
    saved: bool,
    status: StatusCode,
) -> Response {
    ctx.render_status(
        status,
        "me.html",
        json!({
            "channels": c,
            "errors": errors,
            "saved": saved,
            "mail": app.notifier.mailer.is_some(),
            "sms": app.notifier.sms.is_some(),
        }),
    )
}

async fn save_me(State(app): State<App>, ctx: Ctx, body: Bytes) -> Response {
    let f = match posted_form(&ctx, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    // Without an SMS provider the page shows no number: one kept over REST stays.
    let phone = if app.notifier.sms.is_some() {
        Some(get("phone")).filter(|p| !p.is_empty())
    } else {
        app.own_channels(actor)
            .await
            .ok()
            .and_then(|c| c.addresses.phone)
    };
    let wanted = OwnChannels {
        addresses: StaffAddresses {
            email: Some(get("email")).filter(|e| !e.is_empty()),
            phone,
        },
        email: get("by_email") == "yes",
        sms: app.notifier.sms.is_some() && get("by_sms") == "yes",
        digest: get("digest") == "yes",
    };
    match app.set_own_channels(actor, wanted.clone()).await {
        Ok(saved) => me_view(&app, &ctx, &saved, json!({}), true, StatusCode::OK),
        Err(AppError::Unprocessable(problems)) => {
            let errors: serde_json::Map<String, Value> = problems
                .into_iter()
                .map(|(field, _)| (field, Value::String(ctx.t("err-contact"))))
                .collect();
            me_view(
                &app,
                &ctx,
                &wanted,
                Value::Object(errors),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(AppError::Invalid(_)) => me_view(
            &app,
            &ctx,
            &wanted,
            json!({"form": ctx.t("me-no-data-key")}),
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => ctx.app_error(e),
    }
}
