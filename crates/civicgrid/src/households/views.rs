//! The shapes of household contacts over REST v1: households, assignments, plans, visits.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use civicgrid_store::VisitRecord;

/// A household to register. Nothing else is kept: no profiling fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHouseholdBody {
    /// The grid (15 digits) the address lies in.
    pub grid: String,
    /// 楼栋, e.g. 3栋.
    pub building: String,
    /// 单元, e.g. 2单元 (may be empty).
    #[serde(default)]
    pub unit: String,
    /// 房号, e.g. 101.
    pub room: String,
    /// Whether the household agreed to be kept; a contact is kept only with consent.
    pub consent: bool,
    /// A name (户主) and phone, sealed at rest.
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdView {
    pub id: Uuid,
    pub community: String,
    pub grid: String,
    pub building: String,
    pub unit: String,
    pub room: String,
    pub consent: bool,
    /// Whether a contact is kept (read it at `/api/v1/households/{id}/contact`).
    pub has_contact: bool,
    /// The member or grid worker who keeps in touch with it, since when.
    pub assignee: Option<String>,
    pub assigned_on: Option<String>,
    /// Days between contacts (its beat's or grid's plan, else 30).
    pub interval_days: u32,
    pub last_visit: Option<String>,
    /// Not contacted in the window running today.
    pub due: bool,
}

impl From<&super::HouseholdStatus> for HouseholdView {
    fn from(s: &super::HouseholdStatus) -> Self {
        let h = &s.household;
        HouseholdView {
            id: h.id,
            community: h.region.to_string(),
            grid: h.grid.to_string(),
            building: h.building.clone(),
            unit: h.unit.clone(),
            room: h.room.clone(),
            consent: h.consent,
            has_contact: h.contact_sealed.is_some(),
            assignee: h.assignee.clone(),
            assigned_on: h.assigned_on.map(|d| d.to_string()),
            interval_days: s.interval_days,
            last_visit: s.last_visit.map(|d| d.to_string()),
            due: s.due,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HouseholdQuery {
    /// A region code: every household there (household.manage). Without it: the caller's own.
    pub within: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HouseholdDetail {
    #[serde(flatten)]
    pub household: HouseholdView,
    pub visits: Vec<VisitView>,
}

#[derive(Serialize, ToSchema)]
pub struct ContactView {
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The households' ids (1 to 1000).
    pub households: Vec<Uuid>,
    /// The account of the member or grid worker; null takes the households back.
    pub assignee: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Changed {
    pub changed: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitPlanBody {
    /// `grid:CODE` or `beat:CODE`.
    pub scope: String,
    /// Days between contacts, 1 to 366; null removes the plan.
    pub interval_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct VisitPlanView {
    pub scope: String,
    pub interval_days: u32,
}

/// A contact with a household.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVisitBody {
    pub household: Uuid,
    /// in_person (上门), phone (电话) or wechat (微信).
    pub channel: String,
    /// What it was about, e.g. 独居老人关怀; topics or notes are needed.
    #[serde(default)]
    pub topics: String,
    #[serde(default)]
    pub notes: String,
    /// When it happened (RFC 3339), within the last month; now if absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct VisitView {
    pub id: Uuid,
    pub household: Uuid,
    pub visitor: String,
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub day: String,
    pub channel: String,
    pub topics: String,
    pub notes: String,
    /// The case reported from the visit.
    pub case: Option<Uuid>,
}

impl From<&VisitRecord> for VisitView {
    fn from(v: &VisitRecord) -> Self {
        VisitView {
            id: v.id,
            household: v.household,
            visitor: v.visitor.clone(),
            at: v.at,
            day: v.day.to_string(),
            channel: v.channel.as_str().to_owned(),
            topics: v.topics.clone(),
            notes: v.notes.clone(),
            case: v.case,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitQuery {
    /// A region code (household.manage there).
    pub within: String,
    /// Days from (inclusive), YYYY-MM-DD.
    pub from: String,
    /// Days to (exclusive), YYYY-MM-DD.
    pub to: String,
}

/// What a visit found, reported as a case in the loop.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitCaseBody {
    pub description: String,
    /// A category code of the catalogue; the call-taker sets it otherwise.
    #[serde(default)]
    pub category: Option<String>,
    /// WGS84; the household's grid is used without it.
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub lat: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct VisitCaseView {
    pub case: Uuid,
    pub public_id: String,
    pub receipt_code: String,
}
