//! Emergency response (应急): plans by incident type and level that turn into tasks for units
//! and grids, the notice to the affected grids' workers, their acknowledgements and reports,
//! needs that become cases or volunteer calls, situation reports (续报) every operational
//! period, the live board and the after-action record (复盘).
//!
//! The rules are `civicgrid_domain::emergency` (the incident machine, plans, areas) and
//! `civicgrid_domain::policy` (who commands, responds, finishes a task); the store is
//! `civicgrid_store::EmergencyStore`. A change of level is decided by the machine on the
//! incident as stored and written in one transaction with its tasks, events and notice, under
//! the incident's version: of two instances activating at once, one writes and the other,
//! finding the level already set, answers with the incident as it is (idempotent on incident
//! and level).

pub mod board;
pub mod cli;
pub mod jobs;
pub mod pages;
pub mod plan_file;
pub mod record;
pub mod rest;

use std::collections::BTreeSet;

use civicgrid_domain::emergency::{
    Area, IncidentKind, IncidentState, IncidentTask, Level, Plan, Target, TaskKey, TaskStatus,
};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_store::{
    Acknowledgement, GridNoticeRecord, GridReportRecord, IncidentRecord, IncidentTaskRecord,
    NeedRecord, NewIncidentEvent, PlanRecord, SitrepRecord, StoreError,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::App;
use crate::error::{AppError, AppResult};

/// An incident to declare.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewIncident {
    pub title: String,
    /// The plan's code.
    pub plan: String,
    /// Activate at once at this level (I–IV); without it the incident is only declared.
    #[serde(default)]
    pub level: Option<String>,
    /// A drill: kept out of the response figures; its needs become no real cases.
    #[serde(default)]
    pub exercise: bool,
    /// The commander's account; the declarer by default.
    #[serde(default)]
    pub commander: Option<String>,
    #[schema(value_type = Object)]
    pub area: Area,
    /// Minutes between situation reports (30 to 1440; 120 by default).
    #[serde(default)]
    pub period_minutes: Option<u32>,
}

/// A grid worker's report for one grid.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct GridReportInput {
    pub households_checked: u32,
    pub people_transferred: u32,
    #[serde(default)]
    pub note: String,
    /// Needs found, each a line of text with the skills it calls for.
    #[serde(default)]
    pub needs: Vec<NeedInput>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NeedInput {
    pub text: String,
    #[serde(default)]
    pub skills: Vec<String>,
}

/// What a change of level did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LevelChange {
    /// False when the incident was at that level already (another request got there first).
    pub changed: bool,
    pub created: usize,
    pub reopened: usize,
    pub ended: usize,
}

/// A volunteer call made from a need: the activity and the volunteers who match it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VolunteerCall {
    pub activity: Uuid,
    /// Volunteers of the grid's community with every skill the need calls for.
    pub matched: Vec<String>,
}

/// The incident's tasks, needs and figures, loaded together.
pub struct Loaded {
    pub incident: IncidentRecord,
    pub plan: Plan,
    pub grids: BTreeSet<GridCode>,
    pub tasks: Vec<IncidentTaskRecord>,
}

pub const PERIOD_DEFAULT: u32 = 120;

pub(crate) fn level_of(text: &str) -> AppResult<Level> {
    Level::parse(text).ok_or_else(|| {
        AppError::Unprocessable(vec![(
            "level".into(),
            format!("`{text}` is not a level: I, II, III or IV"),
        )])
    })
}

fn target_of(t: &IncidentTaskRecord) -> Target {
    match t.target_kind.as_str() {
        "unit" => Target::Unit(t.target_code.clone()),
        "role" => Target::Role(t.target_code.clone()),
        _ => t
            .target_code
            .parse()
            .map(Target::Grid)
            .unwrap_or_else(|_| Target::Unit(t.target_code.clone())),
    }
}

pub(crate) fn target_parts(t: &Target) -> (&'static str, String) {
    match t {
        Target::Unit(u) => ("unit", u.clone()),
        Target::Role(r) => ("role", r.clone()),
        Target::Grid(g) => ("grid", g.to_string()),
    }
}

/// The machine's view of an incident as stored.
fn state_of(incident: &IncidentRecord, tasks: &[IncidentTaskRecord]) -> IncidentState {
    IncidentState {
        level: incident.level.as_deref().and_then(Level::parse),
        lifted: incident.status == "lifted",
        tasks: tasks
            .iter()
            .map(|t| IncidentTask {
                task: TaskKey {
                    key: t.key.clone(),
                    target: target_of(t),
                },
                title: t.title.clone(),
                level: Level::parse(&t.level).unwrap_or(Level::IV),
                due_at: t.due_at,
                status: t.status.parse().unwrap_or(TaskStatus::Open),
                reason: t.reason.clone(),
            })
            .collect(),
    }
}

impl App {
    fn emergency_gate(
        &self,
        actor: &Actor,
        policy: &civicgrid_domain::policy::Policy<'_>,
    ) -> AppResult<()> {
        policy.may_use_emergency(actor).map_err(AppError::Forbidden)
    }

