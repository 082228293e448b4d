use civicgrid_domain::access::{Grant, Role};
use civicgrid_domain::calendar::{SpecialDay, WorkingWindow};
use civicgrid_domain::catalogue::Category;
use civicgrid_domain::routing::{ResponsibilityRule, Unit};
use civicgrid_domain::territory::{Beat, Grid, Region};

/// A set of changes written in one transaction. Rows are upserted by their code, except where
/// a field says it replaces.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// When the batch is applied, from the caller's clock; stamped on changed rows.
    pub at: jiff::Timestamp,
    pub regions: Vec<Region>,
    pub grids: Vec<Grid>,
    pub units: Vec<Unit>,
    pub categories: Vec<Category>,
    pub roles: Vec<Role>,
    /// New accounts; an existing username is a conflict.
    pub users: Vec<NewUser>,
    /// Each beat's grids and workers are replaced by the ones given.
    pub beats: Vec<Beat>,
    /// Replaces the whole published responsibility list.
    pub responsibility_list: Option<Vec<ResponsibilityRule>>,
    pub calendar: Option<CalendarUpdate>,
    /// Grants added to existing users: (username, grant).
    pub grants: Vec<(String, Grant)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
            && self.grids.is_empty()
            && self.units.is_empty()
            && self.categories.is_empty()
            && self.roles.is_empty()
            && self.users.is_empty()
            && self.beats.is_empty()
            && self.responsibility_list.is_none()
            && self.calendar.is_none()
            && self.grants.is_empty()
    }
}

/// Calendar settings and the listed days of whole years.
#[derive(Debug, Clone)]
pub struct CalendarUpdate {
    pub time_zone: String,
    pub windows: Vec<WorkingWindow>,
    /// The listed days of each year given replace that year's days.
    pub years: Vec<(i16, Vec<SpecialDay>)>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    /// An argon2 PHC string; the store never sees a password.
    pub password_hash: String,
    pub unit: Option<String>,
    pub grants: Vec<Grant>,
}
