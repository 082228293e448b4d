//! The case loop over REST v1: intake, reading, photos, actions, alerts and public tracking.
//! Handlers parse, call the service and shape the answer; the service asks the access policy.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use civicgrid_domain::access::Permission;
use civicgrid_domain::case::{Action, Case, Channel, Status};
use civicgrid_domain::catalogue::{CategoryCode, Priority};
use civicgrid_store::CaseFilter;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views;
use super::views::*;
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::cases::{Actor, Intake};
use crate::error::AppError;
use crate::http::views::{ChangeProblems, IntakeProblems, ReadProblems, Throttled};
use crate::http::{ApiError, ApiResult, Caller, body};

/// The case loop's REST routes.
pub fn routes() -> OpenApiRouter<App> {
    let (schemas, paths, photos) = routes!(add_photo, list_photos);
    // Photos may be up to 10 MiB; every other body keeps axum's 2 MiB limit.
    let photos = photos.layer(axum::extract::DefaultBodyLimit::max(10 * 1024 * 1024 + 1));
    OpenApiRouter::new()
        .routes(routes!(create_case, list_cases))
        .routes(routes!(get_case))
        .routes(routes!(case_events))
        .routes(routes!(duplicates))
        .routes(routes!(category_suggestions))
        .routes(routes!(reporter_contact))
        .routes((schemas, paths, photos))
        .routes(routes!(get_photo))
        .routes(routes!(act))
        .routes(routes!(track))
        .routes(routes!(evaluate))
        .routes(routes!(alerts))
}

fn with_etag(c: &Case, status: StatusCode) -> Response {
    with_etag_view(c, CaseView::from(c), status)
}

fn with_etag_view(c: &Case, view: CaseView, status: StatusCode) -> Response {
    let mut r = (status, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", c.state.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/cases/{}", c.id))
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Takes in a report. Anonymous intake is allowed; staff get possible duplicates with it,
/// and without a category the likeliest categories.
/// The answer comes after the case and its first event are durably committed.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases",
    request_body(content = NewCase, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored, routed and timed", body = CaseView,
            headers(("ETag" = String, description = "The case version"), ("Location" = String, description = "The case's URL"))),
        IntakeProblems),
    security((), ("bearer" = [])))]
async fn create_case(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<NewCase>, JsonRejection>,
) -> ApiResult<Response> {
    let n = body(payload)?;
    let mut problems = Vec::new();
    let category = match n.category.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match c.parse::<CategoryCode>() {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(("category".to_owned(), e.to_string()));
                None
            }
        },
    };
    let channel = match n.channel.as_deref() {
        None => Channel::Web,
        Some(c) => c.parse().unwrap_or_else(|e| {
            problems.push(("channel".to_owned(), e));
            Channel::Web
        }),
    };
    let priority = match n.priority.as_deref() {
        None => None,
        Some(p) => match p.parse::<Priority>() {
            Ok(p) => Some(p),
            Err(e) => {
                problems.push(("priority".to_owned(), e.to_string()));
                None
            }
        },
    };
    let location = match (n.lon, n.lat) {
        (Some(x), Some(y)) => Some((x, y)),
        (None, None) => None,
        _ => {
            problems.push(("lat".to_owned(), "give both lon and lat".to_owned()));
            None
        }
    };
    let attributes = n
        .attributes
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    let reporter = match n.reporter {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<crate::cases::seal::Reporter>(v) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push((
                    "reporter".to_owned(),
                    format!("expected {{name, phone, email, notify}}: {e}"),
                ));
                None
            }
        },
    };
    let intake = Intake {
        grid: None,
        media_url: None,
        reporter,
        description: n.description,
        location,
        address: n.address,
        category,
        attributes,
        priority,
        channel,
    };
    if !problems.is_empty() {
        // Report the fields the service would refuse too, so one answer lists everything.
        problems.extend(app.intake_problems(&intake).await?);
        return Err(AppError::Unprocessable(problems).into());
    }
    let actor = caller.0.unwrap_or(Actor::Resident);
    let crate::cases::Receipt { case, secret } =
        app.report_case_with_receipt(intake, &actor).await?;
    let mut view = CaseView::from(&case);
    view.reporter_secret = Some(secret);
    // A call-taker sees at intake the open cases most like this one (text, place, time);
    // residents do not see other people's cases.
    // The case is stored: a failure here leaves the hints out rather than fail the intake.
    if let Actor::Staff { .. } = &actor {
        let probe = crate::search::similar::Probe::of(&case, true).for_actor(&actor);
        let found = match app.similar_cases(&probe, 5).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "similar cases for the intake hint");
                Vec::new()
            }
        };
        view.possible_duplicates = Some(
            found
                .iter()
                .map(|s| DuplicateHint {
                    id: s.case.id,
                    receipt_code: s.case.receipt_code.clone(),
                    distance_m: s.likeness.distance_m.map(|d| (d * 10.0).round() / 10.0),
                    score: (s.likeness.score * 1000.0).round() / 1000.0,
                    because: s.likeness.shared.clone(),
                })
                .collect(),
        );
        if case.category.is_none() {
            view.category_suggestions =
                Some(match app.suggest_categories("", &case.description).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!(error = %e, "category suggestions for the intake hint");
                        Vec::new()
                    }
                });
        }
    }
    Ok(with_etag_view(&case, view, StatusCode::CREATED))
}

