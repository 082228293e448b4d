//! civicgrid storage.
//!
//! Everything the application keeps goes through the [`Repository`] trait: the stores of the
//! capabilities together (one file each: `territory.rs`, `cases.rs`, `assessment.rs`, …, each
//! with its trait and its SQL). There are two implementations, [`sqlite::SqliteRepository`]
//! (the embedded default) and [`postgres::PgRepository`], and both pass the same test suite.
//! The SQL is written once in a dialect both engines accept (`$N` parameters,
//! `ON CONFLICT … DO UPDATE`, BIGINT instants, JSON as TEXT) and compiled for each backend by
//! each file's macro; where the engines differ, the file says so in place. The migrations are
//! versioned per backend under `migrations/`.
//!
//! Writes come in a [`Batch`] applied in one transaction: an import is all or nothing.

mod batch;
mod error;
mod geometry_json;
mod limits;
mod model;
mod sql;

mod accountability;
mod accounts;
mod assessment;
mod cases;
mod catalogue;
mod consultation;
mod deployment;
mod disputes;
mod emergency;
mod hotline;
mod households;
mod jobs;
mod lists;
mod notifications;
mod party;
mod polls;
mod routing;
mod search;
mod services;
mod suggestion;
mod supervision;
mod territory;
mod upstream;
mod volunteers;
mod webhooks;
mod wishes;

pub mod backup;
pub mod copy;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

pub use accountability::{AccountabilityEvent, AccountabilityRecord, AccountabilityStore};
pub use accounts::AccountStore;
pub use assessment::AssessmentStore;
pub use batch::{Batch, CalendarUpdate, NewUser};
pub use cases::CaseStore;
pub use catalogue::CatalogueStore;
pub use consultation::{
    AgendaItem, AttachmentMeta, ConsultationEvent, ConsultationStore, InviteeRecord,
    MEETING_SOURCE, MeetingRecord, OpinionRecord, POLL_SOURCE, RESULT_SOURCE, ResultRecord,
    TOPIC_SOURCE, TopicRecord, WorkRecord,
};
pub use deployment::Store;
pub use disputes::{
    AgreementRecord, DISPUTE_SOURCE, DisputeEvent, DisputeKind, DisputeRecord, DisputeStore,
    DisputeWrite, FollowUpRecord, MediatorRecord, SessionRecord,
};
pub use emergency::{
    Acknowledgement, EmergencyStore, GridReportRecord, IncidentEventRecord, IncidentRecord,
    IncidentTaskRecord, NeedRecord, NewIncidentEvent, PlanRecord, SitrepRecord,
};
pub use error::StoreError;
pub use geometry_json::{multipolygon_from_json, multipolygon_to_json};
pub use hotline::{HotlineCase, HotlineStore};
pub use households::{HOUSEHOLD_SOURCE, HouseholdRecord, HouseholdStore, VisitRecord};
pub use jobs::JobStore;
pub use limits::{LimitStore, WindowCount};
pub use lists::{ListStore, ListVersionRecord};
pub use model::{
    ApiKeyRecord, Appeal, CaseEvent, CaseFilter, CaseWrite, DeliveryCounts, DeliveryOutcome,
    DueDelivery, KpiEntry, KpiQueued, OperationsGauges, Photo, ScoreAdjustment, Summary, Survey,
    User, Webhook,
};
pub use notifications::{
    GridNoticeRecord, MessageCounts, MessageRecord, NewMessage, NotificationStore,
    StaffChannelsRecord, TemplateRecord, VerificationCode,
};
pub use party::{MemberRecord, PartyStore};
pub use polls::{PollCount, PollRecord, PollStore};
pub use routing::RoutingStore;
pub use search::SearchStore;
pub use services::{
    APPLICATION_SOURCE, ApplicationEvent, ApplicationRecord, MaterialFile, ServiceStore,
};
pub use suggestion::{CaseText, CategoryModelRecord, SuggestionStore};
pub use supervision::{ReportEventRecord, ReportFileRecord, ReportRecord, SupervisionStore};
pub use territory::TerritoryStore;
pub use upstream::{LinkOutcome, UpstreamLink, UpstreamRoute, UpstreamStore, UpstreamSystem};
pub use volunteers::{
    ActivityRecord, HOURS_SOURCE, HoursRecord, ShiftRecord, SignupRecord, VolunteerRecord,
    VolunteerStore,
};
pub use webhooks::WebhookStore;
pub use wishes::{WISH_SOURCE, WishEvent, WishRecord, WishStore};

/// Every storage operation of civicgrid: the capabilities' stores together. Implementations
/// commit durably before returning. Call the methods with the stores in scope
/// (`use civicgrid_store::prelude::*;`).
pub trait Repository:
    Store
    + TerritoryStore
    + CatalogueStore
    + RoutingStore
    + AccountStore
    + CaseStore
    + AssessmentStore
    + JobStore
    + WebhookStore
    + LimitStore
    + PartyStore
    + HouseholdStore
    + WishStore
    + VolunteerStore
    + PollStore
    + ConsultationStore
    + DisputeStore
    + ServiceStore
    + SupervisionStore
    + AccountabilityStore
    + ListStore
    + NotificationStore
    + HotlineStore
    + UpstreamStore
    + EmergencyStore
    + SearchStore
    + SuggestionStore
    + Send
    + Sync
{
}

impl<T> Repository for T where
    T: Store
        + TerritoryStore
        + CatalogueStore
        + RoutingStore
        + AccountStore
        + CaseStore
        + AssessmentStore
        + JobStore
        + WebhookStore
        + LimitStore
        + PartyStore
        + HouseholdStore
        + WishStore
        + VolunteerStore
        + PollStore
        + ConsultationStore
        + DisputeStore
        + ServiceStore
        + SupervisionStore
        + AccountabilityStore
        + ListStore
        + NotificationStore
        + HotlineStore
        + UpstreamStore
        + EmergencyStore
        + SearchStore
        + SuggestionStore
        + Send
        + Sync
{
}

/// The stores, to call repository methods: `use civicgrid_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AccountStore, AccountabilityStore, AssessmentStore, CaseStore, CatalogueStore,
        ConsultationStore, DisputeStore, EmergencyStore, HotlineStore, HouseholdStore, JobStore,
        LimitStore, ListStore, NotificationStore, PartyStore, PollStore, Repository, RoutingStore,
        SearchStore, ServiceStore, Store, SuggestionStore, SupervisionStore, TerritoryStore,
        VolunteerStore, WebhookStore, WishStore,
    };
}

/// Opens the store a database URL names: `sqlite:PATH` or `postgres://…`. Migrations are
/// applied before the store is handed out.
pub async fn connect(url: &str) -> Result<Arc<dyn Repository>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let repo = sqlite::SqliteRepository::open(path.trim_start_matches("//")).await?;
        Ok(Arc::new(repo))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let repo = postgres::PgRepository::connect(url).await?;
        Ok(Arc::new(repo))
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}
