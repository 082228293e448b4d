//! The resident portal: report a problem (category and attributes, a place on the grid map,
//! by address or coordinates, photos, optional contact), the receipt, following a case by its
//! receipt code and evaluating it, the public list and map.

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use civicgrid_domain::case::{Channel, PhotoStage, Satisfaction, Status};
use civicgrid_domain::catalogue::{AttributeType, CategoryCode};
use civicgrid_domain::territory::GridCode;
use serde_json::{Value, json};

use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::cases::seal::Reporter;
use crate::cases::{Actor, Intake};
use crate::error::AppError;
use crate::web::Pages;
use crate::web::svg::{MapGrid, MapText, Marker, grid_map};
use crate::web::{Ctx, form_map, see_other};

/// Photos per report, and bytes per photo.
const MAX_PHOTOS: usize = 3;
const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

pub fn routes() -> Pages {
    Pages::new()
        .route("/", get(home))
        .route(
            "/report",
            get(report_form)
                .post(report_submit)
                .layer(DefaultBodyLimit::max(
                    MAX_PHOTOS * MAX_PHOTO_BYTES + 1024 * 1024,
                )),
        )
        .route("/receipt/{code}", get(receipt))
        .route("/track", get(track_lookup))
        .route("/track/{code}", get(track))
        .route("/track/{code}/evaluate", post(evaluate))
        .route("/cases", get(public_cases))
        .route("/cases/{public_id}", get(public_case))
        .route("/map/cases.geojson", get(public_cases_geojson))
}

async fn home(ctx: Ctx) -> Response {
    ctx.render("home.html", json!({}))
}

