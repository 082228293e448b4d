//! Volunteers and their service: registration with skills, availability and consent;
//! activities with shifts, capacity, required skills and a place; sign-up with a waiting list
//! that moves up; check-in and check-out by the activity's QR code (or by hand, flagged); the
//! hours ledger — append-only, each entry pending, approved or declined, decided in bulk —;
//! and the service-record certificate (志愿服务记录证明). An activity can carry out a case's
//! task (文明劝导, a clean-up): its hours link to the case.
//!
//! Service here; `rest.rs` + `views.rs` (`/api/v1/volunteers`, `/api/v1/activities`),
//! `pages.rs` (the activity, its check-in and the organiser's QR, the certificate), `kpi.rs`.

pub mod kpi;
pub mod pages;
pub mod rest;
pub mod views;

use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode, RegionLevel};
use civicgrid_domain::volunteer::{HoursStatus, Placement, has_skills, place, served_minutes};
use civicgrid_store::{ActivityRecord, HoursRecord, ShiftRecord, SignupRecord, VolunteerRecord};
use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use crate::App;
use crate::contacts::Contact;
use crate::error::{AppError, AppResult};

/// A volunteer's registration.
#[derive(Debug, Clone)]
pub struct NewVolunteer {
    pub name: String,
    pub phone: Option<String>,
    pub community: RegionCode,
    pub skills: Vec<String>,
    pub availability: String,
    /// The volunteer agreed that their data is kept; no registration without it.
    pub consent: bool,
    /// The account they sign in with; a self-registration is the caller's own.
    pub username: Option<String>,
}

/// A shift of a new activity.
#[derive(Debug, Clone)]
pub struct NewShift {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub capacity: u32,
}

#[derive(Debug, Clone)]
pub struct NewActivity {
    pub title: String,
    pub description: String,
    pub community: RegionCode,
    pub grid: Option<GridCode>,
    pub place: String,
    pub required_skills: Vec<String>,
    pub shifts: Vec<NewShift>,
    /// The case whose task the volunteers carry out.
    pub case: Option<Uuid>,
}

/// A shift with its sign-ups placed.
#[derive(Debug, Clone)]
pub struct ShiftPlaces {
    pub shift: ShiftRecord,
    /// Active sign-ups in order, each with its place.
    pub signups: Vec<(SignupRecord, Placement)>,
}

impl ShiftPlaces {
    pub fn confirmed(&self) -> usize {
        self.signups
            .iter()
            .filter(|(_, p)| *p == Placement::Confirmed)
            .count()
    }
    pub fn waiting(&self) -> usize {
        self.signups.len() - self.confirmed()
    }
    pub fn placement_of(&self, volunteer: &Uuid) -> Option<Placement> {
        self.signups
            .iter()
            .find(|(s, _)| &s.volunteer == volunteer)
            .map(|(_, p)| *p)
    }
}

/// What a scan of the activity's QR code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    CheckedIn,
    CheckedOut { minutes: u32 },
}

/// One line of a certificate.
#[derive(Debug, Clone)]
pub struct ServiceLine {
    pub day: Date,
    pub content: String,
    pub place: String,
    pub minutes: u32,
    /// Who approved the hours.
    pub certified_by: String,
}

/// 志愿服务记录证明: what the national 志愿服务记录与证明出具办法 asks a certificate to state —
/// who (name and volunteer number), each service's time, content and place, the total, and
/// the issuing organisation and date. Only approved hours appear.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub number: String,
    pub volunteer_name: String,
    pub volunteer_number: String,
    pub registered_with: String,
    pub lines: Vec<ServiceLine>,
    pub total_minutes: u64,
    pub issued_by: String,
    pub issued_on: Date,
}

fn unprocessable(field: &str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable(vec![(field.to_owned(), message.into())])
}

fn clean_skills(field: &str, skills: &[String]) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = skills
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    if out.len() > 10 || out.iter().any(|s| s.chars().count() > 20) {
        return Err(unprocessable(
            field,
            "at most 10 skills of at most 20 characters each",
        ));
    }
    Ok(out)
}

