//! The HTTP shell: REST API v1 under `/api/v1/`, health and readiness. Handlers only parse,
//! call a service and shape the answer; errors become problem details in `problem.rs`.

pub mod open311;
pub mod problem;

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use civicgrid_domain::access::{Permission, Target, allows};
use civicgrid_domain::case::{Action, Case, Channel, Status, normalize_receipt_code};
use civicgrid_domain::catalogue::{CategoryCode, Priority};
use civicgrid_store::{CaseEvent, CaseFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::AppError;
use crate::services::App;
use crate::services::cases::{Actor, Intake};
use problem::ApiError;

type ApiResult<T> = Result<T, ApiError>;

pub fn router(app: App) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/cases", post(create_case).get(list_cases))
        .route("/api/v1/cases/{id}", get(get_case))
        .route("/api/v1/cases/{id}/events", get(case_events))
        .route("/api/v1/cases/{id}/duplicates", get(duplicates))
        .route("/api/v1/cases/{id}/reporter", get(reporter_contact))
        .route(
            "/api/v1/cases/{id}/photos",
            post(add_photo)
                .get(list_photos)
                .layer(axum::extract::DefaultBodyLimit::max(10 * 1024 * 1024 + 1)),
        )
        .route("/api/v1/cases/{id}/photos/{sha256}", get(get_photo))
        .route("/api/v1/cases/{id}/actions/{action}", post(act))
        .route("/api/v1/track/{receipt}", get(track))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/session", post(login).delete(logout))
        .merge(open311::routes())
        .fallback(|| async { ApiError::App(AppError::NotFound("no such endpoint".into())) })
        .with_state(app)
}

async fn readyz(State(app): State<App>) -> Response {
    match app.repo.summary().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// The caller: anonymous unless a valid `Authorization: Bearer <API key>` is sent.
pub struct Caller(pub Option<Actor>);

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthorized("expected `Authorization: Bearer <API key>`".into())
            })?;
        let actor = if key.starts_with("cs_") {
            app.authenticate_session(key).await?
        } else {
            app.authenticate_api_key(key).await?
        };
        match actor {
            Some(actor) => Ok(Caller(Some(actor))),
            None => Err(ApiError::Unauthorized(
                "unknown, expired or revoked credentials".into(),
            )),
        }
    }
}

impl Caller {
    fn staff(&self) -> ApiResult<&Actor> {
        match &self.0 {
            Some(a @ Actor::Staff { .. }) => Ok(a),
            _ => Err(ApiError::Unauthorized("this needs a staff API key".into())),
        }
    }
}

/// JSON bodies whose rejection is a problem, not axum's plain text.
fn body<T>(r: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    r.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

fn case_json(c: &Case) -> Value {
    json!({
        "id": c.id,
        "receipt_code": c.receipt_code,
        "status": c.state.status.as_str(),
        "status_zh": c.state.status.name_zh(),
        "version": c.state.version,
        "channel": c.channel.as_str(),
        "description": c.description,
        "address": c.address,
        "lon": c.location.map(|l| l.0),
        "lat": c.location.map(|l| l.1),
        "grid": c.grid.as_ref().map(|g| g.as_str()),
        "region": c.region.as_str(),
        "category": c.category.as_ref().map(|g| g.as_str()),
        "attributes": c.attributes,
        "priority": c.priority.as_str(),
        // Dispatched units once dispatched; until then the units routing named.
        "assigned_units": if c.state.units.is_empty() { &c.routed_units } else { &c.state.units },
        "routed_units": c.routed_units,
        "lead_unit": c.state.lead(),
        "tier": c.state.tier,
        "supervised": c.state.supervised,
        "rework_count": c.state.rework_count,
        "send_back_count": c.state.send_back_count,
        "pending_request": c.state.pending,
        "deadlines": c.clock.map(|k| json!({
            "stage": k.stage.as_str(),
            "limit": k.limit.to_string(),
            "started_at": k.started_at,
            "due_at": k.due_at,
            "paused_at": k.paused_at,
        })),
        "routing": c.routing,
        "has_reporter_contact": c.reporter_sealed.is_some(),
        "reported_at": c.reported_at,
        "updated_at": c.updated_at,
    })
}

fn with_etag(c: &Case, status: StatusCode) -> Response {
    let mut r = (status, Json(case_json(c))).into_response();
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCase {
    description: String,
    lon: Option<f64>,
    lat: Option<f64>,
    category: Option<String>,
    address: Option<String>,
    channel: Option<String>,
    priority: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, Value>,
    /// Contact details: `{name?, phone?, email?}`, sealed before they are stored.
    reporter: Option<Value>,
}

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
        Some(v) => match serde_json::from_value::<crate::services::seal::Reporter>(v) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push((
                    "reporter".to_owned(),
                    format!("expected {{name, phone, email}}: {e}"),
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
    let case = app.report_case(intake, &actor).await?;
    let mut response = with_etag(&case, StatusCode::CREATED);
    // A call-taker sees at intake the open cases this one may duplicate; residents do not
    // see other people's cases.
    if let (Actor::Staff { .. }, Some(category), Some(location)) =
        (&actor, &case.category, case.location)
    {
        let found = app
            .possible_duplicates(
                category,
                location,
                case.reported_at,
                50.0,
                jiff::SignedDuration::from_hours(72),
                Some(&case.id),
            )
            .await?;
        let mut body = case_json(&case);
        if let Some(o) = body.as_object_mut() {
            o.insert(
                "possible_duplicates".into(),
                json!(found
                    .iter()
                    .map(|(c, d)| json!({"id": c.id, "receipt_code": c.receipt_code, "distance_m": (d * 10.0).round() / 10.0}))
                    .collect::<Vec<_>>()),
            );
        }
        let headers = response.headers().clone();
        response = (StatusCode::CREATED, Json(body)).into_response();
        response
            .headers_mut()
            .extend(headers.into_iter().filter_map(|(k, v)| {
                k.filter(|k| *k == header::ETAG || *k == header::LOCATION)
                    .map(|k| (k, v))
            }));
    }
    Ok(response)
}

async fn readable_case(app: &App, caller: &Caller, id: &str) -> ApiResult<Case> {
    let actor = caller.staff()?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("case {id}"))))?;
    let case = app.get_case(&id).await?;
    if !may_read(app, actor, &case).await? {
        return Err(AppError::Forbidden("this case is outside your scope".into()).into());
    }
    Ok(case)
}

