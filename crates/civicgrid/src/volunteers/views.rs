//! The shapes of volunteers and activities over REST v1.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use civicgrid_domain::volunteer::Placement;
use civicgrid_store::{ActivityRecord, HoursRecord, VolunteerRecord};

/// A volunteer's registration: one's own (`username` = the caller), or someone else's by
/// whoever organises volunteers in the community.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVolunteerBody {
    pub name: String,
    /// Sealed at rest; read only by roles that read contacts, every read audited.
    #[serde(default)]
    pub phone: Option<String>,
    /// The community (12 digits) they register with.
    pub community: String,
    /// E.g. 急救, 驾驶, 文明劝导 (at most 10).
    #[serde(default)]
    pub skills: Vec<String>,
    /// When they can serve, e.g. 周末上午.
    #[serde(default)]
    pub availability: String,
    /// Their consent to the data being kept; required.
    pub consent: bool,
    /// The account they sign in with.
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VolunteerView {
    pub id: Uuid,
    /// The number certificates carry.
    pub number: String,
    pub name: String,
    pub username: Option<String>,
    pub community: String,
    pub skills: Vec<String>,
    pub availability: String,
    pub has_phone: bool,
    #[schema(value_type = String)]
    pub registered_at: Timestamp,
}

impl From<&VolunteerRecord> for VolunteerView {
    fn from(v: &VolunteerRecord) -> Self {
        VolunteerView {
            id: v.id,
            number: v.number.clone(),
            name: v.name.clone(),
            username: v.username.clone(),
            community: v.region.to_string(),
            skills: v.skills.clone(),
            availability: v.availability.clone(),
            has_phone: v.phone_sealed.is_some(),
            registered_at: v.registered_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WithinQuery {
    /// A region code.
    pub within: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HoursQuery {
    /// A region code: where the service took place.
    pub within: String,
    /// pending, approved or declined; all without it.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HoursView {
    pub id: Uuid,
    pub volunteer: Uuid,
    pub activity: Option<Uuid>,
    /// The case whose task the service carried out.
    pub case: Option<Uuid>,
    pub community: String,
    pub day: String,
    pub minutes: u32,
    /// Recorded or checked in/out by hand rather than by the QR code.
    pub manual: bool,
    pub recorded_by: String,
    /// pending, approved or declined.
    pub status: String,
    pub decided_by: Option<String>,
    pub note: String,
}

impl From<&HoursRecord> for HoursView {
    fn from(e: &HoursRecord) -> Self {
        HoursView {
            id: e.id,
            volunteer: e.volunteer,
            activity: e.activity,
            case: e.case,
            community: e.region.to_string(),
            day: e.day.to_string(),
            minutes: e.minutes,
            manual: e.manual,
            recorded_by: e.recorded_by.clone(),
            status: e.status.as_str().to_owned(),
            decided_by: e.decided_by.clone(),
            note: e.note.clone(),
        }
    }
}

/// Hours recorded by hand, pending approval.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHoursBody {
    pub volunteer: Uuid,
    /// The day served, YYYY-MM-DD.
    pub day: String,
    pub minutes: u32,
    /// What was done.
    pub note: String,
    #[serde(default)]
    pub activity: Option<Uuid>,
    #[serde(default)]
    pub case: Option<Uuid>,
}

/// Approve or decline entries in bulk.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDecision {
    pub entries: Vec<Uuid>,
    pub approve: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Decided {
    /// The entries decided now; entries already decided are left as they were.
    pub decided: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Ledger {
    pub volunteer: VolunteerView,
    pub entries: Vec<HoursView>,
    pub approved_minutes: u64,
    pub pending_minutes: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShiftBody {
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    #[schema(value_type = String)]
    pub ends_at: Timestamp,
    pub capacity: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityBody {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The community (12 digits).
    pub community: String,
    #[serde(default)]
    pub grid: Option<String>,
    pub place: String,
    #[serde(default)]
    pub required_skills: Vec<String>,
    pub shifts: Vec<NewShiftBody>,
    /// The case whose task the volunteers carry out (文明劝导, a clean-up).
    #[serde(default)]
    pub case: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ShiftView {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    #[schema(value_type = String)]
    pub ends_at: Timestamp,
    pub capacity: u32,
    pub confirmed: usize,
    pub waiting: usize,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub community: String,
    pub grid: Option<String>,
    pub place: String,
    pub required_skills: Vec<String>,
    pub case: Option<Uuid>,
    pub shifts: Vec<ShiftView>,
}

impl ActivityView {
    pub fn of(a: &ActivityRecord, shifts: &[super::ShiftPlaces]) -> Self {
        ActivityView {
            id: a.id,
            title: a.title.clone(),
            description: a.description.clone(),
            community: a.region.to_string(),
            grid: a.grid.as_ref().map(|g| g.to_string()),
            place: a.place.clone(),
            required_skills: a.required_skills.clone(),
            case: a.case,
            shifts: shifts
                .iter()
                .map(|p| ShiftView {
                    id: p.shift.id,
                    starts_at: p.shift.starts_at,
                    ends_at: p.shift.ends_at,
                    capacity: p.shift.capacity,
                    confirmed: p.confirmed(),
                    waiting: p.waiting(),
                })
                .collect(),
        }
    }
}

/// Where the caller's sign-up stands.
#[derive(Serialize, ToSchema)]
pub struct PlacementView {
    /// confirmed or waiting.
    pub placement: String,
    /// On the waiting list: the position (1 = next to move up).
    pub position: Option<usize>,
}

impl From<Placement> for PlacementView {
    fn from(p: Placement) -> Self {
        match p {
            Placement::Confirmed => PlacementView {
                placement: "confirmed".into(),
                position: None,
            },
            Placement::Waiting(n) => PlacementView {
                placement: "waiting".into(),
                position: Some(n),
            },
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    /// The secret of the activity's QR code.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    pub shift: Uuid,
    pub volunteer: Uuid,
    /// When; now without it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct ScanView {
    /// checked_in or checked_out.
    pub result: String,
    /// Minutes recorded at check-out (pending approval).
    pub minutes: Option<u32>,
}

impl From<super::Scan> for ScanView {
    fn from(s: super::Scan) -> Self {
        match s {
            super::Scan::CheckedIn => ScanView {
                result: "checked_in".into(),
                minutes: None,
            },
            super::Scan::CheckedOut { minutes } => ScanView {
                result: "checked_out".into(),
                minutes: Some(minutes),
            },
        }
    }
}
