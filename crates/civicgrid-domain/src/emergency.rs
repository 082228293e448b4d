//! Emergency response (应急): plans by incident type and level (I–IV), and the incident
//! machine that turns a plan into tasks when it is activated, raised, lowered or lifted.
//!
//! A plan lists, for each level, the tasks of that level: each addressed to a unit, to the
//! holders of a role, or to the grid workers of every affected grid (one task per grid), with
//! a deadline after activation on the real 24-hour clock. A task is known by its key and its
//! addressee ([`TaskKey`]): raising the level adds only the tasks of the new level that do not
//! exist yet; lowering cancels the open tasks the lower level does not list; lifting closes
//! or cancels every open task, each with its reason. No task is ever created twice for an
//! incident, and a lifted incident has no open task (both property-tested).

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::territory::GridCode;

word_enum!(
    /// The kinds of incident a plan is for.
    IncidentKind, "kind of incident", {
        Flood = "flood",
        Typhoon = "typhoon",
        Fire = "fire",
        GasLeak = "gas_leak",
        PublicHealth = "public_health",
        MassGathering = "mass_gathering",
        Earthquake = "earthquake",
        Other = "other",
    }
);

/// China's grades of incidents and warnings: I is the gravest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "I")]
    I,
    #[serde(rename = "II")]
    II,
    #[serde(rename = "III")]
    III,
    #[serde(rename = "IV")]
    IV,
}

impl Level {
    /// From the gravest down.
    pub const ALL: [Level; 4] = [Level::I, Level::II, Level::III, Level::IV];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::I => "I",
            Level::II => "II",
            Level::III => "III",
            Level::IV => "IV",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Level::I => "特别重大",
            Level::II => "重大",
            Level::III => "较大",
            Level::IV => "一般",
        }
    }

    /// The warning colour.
    pub fn colour(self) -> &'static str {
        match self {
            Level::I => "red",
            Level::II => "orange",
            Level::III => "yellow",
            Level::IV => "blue",
        }
    }

    /// Whether `self` is graver than `other`.
    pub fn graver_than(self, other: Level) -> bool {
        self < other
    }

    pub fn parse(text: &str) -> Option<Level> {
        let t = text.trim().to_ascii_uppercase();
        Level::ALL.into_iter().find(|l| {
            l.as_str() == t
                || l.name_zh() == text.trim()
                || match l {
                    Level::I => t == "1",
                    Level::II => t == "2",
                    Level::III => t == "3",
                    Level::IV => t == "4",
                }
        })
    }
}

/// Whom a plan's task is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Addressee {
    /// A unit of the responsibility list.
    Unit(String),
    /// Whoever holds a role over the affected area (the street's duty leader, say).
    Role(String),
    /// The grid workers of every affected grid: one task per grid.
    GridWorkers,
}

/// A task of a plan at one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTask {
    /// Names the task within the plan; the same key at two levels is the same task.
    pub key: String,
    pub level: Level,
    pub addressee: Addressee,
    pub title: String,
    /// Due this long after activation (or after the level that added it).
    #[serde(with = "minutes")]
    pub due_after: SignedDuration,
}

mod minutes {
    use jiff::SignedDuration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.as_mins())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
        Ok(SignedDuration::from_mins(i64::deserialize(d)?))
    }
}

/// A plan (预案): an incident kind, the tasks of each level, and what the response draws on:
/// contacts, resources and shelters, placed in grids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub code: String,
    pub kind: IncidentKind,
    pub title: String,
    pub tasks: Vec<PlanTask>,
    #[serde(default)]
    pub contacts: Vec<PlanContact>,
    #[serde(default)]
    pub resources: Vec<PlanResource>,
    #[serde(default)]
    pub shelters: Vec<Shelter>,
}

/// Someone to call: an office's duty line, not a private person's number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanContact {
    pub name: String,
    /// What they are called for (防汛值班, 燃气抢修).
    pub role: String,
    pub phone: String,
    #[serde(default)]
    pub grid: Option<GridCode>,
}

/// Equipment or stock kept for the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanResource {
    pub name: String,
    pub quantity: u32,
    /// 个, 台, 吨 …
    pub unit: String,
    #[serde(default)]
    pub grid: Option<GridCode>,
}

/// A place people are moved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shelter {
    pub name: String,
    pub capacity: u32,
    pub grid: GridCode,
    #[serde(default)]
    pub address: String,
}