async fn may_read(app: &App, actor: &Actor, case: &Case) -> ApiResult<bool> {
    let Actor::Staff { grants, .. } = actor else {
        return Ok(false);
    };
    let reference = app.reference().await?;
    let roles = &reference.roles;
    let region = Target {
        region: Some(&case.region),
        unit: None,
    };
    // Units the case is with, and units summoned to it by a whistle call, may read it.
    Ok(allows(grants, roles, Permission::CaseRead, &region)
        || case
            .state
            .units
            .iter()
            .chain(case.state.summons.iter().map(|x| &x.unit))
            .any(|u| {
                allows(
                    grants,
                    roles,
                    Permission::CaseRead,
                    &Target {
                        region: None,
                        unit: Some(u),
                    },
                )
            }))
}

async fn get_case(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let case = readable_case(&app, &caller, &id).await?;
    Ok(with_etag(&case, StatusCode::OK))
}

fn event_json(e: &CaseEvent) -> Value {
    json!({
        "seq": e.seq,
        "action": e.action,
        "from": e.from.map(Status::as_str),
        "to": e.to.as_str(),
        "to_zh": e.to.name_zh(),
        "actor": e.actor,
        "at": e.at,
        "payload": e.payload,
    })
}

async fn case_events(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case = readable_case(&app, &caller, &id).await?;
    let events = app.case_timeline(&case.id).await?;
    Ok(Json(
        json!({"case": case.id, "events": events.iter().map(event_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhotoQuery {
    stage: String,
}

/// Attaches a photo: the body is the image, `Content-Type` says which kind, `If-Match` the
/// case version, `?stage=report|before|after` what it documents.
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

async fn list_photos(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case = readable_case(&app, &caller, &id).await?;
    Ok(Json(json!({
        "case": case.id,
        "photos": case.state.photos.iter().map(|(stage, sha)| json!({
            "stage": stage.as_str(),
            "sha256": sha,
            "href": format!("/api/v1/cases/{}/photos/{sha}", case.id),
        })).collect::<Vec<_>>(),
    })))
}

async fn get_photo(
    State(app): State<App>,
    caller: Caller,
    Path((id, sha256)): Path<(String, String)>,
) -> ApiResult<Response> {
    let case = readable_case(&app, &caller, &id).await?;
    let photo = app
        .repo
        .photo(&case.id, &sha256)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| ApiError::App(AppError::NotFound(format!("photo {sha256}"))))?;
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
async fn reporter_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case = readable_case(&app, &caller, &id).await?;
    let actor = caller.staff()?;
    let contact = app.reporter_contact(&case, actor).await?;
    Ok(Json(json!({"case": case.id, "reporter": contact})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateQuery {
    /// Metres around the case; 50 by default.
    radius: Option<f64>,
    /// Hours before the case's report; 72 by default.
    hours: Option<i64>,
}

/// Open cases of the same category nearby, offered at intake so that a call-taker can merge.
async fn duplicates(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<DuplicateQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
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
        return Ok(Json(json!({"case": case.id, "candidates": []})));
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
    Ok(Json(json!({
        "case": case.id,
        "radius_m": radius,
        "hours": hours,
        "candidates": found.iter().map(|(c, d)| json!({
            "id": c.id,
            "receipt_code": c.receipt_code,
            "status": c.state.status.as_str(),
            "distance_m": (d * 10.0).round() / 10.0,
            "reported_at": c.reported_at,
            "description": c.description,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    grid: Option<String>,
    unit: Option<String>,
    category: Option<String>,
    overdue: Option<bool>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list_cases(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
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
    if !problems.is_empty() {
        return Err(AppError::Unprocessable(problems).into());
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
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
        limit,
    };
    let page = app.list_cases(&filter).await?;
    let next = (page.len() as u32 == limit)
        .then(|| page.last().map(|c| c.id))
        .flatten();
    let mut visible = Vec::with_capacity(page.len());
    for c in &page {
        if may_read(&app, actor, c).await? {
            visible.push(case_json(c));
        }
    }
    Ok(Json(json!({"cases": visible, "next_cursor": next})))
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
    let version = expected_version(&headers, &mut fields)?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::App(AppError::NotFound(format!("case {id}"))))?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertQuery {
    since: Option<String>,
    limit: Option<u32>,
}

/// The alert feed of the caller's tier: yellow/red alarms, escalations and whistle calls in
/// the regions the caller may read — how the tier above learns of a breach and can reassign.
async fn alerts(
    State(app): State<App>,
    caller: Caller,
    query: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Actor::Staff { grants, .. } = caller.staff()? else {
        return Err(ApiError::Unauthorized("this needs a staff API key".into()));
    };
    let since = match q.since.as_deref() {
        None => app.clock.now() - jiff::SignedDuration::from_hours(24),
        Some(s) => s.parse::<jiff::Timestamp>().map_err(|e| {
            AppError::Unprocessable(vec![(
                "since".to_owned(),
                format!("`{s}` is not an RFC 3339 instant: {e}"),
            )])
        })?,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let roles = &app.reference().await?.roles;
    let mut regions: Vec<civicgrid_domain::territory::RegionCode> = grants
        .iter()
        .filter_map(|g| match &g.scope {
            civicgrid_domain::access::Scope::Region(r)
                if roles
                    .iter()
                    .any(|x| x.code == g.role && x.permissions.contains(&Permission::CaseRead)) =>
            {
                Some(r.clone())
            }
            _ => None,
        })
        .collect();
    regions.sort();
    regions.dedup_by(|b, a| a.contains(b));
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
    Ok(Json(json!({
        "since": since,
        "alerts": events.iter().map(|e| {
            let mut v = event_json(e);
            if let Some(o) = v.as_object_mut() {
                o.insert("case".into(), json!(e.case_id));
            }
            v
        }).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

/// Staff sign-in: a session token to send as `Authorization: Bearer cs_…`.
async fn login(
    State(app): State<App>,
    payload: Result<Json<Login>, JsonRejection>,
) -> ApiResult<Response> {
    let l = body(payload)?;
    let token = app
        .login(&l.username, &l.password)
        .await
        .map_err(|e| match e {
            AppError::Forbidden(m) => ApiError::Unauthorized(m),
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "expires_in": crate::services::accounts::SESSION_LIFETIME.as_secs()})),
    )
        .into_response())
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("send the session token to end it".into()))?;
    app.logout(token.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public view of a case: where it stands and when it moved, without people or free text.
async fn track(State(app): State<App>, Path(receipt): Path<String>) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::App(AppError::NotFound(format!("receipt {receipt}")));
    let code = normalize_receipt_code(&receipt).ok_or_else(not_found)?;
    let reported = app
        .repo
        .case_by_receipt(&code)
        .await
        .map_err(AppError::from)?
        .ok_or_else(not_found)?;
    // A merged duplicate's reporter follows the master case: both reporters see its progress.
    let case = match reported.state.merged_into {
        Some(master) => app.get_case(&master).await?,
        None => reported.clone(),
    };
    let events = app.case_timeline(&case.id).await?;
    Ok(Json(json!({
        "receipt_code": reported.receipt_code,
        "merged_into": reported.state.merged_into.map(|_| case.receipt_code.clone()),
        "status": case.state.status.as_str(),
        "status_zh": case.state.status.name_zh(),
        "category": case.category.as_ref().map(|c| c.as_str()),
        "grid": case.grid.as_ref().map(|g| g.as_str()),
        "reported_at": case.reported_at,
        "updated_at": case.updated_at,
        "due_at": case.clock.map(|c| c.due_at),
        "timeline": events.iter().map(|e| json!({
            "at": e.at,
            "action": e.action,
            "status": e.to.as_str(),
            "status_zh": e.to.name_zh(),
        })).collect::<Vec<_>>(),
    })))
}
