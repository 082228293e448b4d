//! The one place where errors become HTTP responses: RFC 9457 problem details.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::AppError;

/// An error as the API reports it.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// No or bad credentials.
    Unauthorized(String),
    /// A mutating request without the case version (If-Match or `version`).
    PreconditionRequired,
    /// A malformed request: bad JSON, a bad path or query parameter.
    BadRequest(String),
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

fn problem(status: StatusCode, slug: &str, title: &str, detail: String, extra: Value) -> Response {
    let mut body = json!({
        "type": format!("urn:civicgrid:problem:{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        match self {
            ApiError::Unauthorized(d) => problem(
                S::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                d,
                json!({}),
            ),
            ApiError::PreconditionRequired => problem(
                S::PRECONDITION_REQUIRED,
                "version-required",
                "The case version is required",
                "send the version you read, as If-Match or as `version` in the body".into(),
                json!({}),
            ),
            ApiError::BadRequest(d) => {
                problem(S::BAD_REQUEST, "bad-request", "Bad request", d, json!({}))
            }
            ApiError::App(e) => {
                let detail = e.to_string();
                match e {
                    AppError::Unprocessable(fields) => problem(
                        S::UNPROCESSABLE_ENTITY,
                        "invalid-fields",
                        "Some fields are invalid",
                        detail,
                        json!({"errors": fields.iter().map(|(f, m)| json!({"field": f, "message": m})).collect::<Vec<_>>()}),
                    ),
                    AppError::Input(_) | AppError::Invalid(_) => problem(
                        S::UNPROCESSABLE_ENTITY,
                        "invalid",
                        "The request cannot be carried out",
                        detail,
                        json!({}),
                    ),
                    AppError::NotFound(_) => {
                        problem(S::NOT_FOUND, "not-found", "Not found", detail, json!({}))
                    }
                    AppError::Conflict(_) => {
                        problem(S::CONFLICT, "conflict", "Already exists", detail, json!({}))
                    }
                    AppError::Forbidden(_) => {
                        problem(S::FORBIDDEN, "forbidden", "Forbidden", detail, json!({}))
                    }
                    AppError::TooManyRequests { retry_after } => {
                        let mut r = problem(
                            S::TOO_MANY_REQUESTS,
                            "too-many-requests",
                            "Too many requests",
                            detail,
                            json!({"retry_after": retry_after}),
                        );
                        r.headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                        r
                    }
                    AppError::Stale { current } => problem(
                        S::PRECONDITION_FAILED,
                        "stale-version",
                        "The case changed since you read it",
                        detail,
                        json!({"current_version": current}),
                    ),
                    AppError::NotAllowed { status, .. } => problem(
                        S::CONFLICT,
                        "transition-not-allowed",
                        "Not allowed in the case's current state",
                        detail,
                        json!({"current_status": status.as_str(), "current_status_zh": status.name_zh()}),
                    ),
                    AppError::Upstream(_) => problem(
                        S::BAD_GATEWAY,
                        "upstream",
                        "Another system failed the request",
                        detail,
                        json!({}),
                    ),
                    AppError::Io { .. } | AppError::Store(_) => {
                        tracing::error!(error = %detail, "request failed");
                        problem(
                            S::SERVICE_UNAVAILABLE,
                            "unavailable",
                            "The service cannot answer now",
                            "storage is unavailable; the request may not have been carried out"
                                .into(),
                            json!({}),
                        )
                    }
                }
            }
        }
    }
}
