//! Decisions and results (成果): a decision of an agenda item creates its linked work — cases
//! reported and dispatched through the loop to the named units, milestones with an owner and
//! a deadline — and a result whose progress is computed from that work, never typed in.
//! Results also come and go as CSV, all or nothing.

use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::case::{Action, Status};
use civicgrid_domain::consultation::{Progress, TopicStatus, Work, progress};
use civicgrid_domain::policy::Actor;
use civicgrid_store::{ResultRecord, StoreError, WorkRecord};

use super::{event, text};
use crate::App;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub struct NewWorkCase {
    /// The unit the case is dispatched to.
    pub unit: String,
    pub description: String,
    /// Working days the unit has to close it.
    pub due_days: u32,
    /// Where the work is: a grid of the meeting's region (by default the topic's grid, the
    /// meeting's, or the region's first grid).
    pub grid: Option<civicgrid_domain::territory::GridCode>,
}

#[derive(Debug, Clone)]
pub struct NewMilestone {
    pub title: String,
    /// A unit code or an account.
    pub owner: String,
    pub due: jiff::civil::Date,
}

#[derive(Debug, Clone)]
pub struct NewDecision {
    pub agenda_index: u32,
    pub title: String,
    pub decision: String,
    pub cases: Vec<NewWorkCase>,
    pub milestones: Vec<NewMilestone>,
}

/// A result with its work and the progress computed from it.
#[derive(Debug, Clone)]
pub struct ResultProgress {
    /// When the progress was computed (what "overdue" is measured against).
    pub at: jiff::Timestamp,
    pub result: ResultRecord,
    pub work: Vec<(WorkRecord, Work, Option<String>)>,
    pub progress: Progress,
}

/// The CSV columns of results, one row per piece of work; the last three are computed and
/// ignored on import.
pub const RESULT_COLUMNS: [&str; 13] = [
    "number",
    "region",
    "title",
    "decision",
    "meeting",
    "kind",
    "case",
    "work_title",
    "owner",
    "due",
    "done_at",
    "percent",
    "overdue",
];

