//! The case loop as a service: intake (place, route, time), actions with permission and
//! version checks, and reading cases and their timelines.

pub mod cli;

pub mod pages;

pub mod rest;
pub mod views;

pub mod jobs;
pub mod kpi;
pub mod seal;
pub mod writer;

use std::collections::BTreeMap;

use civicgrid_domain::case::deadline::{Pause, postpone, stage_deadline};
use civicgrid_domain::case::{
    Action, Case, CaseState, Channel, Request, StageClock, Status, apply, decide, receipt_code,
};
use civicgrid_domain::catalogue::{Category, CategoryCode, Priority};
use civicgrid_domain::routing::{RoutingFacts, route};
use civicgrid_domain::territory::GridCode;
use civicgrid_store::{CaseEvent, CaseFilter, StoreError};
use jiff::Timestamp;
use uuid::Uuid;

use crate::App;
use crate::error::{AppError, AppResult};

pub use civicgrid_domain::policy::Actor;

/// A report as it arrives from any channel.
#[derive(Debug, Clone)]
pub struct Intake {
    pub description: String,
    /// WGS84 (lon, lat).
    pub location: Option<(f64, f64)>,
    /// A grid named by the caller instead of a point (Open311 `address_id`, a grid worker's
    /// own grid). A point, when given too, wins.
    pub grid: Option<GridCode>,
    pub address: Option<String>,
    pub category: Option<CategoryCode>,
    pub attributes: BTreeMap<String, String>,
    pub priority: Option<Priority>,
    pub channel: Channel,
    /// Contact details, sealed before they are stored.
    pub reporter: Option<crate::cases::seal::Reporter>,
    /// A link to a photo the reporter's app keeps (Open311 `media_url`), kept in the report
    /// event.
    pub media_url: Option<String>,
}

/// A call-taker's or dispatcher's correction of where a case is and what it is about: a point
/// (placed in its grid) or a grid, a category, or both, with the reason.
#[derive(Debug, Clone, Default)]
pub struct Correction {
    pub location: Option<(f64, f64)>,
    pub grid: Option<GridCode>,
    pub category: Option<CategoryCode>,
    pub reason: String,
}

/// What the public sees of a case by its receipt code.
pub struct Tracked {
    /// The case the receipt was issued for.
    pub reported: Case,
    /// The case whose progress it follows: itself, or the case it was merged into (both
    /// reporters follow the master case).
    pub followed: Case,
    /// The followed case's timeline.
    pub events: Vec<CaseEvent>,
}

/// Problems with fields of a request, each (field, problem).
pub fn invalid(fields: Vec<(String, String)>) -> AppError {
    AppError::Unprocessable(fields)
}

/// What the reporter takes away: the case (with its receipt code) and the secret that, with
/// the receipt code, lets them evaluate the case or add to it. The secret exists only here;
/// the store keeps its digest.
pub struct Receipt {
    pub case: Case,
    pub secret: String,
}

impl App {
    /// Takes in a report (see [`App::report_case_with_receipt`]) when nobody is given the
    /// secret: the demo, imports, tests.
    pub async fn report_case(&self, intake: Intake, actor: &Actor) -> AppResult<Case> {
        Ok(self.report_case_with_receipt(intake, actor).await?.case)
    }

    /// Takes in a report: validates it, places it in a grid, routes it through the
    /// responsibility list, starts the accept clock, and stores it with its first event. The
    /// case is durably committed before this returns.
    pub async fn report_case_with_receipt(
        &self,
        intake: Intake,
        actor: &Actor,
    ) -> AppResult<Receipt> {
        let problems = self.intake_problems(&intake).await?;
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let reference = self.reference().await?;
        let now = self.clock.now();
        for _attempt in 0..5 {
            let (case, event, secret) = self.draft_case(&intake, actor, &reference, now)?;
            let write = civicgrid_store::CaseWrite::New {
                case: case.clone(),
                event,
            };
            match self.write_case(write).await {
                Ok(()) => return Ok(Receipt { case, secret }),
                // A receipt-code or public-number collision: try again with new ones.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Invalid(
            "could not allocate a receipt code".into(),
        ))
    }