    /// Checks plans against the deployment: their own problems, and every unit, role and grid
    /// they name exists. Problems are named `plans[i].field`.
    pub(crate) async fn plan_problems(&self, plans: &[Plan]) -> AppResult<Vec<(String, String)>> {
        let reference = self.reference().await?;
        let mut out = Vec::new();
        let mut codes = BTreeSet::new();
        for (i, p) in plans.iter().enumerate() {
            let at = |f: &str| format!("plans[{i}].{f}");
            for (field, problem) in p.problems() {
                out.push((at(&field), problem));
            }
            if !codes.insert(p.code.as_str()) {
                out.push((at("code"), format!("{} is given twice", p.code)));
            }
            for (j, t) in p.tasks.iter().enumerate() {
                match &t.addressee {
                    civicgrid_domain::emergency::Addressee::Unit(u)
                        if !reference.units.iter().any(|x| &x.code == u) =>
                    {
                        out.push((at(&format!("tasks[{j}].addressee")), format!("no unit {u}")));
                    }
                    civicgrid_domain::emergency::Addressee::Role(r)
                        if !reference.roles.iter().any(|x| &x.code == r) =>
                    {
                        out.push((at(&format!("tasks[{j}].addressee")), format!("no role {r}")));
                    }
                    _ => {}
                }
            }
            let grids = p
                .contacts
                .iter()
                .filter_map(|c| c.grid.as_ref())
                .chain(p.resources.iter().filter_map(|r| r.grid.as_ref()))
                .chain(p.shelters.iter().map(|s| &s.grid));
            for g in grids {
                if !reference.grid_regions.contains_key(g) {
                    out.push((at("grid"), format!("{g} is not a grid here")));
                }
            }
        }
        Ok(out)
    }

