//! The pages: the resident portal (`portal.rs`), the staff workbench (`work.rs`), the leader
//! dashboard (`dashboard.rs`) and administration (`admin.rs`). Server-rendered with minijinja
//! from templates compiled into the binary; every form works without JavaScript (the one
//! script only turns a map click into coordinates). Texts come from Fluent (`i18n.rs`),
//! pictures are SVG drawn here (`svg.rs`). No outside service is referenced.
//!
//! Security: a `cg_csrf` cookie (random, SameSite=Strict) must match the `csrf` field of every
//! POST (double submit); staff sign in to a `cg_session` cookie holding a session token
//! (HttpOnly, SameSite=Lax, Secure behind TLS); templates escape all output; sign-in is
//! rate-limited per account and failures are logged. Pages ask the same services, with the
//! same permission checks, as the API.

pub mod i18n;
pub mod svg;
pub mod words;

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use minijinja::value::Kwargs;
use minijinja::{Environment, State};
use serde_json::{Value, json};

use crate::App;
use crate::cases::Actor;
use crate::error::AppError;

/// A set of pages: the router and the paths it serves, so that a test can walk every page
/// (axum cannot list a router's routes).
#[derive(Default)]
pub struct Pages {
    router: Router<App>,
    paths: Vec<&'static str>,
}

impl Pages {
    pub fn new() -> Pages {
        Pages::default()
    }

    pub fn route(mut self, path: &'static str, handler: MethodRouter<App>) -> Pages {
        self.router = self.router.route(path, handler);
        self.paths.push(path);
        self
    }

    pub fn merge(mut self, other: Pages) -> Pages {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// The paths served, as routed (`/work/case/{id}`).
    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }
}

/// Every page: the capabilities' pages (one line each) and the shell's own.
pub fn pages() -> Pages {
    Pages::new()
        .merge(crate::cases::pages::routes())
        .merge(crate::accounts::pages::routes())
        .merge(crate::routing::pages::routes())
        .merge(crate::assessment::pages::routes())
        .merge(crate::administration::pages::routes())
        .merge(crate::territory::map::routes())
        .merge(crate::party::pages::routes())
        .merge(crate::households::pages::routes())
        .merge(crate::wishes::pages::routes())
        .merge(crate::disputes::pages::routes())
        .merge(crate::one_stop::pages::routes())
        .merge(crate::supervision::pages::routes())
        .merge(crate::lists::pages::routes())
        .merge(crate::accountability::pages::routes())
        .merge(crate::emergency::pages::routes())
        .merge(crate::consultation::pages::routes())
        .merge(crate::volunteers::pages::routes())
        .merge(crate::notifications::pages::routes())
        .route("/lang", post(switch_language))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/map.css", get(map_css))
        .route("/static/map.js", get(map_js))
        .route("/static/vendor/{*file}", get(vendor))
}

pub fn routes() -> Router<App> {
    pages().router.layer(axum::middleware::from_fn(csrf_cookie))
}

/// The shell's own templates; each capability registers its pages' templates below.
const SHELL_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// Every template by name: the shell's, then each capability's (one line each).
const TEMPLATES: &[&[(&str, &str)]] = &[
    SHELL_TEMPLATES,
    crate::cases::pages::TEMPLATES,
    crate::accounts::pages::TEMPLATES,
    crate::routing::pages::TEMPLATES,
    crate::assessment::pages::TEMPLATES,
    crate::administration::pages::TEMPLATES,
    crate::party::pages::TEMPLATES,
    crate::households::pages::TEMPLATES,
    crate::wishes::pages::TEMPLATES,
    crate::disputes::pages::TEMPLATES,
    crate::one_stop::pages::TEMPLATES,
    crate::supervision::pages::TEMPLATES,
    crate::lists::pages::TEMPLATES,
    crate::accountability::pages::TEMPLATES,
    crate::volunteers::pages::TEMPLATES,
    crate::consultation::pages::TEMPLATES,
    crate::notifications::pages::TEMPLATES,
    crate::emergency::pages::TEMPLATES,
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, source) in TEMPLATES.iter().flat_map(|set| set.iter()) {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(error = %e, name, "template does not compile");
        }
    }
    env.add_function("t", translate);
    env
});