    /// A new case from a checked intake, in memory: placed in its grid, routed, its accept
    /// clock started at `now`, with fresh identifiers and secret; its first event; the secret.
    pub(crate) fn draft_case(
        &self,
        intake: &Intake,
        actor: &Actor,
        reference: &crate::reference::Reference,
        now: jiff::Timestamp,
    ) -> AppResult<(Case, CaseEvent, String)> {
        let description = intake.description.trim().to_owned();
        let category: Option<&Category> = intake
            .category
            .as_ref()
            .and_then(|code| reference.category(code));
        // Place it: a point gives its grid; a named grid is taken as it is; an address alone
        // lands in the territory's top region without a grid, for the dispatcher to place.
        let grid = match (intake.location, &intake.grid) {
            (Some((lon, lat)), _) => Some(
                reference
                    .grid_index
                    .locate(lon, lat)
                    .cloned()
                    .ok_or_else(|| {
                        invalid(vec![(
                            "lon".to_owned(),
                            format!("({lon}, {lat}) lies outside every grid of this platform"),
                        )])
                    })?,
            ),
            (None, Some(g)) => Some(g.clone()),
            (None, None) => None,
        };
        let region = match &grid {
            Some(g) => reference.grid_regions.get(g).cloned().ok_or_else(|| {
                invalid(vec![("grid".to_owned(), format!("{g} is not a grid of this platform"))])
            })?,
            None => reference.top_region.clone().ok_or_else(|| {
                invalid(vec![(
                    "lon".to_owned(),
                    "an address alone cannot be placed on a platform with several top regions; give lon and lat".to_owned(),
                )])
            })?,
        };
        let priority = intake
            .priority
            .or(category.map(|c| c.default_priority))
            .unwrap_or(Priority::Normal);

        let (units, routing) = match category {
            Some(c) => {
                let facts = RoutingFacts {
                    category: &c.code,
                    kind: c.kind,
                    region: &region,
                    attributes: &intake.attributes,
                };
                match route(&facts, &reference.rules, &reference.units) {
                    Ok(a) => {
                        let mut units = vec![a.primary];
                        units.extend(a.co_handlers);
                        (units, a.explanation)
                    }
                    // Placed by address only: the dispatcher places and routes it.
                    Err(e) if grid.is_none() => (
                        vec![],
                        civicgrid_domain::routing::Reason::AddressOnly {
                            region: region.to_string(),
                            detail: e.to_string(),
                        }
                        .english(),
                    ),
                    Err(e) => return Err(AppError::Invalid(e.to_string())),
                }
            }
            None => (
                vec![],
                civicgrid_domain::routing::Reason::NoCategory.english(),
            ),
        };

        let calendar = &reference.calendar;
        let clock = category
            .and_then(|c| c.deadline(priority, civicgrid_domain::catalogue::Stage::Accept))
            .map(|limit| StageClock {
                stage: civicgrid_domain::catalogue::Stage::Accept,
                limit,
                started_at: now,
                due_at: stage_deadline(calendar, now, limit, &[], &[]),
                paused_at: None,
            });
        let id = self.ids.new_id(now);
        let secret = civicgrid_domain::case::reporter_secret(self.ids.random_bits());
        let case = Case {
            id,
            receipt_code: receipt_code(&id),
            public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
            reporter_key: Some(crate::cases::seal::reporter_key(
                self.sealer.as_deref(),
                &id,
                &secret,
            )),
            channel: intake.channel,
            description: description.clone(),
            address: intake.address.clone().filter(|a| !a.trim().is_empty()),
            location: intake.location,
            grid: grid.clone(),
            region: region.clone(),
            category: category.map(|c| c.code.clone()),
            attributes: intake.attributes.clone(),
            priority,
            reporter_sealed: match (&intake.reporter, &self.sealer) {
                (Some(r), Some(sealer)) if !r.is_empty() => Some(sealer.seal(&id, r)?),
                _ => None,
            },
            routed_units: units.clone(),
            routing: routing.clone(),
            reported_at: now,
            updated_at: now,
            clock,
            state: CaseState::new(),
        };
        let event = CaseEvent {
            case_id: id,
            seq: 1,
            action: "report".into(),
            from: None,
            to: Status::Reported,
            actor: actor.name().to_owned(),
            at: now,
            payload: serde_json::json!({
                "channel": intake.channel.as_str(),
                "grid": grid.as_ref().map(|g| g.as_str()),
                "category": case.category.as_ref().map(|c| c.as_str()),
                "priority": priority.as_str(),
                "routed_units": units,
                "routing": routing,
                "media_url": intake.media_url,
            }),
        };
        Ok((case, event, secret))
    }

