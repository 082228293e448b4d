//! Consultation over REST v1: `/api/v1/topics` (topics, supports, opinions and their
//! moderation, scope rules, household keys), `/api/v1/meetings` (convening, agenda, answers to
//! summons, attendance, minutes, attachments, decisions), `/api/v1/results` (progress, CSV)
//! and `/api/v1/polls` (codes and secret votes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use civicgrid_domain::consultation::{Ballot, Moderation};
use civicgrid_domain::policy::Actor;

use super::views;
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::AppError;
use crate::http::views::{ChangeProblems, ReadProblems, Throttled};
use crate::http::{ApiError, ApiResult, Caller, body, query, region_param};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_topics, raise_topic))
        .routes(routes!(get_rule, set_rule))
        .routes(routes!(issue_household_key))
        .routes(routes!(get_topic))
        .routes(routes!(topic_history))
        .routes(routes!(support))
        .routes(routes!(withdraw))
        .routes(routes!(schedule))
        .routes(routes!(post_opinion))
        .routes(routes!(opinion_photo))
        .routes(routes!(flag))
        .routes(routes!(moderation_history, moderate))
        .routes(routes!(list_meetings, convene))
        .routes(routes!(get_meeting))
        .routes(routes!(meeting_history))
        .routes(routes!(add_agenda_item))
        .routes(routes!(answer))
        .routes(routes!(check_in))
        .routes(routes!(minutes))
        .routes(routes!(cancel))
        .routes(routes!(attach))
        .routes(routes!(attachment))
        .routes(routes!(decide))
        .routes(routes!(list_results))
        .routes(routes!(import_results))
        .routes(routes!(get_result))
        .routes(routes!(complete_milestone))
        .routes(routes!(list_polls, create_poll))
        .routes(routes!(get_poll))
        .routes(routes!(issue_code))
        .routes(routes!(vote))
        // Attachments may be up to 10 MiB.
        .layer(axum::extract::DefaultBodyLimit::max(11 * 1024 * 1024))
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    AppError::Unprocessable(vec![(field.into(), message.into())]).into()
}

fn uuid_param(field: &str, s: &str) -> ApiResult<uuid::Uuid> {
    s.parse()
        .map_err(|_| unprocessable(field, format!("`{s}` is not an id")))
}

fn time_param(field: &str, s: &str) -> ApiResult<jiff::Timestamp> {
    s.parse()
        .map_err(|_| unprocessable(field, format!("`{s}` is not an RFC 3339 time")))
}

async fn topic_detail(app: &App, t: civicgrid_store::TopicRecord) -> ApiResult<views::TopicDetail> {
    let opinions = app.opinions_of(&t).await?;
    let meeting = match t.meeting_id {
        Some(m) => app.meeting_number(&m).await?,
        None => None,
    };
    Ok(views::TopicDetail {
        topic: views::TopicView::from(&t),
        opinions: opinions.iter().map(views::OpinionView::from).collect(),
        meeting,
    })
}

/// Raises a topic: anyone as a resident (the answer carries the secret to follow it, only
/// here); staff as a grid worker, for the community or for a party organisation.
#[utoipa::path(post, path = "/api/v1/topics", tag = "public",
    request_body(content = views::NewTopicBody, content_type = "application/json"),
    responses((status = 201, description = "Raised", body = views::RaisedTopic), ChangeProblems),
    security((), ("bearer" = [])))]
async fn raise_topic(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewTopicBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let actor = caller.0.unwrap_or(Actor::Resident);
    let receipt = app
        .raise_topic(
            &actor,
            super::NewTopic {
                scope: b.scope,
                title: b.title,
                description: b.description,
                raised_as: b.raised_as,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::RaisedTopic {
            topic: views::TopicView::from(&receipt.topic),
            secret: receipt.secret,
        }),
    )
        .into_response())
}

/// Topics in a region, newest first (public).
#[utoipa::path(get, path = "/api/v1/topics", tag = "public",
    params(views::WithinQuery),
    responses((status = 200, description = "Topics, at most 500", body = Vec<views::TopicView>), ReadProblems),
    security(()))]
