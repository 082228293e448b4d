//! The after-action record (复盘) of an incident, read from its append-only log: the
//! timeline, each task's delay against its deadline, the grids that never acknowledged, the
//! needs raised and what became of them, the situation reports. Shown as a printable page and
//! exported as CSV. Also the response figures per unit over real incidents (drills are left
//! out).

use std::collections::BTreeMap;

use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::GridCode;
use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

use super::board::{Figures, IncidentView, NeedView, SitrepView, TaskView, need_view, task_view};
use crate::App;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub seq: u64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// Minutes after the incident was declared.
    pub minute: i64,
    pub actor: String,
    /// declare, activate, raise, lower, lift, task_done, acknowledge, report, need_case,
    /// need_call, need_closed, sitrep, sitrep_reminder.
    pub action: String,
    pub grid: Option<String>,
    pub grid_name: Option<String>,
    /// What the event recorded, as `key=value` pairs.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskDelay {
    #[serde(flatten)]
    pub task: TaskView,
    /// Minutes past the deadline when it ended (or at the record's time if still open):
    /// negative when early; none for a task cancelled before its deadline.
    pub delay_minutes: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NeedOutcome {
    #[serde(flatten)]
    pub need: NeedView,
    /// The case's status when the need became a case.
    pub case_status: Option<String>,
    /// Met: closed by hand, its case closed, or its volunteer call made.
    pub met: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GridRef {
    pub grid: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AfterAction {
    pub incident: IncidentView,
    /// From activation to lifting (or to now).
    pub duration_minutes: Option<i64>,
    pub figures: Figures,
    /// Minutes from activation to the first acknowledgement of each grid that acknowledged,
    /// the slowest of them.
    pub slowest_acknowledgement_minutes: Option<i64>,
    pub timeline: Vec<TimelineEntry>,
    pub tasks: Vec<TaskDelay>,
    pub never_acknowledged: Vec<GridRef>,
    pub needs: Vec<NeedOutcome>,
    pub sitreps: Vec<SitrepView>,
}

/// One unit's answer to real incidents' tasks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitResponse {
    pub unit: String,
    pub name: String,
    pub tasks: usize,
    pub on_time: usize,
    pub late: usize,
    /// Closed by the incident's end without being done.
    pub undone: usize,
}

fn detail(body: &serde_json::Value) -> String {
    match body.as_object() {
        Some(o) => o
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "figures" | "needs"))
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => String::new(),
    }
}

impl App {
    /// The after-action record (whoever may read the incident).
    pub async fn after_action(&self, actor: &Actor, key: &str) -> AppResult<AfterAction> {
        let l = self.load_incident(key).await?;
        self.may_read_incident(actor, &l).await?;
        let reference = self.reference().await?;
        let now = self.clock.now();
        let end = l.incident.lifted_at.unwrap_or(now);
        let (grids, figures) = self.grid_states(&l, end).await?;
        let events = self.repo.incident_events(&l.incident.id).await?;
        // In time order (the log's order, unless clocks disagreed).
        let mut events = events;
        events.sort_by_key(|e| (e.at, e.seq));
        let timeline = events
            .iter()
            .map(|e| TimelineEntry {
                seq: e.seq,
                at: e.at,
                minute: e.at.duration_since(l.incident.declared_at).as_mins(),
                actor: e.actor.clone(),
                action: e.action.clone(),
                grid: e.grid.clone(),
                grid_name: e
                    .grid
                    .as_deref()
                    .and_then(|g| g.parse::<GridCode>().ok())
                    .map(|g| reference.place_name(&g)),
                detail: detail(&e.body),
            })
            .collect();
        let tasks = l
            .tasks
            .iter()
            .map(|t| {
                let ended = t.ended_at.unwrap_or(end);
                // Late by how much; early only for work done (a task closed or cancelled
                // before its deadline was not late, nor done).
                let delay = match t.status.as_str() {
                    "cancelled" | "closed" if ended <= t.due_at => None,
                    _ => Some(super::delay_minutes(t.due_at, ended)),
                };
                TaskDelay {
                    task: task_view(t, end, &reference),
                    delay_minutes: delay,
                }
            })
            .collect();
        let slowest = l.incident.activated_at.and_then(|a| {
            grids
                .iter()
                .filter_map(|g| g.acknowledged_at)
                .map(|t| t.duration_since(a).as_mins())
                .max()
        });
        let never_acknowledged = grids
            .iter()
            .filter(|g| g.acknowledged_by.is_empty())
            .map(|g| GridRef {
                grid: g.grid.clone(),
                name: g.name.clone(),
            })
            .collect();
        let mut needs = Vec::new();
        for n in self.repo.incident_needs(&l.incident.id).await? {
            let case_status = match n.case_id {
                Some(c) => self
                    .repo
                    .case(&c)
                    .await?
                    .map(|c| c.state.status.as_str().to_owned()),
                None => None,
            };
            let met = match n.status.as_str() {
                "closed" | "call" => true,
                "case" => matches!(case_status.as_deref(), Some("closed" | "evaluated")),
                _ => false,
            };
            needs.push(NeedOutcome {
                need: need_view(&n, &reference),
                case_status,
                met,
            });
        }
        let sitreps = self
            .repo
            .sitreps(&l.incident.id)
            .await?
            .iter()
            .map(SitrepView::from)
            .collect();
        Ok(AfterAction {
            incident: IncidentView::from(&l.incident),
            duration_minutes: l
                .incident
                .activated_at
                .map(|a| end.duration_since(a).as_mins()),
            figures,
            slowest_acknowledgement_minutes: slowest,
            timeline,
            tasks,
            never_acknowledged,
            needs,
            sitreps,
        })
    }