impl Plan {
    /// Every problem with the plan, each (field, problem): a code, a title, tasks with a key,
    /// a title and a positive deadline, one task per (key, level), and a task's addressee the
    /// same at every level that lists its key.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let code_ok = !self.code.is_empty()
            && self.code.len() <= 40
            && self
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !code_ok {
            out.push((
                "code".to_owned(),
                "1 to 40 letters, digits, - or _".to_owned(),
            ));
        }
        if self.title.trim().is_empty() || self.title.chars().count() > 120 {
            out.push(("title".to_owned(), "1 to 120 characters".to_owned()));
        }
        if self.tasks.is_empty() {
            out.push((
                "tasks".to_owned(),
                "a plan has at least one task".to_owned(),
            ));
        }
        for (i, c) in self.contacts.iter().enumerate() {
            if c.name.trim().is_empty() || c.role.trim().is_empty() {
                out.push((
                    format!("contacts[{i}]"),
                    "a contact has a name and a role".to_owned(),
                ));
            }
            let digits = c.phone.chars().filter(char::is_ascii_digit).count();
            if !(3..=20).contains(&digits)
                || !c
                    .phone
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || matches!(ch, '+' | '-' | ' ' | '(' | ')'))
            {
                out.push((
                    format!("contacts[{i}].phone"),
                    format!("`{}` is not a phone number", c.phone),
                ));
            }
        }
        for (i, r) in self.resources.iter().enumerate() {
            if r.name.trim().is_empty() || r.unit.trim().is_empty() {
                out.push((
                    format!("resources[{i}]"),
                    "a resource has a name and a unit".to_owned(),
                ));
            }
        }
        for (i, sh) in self.shelters.iter().enumerate() {
            if sh.name.trim().is_empty() {
                out.push((format!("shelters[{i}].name"), "is required".to_owned()));
            }
            if sh.capacity == 0 {
                out.push((
                    format!("shelters[{i}].capacity"),
                    "a shelter holds someone".to_owned(),
                ));
            }
        }
        let mut seen: BTreeSet<(&str, Level)> = BTreeSet::new();
        let mut addressees: BTreeMap<&str, &Addressee> = BTreeMap::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let field = |f: &str| format!("tasks[{i}].{f}");
            if t.key.trim().is_empty() || t.key.chars().count() > 60 {
                out.push((field("key"), "1 to 60 characters".to_owned()));
            }
            if t.title.trim().is_empty() || t.title.chars().count() > 200 {
                out.push((field("title"), "1 to 200 characters".to_owned()));
            }
            if t.due_after <= SignedDuration::ZERO
                || t.due_after > SignedDuration::from_hours(24 * 30)
            {
                out.push((
                    field("due_after"),
                    "a deadline after activation, of at most 30 days".to_owned(),
                ));
            }
            if let Addressee::Unit(c) | Addressee::Role(c) = &t.addressee
                && c.trim().is_empty()
            {
                out.push((field("addressee"), "name the unit or role".to_owned()));
            }
            if !seen.insert((t.key.as_str(), t.level)) {
                out.push((
                    field("key"),
                    format!("{} is listed twice at level {}", t.key, t.level.as_str()),
                ));
            }
            match addressees.get(t.key.as_str()) {
                Some(a) if **a != t.addressee => out.push((
                    field("addressee"),
                    format!("{} is addressed differently at another level", t.key),
                )),
                _ => {
                    addressees.insert(&t.key, &t.addressee);
                }
            }
        }
        out
    }

    /// The tasks a response at `level` calls for, over `grids`: one per unit or role task,
    /// one per grid for grid workers' tasks.
    pub fn tasks_at(
        &self,
        level: Level,
        grids: &BTreeSet<GridCode>,
    ) -> BTreeMap<TaskKey, &PlanTask> {
        let mut out = BTreeMap::new();
        for t in self.tasks.iter().filter(|t| t.level == level) {
            match &t.addressee {
                Addressee::GridWorkers => {
                    for g in grids {
                        out.insert(
                            TaskKey {
                                key: t.key.clone(),
                                target: Target::Grid(g.clone()),
                            },
                            t,
                        );
                    }
                }
                Addressee::Unit(u) => {
                    out.insert(
                        TaskKey {
                            key: t.key.clone(),
                            target: Target::Unit(u.clone()),
                        },
                        t,
                    );
                }
                Addressee::Role(r) => {
                    out.insert(
                        TaskKey {
                            key: t.key.clone(),
                            target: Target::Role(r.clone()),
                        },
                        t,
                    );
                }
            }
        }
        out
    }
}

