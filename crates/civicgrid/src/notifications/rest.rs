//! Notifications over REST v1: the outbox's state and its dead letters (retry, discard), the
//! message templates (list, change, preview, reset) for `notification.manage`, and each staff
//! member's own channels (`/api/v1/me/channels`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use civicgrid_domain::notification::Template;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::templates::{Preview, TemplateView};
use super::{MessageView, OwnChannels};
use crate::App;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, ReadProblems};
use crate::http::{ApiError, ApiResult, Caller, body};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(dead_letters))
        .routes(routes!(retry))
        .routes(routes!(discard))
        .routes(routes!(templates))
        .routes(routes!(save_template, reset_template))
        .routes(routes!(preview))
        .routes(routes!(own_channels, set_own_channels))
        .routes(routes!(evaluation_code))
        .routes(routes!(issue_notice, notices))
}

/// An urgent notice to the grid workers of some grids.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeBody {
    /// At most 60 characters.
    pub title: String,
    /// At most 500 characters (it is also texted).
    pub text: String,
    /// Grid codes (15 digits).
    pub grids: Vec<String>,
}

/// Sends an urgent notice (紧急通知) to the grid workers of the grids: at once, in quiet
/// hours too, by e-mail and SMS as each chose. Needs notice.issue over every grid.
#[utoipa::path(post, path = "/api/v1/notices", tag = "notifications",
    request_body(content = NoticeBody, content_type = "application/json"),
    responses((status = 201, description = "Kept and on its way", body = super::notices::GridNotice),
        ChangeProblems),
    security(("bearer" = [])))]
async fn issue_notice(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<NoticeBody>, JsonRejection>,
) -> ApiResult<(axum::http::StatusCode, Json<super::notices::GridNotice>)> {
    let b = body(payload)?;
    let notice = app
        .issue_grid_notice(caller.staff()?, &b.title, &b.text, &b.grids)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(notice)))
}

/// The urgent notices sent in the caller's regions, newest first.
#[utoipa::path(get, path = "/api/v1/notices", tag = "notifications",
    responses((status = 200, description = "Notices", body = [super::notices::GridNotice]), ReadProblems),
    security(("bearer" = [])))]
async fn notices(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<Vec<super::notices::GridNotice>>> {
    Ok(Json(app.grid_notices(caller.staff()?).await?))
}

/// Texts a code to the number the reporter left with the case, for evaluating the closed
/// case without the secret (`code` in the evaluation instead of `secret`). The number is
/// neither asked for nor shown, only masked; one number gets at most one code a minute, five
/// an hour and ten a day, whoever asks.
#[utoipa::path(post, path = "/api/v1/track/{receipt}/verification-code", tag = "public",
    params(("receipt" = String, Path, description = "The receipt code")),
    responses((status = 202, description = "Sent", body = super::verification::CodeSent),
        ChangeProblems, crate::http::views::UpstreamProblem, crate::http::views::Throttled),
    security(()))]
async fn evaluation_code(
    State(app): State<App>,
    from: crate::accounts::limits::ClientAddr,
    Path(receipt): Path<String>,
) -> ApiResult<(axum::http::StatusCode, Json<super::verification::CodeSent>)> {
    let sent = app.send_evaluation_code(&receipt, &from).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(sent)))
}

/// The texts of a template (`{{variable}}` for the values the topic offers).
#[derive(Deserialize, ToSchema)]
pub struct TemplateBody {
    pub subject: String,
    pub body: String,
    pub sms: String,
}

impl From<TemplateBody> for Template {
    fn from(b: TemplateBody) -> Template {
        Template {
            subject: b.subject,
            body: b.body,
            sms: b.sms,
        }
    }
}

/// How the caller is told, as REST reads and writes it (flat: an address is a plain string).
#[derive(Deserialize, serde::Serialize, ToSchema)]
pub struct ChannelsBody {
    /// The e-mail address messages go to.
    #[serde(default)]
    pub email_address: Option<String>,
    /// The mobile number SMS goes to.
    #[serde(default)]
    pub phone: Option<String>,
    /// Told by e-mail.
    #[serde(default)]
    pub email: bool,
    /// Told by SMS (refused while no SMS provider is configured, or without a number).
    #[serde(default)]
    pub sms: bool,
    /// Non-urgent notices as one e-mail a day.
    #[serde(default)]
    pub digest: bool,
}

impl From<OwnChannels> for ChannelsBody {
    fn from(c: OwnChannels) -> ChannelsBody {
        ChannelsBody {
            email_address: c.addresses.email,
            phone: c.addresses.phone,
            email: c.email,
            sms: c.sms,
            digest: c.digest,
        }
    }
}

impl From<ChannelsBody> for OwnChannels {
    fn from(b: ChannelsBody) -> OwnChannels {
        OwnChannels {
            addresses: super::StaffAddresses {
                email: b.email_address,
                phone: b.phone,
            },
            email: b.email,
            sms: b.sms,
            digest: b.digest,
        }
    }
}

/// Why a dead message is given up.
#[derive(Deserialize, ToSchema)]
pub struct DiscardBody {
    pub reason: String,
}

fn message_id(id: &str) -> ApiResult<uuid::Uuid> {
    id.parse()
        .map_err(|_| ApiError::from(AppError::NotFound(format!("no message {id}"))))
}

/// The outbox as it stands: messages by state, events not yet written, the mail server.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    responses((status = 200, description = "The outbox", body = super::NotificationStatus), ReadProblems),
    security(("bearer" = [])))]