    /// Every problem with a report's fields, each (field, problem); empty when it is acceptable.
    pub async fn intake_problems(&self, intake: &Intake) -> AppResult<Vec<(String, String)>> {
        let mut problems = Vec::new();
        let description = intake.description.trim().to_owned();
        if description.is_empty() {
            problems.push(("description".to_owned(), "is required".to_owned()));
        } else if description.chars().count() > 5000 {
            problems.push((
                "description".to_owned(),
                "is longer than 5000 characters".to_owned(),
            ));
        }
        if let Some((lon, lat)) = intake.location
            && !(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0)
        {
            problems.push(("lon".to_owned(), "lon/lat must be WGS84 degrees".to_owned()));
        }
        // NUL cannot be stored as text (PostgreSQL refuses it) and never belongs in a report.
        let texts = [
            ("description", Some(&intake.description)),
            ("address", intake.address.as_ref()),
        ];
        for (field, text) in texts {
            if text.is_some_and(|t| t.contains('\0')) {
                problems.push((field.to_owned(), "contains a NUL character".to_owned()));
            }
        }
        for (k, v) in &intake.attributes {
            if k.contains('\0') || v.contains('\0') {
                problems.push((
                    format!("attributes.{}", k.replace('\0', "")),
                    "contains a NUL character".to_owned(),
                ));
            }
        }
        if let Some(r) = &intake.reporter
            && [&r.name, &r.phone, &r.email]
                .iter()
                .any(|f| f.as_deref().is_some_and(|t| t.contains('\0')))
        {
            problems.push(("reporter".to_owned(), "contains a NUL character".to_owned()));
        }
        let has_address = intake
            .address
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty());
        if intake.location.is_none() && intake.grid.is_none() && !has_address {
            problems.push((
                "lon".to_owned(),
                "give a location (lon, lat), a grid or an address to place the case".to_owned(),
            ));
        }
        if let Some(a) = &intake.address
            && a.chars().count() > 500
        {
            problems.push((
                "address".to_owned(),
                "is longer than 500 characters".to_owned(),
            ));
        }
        if let Some(r) = &intake.reporter {
            problems.extend(r.problems());
            if !r.is_empty() && self.sealer.is_none() {
                problems.push((
                    "reporter".to_owned(),
                    "contact details cannot be kept: this deployment has no data key".to_owned(),
                ));
            }
        }
        let reference = self.reference().await?;
        let category: Option<&Category> = match &intake.category {
            None => None,
            Some(code) => match reference.category(code) {
                Some(c) if !c.code.is_major() => Some(c),
                Some(_) => {
                    problems.push((
                        "category".to_owned(),
                        format!("{code} is a major category; choose one of its minor categories"),
                    ));
                    None
                }
                None => {
                    problems.push((
                        "category".to_owned(),
                        format!("{code} is not in the catalogue"),
                    ));
                    None
                }
            },
        };
        if let Some(c) = category {
            if let Err(p) = c.check_attributes(&intake.attributes) {
                problems.extend(p.into_iter().map(|(f, m)| (format!("attributes.{f}"), m)));
            }
        } else if !intake.attributes.is_empty() {
            problems.push((
                "attributes".to_owned(),
                "attributes need a category".to_owned(),
            ));
        }
        Ok(problems)
    }

    /// Open cases that may report the same matter: same category, within `radius_m` metres
    /// and reported within `window` before `at`, nearest first. Merging stays a decision.
    pub async fn possible_duplicates(
        &self,
        category: &CategoryCode,
        location: (f64, f64),
        at: Timestamp,
        radius_m: f64,
        window: jiff::SignedDuration,
        except: Option<&Uuid>,
    ) -> AppResult<Vec<(Case, f64)>> {
        use geo::{Distance, Haversine, Point};
        let from = at.checked_sub(window).unwrap_or(Timestamp::MIN);
        let (candidates, _) = self
            .cases_matching(
                &CaseFilter {
                    category: Some(category.to_string()),
                    reported_from: Some(from),
                    ..CaseFilter::default()
                },
                usize::MAX,
            )
            .await?;
        let mut found = Vec::new();
        for c in candidates {
            if Some(&c.id) == except || !c.state.status.is_open() {
                continue;
            }
            let Some(loc) = c.location else { continue };
            let d =
                Haversine.distance(Point::new(location.0, location.1), Point::new(loc.0, loc.1));
            if d <= radius_m {
                found.push((c, d));
            }
        }
        found.sort_by(|a, b| a.1.total_cmp(&b.1));
        Ok(found)
    }

    /// The reporter's contact details, for an actor whose role may read them within the case's
    /// scope; each read is recorded. `Ok(None)` when the case has none.
    pub async fn reporter_contact(
        &self,
        case: &Case,
        actor: &Actor,
    ) -> AppResult<Option<crate::cases::seal::Reporter>> {
        let Some(sealed) = &case.reporter_sealed else {
            return Ok(None);
        };
        self.reference()
            .await?
            .policy()
            .may_read_contact(actor, case)
            .map_err(AppError::Forbidden)?;
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            AppError::Invalid("this deployment has no data key to open contact details".into())
        })?;
        let contact = sealer.open(&case.id, sealed)?;
        self.repo
            .record_personal_data_read(case, actor.name(), "reporter contact", self.clock.now())
            .await?;
        Ok(Some(contact))
    }

    pub async fn get_case(&self, id: &Uuid) -> AppResult<Case> {
        self.repo
            .case(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("case {id}")))
    }

    pub async fn case_timeline(&self, id: &Uuid) -> AppResult<Vec<CaseEvent>> {
        self.get_case(id).await?;
        Ok(self.repo.case_events(id).await?)
    }

    pub async fn list_cases(&self, filter: &CaseFilter) -> AppResult<Vec<Case>> {
        Ok(self.repo.cases(filter).await?)
    }

    /// Every case `filter` matches (its `before` and `limit` aside), read a page of 1,000 at a
    /// time newest first, stopping once `at_most` are read: the cases, and whether more
    /// matched than were read.
    pub async fn cases_matching(
        &self,
        filter: &CaseFilter,
        at_most: usize,
    ) -> AppResult<(Vec<Case>, bool)> {
        const PAGE: u32 = 1000;
        let mut cases = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .repo
                .cases(&CaseFilter {
                    before,
                    limit: PAGE,
                    ..filter.clone()
                })
                .await?;
            let Some(last) = page.last() else {
                return Ok((cases, false));
            };
            before = Some(last.id);
            let full = page.len() == PAGE as usize;
            cases.extend(page);
            if cases.len() >= at_most {
                let more = full || cases.len() > at_most;
                cases.truncate(at_most);
                return Ok((cases, more));
            }
            if !full {
                return Ok((cases, false));
            }
        }
    }

    /// Whether `actor` may take `action` on `case` (the access policy decides).
    pub async fn may(&self, actor: &Actor, action: &Action, case: &Case) -> AppResult<bool> {
        Ok(self
            .reference()
            .await?
            .policy()
            .may_take(actor, action, case)
            .is_ok())
    }

    /// The case, for an actor the access policy lets read it; 403 otherwise, 404 if there is
    /// no such case.
    pub async fn case_for(&self, actor: &Actor, id: &Uuid) -> AppResult<Case> {
        let case = self.get_case(id).await?;
        self.reference()
            .await?
            .policy()
            .may_read_case(actor, &case)
            .map_err(AppError::Forbidden)?;
        Ok(case)
    }

    /// A photo of the case, for an actor the access policy lets see it.
    pub async fn photo_for(
        &self,
        actor: &Actor,
        id: &Uuid,
        sha256: &str,
    ) -> AppResult<civicgrid_store::Photo> {
        let case = self.get_case(id).await?;
        let not_found = || AppError::NotFound(format!("photo {sha256}"));
        let stage = case
            .state
            .photos
            .iter()
            .find(|(_, sha)| sha == sha256)
            .map(|(stage, _)| *stage)
            .ok_or_else(not_found)?;
        self.reference()
            .await?
            .policy()
            .may_read_photo(actor, &case, stage)
            .map_err(AppError::Forbidden)?;
        self.repo
            .photo(&case.id, sha256)
            .await?
            .ok_or_else(not_found)
    }

    /// A case by its receipt code, for the public tracking view; each lookup counts against
    /// the caller's limit (REST and page alike), so codes cannot be swept.
    pub async fn track(
        &self,
        receipt: &str,
        from: &crate::accounts::limits::ClientAddr,
    ) -> AppResult<Tracked> {
        self.count_lookup(from).await?;
        let not_found = || AppError::NotFound(format!("receipt {receipt}"));
        let code = civicgrid_domain::case::normalize_receipt_code(receipt).ok_or_else(not_found)?;
        let reported = self
            .repo
            .case_by_receipt(&code)
            .await?
            .ok_or_else(not_found)?;
        self.followed(reported, not_found).await
    }

    /// The resident's evaluation, by receipt code and the secret issued with it. 不满意 reopens
    /// the case at once, as the loop says (a platform rule, recorded as the system's action
    /// after the evaluation). Every attempt counts against the caller's lookups, so secrets
    /// cannot be guessed; a wrong secret and an unknown receipt get the same answer.
    pub async fn evaluate_by_receipt(
        &self,
        receipt: &str,
        secret: &str,
        satisfaction: civicgrid_domain::case::Satisfaction,
        comment: &str,
        from: &crate::accounts::limits::ClientAddr,
    ) -> AppResult<Case> {
        self.count_lookup(from).await?;
        let case = self.reporter_case(receipt, secret).await?;
        self.evaluate_as_reporter(&case, satisfaction, comment)
            .await
    }

    /// The reporter's evaluation of `case`, whose reporter has been recognised (the secret,
    /// the link's key, or a texted code): 不满意 reopens it.
    pub(crate) async fn evaluate_as_reporter(
        &self,
        case: &Case,
        satisfaction: civicgrid_domain::case::Satisfaction,
        comment: &str,
    ) -> AppResult<Case> {
        if comment.chars().count() > 1000 {
            return Err(invalid(vec![(
                "comment".to_owned(),
                "is longer than 1000 characters".to_owned(),
            )]));
        }
        let evaluated = self
            .act_on_case(
                &case.id,
                case.state.version,
                Action::Evaluate {
                    satisfaction,
                    comment: comment.trim().to_owned(),
                },
                &Actor::Reporter { case: case.id },
            )
            .await?;
        if satisfaction != civicgrid_domain::case::Satisfaction::Unsatisfied {
            return Ok(evaluated);
        }
        let reason = if comment.trim().is_empty() {
            "居民不满意 / the resident is not satisfied".to_owned()
        } else {
            format!(
                "居民不满意 / the resident is not satisfied: {}",
                comment.trim()
            )
        };
        self.act_on_case(
            &evaluated.id,
            evaluated.state.version,
            Action::Reopen { reason },
            &Actor::System,
        )
        .await
    }

    /// Sets or corrects the place and the category of a case before it is dispatched and
    /// routes it again through the responsibility list; one event records what changed and
    /// the new routing (whose explanation the case page tells). A new place moves the case to
    /// its region, so that the staff of that community and street take it up.
    pub async fn correct_case(
        &self,
        id: &Uuid,
        expected_version: u64,
        correction: Correction,
        actor: &Actor,
    ) -> AppResult<Case> {
        let reference = self.reference().await?;
        let mut problems = Vec::new();
        let grid = match (correction.location, &correction.grid) {
            (Some((lon, lat)), _) => match reference.grid_index.locate(lon, lat) {
                Some(g) => Some(g.clone()),
                None => {
                    problems.push((
                        "lon".to_owned(),
                        format!("({lon}, {lat}) lies outside every grid of this platform"),
                    ));
                    None
                }
            },
            (None, Some(g)) if reference.grid_regions.contains_key(g) => Some(g.clone()),
            (None, Some(g)) => {
                problems.push((
                    "grid".to_owned(),
                    format!("{g} is not a grid of this platform"),
                ));
                None
            }
            (None, None) => None,
        };
        let category = match &correction.category {
            Some(c) => match reference.category(c) {
                Some(k) if !k.code.is_major() => Some(k.clone()),
                _ => {
                    problems.push((
                        "category".to_owned(),
                        format!("{c} is not a category cases are filed under"),
                    ));
                    None
                }
            },
            None => None,
        };
        if grid.is_none() && category.is_none() && problems.is_empty() {
            problems.push((
                "grid".to_owned(),
                "give a place (lon and lat, or a grid), a category, or both".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let case = self.get_case(id).await?;
        let new_grid = grid.clone().or_else(|| case.grid.clone());
        let new_category = category
            .as_ref()
            .map(|c| c.code.clone())
            .or_else(|| case.category.clone());
        // Routing again, from the place and the category the case now has.
        let (routed_units, routing) = match (&new_grid, &new_category) {
            (Some(g), Some(c)) => {
                let (assignment, _) = self.route_case(c, g, &case.attributes).await?;
                let mut units = vec![assignment.primary];
                units.extend(assignment.co_handlers);
                (units, assignment.explanation)
            }
            _ => (case.routed_units.clone(), case.routing.clone()),
        };
        let action = Action::Correct {
            grid: grid.clone(),
            location_e6: correction
                .location
                .map(|(lon, lat)| ((lon * 1e6).round() as i64, (lat * 1e6).round() as i64)),
            category: category.as_ref().map(|c| c.code.clone()),
            routed_units: routed_units.clone(),
            routing: routing.clone(),
            reason: correction.reason.trim().to_owned(),
        };
        let (mut next, event) = self
            .take_step(&case, action, actor, Some(expected_version))
            .await?;
        // The grid is the case's place from now on, and the point given for it (if any) its
        // point: the map and the duplicate check use it.
        if correction.location.is_some() {
            next.location = correction.location;
        } else if grid.is_some() {
            // A grid chosen by name: the reporter's point, if any, lay elsewhere.
            next.location = None;
        }
        if let Some(g) = grid {
            // The case moves to the region of its new place: its community's staff take it up.
            if let Some(region) = reference.grid_regions.get(&g) {
                next.region = region.clone();
            }
            next.grid = Some(g);
        }
        if let Some(c) = category {
            // A new category brings its own time limit for the stage the case is in (a case
            // taken in without a category had none).
            if let Some(stage) = next.state.status.stage()
                && let Some(limit) = c.deadline(next.priority, stage)
            {
                // The stage keeps the time it started; only its limit changes.
                let started = next
                    .clock
                    .filter(|k| k.stage == stage)
                    .map_or_else(|| self.clock.now(), |k| k.started_at);
                next.clock = Some(StageClock {
                    stage,
                    limit,
                    started_at: started,
                    due_at: stage_deadline(&reference.calendar, started, limit, &[], &[]),
                    paused_at: None,
                });
            }
            next.category = Some(c.code);
        }
        next.routed_units = routed_units;
        next.routing = routing;
        self.repo
            .place_case(&next, expected_version, &event)
            .await
            .map_err(|e| match e {
                StoreError::Stale { current } => AppError::Stale { current },
                other => other.into(),
            })?;
        Ok(next)
    }

    /// The case whose reporter holds `receipt` and `secret`; anything else is refused alike,
    /// so an answer tells a guesser nothing about which half was wrong.
    async fn reporter_case(&self, receipt: &str, secret: &str) -> AppResult<Case> {
        let refused = || {
            AppError::Forbidden(
                "the receipt code and the secret issued with it do not match a case".into(),
            )
        };
        let code = civicgrid_domain::case::normalize_receipt_code(receipt).ok_or_else(refused)?;
        let case = self
            .repo
            .case_by_receipt(&code)
            .await?
            .ok_or_else(refused)?;
        // The secret issued at intake, or the key in the evaluation link of the e-mail that
        // told the reporter the case was closed (see `notifications`).
        let linked = self
            .sealer
            .as_deref()
            .is_some_and(|sealer| sealer.is_link_token("evaluate", &case.id, secret));
        if linked || crate::cases::seal::is_reporter(self.sealer.as_deref(), &case, secret) {
            Ok(case)
        } else {
            Err(refused())
        }
    }

    /// What the public follows of a reported case: the case it was merged into, if any, and
    /// that case's timeline. Whatever goes wrong, the public is told no more than `not_found`.
    async fn followed(
        &self,
        reported: Case,
        not_found: impl Fn() -> AppError,
    ) -> AppResult<Tracked> {
        let followed = match reported.state.merged_into {
            Some(master) => self.get_case(&master).await.map_err(|_| not_found())?,
            None => reported.clone(),
        };
        let events = self
            .case_timeline(&followed.id)
            .await
            .map_err(|_| not_found())?;
        Ok(Tracked {
            reported,
            followed,
            events,
        })
    }

    /// A case by its public number, as the public may see it (the public view of `track`,
    /// without the receipt code).
    pub async fn public_case(&self, public_id: &str) -> AppResult<Tracked> {
        let not_found = || AppError::NotFound(format!("case {public_id}"));
        let id = civicgrid_domain::case::normalize_public_id(public_id).ok_or_else(not_found)?;
        let reported = self
            .repo
            .case_by_public_id(&id)
            .await?
            .ok_or_else(not_found)?;
        self.followed(reported, not_found).await
    }

    /// Takes an action on a case at `expected_version`. Refused when the actor may not, when
    /// the case has moved on (stale version), or when the loop does not allow the action in
    /// the case's state; in every refusal nothing changes.
    pub async fn act_on_case(
        &self,
        id: &Uuid,
        expected_version: u64,
        action: Action,
        actor: &Actor,
    ) -> AppResult<Case> {
        self.act_with_photo(id, expected_version, action, actor, None)
            .await
    }

    /// Attaches a photo (JPEG, PNG or WebP, at most 10 MiB) documenting a stage of the case; the
    /// bytes are stored with their SHA-256 in the same transaction as the event.
    pub async fn attach_photo(
        &self,
        id: &Uuid,
        expected_version: u64,
        stage: civicgrid_domain::case::PhotoStage,
        content_type: &str,
        data: Vec<u8>,
        actor: &Actor,
    ) -> AppResult<Case> {
        check_photo(content_type, &data)?;
        let sha256 = crate::accounts::sha256_bytes_hex(&data);
        let photo = civicgrid_store::Photo {
            sha256: sha256.clone(),
            stage: stage.as_str().to_owned(),
            content_type: content_type.to_owned(),
            data,
            added_by: actor.name().to_owned(),
            added_at: self.clock.now(),
        };
        self.act_with_photo(
            id,
            expected_version,
            Action::AttachPhoto { stage, sha256 },
            actor,
            Some(photo),
        )
        .await
    }

    async fn act_with_photo(
        &self,
        id: &Uuid,
        expected_version: u64,
        action: Action,
        actor: &Actor,
        photo: Option<civicgrid_store::Photo>,
    ) -> AppResult<Case> {
        self.act_in_steps(id, expected_version, vec![action], actor, photo)
            .await
    }

    /// Several actions taken as one change: their events are stored in one transaction, or
    /// none is. The deadline job raises a breach and lifts the case a tier this way, so that an
    /// instance dying between the two cannot leave a breach without its escalation.
    pub async fn act_on_case_in_steps(
        &self,
        id: &Uuid,
        expected_version: u64,
        actions: Vec<Action>,
        actor: &Actor,
    ) -> AppResult<Case> {
        self.act_in_steps(id, expected_version, actions, actor, None)
            .await
    }

    async fn act_in_steps(
        &self,
        id: &Uuid,
        expected_version: u64,
        actions: Vec<Action>,
        actor: &Actor,
        photo: Option<civicgrid_store::Photo>,
    ) -> AppResult<Case> {
        let case = self.get_case(id).await?;
        let mut next = case.clone();
        let mut events = Vec::with_capacity(actions.len());
        for (i, action) in actions.into_iter().enumerate() {
            let (after, event) = self
                .take_step(&next, action, actor, (i == 0).then_some(expected_version))
                .await?;
            next = after;
            events.push(event);
        }
        let stored = match (&photo, events.as_slice()) {
            (Some(p), [event]) => {
                self.repo
                    .attach_photo(&next, expected_version, event, p)
                    .await
            }
            (Some(_), _) => {
                return Err(AppError::Invalid(
                    "a photo is attached by one action alone".into(),
                ));
            }
            (None, _) => {
                self.write_case(civicgrid_store::CaseWrite::Change {
                    case: next.clone(),
                    expected_version,
                    events,
                })
                .await
            }
        };
        stored.map_err(|e| match e {
            StoreError::Stale { current } => AppError::Stale { current },
            other => other.into(),
        })?;
        Ok(next)
    }

    /// One action on a case in memory: checks (input, permission, `expected_version` if
    /// given, references), the transition, the new clock; the case after it and its event.
    pub(crate) async fn take_step(
        &self,
        case: &Case,
        action: Action,
        actor: &Actor,
        expected_version: Option<u64>,
    ) -> AppResult<(Case, CaseEvent)> {
        if serde_json::to_string(&action).is_ok_and(|s| s.contains("\\u0000")) {
            return Err(invalid(vec![(
                "action".to_owned(),
                "contains a NUL character".to_owned(),
            )]));
        }
        if !self.may(actor, &action, case).await? {
            return Err(AppError::Forbidden(format!(
                "{} may not {} this case",
                actor.name(),
                action.name()
            )));
        }
        if let Some(expected) = expected_version
            && case.state.version != expected
        {
            return Err(AppError::Stale {
                current: case.state.version,
            });
        }
        if let Action::Dispatch { units } | Action::Transfer { units, .. } = &action {
            let known = &self.reference().await?.units;
            let unknown: Vec<&String> = units
                .iter()
                .filter(|u| !known.iter().any(|k| &k.code == *u))
                .collect();
            if !unknown.is_empty() {
                return Err(invalid(vec![(
                    "units".to_owned(),
                    format!(
                        "unknown unit(s): {}",
                        unknown
                            .iter()
                            .map(|u| u.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )]));
            }
        }
        if let Action::MergeInto { master } = &action {
            let m = self.get_case(master).await?;
            if m.id == case.id || !m.state.status.is_open() || m.state.status == Status::Merged {
                return Err(invalid(vec![(
                    "master".to_owned(),
                    "the master must be another open case".to_owned(),
                )]));
            }
        }
        let transition = decide(&case.state, action).map_err(|e| AppError::NotAllowed {
            message: e.to_string(),
            status: case.state.status,
        })?;
        let now = self.clock.now();
        let mut next = case.clone();
        next.state = apply(&case.state, &transition);
        next.updated_at = now;
        next.clock = self
            .next_clock(case, &next.state, &transition.action, now)
            .await?;
        let event = CaseEvent {
            case_id: case.id,
            seq: transition.version,
            action: transition.action.name().to_owned(),
            from: Some(transition.from),
            to: transition.to,
            actor: actor.name().to_owned(),
            at: now,
            payload: serde_json::to_value(&transition)
                .map_err(|e| AppError::Invalid(e.to_string()))?,
        };
        Ok((next, event))
    }

    /// The stage clock after a transition: a new stage starts a new clock from the category's
    /// limit; an approved extension moves the deadline; shelving stops the clock and resuming
    /// pushes the deadline back by the pause.
    async fn next_clock(
        &self,
        before: &Case,
        after: &CaseState,
        action: &Action,
        now: Timestamp,
    ) -> AppResult<Option<StageClock>> {
        let reference = self.reference().await?;
        let calendar = &reference.calendar;
        let old = before.clock;
        match action {
            Action::DecideApproval { approve: true, .. } => match (&before.state.pending, old) {
                (Some(Request::Extension { stage, extra, .. }), Some(mut c))
                    if c.stage == *stage =>
                {
                    c.due_at = stage_deadline(calendar, c.due_at, *extra, &[], &[]);
                    return Ok(Some(c));
                }
                (Some(Request::Shelve { .. }), Some(mut c)) => {
                    c.paused_at = Some(now);
                    return Ok(Some(c));
                }
                _ => return Ok(old),
            },
            Action::Resume => {
                return Ok(old.map(|mut c| {
                    if let Some(from) = c.paused_at.take() {
                        c.due_at =
                            postpone(calendar, c.limit.clock, c.due_at, Pause { from, to: now });
                    }
                    c
                }));
            }
            _ => {}
        }
        let stage = after.status.stage();
        if stage == old.map(|c| c.stage)
            && !matches!(
                action,
                Action::Verify { passed: false, .. } | Action::Reopen { .. }
            )
        {
            return Ok(old);
        }
        let Some(stage) = stage else {
            return Ok(None);
        };
        let Some(category) = &before.category else {
            return Ok(None);
        };
        let limit = reference
            .category(category)
            .and_then(|c| c.deadline(before.priority, stage));
        Ok(limit.map(|limit| StageClock {
            stage,
            limit,
            started_at: now,
            due_at: stage_deadline(calendar, now, limit, &[], &[]),
            paused_at: None,
        }))
    }
}

/// Whether bytes are a photo civicgrid keeps: JPEG, PNG or WebP (by their first bytes, not
/// only the declared type), 1 byte to 10 MiB.
pub fn check_photo(content_type: &str, data: &[u8]) -> AppResult<()> {
    const MAX: usize = 10 * 1024 * 1024;
    let magic_ok = match content_type {
        "image/jpeg" => data.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => data.starts_with(&[0x89, b'P', b'N', b'G']),
        "image/webp" => data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP",
        _ => {
            return Err(invalid(vec![(
                "content-type".to_owned(),
                format!("`{content_type}` is not image/jpeg, image/png or image/webp"),
            )]));
        }
    };
    if data.is_empty() || data.len() > MAX {
        return Err(invalid(vec![(
            "photo".to_owned(),
            "a photo is 1 byte to 10 MiB".to_owned(),
        )]));
    }
    if !magic_ok {
        return Err(invalid(vec![(
            "photo".to_owned(),
            format!("the bytes are not a {content_type} image"),
        )]));
    }
    Ok(())
}