/// The case, if the caller may read it (the access policy decides, in the service).
async fn readable_case(app: &App, caller: &Caller, id: &str) -> ApiResult<Case> {
    let actor = caller.staff()?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("case {id}"))))?;
    Ok(app.case_for(actor, &id).await?)
}

/// One case, with its version as ETag.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)")),
    responses((status = 200, description = "The case", body = CaseView,
        headers(("ETag" = String, description = "The case version"))), ReadProblems),
    security(("bearer" = [])))]
async fn get_case(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let case = readable_case(&app, &caller, &id).await?;
    Ok(with_etag(&case, StatusCode::OK))
}

/// The case's timeline: every change as an append-only event.
#[utoipa::path(get, path = "/api/v1/cases/{id}/events", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)")),
    responses((status = 200, description = "The audit trail, oldest first", body = Timeline), ReadProblems),
    security(("bearer" = [])))]
async fn case_events(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Timeline>> {
    let case = readable_case(&app, &caller, &id).await?;
    let events = app.case_timeline(&case.id).await?;
    Ok(Json(Timeline {
        case: case.id,
        events: events.iter().map(EventView::from).collect(),
    }))
}

/// Attaches a photo: the body is the image, `Content-Type` says which kind, `If-Match` the
/// case version, `?stage=report|before|after` what it documents.
#[utoipa::path(post, path = "/api/v1/cases/{id}/photos", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)"), PhotoQuery,
        ("If-Match" = Option<String>, Header, description = "The case version, e.g. \"3\"")),
    request_body(content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp")),
        description = "The image, at most 10 MiB"),
    responses((status = 201, description = "Attached; the case with its new version", body = CaseView,
        headers(("ETag" = String, description = "The case version"))), ChangeProblems),
    security(("bearer" = [])))]
async fn add_photo(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<PhotoQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?.clone();
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let stage = q
        .stage
        .parse::<civicgrid_domain::case::PhotoStage>()
        .map_err(|e| AppError::Unprocessable(vec![("stage".to_owned(), e)]))?;
    let bytes = bytes.map_err(|e| {
        ApiError::App(AppError::Unprocessable(vec![(
            "photo".to_owned(),
            e.body_text(),
        )]))
    })?;
    let version = expected_version(&headers, &mut serde_json::Map::new())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("case {id}"))))?;
    let case = app
        .attach_photo(&id, version, stage, &content_type, bytes.to_vec(), &actor)
        .await?;
    Ok(with_etag(&case, StatusCode::CREATED))
}