    /// Stores plans, all or none: a plan already kept is replaced (one version up). Running
    /// incidents keep the plan they were declared under.
    pub async fn save_emergency_plans(
        &self,
        actor: &Actor,
        plans: Vec<Plan>,
    ) -> AppResult<Vec<PlanRecord>> {
        let reference = self.reference().await?;
        reference
            .policy()
            .may_keep_plans(actor)
            .map_err(AppError::Forbidden)?;
        if plans.is_empty() {
            return Err(AppError::Unprocessable(vec![(
                "plans".into(),
                "no plan given".into(),
            )]));
        }
        let problems = self.plan_problems(&plans).await?;
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        let records = plans
            .iter()
            .map(|p| {
                Ok(PlanRecord {
                    code: p.code.clone(),
                    kind: p.kind.as_str().to_owned(),
                    title: p.title.clone(),
                    body: serde_json::to_string(p).map_err(|e| AppError::Invalid(e.to_string()))?,
                    version: 0,
                    updated_by: actor.name().to_owned(),
                    updated_at: now,
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        self.repo.save_emergency_plans(&records).await?;
        let mut out = Vec::new();
        for p in &plans {
            if let Some(r) = self.repo.emergency_plan(&p.code).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Every plan, by code (anyone with a part in emergency response).
    pub async fn emergency_plans(&self, actor: &Actor) -> AppResult<Vec<(PlanRecord, Plan)>> {
        let reference = self.reference().await?;
        self.emergency_gate(actor, &reference.policy())?;
        self.repo
            .emergency_plans()
            .await?
            .into_iter()
            .map(|r| {
                let plan = plan_from(&r.body)?;
                Ok((r, plan))
            })
            .collect()
    }

    pub async fn emergency_plan(&self, actor: &Actor, code: &str) -> AppResult<(PlanRecord, Plan)> {
        let reference = self.reference().await?;
        self.emergency_gate(actor, &reference.policy())?;
        let r = self
            .repo
            .emergency_plan(code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("plan {code}")))?;
        let plan = plan_from(&r.body)?;
        Ok((r, plan))
    }

    /// Declares an incident over an area under a plan, and activates it at once when a level
    /// is given. The area is resolved to grids now (a polygon or circle to the grids it
    /// touches); the commander needs emergency.command over all of them.
    pub async fn declare_incident(
        &self,
        actor: &Actor,
        new: NewIncident,
    ) -> AppResult<IncidentRecord> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        policy.may_keep_plans(actor).map_err(AppError::Forbidden)?;
        let mut problems = Vec::new();
        let title = new.title.trim();
        if title.is_empty() || title.chars().count() > 80 || title.contains('\0') {
            problems.push(("title".to_owned(), "1 to 80 characters".to_owned()));
        }
        let plan = match self.repo.emergency_plan(new.plan.trim()).await? {
            Some(p) => Some(p),
            None => {
                problems.push(("plan".to_owned(), format!("no plan {}", new.plan)));
                None
            }
        };
        let level = match new.level.as_deref().filter(|l| !l.trim().is_empty()) {
            Some(l) => match Level::parse(l) {
                Some(l) => Some(l),
                None => {
                    problems.push(("level".to_owned(), format!("`{l}` is not I, II, III or IV")));
                    None
                }
            },
            None => None,
        };
        let period = new.period_minutes.unwrap_or(PERIOD_DEFAULT);
        if !(30..=1440).contains(&period) {
            problems.push(("period_minutes".to_owned(), "30 to 1440 minutes".to_owned()));
        }
        let commander = new
            .commander
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(actor.name())
            .to_owned();
        let commanders = self.repo.user(&commander).await?;
        if commanders.as_ref().is_none_or(|u| !u.active) {
            problems.push((
                "commander".to_owned(),
                format!("no active account {commander}"),
            ));
        }
        if let Some(p) = new.area.problem() {
            problems.push(("area".to_owned(), p));
        }
        let mut grids = BTreeSet::new();
        if problems.iter().all(|(f, _)| f != "area") {
            let outlines = self.repo.grids(None).await?;
            grids = new
                .area
                .grids(outlines.iter().map(|g| (&g.code, &g.geometry)));
            if let Area::Grids { grids: picked } = &new.area {
                for g in picked.iter().filter(|g| !grids.contains(*g)) {
                    problems.push(("area".to_owned(), format!("{g} is not a grid here")));
                }
            }
            if grids.is_empty() && problems.iter().all(|(f, _)| f != "area") {
                problems.push(("area".to_owned(), "the area touches no grid".to_owned()));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let Some(plan) = plan else {
            return Err(AppError::Unprocessable(vec![(
                "plan".into(),
                "no plan".into(),
            )]));
        };
        let regions: Vec<RegionCode> = grids
            .iter()
            .filter_map(|g| reference.grid_regions.get(g).cloned())
            .collect();
        let region = RegionCode::smallest_common(&regions)
            .or_else(|| reference.top_region.clone())
            .ok_or_else(|| AppError::Invalid("the grids lie in different districts".into()))?;
        policy
            .may_command_incident(actor, &region)
            .map_err(AppError::Forbidden)?;
        if let Some(user) = &commanders {
            let theirs = Actor::Staff {
                username: user.username.clone(),
                grants: user.grants.clone(),
            };
            if policy.may_command_incident(&theirs, &region).is_err() {
                return Err(AppError::Unprocessable(vec![(
                    "commander".into(),
                    format!("{commander} holds no emergency.command over {region}"),
                )]));
            }
        }
        let now = self.clock.now();
        let id = self.ids.new_id(now);
        let day = now
            .to_zoned(reference.calendar.time_zone().clone())
            .strftime("%Y%m%d")
            .to_string();
        let code = civicgrid_domain::case::public_id(self.ids.random_bits());
        let incident = IncidentRecord {
            id,
            number: format!("YJ{day}-{}", &code[..4]),
            title: title.to_owned(),
            kind: plan.kind.clone(),
            plan_code: plan.code.clone(),
            plan_body: plan.body.clone(),
            level: None,
            status: "declared".into(),
            exercise: new.exercise,
            commander,
            region: region.to_string(),
            grids: grids.iter().map(|g| g.to_string()).collect(),
            area: serde_json::to_string(&new.area).map_err(|e| AppError::Invalid(e.to_string()))?,
            period_minutes: period,
            declared_by: actor.name().to_owned(),
            declared_at: now,
            activated_at: None,
            lifted_at: None,
            lift_reason: None,
            version: 1,
        };
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "declare".into(),
            grid: None,
            body: json!({
                "title": incident.title, "plan": incident.plan_code, "grids": incident.grids.len(),
                "exercise": incident.exercise, "commander": incident.commander,
            }),
        };
        self.repo.create_incident(&incident, &event).await?;
        if let Some(level) = level {
            self.set_incident_level(actor, &incident.number, level)
                .await?;
        }
        self.incident_record(&incident.number).await
    }

    /// An incident by its number or id.
    pub(crate) async fn incident_record(&self, key: &str) -> AppResult<IncidentRecord> {
        let found = match key.parse::<Uuid>() {
            Ok(id) => self.repo.incident(&id).await?,
            Err(_) => self.repo.incident_by_number(key.trim()).await?,
        };
        found.ok_or_else(|| AppError::NotFound(format!("incident {key}")))
    }

    pub(crate) async fn load_incident(&self, key: &str) -> AppResult<Loaded> {
        let incident = self.incident_record(key).await?;
        let plan = plan_from(&incident.plan_body)?;
        let grids = incident
            .grids
            .iter()
            .filter_map(|g| g.parse().ok())
            .collect();
        let tasks = self.repo.incident_tasks(&incident.id).await?;
        Ok(Loaded {
            incident,
            plan,
            grids,
            tasks,
        })
    }

    /// Whether the actor may see the incident (commanders and responders over it, the units
    /// its tasks go to).
    pub(crate) async fn may_read_incident(&self, actor: &Actor, l: &Loaded) -> AppResult<()> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        let region = parse_region(&l.incident.region)?;
        let grid_regions: Vec<RegionCode> = l
            .grids
            .iter()
            .filter_map(|g| reference.grid_regions.get(g).cloned())
            .collect();
        let units: Vec<&str> = l
            .tasks
            .iter()
            .filter(|t| t.target_kind == "unit")
            .map(|t| t.target_code.as_str())
            .collect();
        policy
            .may_read_incident(actor, &region, grid_regions.iter(), units)
            .map_err(AppError::Forbidden)
    }

    /// The incidents the actor may see, newest first.
    pub async fn incidents_for(&self, actor: &Actor) -> AppResult<Vec<IncidentRecord>> {
        let reference = self.reference().await?;
        self.emergency_gate(actor, &reference.policy())?;
        let mut out = Vec::new();
        for i in self.repo.incidents(200).await? {
            let l = self.load_incident(&i.id.to_string()).await?;
            if self.may_read_incident(actor, &l).await.is_ok() {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Moves an incident to `level` (activating it the first time): the machine decides
    /// which tasks are created, reopened or cancelled, and all of it is one transaction with
    /// the notice to the affected grids. Asking for the level it is at changes nothing.
    pub async fn set_incident_level(
        &self,
        actor: &Actor,
        key: &str,
        level: Level,
    ) -> AppResult<LevelChange> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        for _attempt in 0..5 {
            let l = self.load_incident(key).await?;
            let region = parse_region(&l.incident.region)?;
            policy
                .may_command_incident(actor, &region)
                .map_err(AppError::Forbidden)?;
            let state = state_of(&l.incident, &l.tasks);
            let now = self.clock.now();
            let changes = match state.set_level(&l.plan, level, &l.grids, now) {
                Ok(c) => c,
                Err(civicgrid_domain::emergency::IncidentError::SameLevel(_)) => {
                    return Ok(LevelChange {
                        changed: false,
                        created: 0,
                        reopened: 0,
                        ended: 0,
                    });
                }
                Err(e) => return Err(AppError::Conflict(e.to_string())),
            };
            let from = l.incident.level.clone();
            let mut next = l.incident.clone();
            next.level = Some(level.as_str().to_owned());
            next.status = "active".into();
            next.activated_at = next.activated_at.or(Some(now));
            next.version += 1;
            let created: Vec<IncidentTaskRecord> = changes
                .created
                .iter()
                .map(|t| {
                    let (kind, code) = target_parts(&t.task.target);
                    IncidentTaskRecord {
                        key: t.task.key.clone(),
                        target_kind: kind.to_owned(),
                        target_code: code,
                        title: t.title.clone(),
                        level: t.level.as_str().to_owned(),
                        due_at: t.due_at,
                        status: "open".into(),
                        reason: None,
                        created_at: now,
                        ended_at: None,
                        ended_by: None,
                    }
                })
                .collect();
            let changed = changed_tasks(
                &l.tasks,
                &changes.reopened,
                &changes.ended,
                now,
                actor.name(),
            );
            let raised = from
                .as_deref()
                .and_then(Level::parse)
                .is_none_or(|f| level.graver_than(f));
            let action = match &from {
                None => "activate",
                Some(_) if raised => "raise",
                Some(_) => "lower",
            };
            let events = vec![NewIncidentEvent {
                at: now,
                actor: actor.name().to_owned(),
                action: action.into(),
                grid: None,
                body: json!({
                    "from": from, "to": level.as_str(),
                    "created": created.len(), "reopened": changes.reopened.len(),
                    "cancelled": changes.ended.len(),
                }),
            }];
            // Grid workers are told of an activation and of every raise; a lowering is read
            // on the board.
            let notice = if raised {
                Some(
                    self.incident_notice(&l, level, actor, now, &reference)
                        .await?,
                )
            } else {
                None
            };
            match self
                .repo
                .change_incident(
                    &next,
                    l.incident.version,
                    &created,
                    &changed,
                    &events,
                    notice.as_ref(),
                )
                .await
            {
                Ok(()) => {
                    return Ok(LevelChange {
                        changed: true,
                        created: created.len(),
                        reopened: changes.reopened.len(),
                        ended: changes.ended.len(),
                    });
                }
                // Someone changed it first: decide again on what they left.
                Err(StoreError::Stale { .. }) | Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the incident keeps changing; try again".into(),
        ))
    }

    async fn incident_notice(
        &self,
        l: &Loaded,
        level: Level,
        actor: &Actor,
        now: Timestamp,
        reference: &crate::reference::Reference,
    ) -> AppResult<GridNoticeRecord> {
        let grid_tasks: Vec<String> = l
            .plan
            .tasks
            .iter()
            .filter(|t| {
                t.level == level
                    && t.addressee == civicgrid_domain::emergency::Addressee::GridWorkers
            })
            .map(|t| t.title.clone())
            .collect();
        let drill = if l.incident.exercise {
            "【演练】"
        } else {
            ""
        };
        let mut text = format!(
            "{drill}{}启动{}级（{}）应急响应。",
            l.incident.title,
            level.as_str(),
            level.name_zh()
        );
        if !grid_tasks.is_empty() {
            text.push_str("网格任务：");
            text.push_str(&grid_tasks.join("；"));
            text.push('。');
        }
        text.push_str(&format!(
            "请立即在应急页面确认接收并按网格报告（事件编号 {}）。",
            l.incident.number
        ));
        let text: String = text.chars().take(500).collect();
        let _ = reference;
        Ok(GridNoticeRecord {
            id: self.ids.new_id(now),
            title: format!("{drill}{}{}级响应", l.incident.title, level.as_str())
                .chars()
                .take(60)
                .collect(),
            text,
            grids: l.incident.grids.clone(),
            region: l.incident.region.clone(),
            issued_by: actor.name().to_owned(),
            issued_at: now,
        })
    }

    /// Lifts an incident: every open task is closed with the reason.
    pub async fn lift_incident(
        &self,
        actor: &Actor,
        key: &str,
        reason: &str,
    ) -> AppResult<IncidentRecord> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 || reason.contains('\0') {
            return Err(AppError::Unprocessable(vec![(
                "reason".into(),
                "1 to 500 characters".into(),
            )]));
        }
        for _attempt in 0..5 {
            let l = self.load_incident(key).await?;
            policy
                .may_command_incident(actor, &parse_region(&l.incident.region)?)
                .map_err(AppError::Forbidden)?;
            let state = state_of(&l.incident, &l.tasks);
            let changes = state
                .lift(reason)
                .map_err(|e| AppError::Conflict(e.to_string()))?;
            let now = self.clock.now();
            let mut next = l.incident.clone();
            next.status = "lifted".into();
            next.lifted_at = Some(now);
            next.lift_reason = Some(reason.to_owned());
            next.version += 1;
            let changed = changed_tasks(&l.tasks, &[], &changes.ended, now, actor.name());
            let events = vec![NewIncidentEvent {
                at: now,
                actor: actor.name().to_owned(),
                action: "lift".into(),
                grid: None,
                body: json!({"reason": reason, "closed": changes.ended.len()}),
            }];
            match self
                .repo
                .change_incident(&next, l.incident.version, &[], &changed, &events, None)
                .await
            {
                Ok(()) => return self.incident_record(key).await,
                Err(StoreError::Stale { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the incident keeps changing; try again".into(),
        ))
    }

    /// Marks an open task done (its addressee or the commander), with a note.
    pub async fn finish_incident_task(
        &self,
        actor: &Actor,
        key: &str,
        task: &str,
        target: &str,
        note: &str,
    ) -> AppResult<()> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        let l = self.load_incident(key).await?;
        let Some(t) = l
            .tasks
            .iter()
            .find(|t| t.key == task && format!("{}:{}", t.target_kind, t.target_code) == target)
        else {
            return Err(AppError::NotFound(format!("task {task} for {target}")));
        };
        let grid_region = match target_of(t) {
            Target::Grid(g) => reference.grid_regions.get(&g).cloned(),
            _ => None,
        };
        policy
            .may_finish_task(
                actor,
                &target_of(t),
                &parse_region(&l.incident.region)?,
                grid_region.as_ref(),
            )
            .map_err(AppError::Forbidden)?;
        if note.chars().count() > 500 || note.contains('\0') {
            return Err(AppError::Unprocessable(vec![(
                "note".into(),
                "at most 500 characters".into(),
            )]));
        }
        if t.status != "open" {
            return Err(AppError::Conflict(format!("the task is {}", t.status)));
        }
        let now = self.clock.now();
        let mut done = t.clone();
        done.status = "done".into();
        done.reason = (!note.trim().is_empty()).then(|| note.trim().to_owned());
        done.ended_at = Some(now);
        done.ended_by = Some(actor.name().to_owned());
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "task_done".into(),
            grid: (t.target_kind == "grid").then(|| t.target_code.clone()),
            body: json!({
                "task": t.key, "target": target, "title": t.title, "due_at": t.due_at.to_string(),
                "late_minutes": now.duration_since(t.due_at).as_mins().max(0), "note": note.trim(),
            }),
        };
        if !self
            .repo
            .end_incident_task(&l.incident.id, &done, &event)
            .await?
        {
            return Err(AppError::Conflict("the task was ended already".into()));
        }
        Ok(())
    }

    /// The grids of the incident the actor answers for: a grid worker's, those of their
    /// beats; community staff's, every affected grid where they respond.
    pub async fn my_incident_grids(&self, actor: &Actor, l: &Loaded) -> AppResult<Vec<GridCode>> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        let beats = self.repo.beats().await?;
        let on_beat = |g: &GridCode| {
            beats
                .iter()
                .any(|b| b.grids.contains(g) && b.workers.iter().any(|w| w == actor.name()))
        };
        // Those who respond there (community staff), not those who command.
        let responds = |g: &GridCode| {
            reference.grid_regions.get(g).is_some_and(|r| {
                policy.holds_in(
                    actor,
                    civicgrid_domain::access::Permission::EmergencyRespond,
                    r,
                )
            })
        };
        let grid_worker_only = match actor {
            Actor::Staff { grants, .. } => grants.iter().all(|g| g.role == "grid_worker"),
            _ => false,
        };
        Ok(l.grids
            .iter()
            .filter(|g| on_beat(g) || (!grid_worker_only && responds(g)))
            .cloned()
            .collect())
    }

    async fn responder_check(&self, actor: &Actor, l: &Loaded, grid: &str) -> AppResult<GridCode> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        let code: GridCode =
            grid.parse()
                .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                    AppError::Unprocessable(vec![("grid".into(), e.to_string())])
                })?;
        let Some(region) = reference.grid_regions.get(&code) else {
            return Err(AppError::NotFound(format!("grid {grid}")));
        };
        policy
            .may_respond_in(actor, region)
            .map_err(AppError::Forbidden)?;
        if !l.grids.contains(&code) {
            return Err(AppError::Unprocessable(vec![(
                "grid".into(),
                format!("{grid} is not affected by {}", l.incident.number),
            )]));
        }
        if l.incident.status != "active" {
            return Err(AppError::Conflict(format!(
                "the incident is {}",
                l.incident.status
            )));
        }
        Ok(code)
    }

    /// A grid worker acknowledges the incident for a grid; `false` if they had already.
    pub async fn acknowledge_incident(
        &self,
        actor: &Actor,
        key: &str,
        grid: &str,
    ) -> AppResult<bool> {
        let reference = self.reference().await?;
        self.emergency_gate(actor, &reference.policy())?;
        let l = self.load_incident(key).await?;
        let code = self.responder_check(actor, &l, grid).await?;
        let now = self.clock.now();
        let ack = Acknowledgement {
            grid: code.to_string(),
            username: actor.name().to_owned(),
            at: now,
        };
        let since = l
            .incident
            .activated_at
            .map_or(0, |a| now.duration_since(a).as_mins());
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "acknowledge".into(),
            grid: Some(code.to_string()),
            body: json!({"minutes_after_activation": since}),
        };
        Ok(self
            .repo
            .acknowledge_incident(&l.incident.id, &ack, &event)
            .await?)
    }