async fn list_topics(
    State(app): State<App>,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::TopicView>>> {
    let q = query(q)?;
    let within = region_param("within", &q.within)?;
    let statuses = match q.status.as_deref() {
        Some(s) => vec![s.parse().map_err(|e: String| unprocessable("status", e))?],
        None => vec![],
    };
    let topics = app.topics_in(&within, &statuses, 500).await?;
    Ok(Json(topics.iter().map(views::TopicView::from).collect()))
}

/// A scope's rule as it applies (its own, the nearest above, or the defaults) (public).
#[utoipa::path(get, path = "/api/v1/topics/rules", tag = "public",
    params(views::RegionQuery),
    responses((status = 200, description = "The rule", body = views::RuleBody), ReadProblems),
    security(()))]
async fn get_rule(
    State(app): State<App>,
    q: Result<Query<views::RegionQuery>, QueryRejection>,
) -> ApiResult<Json<views::RuleBody>> {
    let q = query(q)?;
    let region = region_param("region", &q.region)?;
    let (threshold_per_mille, agenda_days) = app.consultation_rule(&region).await?;
    Ok(Json(views::RuleBody {
        region: region.to_string(),
        threshold_per_mille,
        agenda_days,
    }))
}

/// Sets a community's or street's threshold and agenda deadline (consultation.manage).
#[utoipa::path(put, path = "/api/v1/topics/rules", tag = "consultation",
    request_body(content = views::RuleBody, content_type = "application/json"),
    responses((status = 200, description = "Set", body = views::RuleBody), ChangeProblems),
    security(("bearer" = [])))]
async fn set_rule(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::RuleBody>, JsonRejection>,
) -> ApiResult<Json<views::RuleBody>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let region = region_param("region", &b.region)?;
    app.set_consultation_rule(actor, &region, b.threshold_per_mille, b.agenda_days)
        .await?;
    Ok(Json(b))
}

/// Gives a household a new consultation key (议事码) to support topics with (its contact or
/// whoever keeps the register); shown once, the old one stops working.
#[utoipa::path(post, path = "/api/v1/topics/household-keys", tag = "consultation",
    request_body(content = views::HouseholdBody, content_type = "application/json"),
    responses((status = 201, description = "Issued", body = views::IssuedKey), ChangeProblems),
    security(("bearer" = [])))]
async fn issue_household_key(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::HouseholdBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let household = uuid_param("household", &b.household)?;
    let key = app.issue_household_key(actor, &household).await?;
    Ok((StatusCode::CREATED, Json(views::IssuedKey { key })).into_response())
}

/// A topic with its opinions (public; hidden ones show only their reason).
#[utoipa::path(get, path = "/api/v1/topics/{number}", tag = "public",
    params(("number" = String, Path, description = "The topic's number")),
    responses((status = 200, description = "The topic", body = views::TopicDetail), ReadProblems),
    security(()))]
async fn get_topic(
    State(app): State<App>,
    Path(number): Path<String>,
) -> ApiResult<Json<views::TopicDetail>> {
    let t = app.topic(&number).await?;
    Ok(Json(topic_detail(&app, t).await?))
}

/// A topic's events (consultation.manage).
#[utoipa::path(get, path = "/api/v1/topics/{number}/history", tag = "consultation",
    params(("number" = String, Path, description = "The topic's number")),
    responses((status = 200, description = "The topic and its events", body = views::TopicHistory), ReadProblems),
    security(("bearer" = [])))]
async fn topic_history(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::TopicHistory>> {
    let actor = caller.staff()?;
    let (t, events) = app.topic_history(actor, &number).await?;
    Ok(Json(views::TopicHistory {
        topic: views::TopicView::from(&t),
        events: events.into_iter().map(views::EventView::from).collect(),
    }))
}

/// A household of the topic's scope supports it, once, with its consultation key. Every
/// attempt counts against the caller's lookups.
#[utoipa::path(post, path = "/api/v1/topics/{number}/supports", tag = "public",
    params(("number" = String, Path, description = "The topic's number")),
    request_body(content = views::SupportBody, content_type = "application/json"),
    responses((status = 200, description = "Supported", body = views::TopicView), ChangeProblems, Throttled),
    security(()))]