/// The case's photos: stage, checksum and where to fetch each.
#[utoipa::path(get, path = "/api/v1/cases/{id}/photos", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)")),
    responses((status = 200, description = "The photos", body = PhotoList), ReadProblems),
    security(("bearer" = [])))]
async fn list_photos(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PhotoList>> {
    let case = readable_case(&app, &caller, &id).await?;
    Ok(Json(PhotoList {
        case: case.id,
        photos: case
            .state
            .photos
            .iter()
            .map(|(stage, sha)| PhotoRef {
                stage: stage.as_str().to_owned(),
                sha256: sha.clone(),
                href: format!("/api/v1/cases/{}/photos/{sha}", case.id),
            })
            .collect(),
    }))
}

/// One photo's bytes, with its SHA-256 as ETag.
#[utoipa::path(get, path = "/api/v1/cases/{id}/photos/{sha256}", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)"),
        ("sha256" = String, Path, description = "The photo's SHA-256, hex")),
    responses((status = 200, description = "The image",
        content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp")),
        headers(("ETag" = String, description = "The SHA-256"))), ReadProblems),
    security(("bearer" = [])))]
async fn get_photo(
    State(app): State<App>,
    caller: Caller,
    Path((id, sha256)): Path<(String, String)>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let not_found = || ApiError::App(AppError::NotFound(format!("case {id}")));
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    if !(sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::App(AppError::NotFound(format!("photo {sha256}"))));
    }
    let photo = app
        .photo_for(actor, &id, &sha256.to_ascii_lowercase())
        .await?;
    let mut r = (StatusCode::OK, photo.data).into_response();
    if let Ok(v) = HeaderValue::from_str(&photo.content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", photo.sha256)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// The reporter's contact details, for roles that need them; every read is recorded.
#[utoipa::path(get, path = "/api/v1/cases/{id}/reporter", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)")),
    responses((status = 200, description = "The contact details (null when anonymous)", body = ReporterView), ReadProblems),
    security(("bearer" = [])))]
async fn reporter_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReporterView>> {
    let case = readable_case(&app, &caller, &id).await?;
    let actor = caller.staff()?;
    let contact = app.reporter_contact(&case, actor).await?;
    Ok(Json(ReporterView {
        case: case.id,
        reporter: contact.map(|r| Contact {
            name: r.name,
            phone: r.phone,
            email: r.email,
        }),
    }))
}

/// The three likeliest categories of a case's text by the deployment's suggestion model, with
/// confidence and the words that weighed; empty while no model is trained.
#[utoipa::path(get, path = "/api/v1/cases/{id}/category-suggestions", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)")),
    responses((status = 200, description = "Likeliest first", body = [crate::suggestion::CategorySuggestion]), ReadProblems),
    security(("bearer" = [])))]
async fn category_suggestions(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<crate::suggestion::CategorySuggestion>>> {
    let case = readable_case(&app, &caller, &id).await?;
    Ok(Json(app.suggest_categories("", &case.description).await?))
}

/// Open cases of the same category nearby, offered at intake so that a call-taker can merge.
#[utoipa::path(get, path = "/api/v1/cases/{id}/duplicates", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)"), DuplicateQuery),
    responses((status = 200, description = "Candidates, nearest first", body = Duplicates), ReadProblems),
    security(("bearer" = [])))]