    /// A grid worker reports for a grid: households checked, people transferred, needs found
    /// (each kept open until it becomes a case or a volunteer call). A report acknowledges too.
    pub async fn report_for_grid(
        &self,
        actor: &Actor,
        key: &str,
        grid: &str,
        input: GridReportInput,
    ) -> AppResult<GridReportRecord> {
        let reference = self.reference().await?;
        self.emergency_gate(actor, &reference.policy())?;
        let l = self.load_incident(key).await?;
        let code = self.responder_check(actor, &l, grid).await?;
        let mut problems = Vec::new();
        if input.households_checked > 100_000 {
            problems.push(("households_checked".to_owned(), "at most 100000".to_owned()));
        }
        if input.people_transferred > 100_000 {
            problems.push(("people_transferred".to_owned(), "at most 100000".to_owned()));
        }
        if input.note.chars().count() > 1000 || input.note.contains('\0') {
            problems.push(("note".to_owned(), "at most 1000 characters".to_owned()));
        }
        if input.needs.len() > 50 {
            problems.push((
                "needs".to_owned(),
                "at most 50 needs in a report".to_owned(),
            ));
        }
        for (i, n) in input.needs.iter().enumerate() {
            if n.text.trim().is_empty() || n.text.chars().count() > 300 || n.text.contains('\0') {
                problems.push((format!("needs[{i}].text"), "1 to 300 characters".to_owned()));
            }
            if n.skills.len() > 10
                || n.skills
                    .iter()
                    .any(|s| s.trim().is_empty() || s.chars().count() > 30)
            {
                problems.push((
                    format!("needs[{i}].skills"),
                    "up to 10 skills of 1 to 30 characters".to_owned(),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        if self
            .repo
            .incident_acknowledgements(&l.incident.id)
            .await?
            .iter()
            .all(|a| !(a.grid == code.as_str() && a.username == actor.name()))
        {
            self.acknowledge_incident(actor, key, grid).await?;
        }
        let now = self.clock.now();
        let report = GridReportRecord {
            id: self.ids.new_id(now),
            grid: code.to_string(),
            reported_by: actor.name().to_owned(),
            at: now,
            households_checked: input.households_checked,
            people_transferred: input.people_transferred,
            note: input.note.trim().to_owned(),
        };
        let needs: Vec<NeedRecord> = input
            .needs
            .iter()
            .map(|n| NeedRecord {
                id: self.ids.new_id(now),
                grid: code.to_string(),
                report_id: report.id,
                text: n.text.trim().to_owned(),
                skills: n.skills.iter().map(|s| s.trim().to_owned()).collect(),
                status: "open".into(),
                case_id: None,
                activity_id: None,
                raised_by: actor.name().to_owned(),
                raised_at: now,
                settled_by: None,
                settled_at: None,
            })
            .collect();
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "report".into(),
            grid: Some(code.to_string()),
            body: json!({
                "households_checked": report.households_checked,
                "people_transferred": report.people_transferred,
                "needs": needs.iter().map(|n| json!({"id": n.id, "text": n.text})).collect::<Vec<_>>(),
                "note": report.note,
            }),
        };
        self.repo
            .add_grid_report(&l.incident.id, &report, &needs, &event)
            .await?;
        Ok(report)
    }

    async fn need_for_action(
        &self,
        actor: &Actor,
        key: &str,
        need: &Uuid,
    ) -> AppResult<(Loaded, NeedRecord)> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        let l = self.load_incident(key).await?;
        let needs = self.repo.incident_needs(&l.incident.id).await?;
        let Some(n) = needs.into_iter().find(|n| &n.id == need) else {
            return Err(AppError::NotFound(format!("need {need}")));
        };
        let grid: GridCode = n
            .grid
            .parse()
            .map_err(|_| AppError::Invalid(format!("need {need} has no grid")))?;
        let commands = policy
            .may_command_incident(actor, &parse_region(&l.incident.region)?)
            .is_ok();
        let responds = reference
            .grid_regions
            .get(&grid)
            .is_some_and(|r| policy.may_respond_in(actor, r).is_ok());
        if !commands && !responds {
            return Err(AppError::Forbidden(
                "a need is taken up by the commander or the grid's responders".into(),
            ));
        }
        if l.incident.exercise {
            return Err(AppError::Conflict(
                "in a drill, needs are recorded but become no real case or call".into(),
            ));
        }
        if n.status != "open" {
            return Err(AppError::Conflict(format!(
                "the need is {} already",
                n.status
            )));
        }
        Ok((l, n))
    }

    /// Turns an open need into a case in its grid, reported by the actor: one action.
    pub async fn need_to_case(
        &self,
        actor: &Actor,
        key: &str,
        need: &Uuid,
    ) -> AppResult<civicgrid_domain::case::Case> {
        let (l, n) = self.need_for_action(actor, key, need).await?;
        if !self.repo.hold_need(&l.incident.id, need).await? {
            return Err(AppError::Conflict(
                "the need is being taken up already".into(),
            ));
        }
        let intake = crate::cases::Intake {
            description: format!("【{}】{}", l.incident.title, n.text),
            location: None,
            grid: n.grid.parse().ok(),
            address: None,
            category: None,
            attributes: Default::default(),
            priority: None,
            channel: civicgrid_domain::case::Channel::Patrol,
            reporter: None,
            media_url: None,
        };
        let case = match self.report_case(intake, actor).await {
            Ok(c) => c,
            Err(e) => {
                self.repo.release_need(&l.incident.id, need).await?;
                return Err(e);
            }
        };
        let now = self.clock.now();
        let mut settled = n.clone();
        settled.status = "case".into();
        settled.case_id = Some(case.id);
        settled.settled_by = Some(actor.name().to_owned());
        settled.settled_at = Some(now);
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "need_case".into(),
            grid: Some(n.grid.clone()),
            body: json!({"need": n.id, "text": n.text, "case": case.id, "receipt": case.public_id}),
        };
        self.repo
            .settle_need(&l.incident.id, &settled, &event)
            .await?;
        Ok(case)
    }

    /// Turns an open need into a volunteer call: an activity in the grid's community for the
    /// next four hours, asking for the need's skills, and the volunteers who match (registered
    /// with that community, holding every skill asked).
    pub async fn need_to_volunteer_call(
        &self,
        actor: &Actor,
        key: &str,
        need: &Uuid,
        places: u32,
    ) -> AppResult<VolunteerCall> {
        let (l, n) = self.need_for_action(actor, key, need).await?;
        let reference = self.reference().await?;
        let grid: GridCode = n
            .grid
            .parse()
            .map_err(|_| AppError::Invalid(format!("need {need} has no grid")))?;
        let community = reference
            .grid_regions
            .get(&grid)
            .cloned()
            .ok_or_else(|| AppError::Invalid(format!("{grid} is not a grid here")))?;
        if !(1..=100).contains(&places) {
            return Err(AppError::Unprocessable(vec![(
                "places".into(),
                "1 to 100 volunteers".into(),
            )]));
        }
        if !self.repo.hold_need(&l.incident.id, need).await? {
            return Err(AppError::Conflict(
                "the need is being taken up already".into(),
            ));
        }
        let now = self.clock.now();
        let new = crate::volunteers::NewActivity {
            title: format!("应急：{}", n.text).chars().take(60).collect(),
            description: format!("{}（{}）。{}", l.incident.title, l.incident.number, n.text),
            community: community.clone(),
            grid: Some(grid.clone()),
            place: reference.place_name(&grid).chars().take(100).collect(),
            required_skills: n.skills.clone(),
            shifts: vec![crate::volunteers::NewShift {
                starts_at: now,
                ends_at: now
                    .checked_add(SignedDuration::from_hours(4))
                    .unwrap_or(now),
                capacity: places,
            }],
            case: None,
        };
        // The emergency policy allowed this; the activity is the platform's, on the
        // commander's or responder's word (recorded in the incident's log).
        let activity = match self.create_activity(&Actor::System, new).await {
            Ok((a, _)) => a,
            Err(e) => {
                self.repo.release_need(&l.incident.id, need).await?;
                return Err(e);
            }
        };
        let matched: Vec<String> = self
            .repo
            .volunteers(&community)
            .await?
            .into_iter()
            .filter(|v| n.skills.iter().all(|s| v.skills.iter().any(|h| h == s)))
            .map(|v| v.number)
            .collect();
        let mut settled = n.clone();
        settled.status = "call".into();
        settled.activity_id = Some(activity.id);
        settled.settled_by = Some(actor.name().to_owned());
        settled.settled_at = Some(now);
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "need_call".into(),
            grid: Some(n.grid.clone()),
            body: json!({"need": n.id, "text": n.text, "activity": activity.id, "matched": matched.len(), "skills": n.skills}),
        };
        self.repo
            .settle_need(&l.incident.id, &settled, &event)
            .await?;
        Ok(VolunteerCall {
            activity: activity.id,
            matched,
        })
    }

