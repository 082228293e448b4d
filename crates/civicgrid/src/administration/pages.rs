//! Administration: regions and grids (GeoJSON import through the page, with the coverage
//! check), units, categories with deadlines and attributes, the responsibility list, the
//! calendar, users and roles, and API keys. Each section needs its own permission.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::access::{Grant, Permission, Scope};
use civicgrid_domain::catalogue::{Priority, Stage};
use serde_json::{Value, json};

use crate::App;
use crate::accounts::UserSpec;
use crate::territory::GridImportOptions;
use crate::web::Pages;
use crate::web::{Ctx, form_map};

pub const TEMPLATES: &[(&str, &str)] = &[("admin.html", include_str!("templates/admin.html"))];

pub fn routes() -> Pages {
    Pages::new()
        .route("/admin", get(admin))
        .route(
            "/admin/grids",
            post(import_grids).layer(DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
        .route(
            "/admin/import",
            post(import_table).layer(DefaultBodyLimit::max(16 * 1024 * 1024)),
        )
        .route("/admin/export/{kind}", get(export_table))
        .route("/admin/users", post(add_user))
        .route("/admin/keys", post(create_key))
}

/// Whether the signed-in user may change what `p` guards, as the access policy says.
async fn may_administer(app: &App, ctx: &Ctx, p: Permission) -> bool {
    let Some(actor) = ctx.staff() else {
        return false;
    };
    match app.reference().await {
        Ok(reference) => reference.policy().may_administer(actor, p).is_ok(),
        Err(_) => false,
    }
}

/// The sections of the admin page, in the order of its tabs.
const SECTIONS: &[&str] = &[
    "grids",
    "tables",
    "units",
    "categories",
    "calendar",
    "users",
    "keys",
];

/// Rows per page of the longer tables.
const PER_PAGE: usize = 50;

#[derive(serde::Deserialize, Default)]
struct AdminQuery {
    section: Option<String>,
    page: Option<usize>,
}

async fn admin(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<AdminQuery>,
) -> Response {
    let section = q.section.unwrap_or_else(|| "grids".to_owned());
    if !SECTIONS.contains(&section.as_str()) {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-page-not-found"));
    }
    page(
        &app,
        &ctx,
        json!({"section": section, "page": q.page.unwrap_or(1)}),
        StatusCode::OK,
    )
    .await
}

/// The section a form's answer belongs to, from what it carries.
fn section_of(extra: &Value) -> String {
    if let Some(s) = extra.get("section").and_then(Value::as_str) {
        return s.to_owned();
    }
    let keys: Vec<&str> = extra
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let has = |prefix: &str| keys.iter().any(|k| k.starts_with(prefix));
    if has("table_") {
        "tables"
    } else if has("user_") {
        "users"
    } else if has("key_") || has("new_key") {
        "keys"
    } else {
        "grids"
    }
    .to_owned()
}

/// One page of `rows` and the pager to go with it.
fn paged<T: serde::Serialize>(rows: &[T], page: usize, section: &str) -> (Value, Value) {
    let pages = rows.len().div_ceil(PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let shown: Vec<&T> = rows
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    let link = |p: usize| format!("/admin?section={section}&page={p}");
    (
        json!(shown),
        json!({
            "page": page,
            "pages": pages,
            "total": rows.len(),
            "prev": (page > 1).then(|| link(page - 1)),
            "next": (page < pages).then(|| link(page + 1)),
        }),
    )
}

async fn page(app: &App, ctx: &Ctx, extra: Value, status: StatusCode) -> Response {
    let Some(actor) = ctx.staff() else {
        return crate::web::see_other("/login");
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    if reference.policy().may_open_administration(actor).is_err() {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let section = section_of(&extra);
    let page_no = extra.get("page").and_then(Value::as_u64).unwrap_or(1) as usize;
    let regions = app.repo.regions().await.unwrap_or_default();
    let users = app.repo.users().await.unwrap_or_default();
    let year = app.clock.now().to_zoned(ctx.tz.clone()).date().year();
    let mut data = json!({
        "perms": ctx.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "regions": regions.iter().map(|r| json!({
            "code": r.code.as_str(),
            "name": r.name,
            "grids": reference.grid_regions.values().filter(|g| *g == &r.code).count(),
        })).collect::<Vec<_>>(),
        "grid_count": reference.grid_regions.len(),
        "units": reference.units.iter().map(|u| json!({
            "code": u.code,
            "name": u.name,
            "kind": ctx.unit_kind(u.kind.as_str()),
            "region": reference.region_name(&u.region),
            "region_code": u.region.as_str(),
        })).collect::<Vec<_>>(),
        "categories": reference.categories.iter().map(|c| json!({
            "code": c.code.as_str(),
            "name": if ctx.lang == "en" { c.name_en.clone() } else { c.name_zh.clone() },
            "major": c.code.is_major(),
            "service_type": ctx.service_type(c.service_type.as_str()),
            "handle": c.deadline(Priority::Normal, Stage::Handle).map(|l| ctx.time_limit(&l)),
            "attributes": c.attributes.iter().map(|a| format!("{}（{}）", ctx.bilingual(&a.description), ctx.attribute_type(a.datatype.as_str()))).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rule_count": reference.rules.len(),
        "calendar": reference.calendar.special_days()
            .filter(|d| d.date.year() == year)
            .map(|d| json!({"date": d.date.to_string(), "kind": ctx.day_kind(d.kind.as_str()), "name": d.name}))
            .collect::<Vec<_>>(),
        "roles": reference.roles.iter().map(|r| json!({
            "code": r.code,
            "name": ctx.role_name(r),
            "permissions": r.permissions.iter().map(|p| ctx.permission(*p)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "users": users.iter().map(|u| json!({
            "username": u.username,
            "name": u.display_name,
            "active": u.active,
            "grants": u.grants.iter().map(|g| {
                let role = reference.roles.iter().find(|r| r.code == g.role).map_or_else(|| g.role.clone(), |r| ctx.role_name(r));
                format!("{role} · {}", scope_name(&reference, &g.scope))
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "year": year,
        "sections": SECTIONS,
        "may_notifications": may_administer(app, ctx, Permission::NotificationManage).await,
        "scopes": regions.iter().map(|r| json!({"value": format!("region:{}", r.code), "name": r.name}))
            .chain(reference.units.iter().map(|u| json!({"value": format!("unit:{}", u.code), "name": u.name})))
            .collect::<Vec<_>>(),
    });
    if let (Some(d), Value::Object(e)) = (data.as_object_mut(), extra) {
        d.extend(e);
        // The long tables a page at a time.
        let list = match section.as_str() {
            "units" | "categories" | "users" | "calendar" => d.get(section.as_str()).cloned(),
            _ => None,
        };
        if let Some(Value::Array(rows)) = list {
            let (shown, pager) = paged(&rows, page_no, &section);
            d.insert(section.clone(), shown);
            d.insert("pager".into(), pager);
        }
        d.insert("section".into(), json!(section));
    }
    ctx.render_status(status, "admin.html", data)
}

/// Where a grant applies, as a person names it.
fn scope_name(
    reference: &crate::reference::Reference,
    scope: &civicgrid_domain::access::Scope,
) -> String {
    use civicgrid_domain::access::Scope;
    match scope {
        Scope::Region(r) => reference.region_name(r),
        Scope::Unit(u) => reference.unit_name(u),
    }
}

async fn import_grids(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    if !may_administer(&app, &ctx, Permission::TerritoryManage).await {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let mut fields = Vec::new();
    let mut file: Option<(String, String)> = None;
    let mut problem: Option<String> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or("").to_owned();
                if name == "file" {
                    let file_name = f.file_name().unwrap_or("grids.geojson").to_owned();
                    match f.bytes().await {
                        Ok(b) => match String::from_utf8(b.to_vec()) {
                            Ok(t) if !t.trim().is_empty() => file = Some((file_name, t)),
                            Ok(_) => {}
                            Err(_) => problem = Some(ctx.t("err-not-utf8")),
                        },
                        Err(_) => problem = Some(ctx.t("err-file-too-large")),
                    }
                } else if let Ok(v) = f.text().await {
                    fields.push((name, v));
                }
            }
            Ok(None) => break,
            Err(e) => {
                let key = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    "err-file-too-large"
                } else {
                    "err-form-broken"
                };
                return page(
                    &app,
                    &ctx,
                    json!({"grid_errors": {"file": ctx.t(key)}}),
                    e.status(),
                )
                .await;
            }
        }
    }
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let parent = f.get("parent").map(|s| s.trim()).filter(|s| !s.is_empty());
    let typed =
        json!({"parent": parent, "code_prop": f.get("code_prop"), "name_prop": f.get("name_prop")});
    if let Some(p) = problem {
        return page(
            &app,
            &ctx,
            json!({"grid_errors": {"file": p}, "grid_form": typed}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let Some((file_name, text)) = file else {
        return page(
            &app,
            &ctx,
            json!({"grid_errors": {"file": ctx.t("err-required")}, "grid_form": typed}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let parent = match parent.map(|p| p.parse()) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => {
            return page(
                &app,
                &ctx,
                json!({"grid_errors": {"parent": ctx.t("err-region")}, "grid_form": typed}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let options = GridImportOptions {
        code_prop: f
            .get("code_prop")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or("code")
            .to_owned(),
        name_prop: f
            .get("name_prop")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or("name")
            .to_owned(),
        parent,
    };
    match app.import_grids(&file_name, &text, &options).await {
        Ok(report) => {
            let coverage = app.check_grids(None, 1.0).await.unwrap_or_default();
            page(
                &app,
                &ctx,
                json!({"grid_result": {
                    "created": report.created,
                    "updated": report.updated,
                    "repairs": report.repairs.iter().map(|(f, n)| format!("{f}: {n}")).collect::<Vec<_>>(),
                    "overlaps": coverage.overlaps.iter().map(|o| format!("{} × {}: {:.1} m²", o.a, o.b, o.area_m2)).collect::<Vec<_>>(),
                    "gaps": coverage.gaps.iter().map(|g| format!("{}: {:.1} m² ({:.5}, {:.5})", g.region, g.area_m2, g.at.0, g.at.1)).collect::<Vec<_>>(),
                }}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            page(
                &app,
                &ctx,
                json!({"grid_errors": {"file": e.to_string()}, "grid_form": typed}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn add_user(State(app): State<App>, ctx: Ctx, body: axum::body::Bytes) -> Response {
    if !may_administer(&app, &ctx, Permission::UserManage).await {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let typed = json!({"username": get("username"), "name": get("name"), "role": get("role"), "scope": get("scope")});
    let mut errors = serde_json::Map::new();
    for k in ["username", "name", "role", "scope", "password"] {
        if get(k).is_empty() {
            errors.insert(k.into(), json!(ctx.t("err-required")));
        }
    }
    let scope = match get("scope").split_once(':') {
        Some(("region", r)) => r.parse().ok().map(Scope::Region),
        Some(("unit", u)) => Some(Scope::Unit(u.to_owned())),
        _ => None,
    };
    if scope.is_none() && !errors.contains_key("scope") {
        errors.insert("scope".into(), json!(ctx.t("err-scope")));
    }
    if !errors.is_empty() {
        return page(
            &app,
            &ctx,
            json!({"user_errors": errors, "user_form": typed}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let Some(scope) = scope else {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-scope"));
    };
    let spec = UserSpec {
        username: get("username"),
        display_name: get("name"),
        password: f.get("password").cloned().unwrap_or_default(),
        unit: Some(get("unit")).filter(|u| !u.is_empty()),
        grants: vec![Grant {
            role: get("role"),
            scope,
        }],
    };
    match app.add_user(spec).await {
        Ok(()) => {
            page(
                &app,
                &ctx,
                json!({"user_added": get("username")}),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            page(
                &app,
                &ctx,
                json!({"user_errors": {"username": e.to_string()}, "user_form": typed}),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn create_key(State(app): State<App>, ctx: Ctx, body: axum::body::Bytes) -> Response {
    if !may_administer(&app, &ctx, Permission::UserManage).await {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let pairs = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let name = f
        .get("name")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    if name.is_empty() {
        return page(
            &app,
            &ctx,
            json!({"key_errors": {"name": ctx.t("err-required")}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let user = f.get("user").map(|s| s.trim()).filter(|s| !s.is_empty());
    match app.create_api_key(&name, user).await {
        Ok(key) => page(&app, &ctx, json!({"new_key": key, "key_name": name}), StatusCode::OK).await,
        Err(e) => page(&app, &ctx, json!({"key_errors": {"user": e.to_string()}, "key_form": {"name": name, "user": user}}), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

/// The tables an administrator keeps as files, with the permission each needs and the file
/// format it is imported from and exported to.
const TABLES: &[(&str, Permission, &str)] = &[
    ("regions", Permission::TerritoryManage, "csv"),
    ("beats", Permission::TerritoryManage, "csv"),
    ("units", Permission::ResponsibilityManage, "csv"),
    ("responsibility", Permission::ResponsibilityManage, "csv"),
    ("catalogue", Permission::CatalogueManage, "toml"),
    ("calendar", Permission::CalendarManage, "toml"),
    ("assessment", Permission::KpiManage, "toml"),
];

/// Imports one table from an uploaded file: all or nothing, every problem named by line and
/// field, as on the command line.
async fn import_table(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let mut fields = Vec::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or("").to_owned();
                if name == "file" {
                    let file_name = f.file_name().unwrap_or("upload").to_owned();
                    match f.bytes().await {
                        Ok(b) => file = Some((file_name, b.to_vec())),
                        Err(_) => {
                            return page(
                                &app,
                                &ctx,
                                json!({"table_errors": [ctx.t("err-file-too-large")]}),
                                StatusCode::PAYLOAD_TOO_LARGE,
                            )
                            .await;
                        }
                    }
                } else if let Ok(v) = f.text().await {
                    fields.push((name, v));
                }
            }
            Ok(None) => break,
            Err(e) => {
                return page(
                    &app,
                    &ctx,
                    json!({"table_errors": [ctx.t("err-form-broken")]}),
                    e.status(),
                )
                .await;
            }
        }
    }
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let kind = f.get("kind").cloned().unwrap_or_default();
    let Some((_, permission, _)) = TABLES.iter().find(|(k, _, _)| *k == kind) else {
        return page(
            &app,
            &ctx,
            json!({"table_errors": [ctx.t("err-choice")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if !may_administer(&app, &ctx, *permission).await {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return page(
            &app,
            &ctx,
            json!({"table_errors": [ctx.t("err-required")], "table_kind": kind}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return page(
            &app,
            &ctx,
            json!({"table_errors": [ctx.t("err-not-utf8")], "table_kind": kind}),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let result = match kind.as_str() {
        "regions" => app.import_regions(&file_name, &text).await,
        "beats" => app.import_beats(&file_name, &text).await,
        "units" => app.import_units(&file_name, &text).await,
        "responsibility" => app.import_responsibility_list(&file_name, &text).await,
        "catalogue" => {
            let format = crate::app::Format::of(&file_name).unwrap_or(crate::app::Format::Toml);
            app.import_catalogue(&file_name, &text, format).await
        }
        "assessment" => {
            let by = ctx.staff().map(|a| a.name().to_owned()).unwrap_or_default();
            app.import_assessment(&file_name, &text, &by).await
        }
        _ => app.import_calendar(&file_name, &text).await,
    };
    match result {
        Ok(n) => page(&app, &ctx, json!({"table_done": crate::web::i18n::t(ctx.lang, "admin-table-imported", &[("count", n.to_string())]), "table_kind": kind}), StatusCode::OK).await,
        Err(crate::error::AppError::Input(errors)) => {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            page(&app, &ctx, json!({"table_errors": lines, "table_kind": kind}), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page(&app, &ctx, json!({"table_errors": [e.to_string()], "table_kind": kind}), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

async fn export_table(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Path(kind): axum::extract::Path<String>,
) -> Response {
    let Some((_, permission, ext)) = TABLES.iter().find(|(k, _, _)| *k == kind) else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    if !may_administer(&app, &ctx, *permission).await {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let text = match kind.as_str() {
        "regions" => app.export_regions().await,
        "beats" => app.export_beats().await,
        "units" => app.export_units().await,
        "responsibility" => app.export_responsibility_list().await,
        "catalogue" => app.export_catalogue(crate::app::Format::Toml).await,
        "assessment" => app.export_assessment().await,
        _ => app.export_calendar().await,
    };
    match text {
        Ok(t) => {
            let content_type = if *ext == "csv" {
                "text/csv; charset=utf-8"
            } else {
                "application/toml; charset=utf-8"
            };
            (
                [
                    (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{kind}.{ext}\""),
                    ),
                ],
                t,
            )
                .into_response()
        }
        Err(e) => ctx.app_error(e),
    }
}