/// `t("key", name=value, …)` in templates, in the page's language.
fn translate(state: &State, key: &str, kwargs: Kwargs) -> String {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| i18n::DEFAULT.to_owned());
    let args: Vec<(&str, String)> = kwargs
        .args()
        .filter_map(|k| {
            let v: minijinja::Value = kwargs.get(k).ok()?;
            Some((k, v.to_string()))
        })
        .collect();
    let _ = kwargs.assert_all_used();
    i18n::t(&lang, key, &args)
}

/// Who is asking, in which language, with which CSRF token.
pub struct Ctx {
    pub lang: &'static str,
    pub actor: Option<Actor>,
    pub display_name: Option<String>,
    pub csrf: String,
    pub secure: bool,
    pub tz: jiff::tz::TimeZone,
    /// What the signed-in user's roles allow, in some scope (for the navigation only; every
    /// page checks the scope itself).
    pub permissions: Vec<civicgrid_domain::access::Permission>,
    /// Where the base map's tiles come from, when the deployment set one and the map library
    /// is in this build: pages then load the library and allow the tiles, nothing else.
    pub tile_origin: Option<String>,
}

#[derive(Clone)]
struct CsrfToken(String);

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn random_token() -> String {
    crate::accounts::random_secret(24)
}

fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// Gives every browser a CSRF token cookie on its first page.
async fn csrf_cookie(mut req: Request, next: Next) -> Response {
    // A reporter's page of the supervision channel neither reads nor sets a cookie: the
    // browser's cookies are dropped before any handler sees them, and none is given.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned());
    // Static files need no token either: a reporter's page loads them, and they must not
    // hand the reporter a cookie.
    let reporter_or_static = route.as_deref().is_some_and(|r| {
        r.starts_with("/static/") || crate::supervision::is_reporter_route(req.method().as_str(), r)
    });
    if reporter_or_static {
        req.headers_mut().remove(header::COOKIE);
        let mut res = next.run(req).await;
        res.headers_mut().remove(header::SET_COOKIE);
        return res;
    }
    let existing = cookie(req.headers(), "cg_csrf").filter(|t| t.len() == 48);
    let secure = behind_tls(req.headers());
    let token = existing.clone().unwrap_or_else(random_token);
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.run(req).await;
    if existing.is_none() {
        let attrs = if secure { "; Secure" } else { "" };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "cg_csrf={token}; Path=/; SameSite=Strict; HttpOnly{attrs}"
        )) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

impl FromRequestParts<App> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let lang = i18n::negotiate(cookie(&parts.headers, "cg_lang").as_deref().or_else(|| {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
        }));
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let (actor, display_name) = match cookie(&parts.headers, "cg_session") {
            Some(token) => match app.authenticate_session(&token).await {
                Ok(Some(a @ Actor::Staff { .. })) => {
                    let name = match &a {
                        Actor::Staff { username, .. } => app
                            .repo
                            .user(username)
                            .await
                            .ok()
                            .flatten()
                            .map(|u| u.display_name),
                        _ => None,
                    };
                    (Some(a), name)
                }
                _ => (None, None),
            },
            None => (None, None),
        };
        let reference = app.reference().await.ok();
        let tz = reference
            .as_ref()
            .map(|r| r.calendar.time_zone().clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let permissions = match (&actor, &reference) {
            (Some(a @ Actor::Staff { .. }), Some(r)) => r.policy().held(a),
            _ => vec![],
        };
        Ok(Ctx {
            lang,
            actor,
            display_name,
            csrf,
            secure: behind_tls(&parts.headers),
            tz,
            permissions,
            tile_origin: app.map.tile_origin().filter(|_| map_library_available()),
        })
    }
}