/// The categories a resident can pick, grouped by major class, in the page's language.
fn category_groups(ctx: &Ctx, reference: &crate::reference::Reference) -> Value {
    let name = |zh: &str, en: &str| {
        if ctx.lang == "en" {
            en.to_owned()
        } else {
            zh.to_owned()
        }
    };
    let groups: Vec<Value> = reference
        .categories
        .iter()
        .filter(|c| c.code.is_major())
        .map(|major| {
            json!({
                "name": name(&major.name_zh, &major.name_en),
                "categories": reference.categories.iter()
                    .filter(|c| !c.code.is_major() && c.code.major() == major.code)
                    .map(|c| json!({"code": c.code.as_str(), "name": name(&c.name_zh, &c.name_en)}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!(groups)
}

pub(crate) async fn map_svg(
    app: &App,
    ctx: &Ctx,
    href: impl Fn(&str) -> Option<String>,
    shade: &BTreeMap<String, usize>,
    markers: &[Marker],
) -> Result<String, AppError> {
    let grids = app.repo.grids(None).await?;
    let reference = app.reference().await?;
    let max = shade.values().copied().max().unwrap_or(0).max(1) as f64;
    let map: Vec<MapGrid<'_>> = grids
        .iter()
        .map(|g| {
            let n = shade.get(g.code.as_str()).copied();
            MapGrid {
                fill: None,
                code: g.code.as_str(),
                name: &g.name,
                community: reference.region_names.get(&g.region).map(String::as_str),
                geometry: &g.geometry,
                shade: n.map(|n| n as f64 / max),
                note: n.map(|n| n.to_string()).unwrap_or_default(),
                href: href(g.code.as_str()),
            }
        })
        .collect();
    let legend = if shade.is_empty() {
        let mut l = vec![
            ("outline", ctx.t("legend-grid")),
            ("link", ctx.t("legend-pick")),
        ];
        if !markers.is_empty() {
            l.push(("marker", ctx.t("legend-picked")));
        }
        l
    } else {
        let mut l = vec![
            ("shade-low", ctx.t("legend-fewer-open")),
            ("shade-high", ctx.t("legend-more-open")),
        ];
        if markers.iter().any(|m| m.href.is_some()) {
            l.push(("marker", ctx.t("legend-case")));
        }
        l
    };
    Ok(grid_map(
        &map,
        markers,
        &MapText {
            title: &ctx.t("map-title"),
            legend,
            skip: Some(ctx.t("map-skip")),
        },
    ))
}

#[derive(serde::Deserialize, Default)]
struct ReportQuery {
    category: Option<String>,
    grid: Option<String>,
    /// What the problem is, typed before a category is chosen: the likeliest categories are
    /// offered for it, and it fills the form's description.
    description: Option<String>,
}

/// The values a resident typed, kept when the form comes back with errors.
#[derive(Default, serde::Serialize)]
struct ReportForm {
    category: String,
    description: String,
    lon: String,
    lat: String,
    grid: String,
    address: String,
    name: String,
    phone: String,
    email: String,
    /// Whether the reporter wants e-mail about the case (ticked until they untick it).
    notify: bool,
    attributes: BTreeMap<String, String>,
    /// Set when the place chosen lies in another community than the one the text names.
    place_warning: String,
    /// What the reporter already confirmed (the place, the possible duplicates): carried on
    /// every round of the form, so that one check does not undo the other.
    place_confirmed: bool,
    duplicates_confirmed: bool,
}

async fn report_page(
    app: &App,
    ctx: &Ctx,
    form: &ReportForm,
    errors: &BTreeMap<String, String>,
    duplicates: Vec<Value>,
    status: StatusCode,
) -> Response {
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let category = form
        .category
        .parse::<CategoryCode>()
        .ok()
        .and_then(|c| reference.category(&c).cloned());
    let attributes: Vec<Value> = category
        .iter()
        .flat_map(|c| c.attributes.iter())
        .map(|a| {
            json!({
                "code": a.code,
                "datatype": a.datatype.as_str(),
                "required": a.required,
                "description": a.description,
                "values": a.values.iter().map(|v| json!({"key": v.key, "name": v.name})).collect::<Vec<_>>(),
                "value": form.attributes.get(&a.code).cloned().unwrap_or_default(),
                "error": errors.get(&format!("attr_{}", a.code)),
            })
        })
        .collect();
    let cat = form.category.clone();
    let marker: Vec<Marker> = match (form.lon.parse::<f64>(), form.lat.parse::<f64>()) {
        (Ok(lon), Ok(lat)) => vec![Marker {
            lon,
            lat,
            href: None,
            label: ctx.t("report-here"),
        }],
        _ => vec![],
    };
    let map = match map_svg(
        app,
        ctx,
        |code| Some(format!("/report?category={cat}&grid={code}#place")),
        &BTreeMap::new(),
        &marker,
    )
    .await
    {
        Ok(m) => m,
        Err(e) => return ctx.app_error(e),
    };
    // Where the report will go, by name, before it is sent: the grid named, or the one the
    // point lies in.
    let point = form
        .lon
        .parse::<f64>()
        .ok()
        .zip(form.lat.parse::<f64>().ok());
    let grid_name = form
        .grid
        .parse::<GridCode>()
        .ok()
        .filter(|g| reference.grid_regions.contains_key(g))
        .or_else(|| point.and_then(|(lon, lat)| reference.grid_index.locate(lon, lat).cloned()))
        .map(|g| reference.place_name(&g));
    let map_config = app.map_config(
        ctx,
        crate::territory::map::MapConfig {
            pick: true,
            cases: None,
        },
    );
    // Words but no category yet: the model's likeliest categories, each one click away.
    let suggestions: Vec<Value> = if form.category.is_empty() && !form.description.is_empty() {
        super::suggested_categories(app, ctx, &form.description).await
    } else {
        vec![]
    };
    ctx.render_status(
        status,
        "report.html",
        json!({
            "groups": category_groups(ctx, &reference),
            "form": form,
            "errors": errors,
            "attributes": attributes,
            "map": map,
            "grid_chosen": grid_name,
            "map_config": map_config,
            "duplicates": duplicates,
            "suggestions": suggestions,
            "max_photos": MAX_PHOTOS,
        }),
    )
}

async fn report_form(State(app): State<App>, ctx: Ctx, Query(q): Query<ReportQuery>) -> Response {
    let mut form = ReportForm {
        category: q.category.unwrap_or_default(),
        grid: q.grid.unwrap_or_default(),
        description: q
            .description
            .unwrap_or_default()
            .trim()
            .chars()
            .take(5000)
            .collect(),
        notify: true,
        ..Default::default()
    };
    let mut errors = BTreeMap::new();
    // A category from an old link or a typo: say so, rather than show the form as if none
    // had been asked for.
    if !form.category.is_empty() {
        let known = match app.reference().await {
            Ok(r) => form
                .category
                .parse::<CategoryCode>()
                .ok()
                .is_some_and(|c| r.category(&c).is_some_and(|c| !c.code.is_major())),
            Err(e) => return ctx.app_error(e),
        };
        if !known {
            errors.insert("category".to_owned(), ctx.t("err-unknown-category"));
            form.category.clear();
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    report_page(&app, &ctx, &form, &errors, vec![], status).await
}

struct Upload {
    content_type: String,
    bytes: Vec<u8>,
}

async fn report_submit(State(app): State<App>, ctx: Ctx, mut multipart: Multipart) -> Response {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut photos: Vec<Upload> = Vec::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                // The body was cut off or too large (several photos over the limit).
                let status = e.status();
                let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ctx.t("err-photo-too-large")
                } else {
                    ctx.t("err-form-broken")
                };
                return ctx.error(status, &message);
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "photos" {
            let content_type = field.content_type().unwrap_or("").to_owned();
            let file_name = field.file_name().unwrap_or("").to_owned();
            match field.bytes().await {
                Ok(b) if b.is_empty() && file_name.is_empty() => {}
                Ok(b) if b.len() > MAX_PHOTO_BYTES => {
                    errors.insert("photos".into(), ctx.t("err-photo-too-large"));
                }
                Ok(b) => photos.push(Upload {
                    content_type,
                    bytes: b.to_vec(),
                }),
                Err(_) => {
                    errors.insert("photos".into(), ctx.t("err-photo-too-large"));
                }
            }
        } else {
            match field.text().await {
                Ok(v) => fields.push((name, v)),
                Err(_) => return ctx.error(StatusCode::BAD_REQUEST, &ctx.t("err-form-broken")),
            }
        }
    }
    let f = form_map(&fields);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut form = ReportForm {
        category: get("category"),
        description: get("description"),
        lon: get("lon"),
        lat: get("lat"),
        grid: get("grid"),
        address: get("address"),
        name: get("name"),
        phone: get("phone"),
        email: get("email"),
        notify: get("notify") == "yes",
        attributes: BTreeMap::new(),
        place_warning: String::new(),
        place_confirmed: get("place_confirmed") == "yes",
        duplicates_confirmed: get("confirmed") == "yes",
    };
    for (k, v) in &fields {
        if let Some(code) = k.strip_prefix("attr_") {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            form.attributes
                .entry(code.to_owned())
                .and_modify(|e: &mut String| {
                    e.push(',');
                    e.push_str(v);
                })
                .or_insert_with(|| v.to_owned());
        }
    }
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };

    // Each field checked here, so that every message is in the user's language and next to
    // its field; the service checks again.
    let category = form
        .category
        .parse::<CategoryCode>()
        .ok()
        .and_then(|c| reference.category(&c).cloned())
        .filter(|c| !c.code.is_major());
    if category.is_none() {
        errors.insert("category".into(), ctx.t("err-category"));
    }
    let chars = form.description.chars().count();
    if chars == 0 {
        errors.insert("description".into(), ctx.t("err-required"));
    } else if chars > 5000 {
        errors.insert("description".into(), ctx.t("err-too-long"));
    }
    let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let location = if form.lon.is_empty() && form.lat.is_empty() {
        None
    } else {
        let lon = number(&form.lon).filter(|v| v.abs() <= 180.0);
        let lat = number(&form.lat).filter(|v| v.abs() <= 90.0);
        if lon.is_none() {
            errors.insert("lon".into(), ctx.t("err-number"));
        }
        if lat.is_none() {
            errors.insert("lat".into(), ctx.t("err-number"));
        }
        lon.zip(lat)
    };
    let grid = if form.grid.is_empty() {
        None
    } else {
        match form.grid.parse::<GridCode>() {
            Ok(g) if reference.grid_regions.contains_key(&g) => Some(g),
            _ => {
                errors.insert("grid".into(), ctx.t("err-grid"));
                None
            }
        }
    };
    if let Some((lon, lat)) = location
        && reference.grid_index.locate(lon, lat).is_none()
    {
        errors.insert("lon".into(), ctx.t("err-outside"));
    }
    if location.is_none()
        && grid.is_none()
        && form.address.is_empty()
        && !errors.contains_key("lon")
    {
        errors.insert("place".into(), ctx.t("err-place"));
    }
    if let Some(c) = &category {
        for a in &c.attributes {
            let v = form
                .attributes
                .get(&a.code)
                .map(String::as_str)
                .unwrap_or("");
            let key = format!("attr_{}", a.code);
            if v.is_empty() {
                if a.required {
                    errors.insert(key, ctx.t("err-required"));
                }
                continue;
            }
            let ok = match a.datatype {
                AttributeType::Number => number(v).is_some(),
                AttributeType::Datetime => {
                    v.parse::<jiff::Timestamp>().is_ok()
                        || v.parse::<jiff::civil::DateTime>().is_ok()
                }
                AttributeType::SingleValueList => a.values.iter().any(|x| x.key == v),
                AttributeType::MultiValueList => {
                    v.split(',').all(|p| a.values.iter().any(|x| x.key == p))
                }
                AttributeType::String => v.chars().count() <= 200,
                AttributeType::Text => v.chars().count() <= 5000,
            };
            if !ok {
                let message = match a.datatype {
                    AttributeType::Number => ctx.t("err-number"),
                    AttributeType::Datetime => ctx.t("err-datetime"),
                    AttributeType::String | AttributeType::Text => ctx.t("err-too-long"),
                    _ => ctx.t("err-choice"),
                };
                errors.insert(key, message);
            }
        }
    }
    let reporter = Reporter {
        name: Some(form.name.clone()).filter(|s| !s.is_empty()),
        phone: Some(form.phone.clone()).filter(|s| !s.is_empty()),
        email: Some(form.email.clone()).filter(|s| !s.is_empty()),
        notify: (!form.email.is_empty()).then_some(form.notify),
    };
    for (field, _) in reporter.problems() {
        let key = field.trim_start_matches("reporter.").to_owned();
        errors.insert(key, ctx.t("err-contact"));
    }
    for p in &photos {
        if !matches!(
            p.content_type.as_str(),
            "image/jpeg" | "image/png" | "image/webp"
        ) {
            errors.insert("photos".into(), ctx.t("err-photo-type"));
        }
    }
    if photos.len() > MAX_PHOTOS {
        errors.insert("photos".into(), ctx.t("err-photo-count"));
    }
    if !errors.is_empty() {
        // Photos cannot be kept by the browser across a round trip; say so with the errors.
        if !photos.is_empty() && !errors.contains_key("photos") {
            errors.insert("photos".into(), ctx.t("err-photo-again"));
        }
        return report_page(
            &app,
            &ctx,
            &form,
            &errors,
            vec![],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let Some(category) = category else {
        return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-category"));
    };

    // The place chosen and the place described should agree: a resident who writes of 南联社区
    // and clicks a grid of another community is asked to check before the report is sent.
    if !form.place_confirmed
        && let Some((lon, lat)) = location
        && let Some(g) = reference.grid_index.locate(lon, lat)
        && let Some(chosen) = reference.grid_regions.get(g)
    {
        let text = format!("{} {}", form.description, form.address);
        let named = reference.region_names.iter().find(|(code, name)| {
            code.level() == civicgrid_domain::territory::RegionLevel::Community
                && *code != chosen
                && name.chars().count() >= 3
                && text.contains(name.as_str())
        });
        if let Some((_, described)) = named {
            form.place_warning = crate::web::i18n::t(
                ctx.lang,
                "report-place-mismatch",
                &[
                    ("described", described.clone()),
                    ("chosen", reference.place_name(g)),
                ],
            );
            return report_page(&app, &ctx, &form, &BTreeMap::new(), vec![], StatusCode::OK).await;
        }
    }

    // Possible duplicates are shown before the report is stored; the resident decides.
    if !form.duplicates_confirmed
        && let Some(point) = location
    {
        let found = match app
            .possible_duplicates(
                &category.code,
                point,
                app.clock.now(),
                50.0,
                jiff::SignedDuration::from_hours(72),
                None,
            )
            .await
        {
            Ok(f) => f,
            Err(e) => return ctx.app_error(e),
        };
        if !found.is_empty() {
            let duplicates = found
                .iter()
                .map(|(c, d)| {
                    json!({
                        "public_id": c.public_id,
                        "status": status_name(&ctx, c.state.status),
                        "distance": format!("{:.0}", d),
                        "reported_at": ctx.when(c.reported_at),
                    })
                })
                .collect();
            return report_page(
                &app,
                &ctx,
                &form,
                &BTreeMap::new(),
                duplicates,
                StatusCode::OK,
            )
            .await;
        }
    }

    let intake = Intake {
        description: form.description.clone(),
        location,
        grid,
        address: Some(form.address.clone()).filter(|a| !a.is_empty()),
        category: Some(category.code.clone()),
        attributes: form.attributes.clone(),
        priority: None,
        channel: Channel::Web,
        reporter: (reporter != Reporter::default()).then_some(reporter),
        media_url: None,
    };
    let crate::cases::Receipt { case, secret } =
        match app.report_case_with_receipt(intake, &Actor::Resident).await {
            Ok(r) => r,
            Err(AppError::Unprocessable(problems)) => {
                for (field, message) in problems {
                    errors.insert(field.replace("attributes.", "attr_"), message);
                }
                return report_page(
                    &app,
                    &ctx,
                    &form,
                    &errors,
                    vec![],
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            Err(e) => return ctx.app_error(e),
        };
    // The photos go with the case, as the reporter's own.
    let mut version = case.state.version;
    for p in photos {
        match app
            .attach_photo(
                &case.id,
                version,
                PhotoStage::Report,
                &p.content_type,
                p.bytes,
                &Actor::Reporter { case: case.id },
            )
            .await
        {
            Ok(c) => version = c.state.version,
            Err(e) => {
                tracing::warn!(error = %e, case = %case.id, "a report photo was refused");
            }
        }
    }
    // The secret is shown once, on the receipt page this redirect leads to: it travels in a
    // cookie only that page reads, and that page clears.
    let mut to = see_other(&format!("/receipt/{}", case.receipt_code));
    let cookie = format!(
        "{SECRET_COOKIE}={secret}; Path=/receipt/{}; Max-Age=900; HttpOnly; SameSite=Strict{}",
        case.receipt_code,
        if ctx.secure { "; Secure" } else { "" }
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        to.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    to
}

/// The cookie that carries a new report's secret to its receipt page, once.
const SECRET_COOKIE: &str = "cg_receipt_secret";

pub fn status_name(ctx: &Ctx, s: Status) -> String {
    ctx.t(&format!("status-{}", s.as_str().replace('_', "-")))
}

/// The receipt: the code to follow the case and, right after the report only, the secret to
/// evaluate it, which is then forgotten by the browser too.
async fn receipt(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    headers: axum::http::HeaderMap,
    Path(code): Path<String>,
) -> Response {
    // A receipt page says whether a code exists: it counts as a lookup, like tracking.
    if let Err(e) = app.count_lookup(&from).await {
        return ctx.app_error(e);
    }
    let Some(normal) = civicgrid_domain::case::normalize_receipt_code(&code) else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let case = match app.repo.case_by_receipt(&normal).await {
        Ok(Some(c)) => c,
        Ok(None) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        Err(e) => return ctx.app_error(e.into()),
    };
    // Shown only if it is this case's secret: a cookie set by hand shows nothing.
    let secret = crate::web::cookie(&headers, SECRET_COOKIE)
        .and_then(|s| civicgrid_domain::case::normalize_reporter_secret(&s))
        .filter(|s| crate::cases::seal::is_reporter(app.sealer.as_deref(), &case, s));
    let mut page = ctx.render(
        "receipt.html",
        json!({"code": case.receipt_code, "secret": secret, "public_id": case.public_id}),
    );
    let headers = page.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "{SECRET_COOKIE}=; Path=/receipt/{}; Max-Age=0; HttpOnly; SameSite=Strict",
        case.receipt_code
    )) {
        headers.append(axum::http::header::SET_COOKIE, v);
    }
    page
}

#[derive(serde::Deserialize)]
struct TrackQuery {
    code: Option<String>,
}

async fn track_lookup(ctx: Ctx, Query(q): Query<TrackQuery>) -> Response {
    match q.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => see_other(&format!("/track/{}", urlencode(code))),
        None => ctx.render("track.html", json!({})),
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn track_page(
    app: &App,
    ctx: &Ctx,
    from: &ClientAddr,
    code: &str,
    errors: Value,
    key: Option<&str>,
    status: StatusCode,
) -> Response {
    let not_found = || {
        ctx.render_status(
            StatusCode::NOT_FOUND,
            "track.html",
            // A receipt code is 9 characters: anything much longer is not echoed back.
            json!({"code": code.chars().take(20).collect::<String>(), "not_found": true}),
        )
    };
    let tracked = match app.track(code, from).await {
        Ok(t) => t,
        Err(AppError::NotFound(_)) => return not_found(),
        Err(e) => return ctx.app_error(e),
    };
    case_progress(app, ctx, tracked, true, errors, key, status).await
}

/// A case's progress as the public sees it: status, category, place, the unit handling it,
/// deadlines and the timeline. `as_reporter` adds the evaluation form (which still needs the
/// reporter's secret); the public page by number has none and never shows the receipt code.
async fn case_progress(
    app: &App,
    ctx: &Ctx,
    tracked: crate::cases::Tracked,
    as_reporter: bool,
    errors: Value,
    key: Option<&str>,
    status: StatusCode,
) -> Response {
    let crate::cases::Tracked {
        reported,
        followed: case,
        events,
    } = tracked;
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let category = case
        .category
        .as_ref()
        .and_then(|c| reference.category(c))
        .map(|c| {
            if ctx.lang == "en" {
                c.name_en.clone()
            } else {
                c.name_zh.clone()
            }
        });
    let unit = reference.handling_unit(&case);
    let place = case.grid.as_ref().map(|g| reference.place_name(g));
    ctx.render_status(
        status,
        "track.html",
        json!({
            "code": as_reporter.then(|| reported.receipt_code.clone()),
            "public": !as_reporter,
            "case": {
                "public_id": case.public_id,
                "merged": reported.state.merged_into.is_some(),
                "unit": unit,
                "place": place,
                "status": status_name(ctx, case.state.status),
                "status_code": case.state.status.as_str(),
                "category": category,
                "reported_at": ctx.when(case.reported_at),
                "due_at": case.clock.filter(|_| case.state.status.is_open()).map(|k| ctx.when(k.due_at)),
                "can_evaluate": as_reporter && case.state.status == Status::Closed && reported.state.merged_into.is_none(),
                "satisfaction": case.state.satisfaction.map(|s| ctx.t(&format!("satisfaction-{}", satisfaction_word(s)))),
            },
            "timeline": events.iter().map(|e| json!({
                "at": ctx.when(e.at),
                "status": status_name(ctx, e.to),
                "action": ctx.t(&format!("action-{}", e.action.replace('_', "-"))),
            })).collect::<Vec<_>>(),
            "errors": errors,
            "key": key,
        }),
    )
}

fn satisfaction_word(s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => "satisfied",
        Satisfaction::BasicallySatisfied => "basically-satisfied",
        Satisfaction::Unsatisfied => "unsatisfied",
    }
}

#[derive(serde::Deserialize)]
struct EvaluationKey {
    /// The key of an e-mail's evaluation link: it stands in for the secret.
    #[serde(default)]
    key: Option<String>,
}

async fn track(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    Path(code): Path<String>,
    Query(q): Query<EvaluationKey>,
) -> Response {
    // Only a key of the right shape is carried into the form; the service checks it.
    let key = q
        .key
        .filter(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()));
    track_page(
        &app,
        &ctx,
        &from,
        &code,
        json!({}),
        key.as_deref(),
        StatusCode::OK,
    )
    .await
}

/// A case by its public number, from the public list or map: its progress, nothing to act on.
async fn public_case(State(app): State<App>, ctx: Ctx, Path(public_id): Path<String>) -> Response {
    match app.public_case(&public_id).await {
        Ok(t) => case_progress(&app, &ctx, t, false, json!({}), None, StatusCode::OK).await,
        Err(e) => ctx.app_error(e),
    }
}

/// The key of an e-mail's evaluation link, carried back into the form when it comes back
/// with an error (a missing choice, a comment too long), so the reporter is not asked for a
/// secret they were never given. Only a key of the right shape; the service checks it.
fn linked_key(f: &std::collections::HashMap<String, String>) -> Option<&str> {
    f.get("secret")
        .map(String::as_str)
        .filter(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn evaluate(
    State(app): State<App>,
    ctx: Ctx,
    from: ClientAddr,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let pairs = match crate::open311::wire::parse_form(&body) {
        Ok(p) => p,
        Err(_) => return ctx.error(StatusCode::BAD_REQUEST, &ctx.t("err-form-broken")),
    };
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let satisfaction = match f.get("satisfaction").map(String::as_str) {
        Some("satisfied") => Satisfaction::Satisfied,
        Some("basically_satisfied") => Satisfaction::BasicallySatisfied,
        Some("unsatisfied") => Satisfaction::Unsatisfied,
        _ => {
            return track_page(
                &app,
                &ctx,
                &from,
                &code,
                json!({"satisfaction": ctx.t("err-required")}),
                linked_key(&f),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let comment = f.get("comment").cloned().unwrap_or_default();
    if comment.chars().count() > 1000 {
        return track_page(
            &app,
            &ctx,
            &from,
            &code,
            json!({"comment": ctx.t("err-too-long")}),
            linked_key(&f),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let secret = f.get("secret").map(String::as_str).unwrap_or_default();
    // Every attempt counts as a lookup (in the service), so secrets cannot be tried here.
    match app
        .evaluate_by_receipt(&code, secret, satisfaction, &comment, &from)
        .await
    {
        Ok(_) => see_other(&format!("/track/{}", urlencode(&code))),
        Err(AppError::Forbidden(_)) => {
            // The same refusal whether the code or the secret was wrong.
            let page = track_page(
                &app,
                &ctx,
                &from,
                &code,
                json!({"secret": ctx.t("err-reporter-secret")}),
                None,
                StatusCode::FORBIDDEN,
            )
            .await;
            if page.status() == StatusCode::NOT_FOUND {
                return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-reporter-secret"));
            }
            page
        }
        Err(e) => ctx.app_error(e),
    }
}

/// Where a case is shown in public: to about 100 m (three decimals), so that a report made
/// from home does not point at the home.
fn public_point((lon, lat): (f64, f64)) -> (f64, f64) {
    ((lon * 1e3).round() / 1e3, (lat * 1e3).round() / 1e3)
}

/// The public cases of the last 90 days (the window the public list and map show).
async fn public_window(app: &App) -> Result<Vec<civicgrid_domain::case::Case>, AppError> {
    let now = app.clock.now();
    let filter = civicgrid_store::CaseFilter {
        reported_from: Some(now - jiff::SignedDuration::from_hours(24 * 90)),
        limit: 5000,
        ..Default::default()
    };
    Ok(app
        .list_cases(&filter)
        .await?
        .into_iter()
        .filter(|c| c.state.status != Status::Merged)
        .collect())
}

async fn public_cases(
    State(app): State<App>,
    ctx: Ctx,
    Query(q): Query<crate::cases::pages::finding::ListQuery>,
) -> Response {
    let cases = match public_window(&app).await {
        Ok(c) => c,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let q = q.search_public(&cases, &reference);
    let listing = q.apply(&cases, app.clock.now(), &ctx.tz, &ctx);
    let mut open_by_grid: BTreeMap<String, usize> = BTreeMap::new();
    for c in listing.cases.iter().filter(|c| c.state.status.is_open()) {
        if let Some(g) = &c.grid {
            *open_by_grid.entry(g.to_string()).or_default() += 1;
        }
    }
    // The cases of this page on the map, each a link to its public page.
    let markers: Vec<Marker> = listing
        .cases
        .iter()
        .filter_map(|c| {
            let (lon, lat) = public_point(c.location?);
            Some(Marker {
                lon,
                lat,
                label: format!("{} · {}", c.public_id, status_name(&ctx, c.state.status)),
                href: Some(format!("/cases/{}", c.public_id)),
            })
        })
        .collect();
    let map = match map_svg(&app, &ctx, |_| None, &open_by_grid, &markers).await {
        Ok(m) => m,
        Err(e) => return ctx.app_error(e),
    };
    // No people, no free text: what, where (the grid), when, and how far it got.
    let rows: Vec<Value> = listing
        .cases
        .iter()
        .map(|c| {
            json!({
                "public_id": c.public_id,
                "category": c.category.as_ref().and_then(|k| reference.category(k)).map(|k| if ctx.lang == "en" { k.name_en.clone() } else { k.name_zh.clone() }),
                "place": c.grid.as_ref().map(|g| reference.place_name(g)),
                "unit": reference.handling_unit(c),
                "status": status_name(&ctx, c.state.status),
                "reported_at": ctx.when(c.reported_at),
            })
        })
        .collect();
    let cases_url = q.at_page("/map/cases.geojson", listing.page);
    let map_config = app.map_config(
        &ctx,
        crate::territory::map::MapConfig {
            pick: false,
            cases: Some(&cases_url),
        },
    );
    let problems: BTreeMap<&str, String> = listing.problems.iter().cloned().collect();
    ctx.render(
        "public_cases.html",
        json!({
            "cases": rows,
            "map": map,
            "map_config": map_config,
            "q": q.form_values(),
            "choices": crate::cases::pages::finding::choices(&ctx, &reference, true),
            "problems": problems,
            "pager": listing.pager(&q, "/cases"),
        }),
    )
}

/// The public cases of a list page as GeoJSON points, for the map script: the same filters
/// and page as the list, each point a link to the case's public page. No people, no text.
async fn public_cases_geojson(
    State(app): State<App>,
    ctx: Ctx,
    Query(q): Query<crate::cases::pages::finding::ListQuery>,
) -> Response {
    let cases = match public_window(&app).await {
        Ok(c) => c,
        Err(e) => return ctx.app_error(e),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let q = q.search_public(&cases, &reference);
    let listing = q.apply(&cases, app.clock.now(), &ctx.tz, &ctx);
    let features: Vec<Value> = listing
        .cases
        .iter()
        .filter_map(|c| {
            let (lon, lat) = public_point(c.location?);
            Some(json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "public_id": c.public_id,
                    "url": format!("/cases/{}", c.public_id),
                    "category": c.category.as_ref().and_then(|k| reference.category(k)).map(|k| if ctx.lang == "en" { k.name_en.clone() } else { k.name_zh.clone() }),
                    "status": status_name(&ctx, c.state.status),
                    "status_code": c.state.status.as_str(),
                    "reported_at": ctx.when(c.reported_at),
                },
            }))
        })
        .collect();
    (
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response()
}