async fn support(
    State(app): State<App>,
    from: ClientAddr,
    Path(number): Path<String>,
    payload: Result<Json<views::SupportBody>, JsonRejection>,
) -> ApiResult<Json<views::TopicView>> {
    let b = body(payload)?;
    let t = app.support_topic(&number, &b.household_key, &from).await?;
    Ok(Json(views::TopicView::from(&t)))
}

/// Withdraws a topic with the reason shown in its place (consultation.manage).
#[utoipa::path(post, path = "/api/v1/topics/{number}/withdrawal", tag = "consultation",
    params(("number" = String, Path, description = "The topic's number")),
    request_body(content = views::ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "Withdrawn", body = views::TopicView), ChangeProblems),
    security(("bearer" = [])))]
async fn withdraw(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::ReasonBody>, JsonRejection>,
) -> ApiResult<Json<views::TopicView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    Ok(Json(views::TopicView::from(
        &app.withdraw_topic(actor, &number, &b.reason).await?,
    )))
}

/// Puts the topic on a planned meeting's agenda (consultation.manage).
#[utoipa::path(post, path = "/api/v1/topics/{number}/schedule", tag = "consultation",
    params(("number" = String, Path, description = "The topic's number")),
    request_body(content = views::ScheduleBody, content_type = "application/json"),
    responses((status = 200, description = "On the agenda", body = views::TopicView), ChangeProblems),
    security(("bearer" = [])))]
async fn schedule(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::ScheduleBody>, JsonRejection>,
) -> ApiResult<Json<views::TopicView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let t = app
        .schedule_topic(actor, &number, &b.meeting, &b.title)
        .await?;
    Ok(Json(views::TopicView::from(&t)))
}

/// Posts an opinion on a topic, optionally replying to another (anyone; staff under their
/// name). Photos are added on the topic's page.
#[utoipa::path(post, path = "/api/v1/topics/{number}/opinions", tag = "public",
    params(("number" = String, Path, description = "The topic's number")),
    request_body(content = views::OpinionBody, content_type = "application/json"),
    responses((status = 201, description = "Posted", body = views::OpinionView), ChangeProblems),
    security((), ("bearer" = [])))]
async fn post_opinion(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::OpinionBody>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(payload)?;
    let parent = match b.parent.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(uuid_param("parent", p)?),
        None => None,
    };
    let actor = caller.0.unwrap_or(Actor::Resident);
    let o = app
        .post_opinion(&actor, &number, parent, &b.body, None)
        .await?;
    Ok((StatusCode::CREATED, Json(views::OpinionView::from(&o))).into_response())
}

/// An opinion's photo: public while the opinion shows; moderators see it always.
#[utoipa::path(get, path = "/api/v1/topics/{number}/opinions/{id}/photo", tag = "public",
    params(("number" = String, Path, description = "The topic's number"), ("id" = String, Path, description = "The opinion")),
    responses((status = 200, description = "The photo", content_type = "image/*", body = Vec<u8>), ReadProblems),
    security((), ("bearer" = [])))]
async fn opinion_photo(
    State(app): State<App>,
    caller: Caller,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = uuid_param("id", &id)?;
    let actor = caller.0.unwrap_or(Actor::Resident);
    let (ct, data) = app.opinion_photo(&actor, &number, &id).await?;
    Ok(([(header::CONTENT_TYPE, ct)], data).into_response())
}

/// Flags an opinion (anyone, once each); enough flags hide it until a moderator reviews it.
#[utoipa::path(post, path = "/api/v1/topics/{number}/opinions/{id}/flags", tag = "public",
    params(("number" = String, Path, description = "The topic's number"), ("id" = String, Path, description = "The opinion")),
    request_body(content = views::FlagBody, content_type = "application/json"),
    responses((status = 200, description = "Flagged", body = views::OpinionView), ChangeProblems),
    security((), ("bearer" = [])))]
async fn flag(
    State(app): State<App>,
    caller: Caller,
    from: ClientAddr,
    Path((number, id)): Path<(String, String)>,
    payload: Result<Json<views::FlagBody>, JsonRejection>,
) -> ApiResult<Json<views::OpinionView>> {
    let b = body(payload)?;
    let id = uuid_param("id", &id)?;
    let flagger = match &caller.0 {
        Some(a) => format!("account:{}", a.name()),
        None => format!("address:{}", from.0),
    };
    let o = app.flag_opinion(&flagger, &number, &id, &b.reason).await?;
    Ok(Json(views::OpinionView::from(&o)))
}