/// Where one task of an incident goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Target {
    Unit(String),
    Role(String),
    Grid(GridCode),
}

/// A task of an incident: the plan's task key and its addressee.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskKey {
    pub key: String,
    pub target: Target,
}

word_enum!(
    /// Where a task of an incident stands.
    TaskStatus, "task status", {
        Open = "open",
        Done = "done",
        /// Closed by the incident's end without being reported done.
        Closed = "closed",
        /// No longer called for (the level was lowered).
        Cancelled = "cancelled",
    }
);

/// A task as the incident keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTask {
    pub task: TaskKey,
    pub title: String,
    /// The level whose plan added it.
    pub level: Level,
    pub due_at: Timestamp,
    pub status: TaskStatus,
    pub reason: Option<String>,
}

/// What a change of the incident does to its tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChanges {
    pub created: Vec<IncidentTask>,
    /// Tasks cancelled by a lowering that a raise calls for again: open once more, with a new
    /// deadline (the same task, not a second one).
    pub reopened: Vec<(TaskKey, Timestamp)>,
    /// (task, its new status, the reason).
    pub ended: Vec<(TaskKey, TaskStatus, String)>,
}

/// Why a change of the incident is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("the incident is already at level {0}")]
    SameLevel(&'static str),
    #[error("the incident was lifted")]
    Lifted,
    #[error("the incident is not active")]
    NotActive,
}

/// Where an incident stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentState {
    /// None before activation.
    pub level: Option<Level>,
    pub lifted: bool,
    pub tasks: Vec<IncidentTask>,
}

impl IncidentState {
    pub fn new() -> IncidentState {
        IncidentState {
            level: None,
            lifted: false,
            tasks: Vec::new(),
        }
    }

    pub fn open_tasks(&self) -> impl Iterator<Item = &IncidentTask> {
        self.tasks.iter().filter(|t| t.status == TaskStatus::Open)
    }

