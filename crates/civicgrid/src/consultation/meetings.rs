//! Meetings: convening with invitees and an agenda (putting topics on it schedules them),
//! units' answers to their summons, attendance by check-in, minutes and attachments.

use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::consultation::{
    Answer, InviteeKind, MeetingKind, TopicAction, TopicStatus, check_answer, decide_topic,
};
use civicgrid_domain::policy::Actor;
use civicgrid_store::{
    AgendaItem, AttachmentMeta, InviteeRecord, MeetingRecord, StoreError, TopicRecord,
};

use super::{event, stale, text, unprocessable};
use crate::App;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub struct NewInvitee {
    pub kind: InviteeKind,
    /// A unit code, a member number, or (for a resident) empty.
    pub reference: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct NewAgendaItem {
    pub title: String,
    /// A topic's number.
    pub topic: Option<String>,
    /// Cases' public numbers.
    pub cases: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewMeeting {
    pub kind: MeetingKind,
    /// A grid, community or street.
    pub scope: String,
    pub title: String,
    pub place: String,
    pub starts_at: jiff::Timestamp,
    pub invitees: Vec<NewInvitee>,
    pub agenda: Vec<NewAgendaItem>,
}

/// Attachments a meeting keeps: documents and photos, at most 10 MiB each.
const ATTACHMENT_TYPES: [&str; 5] = [
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/plain",
];

impl App {
    pub async fn meeting(&self, public_id: &str) -> AppResult<MeetingRecord> {
        self.repo
            .meeting_by_public_id(&public_id.trim().to_ascii_uppercase())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("meeting {public_id}")))
    }

    pub async fn meetings_in(
        &self,
        within: &civicgrid_domain::territory::RegionCode,
        limit: u32,
    ) -> AppResult<Vec<MeetingRecord>> {
        Ok(self.repo.meetings(within, limit.min(500)).await?)
    }

    pub async fn invitees_of(&self, m: &MeetingRecord) -> AppResult<Vec<InviteeRecord>> {
        Ok(self.repo.invitees(&m.id).await?)
    }

    /// Topics an agenda item may take: of the meeting's region and not yet decided.
    async fn agenda_items(
        &self,
        region: &civicgrid_domain::territory::RegionCode,
        items: &[NewAgendaItem],
        problems: &mut Vec<(String, String)>,
        now: jiff::Timestamp,
        meeting: uuid::Uuid,
    ) -> AppResult<(Vec<AgendaItem>, Vec<(TopicRecord, u64)>)> {
        let mut agenda = Vec::new();
        let mut topics: Vec<(TopicRecord, u64)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = |f: &str| format!("agenda[{i}].{f}");
            let title = text(&field("title"), &item.title, 1, 120, problems);
            let mut topic_id = None;
            if let Some(number) = item.topic.as_deref().filter(|n| !n.trim().is_empty()) {
                match self
                    .repo
                    .topic_by_public_id(&number.trim().to_ascii_uppercase())
                    .await?
                {
                    // Within the meeting's region: a community's meeting does not decide a
                    // street's topic.
                    Some(t) if !t.region.as_str().starts_with(region.as_str()) => {
                        problems.push((
                            field("topic"),
                            format!("topic {number} is of another region"),
                        ));
                    }
                    Some(t) if topics.iter().any(|(o, _)| o.id == t.id) => {
                        problems.push((
                            field("topic"),
                            format!("topic {number} is on the agenda twice"),
                        ));
                    }
                    Some(t) => {
                        match decide_topic(
                            &civicgrid_domain::consultation::TopicState {
                                status: t.status,
                                supports: t.supports,
                                threshold: t.threshold,
                            },
                            &TopicAction::Schedule,
                        ) {
                            Ok(next) => {
                                topic_id = Some(t.id);
                                let version = t.version;
                                let mut changed = t;
                                changed.status = next.status;
                                changed.scheduled_at = Some(now);
                                changed.meeting_id = Some(meeting);
                                topics.push((changed, version));
                            }
                            Err(e) => problems.push((field("topic"), e)),
                        }
                    }
                    None => problems.push((field("topic"), format!("no topic {number}"))),
                }
            }
            let mut cases = Vec::new();
            for c in &item.cases {
                let Some(code) = civicgrid_domain::case::normalize_public_id(c) else {
                    problems.push((field("cases"), format!("{c} is not a case number")));
                    continue;
                };
                match self.repo.case_by_public_id(&code).await? {
                    Some(case) => cases.push(case.id),
                    None => problems.push((field("cases"), format!("no case {c}"))),
                }
            }
            agenda.push(AgendaItem {
                title,
                topic: topic_id,
                cases,
            });
        }
        Ok((agenda, topics))
    }

    /// Convenes a meeting (those who run consultation in its region). Units invited must
    /// answer within a working day, and before the meeting starts.
    pub async fn convene_meeting(
        &self,
        actor: &Actor,
        new: NewMeeting,
    ) -> AppResult<MeetingRecord> {
        let scope = self.consultation_scope(&new.scope).await?;
        let reference = self.reference().await?;
        reference
            .policy()
            .may_manage_consultation(actor, &scope.region)
            .map_err(AppError::Forbidden)?;
        let now = self.clock.now();
        let id = self.ids.new_id(now);
        let mut problems = Vec::new();
        let title = text("title", &new.title, 1, 120, &mut problems);
        let place = text("place", &new.place, 1, 120, &mut problems);
        let answer_due = reference
            .calendar
            .deadline(
                now,
                TimeLimit {
                    clock: ClockType::WorkingDays,
                    amount: 1,
                },
            )
            .min(new.starts_at);
        let mut invitees: Vec<InviteeRecord> = Vec::new();
        for (i, inv) in new.invitees.iter().enumerate() {
            let field = |f: &str| format!("invitees[{i}].{f}");
            let (reference_code, name) = match inv.kind {
                InviteeKind::Unit => match reference
                    .units
                    .iter()
                    .find(|u| u.code == inv.reference.trim())
                {
                    Some(u) => (u.code.clone(), u.name.clone()),
                    None => {
                        problems.push((field("reference"), format!("no unit {}", inv.reference)));
                        continue;
                    }
                },
                InviteeKind::Member | InviteeKind::Resident => {
                    let name = text(&field("name"), &inv.name, 1, 60, &mut problems);
                    let r = if inv.kind == InviteeKind::Member {
                        text(&field("reference"), &inv.reference, 1, 40, &mut problems)
                    } else {
                        name.clone()
                    };
                    (r, name)
                }
            };
            if invitees
                .iter()
                .any(|o| o.kind == inv.kind && o.reference == reference_code)
            {
                problems.push((
                    field("reference"),
                    format!("{reference_code} is invited twice"),
                ));
                continue;
            }
            invitees.push(InviteeRecord {
                kind: inv.kind,
                reference: reference_code,
                name,
                answer_due,
                answer: None,
                answer_note: None,
                answered_by: None,
                answered_at: None,
                missed: false,
                attended_at: None,
            });
        }
        if new.agenda.is_empty() {
            problems.push(("agenda".to_owned(), "at least one item".to_owned()));
        }
        let (agenda, topics) = self
            .agenda_items(&scope.region, &new.agenda, &mut problems, now, id)
            .await?;
        if new.kind == MeetingKind::JointConsultation {
            if !invitees.iter().any(|i| i.kind == InviteeKind::Unit) {
                problems.push((
                    "invitees".to_owned(),
                    "a joint consultation summons at least one unit".to_owned(),
                ));
            }
            if !agenda.iter().any(|a| !a.cases.is_empty()) {
                problems.push((
                    "agenda".to_owned(),
                    "a joint consultation is held on one or more cases".to_owned(),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        for _attempt in 0..5 {
            let m = MeetingRecord {
                id,
                public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
                kind: new.kind,
                region: scope.region.clone(),
                grid: scope.grid.clone(),
                title: title.clone(),
                place: place.clone(),
                starts_at: new.starts_at,
                convener: actor.name().to_owned(),
                agenda: agenda.clone(),
                status: "planned".into(),
                minutes: None,
                minutes_by: None,
                minutes_at: None,
                created_at: now,
                version: 0,
            };
            match self
                .repo
                .create_meeting(
                    &m,
                    &invitees,
                    &topics,
                    &event(now, actor.name(), "convene", new.kind.as_str()),
                )
                .await
            {
                Err(StoreError::Conflict(msg)) if msg.contains("public_id") => continue,
                Err(e) => return Err(stale(e)),
                Ok(()) => return Ok(m),
            }
        }
        Err(AppError::Invalid(
            "could not draw a free meeting number".into(),
        ))
    }

    /// Puts a topic (or a matter) on a planned meeting's agenda: the topic is scheduled.
    pub async fn add_agenda_item(
        &self,
        actor: &Actor,
        meeting: &str,
        item: NewAgendaItem,
    ) -> AppResult<MeetingRecord> {
        let m = self.meeting(meeting).await?;
        self.manages(actor, &m.region).await?;
        if m.status != "planned" {
            return Err(AppError::Conflict(format!("the meeting is {}", m.status)));
        }
        let now = self.clock.now();
        let mut problems = Vec::new();
        let (mut added, topics) = self
            .agenda_items(
                &m.region,
                std::slice::from_ref(&item),
                &mut problems,
                now,
                m.id,
            )
            .await?;
        if let Some(t) = topics.first()
            && m.agenda.iter().any(|a| a.topic == Some(t.0.id))
        {
            problems.push(("topic".to_owned(), "already on this agenda".to_owned()));
        }
        if !problems.is_empty() {
            // One item: name its fields without the list index.
            return Err(AppError::Unprocessable(
                problems
                    .into_iter()
                    .map(|(f, m)| (f.trim_start_matches("agenda[0].").to_owned(), m))
                    .collect(),
            ));
        }
        let mut changed = m.clone();
        changed.agenda.append(&mut added);
        self.repo
            .update_meeting(
                &changed,
                m.version,
                &topics,
                &event(now, actor.name(), "add_agenda_item", &item.title),
            )
            .await
            .map_err(stale)?;
        changed.version = m.version + 1;
        Ok(changed)
    }

    /// A summoned unit answers (its handlers), as to a whistle call: attending, sending
    /// someone, or declining with a reason. A late answer is kept, and counted late.
    pub async fn answer_summons(
        &self,
        actor: &Actor,
        meeting: &str,
        unit: &str,
        answer: Answer,
        note: &str,
    ) -> AppResult<InviteeRecord> {
        let m = self.meeting(meeting).await?;
        self.reference()
            .await?
            .policy()
            .may_answer_for_unit(actor, unit)
            .map_err(AppError::Forbidden)?;
        let invitees = self.repo.invitees(&m.id).await?;
        let before = invitees
            .into_iter()
            .find(|i| i.kind == InviteeKind::Unit && i.reference == unit)
            .ok_or_else(|| AppError::NotFound(format!("{unit} is not summoned to this meeting")))?;
        if before.answered_at.is_some() {
            return Err(AppError::Conflict(format!("{unit} answered already")));
        }
        if m.status == "cancelled" {
            return Err(AppError::Conflict("the meeting was cancelled".into()));
        }
        let note = note.trim();
        if note.chars().count() > 200 {
            return Err(unprocessable("note", "at most 200 characters"));
        }
        check_answer(answer, note).map_err(|e| unprocessable("note", e))?;
        let now = self.clock.now();
        let mut after = before.clone();
        after.answer = Some(answer);
        after.answer_note = Some(note.to_owned());
        after.answered_by = Some(actor.name().to_owned());
        after.answered_at = Some(now);
        self.repo
            .update_invitee(
                &m,
                &before,
                &after,
                &event(
                    now,
                    actor.name(),
                    "answer",
                    &format!("{unit}: {}", answer.as_str()),
                ),
            )
            .await
            .map_err(|e| match e {
                StoreError::Stale { .. } => AppError::Conflict(format!("{unit} answered already")),
                other => other.into(),
            })?;
        Ok(after)
    }

    /// Records an invitee's attendance: the convener's side (consultation.manage), or a
    /// summoned unit checking itself in.
    pub async fn check_in(
        &self,
        actor: &Actor,
        meeting: &str,
        kind: InviteeKind,
        reference_code: &str,
    ) -> AppResult<InviteeRecord> {
        let m = self.meeting(meeting).await?;
        let reference = self.reference().await?;
        let policy = reference.policy();
        let manager = policy.may_manage_consultation(actor, &m.region);
        if manager.is_err() {
            let own_unit = kind == InviteeKind::Unit
                && policy.may_answer_for_unit(actor, reference_code).is_ok();
            if !own_unit {
                return Err(AppError::Forbidden(manager.err().unwrap_or_default()));
            }
        }
        let before = self
            .repo
            .invitees(&m.id)
            .await?
            .into_iter()
            .find(|i| i.kind == kind && i.reference == reference_code)
            .ok_or_else(|| AppError::NotFound(format!("{reference_code} is not invited")))?;
        if before.attended_at.is_some() {
            return Err(AppError::Conflict(format!(
                "{} checked in already",
                before.name
            )));
        }
        if m.status == "cancelled" {
            return Err(AppError::Conflict("the meeting was cancelled".into()));
        }
        let now = self.clock.now();
        let mut after = before.clone();
        after.attended_at = Some(now);
        self.repo
            .update_invitee(
                &m,
                &before,
                &after,
                &event(now, actor.name(), "check_in", &before.name),
            )
            .await
            .map_err(|e| match e {
                StoreError::Stale { .. } => {
                    AppError::Conflict(format!("{} checked in already", before.name))
                }
                other => other.into(),
            })?;
        Ok(after)
    }

    /// Records (or amends) the minutes; the meeting is then held. Every version stays in the
    /// meeting's events.
    pub async fn record_minutes(
        &self,
        actor: &Actor,
        meeting: &str,
        minutes: &str,
    ) -> AppResult<MeetingRecord> {
        let m = self.meeting(meeting).await?;
        self.manages(actor, &m.region).await?;
        if m.status == "cancelled" {
            return Err(AppError::Conflict("the meeting was cancelled".into()));
        }
        let mut problems = Vec::new();
        let minutes = text("minutes", minutes, 1, 20_000, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        let mut changed = m.clone();
        changed.status = "held".into();
        changed.minutes = Some(minutes.clone());
        changed.minutes_by = Some(actor.name().to_owned());
        changed.minutes_at = Some(now);
        self.repo
            .update_meeting(
                &changed,
                m.version,
                &[],
                &event(now, actor.name(), "minutes", &minutes),
            )
            .await
            .map_err(stale)?;
        changed.version = m.version + 1;
        Ok(changed)
    }

    /// Cancels a planned meeting, with the reason; its topics go back to awaiting an agenda.
    pub async fn cancel_meeting(
        &self,
        actor: &Actor,
        meeting: &str,
        reason: &str,
    ) -> AppResult<MeetingRecord> {
        let m = self.meeting(meeting).await?;
        self.manages(actor, &m.region).await?;
        let mut problems = Vec::new();
        let reason = text("reason", reason, 1, 500, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        if m.status != "planned" {
            return Err(AppError::Conflict(format!("the meeting is {}", m.status)));
        }
        let mut topics = Vec::new();
        for item in &m.agenda {
            if let Some(t) = item.topic
                && let Some(t) = self.repo.topic(&t).await?
                && t.status == TopicStatus::Scheduled
            {
                let version = t.version;
                let mut back = t;
                back.status = if back.qualified_at.is_some() {
                    TopicStatus::Qualified
                } else {
                    TopicStatus::Open
                };
                back.scheduled_at = None;
                back.meeting_id = None;
                topics.push((back, version));
            }
        }
        let mut changed = m.clone();
        changed.status = "cancelled".into();
        self.repo
            .update_meeting(
                &changed,
                m.version,
                &topics,
                &event(self.clock.now(), actor.name(), "cancel", &reason),
            )
            .await
            .map_err(stale)?;
        changed.version = m.version + 1;
        Ok(changed)
    }

    /// Attaches a document or photo to a meeting (those who run it).
    pub async fn attach_to_meeting(
        &self,
        actor: &Actor,
        meeting: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> AppResult<AttachmentMeta> {
        let m = self.meeting(meeting).await?;
        self.manages(actor, &m.region).await?;
        // A file sent as bytes is known by its first bytes.
        let content_type = crate::files::sniffed(content_type, &data);
        let name = name.trim().to_owned();
        let problems = crate::files::upload_problems(
            &name,
            content_type,
            &data,
            &ATTACHMENT_TYPES,
            10 * 1024 * 1024,
        );
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let sha256 = crate::accounts::sha256_bytes_hex(&data);
        let now = self.clock.now();
        let seq = self
            .repo
            .add_attachment(
                &m,
                &name,
                content_type,
                &data,
                &sha256,
                &event(now, actor.name(), "attach", &name),
            )
            .await?;
        Ok(AttachmentMeta {
            seq,
            name,
            content_type: content_type.to_owned(),
            sha256,
            added_by: actor.name().to_owned(),
            added_at: now,
        })
    }

    pub async fn meeting_attachments(&self, m: &MeetingRecord) -> AppResult<Vec<AttachmentMeta>> {
        Ok(self.repo.attachments(&m.id).await?)
    }

    pub async fn meeting_attachment(
        &self,
        meeting: &str,
        seq: u64,
    ) -> AppResult<(AttachmentMeta, Vec<u8>)> {
        let m = self.meeting(meeting).await?;
        self.repo
            .attachment(&m.id, seq)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("attachment {seq}")))
    }

    /// Records summonses whose deadline passed without an answer (the deadline job).
    pub async fn record_missed_summons(&self) -> AppResult<usize> {
        let now = self.clock.now();
        let mut n = 0;
        for (meeting, before) in self.repo.unanswered_summons(now, 500).await? {
            let Some(m) = self.repo.meeting(&meeting).await? else {
                continue;
            };
            let mut after = before.clone();
            after.missed = true;
            match self
                .repo
                .update_invitee(
                    &m,
                    &before,
                    &after,
                    &event(now, "system", "miss_summons", &before.reference),
                )
                .await
            {
                // Answered meanwhile.
                Err(StoreError::Stale { .. }) => {}
                other => {
                    other?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Meeting's events (those who run consultation there).
    pub async fn meeting_history(
        &self,
        actor: &Actor,
        meeting: &str,
    ) -> AppResult<Vec<civicgrid_store::ConsultationEvent>> {
        let m = self.meeting(meeting).await?;
        self.manages(actor, &m.region).await?;
        Ok(self.repo.consultation_events(&m.id).await?)
    }
}

/// A meeting with everything its page and its REST answer show.
pub struct MeetingDetail {
    pub meeting: MeetingRecord,
    pub invitees: Vec<InviteeRecord>,
    pub attachments: Vec<AttachmentMeta>,
    pub results: Vec<civicgrid_store::ResultRecord>,
    pub topics: std::collections::HashMap<uuid::Uuid, TopicRecord>,
    /// Agenda cases' public numbers.
    pub case_numbers: std::collections::HashMap<uuid::Uuid, String>,
}

impl MeetingDetail {
    pub fn topic_numbers(&self) -> std::collections::HashMap<uuid::Uuid, String> {
        self.topics
            .iter()
            .map(|(id, t)| (*id, t.public_id.clone()))
            .collect()
    }
}

impl App {
    pub async fn meeting_detail(&self, public_id: &str) -> AppResult<MeetingDetail> {
        let meeting = self.meeting(public_id).await?;
        let mut topics = std::collections::HashMap::new();
        let mut case_numbers = std::collections::HashMap::new();
        for item in &meeting.agenda {
            if let Some(t) = item.topic
                && let Some(topic) = self.repo.topic(&t).await?
            {
                topics.insert(t, topic);
            }
            for c in &item.cases {
                if let Some(case) = self.repo.case(c).await? {
                    case_numbers.insert(*c, case.public_id);
                }
            }
        }
        Ok(MeetingDetail {
            invitees: self.repo.invitees(&meeting.id).await?,
            attachments: self.repo.attachments(&meeting.id).await?,
            results: self.repo.results_of_meeting(&meeting.id).await?,
            topics,
            case_numbers,
            meeting,
        })
    }

    /// Whether the actor runs consultation where the meeting is (sees invitees' names).
    pub async fn runs_meeting(&self, actor: Option<&Actor>, m: &MeetingRecord) -> AppResult<bool> {
        Ok(match actor {
            Some(a) => self
                .reference()
                .await?
                .policy()
                .may_manage_consultation(a, &m.region)
                .is_ok(),
            None => false,
        })
    }
}

impl App {
    /// Puts a topic on a planned meeting's agenda under `title` (the topic's if empty).
    pub async fn schedule_topic(
        &self,
        actor: &Actor,
        topic: &str,
        meeting: &str,
        title: &str,
    ) -> AppResult<TopicRecord> {
        let t = self.topic(topic).await?;
        let title = if title.trim().is_empty() {
            t.title.clone()
        } else {
            title.to_owned()
        };
        self.add_agenda_item(
            actor,
            meeting,
            NewAgendaItem {
                title,
                topic: Some(t.public_id.clone()),
                cases: vec![],
            },
        )
        .await?;
        self.topic(&t.public_id).await
    }
}

impl App {
    /// A meeting's public number.
    pub async fn meeting_number(&self, id: &uuid::Uuid) -> AppResult<Option<String>> {
        Ok(self.repo.meeting(id).await?.map(|m| m.public_id))
    }
}
