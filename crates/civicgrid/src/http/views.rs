//! The shapes every REST capability shares: the OpenAPI document's frame and the problem
//! responses. Each capability's own request and response shapes live in its `views.rs`.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "civicgrid REST API",
        version = "1",
        description = "The case loop of grassroots grid governance: intake, dispatch, handling, verification, closure and evaluation, with deadlines, escalation and an audit trail. Errors are RFC 9457 problem details (application/problem+json)."
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem, crate::cases::views::ActionName)),
    tags(
        (name = "cases", description = "Cases and their loop"),
        (name = "public", description = "What residents see without an account"),
        (name = "staff", description = "Staff sign-in and alerts"),
        (name = "party", description = "Party organisations, alliances and members (党建引领)"),
        (name = "households", description = "Household contacts and visits (包片联户)"),
        (name = "wishes", description = "Small wishes (微心愿): claiming and delivering"),
        (name = "volunteers", description = "Volunteers, activities, check-in and service hours"),
        (name = "emergency", description = "Emergency plans and incidents (应急): activation, grid reports, situation reports, after-action records"),
        (name = "operations", description = "Health, readiness and this document")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        api.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff API key (cg_…) or a session token (cs_…) from POST /api/v1/session",
                    ))
                    .build(),
            ),
        );
    }
}

/// An RFC 9457 problem: what went wrong, for people and for programs.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `urn:civicgrid:problem:<slug>`, stable for programs to branch on.
    #[serde(rename = "type")]
    #[schema(example = "urn:civicgrid:problem:invalid-fields")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid fields: each field and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// For a stale version (412): the case's version now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// For a transition the loop does not allow (409): where the case stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status_zh: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// Error answers, grouped by what an operation can run into. Never constructed: they only
/// describe responses in the document.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum ReadProblems {
    #[response(
        status = 400,
        description = "A malformed path, query or body",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "No or bad credentials",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "Outside the caller's scope",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 404,
        description = "No such case or resource",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 422,
        description = "Parameters that cannot be accepted",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
    #[response(
        status = 503,
        description = "Storage is unavailable",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

/// The failure of another system the request needed (an SMS provider).
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum UpstreamProblem {
    #[response(
        status = 502,
        description = "Another system (the SMS provider) did not do its part",
        content_type = "application/problem+json"
    )]
    BadGateway(Problem),
}

/// The refusal of a caller over its abuse limit (sign-in, public lookups).
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum Throttled {
    #[response(
        status = 429,
        description = "Too many attempts lately; try again after Retry-After seconds",
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))
    )]
    TooMany(Problem),
}

#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum ChangeProblems {
    #[response(
        status = 400,
        description = "A malformed path, body or If-Match",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "No or bad credentials",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "The caller's role or scope does not allow it",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 404,
        description = "No such case",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 409,
        description = "Not allowed in the case's current state; names the state",
        content_type = "application/problem+json"
    )]
    Conflict(Problem),
    #[response(
        status = 412,
        description = "The case changed since it was read (stale version)",
        content_type = "application/problem+json"
    )]
    Stale(Problem),
    #[response(
        status = 422,
        description = "Fields that cannot be accepted",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
    #[response(
        status = 428,
        description = "The case version is missing (If-Match or `version`)",
        content_type = "application/problem+json"
    )]
    VersionRequired(Problem),
    #[response(
        status = 503,
        description = "Storage is unavailable; nothing was changed",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum IntakeProblems {
    #[response(
        status = 400,
        description = "A malformed body",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
    #[response(
        status = 401,
        description = "Bad credentials (anonymous intake needs none)",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 422,
        description = "Fields that cannot be accepted; each is listed",
        content_type = "application/problem+json"
    )]
    Unprocessable(Problem),
    #[response(
        status = 503,
        description = "Storage is unavailable; nothing was stored",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}
