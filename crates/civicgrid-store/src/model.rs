use civicgrid_domain::access::Grant;
use jiff::Timestamp;

/// A staff account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub unit: Option<String>,
    pub active: bool,
    pub grants: Vec<Grant>,
    pub created_at: Timestamp,
}

/// An API key as stored: only its SHA-256 hash, and a short prefix to recognise it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    /// The staff account the key acts as, if any.
    pub username: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Row counts, for the demo and for health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub regions: i64,
    pub grids: i64,
    pub beats: i64,
    pub units: i64,
    pub categories: i64,
    pub rules: i64,
    pub calendar_days: i64,
    pub roles: i64,
    pub users: i64,
}

/// What `/metrics` reads from the store at a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationsGauges {
    /// (status, cases), every status that has cases.
    pub cases_by_status: Vec<(String, i64)>,
    /// Open, unshelved cases whose current stage is past its deadline.
    pub overdue_open_cases: i64,
    /// Cases waiting for the KPI job to fold their new events into the rollups.
    pub kpi_queue: i64,
    /// Per job: (job, scopes, the oldest scope's last finish, in micros; 0 if one never ran).
    pub job_rounds: Vec<(String, i64, i64)>,
    /// Webhook deliveries not yet sent, and those given up.
    pub webhooks_pending: i64,
    pub webhooks_failed: i64,
}

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp, crate::StoreError> {
    Timestamp::from_microsecond(us).map_err(crate::error::corrupt)
}

/// One recorded change of a case, as stored. `seq` is the case version the event produced;
/// seq 1 is the report itself.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    pub case_id: uuid::Uuid,
    pub seq: u64,
    pub action: String,
    pub from: Option<civicgrid_domain::case::Status>,
    pub to: civicgrid_domain::case::Status,
    /// A username, `resident`, or `system` for the jobs.
    pub actor: String,
    pub at: Timestamp,
    pub payload: serde_json::Value,
}

/// One write of a group commit (`Repository::write_cases`).
#[derive(Debug, Clone)]
pub enum CaseWrite {
    /// A new case and its first event, the report.
    New {
        case: civicgrid_domain::case::Case,
        event: CaseEvent,
    },
    /// A case's new state and its events, provided it is still at `expected_version`.
    Change {
        case: civicgrid_domain::case::Case,
        expected_version: u64,
        events: Vec<CaseEvent>,
    },
}

/// Which cases to list. Every field narrows; `before` is the cursor (an id from the previous
/// page: ids are UUID v7, so they sort by time).
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<civicgrid_domain::case::Status>,
    pub grid: Option<String>,
    pub unit: Option<String>,
    pub category: Option<String>,
    pub within: Option<civicgrid_domain::territory::RegionCode>,
    /// Cases placed in exactly this region (not its subregions): a job lease's scope.
    pub region: Option<String>,
    /// Open cases whose current stage is due before this instant.
    pub overdue_at: Option<Timestamp>,
    pub reported_from: Option<Timestamp>,
    pub reported_to: Option<Timestamp>,
    pub before: Option<uuid::Uuid>,
    /// Only open, unshelved cases whose current stage has a deadline (what the deadline job scans).
    pub running_clock: bool,
    /// Any of these statuses (empty: no condition), beside `status`.
    pub statuses: Vec<civicgrid_domain::case::Status>,
    /// Any of these category codes (empty: no condition), beside `category`.
    pub categories: Vec<String>,
    /// Leaves out reports made over Open311 in these (batch) categories that no call-taker
    /// has decided on yet: they have no public id until then.
    pub open311_batch_categories: Vec<String>,
    /// Only these cases (empty: no condition): a text search's matches.
    pub ids: Vec<uuid::Uuid>,
    /// Rows to skip, for page-numbered lists (Open311 `page`); cursors need none.
    pub offset: u32,
    pub limit: u32,
}

/// A photo of a case, kept with its SHA-256 and the stage it documents (report/before/after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub sha256: String,
    pub stage: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub added_by: String,
    pub added_at: Timestamp,
}

/// A record waiting in the KPI queue: which capability's (`source`), which one, and how many
/// changes it has seen (cleared only if no change arrived since).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KpiQueued {
    pub source: String,
    pub id: uuid::Uuid,
    pub marked: i64,
}

/// What one record (a case, or another capability's) contributes to one subject's counters on
/// one day, in one community.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiEntry {
    pub region: String,
    pub subject: civicgrid_domain::kpi::Subject,
    pub day: String,
    pub counters: civicgrid_domain::kpi::Counters,
}

/// An appeal against a deduction, with its steps so far (who, when, what, why) as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Appeal {
    pub id: uuid::Uuid,
    pub subject: civicgrid_domain::kpi::Subject,
    pub period: String,
    /// The score points asked back.
    pub points: f64,
    pub reason: String,
    pub status: civicgrid_domain::kpi::AppealStatus,
    pub history: serde_json::Value,
    pub submitted_by: String,
    pub submitted_at: Timestamp,
    /// The assessed subject's region (its region key).
    pub region: String,
}

/// A change made to a subject's score for a period, by an upheld appeal.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreAdjustment {
    pub appeal_id: uuid::Uuid,
    pub subject: civicgrid_domain::kpi::Subject,
    pub period: String,
    pub points: f64,
    pub reason: String,
    pub made_by: String,
    pub made_at: Timestamp,
}

/// A public evaluation survey (群众评议) of some units for an assessment period.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub id: uuid::Uuid,
    pub title: String,
    /// The period key (`start..end`) whose scores it feeds.
    pub period: String,
    pub units: Vec<String>,
    pub closes_at: Timestamp,
    pub created_by: String,
    pub created_at: Timestamp,
    /// The smallest region holding every surveyed unit (its region key).
    pub region: String,
}

/// A subscription to case events (an outgoing webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: uuid::Uuid,
    /// Where the events are POSTed (`http://host[:port]/path`).
    pub url: String,
    /// The signing secret (`whsec_…`, Standard Webhooks).
    pub secret: String,
    /// Events of cases in this region subtree; empty for every region.
    pub region: String,
    /// The stored event filter (`civicgrid_domain::notify::EventFilter::stored`).
    pub actions: String,
    pub active: bool,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A delivery an instance has leased: the subscription, the event and the case's place.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub webhook_id: uuid::Uuid,
    pub url: String,
    pub secret: String,
    /// Tries so far, this one included.
    pub attempts: u32,
    pub event: CaseEvent,
    pub region_code: String,
    pub grid_code: Option<String>,
    pub category_code: Option<String>,
}

/// How a leased delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; try again at the instant.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Failed for the last time.
    Failed {
        error: String,
    },
}

/// A subscription's deliveries, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}