impl Ctx {
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key, &[])
    }

    pub fn staff(&self) -> Option<&Actor> {
        self.actor.as_ref()
    }

    /// A date-time in the deployment's time zone.
    pub fn when(&self, t: jiff::Timestamp) -> String {
        t.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// A form's `datetime-local` value (2026-11-12T15:00) in the deployment's time zone.
    pub fn parse_local(&self, s: &str) -> Option<jiff::Timestamp> {
        s.trim()
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|d| d.to_zoned(self.tz.clone()).ok())
            .map(|z| z.timestamp())
    }

    /// Checks the `csrf` field of a POST against the cookie's token.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), Box<Response>> {
        let ok = sent.is_some_and(|s| {
            s.len() == self.csrf.len()
                && !s.is_empty()
                && s.bytes()
                    .zip(self.csrf.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if ok {
            Ok(())
        } else {
            tracing::warn!("form refused: missing or wrong CSRF token");
            Err(Box::new(
                self.error(StatusCode::FORBIDDEN, &self.t("err-csrf")),
            ))
        }
    }

    /// Renders a page with the common context (language, user, token, navigation).
    pub fn render(&self, template: &str, extra: Value) -> Response {
        self.render_status(StatusCode::OK, template, extra)
    }

    pub fn render_status(&self, status: StatusCode, template: &str, extra: Value) -> Response {
        let permissions = self.permissions();
        let mut ctx = json!({
            "lang": self.lang,
            "languages": i18n::LANGUAGES.iter().map(|(code, name)| json!({"code": code, "name": name})).collect::<Vec<_>>(),
            "csrf": self.csrf,
            "user": self.actor.as_ref().map(|a| json!({
                "username": a.name(),
                "display_name": self.display_name.clone().unwrap_or_else(|| a.name().to_owned()),
            })),
            "can": permissions,
            "map_library": self.tile_origin.is_some(),
        });
        if let (Some(base), Value::Object(extra)) = (ctx.as_object_mut(), extra) {
            base.extend(extra);
        }
        let rendered = ENV
            .get_template(template)
            .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
        match rendered {
            Ok(html) => {
                let mut r = (status, Html(html)).into_response();
                // Nothing from outside, except the tiles of the base map the deployment set.
                let tiles = self
                    .tile_origin
                    .as_deref()
                    .map(|o| format!(" {o}"))
                    .unwrap_or_default();
                let policy = format!(
                    "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'"
                );
                if let Ok(v) = HeaderValue::from_str(&policy) {
                    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
                }
                r
            }
            Err(e) => {
                tracing::error!(error = %e, template, "page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
            }
        }
    }

    pub fn error(&self, status: StatusCode, message: &str) -> Response {
        self.render_status(
            status,
            "error.html",
            json!({"status": status.as_u16(), "message": message}),
        )
    }

    /// An application error as a page in the user's language.
    pub fn app_error(&self, e: AppError) -> Response {
        if let AppError::TooManyRequests { retry_after } = e {
            return self.too_many(retry_after);
        }
        let (status, key) = match &e {
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "err-not-found"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "err-forbidden"),
            AppError::Stale { .. } => (StatusCode::CONFLICT, "err-stale"),
            AppError::NotAllowed { .. } => (StatusCode::CONFLICT, "err-not-allowed"),
            AppError::Upstream(_) => (StatusCode::BAD_GATEWAY, "err-upstream"),
            AppError::Store(_) | AppError::Io { .. } => {
                tracing::error!(error = %e, "page failed");
                (StatusCode::SERVICE_UNAVAILABLE, "err-unavailable")
            }
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "err-invalid"),
        };
        // The error's own text is English, written for developers and API clients: a Chinese
        // page says what happened in Chinese and leaves it out.
        let detail = match &e {
            AppError::Store(_) | AppError::Io { .. } => String::new(),
            _ if self.lang != "en" => String::new(),
            other => echo(&other.to_string()),
        };
        self.render_status(
            status,
            "error.html",
            json!({"status": status.as_u16(), "message": self.t(key), "detail": detail}),
        )
    }

    /// 429 with `Retry-After`, and the wait in minutes in the user's language.
    pub fn too_many(&self, retry_after: u64) -> Response {
        let minutes = retry_after.div_ceil(60).to_string();
        let message = i18n::t(self.lang, "err-too-many", &[("minutes", minutes)]);
        let mut r = self.render_status(
            StatusCode::TOO_MANY_REQUESTS,
            "error.html",
            json!({"status": 429, "message": message}),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        r
    }

    /// What the signed-in user may see in the navigation.
    fn permissions(&self) -> Value {
        use civicgrid_domain::access::Permission as P;
        let has = |ps: &[P]| ps.iter().any(|p| self.permissions.contains(p));
        json!({
            "work": has(&[P::CaseRead]),
            "dashboard": has(&[P::KpiRead]),
            "admin": has(&[P::TerritoryManage, P::CatalogueManage, P::ResponsibilityManage, P::CalendarManage, P::UserManage, P::KpiManage]),
            "field": has(&[P::CaseResolveOnSite]),
            "mine": has(&[P::VisitLog]) || (self.actor.is_some() && self.permissions.is_empty()),
            "party": has(&[P::PartyRead, P::PartyManage]),
            "volunteers": has(&[P::VolunteerManage]),
            "disputes": has(&[P::DisputeMediate, P::DisputeApprove]),
            "applications": has(&[P::ServiceHandle]),
            "supervision": has(&[P::WhistleblowingRead, P::WhistleblowingCustody]),
            "accountability": has(&[P::AccountabilityPropose, P::AccountabilityApprove]),
            "emergency": has(&[P::EmergencyCommand, P::EmergencyRespond]),
        })
    }
}

/// What a page may repeat of a message that can quote the reader's input: over-long input is
/// cut, so that a page never echoes pages of someone else's text back.
pub fn echo(text: &str) -> String {
    const MAX: usize = 160;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX).collect();
    cut.push('…');
    cut
}

