//! Consultation (议事协商): topics raised in a grid, a community or a street and supported by
//! households until they pass their scope's threshold and must reach a meeting's agenda within
//! a number of working days; threaded opinions under moderation; polls answered with one-time
//! household codes (`polls.rs`); meetings with their summons, attendance, minutes and
//! attachments (`meetings.rs`); decisions whose linked work — cases in the loop, milestones —
//! gives each result its progress (`results.rs`).
//!
//! Service here and in those files; `rest.rs` + `views.rs` (`/api/v1/topics`, `/meetings`,
//! `/results`, `/polls`), `pages.rs`, `cli.rs`, `jobs.rs` (agenda warnings, missed summons),
//! `kpi.rs`.

pub mod cli;
pub mod jobs;
pub mod kpi;
mod meetings;
pub mod pages;
mod polls;
pub mod rest;
mod results;
pub mod views;

pub use meetings::{MeetingDetail, NewAgendaItem, NewInvitee, NewMeeting};
pub use polls::{NewPoll, PollView};
pub use results::{NewDecision, NewMilestone, NewWorkCase, ResultProgress};

use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::consultation::{
    Moderated, Moderation, TopicAction, TopicState, TopicStatus, Visibility, decide_topic,
    moderate, threshold,
};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode, RegionLevel};
use civicgrid_store::{ConsultationEvent, OpinionRecord, StoreError, TopicRecord};

use crate::App;
use crate::error::{AppError, AppResult};

/// Without a rule for the scope or a region above it: 5 % of households, 10 working days.
pub const DEFAULT_THRESHOLD_PER_MILLE: u32 = 50;
pub const DEFAULT_AGENDA_DAYS: u32 = 10;
/// The share of the agenda time after which a qualified topic turns yellow (as cases do).
pub const AGENDA_WARN_AT: f64 = 0.8;

/// Who raises a topic.
pub const RAISERS: [&str; 4] = ["resident", "grid_worker", "community", "party"];

#[derive(Debug, Clone)]
pub struct NewTopic {
    /// A grid code, or a community's or street's region code.
    pub scope: String,
    pub title: String,
    pub description: String,
    /// resident (anyone), grid_worker, community or party (staff only).
    pub raised_as: String,
}

/// A raised topic and, for a resident, the secret that follows it (shown once).
pub struct TopicReceipt {
    pub topic: TopicRecord,
    pub secret: Option<String>,
}

/// Where a scope lies: its region (a grid's community) and grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub code: String,
    pub region: RegionCode,
    pub grid: Option<GridCode>,
}

pub(crate) fn unprocessable(field: &str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable(vec![(field.to_owned(), message.into())])
}

pub(crate) fn stale(e: StoreError) -> AppError {
    match e {
        StoreError::Stale { current } => AppError::Stale { current },
        other => other.into(),
    }
}

pub(crate) fn event(
    at: jiff::Timestamp,
    actor: &str,
    action: &str,
    note: &str,
) -> ConsultationEvent {
    ConsultationEvent {
        seq: 0,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        note: note.to_owned(),
    }
}

/// Text of `min..=max` characters, trimmed, or the field's problem.
pub(crate) fn text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    problems: &mut Vec<(String, String)>,
) -> String {
    let v = value.trim().to_owned();
    let n = v.chars().count();
    if n < min || n > max {
        problems.push((field.to_owned(), format!("{min} to {max} characters")));
    }
    v
}

fn topic_state(t: &TopicRecord) -> TopicState {
    TopicState {
        status: t.status,
        supports: t.supports,
        threshold: t.threshold,
    }
}

impl App {
    /// Refused unless the actor runs consultation in `region` (consultation.manage).
    async fn manages(&self, actor: &Actor, region: &RegionCode) -> AppResult<()> {
        self.reference()
            .await?
            .policy()
            .may_manage_consultation(actor, region)
            .map_err(AppError::Forbidden)
    }

    /// Refused unless the actor moderates opinions in `region` (consultation.moderate).
    async fn moderates(&self, actor: &Actor, region: &RegionCode) -> AppResult<()> {
        self.reference()
            .await?
            .policy()
            .may_moderate(actor, region)
            .map_err(AppError::Forbidden)
    }