    /// Closes an open need without a case or call (met on the spot), with a note.
    pub async fn close_need(
        &self,
        actor: &Actor,
        key: &str,
        need: &Uuid,
        note: &str,
    ) -> AppResult<()> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        let l = self.load_incident(key).await?;
        policy
            .may_command_incident(actor, &parse_region(&l.incident.region)?)
            .map_err(AppError::Forbidden)?;
        let note = note.trim();
        if note.is_empty() || note.chars().count() > 300 || note.contains('\0') {
            return Err(AppError::Unprocessable(vec![(
                "note".into(),
                "1 to 300 characters".into(),
            )]));
        }
        let needs = self.repo.incident_needs(&l.incident.id).await?;
        let Some(n) = needs.into_iter().find(|n| &n.id == need) else {
            return Err(AppError::NotFound(format!("need {need}")));
        };
        let now = self.clock.now();
        let mut settled = n.clone();
        settled.status = "closed".into();
        settled.settled_by = Some(actor.name().to_owned());
        settled.settled_at = Some(now);
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "need_closed".into(),
            grid: Some(n.grid.clone()),
            body: json!({"need": n.id, "text": n.text, "note": note}),
        };
        if !self
            .repo
            .settle_need(&l.incident.id, &settled, &event)
            .await?
        {
            return Err(AppError::Conflict(format!(
                "the need is {} already",
                n.status
            )));
        }
        Ok(())
    }

    /// Writes a situation report: the live figures now, with the commander's text.
    pub async fn write_sitrep(
        &self,
        actor: &Actor,
        key: &str,
        text: &str,
    ) -> AppResult<SitrepRecord> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        self.emergency_gate(actor, &policy)?;
        let l = self.load_incident(key).await?;
        policy
            .may_command_incident(actor, &parse_region(&l.incident.region)?)
            .map_err(AppError::Forbidden)?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 4000 || text.contains('\0') {
            return Err(AppError::Unprocessable(vec![(
                "text".into(),
                "1 to 4000 characters".into(),
            )]));
        }
        if l.incident.status != "active" {
            return Err(AppError::Conflict(format!(
                "the incident is {}",
                l.incident.status
            )));
        }
        let now = self.clock.now();
        let figures = self.incident_figures(&l, now).await?;
        let mut sitrep = SitrepRecord {
            seq: 0,
            at: now,
            author: actor.name().to_owned(),
            figures: serde_json::to_value(&figures)
                .map_err(|e| AppError::Invalid(e.to_string()))?,
            text: text.to_owned(),
        };
        let event = NewIncidentEvent {
            at: now,
            actor: actor.name().to_owned(),
            action: "sitrep".into(),
            grid: None,
            body: json!({"figures": sitrep.figures, "text": text}),
        };
        sitrep.seq = self
            .repo
            .add_sitrep(&l.incident.id, &sitrep, &event)
            .await?;
        Ok(sitrep)
    }

    /// Keeps a reminder for every active incident whose next situation report is due and not
    /// written: report k is due k operational periods after activation. Returns how many were
    /// kept now (each once, whichever instance runs this).
    pub async fn remind_sitreps(&self) -> AppResult<usize> {
        let now = self.clock.now();
        let mut kept = 0;
        for i in self.repo.incidents_in("active").await? {
            let Some(activated) = i.activated_at else {
                continue;
            };
            let period = i64::from(i.period_minutes.max(1));
            let elapsed = now.duration_since(activated).as_mins();
            let due = u64::try_from(elapsed / period).unwrap_or(0);
            if due == 0 {
                continue;
            }
            let written = self.repo.sitreps(&i.id).await?.len() as u64;
            if written < due && self.repo.remind_sitrep(&i.id, due, now).await? {
                kept += 1;
            }
        }
        Ok(kept)
    }
}