/// The status a page answers an application error with.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Stale { .. } | AppError::NotAllowed { .. } | AppError::Conflict(_) => {
            StatusCode::CONFLICT
        }
        AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
        AppError::Store(_) | AppError::Io { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// A posted url-encoded form, by field name, once its CSRF token is checked; the refusal page
/// otherwise.
pub fn posted_form(ctx: &Ctx, body: &[u8]) -> Result<HashMap<String, String>, Box<Response>> {
    let pairs = crate::open311::wire::parse_form(body).unwrap_or_default();
    let f = form_map(&pairs);
    ctx.check_csrf(f.get("csrf").map(String::as_str))?;
    // No stored text holds a NUL (PostgreSQL's text cannot).
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(Box::new(
            ctx.error(StatusCode::BAD_REQUEST, &ctx.t("err-invalid")),
        ));
    }
    Ok(f)
}

/// A multipart form's text fields and its one file (`file_field`: content type and bytes),
/// or the status to refuse it with (413 for a file over the body limit).
pub async fn form_with_file(
    multipart: &mut axum::extract::Multipart,
    file_field: &str,
) -> Result<(Vec<(String, String)>, Option<(String, Vec<u8>)>), StatusCode> {
    let mut fields = Vec::new();
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                if name == file_field {
                    let ct = field.content_type().unwrap_or("").to_owned();
                    match field.bytes().await {
                        Ok(b) if !b.is_empty() => file = Some((ct, b.to_vec())),
                        Ok(_) => {}
                        Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE),
                    }
                } else if let Ok(v) = field.text().await {
                    if v.contains('\0') || name.contains('\0') {
                        return Err(StatusCode::BAD_REQUEST);
                    }
                    fields.push((name, v));
                }
            }
            Ok(None) => return Ok((fields, file)),
            Err(e) => return Err(e.status()),
        }
    }
}

/// Form fields by name (the last one wins, except where a handler collects repeats).
pub fn form_map(pairs: &[(String, String)]) -> HashMap<String, String> {
    pairs.iter().cloned().collect()
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

async fn switch_language(ctx: Ctx, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = crate::open311::wire::parse_form(&body).unwrap_or_default();
    let fields = form_map(&form);
    if let Err(r) = ctx.check_csrf(fields.get("csrf").map(String::as_str)) {
        return *r;
    }
    let lang = i18n::negotiate(fields.get("lang").map(String::as_str));
    // Back to the page the switch was made on, if it was one of ours.
    let back = fields
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .cloned()
        .unwrap_or_else(|| "/".to_owned());
    let mut r = see_other(&back);
    let secure = if behind_tls(&headers) { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "cg_lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn map_css() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("static/map.css").as_bytes(),
    )
}

async fn map_js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("static/map.js").as_bytes(),
    )
}

/// The browser libraries vendored from npm at build time (see `build.rs`).
mod vendored {
    include!(concat!(env!("OUT_DIR"), "/vendored.rs"));
}

/// Whether the map library was vendored into this build (without it, maps stay SVG).
pub fn map_library_available() -> bool {
    vendored::FILES
        .iter()
        .any(|(name, _, _)| *name == "leaflet.js")
}

async fn vendor(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match vendored::FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => static_file(content_type, bytes),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

fn static_file(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/app.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/app.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        for (name, _) in super::TEMPLATES.iter().flat_map(|set| set.iter()) {
            assert!(super::ENV.get_template(name).is_ok(), "{name}");
        }
    }
}

#[cfg(test)]
mod template_names {
    /// Capabilities name their templates in one namespace: a name taken twice would render
    /// one capability's page for another's route.
    #[test]
    fn every_template_name_is_taken_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (name, _) in super::TEMPLATES.iter().flat_map(|set| set.iter()) {
            assert!(seen.insert(*name), "{name} is taken twice");
        }
    }
}