/// An opinion's flags and moderation steps (consultation.moderate).
#[utoipa::path(get, path = "/api/v1/topics/{number}/opinions/{id}/moderation", tag = "consultation",
    params(("number" = String, Path, description = "The topic's number"), ("id" = String, Path, description = "The opinion")),
    responses((status = 200, description = "Every step", body = Vec<views::EventView>), ReadProblems),
    security(("bearer" = [])))]
async fn moderation_history(
    State(app): State<App>,
    caller: Caller,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<views::EventView>>> {
    let actor = caller.staff()?;
    let id = uuid_param("id", &id)?;
    let events = app.opinion_history(actor, &number, &id).await?;
    Ok(Json(
        events.into_iter().map(views::EventView::from).collect(),
    ))
}

/// A moderator hides an opinion with the reason shown in its place, or restores it.
#[utoipa::path(post, path = "/api/v1/topics/{number}/opinions/{id}/moderation", tag = "consultation",
    params(("number" = String, Path, description = "The topic's number"), ("id" = String, Path, description = "The opinion")),
    request_body(content = views::ModerationBody, content_type = "application/json"),
    responses((status = 200, description = "Moderated", body = views::OpinionView), ChangeProblems),
    security(("bearer" = [])))]
async fn moderate(
    State(app): State<App>,
    caller: Caller,
    Path((number, id)): Path<(String, String)>,
    payload: Result<Json<views::ModerationBody>, JsonRejection>,
) -> ApiResult<Json<views::OpinionView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let id = uuid_param("id", &id)?;
    let step = match b.action.as_str() {
        "hide" => Moderation::Hide { reason: b.reason },
        "restore" => Moderation::Restore,
        other => {
            return Err(unprocessable(
                "action",
                format!("`{other}` is not hide or restore"),
            ));
        }
    };
    let o = app.moderate_opinion(actor, &number, &id, step).await?;
    Ok(Json(views::OpinionView::from(&o)))
}

/// Convenes a meeting with its invitees and agenda (consultation.manage); topics on the
/// agenda are scheduled, units summoned must answer within a working day.
#[utoipa::path(post, path = "/api/v1/meetings", tag = "consultation",
    request_body(content = views::NewMeetingBody, content_type = "application/json"),
    responses((status = 201, description = "Convened", body = views::MeetingDetail), ChangeProblems),
    security(("bearer" = [])))]
async fn convene(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewMeetingBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let kind = b
        .kind
        .parse()
        .map_err(|e: String| unprocessable("kind", e))?;
    let starts_at = time_param("starts_at", &b.starts_at)?;
    let mut invitees = Vec::new();
    for (i, inv) in b.invitees.into_iter().enumerate() {
        invitees.push(super::NewInvitee {
            kind: inv
                .kind
                .parse()
                .map_err(|e: String| unprocessable(&format!("invitees[{i}].kind"), e))?,
            reference: inv.reference,
            name: inv.name,
        });
    }
    let m = app
        .convene_meeting(
            actor,
            super::NewMeeting {
                kind,
                scope: b.scope,
                title: b.title,
                place: b.place,
                starts_at,
                invitees,
                agenda: b
                    .agenda
                    .into_iter()
                    .map(|a| super::NewAgendaItem {
                        title: a.title,
                        topic: a.topic,
                        cases: a.cases,
                    })
                    .collect(),
            },
        )
        .await?;
    let detail = meeting_detail(&app, Some(actor), &m.public_id).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

async fn meeting_detail(
    app: &App,
    actor: Option<&Actor>,
    number: &str,
) -> ApiResult<views::MeetingDetail> {
    let d = app.meeting_detail(number).await?;
    let names = app.runs_meeting(actor, &d.meeting).await?;
    Ok(views::MeetingDetail {
        meeting: views::meeting_view(&d.meeting, &d.topic_numbers(), &d.case_numbers),
        invitees: d
            .invitees
            .iter()
            .map(|i| views::InviteeView::of(i, names))
            .collect(),
        attachments: d
            .attachments
            .iter()
            .map(views::AttachmentView::from)
            .collect(),
        results: d.results.iter().map(|r| r.public_id.clone()).collect(),
    })
}

/// Meetings in a region, latest first (public).
#[utoipa::path(get, path = "/api/v1/meetings", tag = "public",
    params(views::WithinQuery),
    responses((status = 200, description = "Meetings, at most 500", body = Vec<views::MeetingView>), ReadProblems),
    security(()))]