    /// A scope by its code: a grid of the platform, or one of its communities or streets.
    pub async fn consultation_scope(&self, code: &str) -> AppResult<Scope> {
        let reference = self.reference().await?;
        let code = code.trim();
        if let Ok(g) = code.parse::<GridCode>()
            && let Some(region) = reference.grid_regions.get(&g)
        {
            return Ok(Scope {
                code: code.to_owned(),
                region: region.clone(),
                grid: Some(g),
            });
        }
        match code.parse::<RegionCode>() {
            Ok(r)
                if matches!(r.level(), RegionLevel::Community | RegionLevel::Street)
                    && reference.region_names.contains_key(&r) =>
            {
                Ok(Scope {
                    code: code.to_owned(),
                    region: r,
                    grid: None,
                })
            }
            _ => Err(unprocessable(
                "scope",
                format!("{code} is not a grid, community or street of this platform"),
            )),
        }
    }

    /// A scope's rule: its own, else the nearest region above it that has one, else the
    /// defaults. (threshold ‰, agenda working days)
    pub async fn consultation_rule(&self, region: &RegionCode) -> AppResult<(u32, u32)> {
        let mut at = Some(region.clone());
        while let Some(r) = at {
            if let Some(rule) = self.repo.consultation_rule(&r).await? {
                return Ok(rule);
            }
            at = r.parent();
        }
        Ok((DEFAULT_THRESHOLD_PER_MILLE, DEFAULT_AGENDA_DAYS))
    }

    /// Sets a community's or street's rule (those who run consultation there).
    pub async fn set_consultation_rule(
        &self,
        actor: &Actor,
        region: &RegionCode,
        threshold_per_mille: u32,
        agenda_days: u32,
    ) -> AppResult<()> {
        let reference = self.reference().await?;
        reference
            .policy()
            .may_manage_consultation(actor, region)
            .map_err(AppError::Forbidden)?;
        let mut problems = Vec::new();
        if !matches!(region.level(), RegionLevel::Community | RegionLevel::Street)
            || !reference.region_names.contains_key(region)
        {
            problems.push((
                "region".to_owned(),
                format!("{region} is not a community or street of this platform"),
            ));
        }
        if !(1..=1000).contains(&threshold_per_mille) {
            problems.push((
                "threshold_per_mille".to_owned(),
                "1 to 1000 (per mille of registered households)".to_owned(),
            ));
        }
        if !(1..=60).contains(&agenda_days) {
            problems.push(("agenda_days".to_owned(), "1 to 60 working days".to_owned()));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        self.repo
            .set_consultation_rule(
                region,
                threshold_per_mille,
                agenda_days,
                actor.name(),
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    /// Registered households in a scope.
    pub async fn households_in_scope(&self, scope: &Scope) -> AppResult<u64> {
        let all = self.repo.households(Some(&scope.region), None).await?;
        Ok(all
            .iter()
            .filter(|h| scope.grid.as_ref().is_none_or(|g| &h.grid == g))
            .count() as u64)
    }

    /// Raises a topic. Anyone raises as a resident (given a secret to follow it); staff raise
    /// as a grid worker (where they report cases), for the community (consultation.manage) or
    /// for a party organisation (party.manage).
    pub async fn raise_topic(&self, actor: &Actor, new: NewTopic) -> AppResult<TopicReceipt> {
        let scope = self.consultation_scope(&new.scope).await?;
        let reference = self.reference().await?;
        let policy = reference.policy();
        use civicgrid_domain::access::Permission;
        let (raised_by, resident) = match (new.raised_as.as_str(), actor) {
            ("resident", _) => ("resident".to_owned(), true),
            ("grid_worker", Actor::Staff { username, .. })
                if policy.holds_in(actor, Permission::CaseReport, &scope.region) =>
            {
                (username.clone(), false)
            }
            ("community", Actor::Staff { username, .. })
                if policy.holds_in(actor, Permission::ConsultationManage, &scope.region) =>
            {
                (username.clone(), false)
            }
            ("party", Actor::Staff { username, .. })
                if policy.holds_in(actor, Permission::PartyManage, &scope.region) =>
            {
                (username.clone(), false)
            }
            (r, _) if RAISERS.contains(&r) => {
                return Err(AppError::Forbidden(format!(
                    "raising a topic as {r} needs that role in {}",
                    scope.region
                )));
            }
            (r, _) => {
                return Err(unprocessable(
                    "raised_as",
                    format!("`{r}` is not one of resident, grid_worker, community, party"),
                ));
            }
        };
        let mut problems = Vec::new();
        let title = text("title", &new.title, 1, 80, &mut problems);
        let description = text("description", &new.description, 0, 2000, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let (per_mille, _) = self.consultation_rule(&scope.region).await?;
        let households = self.households_in_scope(&scope).await?;
        let now = self.clock.now();
        for _attempt in 0..5 {
            let id = self.ids.new_id(now);
            let secret =
                resident.then(|| civicgrid_domain::case::reporter_secret(self.ids.random_bits()));
            let topic = TopicRecord {
                id,
                public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
                reporter_key: secret
                    .as_ref()
                    .map(|s| crate::cases::seal::reporter_key(self.sealer.as_deref(), &id, s)),
                scope: scope.code.clone(),
                region: scope.region.clone(),
                grid: scope.grid.clone(),
                title: title.clone(),
                description: description.clone(),
                raised_by: raised_by.clone(),
                raised_as: new.raised_as.clone(),
                raised_at: now,
                status: TopicStatus::Open,
                supports: 0,
                threshold: threshold(households, per_mille),
                qualified_at: None,
                agenda_due: None,
                alarm: None,
                scheduled_at: None,
                meeting_id: None,
                decided_at: None,
                withdraw_reason: None,
                version: 0,
            };
            match self
                .repo
                .create_topic(&topic, &event(now, &raised_by, "raise", ""))
                .await
            {
                // A public number drawn twice (60 random bits): draw again.
                Err(StoreError::Conflict(_)) => continue,
                other => other?,
            }
            return Ok(TopicReceipt { topic, secret });
        }
        Err(AppError::Invalid(
            "could not draw a free topic number".into(),
        ))
    }

    pub async fn topic(&self, public_id: &str) -> AppResult<TopicRecord> {
        self.repo
            .topic_by_public_id(&public_id.trim().to_ascii_uppercase())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("topic {public_id}")))
    }

    /// Topics in a region, newest first (public).
    pub async fn topics_in(
        &self,
        within: &RegionCode,
        statuses: &[TopicStatus],
        limit: u32,
    ) -> AppResult<Vec<TopicRecord>> {
        Ok(self.repo.topics(within, statuses, limit.min(500)).await?)
    }

    /// The household a consultation key names (the key is kept as a digest only).
    async fn household_of_key(&self, key: &str) -> AppResult<civicgrid_store::HouseholdRecord> {
        let refused =
            || AppError::Forbidden("this household key is not valid (ask your grid worker)".into());
        let key = key.trim().to_ascii_uppercase().replace(['-', ' '], "");
        if key.is_empty() {
            return Err(refused());
        }
        let digest =
            crate::cases::seal::reporter_key(self.sealer.as_deref(), &uuid::Uuid::nil(), &key);
        let id = self
            .repo
            .household_by_key(&digest)
            .await?
            .ok_or_else(refused)?;
        self.repo.household(&id).await?.ok_or_else(refused)
    }

    /// Gives a household a new consultation key (议事码) to support topics with; the old one
    /// stops working. For whoever keeps the register and the household's contact. Shown once.
    pub async fn issue_household_key(
        &self,
        actor: &Actor,
        household: &uuid::Uuid,
    ) -> AppResult<String> {
        let h = self
            .repo
            .household(household)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("household {household}")))?;
        self.reference()
            .await?
            .policy()
            .may_read_household(actor, &h.region, h.assignee.as_deref())
            .map_err(AppError::Forbidden)?;
        let key = civicgrid_domain::case::reporter_secret(self.ids.random_bits());
        let plain = key.replace('-', "");
        let digest =
            crate::cases::seal::reporter_key(self.sealer.as_deref(), &uuid::Uuid::nil(), &plain);
        self.repo
            .set_household_key(household, &digest, actor.name(), self.clock.now())
            .await?;
        Ok(key)
    }

