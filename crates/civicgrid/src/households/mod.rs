//! Household contacts (包片联户): the household register (an address placed in a grid, an
//! optional sealed contact, whether consent was recorded — nothing more, no profiling), each
//! household's contact (a member or grid worker), visit plans per grid or beat, the visit log,
//! and coverage, which counts in the assessment (`kpi.rs`).
//!
//! Service here; `rest.rs` + `views.rs` (`/api/v1/households`, `/api/v1/visits`), `pages.rs`
//! (the members' phone view of their households), `kpi.rs`, `jobs.rs`.

pub mod cli;
pub mod jobs;
pub mod kpi;
pub mod pages;
pub mod rest;
pub mod views;

use std::collections::BTreeMap;

use civicgrid_domain::access::Permission;
use civicgrid_domain::household::{DEFAULT_INTERVAL_DAYS, MAX_INTERVAL_DAYS, VisitChannel, is_due};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_store::{HouseholdRecord, VisitRecord};
use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use crate::App;
use crate::contacts::Contact;
use crate::error::{AppError, AppResult, InputError};
use crate::interchange::csv_table::{self, field_error};

pub const HOUSEHOLD_COLUMNS: &[&str] = &[
    "grid",
    "building",
    "unit",
    "room",
    "consent",
    "contact_name",
    "contact_phone",
];

/// A household as it is registered.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    pub grid: GridCode,
    pub building: String,
    pub unit: String,
    pub room: String,
    /// Whether the household agreed to be kept; a contact is kept only with consent.
    pub consent: bool,
    pub contact: Option<Contact>,
}

/// A household with what its contact needs to know now.
#[derive(Debug, Clone)]
pub struct HouseholdStatus {
    pub household: HouseholdRecord,
    pub interval_days: u32,
    pub last_visit: Option<Date>,
    /// Not contacted in the window running today.
    pub due: bool,
}

/// A contact logged with a household.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub household: Uuid,
    pub channel: VisitChannel,
    pub topics: String,
    pub notes: String,
    /// When it happened; now if not given (a visit logged later says when).
    pub at: Option<Timestamp>,
}

fn unprocessable(field: &str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable(vec![(field.to_owned(), message.into())])
}

fn address_problems(building: &str, unit: &str, room: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (field, value) in [("building", building), ("unit", unit), ("room", room)] {
        if value.chars().count() > 30 || (field != "unit" && value.trim().is_empty()) {
            out.push((
                field,
                if field == "unit" {
                    "at most 30 characters"
                } else {
                    "1 to 30 characters"
                }
                .to_owned(),
            ));
        }
    }
    out
}

impl App {
    /// The day `at` falls on in the deployment's time zone.
    pub(crate) async fn local_day(&self, at: Timestamp) -> AppResult<Date> {
        let reference = self.reference().await?;
        Ok(at.to_zoned(reference.calendar.time_zone().clone()).date())
    }

    /// The contact interval of a household in `grid`: its beat's plan, else its grid's, else
    /// the default.
    pub(crate) async fn intervals(&self) -> AppResult<impl Fn(&GridCode) -> u32 + use<>> {
        let plans: BTreeMap<String, u32> = self.repo.visit_plans().await?.into_iter().collect();
        let beats = self.repo.beats().await?;
        let mut by_grid: BTreeMap<GridCode, u32> = BTreeMap::new();
        for (scope, days) in &plans {
            if let Some(code) = scope.strip_prefix("grid:")
                && let Ok(g) = code.parse()
            {
                by_grid.entry(g).or_insert(*days);
            }
        }
        for b in &beats {
            if let Some(days) = plans.get(&format!("beat:{}", b.code)) {
                for g in &b.grids {
                    by_grid.insert(g.clone(), *days);
                }
            }
        }
        Ok(move |g: &GridCode| by_grid.get(g).copied().unwrap_or(DEFAULT_INTERVAL_DAYS))
    }