async fn list_meetings(
    State(app): State<App>,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::MeetingView>>> {
    let q = query(q)?;
    let within = region_param("within", &q.within)?;
    let empty = std::collections::HashMap::new();
    Ok(Json(
        app.meetings_in(&within, 500)
            .await?
            .iter()
            .map(|m| views::meeting_view(m, &empty, &empty))
            .collect(),
    ))
}

/// A meeting: agenda, units' answers, attendance, minutes, attachments and results (public;
/// members' and residents' names only to those who run it).
#[utoipa::path(get, path = "/api/v1/meetings/{number}", tag = "public",
    params(("number" = String, Path, description = "The meeting's number")),
    responses((status = 200, description = "The meeting", body = views::MeetingDetail), ReadProblems),
    security((), ("bearer" = [])))]
async fn get_meeting(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<views::MeetingDetail>> {
    Ok(Json(
        meeting_detail(&app, caller.0.as_ref(), &number).await?,
    ))
}

/// A meeting's events (consultation.manage).
#[utoipa::path(get, path = "/api/v1/meetings/{number}/history", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    responses((status = 200, description = "Every event", body = Vec<views::EventView>), ReadProblems),
    security(("bearer" = [])))]
async fn meeting_history(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<Vec<views::EventView>>> {
    let actor = caller.staff()?;
    let events = app.meeting_history(actor, &number).await?;
    Ok(Json(
        events.into_iter().map(views::EventView::from).collect(),
    ))
}

/// Adds an item to a planned meeting's agenda (consultation.manage).
#[utoipa::path(post, path = "/api/v1/meetings/{number}/agenda", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    request_body(content = views::AgendaItemBody, content_type = "application/json"),
    responses((status = 200, description = "Added", body = views::MeetingDetail), ChangeProblems),
    security(("bearer" = [])))]
async fn add_agenda_item(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::AgendaItemBody>, JsonRejection>,
) -> ApiResult<Json<views::MeetingDetail>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    app.add_agenda_item(
        actor,
        &number,
        super::NewAgendaItem {
            title: b.title,
            topic: b.topic,
            cases: b.cases,
        },
    )
    .await?;
    Ok(Json(meeting_detail(&app, Some(actor), &number).await?))
}

/// A summoned unit answers (its handlers): attend, delegate (naming who) or decline (with
/// the reason). Late answers are kept and counted late.
#[utoipa::path(post, path = "/api/v1/meetings/{number}/answers", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    request_body(content = views::AnswerBody, content_type = "application/json"),
    responses((status = 200, description = "Answered", body = views::InviteeView), ChangeProblems),
    security(("bearer" = [])))]
async fn answer(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::AnswerBody>, JsonRejection>,
) -> ApiResult<Json<views::InviteeView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let answer = b
        .answer
        .parse()
        .map_err(|e: String| unprocessable("answer", e))?;
    let i = app
        .answer_summons(actor, &number, &b.unit, answer, &b.note)
        .await?;
    Ok(Json(views::InviteeView::of(&i, false)))
}

/// Checks an invitee in (those who run the meeting, or a summoned unit itself).
#[utoipa::path(post, path = "/api/v1/meetings/{number}/attendance", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    request_body(content = views::CheckInBody, content_type = "application/json"),
    responses((status = 200, description = "Checked in", body = views::InviteeView), ChangeProblems),
    security(("bearer" = [])))]
async fn check_in(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::CheckInBody>, JsonRejection>,
) -> ApiResult<Json<views::InviteeView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let kind = b
        .kind
        .parse()
        .map_err(|e: String| unprocessable("kind", e))?;
    let i = app.check_in(actor, &number, kind, &b.reference).await?;
    Ok(Json(views::InviteeView::of(&i, false)))
}