impl App {
    /// Registers a volunteer: oneself (any signed-in account), or someone else by whoever
    /// organises volunteers in the community.
    pub async fn register_volunteer(
        &self,
        actor: &Actor,
        new: NewVolunteer,
    ) -> AppResult<VolunteerRecord> {
        let reference = self.reference().await?;
        let me = match actor {
            Actor::Staff { username, .. } => Some(username.as_str()),
            Actor::System => None,
            _ => {
                return Err(AppError::Forbidden(
                    "volunteers register with an account".into(),
                ));
            }
        };
        let username = new.username.clone().filter(|u| !u.trim().is_empty());
        if me.is_none() || username.as_deref() != me {
            reference
                .policy()
                .may_manage_volunteers(actor, &new.community)
                .map_err(AppError::Forbidden)?;
        }
        let mut problems = Vec::new();
        if new.name.trim().is_empty() || new.name.chars().count() > 50 {
            problems.push(("name".to_owned(), "1 to 50 characters".to_owned()));
        }
        if new.community.level() != RegionLevel::Community
            || !reference.region_names.contains_key(&new.community)
        {
            problems.push((
                "community".to_owned(),
                format!("{} is not a community of this platform", new.community),
            ));
        }
        if !new.consent {
            problems.push((
                "consent".to_owned(),
                "a volunteer's data is kept only with their consent".to_owned(),
            ));
        }
        if new.availability.chars().count() > 100 {
            problems.push((
                "availability".to_owned(),
                "at most 100 characters".to_owned(),
            ));
        }
        if let Some(u) = &username
            && self.repo.user(u).await?.is_none()
        {
            problems.push(("username".to_owned(), format!("no account `{u}`")));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let skills = clean_skills("skills", &new.skills)?;
        let now = self.clock.now();
        let id = self.ids.new_id(now);
        let contact = new.phone.map(|p| Contact {
            phone: Some(p),
            ..Contact::default()
        });
        let record = VolunteerRecord {
            id,
            number: format!(
                "ZY{}",
                &civicgrid_domain::case::public_id(self.ids.random_bits())[..10]
            ),
            username,
            name: new.name.trim().to_owned(),
            phone_sealed: self.seal_contact(&id, contact.as_ref(), "phone")?,
            region: new.community,
            skills,
            availability: new.availability.trim().to_owned(),
            consent_at: now,
            registered_at: now,
        };
        match self.repo.save_volunteer(&record).await {
            Err(civicgrid_store::StoreError::Conflict(_)) => Err(unprocessable(
                "username",
                "this account is already a volunteer",
            )),
            other => Ok(other?),
        }?;
        Ok(record)
    }

    /// The volunteer the signed-in account is, if any.
    pub async fn me_as_volunteer(&self, actor: &Actor) -> AppResult<Option<VolunteerRecord>> {
        match actor {
            Actor::Staff { username, .. } => Ok(self.repo.volunteer_by_username(username).await?),
            _ => Ok(None),
        }
    }

    pub async fn volunteers_for(
        &self,
        actor: &Actor,
        within: &RegionCode,
    ) -> AppResult<Vec<VolunteerRecord>> {
        self.reference()
            .await?
            .policy()
            .may_manage_volunteers(actor, within)
            .map_err(AppError::Forbidden)?;
        Ok(self.repo.volunteers(within).await?)
    }

    /// One volunteer: themself, or whoever organises volunteers where they registered.
    pub async fn volunteer_for(&self, actor: &Actor, id: &Uuid) -> AppResult<VolunteerRecord> {
        let v = self
            .repo
            .volunteer(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("volunteer {id}")))?;
        let own =
            matches!(actor, Actor::Staff { username, .. } if v.username.as_ref() == Some(username));
        if !own {
            self.reference()
                .await?
                .policy()
                .may_manage_volunteers(actor, &v.region)
                .map_err(AppError::Forbidden)?;
        }
        Ok(v)
    }

    /// A volunteer's phone (people.read_contact in their community); every read audited.
    pub async fn volunteer_phone(&self, actor: &Actor, id: &Uuid) -> AppResult<Option<String>> {
        let v = self.volunteer_for(actor, id).await?;
        Ok(self
            .open_contact(
                actor,
                id,
                &v.region,
                v.phone_sealed.as_deref(),
                "volunteer phone",
            )
            .await?
            .and_then(|c| c.phone))
    }