    /// A household supports a topic of its scope, once. The support that reaches the
    /// threshold qualifies the topic and starts its agenda deadline on the working calendar.
    /// Every attempt counts against the caller's lookups: keys are credentials.
    pub async fn support_topic(
        &self,
        public_id: &str,
        household_key: &str,
        from: &crate::accounts::limits::ClientAddr,
    ) -> AppResult<TopicRecord> {
        self.count_lookup(from).await?;
        let household = self.household_of_key(household_key).await?;
        self.support_as(public_id, &household).await
    }

    /// A registered household's support (its key checked by the caller; the demo gives
    /// supports this way).
    pub(crate) async fn support_as(
        &self,
        public_id: &str,
        household: &civicgrid_store::HouseholdRecord,
    ) -> AppResult<TopicRecord> {
        for _attempt in 0..5 {
            let t = self.topic(public_id).await?;
            let in_scope = match &t.grid {
                Some(g) => &household.grid == g,
                None => household.region.as_str().starts_with(t.region.as_str()),
            };
            if !in_scope {
                return Err(AppError::Forbidden(format!(
                    "this household is not registered in {}",
                    t.scope
                )));
            }
            let next = decide_topic(&topic_state(&t), &TopicAction::Support)
                .map_err(AppError::Conflict)?;
            let now = self.clock.now();
            let mut changed = t.clone();
            changed.supports = next.supports;
            if next.status != t.status {
                let (_, days) = self.consultation_rule(&t.region).await?;
                let reference = self.reference().await?;
                changed.status = next.status;
                changed.qualified_at = Some(now);
                changed.agenda_due = Some(reference.calendar.deadline(
                    now,
                    TimeLimit {
                        clock: ClockType::WorkingDays,
                        amount: days,
                    },
                ));
            }
            let supporter = crate::cases::seal::reporter_key(
                self.sealer.as_deref(),
                &t.id,
                &household.id.to_string(),
            );
            let action = if changed.status == t.status {
                "support"
            } else {
                "qualify"
            };
            match self
                .repo
                .support_topic(
                    &changed,
                    t.version,
                    &supporter,
                    &event(now, "resident", action, ""),
                )
                .await
            {
                Err(StoreError::Conflict(_)) => {
                    return Err(AppError::Conflict(
                        "this household supports the topic already".into(),
                    ));
                }
                // Another support came first: count again on the fresh topic.
                Err(StoreError::Stale { .. }) => continue,
                other => other?,
            }
            changed.version = t.version + 1;
            return Ok(changed);
        }
        Err(AppError::Conflict("the topic is busy; try again".into()))
    }