async fn duplicates(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<DuplicateQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Duplicates>> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let case = readable_case(&app, &caller, &id).await?;
    let radius = q.radius.unwrap_or(50.0);
    let hours = q.hours.unwrap_or(72);
    let radius_ok = radius.is_finite() && radius > 0.0 && radius <= 5000.0;
    if !(radius_ok && (1..=24 * 90).contains(&hours)) {
        return Err(AppError::Unprocessable(vec![(
            "radius".to_owned(),
            "radius must be 0–5000 m and hours 1–2160".to_owned(),
        )])
        .into());
    }
    let (Some(category), Some(location)) = (&case.category, case.location) else {
        return Ok(Json(Duplicates {
            case: case.id,
            radius_m: radius,
            hours,
            candidates: vec![],
        }));
    };
    let found = app
        .possible_duplicates(
            category,
            location,
            case.reported_at,
            radius,
            jiff::SignedDuration::from_hours(hours),
            Some(&case.id),
        )
        .await?;
    Ok(Json(Duplicates {
        case: case.id,
        radius_m: radius,
        hours,
        candidates: found
            .iter()
            .map(|(c, d)| views::Candidate {
                id: c.id,
                receipt_code: c.receipt_code.clone(),
                status: c.state.status.as_str().to_owned(),
                distance_m: (d * 10.0).round() / 10.0,
                reported_at: c.reported_at,
                description: c.description.clone(),
            })
            .collect(),
    }))
}

/// Cases the caller may read, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases",
    params(ListQuery),
    responses((status = 200, description = "A page of cases", body = CasePage), ReadProblems),
    security(("bearer" = [])))]
async fn list_cases(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<CasePage>> {
    let actor = caller.staff()?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut problems = Vec::new();
    let mut time = |name: &str, v: &Option<String>| {
        v.as_deref()
            .and_then(|s| match s.parse::<jiff::Timestamp>() {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push((
                        name.to_owned(),
                        format!("`{s}` is not an RFC 3339 instant: {e}"),
                    ));
                    None
                }
            })
    };
    let reported_from = time("from", &q.from);
    let reported_to = time("to", &q.to);
    let status = q.status.as_deref().and_then(|s| {
        s.parse::<Status>()
            .map_err(|e| problems.push(("status".to_owned(), e)))
            .ok()
    });
    let before = q.cursor.as_deref().and_then(|c| {
        c.parse::<Uuid>()
            .map_err(|_| {
                problems.push((
                    "cursor".to_owned(),
                    "not a cursor from a previous page".to_owned(),
                ))
            })
            .ok()
    });
    for (name, value) in [
        ("grid", &q.grid),
        ("unit", &q.unit),
        ("category", &q.category),
    ] {
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            problems.push((name.to_owned(), "contains a NUL character".to_owned()));
        }
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        problems.push(("limit".to_owned(), "must be 1 to 200".to_owned()));
    }
    let words = q.q.as_deref().map(str::trim).filter(|w| !w.is_empty());
    if let Some(w) = words {
        if w.chars().count() > 200 {
            problems.push(("q".to_owned(), "at most 200 characters".to_owned()));
        } else if w.contains('\0') {
            problems.push(("q".to_owned(), "contains a NUL character".to_owned()));
        } else if before.is_some() {
            problems.push((
                "cursor".to_owned(),
                "a search answers one page, best first: no cursor".to_owned(),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::Unprocessable(problems).into());
    }
    // A search: the matches the caller may read, best first, narrowed by the other filters.
    let mut scores: Option<std::collections::HashMap<Uuid, f64>> = None;
    let mut ids = Vec::new();
    if let Some(w) = words {
        let hits = app.search_cases(Some(actor), w, 1000).await?;
        if hits.is_empty() {
            return Ok(Json(CasePage {
                cases: vec![],
                next_cursor: None,
            }));
        }
        ids = hits.iter().map(|h| h.case.id).collect();
        scores = Some(hits.iter().map(|h| (h.case.id, h.score)).collect());
    }
    let filter = CaseFilter {
        status,
        grid: q.grid,
        unit: q.unit,
        category: q.category,
        within: None,
        overdue_at: q.overdue.filter(|o| *o).map(|_| app.clock.now()),
        reported_from,
        reported_to,
        before,
        running_clock: false,
        statuses: vec![],
        categories: vec![],
        open311_batch_categories: vec![],
        offset: 0,
        limit: if scores.is_some() { 1000 } else { limit },
        ids,
        ..CaseFilter::default()
    };
    let mut page = app.list_cases(&filter).await?;
    let next = match &scores {
        Some(scores) => {
            let score = |c: &Case| scores.get(&c.id).copied().unwrap_or(0.0);
            page.sort_by(|a, b| score(b).total_cmp(&score(a)).then(b.id.cmp(&a.id)));
            page.truncate(limit as usize);
            None
        }
        None => (page.len() as u32 == limit)
            .then(|| page.last().map(|c| c.id))
            .flatten(),
    };
    let reference = app.reference().await?;
    let policy = reference.policy();
    let visible = page
        .iter()
        .filter(|c| policy.may_read_case(actor, c).is_ok())
        .map(CaseView::from)
        .collect();
    Ok(Json(CasePage {
        cases: visible,
        next_cursor: next,
    }))
}

/// The fields of `ActionBody` that have the wrong JSON type, each (field, problem).
fn action_field_types(fields: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in fields {
        let ok = match name.as_str() {
            "reason" | "note" | "comment" | "satisfaction" | "unit" | "grid" | "category" => {
                value.is_string() || value.is_null()
            }
            "lon" | "lat" => value.is_number() || value.is_null(),
            "passed" | "approve" | "on" => value.is_boolean() || value.is_null(),
            "units" => {
                value.is_null()
                    || value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string))
            }
            "request" => value.is_object() || value.is_null(),
            "master" => {
                value.is_null() || value.as_str().is_some_and(|s| s.parse::<Uuid>().is_ok())
            }
            "due_at" => {
                value.is_null()
                    || value
                        .as_str()
                        .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok())
            }
            _ => true,
        };
        if !ok {
            out.push((
                name.clone(),
                "has the wrong type (see ActionBody)".to_owned(),
            ));
        }
    }
    out
}