    /// Creates an activity with its shifts (whoever organises volunteers in the community).
    pub async fn create_activity(
        &self,
        actor: &Actor,
        new: NewActivity,
    ) -> AppResult<(ActivityRecord, Vec<ShiftRecord>)> {
        let reference = self.reference().await?;
        reference
            .policy()
            .may_manage_volunteers(actor, &new.community)
            .map_err(AppError::Forbidden)?;
        let mut problems = Vec::new();
        if new.title.trim().is_empty() || new.title.chars().count() > 60 {
            problems.push(("title".to_owned(), "1 to 60 characters".to_owned()));
        }
        if new.description.chars().count() > 1000 {
            problems.push((
                "description".to_owned(),
                "at most 1000 characters".to_owned(),
            ));
        }
        if new.place.trim().is_empty() || new.place.chars().count() > 100 {
            problems.push(("place".to_owned(), "1 to 100 characters".to_owned()));
        }
        if new.community.level() != RegionLevel::Community
            || !reference.region_names.contains_key(&new.community)
        {
            problems.push((
                "community".to_owned(),
                format!("{} is not a community of this platform", new.community),
            ));
        }
        if let Some(g) = &new.grid
            && reference.grid_regions.get(g) != Some(&new.community)
        {
            problems.push((
                "grid".to_owned(),
                format!("{g} is not a grid of {}", new.community),
            ));
        }
        if new.shifts.is_empty() || new.shifts.len() > 20 {
            problems.push(("shifts".to_owned(), "1 to 20 shifts".to_owned()));
        }
        for (i, s) in new.shifts.iter().enumerate() {
            let length = s.ends_at.duration_since(s.starts_at);
            if length <= jiff::SignedDuration::ZERO || length > jiff::SignedDuration::from_hours(24)
            {
                problems.push((
                    format!("shifts[{i}].ends_at"),
                    "a shift ends after it starts, within a day".to_owned(),
                ));
            }
            if !(1..=500).contains(&s.capacity) {
                problems.push((
                    format!("shifts[{i}].capacity"),
                    "1 to 500 places".to_owned(),
                ));
            }
        }
        if let Some(case) = &new.case {
            match self.repo.case(case).await? {
                Some(c)
                    if reference.policy().may_read_case(actor, &c).is_ok()
                        && new.community.contains(&c.region) => {}
                Some(_) => problems.push((
                    "case".to_owned(),
                    "the case must lie in the activity's community and be one you can read"
                        .to_owned(),
                )),
                None => problems.push(("case".to_owned(), format!("no case {case}"))),
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let skills = clean_skills("required_skills", &new.required_skills)?;
        let now = self.clock.now();
        let id = self.ids.new_id(now);
        let token: String = (0..2)
            .map(|_| civicgrid_domain::case::public_id(self.ids.random_bits()))
            .collect();
        let activity = ActivityRecord {
            id,
            title: new.title.trim().to_owned(),
            description: new.description.trim().to_owned(),
            region: new.community,
            grid: new.grid,
            place: new.place.trim().to_owned(),
            required_skills: skills,
            organiser: actor.name().to_owned(),
            check_token: token,
            case: new.case,
            created_at: now,
        };
        let shifts: Vec<ShiftRecord> = new
            .shifts
            .iter()
            .map(|s| ShiftRecord {
                id: self.ids.new_id(now),
                activity: id,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                capacity: s.capacity,
            })
            .collect();
        self.repo.create_activity(&activity, &shifts).await?;
        Ok((activity, shifts))
    }

    /// Activities in `within` not over yet, soonest first (public).
    pub async fn upcoming_activities(
        &self,
        within: &RegionCode,
        limit: u32,
    ) -> AppResult<Vec<ActivityRecord>> {
        Ok(self
            .repo
            .activities(within, self.clock.now(), limit.min(200))
            .await?)
    }

    /// An activity with its shifts and who has a place on each.
    pub async fn activity_places(
        &self,
        id: &Uuid,
    ) -> AppResult<(ActivityRecord, Vec<ShiftPlaces>)> {
        let activity = self
            .repo
            .activity(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("activity {id}")))?;
        let mut out = Vec::new();
        for shift in self.repo.shifts(id).await? {
            let active: Vec<SignupRecord> = self
                .repo
                .signups(&shift.id)
                .await?
                .into_iter()
                .filter(|s| s.cancelled_at.is_none())
                .collect();
            let placed = place(active.len(), shift.capacity);
            out.push(ShiftPlaces {
                signups: active.into_iter().zip(placed).collect(),
                shift,
            });
        }
        Ok((activity, out))
    }

    async fn shift_and_activity(&self, shift: &Uuid) -> AppResult<(ShiftRecord, ActivityRecord)> {
        let s = self
            .repo
            .shift(shift)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("shift {shift}")))?;
        let a = self
            .repo
            .activity(&s.activity)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("activity {}", s.activity)))?;
        Ok((s, a))
    }

    async fn registered_volunteer(&self, actor: &Actor) -> AppResult<VolunteerRecord> {
        self.me_as_volunteer(actor)
            .await?
            .ok_or_else(|| AppError::Forbidden("register as a volunteer first".into()))
    }

    /// The signed-in volunteer signs up for a shift that has not started; a full shift puts
    /// them on its waiting list.
    pub async fn sign_up(&self, actor: &Actor, shift: &Uuid) -> AppResult<Placement> {
        let v = self.registered_volunteer(actor).await?;
        let (s, a) = self.shift_and_activity(shift).await?;
        if s.starts_at <= self.clock.now() {
            return Err(AppError::Conflict("the shift has started".into()));
        }
        if !has_skills(&v.skills, &a.required_skills) {
            return Err(AppError::Conflict(format!(
                "the activity asks for: {}",
                a.required_skills.join(", ")
            )));
        }
        let now = self.clock.now();
        let signup = SignupRecord {
            id: self.ids.new_id(now),
            shift: s.id,
            volunteer: v.id,
            signed_up_at: now,
            cancelled_at: None,
            checked_in_at: None,
            checked_out_at: None,
            manual: false,
        };
        match self.repo.sign_up(&signup).await {
            Err(civicgrid_store::StoreError::Conflict(m)) => return Err(AppError::Conflict(m)),
            other => other?,
        }
        let (_, shifts) = self.activity_places(&a.id).await?;
        shifts
            .iter()
            .find(|p| p.shift.id == s.id)
            .and_then(|p| p.placement_of(&v.id))
            .ok_or_else(|| AppError::Invalid("the sign-up was not kept".into()))
    }

    /// The signed-in volunteer cancels; the first on the waiting list moves up.
    pub async fn cancel_signup(&self, actor: &Actor, shift: &Uuid) -> AppResult<()> {
        let v = self.registered_volunteer(actor).await?;
        if self
            .repo
            .cancel_signup(shift, &v.id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(AppError::Conflict(
                "no sign-up to cancel (or already checked in)".into(),
            ))
        }
    }

    /// A scan of the activity's QR code by the signed-in volunteer: checks in on the shift
    /// running now (from an hour before it starts) where they have a place, or checks out if
    /// they are in. The token is the activity's secret printed in the code.
    pub async fn scan_check_in(
        &self,
        actor: &Actor,
        activity: &Uuid,
        token: &str,
    ) -> AppResult<Scan> {
        let v = self.registered_volunteer(actor).await?;
        let (a, shifts) = self.activity_places(activity).await?;
        let same = a.check_token.len() == token.len()
            && a.check_token
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0;
        if !same {
            return Err(AppError::Forbidden(
                "this is not the activity's check-in code".into(),
            ));
        }
        let now = self.clock.now();
        // The shift the volunteer is in, if any; otherwise the one starting nearest to now
        // that they have not finished (back-to-back shifts overlap by the hour's grace).
        let mine = |p: &&ShiftPlaces| {
            p.signups
                .iter()
                .find(|(s, place)| s.volunteer == v.id && *place == Placement::Confirmed)
                .map(|(s, _)| s.clone())
        };
        let candidates: Vec<(&ShiftPlaces, SignupRecord)> = shifts
            .iter()
            .filter(|p| {
                p.shift.starts_at - jiff::SignedDuration::from_hours(1) <= now
                    && now <= p.shift.ends_at + jiff::SignedDuration::from_hours(1)
            })
            .filter_map(|p| mine(&p).map(|s| (p, s)))
            .filter(|(_, s)| s.checked_out_at.is_none())
            .collect();
        let running = candidates
            .iter()
            .find(|(_, s)| s.checked_in_at.is_some())
            .or_else(|| {
                candidates
                    .iter()
                    .min_by_key(|(p, _)| now.duration_since(p.shift.starts_at).abs())
            })
            .map(|(p, _)| *p);
        let Some(p) = running else {
            return Err(AppError::Conflict(
                "you have no place on a shift of this activity running now".into(),
            ));
        };
        self.attend(&v, &a, &p.shift, now, false, actor.name())
            .await
    }

    /// Checks in (or, if in, out) a volunteer by hand — the organiser's manual entry, flagged.
    pub async fn attend_by_hand(
        &self,
        actor: &Actor,
        shift: &Uuid,
        volunteer: &Uuid,
        at: Option<Timestamp>,
    ) -> AppResult<Scan> {
        let (s, a) = self.shift_and_activity(shift).await?;
        self.reference()
            .await?
            .policy()
            .may_manage_volunteers(actor, &a.region)
            .map_err(AppError::Forbidden)?;
        let v = self
            .repo
            .volunteer(volunteer)
            .await?
            .ok_or_else(|| unprocessable("volunteer", format!("no volunteer {volunteer}")))?;
        let now = self.clock.now();
        let at = at.unwrap_or(now);
        if at > now {
            return Err(unprocessable("at", "not in the future"));
        }
        self.attend(&v, &a, &s, at, true, actor.name()).await
    }

    async fn attend(
        &self,
        v: &VolunteerRecord,
        a: &ActivityRecord,
        s: &ShiftRecord,
        at: Timestamp,
        manual: bool,
        by: &str,
    ) -> AppResult<Scan> {
        let signup = self
            .repo
            .signups(&s.id)
            .await?
            .into_iter()
            .find(|x| x.volunteer == v.id && x.cancelled_at.is_none())
            .ok_or_else(|| {
                AppError::Conflict(format!("{} is not signed up for this shift", v.name))
            })?;
        match (signup.checked_in_at, signup.checked_out_at) {
            (None, _) => {
                if !self.repo.check_in(&s.id, &v.id, at, manual).await? {
                    return Err(AppError::Conflict("already checked in".into()));
                }
                Ok(Scan::CheckedIn)
            }
            (Some(since), None) => {
                let minutes = served_minutes(since, at, s.starts_at, s.ends_at)
                    .map_err(|m| unprocessable("at", m))?;
                let minutes = minutes.max(1);
                let entry = HoursRecord {
                    id: self.ids.new_id(self.clock.now()),
                    volunteer: v.id,
                    activity: Some(a.id),
                    case: a.case,
                    region: a.region.clone(),
                    day: self.local_day(since).await?,
                    minutes,
                    manual: manual || signup.manual,
                    recorded_by: by.to_owned(),
                    recorded_at: self.clock.now(),
                    status: HoursStatus::Pending,
                    decided_by: None,
                    decided_at: None,
                    note: String::new(),
                };
                if !self
                    .repo
                    .check_out(&s.id, &v.id, at, manual, &entry)
                    .await?
                {
                    return Err(AppError::Conflict("already checked out".into()));
                }
                Ok(Scan::CheckedOut { minutes })
            }
            (Some(_), Some(_)) => Err(AppError::Conflict(
                "already checked out of this shift".into(),
            )),
        }
    }

    /// Records hours by hand (service outside an activity, or a correction), pending
    /// approval, flagged as manual.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_hours(
        &self,
        actor: &Actor,
        volunteer: &Uuid,
        day: Date,
        minutes: u32,
        note: &str,
        activity: Option<Uuid>,
        case: Option<Uuid>,
    ) -> AppResult<HoursRecord> {
        let v = self
            .repo
            .volunteer(volunteer)
            .await?
            .ok_or_else(|| unprocessable("volunteer", format!("no volunteer {volunteer}")))?;
        let (region, case) = match &activity {
            Some(id) => {
                let a = self
                    .repo
                    .activity(id)
                    .await?
                    .ok_or_else(|| unprocessable("activity", format!("no activity {id}")))?;
                (a.region, case.or(a.case))
            }
            None => (v.region.clone(), case),
        };
        self.reference()
            .await?
            .policy()
            .may_manage_volunteers(actor, &region)
            .map_err(AppError::Forbidden)?;
        if !(1..=civicgrid_domain::volunteer::MAX_ENTRY_MINUTES).contains(&minutes) {
            return Err(unprocessable("minutes", "1 to 1440 minutes"));
        }
        let today = self.local_day(self.clock.now()).await?;
        if day > today {
            return Err(unprocessable(
                "day",
                "hours are recorded after they are served",
            ));
        }
        // Within a month, as visits are: hours do not reach into long-closed assessments.
        if (today - day).get_days() > 31 {
            return Err(unprocessable(
                "day",
                "record hours within a month of serving",
            ));
        }
        if note.trim().is_empty() || note.chars().count() > 500 {
            return Err(unprocessable(
                "note",
                "say what was done, at most 500 characters",
            ));
        }
        let entry = HoursRecord {
            id: self.ids.new_id(self.clock.now()),
            volunteer: v.id,
            activity,
            case,
            region,
            day,
            minutes,
            manual: true,
            recorded_by: actor.name().to_owned(),
            recorded_at: self.clock.now(),
            status: HoursStatus::Pending,
            decided_by: None,
            decided_at: None,
            note: note.trim().to_owned(),
        };
        self.repo.record_hours(&entry).await?;
        Ok(entry)
    }

    /// Approves or declines pending entries in bulk (whoever organises volunteers where the
    /// service was); entries already decided stay as they were. Returns the ids decided.
    pub async fn decide_hours(
        &self,
        actor: &Actor,
        ids: &[Uuid],
        approve: bool,
    ) -> AppResult<Vec<Uuid>> {
        if ids.is_empty() || ids.len() > 1000 {
            return Err(unprocessable("entries", "1 to 1000 entries"));
        }
        let policy_ref = self.reference().await?;
        for id in ids {
            let e = self
                .repo
                .hours_entry(id)
                .await?
                .ok_or_else(|| unprocessable("entries", format!("no entry {id}")))?;
            policy_ref
                .policy()
                .may_manage_volunteers(actor, &e.region)
                .map_err(AppError::Forbidden)?;
        }
        let status = if approve {
            HoursStatus::Approved
        } else {
            HoursStatus::Declined
        };
        Ok(self
            .repo
            .decide_hours(ids, status, actor.name(), self.clock.now())
            .await?)
    }

    /// Entries served in `within`, of a status or all (whoever organises volunteers there).
    pub async fn hours_for(
        &self,
        actor: &Actor,
        within: &RegionCode,
        status: Option<HoursStatus>,
    ) -> AppResult<Vec<HoursRecord>> {
        self.reference()
            .await?
            .policy()
            .may_manage_volunteers(actor, within)
            .map_err(AppError::Forbidden)?;
        Ok(self.repo.hours_in(within, status, 1000).await?)
    }

    /// A volunteer's ledger (themself, or whoever organises volunteers there).
    pub async fn ledger_of(
        &self,
        actor: &Actor,
        id: &Uuid,
    ) -> AppResult<(VolunteerRecord, Vec<HoursRecord>)> {
        let v = self.volunteer_for(actor, id).await?;
        let entries = self.repo.hours_of(&v.id).await?;
        Ok((v, entries))
    }

    /// The service-record certificate of a volunteer: their approved hours, each with what,
    /// where and who certified it.
    pub async fn certificate(&self, actor: &Actor, id: &Uuid) -> AppResult<Certificate> {
        let (v, entries) = self.ledger_of(actor, id).await?;
        let reference = self.reference().await?;
        let mut lines = Vec::new();
        for e in entries.iter().filter(|e| e.status == HoursStatus::Approved) {
            let (content, place) = match &e.activity {
                Some(a) => match self.repo.activity(a).await? {
                    Some(a) => (a.title, a.place),
                    None => (e.note.clone(), reference.region_name(&e.region)),
                },
                None => (e.note.clone(), reference.region_name(&e.region)),
            };
            lines.push(ServiceLine {
                day: e.day,
                content,
                place,
                minutes: e.minutes,
                certified_by: e.decided_by.clone().unwrap_or_default(),
            });
        }
        let total_minutes = lines.iter().map(|l| u64::from(l.minutes)).sum();
        let issued_on = self.local_day(self.clock.now()).await?;
        Ok(Certificate {
            number: format!("{}-{}", v.number, issued_on.strftime("%Y%m%d")),
            volunteer_name: v.name.clone(),
            volunteer_number: v.number.clone(),
            registered_with: reference.region_name(&v.region),
            lines,
            total_minutes,
            issued_by: format!("{}志愿服务站", reference.region_name(&v.region)),
            issued_on,
        })
    }
}