    /// Withdraws a topic (those who run consultation in its region), with the reason shown.
    pub async fn withdraw_topic(
        &self,
        actor: &Actor,
        public_id: &str,
        reason: &str,
    ) -> AppResult<TopicRecord> {
        let t = self.topic(public_id).await?;
        self.manages(actor, &t.region).await?;
        let reason = reason.trim();
        if reason.chars().count() > 500 {
            return Err(unprocessable("reason", "at most 500 characters"));
        }
        let next = decide_topic(
            &topic_state(&t),
            &TopicAction::Withdraw {
                reason: reason.to_owned(),
            },
        )
        .map_err(|e| {
            if reason.is_empty() {
                unprocessable("reason", e)
            } else {
                AppError::Conflict(e)
            }
        })?;
        let mut changed = t.clone();
        changed.status = next.status;
        changed.withdraw_reason = Some(reason.to_owned());
        self.repo
            .update_topic(
                &changed,
                t.version,
                &event(self.clock.now(), actor.name(), "withdraw", reason),
            )
            .await
            .map_err(stale)?;
        changed.version = t.version + 1;
        Ok(changed)
    }

    /// A topic's events (those who run consultation there).
    pub async fn topic_history(
        &self,
        actor: &Actor,
        public_id: &str,
    ) -> AppResult<(TopicRecord, Vec<ConsultationEvent>)> {
        let t = self.topic(public_id).await?;
        self.manages(actor, &t.region).await?;
        let events = self.repo.consultation_events(&t.id).await?;
        Ok((t, events))
    }

    /// Posts an opinion (anyone; staff under their name), optionally in reply to another and
    /// with a photo; it goes through the same moderation as any other.
    pub async fn post_opinion(
        &self,
        actor: &Actor,
        public_id: &str,
        parent: Option<uuid::Uuid>,
        body: &str,
        photo: Option<(String, Vec<u8>)>,
    ) -> AppResult<OpinionRecord> {
        let t = self.topic(public_id).await?;
        if matches!(t.status, TopicStatus::Withdrawn) {
            return Err(AppError::Conflict("the topic was withdrawn".into()));
        }
        let mut problems = Vec::new();
        let body = text("body", body, 1, 1000, &mut problems);
        if let Some(p) = parent {
            match self.repo.opinion(&p).await? {
                Some(o) if o.topic_id == t.id => {}
                _ => problems.push((
                    "parent".to_owned(),
                    "not an opinion on this topic".to_owned(),
                )),
            }
        }
        if let Some((ct, data)) = &photo
            && let Err(e) = crate::cases::check_photo(ct, data)
        {
            return Err(e);
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        let author = match actor {
            Actor::Staff { username, .. } => username.clone(),
            _ => "resident".to_owned(),
        };
        let opinion = OpinionRecord {
            id: self.ids.new_id(now),
            topic_id: t.id,
            parent_id: parent,
            author: author.clone(),
            body,
            photo_type: photo.as_ref().map(|(ct, _)| ct.clone()),
            visibility: Visibility::Visible,
            flags: 0,
            hide_reason: None,
            posted_at: now,
            version: 0,
        };
        self.repo
            .create_opinion(
                &opinion,
                photo.as_ref().map(|(ct, d)| (ct.as_str(), d.as_slice())),
                &event(now, &author, "opine", ""),
            )
            .await?;
        Ok(opinion)
    }

    pub async fn opinions_of(&self, topic: &TopicRecord) -> AppResult<Vec<OpinionRecord>> {
        Ok(self.repo.opinions_of(&topic.id).await?)
    }

    async fn opinion_on(
        &self,
        public_id: &str,
        id: &uuid::Uuid,
    ) -> AppResult<(TopicRecord, OpinionRecord)> {
        let t = self.topic(public_id).await?;
        match self.repo.opinion(id).await? {
            Some(o) if o.topic_id == t.id => Ok((t, o)),
            _ => Err(AppError::NotFound(format!("opinion {id}"))),
        }
    }

    /// A photo of an opinion: public while the opinion shows; moderators see it always.
    pub async fn opinion_photo(
        &self,
        actor: &Actor,
        public_id: &str,
        id: &uuid::Uuid,
    ) -> AppResult<(String, Vec<u8>)> {
        let (t, o) = self.opinion_on(public_id, id).await?;
        if o.visibility != Visibility::Visible {
            self.moderates(actor, &t.region).await?;
        }
        self.repo
            .opinion_photo(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("photo of opinion {id}")))
    }