fn work_due(
    cal: &civicgrid_domain::calendar::WorkingCalendar,
    day: jiff::civil::Date,
) -> jiff::Timestamp {
    // The last second of the day named, in the deployment's zone (so that the day exported
    // is the day imported).
    day.at(23, 59, 59, 0)
        .to_zoned(cal.time_zone().clone())
        .map(|z| z.timestamp())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl App {
    /// A case's completion for a result: when it last entered 结案 and has stayed closed
    /// (closed or evaluated since); its public number.
    async fn case_work(
        &self,
        id: &uuid::Uuid,
    ) -> AppResult<(Option<jiff::Timestamp>, Option<String>)> {
        let Some(case) = self.repo.case(id).await? else {
            return Ok((None, None));
        };
        if !matches!(case.state.status, Status::Closed | Status::Evaluated) {
            return Ok((None, Some(case.public_id)));
        }
        let events = self.repo.case_events(id).await?;
        let closed_at = events
            .iter()
            .rev()
            .find(|e| e.to == Status::Closed && e.from != Some(Status::Closed))
            .map(|e| e.at);
        Ok((closed_at, Some(case.public_id)))
    }

    /// A result's progress from its work as it stands now.
    pub async fn result_progress(
        &self,
        result: ResultRecord,
        work: Vec<WorkRecord>,
    ) -> AppResult<ResultProgress> {
        let mut out = Vec::new();
        for w in work {
            let (done_at, case_number) = match (w.kind.as_str(), w.case_id) {
                ("case", Some(c)) => self.case_work(&c).await?,
                _ => (w.done_at, None),
            };
            let item = Work {
                due: w.due_at,
                done_at,
            };
            out.push((w, item, case_number));
        }
        let items: Vec<Work> = out.iter().map(|(_, w, _)| *w).collect();
        let at = self.clock.now();
        Ok(ResultProgress {
            at,
            progress: progress(&items, at),
            result,
            work: out,
        })
    }

    pub async fn result(&self, public_id: &str) -> AppResult<ResultProgress> {
        let r = self
            .repo
            .result_by_public_id(&public_id.trim().to_ascii_uppercase())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("result {public_id}")))?;
        let work = self.repo.result_work(&r.id).await?;
        self.result_progress(r, work).await
    }

    /// Results in a region with their progress, latest first (public).
    pub async fn results_in(
        &self,
        within: &civicgrid_domain::territory::RegionCode,
        limit: u32,
    ) -> AppResult<Vec<ResultProgress>> {
        let mut out = Vec::new();
        for (r, w) in self.repo.results(within, limit.min(1000)).await? {
            out.push(self.result_progress(r, w).await?);
        }
        Ok(out)
    }

    /// Records a decision of an agenda item (those who run the meeting): its cases are
    /// reported and dispatched through the loop to the named units, its milestones set, and
    /// the item's topic is decided — the result, its work and the topic in one transaction.
    pub async fn record_decision(
        &self,
        actor: &Actor,
        meeting: &str,
        new: NewDecision,
    ) -> AppResult<ResultProgress> {
        let m = self.meeting(meeting).await?;
        let reference = self.reference().await?;
        reference
            .policy()
            .may_manage_consultation(actor, &m.region)
            .map_err(AppError::Forbidden)?;
        if m.status == "cancelled" {
            return Err(AppError::Conflict("the meeting was cancelled".into()));
        }
        let mut problems = Vec::new();
        let item = m
            .agenda
            .get(usize::try_from(new.agenda_index).unwrap_or(usize::MAX));
        if item.is_none() {
            problems.push((
                "agenda_index".to_owned(),
                format!("the agenda has {} items", m.agenda.len()),
            ));
        }
        let title = text("title", &new.title, 1, 120, &mut problems);
        let decision = text("decision", &new.decision, 1, 2000, &mut problems);
        if new.cases.is_empty() && new.milestones.is_empty() {
            problems.push((
                "cases".to_owned(),
                "a decision creates at least one case or milestone".to_owned(),
            ));
        }
        for (i, c) in new.cases.iter().enumerate() {
            // A unit of the region, or one above it that serves it (a department).
            match reference.units.iter().find(|u| u.code == c.unit) {
                None => problems.push((format!("cases[{i}].unit"), format!("no unit {}", c.unit))),
                Some(u)
                    if !m.region.as_str().starts_with(u.region.as_str())
                        && !u.region.as_str().starts_with(m.region.as_str()) =>
                {
                    problems.push((
                        format!("cases[{i}].unit"),
                        format!("{} does not serve {}", c.unit, m.region),
                    ));
                }
                Some(_) => {}
            }
            text(
                &format!("cases[{i}].description"),
                &c.description,
                1,
                1000,
                &mut problems,
            );
            if let Some(g) = &c.grid
                && !reference
                    .grid_regions
                    .get(g)
                    .is_some_and(|r| r.as_str().starts_with(m.region.as_str()))
            {
                problems.push((
                    format!("cases[{i}].grid"),
                    format!("{g} is not a grid of {}", m.region),
                ));
            }
            if !(1..=250).contains(&c.due_days) {
                problems.push((
                    format!("cases[{i}].due_days"),
                    "1 to 250 working days".to_owned(),
                ));
            }
        }
        let today = self.local_day(self.clock.now()).await?;
        for (i, ms) in new.milestones.iter().enumerate() {
            text(
                &format!("milestones[{i}].title"),
                &ms.title,
                1,
                120,
                &mut problems,
            );
            text(
                &format!("milestones[{i}].owner"),
                &ms.owner,
                1,
                64,
                &mut problems,
            );
            if ms.due < today {
                problems.push((
                    format!("milestones[{i}].due"),
                    "a day from today on".to_owned(),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let item = item
            .cloned()
            .ok_or_else(|| AppError::Invalid("agenda item".into()))?;
        let now = self.clock.now();
        // A withdrawn topic takes no decision; refused before any case is reported.
        if let Some(t) = item.topic
            && let Some(t) = self.repo.topic(&t).await?
            && t.status == TopicStatus::Withdrawn
        {
            return Err(AppError::Conflict("the item's topic was withdrawn".into()));
        }
        // The grid a case lies in unless the decision names one.
        let topic_grid = match item.topic {
            Some(t) => self.repo.topic(&t).await?.and_then(|t| t.grid),
            None => None,
        };
        let mut region_grids: Vec<&civicgrid_domain::territory::GridCode> = reference
            .grid_regions
            .iter()
            .filter(|(_, r)| r.as_str().starts_with(m.region.as_str()))
            .map(|(g, _)| g)
            .collect();
        region_grids.sort();
        let default_grid = topic_grid
            .or_else(|| m.grid.clone())
            .or_else(|| region_grids.first().map(|g| (*g).clone()));
        let mut work = Vec::new();
        for c in &new.cases {
            let intake = crate::cases::Intake {
                // The meeting's number in the text: the case says where it was decided.
                description: format!(
                    "{title}：{}（{} {}）",
                    c.description.trim(),
                    m.title,
                    m.public_id
                ),
                location: None,
                grid: c.grid.clone().or_else(|| default_grid.clone()),
                address: Some(format!("{}（{}）", m.place, m.title)),
                category: None,
                attributes: Default::default(),
                priority: None,
                channel: civicgrid_domain::case::Channel::Patrol,
                reporter: None,
                media_url: None,
            };
            let case = self.report_case(intake, actor).await?;
            // The meeting's decision is the dispatcher's: the case goes straight to the unit.
            let case = self
                .act_on_case_in_steps(
                    &case.id,
                    case.state.version,
                    vec![
                        Action::Accept,
                        Action::Register,
                        Action::Dispatch {
                            units: vec![c.unit.clone()],
                        },
                    ],
                    &Actor::System,
                )
                .await?;
            work.push(WorkRecord {
                seq: work.len() as u64,
                kind: "case".into(),
                case_id: Some(case.id),
                title: c.description.trim().to_owned(),
                owner: c.unit.clone(),
                due_at: Some(reference.calendar.deadline(
                    now,
                    TimeLimit {
                        clock: ClockType::WorkingDays,
                        amount: c.due_days,
                    },
                )),
                done_at: None,
                done_by: None,
            });
        }
        for ms in &new.milestones {
            work.push(WorkRecord {
                seq: work.len() as u64,
                kind: "milestone".into(),
                case_id: None,
                title: ms.title.trim().to_owned(),
                owner: ms.owner.trim().to_owned(),
                due_at: Some(work_due(&reference.calendar, ms.due)),
                done_at: None,
                done_by: None,
            });
        }
        for _attempt in 0..5 {
            // The item's topic is decided with its first decision (read afresh each time: a
            // support while it is on the agenda changes its version, not the decision).
            let mut topics = Vec::new();
            if let Some(t) = item.topic
                && let Some(t) = self.repo.topic(&t).await?
                && t.status == TopicStatus::Scheduled
            {
                let version = t.version;
                let mut decided = t;
                decided.status = TopicStatus::Decided;
                decided.decided_at = Some(now);
                topics.push((decided, version));
            }
            let r = ResultRecord {
                id: self.ids.new_id(now),
                public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
                region: m.region.clone(),
                grid: m.grid.clone(),
                title: title.clone(),
                decision: decision.clone(),
                meeting_id: Some(m.id),
                agenda_index: Some(new.agenda_index),
                topic_id: item.topic,
                decided_by: actor.name().to_owned(),
                decided_at: now,
            };
            match self
                .repo
                .create_results(&[(r.clone(), work.clone())], &topics, actor.name())
                .await
            {
                // A number drawn twice, or the topic changed meanwhile: again. The cases
                // already in the loop stay the work of the one result written.
                Err(StoreError::Conflict(msg)) if msg.contains("public_id") => continue,
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
                Ok(()) => return self.result_progress(r, work).await,
            }
        }
        Err(AppError::Invalid(
            "could not draw a free result number".into(),
        ))
    }

    /// Marks a milestone done: its owner (the account, or a handler of the owning unit), or
    /// whoever runs consultation in the result's region.
    pub async fn complete_milestone(
        &self,
        actor: &Actor,
        result: &str,
        seq: u64,
    ) -> AppResult<ResultProgress> {
        let rp = self.result(result).await?;
        let Some((w, _, _)) = rp.work.iter().find(|(w, _, _)| w.seq == seq) else {
            return Err(AppError::NotFound(format!("milestone {seq}")));
        };
        let reference = self.reference().await?;
        let policy = reference.policy();
        let allowed = policy
            .may_manage_consultation(actor, &rp.result.region)
            .is_ok()
            || matches!(actor, Actor::Staff { username, .. } if *username == w.owner)
            || policy.may_answer_for_unit(actor, &w.owner).is_ok();
        if !allowed {
            return Err(AppError::Forbidden(format!(
                "a milestone is marked done by its owner {} or those who run consultation",
                w.owner
            )));
        }
        if w.kind != "milestone" {
            return Err(AppError::Conflict(
                "a case is done when it closes in the loop".into(),
            ));
        }
        let done = self
            .repo
            .complete_milestone(
                &rp.result,
                seq,
                &event(
                    self.clock.now(),
                    actor.name(),
                    "complete_milestone",
                    &w.title,
                ),
            )
            .await?;
        if !done {
            return Err(AppError::Conflict("the milestone is done already".into()));
        }
        self.result(&rp.result.public_id).await
    }

    /// Results in a region as CSV, one row per piece of work, with the computed progress.
    pub async fn export_results(
        &self,
        within: &civicgrid_domain::territory::RegionCode,
    ) -> AppResult<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| AppError::Invalid(e.to_string());
        w.write_record(RESULT_COLUMNS).map_err(csv_err)?;
        let meetings: std::collections::HashMap<uuid::Uuid, String> = self
            .repo
            .meetings(within, 10_000)
            .await?
            .into_iter()
            .map(|m| (m.id, m.public_id))
            .collect();
        for rp in self.results_in(within, 1000).await? {
            let r = &rp.result;
            let meeting = r
                .meeting_id
                .and_then(|m| meetings.get(&m).cloned())
                .unwrap_or_default();
            let percent = rp.progress.percent.to_string();
            let overdue = rp.progress.overdue.to_string();
            for (wr, item, case_number) in &rp.work {
                let due = match wr.due_at {
                    Some(at) => self.local_day(at).await?.to_string(),
                    None => String::new(),
                };
                w.write_record([
                    r.public_id.as_str(),
                    r.region.as_str(),
                    r.title.as_str(),
                    r.decision.as_str(),
                    meeting.as_str(),
                    wr.kind.as_str(),
                    case_number.as_deref().unwrap_or(""),
                    wr.title.as_str(),
                    wr.owner.as_str(),
                    due.as_str(),
                    &item.done_at.map(|d| d.to_string()).unwrap_or_default(),
                    percent.as_str(),
                    overdue.as_str(),
                ])
                .map_err(csv_err)?;
            }
        }
        let bytes = w
            .into_inner()
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| AppError::Invalid(e.to_string()))
    }

    /// Imports results from CSV (the export's columns): all or nothing. Every problem is named
    /// by line and field; a result's number must be new; cases are linked by their public
    /// number, milestones are created. Returns how many results were created.
    pub async fn import_results(&self, actor: &Actor, file: &str, data: &str) -> AppResult<usize> {
        use crate::error::InputError;
        let reference = self.reference().await?;
        let policy = reference.policy();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(data.as_bytes());
        let mut errors: Vec<InputError> = Vec::new();
        let problem = |line: u64, field: &str, message: String| {
            InputError::line(file, line, Some(field), message)
        };
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(str::to_owned).collect(),
            Err(e) => return Err(AppError::Input(vec![problem(1, "header", e.to_string())])),
        };
        if header.len() < 10 || header[..10] != RESULT_COLUMNS[..10] {
            return Err(AppError::Input(vec![problem(
                1,
                "header",
                format!("the columns are {}", RESULT_COLUMNS.join(",")),
            )]));
        }
        let now = self.clock.now();
        let mut results: Vec<(ResultRecord, Vec<WorkRecord>)> = Vec::new();
        for row in reader.records() {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    errors.push(problem(line, "row", e.to_string()));
                    continue;
                }
            };
            let line = row.position().map_or(0, |p| p.line());
            let get = |i: usize| row.get(i).unwrap_or("").trim().to_owned();
            let region: civicgrid_domain::territory::RegionCode = match get(1).parse() {
                Ok(r) if reference.region_names.contains_key(&r) => r,
                _ => {
                    errors.push(problem(
                        line,
                        "region",
                        format!("{} is not a region of this platform", get(1)),
                    ));
                    continue;
                }
            };
            // A refusal is not a problem of the file: nothing is imported, and it says so.
            policy
                .may_manage_consultation(actor, &region)
                .map_err(|e| AppError::Forbidden(format!("{file}: line {line}: {e}")))?;
            let number = get(0).to_ascii_uppercase();
            if civicgrid_domain::case::normalize_public_id(&number).as_deref()
                != Some(number.as_str())
            {
                errors.push(problem(
                    line,
                    "number",
                    format!("`{number}` is not a 12-character number"),
                ));
                continue;
            }
            let meeting_id = match get(4) {
                m if m.is_empty() => None,
                m => match self
                    .repo
                    .meeting_by_public_id(&m.to_ascii_uppercase())
                    .await?
                {
                    Some(found) => Some(found.id),
                    None => {
                        errors.push(problem(line, "meeting", format!("no meeting {m}")));
                        None
                    }
                },
            };
            let kind = get(5);
            let owner = get(8);
            let due = match get(9) {
                d if d.is_empty() => None,
                d => match d.parse::<jiff::civil::Date>() {
                    Ok(day) => Some(work_due(&reference.calendar, day)),
                    Err(_) => {
                        errors.push(problem(
                            line,
                            "due",
                            format!("`{d}` is not a day (YYYY-MM-DD)"),
                        ));
                        None
                    }
                },
            };
            let mut work = WorkRecord {
                seq: 0,
                kind: kind.clone(),
                case_id: None,
                title: get(7),
                owner: owner.clone(),
                due_at: due,
                done_at: None,
                done_by: None,
            };
            match kind.as_str() {
                "case" => {
                    match civicgrid_domain::case::normalize_public_id(&get(6)) {
                        Some(code) => match self.repo.case_by_public_id(&code).await? {
                            Some(c) => work.case_id = Some(c.id),
                            None => {
                                errors.push(problem(line, "case", format!("no case {}", get(6))))
                            }
                        },
                        None => errors.push(problem(
                            line,
                            "case",
                            format!("`{}` is not a case number", get(6)),
                        )),
                    }
                    if !reference.units.iter().any(|u| u.code == owner) {
                        errors.push(problem(line, "owner", format!("no unit {owner}")));
                    }
                }
                "milestone" => {
                    if work.title.is_empty() || work.title.chars().count() > 120 {
                        errors.push(problem(line, "work_title", "1 to 120 characters".into()));
                    }
                    if owner.is_empty() || owner.chars().count() > 64 {
                        errors.push(problem(line, "owner", "1 to 64 characters".into()));
                    }
                    if due.is_none() {
                        errors.push(problem(line, "due", "a milestone has a due day".into()));
                    }
                }
                other => errors.push(problem(
                    line,
                    "kind",
                    format!("`{other}` is not case or milestone"),
                )),
            }
            let title = get(2);
            if title.is_empty() || title.chars().count() > 120 {
                errors.push(problem(line, "title", "1 to 120 characters".into()));
            }
            if get(3).chars().count() > 2000 {
                errors.push(problem(line, "decision", "at most 2000 characters".into()));
            }
            match results.iter_mut().find(|(r, _)| r.public_id == number) {
                Some((r, w)) => {
                    if r.region != region || r.title != title {
                        errors.push(problem(
                            line,
                            "number",
                            format!("{number} has another region or title on an earlier line"),
                        ));
                    }
                    work.seq = w.len() as u64;
                    w.push(work);
                }
                None => {
                    if self.repo.result_by_public_id(&number).await?.is_some() {
                        errors.push(problem(
                            line,
                            "number",
                            format!("result {number} exists already"),
                        ));
                    }
                    let id = self.ids.new_id(now);
                    results.push((
                        ResultRecord {
                            id,
                            public_id: number,
                            region: region.clone(),
                            grid: None,
                            title,
                            decision: get(3),
                            meeting_id,
                            agenda_index: None,
                            topic_id: None,
                            decided_by: actor.name().to_owned(),
                            decided_at: now,
                        },
                        vec![work],
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        if results.is_empty() {
            return Err(AppError::Input(vec![problem(
                2,
                "row",
                "no results in the file".into(),
            )]));
        }
        self.repo
            .create_results(&results, &[], actor.name())
            .await?;
        Ok(results.len())
    }
}