    /// Activates the plan at `level` (or moves to it), over `grids`, at `now`: the tasks the
    /// level calls for that the incident does not have yet are created; when the level is
    /// lowered, the open tasks the new level does not call for are cancelled.
    pub fn set_level(
        &self,
        plan: &Plan,
        level: Level,
        grids: &BTreeSet<GridCode>,
        now: Timestamp,
    ) -> Result<TaskChanges, IncidentError> {
        if self.lifted {
            return Err(IncidentError::Lifted);
        }
        if self.level == Some(level) {
            return Err(IncidentError::SameLevel(level.as_str()));
        }
        let wanted = plan.tasks_at(level, grids);
        let have: BTreeSet<&TaskKey> = self.tasks.iter().map(|t| &t.task).collect();
        let reopened = self
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Cancelled)
            .filter_map(|t| {
                wanted
                    .get(&t.task)
                    .map(|p| (t.task.clone(), now.checked_add(p.due_after).unwrap_or(now)))
            })
            .collect();
        let created = wanted
            .iter()
            .filter(|(k, _)| !have.contains(k))
            .map(|(k, t)| IncidentTask {
                task: k.clone(),
                title: t.title.clone(),
                level,
                due_at: now.checked_add(t.due_after).unwrap_or(now),
                status: TaskStatus::Open,
                reason: None,
            })
            .collect();
        let lowered = self.level.is_some_and(|from| from.graver_than(level));
        let ended = if lowered {
            self.open_tasks()
                .filter(|t| !wanted.contains_key(&t.task))
                .map(|t| {
                    (
                        t.task.clone(),
                        TaskStatus::Cancelled,
                        format!("level lowered to {}", level.as_str()),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(TaskChanges {
            created,
            reopened,
            ended,
        })
    }

    /// Lifts the incident: every open task is closed (its work is over) with `reason`.
    pub fn lift(&self, reason: &str) -> Result<TaskChanges, IncidentError> {
        if self.lifted {
            return Err(IncidentError::Lifted);
        }
        if self.level.is_none() {
            return Err(IncidentError::NotActive);
        }
        Ok(TaskChanges {
            created: Vec::new(),
            reopened: Vec::new(),
            ended: self
                .open_tasks()
                .map(|t| {
                    (
                        t.task.clone(),
                        TaskStatus::Closed,
                        format!("incident lifted: {reason}"),
                    )
                })
                .collect(),
        })
    }

    /// The state after `changes` (of a move to `level`, or of lifting when `level` is None).
    pub fn apply(&self, changes: &TaskChanges, level: Option<Level>) -> IncidentState {
        let mut next = self.clone();
        for (key, status, reason) in &changes.ended {
            if let Some(t) = next
                .tasks
                .iter_mut()
                .find(|t| &t.task == key && t.status == TaskStatus::Open)
            {
                t.status = *status;
                t.reason = Some(reason.clone());
            }
        }
        for (key, due_at) in &changes.reopened {
            if let Some(t) = next
                .tasks
                .iter_mut()
                .find(|t| &t.task == key && t.status == TaskStatus::Cancelled)
            {
                t.status = TaskStatus::Open;
                t.due_at = *due_at;
                t.reason = None;
            }
        }
        next.tasks.extend(changes.created.iter().cloned());
        match level {
            Some(l) => next.level = Some(l),
            None => next.lifted = true,
        }
        next
    }
}

impl Default for IncidentState {
    fn default() -> Self {
        IncidentState::new()
    }
}

/// The affected area of an incident as it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Area {
    /// Grids picked by hand (on the map or by code).
    Grids { grids: Vec<GridCode> },
    /// A polygon drawn on the map, as (longitude, latitude) in WGS84.
    Polygon { ring: Vec<(f64, f64)> },
    /// A radius around a point.
    Circle { lon: f64, lat: f64, radius_m: f64 },
}

impl Area {
    /// What is wrong with the area as given, if anything.
    pub fn problem(&self) -> Option<String> {
        let on_earth = |lon: f64, lat: f64| {
            lon.is_finite()
                && lat.is_finite()
                && (-180.0..=180.0).contains(&lon)
                && (-90.0..=90.0).contains(&lat)
        };
        match self {
            Area::Grids { grids } if grids.is_empty() => Some("name at least one grid".into()),
            Area::Grids { grids } if grids.len() > 5000 => Some("at most 5000 grids".into()),
            Area::Grids { .. } => None,
            Area::Polygon { ring } if ring.len() < 3 || ring.len() > 2000 => {
                Some("a polygon has 3 to 2000 corners".into())
            }
            Area::Polygon { ring } if !ring.iter().all(|(x, y)| on_earth(*x, *y)) => {
                Some("a corner is not a longitude and latitude".into())
            }
            Area::Polygon { .. } => None,
            Area::Circle { lon, lat, .. } if !on_earth(*lon, *lat) => {
                Some("the centre is not a longitude and latitude".into())
            }
            Area::Circle { radius_m, .. }
                if !(radius_m.is_finite() && (10.0..=50_000.0).contains(radius_m)) =>
            {
                Some("a radius of 10 m to 50 km".into())
            }
            Area::Circle { .. } => None,
        }
    }

    /// The grids the area touches, of `grids` (code and outline): every grid picked that
    /// exists, or every grid the polygon or circle intersects. The circle is drawn as a
    /// 64-gon on the sphere (within 0.5 % of the radius).
    pub fn grids<'a>(
        &self,
        grids: impl IntoIterator<Item = (&'a GridCode, &'a geo::MultiPolygon<f64>)>,
    ) -> BTreeSet<GridCode> {
        use geo::{Destination, Haversine, Intersects, LineString, Point, Polygon};
        let shape: Polygon<f64> = match self {
            Area::Grids { grids: picked } => {
                let picked: BTreeSet<&GridCode> = picked.iter().collect();
                return grids
                    .into_iter()
                    .filter(|(c, _)| picked.contains(c))
                    .map(|(c, _)| c.clone())
                    .collect();
            }
            Area::Polygon { ring } => Polygon::new(LineString::from(ring.clone()), vec![]),
            Area::Circle { lon, lat, radius_m } => {
                let centre = Point::new(*lon, *lat);
                let ring: Vec<(f64, f64)> = (0..64)
                    .map(|i| {
                        let p =
                            Haversine.destination(centre, f64::from(i) * 360.0 / 64.0, *radius_m);
                        (p.x(), p.y())
                    })
                    .collect();
                Polygon::new(LineString::from(ring), vec![])
            }
        };
        grids
            .into_iter()
            .filter(|(_, g)| g.intersects(&shape))
            .map(|(c, _)| c.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