    /// Flags an opinion: each flagger (an account, or an address for the signed out) once.
    pub async fn flag_opinion(
        &self,
        flagger: &str,
        public_id: &str,
        id: &uuid::Uuid,
        reason: &str,
    ) -> AppResult<OpinionRecord> {
        let reason = reason.trim();
        if reason.chars().count() > 200 {
            return Err(unprocessable("reason", "at most 200 characters"));
        }
        for _attempt in 0..5 {
            let (_, o) = self.opinion_on(public_id, id).await?;
            let next = moderate(
                Moderated {
                    visibility: o.visibility,
                    flags: o.flags,
                },
                &Moderation::Flag,
            )
            .map_err(AppError::Conflict)?;
            let mut changed = o.clone();
            changed.visibility = next.visibility;
            changed.flags = next.flags;
            let key = crate::cases::seal::reporter_key(self.sealer.as_deref(), &o.id, flagger);
            let action = if next.visibility != o.visibility {
                "flag_hidden"
            } else {
                "flag"
            };
            match self
                .repo
                .flag_opinion(
                    &changed,
                    o.version,
                    &key,
                    &event(self.clock.now(), "anyone", action, reason),
                )
                .await
            {
                Err(StoreError::Conflict(_)) => {
                    return Err(AppError::Conflict(
                        "you flagged this opinion already".into(),
                    ));
                }
                Err(StoreError::Stale { .. }) => continue,
                other => other?,
            }
            changed.version = o.version + 1;
            return Ok(changed);
        }
        Err(AppError::Conflict("the opinion is busy; try again".into()))
    }

    /// A moderator hides (with the reason the author sees) or restores an opinion.
    pub async fn moderate_opinion(
        &self,
        actor: &Actor,
        public_id: &str,
        id: &uuid::Uuid,
        step: Moderation,
    ) -> AppResult<OpinionRecord> {
        let (t, o) = self.opinion_on(public_id, id).await?;
        self.moderates(actor, &t.region).await?;
        let reason = match &step {
            Moderation::Hide { reason } => {
                if reason.chars().count() > 200 {
                    return Err(unprocessable("reason", "at most 200 characters"));
                }
                reason.trim().to_owned()
            }
            _ => String::new(),
        };
        let next = moderate(
            Moderated {
                visibility: o.visibility,
                flags: o.flags,
            },
            &step,
        )
        .map_err(|e| match &step {
            Moderation::Hide { reason } if reason.trim().is_empty() => unprocessable("reason", e),
            _ => AppError::Conflict(e),
        })?;
        let mut changed = o.clone();
        changed.visibility = next.visibility;
        changed.flags = next.flags;
        changed.hide_reason = (next.visibility == Visibility::Hidden).then(|| reason.clone());
        self.repo
            .update_opinion(
                &changed,
                o.version,
                &event(self.clock.now(), actor.name(), step.name(), &reason),
            )
            .await
            .map_err(stale)?;
        changed.version = o.version + 1;
        Ok(changed)
    }

    /// An opinion's moderation steps (moderators).
    pub async fn opinion_history(
        &self,
        actor: &Actor,
        public_id: &str,
        id: &uuid::Uuid,
    ) -> AppResult<Vec<ConsultationEvent>> {
        let (t, _) = self.opinion_on(public_id, id).await?;
        self.moderates(actor, &t.region).await?;
        Ok(self.repo.consultation_events(id).await?)
    }
}