async fn status(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<super::NotificationStatus>> {
    Ok(Json(app.notification_status(caller.staff()?).await?))
}

/// The dead-letter list: messages whose last try failed, newest first (addresses masked).
#[utoipa::path(get, path = "/api/v1/notifications/dead-letters", tag = "notifications",
    responses((status = 200, description = "Dead letters", body = Vec<MessageView>), ReadProblems),
    security(("bearer" = [])))]
async fn dead_letters(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<MessageView>>> {
    Ok(Json(app.dead_letters(caller.staff()?).await?))
}

/// Sends a dead message again, from its first try.
#[utoipa::path(post, path = "/api/v1/notifications/dead-letters/{id}/retry", tag = "notifications",
    params(("id" = String, Path, description = "The message")),
    responses((status = 200, description = "Pending again", body = MessageView), ChangeProblems),
    security(("bearer" = [])))]
async fn retry(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageView>> {
    let actor = caller.staff()?;
    let id = message_id(&id)?;
    Ok(Json(app.retry_dead_letter(actor, &id).await?))
}

/// Gives a dead message up, with the reason.
#[utoipa::path(post, path = "/api/v1/notifications/dead-letters/{id}/discard", tag = "notifications",
    params(("id" = String, Path, description = "The message")),
    request_body(content = DiscardBody, content_type = "application/json"),
    responses((status = 200, description = "Discarded", body = MessageView), ChangeProblems),
    security(("bearer" = [])))]
async fn discard(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<DiscardBody>, JsonRejection>,
) -> ApiResult<Json<MessageView>> {
    let actor = caller.staff()?;
    let id = message_id(&id)?;
    let b = body(payload)?;
    Ok(Json(app.discard_dead_letter(actor, &id, &b.reason).await?))
}

/// Every topic's template in every language, with the variables it may use.
#[utoipa::path(get, path = "/api/v1/notifications/templates", tag = "notifications",
    responses((status = 200, description = "The templates", body = Vec<TemplateView>), ReadProblems),
    security(("bearer" = [])))]
async fn templates(State(app): State<App>, caller: Caller) -> ApiResult<Json<Vec<TemplateView>>> {
    Ok(Json(app.notification_templates(caller.staff()?).await?))
}

/// Changes a template; an unknown variable is refused (422) and nothing is saved.
#[utoipa::path(put, path = "/api/v1/notifications/templates/{topic}/{language}", tag = "notifications",
    params(("topic" = String, Path, description = "case_accepted, case_closed, …"),
           ("language" = String, Path, description = "zh-CN or en")),
    request_body(content = TemplateBody, content_type = "application/json"),
    responses((status = 200, description = "Saved", body = TemplateView), ChangeProblems),
    security(("bearer" = [])))]
async fn save_template(
    State(app): State<App>,
    caller: Caller,
    Path((topic, language)): Path<(String, String)>,
    payload: Result<Json<TemplateBody>, JsonRejection>,
) -> ApiResult<Json<TemplateView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(
        app.save_notification_template(actor, &topic, &language, b.into())
            .await?,
    ))
}

/// Goes back to the shipped template.
#[utoipa::path(delete, path = "/api/v1/notifications/templates/{topic}/{language}", tag = "notifications",
    params(("topic" = String, Path, description = "case_accepted, case_closed, …"),
           ("language" = String, Path, description = "zh-CN or en")),
    responses((status = 200, description = "The shipped template", body = TemplateView), ChangeProblems),
    security(("bearer" = [])))]
async fn reset_template(
    State(app): State<App>,
    caller: Caller,
    Path((topic, language)): Path<(String, String)>,
) -> ApiResult<Json<TemplateView>> {
    let actor = caller.staff()?;
    Ok(Json(
        app.reset_notification_template(actor, &topic, &language)
            .await?,
    ))
}

/// A template filled in with the newest case, without saving it.
#[utoipa::path(post, path = "/api/v1/notifications/templates/{topic}/{language}/preview", tag = "notifications",
    params(("topic" = String, Path, description = "case_accepted, case_closed, …"),
           ("language" = String, Path, description = "zh-CN or en")),
    request_body(content = TemplateBody, content_type = "application/json"),
    responses((status = 200, description = "The message as it would read", body = Preview), ChangeProblems),
    security(("bearer" = [])))]
async fn preview(
    State(app): State<App>,
    caller: Caller,
    Path((topic, language)): Path<(String, String)>,
    payload: Result<Json<TemplateBody>, JsonRejection>,
) -> ApiResult<Json<Preview>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(
        app.preview_notification_template(actor, &topic, &language, b.into())
            .await?,
    ))
}

/// How the caller is told: channels and addresses.
#[utoipa::path(get, path = "/api/v1/me/channels", tag = "notifications",
    responses((status = 200, description = "The caller's channels", body = ChannelsBody), ReadProblems),
    security(("bearer" = [])))]
async fn own_channels(State(app): State<App>, caller: Caller) -> ApiResult<Json<ChannelsBody>> {
    Ok(Json(app.own_channels(caller.staff()?).await?.into()))
}

/// Sets how the caller is told. A channel without its address is refused.
#[utoipa::path(put, path = "/api/v1/me/channels", tag = "notifications",
    request_body(content = ChannelsBody, content_type = "application/json"),
    responses((status = 200, description = "Saved", body = ChannelsBody), ChangeProblems),
    security(("bearer" = [])))]
async fn set_own_channels(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Json<ChannelsBody>> {
    let actor = caller.staff()?;
    // An object only: serde would also read a struct from an array of its fields.
    let value = body(payload)?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object: {email_address, email, digest}".into(),
        ));
    }
    let b: ChannelsBody = serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("the body: {e}")))?;
    Ok(Json(app.set_own_channels(actor, b.into()).await?.into()))
}
