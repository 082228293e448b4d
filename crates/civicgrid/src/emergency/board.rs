//! The live board of an incident: each affected grid's state (silent, acknowledged,
//! reported), the tasks by addressee with their deadlines and the overdue ones, the needs, the
//! figures and the latest situation report. The same figures are what a situation report
//! records.

use std::collections::BTreeMap;

use civicgrid_domain::emergency::Level;
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::GridCode;
use civicgrid_store::{IncidentRecord, IncidentTaskRecord, NeedRecord, SitrepRecord};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Loaded;
use crate::App;
use crate::error::AppResult;

/// The live figures of an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Figures {
    pub grids: usize,
    pub grids_acknowledged: usize,
    pub grids_reported: usize,
    /// Of each grid's latest report.
    pub households_checked: u64,
    pub people_transferred: u64,
    pub needs_raised: usize,
    pub needs_open: usize,
    pub tasks: usize,
    pub tasks_open: usize,
    pub tasks_overdue: usize,
    pub tasks_done: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub kind: String,
    pub plan: String,
    /// I–IV once activated.
    pub level: Option<String>,
    /// 特别重大, 重大, 较大, 一般.
    pub level_name: Option<String>,
    /// red, orange, yellow, blue.
    pub colour: Option<String>,
    /// declared, active or lifted.
    pub status: String,
    pub exercise: bool,
    pub commander: String,
    pub grids: Vec<String>,
    pub period_minutes: u32,
    #[schema(value_type = String)]
    pub declared_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub activated_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub lifted_at: Option<Timestamp>,
    pub lift_reason: Option<String>,
    pub version: u64,
}

