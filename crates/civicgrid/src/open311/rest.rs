//! The Open311 GeoReport v2 shell under `/open311/`: picks the format from the suffix,
//! decodes the query or form, calls `open311` and renders the document or the
//! spec's error body (never a problem document: Open311 clients parse `errors/error`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::App;
use crate::open311::wire::{Document, Format, parse_form};
use crate::open311::{Open311Error, Params};

pub fn routes() -> Router<App> {
    let open311 = Router::new()
        .route("/{file}", get(discovery))
        .route("/v2/{file}", get(list).post(create))
        .route("/v2/services/{file}", get(definition))
        .route("/v2/requests/{file}", get(request))
        .route("/v2/tokens/{file}", get(token))
        .fallback(unknown);
    Router::new().nest("/open311", open311)
}

/// Anything else under /open311/ is an unknown resource, answered in the spec's format.
async fn unknown(uri: axum::http::Uri) -> Response {
    let rest = uri.path().to_owned();
    let format = if rest.ends_with(".json") {
        Format::Json
    } else {
        Format::Xml
    };
    error(
        format,
        &Open311Error::not_found(format!("no resource {rest}")),
    )
}

fn render(status: StatusCode, format: Format, doc: &Document) -> Response {
    let mut r = (status, doc.render(format)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    r
}

fn error(format: Format, e: &Open311Error) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = render(status, format, &Document::errors(e.status, &e.description));
    if let Some(wait) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    r
}

/// The stem and format of `name.xml` / `name.json`; anything else is not a resource here.
fn resource(file: &str) -> Result<(&str, Format), Box<Response>> {
    Format::split(file).ok_or_else(|| {
        Box::new(error(
            Format::Xml,
            &Open311Error::not_found(format!("`{file}`: resources end in .xml or .json")),
        ))
    })
}

fn query(raw: Option<String>) -> Result<Vec<(String, String)>, Open311Error> {
    parse_form(raw.unwrap_or_default().as_bytes()).map_err(Open311Error::bad)
}

fn answer(status: StatusCode, format: Format, result: Result<Document, Open311Error>) -> Response {
    match result {
        Ok(doc) => render(status, format, &doc),
        Err(e) => error(format, &e),
    }
}

async fn discovery(
    headers: HeaderMap,
    State(app): State<App>,
    Path(file): Path<String>,
) -> Response {
    let (stem, format) = match resource(&file) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if stem != "discovery" {
        return error(
            format,
            &Open311Error::not_found(format!("no resource `{file}`")),
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    render(
        StatusCode::OK,
        format,
        &app.open311_discovery(&format!("{scheme}://{host}")),
    )
}

async fn list(
    State(app): State<App>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (stem, format) = match resource(&file) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let params = match query(raw).and_then(Params::new) {
        Ok(p) => p,
        Err(e) => return error(format, &e),
    };
    let result = match stem {
        "services" => app.open311_services(params).await,
        "requests" => app.open311_requests(params).await,
        _ => Err(Open311Error::not_found(format!("no resource `{file}`"))),
    };
    answer(StatusCode::OK, format, result)
}

async fn create(
    State(app): State<App>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (stem, format) = match resource(&file) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if stem != "requests" {
        return error(
            format,
            &Open311Error::not_found(format!("cannot POST `{file}`")),
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return error(
            format,
            &Open311Error::bad(format!(
                "the body must be application/x-www-form-urlencoded, not `{content_type}`"
            )),
        );
    }
    let mut form = match query(raw) {
        Ok(q) => q,
        Err(e) => return error(format, &e),
    };
    match parse_form(&body) {
        Ok(fields) => form.extend(fields),
        Err(e) => return error(format, &Open311Error::bad(e)),
    }
    answer(StatusCode::CREATED, format, app.open311_post(form).await)
}

async fn definition(
    State(app): State<App>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (code, format) = match resource(&file) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let result = match query(raw).and_then(Params::new) {
        Ok(params) => app.open311_definition(code, params).await,
        Err(e) => Err(e),
    };
    answer(StatusCode::OK, format, result)
}

async fn request(
    State(app): State<App>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (id, format) = match resource(&file) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let result = match query(raw).and_then(Params::new) {
        Ok(params) => app.open311_request(id, params).await,
        Err(e) => Err(e),
    };
    answer(StatusCode::OK, format, result)
}

async fn token(
    State(app): State<App>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (token, format) = match resource(&file) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let result = match query(raw).and_then(Params::new) {
        Ok(params) => app.open311_token(token, params).await,
        Err(e) => Err(e),
    };
    answer(StatusCode::OK, format, result)
}