    /// How each unit answered the tasks of real incidents the actor may see (drills left out).
    pub async fn unit_responses(&self, actor: &Actor) -> AppResult<Vec<UnitResponse>> {
        let reference = self.reference().await?;
        let mut by_unit: BTreeMap<String, UnitResponse> = BTreeMap::new();
        for i in self.incidents_for(actor).await? {
            if i.exercise {
                continue;
            }
            for t in self.repo.incident_tasks(&i.id).await? {
                if t.target_kind != "unit" || t.status == "cancelled" {
                    continue;
                }
                let r = by_unit
                    .entry(t.target_code.clone())
                    .or_insert_with(|| UnitResponse {
                        unit: t.target_code.clone(),
                        name: reference.unit_name(&t.target_code),
                        tasks: 0,
                        on_time: 0,
                        late: 0,
                        undone: 0,
                    });
                r.tasks += 1;
                match (t.status.as_str(), t.ended_at) {
                    ("done", Some(e)) if e <= t.due_at => r.on_time += 1,
                    ("done", _) => r.late += 1,
                    ("closed", _) => r.undone += 1,
                    _ => {}
                }
            }
        }
        Ok(by_unit.into_values().collect())
    }
}

/// The record as CSV: one row per timeline entry, task, silent grid and need, each with its
/// section.
pub fn record_csv(r: &AfterAction) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| AppError::Invalid(format!("the record does not write as CSV: {e}"));
    w.write_record([
        "section",
        "at",
        "minute",
        "who",
        "what",
        "subject",
        "detail",
        "due_at",
        "ended_at",
        "delay_minutes",
        "status",
    ])
    .map_err(fail)?;
    let ts = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    w.write_record([
        "incident",
        &r.incident.declared_at.to_string(),
        "0",
        &r.incident.commander,
        &r.incident.number,
        &r.incident.title,
        &format!(
            "level={}; exercise={}; grids={}; duration_minutes={}",
            r.incident.level.clone().unwrap_or_default(),
            r.incident.exercise,
            r.incident.grids.len(),
            r.duration_minutes
                .map(|d| d.to_string())
                .unwrap_or_default()
        ),
        "",
        &ts(r.incident.lifted_at),
        "",
        &r.incident.status,
    ])
    .map_err(fail)?;
    for e in &r.timeline {
        w.write_record([
            "timeline",
            &e.at.to_string(),
            &e.minute.to_string(),
            &e.actor,
            &e.action,
            e.grid_name.as_deref().unwrap_or(""),
            &e.detail,
            "",
            "",
            "",
            "",
        ])
        .map_err(fail)?;
    }
    for t in &r.tasks {
        w.write_record([
            "task",
            "",
            "",
            &t.task.target_name,
            &t.task.key,
            &t.task.title,
            t.task.reason.as_deref().unwrap_or(""),
            &t.task.due_at.to_string(),
            &ts(t.task.ended_at),
            &t.delay_minutes.map(|d| d.to_string()).unwrap_or_default(),
            &t.task.status,
        ])
        .map_err(fail)?;
    }
    for g in &r.never_acknowledged {
        w.write_record([
            "never_acknowledged",
            "",
            "",
            "",
            &g.grid,
            &g.name,
            "",
            "",
            "",
            "",
            "silent",
        ])
        .map_err(fail)?;
    }
    for n in &r.needs {
        w.write_record([
            "need",
            &n.need.raised_at.to_string(),
            "",
            &n.need.raised_by,
            &n.need.text,
            &n.need.grid_name,
            &format!(
                "skills={}; case={}; activity={}",
                n.need.skills.join("/"),
                n.need
                    .case_id
                    .map(|c: Uuid| c.to_string())
                    .unwrap_or_default(),
                n.need
                    .activity_id
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            ),
            "",
            &ts(n.need.settled_at),
            "",
            &format!("{}{}", n.need.status, if n.met { " (met)" } else { "" }),
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| AppError::Invalid(format!("the record does not write as CSV: {e}")))
}