impl From<&IncidentRecord> for IncidentView {
    fn from(i: &IncidentRecord) -> IncidentView {
        let level = i.level.as_deref().and_then(Level::parse);
        IncidentView {
            id: i.id,
            number: i.number.clone(),
            title: i.title.clone(),
            kind: i.kind.clone(),
            plan: i.plan_code.clone(),
            level: level.map(|l| l.as_str().to_owned()),
            level_name: level.map(|l| l.name_zh().to_owned()),
            colour: level.map(|l| l.colour().to_owned()),
            status: i.status.clone(),
            exercise: i.exercise,
            commander: i.commander.clone(),
            grids: i.grids.clone(),
            period_minutes: i.period_minutes,
            declared_at: i.declared_at,
            activated_at: i.activated_at,
            lifted_at: i.lifted_at,
            lift_reason: i.lift_reason.clone(),
            version: i.version,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GridState {
    pub grid: String,
    pub name: String,
    /// silent (nobody acknowledged), acknowledged, or reported.
    pub state: String,
    pub acknowledged_by: Vec<String>,
    #[schema(value_type = Option<String>)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub reported_at: Option<Timestamp>,
    pub households_checked: u32,
    pub people_transferred: u32,
    pub needs_open: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub key: String,
    /// `unit:CODE`, `role:CODE` or `grid:CODE`: with the key, names the task.
    pub target: String,
    pub target_name: String,
    pub title: String,
    pub level: String,
    #[schema(value_type = String)]
    pub due_at: Timestamp,
    /// open, done, closed or cancelled.
    pub status: String,
    /// Open past its deadline.
    pub overdue: bool,
    pub reason: Option<String>,
    #[schema(value_type = Option<String>)]
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NeedView {
    pub id: Uuid,
    pub grid: String,
    pub grid_name: String,
    pub text: String,
    pub skills: Vec<String>,
    /// open, taking, case, call or closed.
    pub status: String,
    pub case_id: Option<Uuid>,
    pub activity_id: Option<Uuid>,
    pub raised_by: String,
    #[schema(value_type = String)]
    pub raised_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub settled_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SitrepView {
    pub number: u64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub author: String,
    pub text: String,
    pub figures: Figures,
}

impl From<&SitrepRecord> for SitrepView {
    fn from(s: &SitrepRecord) -> SitrepView {
        SitrepView {
            number: s.seq,
            at: s.at,
            author: s.author.clone(),
            text: s.text.clone(),
            figures: serde_json::from_value(s.figures.clone()).unwrap_or_default(),
        }
    }
}

/// The live board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub incident: IncidentView,
    #[schema(value_type = String)]
    pub now: Timestamp,
    pub minutes_since_activation: Option<i64>,
    pub figures: Figures,
    pub grids: Vec<GridState>,
    pub tasks: Vec<TaskView>,
    pub needs: Vec<NeedView>,
    pub sitreps: usize,
    pub latest_sitrep: Option<SitrepView>,
    /// When the next situation report is due (k periods after activation for the k-th).
    #[schema(value_type = Option<String>)]
    pub next_sitrep_due: Option<Timestamp>,
    pub sitrep_overdue: bool,
}

pub(crate) fn task_view(
    t: &IncidentTaskRecord,
    now: Timestamp,
    reference: &crate::reference::Reference,
) -> TaskView {
    let target_name = match t.target_kind.as_str() {
        "unit" => reference.unit_name(&t.target_code),
        "role" => reference
            .roles
            .iter()
            .find(|r| r.code == t.target_code)
            .map_or_else(|| t.target_code.clone(), |r| r.name_zh.clone()),
        _ => t
            .target_code
            .parse::<GridCode>()
            .map_or_else(|_| t.target_code.clone(), |g| reference.place_name(&g)),
    };
    TaskView {
        key: t.key.clone(),
        target: format!("{}:{}", t.target_kind, t.target_code),
        target_name,
        title: t.title.clone(),
        level: t.level.clone(),
        due_at: t.due_at,
        status: t.status.clone(),
        overdue: t.status == "open" && t.due_at < now,
        reason: t.reason.clone(),
        ended_at: t.ended_at,
        ended_by: t.ended_by.clone(),
    }
}

pub(crate) fn need_view(n: &NeedRecord, reference: &crate::reference::Reference) -> NeedView {
    NeedView {
        id: n.id,
        grid: n.grid.clone(),
        grid_name: n
            .grid
            .parse::<GridCode>()
            .map_or_else(|_| n.grid.clone(), |g| reference.place_name(&g)),
        text: n.text.clone(),
        skills: n.skills.clone(),
        status: n.status.clone(),
        case_id: n.case_id,
        activity_id: n.activity_id,
        raised_by: n.raised_by.clone(),
        raised_at: n.raised_at,
        settled_at: n.settled_at,
    }
}

/// When situation report `number` is due.
pub(crate) fn sitrep_due(i: &IncidentRecord, number: u64) -> Option<Timestamp> {
    let period = SignedDuration::from_mins(i64::from(i.period_minutes));
    i.activated_at?
        .checked_add(period * i32::try_from(number).ok()?)
        .ok()
}

impl App {
    /// Each grid's state and the incident's figures, now.
    pub(crate) async fn grid_states(
        &self,
        l: &Loaded,
        now: Timestamp,
    ) -> AppResult<(Vec<GridState>, Figures)> {
        let reference = self.reference().await?;
        let acks = self.repo.incident_acknowledgements(&l.incident.id).await?;
        let reports = self.repo.grid_reports(&l.incident.id).await?;
        let needs = self.repo.incident_needs(&l.incident.id).await?;
        let mut states = Vec::new();
        let mut f = Figures {
            grids: l.grids.len(),
            needs_raised: needs.len(),
            needs_open: needs
                .iter()
                .filter(|n| matches!(n.status.as_str(), "open" | "taking"))
                .count(),
            tasks: l.tasks.iter().filter(|t| t.status != "cancelled").count(),
            tasks_open: l.tasks.iter().filter(|t| t.status == "open").count(),
            tasks_overdue: l
                .tasks
                .iter()
                .filter(|t| t.status == "open" && t.due_at < now)
                .count(),
            tasks_done: l.tasks.iter().filter(|t| t.status == "done").count(),
            ..Figures::default()
        };
        // Each grid's latest report stands for the grid.
        let mut latest: BTreeMap<&str, &civicgrid_store::GridReportRecord> = BTreeMap::new();
        for r in &reports {
            latest.insert(r.grid.as_str(), r);
        }
        for g in &l.grids {
            let code = g.as_str();
            let by: Vec<&civicgrid_store::Acknowledgement> =
                acks.iter().filter(|a| a.grid == code).collect();
            let report = latest.get(code);
            let state = match (by.is_empty(), report) {
                (_, Some(_)) => "reported",
                (false, None) => "acknowledged",
                (true, None) => "silent",
            };
            if !by.is_empty() {
                f.grids_acknowledged += 1;
            }
            if let Some(r) = report {
                f.grids_reported += 1;
                f.households_checked += u64::from(r.households_checked);
                f.people_transferred += u64::from(r.people_transferred);
            }
            states.push(GridState {
                grid: code.to_owned(),
                name: reference.place_name(g),
                state: state.to_owned(),
                acknowledged_by: by.iter().map(|a| a.username.clone()).collect(),
                acknowledged_at: by.first().map(|a| a.at),
                reported_at: report.map(|r| r.at),
                households_checked: report.map_or(0, |r| r.households_checked),
                people_transferred: report.map_or(0, |r| r.people_transferred),
                needs_open: needs
                    .iter()
                    .filter(|n| n.grid == code && matches!(n.status.as_str(), "open" | "taking"))
                    .count(),
            });
        }
        Ok((states, f))
    }

    pub(crate) async fn incident_figures(&self, l: &Loaded, now: Timestamp) -> AppResult<Figures> {
        Ok(self.grid_states(l, now).await?.1)
    }

    /// The live board of an incident (whoever may read it).
    pub async fn incident_board(&self, actor: &Actor, key: &str) -> AppResult<Board> {
        let l = self.load_incident(key).await?;
        self.may_read_incident(actor, &l).await?;
        let reference = self.reference().await?;
        let now = self.clock.now();
        let (grids, figures) = self.grid_states(&l, now).await?;
        let sitreps = self.repo.sitreps(&l.incident.id).await?;
        let needs = self.repo.incident_needs(&l.incident.id).await?;
        let next_sitrep_due = if l.incident.status == "active" {
            sitrep_due(&l.incident, sitreps.len() as u64 + 1)
        } else {
            None
        };
        let mut tasks: Vec<TaskView> = l
            .tasks
            .iter()
            .map(|t| task_view(t, now, &reference))
            .collect();
        // Overdue first, then open by deadline, then the rest.
        tasks.sort_by_key(|t| (!t.overdue, t.status != "open", t.due_at, t.target.clone()));
        Ok(Board {
            incident: IncidentView::from(&l.incident),
            now,
            minutes_since_activation: l.incident.activated_at.map(|a| {
                l.incident
                    .lifted_at
                    .unwrap_or(now)
                    .duration_since(a)
                    .as_mins()
            }),
            figures,
            grids,
            tasks,
            needs: needs.iter().map(|n| need_view(n, &reference)).collect(),
            sitreps: sitreps.len(),
            latest_sitrep: sitreps.last().map(SitrepView::from),
            next_sitrep_due,
            sitrep_overdue: next_sitrep_due.is_some_and(|d| d < now),
        })
    }
}