/// Records or amends the minutes; the meeting is then held (consultation.manage).
#[utoipa::path(put, path = "/api/v1/meetings/{number}/minutes", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    request_body(content = views::MinutesBody, content_type = "application/json"),
    responses((status = 200, description = "Recorded", body = views::MeetingView), ChangeProblems),
    security(("bearer" = [])))]
async fn minutes(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::MinutesBody>, JsonRejection>,
) -> ApiResult<Json<views::MeetingView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let m = app.record_minutes(actor, &number, &b.minutes).await?;
    let empty = std::collections::HashMap::new();
    Ok(Json(views::meeting_view(&m, &empty, &empty)))
}

/// Cancels a planned meeting with the reason; its topics await an agenda again.
#[utoipa::path(post, path = "/api/v1/meetings/{number}/cancellation", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    request_body(content = views::ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "Cancelled", body = views::MeetingView), ChangeProblems),
    security(("bearer" = [])))]
async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::ReasonBody>, JsonRejection>,
) -> ApiResult<Json<views::MeetingView>> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let m = app.cancel_meeting(actor, &number, &b.reason).await?;
    let empty = std::collections::HashMap::new();
    Ok(Json(views::meeting_view(&m, &empty, &empty)))
}

/// Attaches a file to a meeting: the body is the file, its type the Content-Type (PDF,
/// JPEG, PNG, WebP or plain text, at most 10 MiB; `application/pdf` is taken too, and
/// `application/octet-stream` is recognised by its first bytes) (consultation.manage).
#[utoipa::path(post, path = "/api/v1/meetings/{number}/attachments", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number"), views::AttachmentQuery),
    request_body(content((Vec<u8> = "application/octet-stream"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "text/plain"))),
    responses((status = 201, description = "Attached", body = views::AttachmentView), ChangeProblems),
    security(("bearer" = [])))]
async fn attach(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    q: Result<Query<views::AttachmentQuery>, QueryRejection>,
    headers: HeaderMap,
    data: Bytes,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let q = query(q)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let a = app
        .attach_to_meeting(actor, &number, &q.name, &ct, data.to_vec())
        .await?;
    Ok((StatusCode::CREATED, Json(views::AttachmentView::from(&a))).into_response())
}

/// One attachment of a meeting (public, as the minutes are).
#[utoipa::path(get, path = "/api/v1/meetings/{number}/attachments/{seq}", tag = "public",
    params(("number" = String, Path, description = "The meeting's number"), ("seq" = u64, Path, description = "The attachment")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), ReadProblems),
    security(()))]
async fn attachment(
    State(app): State<App>,
    Path((number, seq)): Path<(String, String)>,
) -> ApiResult<Response> {
    let seq: u64 = seq
        .parse()
        .map_err(|_| unprocessable("seq", format!("`{seq}` is not an attachment number")))?;
    let (meta, data) = app.meeting_attachment(&number, seq).await?;
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        meta.name
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect::<String>()
    );
    Ok((
        [
            (header::CONTENT_TYPE, meta.content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        data,
    )
        .into_response())
}

/// Records a decision of an agenda item (consultation.manage): its cases are reported and
/// dispatched to the named units, its milestones set; the result's progress follows them.
#[utoipa::path(post, path = "/api/v1/meetings/{number}/decisions", tag = "consultation",
    params(("number" = String, Path, description = "The meeting's number")),
    request_body(content = views::DecisionBody, content_type = "application/json"),
    responses((status = 201, description = "Decided", body = views::ResultView), ChangeProblems),
    security(("bearer" = [])))]