fn expected_version(
    headers: &HeaderMap,
    body: &mut serde_json::Map<String, Value>,
) -> ApiResult<u64> {
    if let Some(v) = headers.get(header::IF_MATCH) {
        return v
            .to_str()
            .ok()
            .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ApiError::BadRequest("If-Match must be the case's ETag, e.g. \"3\"".into())
            });
    }
    match body.remove("version") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| ApiError::BadRequest("`version` must be a positive integer".into())),
        Some(_) => Err(ApiError::BadRequest(
            "`version` must be a positive integer".into(),
        )),
        None => Err(ApiError::PreconditionRequired),
    }
}

/// Performs an action of the loop on the case. The case version goes in `If-Match` or as
/// `version` in the body; a stale one gets 412 and changes nothing, an action the case's
/// state does not allow gets 409 naming the state.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions/{action}", tag = "cases",
    params(("id" = String, Path, description = "The case id (UUID)"),
        ("action" = views::ActionName, Path, description = "The action"),
        ("If-Match" = Option<String>, Header, description = "The case version, e.g. \"3\"")),
    request_body(content = views::ActionBody, content_type = "application/json",
        description = "The action's fields; may be omitted for actions without any when If-Match is sent"),
    responses((status = 200, description = "Done; the case with its new version", body = CaseView,
        headers(("ETag" = String, description = "The case version"))), ChangeProblems),
    security(("bearer" = [])))]