fn changed_tasks(
    tasks: &[IncidentTaskRecord],
    reopened: &[(TaskKey, Timestamp)],
    ended: &[(TaskKey, TaskStatus, String)],
    now: Timestamp,
    by: &str,
) -> Vec<IncidentTaskRecord> {
    let find = |k: &TaskKey| {
        let (kind, code) = target_parts(&k.target);
        tasks
            .iter()
            .find(|t| t.key == k.key && t.target_kind == kind && t.target_code == code)
    };
    let mut out = Vec::new();
    for (k, due) in reopened {
        if let Some(t) = find(k) {
            let mut t = t.clone();
            t.status = "open".into();
            t.due_at = *due;
            t.reason = None;
            t.ended_at = None;
            t.ended_by = None;
            out.push(t);
        }
    }
    for (k, status, reason) in ended {
        if let Some(t) = find(k) {
            let mut t = t.clone();
            t.status = status.as_str().to_owned();
            t.reason = Some(reason.clone());
            t.ended_at = Some(now);
            t.ended_by = Some(by.to_owned());
            out.push(t);
        }
    }
    out
}

pub(crate) fn plan_from(body: &str) -> AppResult<Plan> {
    serde_json::from_str(body)
        .map_err(|e| AppError::Invalid(format!("a stored plan does not read: {e}")))
}

pub(crate) fn parse_region(code: &str) -> AppResult<RegionCode> {
    code.parse()
        .map_err(|_| AppError::Invalid(format!("an incident's region {code} does not read")))
}

/// The kinds of incident, for forms.
pub fn incident_kinds() -> &'static [IncidentKind] {
    IncidentKind::ALL
}

/// Minutes late (positive) or early (negative) of a task that ended at `ended`.
pub(crate) fn delay_minutes(due: Timestamp, ended: Timestamp) -> i64 {
    ended.duration_since(due).as_mins()
}
