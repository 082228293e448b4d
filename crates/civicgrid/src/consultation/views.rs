//! The shapes of consultation over REST v1: topics, opinions, meetings, results, polls.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use civicgrid_domain::consultation::{InviteeKind, Visibility};
use civicgrid_store::{AttachmentMeta, InviteeRecord, MeetingRecord, OpinionRecord, TopicRecord};

use super::{PollView, ResultProgress};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WithinQuery {
    /// A region code (a street, a community): what lies in it.
    pub within: String,
    /// Topics only: open, qualified, scheduled, decided or withdrawn.
    #[serde(default)]
    pub status: Option<String>,
    /// Results only: `csv` for the export.
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegionQuery {
    /// A community's or street's region code.
    pub region: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopicBody {
    /// A grid (15 digits), community or street (12 digits).
    pub scope: String,
    /// 1 to 80 characters.
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// resident (default: anyone), grid_worker, community or party (staff).
    #[serde(default = "resident")]
    pub raised_as: String,
}

fn resident() -> String {
    "resident".into()
}

/// A topic as anyone sees it.
#[derive(Serialize, ToSchema)]
pub struct TopicView {
    pub number: String,
    pub scope: String,
    pub region: String,
    pub grid: Option<String>,
    pub title: String,
    pub description: String,
    /// resident, grid_worker, community or party.
    pub raised_as: String,
    #[schema(value_type = String)]
    pub raised_at: Timestamp,
    /// open, qualified, scheduled, decided or withdrawn.
    pub status: String,
    pub supports: u64,
    pub threshold: u64,
    /// The deadline to reach an agenda, once qualified.
    #[schema(value_type = Option<String>)]
    pub agenda_due: Option<Timestamp>,
    /// yellow or red as the deadline nears or passes.
    pub alarm: Option<String>,
    pub withdraw_reason: Option<String>,
}

impl From<&TopicRecord> for TopicView {
    fn from(t: &TopicRecord) -> Self {
        TopicView {
            number: t.public_id.clone(),
            scope: t.scope.clone(),
            region: t.region.to_string(),
            grid: t.grid.as_ref().map(|g| g.to_string()),
            title: t.title.clone(),
            description: t.description.clone(),
            raised_as: t.raised_as.clone(),
            raised_at: t.raised_at,
            status: t.status.as_str().to_owned(),
            supports: t.supports,
            threshold: t.threshold,
            agenda_due: t.agenda_due,
            alarm: t.alarm.clone(),
            withdraw_reason: t.withdraw_reason.clone(),
        }
    }
}

/// A raised topic and, for a resident, the secret to follow it (only here).
#[derive(Serialize, ToSchema)]
pub struct RaisedTopic {
    pub topic: TopicView,
    pub secret: Option<String>,
}

/// An opinion: its text and photo only while it shows; otherwise the reason it is hidden.
#[derive(Serialize, ToSchema)]
pub struct OpinionView {
    pub id: String,
    pub parent: Option<String>,
    /// `resident`, or the staff account.
    pub author: String,
    pub body: Option<String>,
    pub has_photo: bool,
    /// visible, awaiting_review or hidden.
    pub visibility: String,
    pub hide_reason: Option<String>,
    #[schema(value_type = String)]
    pub posted_at: Timestamp,
}

impl From<&OpinionRecord> for OpinionView {
    fn from(o: &OpinionRecord) -> Self {
        let shows = o.visibility == Visibility::Visible;
        OpinionView {
            id: o.id.to_string(),
            parent: o.parent_id.map(|p| p.to_string()),
            author: o.author.clone(),
            body: shows.then(|| o.body.clone()),
            has_photo: shows && o.photo_type.is_some(),
            visibility: o.visibility.as_str().to_owned(),
            hide_reason: o.hide_reason.clone(),
            posted_at: o.posted_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TopicDetail {
    pub topic: TopicView,
    pub opinions: Vec<OpinionView>,
    /// The meeting whose agenda it is on.
    pub meeting: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

impl From<civicgrid_store::ConsultationEvent> for EventView {
    fn from(e: civicgrid_store::ConsultationEvent) -> Self {
        EventView {
            at: e.at,
            actor: e.actor,
            action: e.action,
            note: e.note,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TopicHistory {
    pub topic: TopicView,
    pub events: Vec<EventView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportBody {
    /// The household's consultation key (议事码) from its grid worker.
    pub household_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// The meeting's number.
    pub meeting: String,
    /// The agenda item's title (the topic's title if empty).
    #[serde(default)]
    pub title: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpinionBody {
    /// 1 to 1000 characters.
    pub body: String,
    /// The opinion this replies to.
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagBody {
    #[serde(default)]
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationBody {
    /// hide or restore.
    pub action: String,
    /// Why it is hidden (shown in its place).
    #[serde(default)]
    pub reason: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// A community's or street's region code.
    pub region: String,
    /// Supports needed, per mille of registered households (50 = 5 %).
    pub threshold_per_mille: u32,
    /// Working days a qualified topic has to reach an agenda.
    pub agenda_days: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdBody {
    /// The household's id in the register.
    pub household: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedKey {
    /// Shown once: hand it to the household.
    pub key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteeBody {
    /// unit, member or resident.
    pub kind: String,
    /// A unit code or a member number (empty for a resident).
    #[serde(default)]
    pub reference: String,
    /// A member's or resident's name (a unit's is the list's).
    #[serde(default)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgendaItemBody {
    pub title: String,
    /// A topic's number.
    #[serde(default)]
    pub topic: Option<String>,
    /// Cases' public numbers.
    #[serde(default)]
    pub cases: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeetingBody {
    /// resident_council (居民议事会), party_joint (党建联席会), joint_consultation (联席会商) or hearing (听证会).
    pub kind: String,
    /// A grid, community or street.
    pub scope: String,
    pub title: String,
    pub place: String,
    /// RFC 3339.
    pub starts_at: String,
    #[serde(default)]
    pub invitees: Vec<InviteeBody>,
    pub agenda: Vec<AgendaItemBody>,
}

#[derive(Serialize, ToSchema)]
pub struct AgendaItemView {
    pub title: String,
    /// The topic's number.
    pub topic: Option<String>,
    /// The cases' public numbers.
    pub cases: Vec<String>,
}

/// An invitee: units by name with their answers; members and residents by name only to
/// those who run the meeting.
#[derive(Serialize, ToSchema)]
pub struct InviteeView {
    pub kind: String,
    pub reference: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = String)]
    pub answer_due: Timestamp,
    pub answer: Option<String>,
    pub answer_note: Option<String>,
    #[schema(value_type = Option<String>)]
    pub answered_at: Option<Timestamp>,
    pub missed: bool,
    pub attended: bool,
}

impl InviteeView {
    pub fn of(i: &InviteeRecord, names: bool) -> Self {
        let shown = names || i.kind == InviteeKind::Unit;
        InviteeView {
            kind: i.kind.as_str().to_owned(),
            reference: shown.then(|| i.reference.clone()),
            name: shown.then(|| i.name.clone()),
            answer_due: i.answer_due,
            answer: i.answer.map(|a| a.as_str().to_owned()),
            answer_note: if i.kind == InviteeKind::Unit {
                i.answer_note.clone()
            } else {
                None
            },
            answered_at: i.answered_at,
            missed: i.missed,
            attended: i.attended_at.is_some(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    pub seq: u64,
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    #[schema(value_type = String)]
    pub added_at: Timestamp,
}

impl From<&AttachmentMeta> for AttachmentView {
    fn from(a: &AttachmentMeta) -> Self {
        AttachmentView {
            seq: a.seq,
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            sha256: a.sha256.clone(),
            added_at: a.added_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MeetingView {
    pub number: String,
    pub kind: String,
    pub region: String,
    pub grid: Option<String>,
    pub title: String,
    pub place: String,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    pub convener: String,
    /// planned, held or cancelled.
    pub status: String,
    pub agenda: Vec<AgendaItemView>,
    pub minutes: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MeetingDetail {
    pub meeting: MeetingView,
    pub invitees: Vec<InviteeView>,
    pub attachments: Vec<AttachmentView>,
    /// The numbers of the results its decisions made.
    pub results: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// The unit answering.
    pub unit: String,
    /// attend, delegate or decline.
    pub answer: String,
    /// Who attends in its place, or why it cannot.
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    /// unit, member or resident.
    pub kind: String,
    /// The unit code, member number or resident's name as invited.
    pub reference: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesBody {
    pub minutes: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentQuery {
    /// The file's name.
    pub name: String,
}

impl IntoParams for AttachmentQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            utoipa::openapi::path::ParameterBuilder::new()
                .name("name")
                .parameter_in(utoipa::openapi::path::ParameterIn::Query)
                .required(utoipa::openapi::Required::True)
                .description(Some("The file's name"))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                ))
                .build(),
        ]
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkCaseBody {
    pub unit: String,
    pub description: String,
    /// Working days to close it.
    pub due_days: u32,
    /// The grid where the work is (by default the topic's, the meeting's or the region's first).
    #[serde(default)]
    pub grid: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneBody {
    pub title: String,
    /// A unit code or an account.
    pub owner: String,
    /// YYYY-MM-DD.
    pub due: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The agenda item (0-based).
    pub agenda_index: u32,
    pub title: String,
    pub decision: String,
    #[serde(default)]
    pub cases: Vec<WorkCaseBody>,
    #[serde(default)]
    pub milestones: Vec<MilestoneBody>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkView {
    pub seq: u64,
    /// case or milestone.
    pub kind: String,
    /// The case's public number.
    pub case: Option<String>,
    pub title: String,
    pub owner: String,
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct ProgressView {
    pub total: u32,
    pub done: u32,
    pub done_on_time: u32,
    pub overdue: u32,
    /// Computed from the work, never typed in.
    pub percent: u32,
}

#[derive(Serialize, ToSchema)]
pub struct ResultView {
    pub number: String,
    pub region: String,
    pub grid: Option<String>,
    pub title: String,
    pub decision: String,
    /// The meeting's number.
    pub meeting: Option<String>,
    #[schema(value_type = String)]
    pub decided_at: Timestamp,
    pub progress: ProgressView,
    pub work: Vec<WorkView>,
}

impl ResultView {
    pub fn of(rp: &ResultProgress, meeting: Option<String>) -> Self {
        let p = rp.progress;
        ResultView {
            number: rp.result.public_id.clone(),
            region: rp.result.region.to_string(),
            grid: rp.result.grid.as_ref().map(|g| g.to_string()),
            title: rp.result.title.clone(),
            decision: rp.result.decision.clone(),
            meeting,
            decided_at: rp.result.decided_at,
            progress: ProgressView {
                total: p.total,
                done: p.done,
                done_on_time: p.done_on_time,
                overdue: p.overdue,
                percent: p.percent,
            },
            work: rp
                .work
                .iter()
                .map(|(w, item, case)| WorkView {
                    seq: w.seq,
                    kind: w.kind.clone(),
                    case: case.clone(),
                    title: w.title.clone(),
                    owner: w.owner.clone(),
                    due_at: w.due_at,
                    done_at: item.done_at,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPollBody {
    /// A grid's community, a community or a street.
    pub scope: String,
    pub question: String,
    pub options: Vec<String>,
    /// Up to this many options (1: a single choice).
    #[serde(default = "one")]
    pub max_choices: u8,
    /// RFC 3339.
    pub opens_at: String,
    pub closes_at: String,
    /// A topic's number.
    #[serde(default)]
    pub topic: Option<String>,
}

fn one() -> u8 {
    1
}

/// A poll: the count only once it is closed.
#[derive(Serialize, ToSchema)]
pub struct PollBody {
    pub id: String,
    pub region: String,
    pub question: String,
    pub options: Vec<String>,
    pub max_choices: u8,
    #[schema(value_type = String)]
    pub opens_at: Timestamp,
    #[schema(value_type = String)]
    pub closes_at: Timestamp,
    /// not_open, open or closed.
    pub phase: String,
    pub codes_issued: u64,
    pub voted: Option<u64>,
    pub votes: Option<Vec<u64>>,
}

impl From<&PollView> for PollBody {
    fn from(v: &PollView) -> Self {
        use civicgrid_domain::consultation::{Ballot, PollPhase};
        PollBody {
            id: v.poll.id.to_string(),
            region: v.poll.region.to_string(),
            question: v.poll.question.clone(),
            options: v.poll.options.clone(),
            max_choices: match v.poll.ballot {
                Ballot::Single => 1,
                Ballot::Multiple { max } => max,
            },
            opens_at: v.poll.opens_at,
            closes_at: v.poll.closes_at,
            phase: match v.phase {
                PollPhase::NotOpen => "not_open",
                PollPhase::Open => "open",
                PollPhase::Closed => "closed",
            }
            .to_owned(),
            codes_issued: v.codes,
            voted: v.voted,
            votes: v.votes.clone(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// The household's one-time code.
    pub code: String,
    /// Option indexes (0-based).
    pub choices: Vec<usize>,
}

pub fn meeting_view(
    m: &MeetingRecord,
    topics: &std::collections::HashMap<uuid::Uuid, String>,
    cases: &std::collections::HashMap<uuid::Uuid, String>,
) -> MeetingView {
    MeetingView {
        number: m.public_id.clone(),
        kind: m.kind.as_str().to_owned(),
        region: m.region.to_string(),
        grid: m.grid.as_ref().map(|g| g.to_string()),
        title: m.title.clone(),
        place: m.place.clone(),
        starts_at: m.starts_at,
        convener: m.convener.clone(),
        status: m.status.clone(),
        agenda: m
            .agenda
            .iter()
            .map(|a| AgendaItemView {
                title: a.title.clone(),
                topic: a.topic.and_then(|t| topics.get(&t).cloned()),
                cases: a
                    .cases
                    .iter()
                    .filter_map(|c| cases.get(c).cloned())
                    .collect(),
            })
            .collect(),
        minutes: m.minutes.clone(),
    }
}