async fn act(
    State(app): State<App>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?.clone();
    let mut fields = match payload {
        Ok(Json(Value::Object(m))) => m,
        Ok(_) => {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        }
        Err(JsonRejection::MissingJsonContentType(_))
            if headers.get(header::CONTENT_TYPE).is_none() =>
        {
            serde_json::Map::new()
        }
        Err(e) => return Err(ApiError::BadRequest(e.body_text())),
    };
    // Fields of the wrong type are refused whatever the action, as the document describes
    // them, before the version or the loop are asked.
    let wrong = action_field_types(&fields);
    if !wrong.is_empty() {
        return Err(AppError::Unprocessable(wrong).into());
    }
    let version = expected_version(&headers, &mut fields)?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("case {id}"))))?;
    if action == "correct" {
        // The service routes the corrected case again, so it builds the action itself.
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        let number = |k: &str| fields.get(k).and_then(Value::as_f64);
        let mut problems = Vec::new();
        let location = match (number("lon"), number("lat")) {
            (Some(lon), Some(lat)) => Some((lon, lat)),
            (None, None) => None,
            _ => {
                problems.push(("lat".to_owned(), "give both lon and lat".to_owned()));
                None
            }
        };
        let grid = match text("grid") {
            Some(g) => match g.parse() {
                Ok(g) => Some(g),
                Err(e) => {
                    problems.push(("grid".to_owned(), format!("{e}")));
                    None
                }
            },
            None => None,
        };
        let category = match text("category") {
            Some(c) => match c.parse() {
                Ok(c) => Some(c),
                Err(e) => {
                    problems.push(("category".to_owned(), format!("{e}")));
                    None
                }
            },
            None => None,
        };
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems).into());
        }
        let correction = crate::cases::Correction {
            location,
            grid,
            category,
            reason: text("reason").unwrap_or_default(),
        };
        let case = app.correct_case(&id, version, correction, &actor).await?;
        return Ok(with_etag(&case, StatusCode::OK));
    }
    if action == "dispatch" && !fields.contains_key("units") {
        // Dispatch to the units the responsibility list named unless told otherwise.
        let routed = app.get_case(&id).await?.routed_units;
        fields.insert("units".into(), json!(routed));
    }
    fields.insert("action".into(), Value::String(action.clone()));
    let action: Action = serde_json::from_value(Value::Object(fields)).map_err(|e| {
        AppError::Unprocessable(vec![("action".to_owned(), format!("`{action}`: {e}"))])
    })?;
    let case = app.act_on_case(&id, version, action, &actor).await?;
    Ok(with_etag(&case, StatusCode::OK))
}

/// The alert feed of the caller's tier: yellow/red alarms, escalations and whistle calls in
/// the regions the caller may read — how the tier above learns of a breach and can reassign.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "staff",
    params(AlertQuery),
    responses((status = 200, description = "Alerts, oldest first", body = Alerts), ReadProblems),
    security(("bearer" = [])))]
async fn alerts(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Alerts>> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let actor = caller.staff()?;
    let since = match q.since.as_deref() {
        None => app.clock.now() - jiff::SignedDuration::from_hours(24),
        Some(s) => s.parse::<jiff::Timestamp>().map_err(|e| {
            AppError::Unprocessable(vec![(
                "since".to_owned(),
                format!("`{s}` is not an RFC 3339 instant: {e}"),
            )])
        })?,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::Unprocessable(vec![(
            "limit".to_owned(),
            "must be 1 to 500".to_owned(),
        )])
        .into());
    }
    let regions = app
        .reference()
        .await?
        .policy()
        .regions_with(actor, Permission::CaseRead);
    let mut events = Vec::new();
    for r in &regions {
        events.extend(
            app.repo
                .events_since(
                    &["raise_alarm", "escalate", "whistle_call", "miss_whistle"],
                    Some(r),
                    since,
                    limit,
                )
                .await
                .map_err(AppError::from)?,
        );
    }
    events.sort_by_key(|e| e.at);
    events.truncate(limit as usize);
    Ok(Json(Alerts {
        since,
        alerts: events
            .iter()
            .map(|e| Alert {
                case: e.case_id,
                event: EventView::from(e),
            })
            .collect(),
    }))
}