async fn decide(
    State(app): State<App>,
    caller: Caller,
    Path(number): Path<String>,
    payload: Result<Json<views::DecisionBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let mut cases = Vec::new();
    for (i, c) in b.cases.into_iter().enumerate() {
        let grid = match c.grid.as_deref().filter(|g| !g.is_empty()) {
            Some(g) => Some(g.parse().map_err(
                |e: civicgrid_domain::territory::TerritoryError| {
                    unprocessable(&format!("cases[{i}].grid"), e.to_string())
                },
            )?),
            None => None,
        };
        cases.push(super::NewWorkCase {
            unit: c.unit,
            description: c.description,
            due_days: c.due_days,
            grid,
        });
    }
    let mut milestones = Vec::new();
    for (i, m) in b.milestones.into_iter().enumerate() {
        let due = m.due.parse().map_err(|_| {
            unprocessable(
                &format!("milestones[{i}].due"),
                format!("`{}` is not a day (YYYY-MM-DD)", m.due),
            )
        })?;
        milestones.push(super::NewMilestone {
            title: m.title,
            owner: m.owner,
            due,
        });
    }
    let rp = app
        .record_decision(
            actor,
            &number,
            super::NewDecision {
                agenda_index: b.agenda_index,
                title: b.title,
                decision: b.decision,
                cases,
                milestones,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::ResultView::of(
            &rp,
            Some(number.to_ascii_uppercase()),
        )),
    )
        .into_response())
}

async fn meeting_numbers(
    app: &App,
    within: &civicgrid_domain::territory::RegionCode,
) -> ApiResult<std::collections::HashMap<uuid::Uuid, String>> {
    Ok(app
        .meetings_in(within, 500)
        .await?
        .into_iter()
        .map(|m| (m.id, m.public_id))
        .collect())
}

/// Results in a region with their computed progress, latest first, as JSON or CSV (public).
#[utoipa::path(get, path = "/api/v1/results", tag = "public",
    params(views::WithinQuery),
    responses((status = 200, description = "Results", body = Vec<views::ResultView>), ReadProblems),
    security(()))]
async fn list_results(
    State(app): State<App>,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let within = region_param("within", &q.within)?;
    match q.format.as_deref() {
        None | Some("json") => {}
        Some("csv") => {
            let text = app.export_results(&within).await?;
            return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response());
        }
        Some(other) => {
            return Err(unprocessable(
                "format",
                format!("`{other}` is not json or csv"),
            ));
        }
    }
    let meetings = meeting_numbers(&app, &within).await?;
    Ok(Json(
        app.results_in(&within, 500)
            .await?
            .iter()
            .map(|rp| {
                views::ResultView::of(
                    rp,
                    rp.result.meeting_id.and_then(|m| meetings.get(&m).cloned()),
                )
            })
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// Imports results from CSV (the export's columns), all or nothing; every problem named by
/// line and field (consultation.manage in each row's region).
#[utoipa::path(post, path = "/api/v1/results/import", tag = "consultation",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Imported", body = views::Imported), ChangeProblems),
    security(("bearer" = [])))]
async fn import_results(
    State(app): State<App>,
    caller: Caller,
    text: String,
) -> ApiResult<Json<views::Imported>> {
    let actor = caller.staff()?;
    let imported = app.import_results(actor, "request body", &text).await?;
    Ok(Json(views::Imported { imported }))
}

/// One result with its work and computed progress (public).
#[utoipa::path(get, path = "/api/v1/results/{number}", tag = "public",
    params(("number" = String, Path, description = "The result's number")),
    responses((status = 200, description = "The result", body = views::ResultView), ReadProblems),
    security(()))]
async fn get_result(
    State(app): State<App>,
    Path(number): Path<String>,
) -> ApiResult<Json<views::ResultView>> {
    let rp = app.result(&number).await?;
    let meeting = match rp.result.meeting_id {
        Some(m) => app.meeting_number(&m).await?,
        None => None,
    };
    Ok(Json(views::ResultView::of(&rp, meeting)))
}

/// Marks a milestone done (its owner, or consultation.manage in the result's region).
#[utoipa::path(post, path = "/api/v1/results/{number}/milestones/{seq}/completion", tag = "consultation",
    params(("number" = String, Path, description = "The result's number"), ("seq" = u64, Path, description = "The milestone")),
    responses((status = 200, description = "Done", body = views::ResultView), ChangeProblems),
    security(("bearer" = [])))]
async fn complete_milestone(
    State(app): State<App>,
    caller: Caller,
    Path((number, seq)): Path<(String, String)>,
) -> ApiResult<Json<views::ResultView>> {
    let actor = caller.staff()?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| unprocessable("seq", format!("`{seq}` is not a milestone number")))?;
    let rp = app.complete_milestone(actor, &number, seq).await?;
    Ok(Json(views::ResultView::of(&rp, None)))
}