    /// Registers households, all or nothing (household.manage in their communities).
    pub async fn add_households(
        &self,
        actor: &Actor,
        new: Vec<NewHousehold>,
    ) -> AppResult<Vec<HouseholdRecord>> {
        let single = new.len() == 1;
        let (records, problems) = self.household_records(actor, new).await?;
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(
                problems
                    .into_iter()
                    .map(|(i, f, m)| (if single { f } else { format!("[{i}].{f}") }, m))
                    .collect(),
            ));
        }
        self.save_household_records(&records).await?;
        Ok(records)
    }

    async fn save_household_records(&self, records: &[HouseholdRecord]) -> AppResult<()> {
        match self.repo.save_households(records, self.clock.now()).await {
            Err(civicgrid_store::StoreError::Conflict(_)) => {
                Err(unprocessable("room", "this address is already registered"))
            }
            other => Ok(other?),
        }
    }

    /// The records for new households and the problems with them, each (index, field, problem).
    async fn household_records(
        &self,
        actor: &Actor,
        new: Vec<NewHousehold>,
    ) -> AppResult<(Vec<HouseholdRecord>, Vec<(usize, String, String)>)> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        let existing: std::collections::BTreeSet<(String, String, String, String)> =
            Default::default();
        let mut seen = existing;
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for (i, h) in new.into_iter().enumerate() {
            let Some(community) = reference.grid_regions.get(&h.grid).cloned() else {
                problems.push((i, "grid".to_owned(), format!("no grid {}", h.grid)));
                continue;
            };
            policy
                .may_manage_households(actor, &community)
                .map_err(AppError::Forbidden)?;
            for (f, m) in address_problems(&h.building, &h.unit, &h.room) {
                problems.push((i, f.to_owned(), m));
            }
            if h.contact.as_ref().is_some_and(|c| !c.is_empty()) && !h.consent {
                problems.push((
                    i,
                    "consent".to_owned(),
                    "a contact is kept only with the household's consent".to_owned(),
                ));
            }
            let key = (
                h.grid.to_string(),
                h.building.trim().to_owned(),
                h.unit.trim().to_owned(),
                h.room.trim().to_owned(),
            );
            if !seen.insert(key) {
                problems.push((
                    i,
                    "room".to_owned(),
                    "this address is listed twice".to_owned(),
                ));
            }
            let id = self.ids.new_id(self.clock.now());
            let contact_sealed = match self.seal_contact(&id, h.contact.as_ref(), "contact") {
                Ok(sealed) => sealed,
                Err(AppError::Unprocessable(fields)) => {
                    problems.extend(fields.into_iter().map(|(f, m)| (i, f, m)));
                    None
                }
                Err(e) => return Err(e),
            };
            records.push(HouseholdRecord {
                id,
                region: community,
                grid: h.grid,
                building: h.building.trim().to_owned(),
                unit: h.unit.trim().to_owned(),
                room: h.room.trim().to_owned(),
                contact_sealed,
                consent: h.consent,
                assignee: None,
                assigned_on: None,
            });
        }
        Ok((records, problems))
    }

    /// Imports households from CSV (`grid,building,unit,room,consent,contact_name,
    /// contact_phone`), all or nothing; every problem named by file, line and field.
    pub async fn import_households(
        &self,
        actor: &Actor,
        file: &str,
        text: &str,
    ) -> AppResult<usize> {
        let rows = csv_table::read(file, text, &HOUSEHOLD_COLUMNS[..5], |row| {
            let consent = match row.get("consent")?.to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" | "是" => true,
                "no" | "false" | "0" | "否" => false,
                other => {
                    return Err(field_error(
                        "consent",
                        format!("`{other}` is not yes or no"),
                    ));
                }
            };
            let contact = Contact {
                name: row.opt("contact_name").map(str::to_owned),
                phone: row.opt("contact_phone").map(str::to_owned),
                email: None,
                ..Default::default()
            };
            Ok((
                row.line,
                NewHousehold {
                    grid: row.parse("grid")?,
                    building: row.get("building")?.to_owned(),
                    unit: row.opt("unit").unwrap_or_default().to_owned(),
                    room: row.get("room")?.to_owned(),
                    consent,
                    contact: (!contact.is_empty()).then_some(contact),
                },
            ))
        })
        .map_err(AppError::Input)?;
        let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
        let (records, problems) = self
            .household_records(actor, rows.into_iter().map(|(_, h)| h).collect())
            .await?;
        if !problems.is_empty() {
            return Err(AppError::Input(
                problems
                    .into_iter()
                    .map(|(i, f, m)| {
                        let column = match f.as_str() {
                            "contact.name" => "contact_name",
                            "contact.phone" => "contact_phone",
                            other => other,
                        };
                        InputError::line(file, lines[i], Some(column), m)
                    })
                    .collect(),
            ));
        }
        self.save_household_records(&records).await?;
        Ok(records.len())
    }

    /// Households in `within` (household.manage there), or, without `within`, the actor's own.
    pub async fn households_for(
        &self,
        actor: &Actor,
        within: Option<&RegionCode>,
    ) -> AppResult<Vec<HouseholdStatus>> {
        let assignee = match within {
            None => Some(actor.name().to_owned()),
            Some(within) => {
                self.reference()
                    .await?
                    .policy()
                    .may_manage_households(actor, within)
                    .map_err(AppError::Forbidden)?;
                None
            }
        };
        let reference = self.reference().await?;
        let policy = reference.policy();
        // One's own households as far as one may still read them (grants move).
        let households: Vec<HouseholdRecord> = self
            .repo
            .households(within, assignee.as_deref())
            .await?
            .into_iter()
            .filter(|h| {
                policy
                    .may_read_household(actor, &h.region, h.assignee.as_deref())
                    .is_ok()
            })
            .collect();
        let interval = self.intervals().await?;
        let today = self.local_day(self.clock.now()).await?;
        let mut out = Vec::new();
        for h in households {
            let visits = self.repo.visits_of(&h.id).await?;
            let days: Vec<Date> = visits.iter().map(|v| v.day).collect();
            let days_interval = interval(&h.grid);
            out.push(HouseholdStatus {
                due: h.assignee.is_some() && is_due(days_interval, &days, today),
                last_visit: days.first().copied(),
                interval_days: days_interval,
                household: h,
            });
        }
        Ok(out)
    }

    /// The households the signed-in member or grid worker keeps in touch with, those due first.
    pub async fn my_households(&self, actor: &Actor) -> AppResult<Vec<HouseholdStatus>> {
        let Actor::Staff { .. } = actor else {
            return Err(AppError::Forbidden(
                "household contacts are for members and grid workers".into(),
            ));
        };
        let mut list = self.households_for(actor, None).await?;
        list.sort_by_key(|h| {
            (
                !h.due,
                h.last_visit,
                h.household.building.clone(),
                h.household.room.clone(),
            )
        });
        Ok(list)
    }

    /// One household with its visits, newest first: for whoever keeps the register, and for
    /// its contact.
    pub async fn household_for(
        &self,
        actor: &Actor,
        id: &Uuid,
    ) -> AppResult<(HouseholdStatus, Vec<VisitRecord>)> {
        let h = self
            .repo
            .household(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("household {id}")))?;
        self.reference()
            .await?
            .policy()
            .may_read_household(actor, &h.region, h.assignee.as_deref())
            .map_err(AppError::Forbidden)?;
        let visits = self.repo.visits_of(id).await?;
        let days: Vec<Date> = visits.iter().map(|v| v.day).collect();
        let interval = self.intervals().await?(&h.grid);
        let today = self.local_day(self.clock.now()).await?;
        Ok((
            HouseholdStatus {
                due: h.assignee.is_some() && is_due(interval, &days, today),
                last_visit: days.first().copied(),
                interval_days: interval,
                household: h,
            },
            visits,
        ))
    }

    /// A household's contact (people.read_contact in its community); every read audited.
    pub async fn household_contact(&self, actor: &Actor, id: &Uuid) -> AppResult<Option<Contact>> {
        let (status, _) = self.household_for(actor, id).await?;
        let h = &status.household;
        self.open_contact(
            actor,
            id,
            &h.region,
            h.contact_sealed.as_deref(),
            "household contact",
        )
        .await
    }

    /// Gives households to a member or grid worker (or takes them back with `None`), from
    /// today. The contact must be an account that logs visits in each household's community.
    pub async fn assign_households(
        &self,
        actor: &Actor,
        ids: &[Uuid],
        assignee: Option<&str>,
    ) -> AppResult<u64> {
        if ids.is_empty() || ids.len() > 1000 {
            return Err(unprocessable("households", "1 to 1000 households"));
        }
        let reference = self.reference().await?;
        let policy = reference.policy();
        let contact =
            match assignee {
                Some(u) => Some(self.repo.user(u).await?.filter(|u| u.active).ok_or_else(
                    || unprocessable("assignee", format!("no active account `{u}`")),
                )?),
                None => None,
            };
        for id in ids {
            let h = self
                .repo
                .household(id)
                .await?
                .ok_or_else(|| unprocessable("households", format!("no household {id}")))?;
            policy
                .may_manage_households(actor, &h.region)
                .map_err(AppError::Forbidden)?;
            if let Some(u) = &contact {
                let as_actor = Actor::Staff {
                    username: u.username.clone(),
                    grants: u.grants.clone(),
                };
                if !policy.holds_in(&as_actor, Permission::VisitLog, &h.region) {
                    return Err(unprocessable(
                        "assignee",
                        format!("{} does not log visits in {}", u.username, h.region),
                    ));
                }
            }
        }
        let today = self.local_day(self.clock.now()).await?;
        Ok(self.repo.assign_households(ids, assignee, today).await?)
    }

    /// Sets how often households must be contacted in a grid or beat (`grid:CODE`,
    /// `beat:CODE`), or removes the plan with `None`.
    pub async fn set_visit_plan(
        &self,
        actor: &Actor,
        scope: &str,
        interval_days: Option<u32>,
    ) -> AppResult<()> {
        if let Some(d) = interval_days
            && !(1..=MAX_INTERVAL_DAYS).contains(&d)
        {
            return Err(unprocessable(
                "interval_days",
                format!("1 to {MAX_INTERVAL_DAYS} days"),
            ));
        }
        let reference = self.reference().await?;
        let region = match scope.split_once(':') {
            Some(("grid", code)) => code
                .parse::<GridCode>()
                .ok()
                .and_then(|g| reference.grid_regions.get(&g).cloned()),
            Some(("beat", code)) => self
                .repo
                .beats()
                .await?
                .into_iter()
                .find(|b| b.code == code)
                .map(|b| b.region),
            _ => None,
        }
        .ok_or_else(|| {
            unprocessable(
                "scope",
                format!("`{scope}` is not grid:CODE or beat:CODE of this platform"),
            )
        })?;
        reference
            .policy()
            .may_manage_households(actor, &region)
            .map_err(AppError::Forbidden)?;
        Ok(self.repo.set_visit_plan(scope, interval_days).await?)
    }

    /// Logs a contact with a household (its contact, or whoever keeps the register there).
    pub async fn log_visit(&self, actor: &Actor, new: NewVisit) -> AppResult<VisitRecord> {
        let h =
            self.repo.household(&new.household).await?.ok_or_else(|| {
                unprocessable("household", format!("no household {}", new.household))
            })?;
        self.reference()
            .await?
            .policy()
            .may_log_visit(actor, &h.region, h.assignee.as_deref())
            .map_err(AppError::Forbidden)?;
        let now = self.clock.now();
        let at = new.at.unwrap_or(now);
        let mut problems = Vec::new();
        if at > now {
            problems.push((
                "at".to_owned(),
                "a visit cannot be logged before it happens".to_owned(),
            ));
        }
        if now.duration_since(at) > jiff::SignedDuration::from_hours(24 * 31) {
            problems.push(("at".to_owned(), "log visits within a month".to_owned()));
        }
        if new.topics.chars().count() > 200 {
            problems.push(("topics".to_owned(), "at most 200 characters".to_owned()));
        }
        if new.notes.chars().count() > 2000 {
            problems.push(("notes".to_owned(), "at most 2000 characters".to_owned()));
        }
        if new.topics.trim().is_empty() && new.notes.trim().is_empty() {
            problems.push((
                "topics".to_owned(),
                "say what the contact was about".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let visit = VisitRecord {
            id: self.ids.new_id(now),
            household: h.id,
            region: h.region.clone(),
            visitor: actor.name().to_owned(),
            at,
            day: self.local_day(at).await?,
            channel: new.channel,
            topics: new.topics.trim().to_owned(),
            notes: new.notes.trim().to_owned(),
            case: None,
        };
        self.repo.log_visit(&visit).await?;
        Ok(visit)
    }

    /// Visits in `within` on days in [from, to), for whoever keeps the register there.
    pub async fn visits_for(
        &self,
        actor: &Actor,
        within: &RegionCode,
        from: Date,
        to: Date,
    ) -> AppResult<Vec<VisitRecord>> {
        self.reference()
            .await?
            .policy()
            .may_manage_households(actor, within)
            .map_err(AppError::Forbidden)?;
        Ok(self.repo.visits_in(within, from, to, 1000).await?)
    }

    /// Reports what a visit found as a case in the loop, linked to the visit: placed in the
    /// household's grid with its address, by the visitor, as a patrol finding.
    pub async fn report_from_visit(
        &self,
        actor: &Actor,
        visit: &Uuid,
        description: String,
        category: Option<civicgrid_domain::catalogue::CategoryCode>,
        location: Option<(f64, f64)>,
    ) -> AppResult<civicgrid_domain::case::Case> {
        let v = self
            .repo
            .visit(visit)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("visit {visit}")))?;
        if v.visitor != actor.name() || !matches!(actor, Actor::Staff { .. }) {
            return Err(AppError::Forbidden(
                "a case is reported from a visit by whoever made it".into(),
            ));
        }
        if v.case.is_some() {
            return Err(AppError::Conflict(
                "a case was already reported from this visit".into(),
            ));
        }
        let h = self
            .repo
            .household(&v.household)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("household {}", v.household)))?;
        let intake = crate::cases::Intake {
            description,
            location,
            grid: Some(h.grid.clone()),
            address: Some(format!("{}{}{}", h.building, h.unit, h.room)),
            category,
            attributes: Default::default(),
            priority: None,
            channel: civicgrid_domain::case::Channel::Patrol,
            reporter: None,
            media_url: None,
        };
        // Hold the visit first: of two reports sent at once, one goes in.
        self.repo
            .link_visit_case(visit, &Uuid::nil())
            .await
            .map_err(|_| {
                AppError::Conflict("a case was already reported from this visit".into())
            })?;
        let case = match self.report_case(intake, actor).await {
            Ok(c) => c,
            Err(e) => {
                self.repo.release_visit_claim(visit).await?;
                return Err(e);
            }
        };
        self.repo.link_visit_case(visit, &case.id).await?;
        Ok(case)
    }
}
