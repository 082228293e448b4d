//! Consultation (议事协商): topics and their supports, opinions and their moderation,
//! meetings (invitees, agenda, minutes, attachments) and results with their linked work.
//! Every change of a topic, opinion, meeting or result appends an event to
//! `consultation_events` in the transaction of the change and queues its subject for the
//! assessment.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `consultation_sql!`.

use async_trait::async_trait;
use civicgrid_domain::consultation::{Answer, InviteeKind, MeetingKind, TopicStatus, Visibility};
use civicgrid_domain::territory::{GridCode, RegionCode};
use serde::{Deserialize, Serialize};

use crate::*;

/// The assessment sources consultation is queued under.
pub const TOPIC_SOURCE: &str = "topic";
pub const MEETING_SOURCE: &str = "meeting";
pub const RESULT_SOURCE: &str = "result";
pub const POLL_SOURCE: &str = "poll";

#[derive(Debug, Clone, PartialEq)]
pub struct TopicRecord {
    pub id: uuid::Uuid,
    pub public_id: String,
    /// The digest of the secret a resident who raised it was given (to follow it).
    pub reporter_key: Option<String>,
    /// The grid, community or street it is scoped to.
    pub scope: String,
    /// The region it belongs to (a grid's community for a grid scope).
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    pub title: String,
    pub description: String,
    /// `resident`, or the account that raised it.
    pub raised_by: String,
    /// resident, grid_worker, community or party.
    pub raised_as: String,
    pub raised_at: jiff::Timestamp,
    pub status: TopicStatus,
    pub supports: u64,
    pub threshold: u64,
    pub qualified_at: Option<jiff::Timestamp>,
    /// The deadline to reach an agenda, on the working calendar, once qualified.
    pub agenda_due: Option<jiff::Timestamp>,
    /// The highest warning raised on the agenda deadline: yellow or red.
    pub alarm: Option<String>,
    pub scheduled_at: Option<jiff::Timestamp>,
    pub meeting_id: Option<uuid::Uuid>,
    pub decided_at: Option<jiff::Timestamp>,
    pub withdraw_reason: Option<String>,
    pub version: u64,
}

/// One change of a topic, opinion, meeting or result.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationEvent {
    /// Assigned by the store (the next of the subject's events).
    pub seq: u64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpinionRecord {
    pub id: uuid::Uuid,
    pub topic_id: uuid::Uuid,
    pub parent_id: Option<uuid::Uuid>,
    /// `resident`, or the account that wrote it.
    pub author: String,
    pub body: String,
    pub photo_type: Option<String>,
    pub visibility: Visibility,
    /// Flags since the last review.
    pub flags: u32,
    pub hide_reason: Option<String>,
    pub posted_at: jiff::Timestamp,
    pub version: u64,
}

