//! The public pages of the published lists: `/lists/{kind}` (the version in force and every
//! version with its day of effect; administrators publish the next one there) and
//! `/lists/{kind}/versions/{number}` (its entries and what changed since the one before).

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use civicgrid_domain::lists::{Change, ListKind, POWER_COLUMNS};
use serde_json::{Value, json};

use crate::App;
use crate::error::AppError;
use crate::web::{Ctx, Pages, form_map, form_with_file, see_other, status_of};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("list_kind.html", include_str!("templates/list_kind.html")),
    (
        "list_version.html",
        include_str!("templates/list_version.html"),
    ),
];

pub fn routes() -> Pages {
    Pages::new()
        .route(
            "/lists/{kind}",
            get(list)
                .post(publish)
                .layer(DefaultBodyLimit::max(2 * 1024 * 1024)),
        )
        .route("/lists/{kind}/versions/{number}", get(version))
}

const RESPONSIBILITY_COLUMNS: [&str; 6] = [
    "category",
    "region",
    "basis",
    "primary",
    "co_handlers",
    "note",
];

fn columns(kind: ListKind) -> Vec<&'static str> {
    match kind {
        ListKind::Power => POWER_COLUMNS.to_vec(),
        ListKind::Responsibility => RESPONSIBILITY_COLUMNS.to_vec(),
    }
}

fn version_json(ctx: &Ctx, v: &super::Version) -> Value {
    let cols = columns(v.kind);
    json!({
        "number": v.number,
        "effective_from": v.effective_from.to_string(),
        "published_by": v.published_by,
        "published_at": ctx.when(v.published_at),
        "note": v.note,
        "in_force": v.in_force,
        "count": v.entries.len(),
        "rows": v.entries.iter().map(|(_, f)| cols.iter().map(|c| f.get(*c).cloned().unwrap_or_default()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "changes": v.changes.iter().map(|c| match c {
            Change::Added { key } => json!({"kind": "added", "key": key, "fields": []}),
            Change::Removed { key } => json!({"kind": "removed", "key": key, "fields": []}),
            Change::Changed { key, fields } => json!({"kind": "changed", "key": key, "fields": fields.iter().map(|(f, a, b)| json!({"field": ctx.t(&format!("list-col-{f}")), "before": a, "after": b})).collect::<Vec<_>>()}),
        }).collect::<Vec<_>>(),
    })
}

fn kind_of(ctx: &Ctx, kind: &str) -> Result<ListKind, Box<Response>> {
    kind.parse()
        .map_err(|_| Box::new(ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"))))
}

async fn list_page(
    app: &App,
    ctx: &Ctx,
    kind: ListKind,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let history = match app.list_history(kind).await {
        Ok(h) => h,
        Err(e) => return ctx.app_error(e),
    };
    let current = history
        .iter()
        .find(|v| v.in_force)
        .map(|v| version_json(ctx, v));
    let versions: Vec<Value> = history.iter().rev().map(|v| version_json(ctx, v)).collect();
    let may_publish = ctx
        .permissions
        .contains(&civicgrid_domain::access::Permission::ResponsibilityManage);
    ctx.render_status(
        status,
        "list_kind.html",
        json!({
            "kind": kind.as_str(),
            "title": ctx.t(&format!("list-{}-title", kind.as_str())),
            "columns": columns(kind).iter().map(|c| ctx.t(&format!("list-col-{c}"))).collect::<Vec<_>>(),
            "current": current,
            "versions": versions,
            "may_publish": may_publish,
            "error": error,
        }),
    )
}

async fn list(State(app): State<App>, ctx: Ctx, Path(kind): Path<String>) -> Response {
    match kind_of(&ctx, &kind) {
        Ok(kind) => list_page(&app, &ctx, kind, StatusCode::OK, None).await,
        Err(r) => *r,
    }
}

async fn publish(
    State(app): State<App>,
    ctx: Ctx,
    Path(kind): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let (fields, file) = match form_with_file(&mut multipart, "file").await {
        Ok(x) => x,
        Err(status) => return ctx.error(status, &ctx.t("err-form-broken")),
    };
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let kind = match kind_of(&ctx, &kind) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let Some(actor) = ctx.staff() else {
        return see_other("/login");
    };
    let note = f.get("note").cloned().unwrap_or_default();
    let effective_from = f
        .get("effective_from")
        .and_then(|d| d.trim().parse::<jiff::civil::Date>().ok());
    let result = match (kind, effective_from) {
        (_, None) => Err(AppError::Unprocessable(vec![(
            "effective_from".into(),
            "a day".into(),
        )])),
        (ListKind::Power, Some(day)) => {
            let text = file
                .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            app.publish_power_list_csv(actor, "powers.csv", &text, day, &note)
                .await
        }
        (ListKind::Responsibility, Some(day)) => {
            app.publish_responsibility_version(actor, day, &note).await
        }
    };
    match result {
        Ok(v) => see_other(&format!("/lists/{}/versions/{}", kind.as_str(), v.number)),
        Err(e @ AppError::Forbidden(_)) => ctx.app_error(e),
        Err(e) => {
            let status = status_of(&e);
            list_page(
                &app,
                &ctx,
                kind,
                status,
                Some(crate::web::echo(&e.to_string())),
            )
            .await
        }
    }
}

async fn version(
    State(app): State<App>,
    ctx: Ctx,
    Path((kind, number)): Path<(String, String)>,
) -> Response {
    let kind = match kind_of(&ctx, &kind) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let Ok(number) = number.parse::<u32>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    match app.list_version(kind, number).await {
        Ok(v) => ctx.render(
            "list_version.html",
            json!({
                "kind": kind.as_str(),
                "title": ctx.t(&format!("list-{}-title", kind.as_str())),
                "columns": columns(kind).iter().map(|c| ctx.t(&format!("list-col-{c}"))).collect::<Vec<_>>(),
                "version": version_json(&ctx, &v),
            }),
        ),
        Err(e) => ctx.app_error(e),
    }
}