/// Opens a poll in a region (consultation.manage).
#[utoipa::path(post, path = "/api/v1/polls", tag = "consultation",
    request_body(content = views::NewPollBody, content_type = "application/json"),
    responses((status = 201, description = "Created", body = views::PollBody), ChangeProblems),
    security(("bearer" = [])))]
async fn create_poll(
    State(app): State<App>,
    caller: Caller,
    payload: Result<Json<views::NewPollBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let b = body(payload)?;
    let opens_at = time_param("opens_at", &b.opens_at)?;
    let closes_at = time_param("closes_at", &b.closes_at)?;
    let ballot = match b.max_choices {
        0 => return Err(unprocessable("max_choices", "at least 1")),
        1 => Ballot::Single,
        max => Ballot::Multiple { max },
    };
    let poll = app
        .create_poll(
            actor,
            super::NewPoll {
                scope: b.scope,
                question: b.question,
                options: b.options,
                ballot,
                opens_at,
                closes_at,
                topic: b.topic,
            },
        )
        .await?;
    let v = app.poll_view(&poll.id).await?;
    Ok((StatusCode::CREATED, Json(views::PollBody::from(&v))).into_response())
}

/// Polls in a region, latest closing first (public; counts only of closed ones).
#[utoipa::path(get, path = "/api/v1/polls", tag = "public",
    params(views::WithinQuery),
    responses((status = 200, description = "Polls", body = Vec<views::PollBody>), ReadProblems),
    security(()))]
async fn list_polls(
    State(app): State<App>,
    q: Result<Query<views::WithinQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<views::PollBody>>> {
    let q = query(q)?;
    let within = region_param("within", &q.within)?;
    let mut out = Vec::new();
    for p in app.polls_in(&within, 200).await? {
        out.push(views::PollBody::from(&app.poll_view(&p.id).await?));
    }
    Ok(Json(out))
}

/// A poll; its count once closed (public).
#[utoipa::path(get, path = "/api/v1/polls/{id}", tag = "public",
    params(("id" = String, Path, description = "The poll")),
    responses((status = 200, description = "The poll", body = views::PollBody), ReadProblems),
    security(()))]
async fn get_poll(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<views::PollBody>> {
    let id = uuid_param("id", &id)?;
    Ok(Json(views::PollBody::from(&app.poll_view(&id).await?)))
}

/// Hands a household of the poll's region its one-time code (its contact or whoever keeps
/// the register); shown once.
#[utoipa::path(post, path = "/api/v1/polls/{id}/codes", tag = "consultation",
    params(("id" = String, Path, description = "The poll")),
    request_body(content = views::HouseholdBody, content_type = "application/json"),
    responses((status = 201, description = "Issued", body = views::IssuedKey), ChangeProblems),
    security(("bearer" = [])))]
async fn issue_code(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<views::HouseholdBody>, JsonRejection>,
) -> ApiResult<Response> {
    let actor = caller.staff()?;
    let id = uuid_param("id", &id)?;
    let b = body(payload)?;
    let household = uuid_param("household", &b.household)?;
    let key = app.issue_poll_code(actor, &id, &household).await?;
    Ok((StatusCode::CREATED, Json(views::IssuedKey { key })).into_response())
}

/// Votes with a household's code, once, while the poll is open; nothing keeps who chose
/// what. Every attempt counts against the caller's lookups.
#[utoipa::path(post, path = "/api/v1/polls/{id}/votes", tag = "public",
    params(("id" = String, Path, description = "The poll")),
    request_body(content = views::VoteBody, content_type = "application/json"),
    responses((status = 204, description = "Counted"), ChangeProblems, Throttled),
    security(()))]
async fn vote(
    State(app): State<App>,
    from: ClientAddr,
    Path(id): Path<String>,
    payload: Result<Json<views::VoteBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let id = uuid_param("id", &id)?;
    let b = body(payload)?;
    app.vote(&id, &b.code, &b.choices, &from).await?;
    Ok(StatusCode::NO_CONTENT)
}