/// An agenda item: a topic, cases, or a matter named by its title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgendaItem {
    pub title: String,
    #[serde(default)]
    pub topic: Option<uuid::Uuid>,
    #[serde(default)]
    pub cases: Vec<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRecord {
    pub id: uuid::Uuid,
    pub public_id: String,
    pub kind: MeetingKind,
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    pub title: String,
    pub place: String,
    pub starts_at: jiff::Timestamp,
    pub convener: String,
    pub agenda: Vec<AgendaItem>,
    /// planned, held or cancelled.
    pub status: String,
    pub minutes: Option<String>,
    pub minutes_by: Option<String>,
    pub minutes_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InviteeRecord {
    pub kind: InviteeKind,
    /// A unit code, a member number, or a resident's name.
    pub reference: String,
    pub name: String,
    pub answer_due: jiff::Timestamp,
    pub answer: Option<Answer>,
    pub answer_note: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<jiff::Timestamp>,
    /// The deadline passed without an answer (recorded by the deadline job).
    pub missed: bool,
    pub attended_at: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentMeta {
    pub seq: u64,
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub added_by: String,
    pub added_at: jiff::Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub id: uuid::Uuid,
    pub public_id: String,
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    pub title: String,
    /// The decision's text (决议).
    pub decision: String,
    pub meeting_id: Option<uuid::Uuid>,
    pub agenda_index: Option<u32>,
    pub topic_id: Option<uuid::Uuid>,
    pub decided_by: String,
    pub decided_at: jiff::Timestamp,
}

/// One piece of a result's work.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkRecord {
    pub seq: u64,
    /// `case` or `milestone`.
    pub kind: String,
    pub case_id: Option<uuid::Uuid>,
    pub title: String,
    /// The unit a case went to, or a milestone's owner (a unit or an account).
    pub owner: String,
    pub due_at: Option<jiff::Timestamp>,
    /// A milestone's completion (a case's comes from the case's events).
    pub done_at: Option<jiff::Timestamp>,
    pub done_by: Option<String>,
}

#[async_trait]
pub trait ConsultationStore: Send + Sync {
    /// A scope's (threshold ‰, agenda working days), if set.
    async fn consultation_rule(
        &self,
        region: &RegionCode,
    ) -> Result<Option<(u32, u32)>, StoreError>;
    async fn set_consultation_rule(
        &self,
        region: &RegionCode,
        threshold_per_mille: u32,
        agenda_days: u32,
        by: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Gives a household a new consultation key (the old one stops working).
    async fn set_household_key(
        &self,
        household: &uuid::Uuid,
        key_digest: &str,
        by: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    async fn household_by_key(&self, key_digest: &str) -> Result<Option<uuid::Uuid>, StoreError>;

    async fn create_topic(
        &self,
        topic: &TopicRecord,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    /// Writes a changed topic (version one more than `expected_version`) with its event;
    /// `Stale` if someone changed it first.
    async fn update_topic(
        &self,
        topic: &TopicRecord,
        expected_version: u64,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    /// A household's support with the topic it changes, in one transaction: `Conflict` if
    /// this supporter supported it already.
    async fn support_topic(
        &self,
        topic: &TopicRecord,
        expected_version: u64,
        supporter: &str,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    async fn topic(&self, id: &uuid::Uuid) -> Result<Option<TopicRecord>, StoreError>;
    async fn topic_by_public_id(&self, public_id: &str) -> Result<Option<TopicRecord>, StoreError>;
    /// Topics of regions in `within` (a region code prefix), newest first.
    async fn topics(
        &self,
        within: &RegionCode,
        statuses: &[TopicStatus],
        limit: u32,
    ) -> Result<Vec<TopicRecord>, StoreError>;
    /// Qualified topics with an agenda deadline (the deadline sweep), soonest first.
    async fn topics_awaiting_agenda(&self, limit: u32) -> Result<Vec<TopicRecord>, StoreError>;
    async fn consultation_events(
        &self,
        subject: &uuid::Uuid,
    ) -> Result<Vec<ConsultationEvent>, StoreError>;

    async fn create_opinion(
        &self,
        opinion: &OpinionRecord,
        photo: Option<(&str, &[u8])>,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    async fn opinion(&self, id: &uuid::Uuid) -> Result<Option<OpinionRecord>, StoreError>;
    /// A topic's opinions, oldest first.
    async fn opinions_of(&self, topic: &uuid::Uuid) -> Result<Vec<OpinionRecord>, StoreError>;
    async fn opinion_photo(&self, id: &uuid::Uuid)
    -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// A flag with the opinion it changes: `Conflict` if this flagger flagged it already.
    async fn flag_opinion(
        &self,
        opinion: &OpinionRecord,
        expected_version: u64,
        flagger: &str,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    async fn update_opinion(
        &self,
        opinion: &OpinionRecord,
        expected_version: u64,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;

    /// A new meeting with its invitees, and the topics its agenda schedules (each at its
    /// expected version), in one transaction.
    async fn create_meeting(
        &self,
        meeting: &MeetingRecord,
        invitees: &[InviteeRecord],
        topics: &[(TopicRecord, u64)],
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    /// A changed meeting and the topics the change schedules or unschedules.
    async fn update_meeting(
        &self,
        meeting: &MeetingRecord,
        expected_version: u64,
        topics: &[(TopicRecord, u64)],
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    async fn meeting(&self, id: &uuid::Uuid) -> Result<Option<MeetingRecord>, StoreError>;
    async fn meeting_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<MeetingRecord>, StoreError>;
    /// Meetings of regions in `within`, latest first.
    async fn meetings(
        &self,
        within: &RegionCode,
        limit: u32,
    ) -> Result<Vec<MeetingRecord>, StoreError>;
    async fn invitees(&self, meeting: &uuid::Uuid) -> Result<Vec<InviteeRecord>, StoreError>;
    /// Writes an invitee's answer, attendance or missed deadline with the meeting's event;
    /// `Stale` if the row changed since `before` was read.
    async fn update_invitee(
        &self,
        meeting: &MeetingRecord,
        before: &InviteeRecord,
        after: &InviteeRecord,
        event: &ConsultationEvent,
    ) -> Result<(), StoreError>;
    /// Units' summonses past their deadline without an answer nor a recorded miss.
    async fn unanswered_summons(
        &self,
        before: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<(uuid::Uuid, InviteeRecord)>, StoreError>;
    #[allow(clippy::too_many_arguments)]
    async fn add_attachment(
        &self,
        meeting: &MeetingRecord,
        name: &str,
        content_type: &str,
        data: &[u8],
        sha256: &str,
        event: &ConsultationEvent,
    ) -> Result<u64, StoreError>;
    async fn attachments(&self, meeting: &uuid::Uuid) -> Result<Vec<AttachmentMeta>, StoreError>;
    async fn attachment(
        &self,
        meeting: &uuid::Uuid,
        seq: u64,
    ) -> Result<Option<(AttachmentMeta, Vec<u8>)>, StoreError>;

    /// Results with their work, all or none (a CSV import writes several at once).
    /// With the topics the decisions decide, each at its expected version.
    async fn create_results(
        &self,
        results: &[(ResultRecord, Vec<WorkRecord>)],
        topics: &[(TopicRecord, u64)],
        actor: &str,
    ) -> Result<(), StoreError>;
    async fn result(&self, id: &uuid::Uuid) -> Result<Option<ResultRecord>, StoreError>;
    async fn result_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<ResultRecord>, StoreError>;
    /// Results of regions in `within`, latest first, with their work.
    async fn results(
        &self,
        within: &RegionCode,
        limit: u32,
    ) -> Result<Vec<(ResultRecord, Vec<WorkRecord>)>, StoreError>;
    async fn results_of_meeting(
        &self,
        meeting: &uuid::Uuid,
    ) -> Result<Vec<ResultRecord>, StoreError>;
    async fn result_work(&self, result: &uuid::Uuid) -> Result<Vec<WorkRecord>, StoreError>;
    /// Marks a milestone done: false if it was done already.
    async fn complete_milestone(
        &self,
        result: &ResultRecord,
        seq: u64,
        event: &ConsultationEvent,
    ) -> Result<bool, StoreError>;
    /// Queues every result with work that may still change for the assessment (the daily
    /// sweep: a linked case closing or a deadline passing changes its figures).
    async fn mark_open_results(&self) -> Result<u64, StoreError>;
}

pub(crate) const TOPIC_COLUMNS: &str = "id, public_id, reporter_key, scope_code, region_code, grid_code, title, description, raised_by, raised_as, raised_at, status, supports, threshold, qualified_at, agenda_due, alarm, scheduled_at, meeting_id, decided_at, withdraw_reason, version";

pub(crate) type TopicRow = (
    (
        String,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        String,
    ),
    (
        String,
        String,
        i64,
        String,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
    ),
    (
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<String>,
        i64,
    ),
);

fn opt_time(v: Option<i64>) -> Result<Option<jiff::Timestamp>, StoreError> {
    v.map(crate::model::from_micros).transpose()
}

fn opt_id(what: &str, v: Option<String>) -> Result<Option<uuid::Uuid>, StoreError> {
    v.map(|s| crate::sql::parse(what, &s)).transpose()
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn topic_from_row(r: TopicRow) -> Result<TopicRecord, StoreError> {
    let (
        (id, public_id, reporter_key, scope, region, grid, title, description),
        (raised_by, raised_as, raised_at, status, supports, threshold, qualified_at, agenda_due),
        (alarm, scheduled_at, meeting_id, decided_at, withdraw_reason, version),
    ) = r;
    Ok(TopicRecord {
        id: crate::sql::parse("topic id", &id)?,
        public_id,
        reporter_key,
        scope,
        region: crate::sql::parse("topic region", &region)?,
        grid: grid
            .map(|g| crate::sql::parse("topic grid", &g))
            .transpose()?,
        title,
        description,
        raised_by,
        raised_as,
        raised_at: crate::model::from_micros(raised_at)?,
        status: crate::sql::parse("topic status", &status)?,
        supports: count(supports),
        threshold: count(threshold),
        qualified_at: opt_time(qualified_at)?,
        agenda_due: opt_time(agenda_due)?,
        alarm,
        scheduled_at: opt_time(scheduled_at)?,
        meeting_id: opt_id("topic meeting", meeting_id)?,
        decided_at: opt_time(decided_at)?,
        withdraw_reason,
        version: count(version),
    })
}

pub(crate) const OPINION_COLUMNS: &str = "id, topic_id, parent_id, author, body, photo_type, visibility, flags, hide_reason, posted_at, version";

#[allow(clippy::type_complexity)]
pub(crate) type OpinionRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<String>,
    i64,
    i64,
);

pub(crate) fn opinion_from_row(r: OpinionRow) -> Result<OpinionRecord, StoreError> {
    let (id, topic, parent, author, body, photo_type, visibility, flags, hide_reason, at, v) = r;
    Ok(OpinionRecord {
        id: crate::sql::parse("opinion id", &id)?,
        topic_id: crate::sql::parse("opinion topic", &topic)?,
        parent_id: opt_id("opinion parent", parent)?,
        author,
        body,
        photo_type,
        visibility: crate::sql::parse("opinion visibility", &visibility)?,
        flags: u32::try_from(flags).unwrap_or(0),
        hide_reason,
        posted_at: crate::model::from_micros(at)?,
        version: count(v),
    })
}

pub(crate) const MEETING_COLUMNS: &str = "id, public_id, kind, region_code, grid_code, title, place, starts_at, convener, agenda, status, minutes, minutes_by, minutes_at, created_at, version";

#[allow(clippy::type_complexity)]
pub(crate) type MeetingRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

pub(crate) fn meeting_from_row(r: MeetingRow) -> Result<MeetingRecord, StoreError> {
    let (
        id,
        public_id,
        kind,
        region,
        grid,
        title,
        place,
        starts_at,
        convener,
        agenda,
        status,
        minutes,
        minutes_by,
        minutes_at,
        created_at,
        version,
    ) = r;
    Ok(MeetingRecord {
        id: crate::sql::parse("meeting id", &id)?,
        public_id,
        kind: crate::sql::parse("meeting kind", &kind)?,
        region: crate::sql::parse("meeting region", &region)?,
        grid: grid
            .map(|g| crate::sql::parse("meeting grid", &g))
            .transpose()?,
        title,
        place,
        starts_at: crate::model::from_micros(starts_at)?,
        convener,
        agenda: crate::sql::from_json("meeting agenda", &agenda)?,
        status,
        minutes,
        minutes_by,
        minutes_at: opt_time(minutes_at)?,
        created_at: crate::model::from_micros(created_at)?,
        version: count(version),
    })
}

pub(crate) const INVITEE_COLUMNS: &str = "kind, ref, name, answer_due, answer, answer_note, answered_by, answered_at, missed, attended_at";

#[allow(clippy::type_complexity)]
pub(crate) type InviteeRow = (
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    bool,
    Option<i64>,
);

pub(crate) fn invitee_from_row(r: InviteeRow) -> Result<InviteeRecord, StoreError> {
    let (kind, reference, name, due, answer, note, by, at, missed, attended) = r;
    Ok(InviteeRecord {
        kind: crate::sql::parse("invitee kind", &kind)?,
        reference,
        name,
        answer_due: crate::model::from_micros(due)?,
        answer: answer
            .map(|a| crate::sql::parse("invitee answer", &a))
            .transpose()?,
        answer_note: note,
        answered_by: by,
        answered_at: opt_time(at)?,
        missed,
        attended_at: opt_time(attended)?,
    })
}

pub(crate) const RESULT_COLUMNS: &str = "id, public_id, region_code, grid_code, title, decision, meeting_id, agenda_index, topic_id, decided_by, decided_at";

#[allow(clippy::type_complexity)]
pub(crate) type ResultRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
    i64,
);

pub(crate) fn result_from_row(r: ResultRow) -> Result<ResultRecord, StoreError> {
    let (id, public_id, region, grid, title, decision, meeting, index, topic, by, at) = r;
    Ok(ResultRecord {
        id: crate::sql::parse("result id", &id)?,
        public_id,
        region: crate::sql::parse("result region", &region)?,
        grid: grid
            .map(|g| crate::sql::parse("result grid", &g))
            .transpose()?,
        title,
        decision,
        meeting_id: opt_id("result meeting", meeting)?,
        agenda_index: index.map(|i| u32::try_from(i).unwrap_or(0)),
        topic_id: opt_id("result topic", topic)?,
        decided_by: by,
        decided_at: crate::model::from_micros(at)?,
    })
}

pub(crate) const WORK_COLUMNS: &str =
    "result_id, seq, kind, case_id, title, owner, due_at, done_at, done_by";

#[allow(clippy::type_complexity)]
pub(crate) type WorkRow = (
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

pub(crate) fn work_from_row(r: WorkRow) -> Result<(uuid::Uuid, WorkRecord), StoreError> {
    let (result, seq, kind, case_id, title, owner, due, done, by) = r;
    Ok((
        crate::sql::parse("work result", &result)?,
        WorkRecord {
            seq: count(seq),
            kind,
            case_id: opt_id("work case", case_id)?,
            title,
            owner,
            due_at: opt_time(due)?,
            done_at: opt_time(done)?,
            done_by: by,
        },
    ))
}

/// The statuses as one delimited text, so that one statement serves any set.
pub(crate) fn status_set(statuses: &[TopicStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!(",{}", s.as_str()))
        .collect::<String>()
        + ","
}

/// Appends an event with the subject's next number (the subject's row is written in the same
/// transaction, so numbers do not race), and queues the subject for the assessment.
pub(crate) const APPEND_EVENT: &str = "INSERT INTO consultation_events (subject_id, seq, at, actor, action, note)
     SELECT $1, COALESCE(MAX(seq) + 1, 0), $2, $3, $4, $5 FROM consultation_events WHERE subject_id = $1";

macro_rules! consultation_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            async fn append_consultation_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                source: &str,
                subject: &uuid::Uuid,
                region: &civicgrid_domain::territory::RegionCode,
                e: &$crate::ConsultationEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::consultation::APPEND_EVENT)
                    .bind(subject.to_string())
                    .bind($crate::model::micros(e.at))
                    .bind(&e.actor)
                    .bind(&e.action)
                    .bind(&e.note)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query($crate::sql::MARK_KPI)
                    .bind(source)
                    .bind(subject.to_string())
                    .bind(region.as_str())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn write_topic(
                tx: &mut sqlx::Transaction<'_, $db>,
                t: &$crate::TopicRecord,
                expected_version: u64,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE topics SET status = $2, supports = $3, threshold = $4, qualified_at = $5, agenda_due = $6,
                       alarm = $7, scheduled_at = $8, meeting_id = $9, decided_at = $10, withdraw_reason = $11,
                       version = $12, title = $13, description = $14
                     WHERE id = $1 AND version = $15",
                )
                .bind(t.id.to_string())
                .bind(t.status.as_str())
                .bind(i64::try_from(t.supports).unwrap_or(i64::MAX))
                .bind(i64::try_from(t.threshold).unwrap_or(i64::MAX))
                .bind(t.qualified_at.map($crate::model::micros))
                .bind(t.agenda_due.map($crate::model::micros))
                .bind(&t.alarm)
                .bind(t.scheduled_at.map($crate::model::micros))
                .bind(t.meeting_id.map(|m| m.to_string()))
                .bind(t.decided_at.map($crate::model::micros))
                .bind(&t.withdraw_reason)
                .bind(i64::try_from(expected_version + 1).unwrap_or(i64::MAX))
                .bind(&t.title)
                .bind(&t.description)
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM topics WHERE id = $1")
                        .bind(t.id.to_string())
                        .fetch_optional(&mut **tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("topic {}", t.id)),
                    });
                }
                Ok(())
            }

            async fn write_opinion(
                tx: &mut sqlx::Transaction<'_, $db>,
                o: &$crate::OpinionRecord,
                expected_version: u64,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE opinions SET visibility = $2, flags = $3, hide_reason = $4, version = $5
                     WHERE id = $1 AND version = $6",
                )
                .bind(o.id.to_string())
                .bind(o.visibility.as_str())
                .bind(i64::from(o.flags))
                .bind(&o.hide_reason)
                .bind(i64::try_from(expected_version + 1).unwrap_or(i64::MAX))
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Stale { current: expected_version + 1 });
                }
                Ok(())
            }

            async fn write_topics(
                tx: &mut sqlx::Transaction<'_, $db>,
                topics: &[($crate::TopicRecord, u64)],
                actor: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                for (t, expected) in topics {
                    Self::write_topic(tx, t, *expected).await?;
                    let e = $crate::ConsultationEvent {
                        seq: 0,
                        at,
                        actor: actor.to_owned(),
                        action: t.status.as_str().to_owned(),
                        note: t.meeting_id.map(|m| m.to_string()).unwrap_or_default(),
                    };
                    Self::append_consultation_event(tx, $crate::consultation::TOPIC_SOURCE, &t.id, &t.region, &e).await?;
                }
                Ok(())
            }

            fn topic_of(row: &<$db as sqlx::Database>::Row) -> Result<$crate::TopicRecord, $crate::StoreError> {
                use sqlx::Row;
                // 22 columns: more than a tuple decodes at once.
                $crate::consultation::topic_from_row((
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?, row.try_get(5)?, row.try_get(6)?, row.try_get(7)?),
                    (row.try_get(8)?, row.try_get(9)?, row.try_get(10)?, row.try_get(11)?, row.try_get(12)?, row.try_get(13)?, row.try_get(14)?, row.try_get(15)?),
                    (row.try_get(16)?, row.try_get(17)?, row.try_get(18)?, row.try_get(19)?, row.try_get(20)?, row.try_get(21)?),
                ))
            }

            /// Writes the meeting's row (unchanged) first, so that concurrent changes of one
            /// meeting take turns: its events and attachments are numbered one at a time
            /// (PostgreSQL waits on the row; SQLite's transaction becomes the writer at once).
            async fn lock_meeting(
                tx: &mut sqlx::Transaction<'_, $db>,
                meeting: &uuid::Uuid,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("UPDATE meetings SET version = version WHERE id = $1")
                    .bind(meeting.to_string())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn topic_region(
                tx: &mut sqlx::Transaction<'_, $db>,
                topic: &uuid::Uuid,
            ) -> Result<civicgrid_domain::territory::RegionCode, $crate::StoreError> {
                let (region,): (String,) = sqlx::query_as("SELECT region_code FROM topics WHERE id = $1")
                    .bind(topic.to_string())
                    .fetch_one(&mut **tx)
                    .await?;
                $crate::sql::parse("topic region", &region)
            }
        }

        #[async_trait::async_trait]
        impl $crate::ConsultationStore for $repo {
            async fn consultation_rule(&self, region: &civicgrid_domain::territory::RegionCode) -> Result<Option<(u32, u32)>, $crate::StoreError> {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT threshold_per_mille, agenda_days FROM consultation_rules WHERE region_code = $1",
                )
                .bind(region.as_str())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(t, d)| (u32::try_from(t).unwrap_or(0), u32::try_from(d).unwrap_or(0))))
            }
            async fn set_consultation_rule(
                &self,
                region: &civicgrid_domain::territory::RegionCode,
                threshold_per_mille: u32,
                agenda_days: u32,
                by: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO consultation_rules (region_code, threshold_per_mille, agenda_days, updated_by, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (region_code) DO UPDATE SET threshold_per_mille = $2, agenda_days = $3, updated_by = $4, updated_at = $5",
                )
                .bind(region.as_str())
                .bind(i64::from(threshold_per_mille))
                .bind(i64::from(agenda_days))
                .bind(by)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn set_household_key(&self, household: &uuid::Uuid, key_digest: &str, by: &str, at: jiff::Timestamp) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO household_keys (household_id, key_digest, issued_by, issued_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (household_id) DO UPDATE SET key_digest = $2, issued_by = $3, issued_at = $4",
                )
                .bind(household.to_string())
                .bind(key_digest)
                .bind(by)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn household_by_key(&self, key_digest: &str) -> Result<Option<uuid::Uuid>, $crate::StoreError> {
                let row: Option<(String,)> = sqlx::query_as("SELECT household_id FROM household_keys WHERE key_digest = $1")
                    .bind(key_digest)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(h,)| $crate::sql::parse("household id", &h)).transpose()
            }

            async fn create_topic(&self, t: &$crate::TopicRecord, e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO topics ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
                    $crate::consultation::TOPIC_COLUMNS
                ))
                .bind(t.id.to_string())
                .bind(&t.public_id)
                .bind(&t.reporter_key)
                .bind(&t.scope)
                .bind(t.region.as_str())
                .bind(t.grid.as_ref().map(|g| g.as_str()))
                .bind(&t.title)
                .bind(&t.description)
                .bind(&t.raised_by)
                .bind(&t.raised_as)
                .bind($crate::model::micros(t.raised_at))
                .bind(t.status.as_str())
                .bind(i64::try_from(t.supports).unwrap_or(i64::MAX))
                .bind(i64::try_from(t.threshold).unwrap_or(i64::MAX))
                .bind(t.qualified_at.map($crate::model::micros))
                .bind(t.agenda_due.map($crate::model::micros))
                .bind(&t.alarm)
                .bind(t.scheduled_at.map($crate::model::micros))
                .bind(t.meeting_id.map(|m| m.to_string()))
                .bind(t.decided_at.map($crate::model::micros))
                .bind(&t.withdraw_reason)
                .bind(i64::try_from(t.version).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::TOPIC_SOURCE, &t.id, &t.region, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn update_topic(&self, t: &$crate::TopicRecord, expected_version: u64, e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::write_topic(&mut tx, t, expected_version).await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::TOPIC_SOURCE, &t.id, &t.region, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn support_topic(&self, t: &$crate::TopicRecord, expected_version: u64, supporter: &str, e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query("INSERT INTO topic_supports (topic_id, supporter, at) VALUES ($1, $2, $3)")
                    .bind(t.id.to_string())
                    .bind(supporter)
                    .bind($crate::model::micros(e.at))
                    .execute(&mut *tx)
                    .await?;
                Self::write_topic(&mut tx, t, expected_version).await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::TOPIC_SOURCE, &t.id, &t.region, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn topic(&self, id: &uuid::Uuid) -> Result<Option<$crate::TopicRecord>, $crate::StoreError> {
                self.topic_where("id", &id.to_string()).await
            }
            async fn topic_by_public_id(&self, public_id: &str) -> Result<Option<$crate::TopicRecord>, $crate::StoreError> {
                self.topic_where("public_id", public_id).await
            }
            async fn topics(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
                statuses: &[civicgrid_domain::consultation::TopicStatus],
                limit: u32,
            ) -> Result<Vec<$crate::TopicRecord>, $crate::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM topics WHERE region_code LIKE $1
                       AND ($2 = ',' OR $2 LIKE '%,' || status || ',%')
                     ORDER BY raised_at DESC, id DESC LIMIT $3",
                    $crate::consultation::TOPIC_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind($crate::consultation::status_set(statuses))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::topic_of).collect()
            }
            async fn topics_awaiting_agenda(&self, limit: u32) -> Result<Vec<$crate::TopicRecord>, $crate::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM topics WHERE status = 'qualified' AND agenda_due IS NOT NULL AND (alarm IS NULL OR alarm <> 'red')
                     ORDER BY agenda_due LIMIT $1",
                    $crate::consultation::TOPIC_COLUMNS
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::topic_of).collect()
            }
            async fn consultation_events(&self, subject: &uuid::Uuid) -> Result<Vec<$crate::ConsultationEvent>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
                    "SELECT seq, at, actor, action, note FROM consultation_events WHERE subject_id = $1 ORDER BY seq",
                )
                .bind(subject.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, at, actor, action, note)| {
                        Ok($crate::ConsultationEvent {
                            seq: u64::try_from(seq).unwrap_or(0),
                            at: $crate::model::from_micros(at)?,
                            actor,
                            action,
                            note,
                        })
                    })
                    .collect()
            }

            async fn create_opinion(&self, o: &$crate::OpinionRecord, photo: Option<(&str, &[u8])>, e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO opinions (id, topic_id, parent_id, author, body, photo_type, photo, visibility, flags, hide_reason, posted_at, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(o.id.to_string())
                .bind(o.topic_id.to_string())
                .bind(o.parent_id.map(|p| p.to_string()))
                .bind(&o.author)
                .bind(&o.body)
                .bind(photo.map(|(t, _)| t.to_owned()))
                .bind(photo.map(|(_, d)| d.to_vec()))
                .bind(o.visibility.as_str())
                .bind(i64::from(o.flags))
                .bind(&o.hide_reason)
                .bind($crate::model::micros(o.posted_at))
                .bind(i64::try_from(o.version).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                // Written first, read after: the transaction is the writer from its start.
                let region = Self::topic_region(&mut tx, &o.topic_id).await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::TOPIC_SOURCE, &o.id, &region, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn opinion(&self, id: &uuid::Uuid) -> Result<Option<$crate::OpinionRecord>, $crate::StoreError> {
                let row: Option<$crate::consultation::OpinionRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM opinions WHERE id = $1",
                    $crate::consultation::OPINION_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::consultation::opinion_from_row).transpose()
            }
            async fn opinions_of(&self, topic: &uuid::Uuid) -> Result<Vec<$crate::OpinionRecord>, $crate::StoreError> {
                let rows: Vec<$crate::consultation::OpinionRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM opinions WHERE topic_id = $1 ORDER BY posted_at, id",
                    $crate::consultation::OPINION_COLUMNS
                ))
                .bind(topic.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::consultation::opinion_from_row).collect()
            }
            async fn opinion_photo(&self, id: &uuid::Uuid) -> Result<Option<(String, Vec<u8>)>, $crate::StoreError> {
                let row: Option<(Option<String>, Option<Vec<u8>>)> = sqlx::query_as("SELECT photo_type, photo FROM opinions WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some((Some(t), Some(d))) => Some((t, d)),
                    _ => None,
                })
            }
            async fn flag_opinion(&self, o: &$crate::OpinionRecord, expected_version: u64, flagger: &str, e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query("INSERT INTO opinion_flags (opinion_id, flagger, at) VALUES ($1, $2, $3)")
                    .bind(o.id.to_string())
                    .bind(flagger)
                    .bind($crate::model::micros(e.at))
                    .execute(&mut *tx)
                    .await?;
                Self::write_opinion(&mut tx, o, expected_version).await?;
                let region = Self::topic_region(&mut tx, &o.topic_id).await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::TOPIC_SOURCE, &o.id, &region, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn update_opinion(&self, o: &$crate::OpinionRecord, expected_version: u64, e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::write_opinion(&mut tx, o, expected_version).await?;
                let region = Self::topic_region(&mut tx, &o.topic_id).await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::TOPIC_SOURCE, &o.id, &region, e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_meeting(&self, m: &$crate::MeetingRecord, invitees: &[$crate::InviteeRecord], topics: &[($crate::TopicRecord, u64)], e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO meetings ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    $crate::consultation::MEETING_COLUMNS
                ))
                .bind(m.id.to_string())
                .bind(&m.public_id)
                .bind(m.kind.as_str())
                .bind(m.region.as_str())
                .bind(m.grid.as_ref().map(|g| g.as_str()))
                .bind(&m.title)
                .bind(&m.place)
                .bind($crate::model::micros(m.starts_at))
                .bind(&m.convener)
                .bind($crate::sql::to_json(&m.agenda)?)
                .bind(&m.status)
                .bind(&m.minutes)
                .bind(&m.minutes_by)
                .bind(m.minutes_at.map($crate::model::micros))
                .bind($crate::model::micros(m.created_at))
                .bind(i64::try_from(m.version).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                for i in invitees {
                    sqlx::query(&format!(
                        "INSERT INTO meeting_invitees (meeting_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        $crate::consultation::INVITEE_COLUMNS
                    ))
                    .bind(m.id.to_string())
                    .bind(i.kind.as_str())
                    .bind(&i.reference)
                    .bind(&i.name)
                    .bind($crate::model::micros(i.answer_due))
                    .bind(i.answer.map(|a| a.as_str()))
                    .bind(&i.answer_note)
                    .bind(&i.answered_by)
                    .bind(i.answered_at.map($crate::model::micros))
                    .bind(i.missed)
                    .bind(i.attended_at.map($crate::model::micros))
                    .execute(&mut *tx)
                    .await?;
                }
                Self::append_consultation_event(&mut tx, $crate::consultation::MEETING_SOURCE, &m.id, &m.region, e).await?;
                Self::write_topics(&mut tx, topics, &e.actor, e.at).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn update_meeting(&self, m: &$crate::MeetingRecord, expected_version: u64, topics: &[($crate::TopicRecord, u64)], e: &$crate::ConsultationEvent) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE meetings SET title = $2, place = $3, starts_at = $4, agenda = $5, status = $6, minutes = $7,
                       minutes_by = $8, minutes_at = $9, version = $10
                     WHERE id = $1 AND version = $11",
                )
                .bind(m.id.to_string())
                .bind(&m.title)
                .bind(&m.place)
                .bind($crate::model::micros(m.starts_at))
                .bind($crate::sql::to_json(&m.agenda)?)
                .bind(&m.status)
                .bind(&m.minutes)
                .bind(&m.minutes_by)
                .bind(m.minutes_at.map($crate::model::micros))
                .bind(i64::try_from(expected_version + 1).unwrap_or(i64::MAX))
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Stale { current: expected_version + 1 });
                }
                Self::append_consultation_event(&mut tx, $crate::consultation::MEETING_SOURCE, &m.id, &m.region, e).await?;
                Self::write_topics(&mut tx, topics, &e.actor, e.at).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn meeting(&self, id: &uuid::Uuid) -> Result<Option<$crate::MeetingRecord>, $crate::StoreError> {
                self.meeting_where("id", &id.to_string()).await
            }
            async fn meeting_by_public_id(&self, public_id: &str) -> Result<Option<$crate::MeetingRecord>, $crate::StoreError> {
                self.meeting_where("public_id", public_id).await
            }
            async fn meetings(&self, within: &civicgrid_domain::territory::RegionCode, limit: u32) -> Result<Vec<$crate::MeetingRecord>, $crate::StoreError> {
                let rows: Vec<$crate::consultation::MeetingRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM meetings WHERE region_code LIKE $1 ORDER BY starts_at DESC, id DESC LIMIT $2",
                    $crate::consultation::MEETING_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::consultation::meeting_from_row).collect()
            }
            async fn invitees(&self, meeting: &uuid::Uuid) -> Result<Vec<$crate::InviteeRecord>, $crate::StoreError> {
                let rows: Vec<$crate::consultation::InviteeRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM meeting_invitees WHERE meeting_id = $1 ORDER BY kind, ref",
                    $crate::consultation::INVITEE_COLUMNS
                ))
                .bind(meeting.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::consultation::invitee_from_row).collect()
            }
            async fn update_invitee(
                &self,
                m: &$crate::MeetingRecord,
                before: &$crate::InviteeRecord,
                i: &$crate::InviteeRecord,
                e: &$crate::ConsultationEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::lock_meeting(&mut tx, &m.id).await?;
                // The row as it was read decides: of two answers sent at once, one is written.
                let done = sqlx::query(
                    "UPDATE meeting_invitees SET answer = $4, answer_note = $5, answered_by = $6, answered_at = $7,
                       missed = $8, attended_at = $9
                     WHERE meeting_id = $1 AND kind = $2 AND ref = $3
                       AND COALESCE(answered_at, -1) = $10 AND missed = $11 AND COALESCE(attended_at, -1) = $12",
                )
                .bind(m.id.to_string())
                .bind(i.kind.as_str())
                .bind(&i.reference)
                .bind(i.answer.map(|a| a.as_str()))
                .bind(&i.answer_note)
                .bind(&i.answered_by)
                .bind(i.answered_at.map($crate::model::micros))
                .bind(i.missed)
                .bind(i.attended_at.map($crate::model::micros))
                .bind(before.answered_at.map($crate::model::micros).unwrap_or(-1))
                .bind(before.missed)
                .bind(before.attended_at.map($crate::model::micros).unwrap_or(-1))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Stale { current: m.version });
                }
                Self::append_consultation_event(&mut tx, $crate::consultation::MEETING_SOURCE, &m.id, &m.region, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn unanswered_summons(&self, before: jiff::Timestamp, limit: u32) -> Result<Vec<(uuid::Uuid, $crate::InviteeRecord)>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String, i64, Option<String>, Option<String>, Option<String>, Option<i64>, bool, Option<i64>)> = sqlx::query_as(&format!(
                    "SELECT meeting_id, {} FROM meeting_invitees
                     WHERE kind = 'unit' AND answered_at IS NULL AND missed = $1 AND answer_due < $2
                     ORDER BY answer_due LIMIT $3",
                    $crate::consultation::INVITEE_COLUMNS
                ))
                .bind(false)
                .bind($crate::model::micros(before))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(m, a, b, c, d, e, f, g, h, i, j)| {
                        Ok(($crate::sql::parse("meeting id", &m)?, $crate::consultation::invitee_from_row((a, b, c, d, e, f, g, h, i, j))?))
                    })
                    .collect()
            }
            async fn add_attachment(
                &self,
                m: &$crate::MeetingRecord,
                name: &str,
                content_type: &str,
                data: &[u8],
                sha256: &str,
                e: &$crate::ConsultationEvent,
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::lock_meeting(&mut tx, &m.id).await?;
                let (next,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq) + 1, 0) FROM meeting_attachments WHERE meeting_id = $1")
                    .bind(m.id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO meeting_attachments (meeting_id, seq, name, content_type, data, sha256, added_by, added_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(m.id.to_string())
                .bind(next)
                .bind(name)
                .bind(content_type)
                .bind(data)
                .bind(sha256)
                .bind(&e.actor)
                .bind($crate::model::micros(e.at))
                .execute(&mut *tx)
                .await?;
                Self::append_consultation_event(&mut tx, $crate::consultation::MEETING_SOURCE, &m.id, &m.region, e).await?;
                tx.commit().await?;
                Ok(u64::try_from(next).unwrap_or(0))
            }
            async fn attachments(&self, meeting: &uuid::Uuid) -> Result<Vec<$crate::AttachmentMeta>, $crate::StoreError> {
                let rows: Vec<(i64, String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT seq, name, content_type, sha256, added_by, added_at FROM meeting_attachments WHERE meeting_id = $1 ORDER BY seq",
                )
                .bind(meeting.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, name, content_type, sha256, added_by, at)| {
                        Ok($crate::AttachmentMeta { seq: u64::try_from(seq).unwrap_or(0), name, content_type, sha256, added_by, added_at: $crate::model::from_micros(at)? })
                    })
                    .collect()
            }
            async fn attachment(&self, meeting: &uuid::Uuid, seq: u64) -> Result<Option<($crate::AttachmentMeta, Vec<u8>)>, $crate::StoreError> {
                let row: Option<(i64, String, String, String, String, i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT seq, name, content_type, sha256, added_by, added_at, data FROM meeting_attachments WHERE meeting_id = $1 AND seq = $2",
                )
                .bind(meeting.to_string())
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(seq, name, content_type, sha256, added_by, at, data)| {
                    Ok(($crate::AttachmentMeta { seq: u64::try_from(seq).unwrap_or(0), name, content_type, sha256, added_by, added_at: $crate::model::from_micros(at)? }, data))
                })
                .transpose()
            }

            async fn create_results(&self, results: &[($crate::ResultRecord, Vec<$crate::WorkRecord>)], topics: &[($crate::TopicRecord, u64)], actor: &str) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                if let Some((r, _)) = results.first() {
                    Self::write_topics(&mut tx, topics, actor, r.decided_at).await?;
                }
                for (r, work) in results {
                    sqlx::query(&format!(
                        "INSERT INTO results ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        $crate::consultation::RESULT_COLUMNS
                    ))
                    .bind(r.id.to_string())
                    .bind(&r.public_id)
                    .bind(r.region.as_str())
                    .bind(r.grid.as_ref().map(|g| g.as_str()))
                    .bind(&r.title)
                    .bind(&r.decision)
                    .bind(r.meeting_id.map(|m| m.to_string()))
                    .bind(r.agenda_index.map(i64::from))
                    .bind(r.topic_id.map(|t| t.to_string()))
                    .bind(&r.decided_by)
                    .bind($crate::model::micros(r.decided_at))
                    .execute(&mut *tx)
                    .await?;
                    for w in work {
                        sqlx::query(&format!(
                            "INSERT INTO result_work ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                            $crate::consultation::WORK_COLUMNS
                        ))
                        .bind(r.id.to_string())
                        .bind(i64::try_from(w.seq).unwrap_or(i64::MAX))
                        .bind(&w.kind)
                        .bind(w.case_id.map(|c| c.to_string()))
                        .bind(&w.title)
                        .bind(&w.owner)
                        .bind(w.due_at.map($crate::model::micros))
                        .bind(w.done_at.map($crate::model::micros))
                        .bind(&w.done_by)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let e = $crate::ConsultationEvent {
                        seq: 0,
                        at: r.decided_at,
                        actor: actor.to_owned(),
                        action: "decide".into(),
                        note: r.decision.clone(),
                    };
                    Self::append_consultation_event(&mut tx, $crate::consultation::RESULT_SOURCE, &r.id, &r.region, &e).await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn result(&self, id: &uuid::Uuid) -> Result<Option<$crate::ResultRecord>, $crate::StoreError> {
                self.result_where("id", &id.to_string()).await
            }
            async fn result_by_public_id(&self, public_id: &str) -> Result<Option<$crate::ResultRecord>, $crate::StoreError> {
                self.result_where("public_id", public_id).await
            }
            async fn results(&self, within: &civicgrid_domain::territory::RegionCode, limit: u32) -> Result<Vec<($crate::ResultRecord, Vec<$crate::WorkRecord>)>, $crate::StoreError> {
                let rows: Vec<$crate::consultation::ResultRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM results WHERE region_code LIKE $1 ORDER BY decided_at DESC, id DESC LIMIT $2",
                    $crate::consultation::RESULT_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let results: Vec<$crate::ResultRecord> = rows.into_iter().map($crate::consultation::result_from_row).collect::<Result<_, _>>()?;
                // The work of all of them in one read, not one per result.
                let work: Vec<$crate::consultation::WorkRow> = sqlx::query_as(&format!(
                    "SELECT w.{} FROM result_work w JOIN results r ON r.id = w.result_id WHERE r.region_code LIKE $1 ORDER BY w.result_id, w.seq",
                    $crate::consultation::WORK_COLUMNS.replace(", ", ", w.")
                ))
                .bind(format!("{}%", within.as_str()))
                .fetch_all(&self.pool)
                .await?;
                let mut by_result: std::collections::HashMap<uuid::Uuid, Vec<$crate::WorkRecord>> = std::collections::HashMap::new();
                for row in work {
                    let (id, w) = $crate::consultation::work_from_row(row)?;
                    by_result.entry(id).or_default().push(w);
                }
                Ok(results
                    .into_iter()
                    .map(|r| {
                        let w = by_result.remove(&r.id).unwrap_or_default();
                        (r, w)
                    })
                    .collect())
            }
            async fn results_of_meeting(&self, meeting: &uuid::Uuid) -> Result<Vec<$crate::ResultRecord>, $crate::StoreError> {
                let rows: Vec<$crate::consultation::ResultRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM results WHERE meeting_id = $1 ORDER BY agenda_index, decided_at",
                    $crate::consultation::RESULT_COLUMNS
                ))
                .bind(meeting.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::consultation::result_from_row).collect()
            }
            async fn result_work(&self, result: &uuid::Uuid) -> Result<Vec<$crate::WorkRecord>, $crate::StoreError> {
                let rows: Vec<$crate::consultation::WorkRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM result_work WHERE result_id = $1 ORDER BY seq",
                    $crate::consultation::WORK_COLUMNS
                ))
                .bind(result.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|r| $crate::consultation::work_from_row(r).map(|(_, w)| w)).collect()
            }
            async fn complete_milestone(&self, r: &$crate::ResultRecord, seq: u64, e: &$crate::ConsultationEvent) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                // The result's row first: its events are numbered one at a time.
                sqlx::query("UPDATE results SET decided_at = decided_at WHERE id = $1")
                    .bind(r.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query(
                    "UPDATE result_work SET done_at = $3, done_by = $4 WHERE result_id = $1 AND seq = $2 AND kind = 'milestone' AND done_at IS NULL",
                )
                .bind(r.id.to_string())
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .bind($crate::model::micros(e.at))
                .bind(&e.actor)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::append_consultation_event(&mut tx, $crate::consultation::RESULT_SOURCE, &r.id, &r.region, e).await?;
                tx.commit().await?;
                Ok(true)
            }
            async fn mark_open_results(&self) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO kpi_dirty (source, item_id, region_code)
                     SELECT $1, r.id, r.region_code FROM results r
                     WHERE EXISTS (SELECT 1 FROM result_work w WHERE w.result_id = r.id AND (w.kind = 'case' OR w.done_at IS NULL))
                     ON CONFLICT (item_id) DO UPDATE SET marked = kpi_dirty.marked + 1",
                )
                .bind($crate::consultation::RESULT_SOURCE)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }

        impl $repo {
            async fn topic_where(&self, column: &str, value: &str) -> Result<Option<$crate::TopicRecord>, $crate::StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM topics WHERE {column} = $1",
                    $crate::consultation::TOPIC_COLUMNS
                ))
                .bind(value)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::topic_of).transpose()
            }
            async fn meeting_where(&self, column: &str, value: &str) -> Result<Option<$crate::MeetingRecord>, $crate::StoreError> {
                let row: Option<$crate::consultation::MeetingRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM meetings WHERE {column} = $1",
                    $crate::consultation::MEETING_COLUMNS
                ))
                .bind(value)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::consultation::meeting_from_row).transpose()
            }
            async fn result_where(&self, column: &str, value: &str) -> Result<Option<$crate::ResultRecord>, $crate::StoreError> {
                let row: Option<$crate::consultation::ResultRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM results WHERE {column} = $1",
                    $crate::consultation::RESULT_COLUMNS
                ))
                .bind(value)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::consultation::result_from_row).transpose()
            }
        }
    };
}

pub(crate) use consultation_sql;