/// The public view of a case: where it stands and when it moved, without people or free text.
#[utoipa::path(get, path = "/api/v1/track/{receipt}", tag = "public",
    params(("receipt" = String, Path, description = "The receipt code, with or without the dash, any case")),
    responses((status = 200, description = "Where the case stands", body = Tracking), ReadProblems, Throttled),
    security(()))]
async fn track(
    State(app): State<App>,
    from: ClientAddr,
    Path(receipt): Path<String>,
) -> ApiResult<Json<Tracking>> {
    let tracked = app.track(&receipt, &from).await?;
    Ok(Json(tracking(&app, &tracked).await?))
}

/// The reporter evaluates the closed case: the receipt code and the secret issued with it (or
/// a code texted to the number they left).
/// 不满意 reopens the case. Each attempt counts against the caller's lookups; a wrong secret
/// and an unknown receipt code get the same 403.
#[utoipa::path(post, path = "/api/v1/track/{receipt}/evaluation", tag = "public",
    params(("receipt" = String, Path, description = "The receipt code")),
    request_body(content = views::Evaluation, content_type = "application/json"),
    responses((status = 200, description = "Evaluated; where the case stands now", body = Tracking),
        ChangeProblems, Throttled),
    security(()))]
async fn evaluate(
    State(app): State<App>,
    from: ClientAddr,
    Path(receipt): Path<String>,
    payload: Result<Json<views::Evaluation>, JsonRejection>,
) -> ApiResult<Json<Tracking>> {
    let e = body(payload)?;
    let satisfaction = match e.satisfaction.as_str() {
        "satisfied" => civicgrid_domain::case::Satisfaction::Satisfied,
        "basically_satisfied" => civicgrid_domain::case::Satisfaction::BasicallySatisfied,
        "unsatisfied" => civicgrid_domain::case::Satisfaction::Unsatisfied,
        other => {
            return Err(AppError::Unprocessable(vec![(
                "satisfaction".to_owned(),
                format!("`{other}` is not one of satisfied, basically_satisfied, unsatisfied"),
            )])
            .into());
        }
    };
    if e.secret.is_empty() && !e.code.is_empty() {
        // Checked before the code is spent on an evaluation that would be refused.
        if e.comment.chars().count() > 1000 {
            return Err(AppError::Unprocessable(vec![(
                "comment".to_owned(),
                "is longer than 1000 characters".to_owned(),
            )])
            .into());
        }
        let case = app
            .case_by_evaluation_code(&receipt, &e.code, &from)
            .await?;
        app.evaluate_as_reporter(&case, satisfaction, &e.comment)
            .await?;
    } else {
        app.evaluate_by_receipt(&receipt, &e.secret, satisfaction, &e.comment, &from)
            .await?;
    }
    let tracked = app.track(&receipt, &from).await?;
    Ok(Json(tracking(&app, &tracked).await?))
}

async fn tracking(app: &App, t: &crate::cases::Tracked) -> ApiResult<Tracking> {
    let reference = app.reference().await?;
    let case = &t.followed;
    let unit = reference.handling_unit(case);
    Ok(Tracking {
        receipt_code: t.reported.receipt_code.clone(),
        public_id: t.reported.public_id.clone(),
        merged_into: t.reported.state.merged_into.map(|_| case.public_id.clone()),
        status: case.state.status.as_str().to_owned(),
        status_zh: case.state.status.name_zh().to_owned(),
        category: case.category.as_ref().map(|c| c.to_string()),
        grid: case.grid.as_ref().map(|g| g.to_string()),
        place: case.grid.as_ref().map(|g| reference.place_name(g)),
        unit,
        reported_at: case.reported_at,
        updated_at: case.updated_at,
        due_at: case.clock.map(|c| c.due_at),
        timeline: t
            .events
            .iter()
            .map(|e| PublicStep {
                at: e.at,
                action: e.action.clone(),
                status: e.to.as_str().to_owned(),
                status_zh: e.to.name_zh().to_owned(),
            })
            .collect(),
    })
}
