//! One access policy, every route. The walk takes the REST operations from the OpenAPI
//! document (the router's own table: a route cannot exist without it) and the pages from the
//! web shell's table (`civicgrid::web::pages`), and asks each of them, as every demo account
//! and as nobody, about cases in and out of scope. Every answer must agree with what
//! `civicgrid_domain::policy` says — so the API and the pages agree with each other. A route
//! without an entry in the tables below fails the test: 100 % of routes are walked.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::App;
use civicgrid::cases::{Actor, Intake};
use civicgrid_domain::access::Permission;
use civicgrid_domain::case::{Action, Case, Channel, PhotoStage};
use civicgrid_domain::dispute::Tier;
use civicgrid_domain::kpi::{AppealStep, Subject};
use civicgrid_domain::policy::Policy;
use civicgrid_domain::territory::RegionCode;
use serde_json::{Value, json};

use super::support::{Answer, Call, TestApp, staff};

/// The question a route asks the policy.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in staff member (what they see is filtered by the policy per item).
    Staff,
    ReadCase,
    ReadPhoto,
    /// Read the case, then its reporter's contact.
    ReadContact,
    /// Take this action on the case.
    Take(&'static str),
    Kpi,
    KpiAnywhere,
    ListAppeals,
    Appeal,
    Review,
    Decide,
    OpenSurvey,
    Workbench,
    Patrol,
    OpenAdministration,
    Administer(Permission),
    /// Ending one's own session.
    OwnSession,
    // Party-building: each about the fixture's community and records.
    Membership,
    ManageParty,
    /// The fixture member themself, or whoever reads membership.
    MemberOrMembership,
    /// …and then the permission to read contacts.
    MemberPhone,
    /// An account that is a party member.
    IsMember,
    /// The party page: party.read or party.manage somewhere.
    PartyPage,
    ManageHouseholds,
    ReadHousehold,
    HouseholdContact,
    LogVisit,
    /// Whoever made the fixture's visit.
    Visitor,
    ManageWishes,
    /// A member or volunteer registered with the wish's community.
    InCommunity,
    ManageVolunteers,
    /// The volunteers' page: volunteer.manage somewhere.
    VolunteersPage,
    VolunteerOrManager,
    VolunteerPhone,
    /// An account registered as a volunteer.
    IsVolunteer,
    // Consultation: each about the fixture's community, meeting and unit ST001.
    ManageConsultation,
    Moderate,
    /// The summoned unit's handlers.
    AnswerForUnit,
    /// Those who run the meeting, or the summoned unit checking itself in.
    CheckIn,
    /// Those who run consultation there, or the milestone's owning unit.
    MilestoneOwner,
    // Mediation and one-stop services: the fixture's community-tier dispute, its community,
    // and an application held by ST001.
    ReadDisputes,
    Mediate,
    ApproveMediation,
    /// The disputes page: dispute.mediate or dispute.approve somewhere.
    DisputesPage,
    ManageServiceItems,
    HandleApplication,
    /// service.handle anywhere (the list of applications one handles).
    HandlesApplications,
    // Supervision: the fixture's report (in the community, accusing ST001), whose identity
    // request by `supervisor` a custodian approved.
    /// whistleblowing.read or .custody somewhere (the officers' list).
    ReportsPage,
    /// whistleblowing.read in the report's region, not implicated.
    ReadReport,
    /// …or its custodian.
    ReportOrCustody,
    /// The officer whose identity request was approved.
    ReadIdentity,
    /// responsibility.manage for the whole territory (publishing list versions).
    PublishLists,
    /// accountability.propose or .approve somewhere.
    ReadAccountability,
    /// …or the unit concerned (ST001), who may appeal.
    ReadAccountabilityRecord,
    /// accountability.propose in ST001's street.
    ProposeAccountability,
    /// accountability.approve there, not ST001's own staff.
    ApproveAccountability,
    /// Whom the record concerns (ST001's staff).
    AppealAccountability,
    /// notice.issue over the community's grid.
    IssueNotice,
    /// Any part in emergency response (emergency.command or .respond, or case.handle): every
    /// emergency route asks this before it looks anything up.
    Emergency,
    /// emergency.command somewhere: plans and declaring incidents.
    EmergencyCommand,
}

/// Every REST operation: method and path as the document lists them.
const REST: &[(&str, &str, Access)] = &[
    ("get", "/api/v1/plans", Access::Emergency),
    ("post", "/api/v1/plans", Access::EmergencyCommand),
    ("get", "/api/v1/plans/{code}", Access::Emergency),
    ("get", "/api/v1/incidents", Access::Emergency),
    ("post", "/api/v1/incidents", Access::EmergencyCommand),
    ("get", "/api/v1/incidents/{id}", Access::Emergency),
    ("post", "/api/v1/incidents/{id}/level", Access::Emergency),
    ("post", "/api/v1/incidents/{id}/lift", Access::Emergency),
    (
        "post",
        "/api/v1/incidents/{id}/tasks/done",
        Access::Emergency,
    ),
    (
        "post",
        "/api/v1/incidents/{id}/grids/{grid}/acknowledge",
        Access::Emergency,
    ),
    (
        "post",
        "/api/v1/incidents/{id}/grids/{grid}/reports",
        Access::Emergency,
    ),
    (
        "post",
        "/api/v1/incidents/{id}/needs/{need}/case",
        Access::Emergency,
    ),
    (
        "post",
        "/api/v1/incidents/{id}/needs/{need}/volunteer-call",
        Access::Emergency,
    ),
    (
        "post",
        "/api/v1/incidents/{id}/needs/{need}/close",
        Access::Emergency,
    ),
    ("post", "/api/v1/incidents/{id}/sitreps", Access::Emergency),
    ("get", "/api/v1/incidents/{id}/record", Access::Emergency),
    ("get", "/api/v1/emergency/responses", Access::Emergency),
    (
        "get",
        "/api/v1/notifications",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "get",
        "/api/v1/notifications/dead-letters",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "post",
        "/api/v1/notifications/dead-letters/{id}/retry",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "post",
        "/api/v1/notifications/dead-letters/{id}/discard",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "get",
        "/api/v1/notifications/templates",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "put",
        "/api/v1/notifications/templates/{topic}/{language}",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "delete",
        "/api/v1/notifications/templates/{topic}/{language}",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "post",
        "/api/v1/notifications/templates/{topic}/{language}/preview",
        Access::Administer(Permission::NotificationManage),
    ),
    ("get", "/api/v1/me/channels", Access::Staff),
    ("post", "/api/v1/notices", Access::IssueNotice),
    (
        "get",
        "/api/v1/upstream/links",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "post",
        "/api/v1/upstream/links/{case}/retry",
        Access::Administer(Permission::NotificationManage),
    ),
    ("get", "/api/v1/notices", Access::Staff),
    ("put", "/api/v1/me/channels", Access::Staff),
    ("get", "/api/v1/lists/{kind}", Access::Public),
    ("get", "/api/v1/lists/{kind}/versions", Access::Public),
    (
        "post",
        "/api/v1/lists/{kind}/versions",
        Access::PublishLists,
    ),
    (
        "get",
        "/api/v1/lists/{kind}/versions/{number}",
        Access::Public,
    ),
    ("get", "/api/v1/accountability", Access::ReadAccountability),
    (
        "post",
        "/api/v1/accountability",
        Access::ProposeAccountability,
    ),
    ("get", "/api/v1/accountability/notices", Access::Public),
    (
        "get",
        "/api/v1/accountability/{number}",
        Access::ReadAccountabilityRecord,
    ),
    (
        "post",
        "/api/v1/accountability/{number}/decision",
        Access::ApproveAccountability,
    ),
    (
        "post",
        "/api/v1/accountability/{number}/appeal",
        Access::AppealAccountability,
    ),
    ("post", "/api/v1/supervision/reports", Access::Public),
    ("get", "/api/v1/supervision/reports", Access::ReportsPage),
    (
        "get",
        "/api/v1/supervision/reports/{id}",
        Access::ReportOrCustody,
    ),
    (
        "post",
        "/api/v1/supervision/reports/{id}/steps",
        Access::ReadReport,
    ),
    (
        "get",
        "/api/v1/supervision/reports/{id}/identity",
        Access::ReadIdentity,
    ),
    (
        "get",
        "/api/v1/supervision/reports/{id}/files/{seq}",
        Access::ReadReport,
    ),
    ("post", "/api/v1/supervision/follow-up", Access::Public),
    (
        "post",
        "/api/v1/supervision/follow-up/messages",
        Access::Public,
    ),
    (
        "post",
        "/api/v1/supervision/follow-up/files",
        Access::Public,
    ),
    ("post", "/api/v1/cases", Access::Public),
    ("get", "/api/v1/cases", Access::Staff),
    ("get", "/api/v1/cases/{id}", Access::ReadCase),
    ("get", "/api/v1/cases/{id}/events", Access::ReadCase),
    (
        "post",
        "/api/v1/cases/{id}/photos",
        Access::Take("attach_photo"),
    ),
    ("get", "/api/v1/cases/{id}/photos", Access::ReadCase),
    (
        "get",
        "/api/v1/cases/{id}/photos/{sha256}",
        Access::ReadPhoto,
    ),
    ("get", "/api/v1/cases/{id}/reporter", Access::ReadContact),
    ("get", "/api/v1/cases/{id}/duplicates", Access::ReadCase),
    (
        "get",
        "/api/v1/cases/{id}/category-suggestions",
        Access::ReadCase,
    ),
    (
        "post",
        "/api/v1/cases/{id}/actions/{action}",
        Access::Take("supervise"),
    ),
    ("get", "/api/v1/alerts", Access::Staff),
    ("get", "/api/v1/track/{receipt}", Access::Public),
    ("post", "/api/v1/track/{receipt}/evaluation", Access::Public),
    (
        "post",
        "/api/v1/track/{receipt}/verification-code",
        Access::Public,
    ),
    ("get", "/api/v1/kpi", Access::Kpi),
    ("get", "/api/v1/hotspots", Access::Kpi),
    ("post", "/api/v1/kpi/appeals", Access::Appeal),
    ("get", "/api/v1/kpi/appeals", Access::ListAppeals),
    ("post", "/api/v1/kpi/appeals/{id}/review", Access::Review),
    ("post", "/api/v1/kpi/appeals/{id}/decide", Access::Decide),
    ("post", "/api/v1/surveys", Access::OpenSurvey),
    ("get", "/api/v1/surveys/{id}", Access::Public),
    ("post", "/api/v1/surveys/{id}/responses", Access::Public),
    ("get", "/healthz", Access::Public),
    ("get", "/readyz", Access::Public),
    ("get", "/api/v1/openapi.json", Access::Public),
    ("post", "/api/v1/session", Access::Public),
    ("delete", "/api/v1/session", Access::OwnSession),
    ("get", "/api/v1/organisations", Access::Staff),
    ("post", "/api/v1/organisations", Access::ManageParty),
    ("post", "/api/v1/organisations/import", Access::ManageParty),
    ("get", "/api/v1/organisations/alliances", Access::Staff),
    (
        "post",
        "/api/v1/organisations/alliances",
        Access::ManageParty,
    ),
    (
        "post",
        "/api/v1/organisations/alliances/import",
        Access::ManageParty,
    ),
    ("get", "/api/v1/members", Access::Membership),
    ("post", "/api/v1/members", Access::ManageParty),
    ("get", "/api/v1/members/{id}", Access::MemberOrMembership),
    ("get", "/api/v1/members/{id}/phone", Access::MemberPhone),
    (
        "post",
        "/api/v1/members/home-registration",
        Access::IsMember,
    ),
    (
        "post",
        "/api/v1/members/{id}/home-registration/decision",
        Access::ManageParty,
    ),
    ("get", "/api/v1/households", Access::Staff),
    ("post", "/api/v1/households", Access::ManageHouseholds),
    (
        "post",
        "/api/v1/households/import",
        Access::ManageHouseholds,
    ),
    ("get", "/api/v1/households/{id}", Access::ReadHousehold),
    (
        "get",
        "/api/v1/households/{id}/contact",
        Access::HouseholdContact,
    ),
    (
        "post",
        "/api/v1/households/assignments",
        Access::ManageHouseholds,
    ),
    ("get", "/api/v1/households/plans", Access::Staff),
    ("put", "/api/v1/households/plans", Access::ManageHouseholds),
    ("get", "/api/v1/visits", Access::ManageHouseholds),
    ("post", "/api/v1/visits", Access::LogVisit),
    ("post", "/api/v1/visits/{id}/case", Access::Visitor),
    ("post", "/api/v1/wishes", Access::Public),
    ("get", "/api/v1/wishes", Access::Public),
    ("get", "/api/v1/wishes/{number}", Access::Public),
    (
        "get",
        "/api/v1/wishes/{number}/history",
        Access::ManageWishes,
    ),
    ("post", "/api/v1/wishes/{number}/claim", Access::InCommunity),
    ("post", "/api/v1/wishes/{number}/release", Access::Staff),
    ("post", "/api/v1/wishes/{number}/delivery", Access::Staff),
    (
        "post",
        "/api/v1/wishes/{number}/confirmation",
        Access::Public,
    ),
    (
        "post",
        "/api/v1/wishes/{number}/withdrawal",
        Access::ManageWishes,
    ),
    ("get", "/api/v1/volunteers", Access::ManageVolunteers),
    ("post", "/api/v1/volunteers", Access::ManageVolunteers),
    ("get", "/api/v1/volunteers/{id}", Access::VolunteerOrManager),
    (
        "get",
        "/api/v1/volunteers/{id}/phone",
        Access::VolunteerPhone,
    ),
    (
        "get",
        "/api/v1/volunteers/{id}/hours",
        Access::VolunteerOrManager,
    ),
    ("get", "/api/v1/volunteers/hours", Access::ManageVolunteers),
    ("post", "/api/v1/volunteers/hours", Access::ManageVolunteers),
    (
        "post",
        "/api/v1/volunteers/hours/decisions",
        Access::ManageVolunteers,
    ),
    ("get", "/api/v1/activities", Access::Public),
    ("post", "/api/v1/activities", Access::ManageVolunteers),
    ("get", "/api/v1/activities/{id}", Access::Public),
    (
        "post",
        "/api/v1/activities/shifts/{shift}/signup",
        Access::IsVolunteer,
    ),
    (
        "delete",
        "/api/v1/activities/shifts/{shift}/signup",
        Access::IsVolunteer,
    ),
    (
        "post",
        "/api/v1/activities/{id}/check-in",
        Access::IsVolunteer,
    ),
    (
        "post",
        "/api/v1/activities/attendance",
        Access::ManageVolunteers,
    ),
    ("get", "/api/v1/topics", Access::Public),
    ("post", "/api/v1/topics", Access::Public),
    ("get", "/api/v1/topics/rules", Access::Public),
    ("put", "/api/v1/topics/rules", Access::ManageConsultation),
    (
        "post",
        "/api/v1/topics/household-keys",
        Access::ReadHousehold,
    ),
    ("get", "/api/v1/topics/{number}", Access::Public),
    (
        "get",
        "/api/v1/topics/{number}/history",
        Access::ManageConsultation,
    ),
    ("post", "/api/v1/topics/{number}/supports", Access::Public),
    (
        "post",
        "/api/v1/topics/{number}/schedule",
        Access::ManageConsultation,
    ),
    ("post", "/api/v1/topics/{number}/opinions", Access::Public),
    (
        "get",
        "/api/v1/topics/{number}/opinions/{id}/photo",
        Access::Public,
    ),
    (
        "post",
        "/api/v1/topics/{number}/opinions/{id}/flags",
        Access::Public,
    ),
    (
        "get",
        "/api/v1/topics/{number}/opinions/{id}/moderation",
        Access::Moderate,
    ),
    (
        "post",
        "/api/v1/topics/{number}/opinions/{id}/moderation",
        Access::Moderate,
    ),
    ("get", "/api/v1/meetings", Access::Public),
    ("post", "/api/v1/meetings", Access::ManageConsultation),
    ("get", "/api/v1/meetings/{number}", Access::Public),
    (
        "get",
        "/api/v1/meetings/{number}/history",
        Access::ManageConsultation,
    ),
    (
        "post",
        "/api/v1/meetings/{number}/agenda",
        Access::ManageConsultation,
    ),
    (
        "post",
        "/api/v1/meetings/{number}/answers",
        Access::AnswerForUnit,
    ),
    (
        "post",
        "/api/v1/meetings/{number}/attendance",
        Access::CheckIn,
    ),
    (
        "put",
        "/api/v1/meetings/{number}/minutes",
        Access::ManageConsultation,
    ),
    (
        "post",
        "/api/v1/meetings/{number}/attachments",
        Access::ManageConsultation,
    ),
    (
        "get",
        "/api/v1/meetings/{number}/attachments/{seq}",
        Access::Public,
    ),
    (
        "post",
        "/api/v1/meetings/{number}/decisions",
        Access::ManageConsultation,
    ),
    ("get", "/api/v1/results", Access::Public),
    ("post", "/api/v1/results/import", Access::ManageConsultation),
    ("get", "/api/v1/results/{number}", Access::Public),
    (
        "post",
        "/api/v1/results/{number}/milestones/{seq}/completion",
        Access::MilestoneOwner,
    ),
    ("get", "/api/v1/polls", Access::Public),
    ("post", "/api/v1/polls", Access::ManageConsultation),
    ("get", "/api/v1/polls/{id}", Access::Public),
    ("post", "/api/v1/polls/{id}/codes", Access::ReadHousehold),
    ("post", "/api/v1/polls/{id}/votes", Access::Public),
    ("get", "/api/v1/disputes", Access::ReadDisputes),
    ("post", "/api/v1/disputes", Access::Mediate),
    ("get", "/api/v1/disputes/kinds", Access::Public),
    (
        "put",
        "/api/v1/disputes/kinds/{code}",
        Access::ManageServiceItems,
    ),
    ("get", "/api/v1/disputes/mediators", Access::ReadDisputes),
    (
        "post",
        "/api/v1/disputes/mediators",
        Access::ApproveMediation,
    ),
    (
        "delete",
        "/api/v1/disputes/mediators/{id}",
        Access::ApproveMediation,
    ),
    ("get", "/api/v1/disputes/{number}", Access::ReadDisputes),
    (
        "post",
        "/api/v1/disputes/{number}/sessions",
        Access::Mediate,
    ),
    (
        "post",
        "/api/v1/disputes/{number}/agreements",
        Access::Mediate,
    ),
    (
        "get",
        "/api/v1/disputes/{number}/agreements/{version}",
        Access::ReadDisputes,
    ),
    (
        "post",
        "/api/v1/disputes/{number}/agreements/{version}/signatures",
        Access::Mediate,
    ),
    (
        "post",
        "/api/v1/disputes/{number}/follow-ups",
        Access::Mediate,
    ),
    (
        "post",
        "/api/v1/disputes/{number}/actions/{action}",
        Access::Mediate,
    ),
    ("get", "/api/v1/service-items", Access::Public),
    ("get", "/api/v1/service-items/{code}", Access::Public),
    (
        "put",
        "/api/v1/service-items/{code}",
        Access::ManageServiceItems,
    ),
    ("get", "/api/v1/applications", Access::HandlesApplications),
    ("post", "/api/v1/applications", Access::Public),
    (
        "get",
        "/api/v1/applications/{number}",
        Access::HandleApplication,
    ),
    (
        "post",
        "/api/v1/applications/{number}/status",
        Access::Public,
    ),
    (
        "put",
        "/api/v1/applications/{number}/materials/{material}",
        Access::Public,
    ),
    (
        "get",
        "/api/v1/applications/{number}/files/{seq}",
        Access::HandleApplication,
    ),
    (
        "post",
        "/api/v1/applications/{number}/resubmission",
        Access::Public,
    ),
    (
        "post",
        "/api/v1/applications/{number}/evaluation",
        Access::Public,
    ),
    (
        "post",
        "/api/v1/applications/{number}/actions/{action}",
        Access::HandleApplication,
    ),
    // Last: they change the fixture's topic and meeting for good.
    (
        "post",
        "/api/v1/topics/{number}/withdrawal",
        Access::ManageConsultation,
    ),
    (
        "post",
        "/api/v1/meetings/{number}/cancellation",
        Access::ManageConsultation,
    ),
];

/// Every page: path as routed, the method the walk uses, and the question.
const PAGES: &[(&str, &str, Access)] = &[
    (
        "/admin/notifications",
        "get",
        Access::Administer(Permission::NotificationManage),
    ),
    (
        "/admin/notifications/templates/{topic}/{language}",
        "get",
        Access::Administer(Permission::NotificationManage),
    ),
    ("/me", "get", Access::Staff),
    ("/notifications/unsubscribe/{token}", "get", Access::Public),
    ("/lists/{kind}", "get", Access::Public),
    ("/lists/{kind}/versions/{number}", "get", Access::Public),
    ("/accountability", "get", Access::ReadAccountability),
    (
        "/accountability/{number}",
        "get",
        Access::ReadAccountabilityRecord,
    ),
    ("/notices", "get", Access::Public),
    ("/emergency", "get", Access::Emergency),
    ("/emergency/plans", "post", Access::EmergencyCommand),
    ("/emergency/plans/{code}", "get", Access::Emergency),
    ("/emergency/plans/{code}/export", "get", Access::Emergency),
    ("/emergency/incidents", "post", Access::EmergencyCommand),
    ("/emergency/incidents/{id}", "get", Access::Emergency),
    ("/emergency/incidents/{id}/act", "post", Access::Emergency),
    (
        "/emergency/incidents/{id}/grids/{grid}",
        "get",
        Access::Emergency,
    ),
    ("/emergency/incidents/{id}/record", "get", Access::Emergency),
    (
        "/emergency/incidents/{id}/record.csv",
        "get",
        Access::Emergency,
    ),
    ("/supervision", "get", Access::Public),
    ("/supervision/follow-up", "post", Access::Public),
    ("/supervision/follow-up/messages", "post", Access::Public),
    ("/supervision/follow-up/files", "post", Access::Public),
    ("/supervision/work", "get", Access::ReportsPage),
    ("/supervision/work/{id}", "get", Access::ReportOrCustody),
    (
        "/supervision/work/{id}/identity",
        "get",
        Access::ReadIdentity,
    ),
    (
        "/supervision/work/{id}/files/{seq}",
        "get",
        Access::ReadReport,
    ),
    ("/", "get", Access::Public),
    ("/report", "get", Access::Public),
    ("/receipt/{code}", "get", Access::Public),
    ("/track", "get", Access::Public),
    ("/track/{code}", "get", Access::Public),
    ("/track/{code}/evaluate", "post", Access::Public),
    ("/cases", "get", Access::Public),
    ("/cases/{public_id}", "get", Access::Public),
    ("/kpi/indicators", "get", Access::Public),
    ("/map/cases.geojson", "get", Access::Public),
    ("/map/grids.geojson", "get", Access::Public),
    ("/map/locate", "get", Access::Public),
    ("/map/places", "get", Access::Public),
    ("/static/map.css", "get", Access::Public),
    ("/static/map.js", "get", Access::Public),
    ("/static/vendor/{*file}", "get", Access::Public),
    ("/responsibility", "get", Access::Public),
    ("/surveys/{id}", "get", Access::Public),
    ("/login", "get", Access::Public),
    ("/logout", "post", Access::Public),
    ("/lang", "post", Access::Public),
    ("/static/app.css", "get", Access::Public),
    ("/static/app.js", "get", Access::Public),
    ("/work", "get", Access::Workbench),
    ("/work/dispatch", "post", Access::Workbench),
    ("/work/field", "get", Access::Workbench),
    ("/work/field/report", "post", Access::Patrol),
    ("/work/case/{id}", "get", Access::ReadCase),
    ("/work/case/{id}/act", "post", Access::Take("supervise")),
    ("/work/case/{id}/photo/{sha}", "get", Access::ReadPhoto),
    ("/dashboard", "get", Access::KpiAnywhere),
    ("/kpi", "get", Access::KpiAnywhere),
    ("/kpi/export.csv", "get", Access::Kpi),
    ("/admin", "get", Access::OpenAdministration),
    (
        "/admin/grids",
        "post",
        Access::Administer(Permission::TerritoryManage),
    ),
    (
        "/admin/import",
        "post",
        Access::Administer(Permission::ResponsibilityManage),
    ),
    (
        "/admin/export/{kind}",
        "get",
        Access::Administer(Permission::ResponsibilityManage),
    ),
    (
        "/admin/users",
        "post",
        Access::Administer(Permission::UserManage),
    ),
    (
        "/admin/keys",
        "post",
        Access::Administer(Permission::UserManage),
    ),
    ("/party", "get", Access::PartyPage),
    ("/party/import", "post", Access::PartyPage),
    ("/party/export/{kind}", "get", Access::Staff),
    ("/party/members/{id}/home", "post", Access::ManageParty),
    ("/my", "get", Access::Staff),
    ("/my/home", "post", Access::IsMember),
    ("/my/households/{id}", "get", Access::ReadHousehold),
    ("/my/households/{id}/visit", "post", Access::LogVisit),
    ("/my/visits/{id}/case", "post", Access::Visitor),
    ("/community", "get", Access::Public),
    ("/community/{code}", "get", Access::Public),
    ("/community/{code}/wish", "get", Access::Public),
    ("/wishes/{number}", "get", Access::Public),
    ("/wishes/{number}/claim", "post", Access::InCommunity),
    ("/wishes/{number}/deliver", "post", Access::Staff),
    ("/wishes/{number}/confirm", "post", Access::Public),
    ("/wishes/{number}/photo", "get", Access::Public),
    ("/volunteers", "get", Access::VolunteersPage),
    ("/volunteers/hours", "post", Access::VolunteersPage),
    ("/volunteers/activities", "post", Access::VolunteersPage),
    ("/volunteers/register", "get", Access::Staff),
    (
        "/volunteers/{id}/certificate",
        "get",
        Access::VolunteerOrManager,
    ),
    ("/activities/{id}", "get", Access::Public),
    ("/activities/{id}/signup", "post", Access::IsVolunteer),
    ("/activities/{id}/cancel", "post", Access::IsVolunteer),
    ("/activities/{id}/check-in", "get", Access::Staff),
    ("/activities/{id}/organise", "get", Access::ManageVolunteers),
    (
        "/activities/{id}/attendance",
        "post",
        Access::ManageVolunteers,
    ),
    ("/consultation", "get", Access::Public),
    ("/consultation/{code}", "get", Access::Public),
    ("/consultation/{code}/topics", "post", Access::Public),
    (
        "/consultation/{code}/meetings",
        "post",
        Access::ManageConsultation,
    ),
    ("/consultation/household-key", "post", Access::ReadHousehold),
    ("/topics/{number}", "get", Access::Public),
    ("/topics/{number}/support", "post", Access::Public),
    ("/topics/{number}/opinions", "post", Access::Public),
    (
        "/topics/{number}/opinions/{id}/flag",
        "post",
        Access::Public,
    ),
    (
        "/topics/{number}/opinions/{id}/moderate",
        "post",
        Access::Moderate,
    ),
    (
        "/topics/{number}/opinions/{id}/photo",
        "get",
        Access::Public,
    ),
    (
        "/topics/{number}/schedule",
        "post",
        Access::ManageConsultation,
    ),
    (
        "/topics/{number}/withdraw",
        "post",
        Access::ManageConsultation,
    ),
    ("/meetings/{number}", "get", Access::Public),
    ("/meetings/{number}/answer", "post", Access::AnswerForUnit),
    ("/meetings/{number}/check-in", "post", Access::CheckIn),
    (
        "/meetings/{number}/minutes",
        "post",
        Access::ManageConsultation,
    ),
    (
        "/meetings/{number}/decisions",
        "post",
        Access::ManageConsultation,
    ),
    (
        "/meetings/{number}/attachments",
        "post",
        Access::ManageConsultation,
    ),
    (
        "/meetings/{number}/attachments/{seq}",
        "get",
        Access::Public,
    ),
    ("/results/{number}", "get", Access::Public),
    (
        "/results/{number}/milestones/{seq}/done",
        "post",
        Access::MilestoneOwner,
    ),
    ("/polls/{id}", "get", Access::Public),
    ("/polls/{id}/vote", "post", Access::Public),
    ("/polls/{id}/code", "post", Access::ReadHousehold),
    ("/disputes", "post", Access::DisputesPage),
    ("/disputes/{number}", "get", Access::ReadDisputes),
    ("/disputes/{number}/act", "post", Access::Mediate),
    (
        "/disputes/{number}/agreements/{version}",
        "get",
        Access::ReadDisputes,
    ),
    ("/services", "get", Access::Public),
    ("/services/{code}", "get", Access::Public),
    ("/services/{code}/apply", "post", Access::Public),
    ("/applications/track", "post", Access::Public),
    ("/applications/{number}/resident", "post", Access::Public),
    ("/applications", "get", Access::HandlesApplications),
    ("/applications/{number}", "get", Access::HandleApplication),
    (
        "/applications/{number}/act",
        "post",
        Access::HandleApplication,
    ),
    (
        "/applications/{number}/files/{seq}",
        "get",
        Access::HandleApplication,
    ),
];

/// What the walk acts on: a case in street 1 (dispatched, summoned, photographed, with a
/// reporter's contact), a case in street 2, an appeal, a survey.
struct Fixture {
    t: TestApp,
    cases: Vec<Case>,
    photo: String,
    appeal: uuid::Uuid,
    appeal_region: RegionCode,
    survey: uuid::Uuid,
    kpi_scope: RegionCode,
    party: PartyFixture,
}

/// The party-building records the walk asks about, all in one community of street 1.
struct PartyFixture {
    community: RegionCode,
    member: uuid::Uuid,
    /// The in-service member, whose home-community registration waits.
    applicant: uuid::Uuid,
    household: uuid::Uuid,
    visit: uuid::Uuid,
    wish: String,
    volunteer: uuid::Uuid,
    activity: uuid::Uuid,
    shift: uuid::Uuid,
    token: String,
    hours: uuid::Uuid,
    topic: String,
    /// An opinion with a photo nobody flags; another that the walk flags and moderates.
    opinion_photo: uuid::Uuid,
    opinion: uuid::Uuid,
    meeting: String,
    result: String,
    poll: uuid::Uuid,
    /// A community-tier dispute being mediated, with a session and a drafted agreement.
    dispute: String,
    mediator: uuid::Uuid,
    /// An application for the item `JZZ-1` (held by ST001), awaiting its check.
    application: String,
    application_secret: String,
    report: uuid::Uuid,
    report_region: RegionCode,
    report_receipt: String,
    report_passphrase: String,
    accountability: u64,
}

const MEMBER: &str = "member.st1c1.1";
const MEMBER_IN_SERVICE: &str = "member.st1c1.2";
const VOLUNTEER: &str = "volunteer.st1c1";

async fn party_fixture(app: &App) -> PartyFixture {
    use civicgrid::party::NewMember;
    let system = Actor::System;
    let community: RegionCode = "440305001001".parse().expect("r");
    app.import_organisations(
        &system,
        "orgs.csv",
        "code,name,kind,parent,region,grid\nST1-DW,街道党工委,committee,,440305001,\nC1-DW,社区党委,committee,ST1-DW,440305001001,\nC1-B1,第一网格党支部,branch,C1-DW,440305001001,440305001001001\n",
    )
    .await
    .expect("organisations");
    let member = app
        .add_member(
            &system,
            NewMember {
                name: "李红".into(),
                organisation: "C1-B1".into(),
                duty: "党员".into(),
                phone: Some("13800000001".into()),
                in_service: false,
                employer_unit: None,
                username: Some(MEMBER.into()),
            },
        )
        .await
        .expect("member")
        .member
        .id;
    let applicant = app
        .add_member(
            &system,
            NewMember {
                name: "赵强".into(),
                organisation: "C1-B1".into(),
                duty: "党员".into(),
                phone: None,
                in_service: true,
                employer_unit: Some("水务集团".into()),
                username: Some(MEMBER_IN_SERVICE.into()),
            },
        )
        .await
        .expect("member")
        .member
        .id;
    app.apply_home(&staff(app, MEMBER_IN_SERVICE).await, community.clone())
        .await
        .expect("双报到");
    let household = app
        .add_households(
            &system,
            vec![civicgrid::households::NewHousehold {
                grid: "440305001001001".parse().expect("g"),
                building: "3栋".into(),
                unit: "2单元".into(),
                room: "101".into(),
                consent: true,
                contact: Some(civicgrid::contacts::Contact {
                    name: Some("陈阿姨".into()),
                    phone: Some("13900000002".into()),
                    email: None,
                    ..Default::default()
                }),
            }],
        )
        .await
        .expect("household")[0]
        .id;
    app.assign_households(&system, &[household], Some(MEMBER))
        .await
        .expect("assigned");
    let visit = app
        .log_visit(
            &staff(app, MEMBER).await,
            civicgrid::households::NewVisit {
                household,
                channel: civicgrid_domain::household::VisitChannel::Phone,
                topics: "关怀".into(),
                notes: String::new(),
                at: None,
            },
        )
        .await
        .expect("visit")
        .id;
    let wish = app
        .post_wish(
            &Actor::Resident,
            civicgrid::wishes::NewWish {
                community: community.clone(),
                grid: None,
                title: "想要一副老花镜".into(),
                description: String::new(),
            },
        )
        .await
        .expect("wish")
        .wish
        .public_id;
    let volunteer = app
        .register_volunteer(
            &staff(app, VOLUNTEER).await,
            civicgrid::volunteers::NewVolunteer {
                name: "孙丽".into(),
                phone: Some("13900000003".into()),
                community: community.clone(),
                skills: vec![],
                availability: "周末".into(),
                consent: true,
                username: Some(VOLUNTEER.into()),
            },
        )
        .await
        .expect("volunteer")
        .id;
    let starts = app.clock.now() + jiff::SignedDuration::from_hours(48);
    let (activity, shifts) = app
        .create_activity(
            &system,
            civicgrid::volunteers::NewActivity {
                title: "楼道清洁".into(),
                description: String::new(),
                community: community.clone(),
                grid: None,
                place: "3栋".into(),
                required_skills: vec![],
                shifts: vec![civicgrid::volunteers::NewShift {
                    starts_at: starts,
                    ends_at: starts + jiff::SignedDuration::from_hours(2),
                    capacity: 5,
                }],
                case: None,
            },
        )
        .await
        .expect("activity");
    let hours = app
        .record_hours(
            &system,
            &volunteer,
            "2026-03-01".parse().expect("d"),
            60,
            "整理图书角",
            None,
            None,
        )
        .await
        .expect("hours")
        .id;
    let c = consultation_fixture(app, &community).await;
    let m = mediation_fixture(app, &community).await;
    let (report, report_receipt, report_passphrase) = supervision_fixture(app, &community).await;
    let accountability = accountability_fixture(app).await;
    PartyFixture {
        dispute: m.0,
        mediator: m.1,
        application: m.2,
        application_secret: m.3,
        report,
        report_region: community.clone(),
        report_receipt,
        report_passphrase,
        accountability,
        topic: c.0,
        opinion_photo: c.1,
        opinion: c.2,
        meeting: c.3,
        result: c.4,
        poll: c.5,
        community,
        member,
        applicant,
        household,
        visit,
        wish,
        volunteer,
        activity: activity.id,
        shift: shifts[0].id,
        token: activity.check_token,
        hours,
    }
}

/// A supervision report in the community accusing ST001, with a text file, the reporter's
/// disclosed identity, and `supervisor`'s request to see it approved by `custodian`.
async fn supervision_fixture(app: &App, community: &RegionCode) -> (uuid::Uuid, String, String) {
    let receipt = app
        .submit_report(civicgrid::supervision::NewReport {
            subject: "低保名单有问题".into(),
            content: "社区把不符合条件的亲属列入低保".into(),
            concern: Some("benefit_funds".into()),
            accused_unit: Some("ST001".into()),
            region: Some(community.to_string()),
            identity: Some("匿名居民 139".into()),
            passphrase: None,
        })
        .await
        .expect("report");
    app.reporter_file(
        &receipt.receipt,
        &receipt.passphrase,
        "名单截图说明".as_bytes(),
    )
    .await
    .expect("file");
    let supervisor = staff(app, "supervisor").await;
    let lines = app.reports_for(&supervisor, None).await.expect("list");
    let id = lines
        .iter()
        .find(|l| l.subject == "低保名单有问题")
        .expect("the fixture's report")
        .id;
    let r = app.report_for(&supervisor, &id).await.expect("read");
    let step = |action: &str, version: u64| civicgrid::supervision::StaffStep {
        action: action.into(),
        version,
        text: "核实需要".into(),
        outcome: None,
    };
    let r = app
        .act_on_report(&supervisor, &id, step("request_identity", r.version))
        .await
        .expect("asked");
    app.act_on_report(
        &staff(app, "custodian").await,
        &id,
        step("approve_identity", r.version),
    )
    .await
    .expect("approved");
    (id, receipt.receipt, receipt.passphrase)
}

/// An accountability record against ST001 for overdue cases, proposed by `supervisor` and
/// approved by `leader.st1`, with 1.5 points, not yet appealed.
async fn accountability_fixture(app: &App) -> u64 {
    let r = app
        .propose_accountability(
            &staff(app, "supervisor").await,
            civicgrid::accountability::NewRecord {
                measure: "public_criticism".into(),
                subject_kind: "unit".into(),
                subject_code: "ST001".into(),
                period: "2026-03".into(),
                points: 1.5,
                public: true,
                facts: "三月超期案件较多".into(),
                grounds: civicgrid_domain::accountability::Grounds {
                    kpi: Some("overdue_cases".into()),
                    ..Default::default()
                },
            },
        )
        .await
        .expect("proposed");
    app.decide_accountability(
        &staff(app, "leader.st1").await,
        r.record.number,
        r.record.version,
        true,
        "同意",
    )
    .await
    .expect("approved");
    r.record.number
}

/// A dispute at community tier with a session and a drafted agreement, a mediator, the
/// service item JZZ-1 of ST001 and a resident's application for it.
async fn mediation_fixture(
    app: &App,
    community: &RegionCode,
) -> (String, uuid::Uuid, String, String) {
    use civicgrid::disputes::{DisputeStep, NewDispute, Party};
    let system = Actor::System;
    let d = app
        .raise_dispute(
            &system,
            NewDispute {
                community: Some(community.clone()),
                grid: None,
                kind: "family".into(),
                risk: civicgrid_domain::dispute::Risk::Low,
                summary: "赡养费分担".into(),
                parties: vec![
                    Party {
                        side: "applicant".into(),
                        name: "周玉兰".into(),
                        phone: None,
                    },
                    Party {
                        side: "respondent".into(),
                        name: "周志强".into(),
                        phone: None,
                    },
                ],
                case: None,
            },
        )
        .await
        .expect("dispute");
    assert_eq!(d.state.tier, Tier::Community);
    let d = app
        .dispute_step(
            &system,
            &d.public_id,
            0,
            DisputeStep::Session {
                held_at: app.clock.now(),
                place: "调解室".into(),
                mediators: vec!["王调解".into()],
                attended: vec!["周玉兰".into(), "周志强".into()],
                record: "双方陈述".into(),
                outcome: "written".into(),
            },
        )
        .await
        .expect("session");
    let d = app
        .dispute_step(
            &system,
            &d.public_id,
            d.version,
            DisputeStep::Draft {
                facts: "赡养费分担争议".into(),
                terms: vec![civicgrid_domain::dispute::Term {
                    text: "按月分担".into(),
                    due: None,
                }],
            },
        )
        .await
        .expect("draft");
    let mediator = app
        .add_mediator(
            &system,
            Tier::Community,
            community.clone(),
            "staff",
            "admin.st1c1",
            "王调解",
        )
        .await
        .expect("mediator");
    let item: civicgrid_domain::application::ServiceItem =
        civicgrid::demo::mediation::demo_service_items("ST001")
            .into_iter()
            .next()
            .expect("an item");
    let item = civicgrid_domain::application::ServiceItem {
        code: "JZZ-1".into(),
        ..item
    };
    app.put_service_item(&system, item).await.expect("item");
    let r = app
        .submit_application(
            &Actor::Resident,
            civicgrid::one_stop::NewApplication {
                item: "JZZ-1".into(),
                community: community.clone(),
                grid: None,
                name: "赵丽华".into(),
                phone: Some("13900139001".into()),
                details: String::new(),
            },
        )
        .await
        .expect("application");
    (d.public_id, mediator.id, r.application.public_id, r.secret)
}

/// A topic with two opinions (one with a photo), a meeting summoning ST001 with the topic on
/// its agenda and an attachment, a decision with a milestone owned by ST001, an open poll.
async fn consultation_fixture(
    app: &App,
    community: &RegionCode,
) -> (String, uuid::Uuid, uuid::Uuid, String, String, uuid::Uuid) {
    let system = Actor::System;
    let topic = app
        .raise_topic(
            &Actor::Resident,
            civicgrid::consultation::NewTopic {
                scope: community.to_string(),
                title: "东门夜间关闭".into(),
                description: String::new(),
                raised_as: "resident".into(),
            },
        )
        .await
        .expect("topic")
        .topic
        .public_id;
    let (png, _) = civicgrid::demo::photos::before_and_after(5, "01001", "2026-03-03 09:00", "");
    let with_photo = app
        .post_opinion(
            &Actor::Resident,
            &topic,
            None,
            "支持",
            Some(("image/png".into(), png)),
        )
        .await
        .expect("opinion")
        .id;
    let plain = app
        .post_opinion(&Actor::Resident, &topic, None, "反对", None)
        .await
        .expect("opinion")
        .id;
    let starts = app.clock.now() + jiff::SignedDuration::from_hours(48);
    let meeting = app
        .convene_meeting(
            &system,
            civicgrid::consultation::NewMeeting {
                kind: civicgrid_domain::consultation::MeetingKind::ResidentCouncil,
                scope: community.to_string(),
                title: "居民议事会".into(),
                place: "社区".into(),
                starts_at: starts,
                invitees: vec![civicgrid::consultation::NewInvitee {
                    kind: civicgrid_domain::consultation::InviteeKind::Unit,
                    reference: "ST001".into(),
                    name: String::new(),
                }],
                agenda: vec![civicgrid::consultation::NewAgendaItem {
                    title: "东门".into(),
                    topic: Some(topic.clone()),
                    cases: vec![],
                }],
            },
        )
        .await
        .expect("meeting")
        .public_id;
    app.attach_to_meeting(
        &system,
        &meeting,
        "纪要.txt",
        "text/plain",
        b"minutes".to_vec(),
    )
    .await
    .expect("attachment");
    let result = app
        .record_decision(
            &system,
            &meeting,
            civicgrid::consultation::NewDecision {
                agenda_index: 0,
                title: "东门门禁".into(),
                decision: "安装门禁".into(),
                cases: vec![],
                milestones: vec![civicgrid::consultation::NewMilestone {
                    title: "门禁启用".into(),
                    owner: "ST001".into(),
                    due: "2026-06-30".parse().expect("d"),
                }],
            },
        )
        .await
        .expect("decision")
        .result
        .public_id;
    let poll = app
        .create_poll(
            &system,
            civicgrid::consultation::NewPoll {
                scope: community.to_string(),
                question: "门禁几点关闭？".into(),
                options: vec!["22:00".into(), "23:00".into()],
                ballot: civicgrid_domain::consultation::Ballot::Single,
                opens_at: app.clock.now(),
                closes_at: app.clock.now() + jiff::SignedDuration::from_hours(72),
                topic: None,
            },
        )
        .await
        .expect("poll")
        .id;
    (topic, with_photo, plain, meeting, result, poll)
}

async fn fixture() -> Fixture {
    let t = TestApp::builder().demo(1).sealed().build().await;
    let app = &t.app;
    let report = |location: (f64, f64), text: &str| Intake {
        grid: None,
        media_url: None,
        description: text.into(),
        location: Some(location),
        address: None,
        category: Some("01001".parse().expect("c")),
        attributes: [("damage".to_owned(), "missing".to_owned())].into(),
        priority: None,
        channel: Channel::Web,
        reporter: Some(civicgrid::cases::seal::Reporter {
            name: None,
            phone: Some("13800000000".into()),
            email: None,
            ..Default::default()
        }),
    };
    let mut a = app
        .report_case(report((113.9171, 22.5168), "井盖丢失"), &Actor::Resident)
        .await
        .expect("report");
    // Street 2: the middle of a grid there.
    let reference = app.reference().await.expect("reference");
    let grid = app
        .repo
        .grids(Some(&"440305002".parse().expect("r")))
        .await
        .expect("grids")
        .into_iter()
        .find_map(|g| {
            use geo::Centroid;
            let c = g.geometry.centroid()?;
            (reference.grid_index.locate(c.x(), c.y()) == Some(&g.code)).then_some((c.x(), c.y()))
        })
        .expect("a grid in street 2");
    let b = app
        .report_case(report(grid, "井盖破损"), &Actor::Resident)
        .await
        .expect("report");
    let calltaker = staff(app, "calltaker1").await;
    let dispatcher = staff(app, "dispatcher.st1").await;
    for (who, action) in [
        (&calltaker, Action::Accept),
        (&calltaker, Action::Register),
        (
            &dispatcher,
            Action::Dispatch {
                units: vec!["ST001".into()],
            },
        ),
    ] {
        a = app
            .act_on_case(&a.id, a.state.version, action, who)
            .await
            .expect("step");
    }
    let handler = staff(app, "handler.st001").await;
    a = app
        .act_on_case(&a.id, a.state.version, Action::StartHandling, &handler)
        .await
        .expect("start");
    let (png, _) = civicgrid::demo::photos::before_and_after(3, "01001", "2026-03-03 09:00", "");
    a = app
        .attach_photo(
            &a.id,
            a.state.version,
            PhotoStage::Before,
            "image/png",
            png,
            &handler,
        )
        .await
        .expect("photo");
    let photo = a.state.photos[0].1.clone();
    // A whistle call summons a department the case is not dispatched to.
    a = app
        .act_on_case(
            &a.id,
            a.state.version,
            Action::WhistleCall {
                units: vec!["SJJ".into()],
                due_at: "2026-03-03T05:00:00Z".parse().expect("t"),
                note: "请市场监管到场".into(),
            },
            &staff(app, "leader.st1").await,
        )
        .await
        .expect("whistle");
    let appeal_region: RegionCode = "440305001".parse().expect("r");
    let appeal = app
        .submit_appeal(
            &handler,
            Subject::Unit("ST001".into()),
            "2026-02",
            2.0,
            "系统故障导致超期",
        )
        .await
        .expect("appeal")
        .id;
    let survey = app
        .create_survey(
            &staff(app, "leader.st1").await,
            "二月满意度",
            "2026-02",
            &["ST001".to_owned()],
            "2026-04-01T00:00:00Z".parse().expect("t"),
        )
        .await
        .expect("survey")
        .id;
    let cases = vec![a, b];
    let party = party_fixture(app).await;
    Fixture {
        t,
        cases,
        photo,
        appeal,
        appeal_region,
        survey,
        kpi_scope: "440305001".parse().expect("r"),
        party,
    }
}

/// The policy's answer for `actor` on a route asking `access` about `case`.
fn allowed(policy: &Policy<'_>, actor: &Actor, access: Access, f: &Fixture, case: &Case) -> bool {
    let subject = Subject::Unit("ST001".into());
    match access {
        Access::Public => true,
        Access::Staff | Access::OwnSession => matches!(actor, Actor::Staff { .. }),
        Access::ReadCase => policy.may_read_case(actor, case).is_ok(),
        Access::ReadPhoto => {
            let stage = case
                .state
                .photos
                .iter()
                .find(|(_, s)| *s == f.photo)
                .map_or(PhotoStage::Before, |(s, _)| *s);
            policy.may_read_photo(actor, case, stage).is_ok()
        }
        Access::ReadContact => {
            policy.may_read_case(actor, case).is_ok()
                && policy.may_read_contact(actor, case).is_ok()
        }
        Access::Take(name) => policy.may_take(actor, &sample_action(name), case).is_ok(),
        Access::Kpi => policy.may_read_kpi(actor, &f.kpi_scope).is_ok(),
        Access::KpiAnywhere => !policy.regions_with(actor, Permission::KpiRead).is_empty(),
        Access::ListAppeals => policy.may_list_appeals(actor).is_ok(),
        Access::Appeal => policy.may_appeal(actor, &subject, &f.appeal_region).is_ok(),
        Access::Review => policy
            .may_advance_appeal(
                actor,
                &AppealStep::Review { supports: true },
                &f.appeal_region,
                "handler.st001",
            )
            .is_ok(),
        Access::Decide => policy
            .may_advance_appeal(
                actor,
                &AppealStep::Decide { uphold: true },
                &f.appeal_region,
                "handler.st001",
            )
            .is_ok(),
        Access::OpenSurvey => policy.may_open_survey(actor).is_ok(),
        Access::Workbench => policy.may_use_workbench(actor).is_ok(),
        Access::Patrol => {
            policy.may_use_workbench(actor).is_ok() && policy.may_report_on_patrol(actor).is_ok()
        }
        Access::OpenAdministration => policy.may_open_administration(actor).is_ok(),
        Access::Administer(p) => policy.may_administer(actor, p).is_ok(),
        _ => party_allowed(policy, actor, access, &f.party),
    }
}

fn party_allowed(policy: &Policy<'_>, actor: &Actor, access: Access, p: &PartyFixture) -> bool {
    let c = &p.community;
    let named = |who: &[&str]| matches!(actor, Actor::Staff { username, .. } if who.contains(&username.as_str()));
    let membership = policy.may_read_membership(actor, c).is_ok();
    let contact = policy.may_read_personal_contact(actor, c).is_ok();
    let manage_volunteers = policy.may_manage_volunteers(actor, c).is_ok();
    let read_household = policy.may_read_household(actor, c, Some(MEMBER)).is_ok();
    match access {
        Access::Membership => membership,
        Access::ManageParty => policy.may_manage_party(actor, c).is_ok(),
        Access::MemberOrMembership => membership || named(&[MEMBER]),
        Access::MemberPhone => (membership || named(&[MEMBER])) && contact,
        Access::IsMember => named(&[MEMBER, MEMBER_IN_SERVICE]),
        Access::PartyPage => {
            !policy.regions_with(actor, Permission::PartyRead).is_empty()
                || !policy
                    .regions_with(actor, Permission::PartyManage)
                    .is_empty()
        }
        Access::ManageHouseholds => policy.may_manage_households(actor, c).is_ok(),
        Access::ReadHousehold => read_household,
        Access::HouseholdContact => read_household && contact,
        Access::LogVisit => policy.may_log_visit(actor, c, Some(MEMBER)).is_ok(),
        Access::Visitor => named(&[MEMBER]),
        Access::ManageWishes => policy.may_manage_wishes(actor, c).is_ok(),
        Access::InCommunity => named(&[MEMBER, MEMBER_IN_SERVICE, VOLUNTEER]),
        Access::ManageVolunteers => manage_volunteers,
        Access::VolunteersPage => !policy
            .regions_with(actor, Permission::VolunteerManage)
            .is_empty(),
        Access::VolunteerOrManager => manage_volunteers || named(&[VOLUNTEER]),
        Access::VolunteerPhone => (manage_volunteers || named(&[VOLUNTEER])) && contact,
        Access::IsVolunteer => named(&[VOLUNTEER]),
        Access::ManageConsultation => policy.may_manage_consultation(actor, c).is_ok(),
        Access::IssueNotice => policy.holds_in(actor, Permission::NoticeIssue, c),
        Access::Emergency => policy.may_use_emergency(actor).is_ok(),
        Access::EmergencyCommand => policy.may_keep_plans(actor).is_ok(),
        Access::Moderate => policy.may_moderate(actor, c).is_ok(),
        Access::AnswerForUnit => policy.may_answer_for_unit(actor, "ST001").is_ok(),
        Access::CheckIn | Access::MilestoneOwner => {
            policy.may_manage_consultation(actor, c).is_ok()
                || policy.may_answer_for_unit(actor, "ST001").is_ok()
        }
        Access::ReadDisputes => policy.may_read_disputes(actor, c).is_ok(),
        Access::Mediate => policy.may_mediate(actor, c, Tier::Community).is_ok(),
        Access::ApproveMediation => policy.may_approve_mediation(actor, c).is_ok(),
        Access::DisputesPage => {
            !policy
                .regions_with(actor, Permission::DisputeMediate)
                .is_empty()
                || !policy
                    .regions_with(actor, Permission::DisputeApprove)
                    .is_empty()
        }
        Access::ManageServiceItems => policy.may_manage_service_items(actor).is_ok(),
        Access::HandleApplication => policy.may_handle_application(actor, c, "ST001").is_ok(),
        Access::HandlesApplications => policy.holds(actor, Permission::ServiceHandle),
        Access::ReportsPage => policy.may_list_reports(actor).is_ok(),
        Access::PublishLists => policy.holds_in(
            actor,
            Permission::ResponsibilityManage,
            &"440305".parse().expect("district"),
        ),
        Access::ReadAccountability => policy.may_read_accountability(actor).is_ok(),
        Access::ReadAccountabilityRecord
        | Access::ProposeAccountability
        | Access::ApproveAccountability
        | Access::AppealAccountability => {
            let street: RegionCode = "440305001".parse().expect("r");
            let unit = Subject::Unit("ST001".into());
            let concerned = policy.may_appeal(actor, &unit, &street).is_ok();
            match access {
                Access::ReadAccountabilityRecord => {
                    policy.may_read_accountability(actor).is_ok() || concerned
                }
                Access::ProposeAccountability => {
                    policy.may_propose_accountability(actor, &street).is_ok()
                }
                Access::ApproveAccountability => {
                    let accused = civicgrid_domain::policy::Accused {
                        unit: "ST001",
                        region: &street,
                    };
                    policy
                        .may_approve_accountability(actor, &street, Some(&accused))
                        .is_ok()
                }
                _ => concerned,
            }
        }
        Access::ReadReport | Access::ReportOrCustody | Access::ReadIdentity => {
            let r = &p.report_region;
            let street: RegionCode = "440305001".parse().expect("r");
            let accused = civicgrid_domain::policy::Accused {
                unit: "ST001",
                region: &street,
            };
            let reads = policy.may_read_report(actor, r, Some(&accused)).is_ok();
            match access {
                Access::ReadReport => reads,
                Access::ReportOrCustody => {
                    reads || policy.may_keep_identity(actor, r, Some(&accused)).is_ok()
                }
                _ => reads && actor.name() == "supervisor",
            }
        }
        other => panic!("{other:?} is not a party-building question"),
    }
}

fn sample_action(name: &str) -> Action {
    match name {
        "attach_photo" => Action::AttachPhoto {
            stage: PhotoStage::Before,
            sha256: "0".repeat(64),
        },
        "supervise" => Action::Supervise {
            on: true,
            note: "督办".into(),
        },
        other => panic!("no sample for {other}"),
    }
}

/// Fills a party-building route's parameters from the fixture; None for the others.
fn concrete_party(path: &str, f: &Fixture) -> Option<String> {
    if let Some(c) = concrete_consultation(path, f) {
        return Some(c);
    }
    if let Some(c) = concrete_mediation(path, f) {
        return Some(c);
    }
    let p = &f.party;
    let id = if path.contains("home-registration/decision") || path.starts_with("/party/members/") {
        p.applicant.to_string()
    } else if path.starts_with("/api/v1/members/") {
        p.member.to_string()
    } else if path.starts_with("/api/v1/households/") || path.starts_with("/my/households/") {
        p.household.to_string()
    } else if path.starts_with("/api/v1/visits/") || path.starts_with("/my/visits/") {
        p.visit.to_string()
    } else if path.starts_with("/api/v1/volunteers/") || path.starts_with("/volunteers/") {
        p.volunteer.to_string()
    } else if path.starts_with("/api/v1/activities/") || path.starts_with("/activities/") {
        p.activity.to_string()
    } else if path.contains("{number}")
        || path.contains("/community")
        || path.starts_with("/party")
        || path.starts_with("/api/v1/organisations")
        || path.starts_with("/api/v1/wishes")
        || path.starts_with("/api/v1/households")
        || path.starts_with("/api/v1/visits")
        || path.starts_with("/api/v1/volunteers")
        || path.starts_with("/api/v1/activities")
        || path.starts_with("/api/v1/members")
        || path == "/my"
        || path.starts_with("/my/")
        || path.starts_with("/volunteers")
    {
        String::new()
    } else {
        return None;
    };
    let query = match path {
        "/api/v1/members"
        | "/api/v1/wishes"
        | "/api/v1/volunteers"
        | "/api/v1/volunteers/hours"
        | "/api/v1/activities" => format!("?within={}", p.community),
        "/api/v1/visits" => format!("?within={}&from=2026-01-01&to=2027-01-01", p.community),
        _ => String::new(),
    };
    Some(
        path.replace("{id}", &id)
            .replace("{number}", &p.wish)
            .replace("{shift}", &p.shift.to_string())
            .replace("{code}", p.community.as_str())
            .replace("{kind}", "organisations.csv")
            + &query,
    )
}

/// Fills a mediation or one-stop route's parameters from the fixture; None for the others.
fn concrete_mediation(path: &str, f: &Fixture) -> Option<String> {
    let p = &f.party;
    if [
        "/api/v1/lists",
        "/lists",
        "/api/v1/accountability",
        "/accountability",
        "/notices",
    ]
    .iter()
    .any(|o| path.starts_with(o))
    {
        let number = if path.contains("accountability") {
            p.accountability.to_string()
        } else {
            "1".to_owned()
        };
        return Some(path.replace("{kind}", "power").replace("{number}", &number));
    }
    if path.starts_with("/api/v1/supervision") || path.starts_with("/supervision") {
        return Some(
            path.replace("{id}", &p.report.to_string())
                .replace("{seq}", "2"),
        );
    }
    let ours = [
        "/api/v1/disputes",
        "/api/v1/service-items",
        "/api/v1/applications",
        "/disputes",
        "/services",
        "/applications",
    ];
    if !ours.iter().any(|o| path.starts_with(o)) {
        return None;
    }
    let number = if path.contains("applications") {
        &p.application
    } else {
        &p.dispute
    };
    let query = match path {
        "/api/v1/disputes" | "/api/v1/disputes/mediators" => format!("?within={}", p.community),
        "/api/v1/applications/{number}/materials/{material}" => "?name=scan.png".to_owned(),
        _ => String::new(),
    };
    Some(
        path.replace("{number}", number)
            .replace("{version}", "1")
            .replace(
                "{action}",
                if path.contains("applications") {
                    "accept"
                } else {
                    "escalate"
                },
            )
            .replace("{id}", &p.mediator.to_string())
            .replace(
                "{code}",
                if path.contains("kinds") {
                    "family"
                } else {
                    "JZZ-1"
                },
            )
            .replace("{material}", "id_card")
            .replace("{seq}", "0")
            + &query,
    )
}

/// A mediation or one-stop route's body: steps carry a version that is never current, so
/// that the walk changes no dispute nor application (refusals come first, then 412).
fn mediation_body(path: &str, f: &Fixture) -> Option<(&'static str, Vec<u8>)> {
    let p = &f.party;
    let c = p.community.as_str();
    let json = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    let (receipt, passphrase) = (&p.report_receipt, &p.report_passphrase);
    match path {
        "/api/v1/supervision/reports" => {
            json(json!({"subject": "有人收好处费", "content": "办证时被要求另交钱"}))
        }
        "/api/v1/lists/{kind}/versions" => {
            json(json!({"effective_from": "2026-01-01", "powers": []}))
        }
        "/api/v1/accountability" => json(
            json!({"measure": "talk_reminder", "subject_kind": "unit", "subject_code": "ST001", "period": "2026-03", "points": 1, "facts": "超期", "kpi": "overdue_cases"}),
        ),
        "/api/v1/accountability/{number}/decision" => {
            json(json!({"version": 999, "approve": true}))
        }
        "/api/v1/accountability/{number}/appeal" => json(json!({"reason": "客观原因"})),
        "/api/v1/supervision/reports/{id}/steps" => {
            json(json!({"action": "acknowledge", "version": 999}))
        }
        "/api/v1/supervision/follow-up" => {
            json(json!({"receipt": receipt, "passphrase": passphrase}))
        }
        "/api/v1/supervision/follow-up/messages" => {
            json(json!({"receipt": receipt, "passphrase": passphrase, "text": "补充：时间在三月"}))
        }
        "/api/v1/supervision/follow-up/files" => json(
            json!({"receipt": receipt, "passphrase": passphrase, "content_base64": "5oOF5Ya16K+05piO"}),
        ),
        "/api/v1/disputes" => json(
            json!({"community": c, "kind": "family", "summary": "赡养", "parties": [{"side": "applicant", "name": "甲"}, {"side": "respondent", "name": "乙"}]}),
        ),
        "/api/v1/disputes/kinds/{code}" => json(
            json!({"name_zh": "婚姻家庭纠纷", "name_en": "Marriage and family", "lowest_tier": "community", "position": 2}),
        ),
        "/api/v1/disputes/mediators" => json(
            json!({"tier": "community", "region": c, "kind": "staff", "reference": "secretary.st1c1", "name": "李调解"}),
        ),
        "/api/v1/disputes/{number}/sessions" => json(
            json!({"version": 999, "held_at": "2026-03-01T02:00:00Z", "place": "调解室", "mediators": ["王"], "attended": ["甲"], "record": "记录", "outcome": "continued"}),
        ),
        "/api/v1/disputes/{number}/agreements" => {
            json(json!({"version": 999, "facts": "事实", "terms": [{"text": "条款"}]}))
        }
        "/api/v1/disputes/{number}/agreements/{version}/signatures" => {
            json(json!({"version": 999, "signed_by": ["周玉兰", "周志强"]}))
        }
        "/api/v1/disputes/{number}/follow-ups" => {
            json(json!({"version": 999, "performed": true, "note": "已履行"}))
        }
        "/api/v1/disputes/{number}/actions/{action}" => {
            json(json!({"version": 999, "reason": "需上级调解"}))
        }
        "/api/v1/service-items/{code}" => json(
            json!({"name": "居住证申领", "unit": "ST001", "limit_days": 10, "materials": [{"code": "id_card", "name": "居民身份证", "required": true}], "fees": "不收费", "channels": ["online", "counter", "proxy"]}),
        ),
        "/api/v1/applications" => {
            json(json!({"item": "JZZ-1", "community": c, "name": "钱", "phone": "13900139002"}))
        }
        "/api/v1/applications/{number}/status" | "/api/v1/applications/{number}/resubmission" => {
            json(json!({"secret": p.application_secret}))
        }
        "/api/v1/applications/{number}/evaluation" => {
            json(json!({"secret": p.application_secret, "rating": "satisfied"}))
        }
        "/api/v1/applications/{number}/actions/{action}" => json(json!({"version": 999})),
        "/api/v1/applications/{number}/materials/{material}" => Some((
            "image/png",
            civicgrid::demo::photos::before_and_after(3, "05001", "2026-03-03 10:00", "").0,
        )),
        _ => None,
    }
}

/// Fills a consultation route's parameters from the fixture; None for the others.
fn concrete_consultation(path: &str, f: &Fixture) -> Option<String> {
    let p = &f.party;
    let consultation = [
        "/api/v1/topics",
        "/api/v1/meetings",
        "/api/v1/results",
        "/api/v1/polls",
        "/consultation",
        "/topics/",
        "/meetings/",
        "/results/",
        "/polls/",
    ];
    if !consultation.iter().any(|c| path.starts_with(c)) {
        return None;
    }
    // The photo's opinion is never flagged, so that its photo stays public.
    let opinion = if path.ends_with("/photo") {
        p.opinion_photo
    } else {
        p.opinion
    };
    let number = if path.contains("/meetings") {
        p.meeting.clone()
    } else if path.contains("/results") {
        p.result.clone()
    } else {
        p.topic.clone()
    };
    let query = match path {
        "/api/v1/topics" | "/api/v1/meetings" | "/api/v1/results" | "/api/v1/polls" => {
            format!("?within={}", p.community)
        }
        "/api/v1/topics/rules" => format!("?region={}", p.community),
        "/api/v1/meetings/{number}/attachments" => "?name=a.pdf".to_owned(),
        _ => String::new(),
    };
    Some(
        path.replace("{number}", &number)
            .replace(
                "{id}",
                &if path.contains("polls") {
                    p.poll
                } else {
                    opinion
                }
                .to_string(),
            )
            .replace("{seq}", "0")
            .replace("{code}", p.community.as_str())
            + &query,
    )
}

/// A consultation route's body.
fn consultation_body(path: &str, f: &Fixture) -> Option<(&'static str, Vec<u8>)> {
    let p = &f.party;
    let c = p.community.as_str();
    let json = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    match path {
        "/api/v1/topics/rules" => json(json!({"region": c, "threshold_per_mille": 50, "agenda_days": 10})),
        "/api/v1/topics/household-keys" | "/api/v1/polls/{id}/codes" => json(json!({"household": p.household})),
        "/api/v1/topics/{number}/schedule" => json(json!({"meeting": p.meeting})),
        "/api/v1/topics/{number}/opinions/{id}/moderation" => json(json!({"action": "hide", "reason": "广告"})),
        "/api/v1/topics/{number}/withdrawal" | "/api/v1/meetings/{number}/cancellation" => json(json!({"reason": "合并"})),
        "/api/v1/meetings" => json(json!({"kind": "resident_council", "scope": c, "title": "议事会", "place": "社区", "starts_at": "2026-04-01T01:00:00Z", "agenda": [{"title": "楼道"}]})),
        "/api/v1/meetings/{number}/agenda" => json(json!({"title": "停车"})),
        "/api/v1/meetings/{number}/answers" => json(json!({"unit": "ST001", "answer": "attend"})),
        "/api/v1/meetings/{number}/attendance" => json(json!({"kind": "unit", "reference": "ST001"})),
        "/api/v1/meetings/{number}/minutes" => json(json!({"minutes": "议定"})),
        "/api/v1/meetings/{number}/attachments" => Some(("application/pdf", b"%PDF-1.4".to_vec())),
        "/api/v1/meetings/{number}/decisions" => json(json!({"agenda_index": 0, "title": "x", "decision": "y", "milestones": [{"title": "z", "owner": "ST001", "due": "2027-06-30"}]})),
        "/api/v1/results/import" => Some((
            "text/csv",
            format!("number,region,title,decision,meeting,kind,case,work_title,owner,due\nWA1K0000WA1K,{c},x,y,,milestone,,z,ST001,2027-06-30\n").into_bytes(),
        )),
        "/api/v1/polls" => json(json!({"scope": c, "question": "q", "options": ["a", "b"], "opens_at": "2026-03-03T00:00:00Z", "closes_at": "2026-03-10T00:00:00Z"})),
        _ => None,
    }
}

/// A party-building route's body: JSON, or a CSV file for the imports.
fn party_body(path: &str, f: &Fixture) -> Option<(&'static str, Vec<u8>)> {
    if let Some(b) = consultation_body(path, f) {
        return Some(b);
    }
    if let Some(b) = mediation_body(path, f) {
        return Some(b);
    }
    let p = &f.party;
    let c = p.community.as_str();
    let csv = |text: String| Some(("text/csv", text.into_bytes()));
    let json = |v: Value| Some(("application/json", v.to_string().into_bytes()));
    match path {
        "/api/v1/organisations/import" => csv(format!(
            "code,name,kind,parent,region,grid\nC1-B2,第二网格党支部,branch,C1-DW,{c},\n"
        )),
        "/api/v1/organisations/alliances/import" => csv(format!(
            "alliance,name,region,partner_kind,partner,commitment\nC1-LM,社区党建联盟,{c},organisation,C1-DW,牵头\n"
        )),
        "/api/v1/households/import" => {
            csv("grid,building,unit,room,consent\n440305001001001,5栋,1单元,201,yes\n".to_owned())
        }
        "/api/v1/organisations" => json(
            json!({"code": "C1-B3", "name": "第三网格党支部", "kind": "branch", "parent": "C1-DW", "region": c}),
        ),
        "/api/v1/organisations/alliances" => json(
            json!({"code": "C1-LM2", "name": "联盟", "region": c, "partners": [{"kind": "organisation", "reference": "C1-DW"}]}),
        ),
        "/api/v1/members" => json(json!({"name": "钱明", "organisation": "C1-B1"})),
        "/api/v1/members/home-registration" => json(json!({"community": c})),
        "/api/v1/members/{id}/home-registration/decision" => json(json!({"approve": true})),
        "/api/v1/households" => json(
            json!({"grid": "440305001001001", "building": "6栋", "room": "301", "consent": false}),
        ),
        "/api/v1/households/assignments" => {
            json(json!({"households": [p.household], "assignee": MEMBER}))
        }
        "/api/v1/households/plans" => {
            json(json!({"scope": "grid:440305001001001", "interval_days": 14}))
        }
        "/api/v1/visits" => {
            json(json!({"household": p.household, "channel": "phone", "topics": "回访"}))
        }
        "/api/v1/visits/{id}/case" => json(json!({"description": "楼道灯坏了"})),
        "/api/v1/wishes" => json(json!({"community": c, "title": "希望有人教我用手机"})),
        "/api/v1/wishes/{number}/delivery" => json(json!({"note": "已送到"})),
        "/api/v1/wishes/{number}/withdrawal" => json(json!({"reason": ""})),
        "/api/v1/volunteers" => json(json!({"name": "周伟", "community": c, "consent": true})),
        "/api/v1/volunteers/hours" => json(
            json!({"volunteer": p.volunteer, "day": "2026-03-01", "minutes": 30, "note": "值守"}),
        ),
        "/api/v1/volunteers/hours/decisions" => {
            json(json!({"entries": [p.hours], "approve": true}))
        }
        "/api/v1/activities" => json(
            json!({"title": "义诊", "community": c, "place": "广场", "shifts": [{"starts_at": "2026-04-01T01:00:00Z", "ends_at": "2026-04-01T03:00:00Z", "capacity": 3}]}),
        ),
        "/api/v1/activities/{id}/check-in" => json(json!({"token": p.token})),
        "/api/v1/activities/attendance" => {
            json(json!({"shift": p.shift, "volunteer": p.volunteer}))
        }
        _ => None,
    }
}

/// Fills a route's parameters from the fixture, for `case`.
fn concrete(path: &str, f: &Fixture, case: &Case) -> String {
    if let Some(p) = concrete_party(path, f) {
        return p;
    }
    if path.contains("{topic}") {
        return path
            .replace("{topic}", "case_accepted")
            .replace("{language}", "en");
    }
    path.replace("{id}", &case.id.to_string())
        .replace("{case}", &case.id.to_string())
        .replace("{sha256}", &f.photo)
        .replace("{sha}", &f.photo)
        .replace("{receipt}", &case.receipt_code)
        .replace("{code}", &case.receipt_code)
        .replace("{public_id}", &case.public_id)
        .replace("{action}", "supervise")
        .replace("{kind}", "responsibility")
}

/// Paths about appeals and surveys take their ids.
fn concrete_rest(path: &str, f: &Fixture, case: &Case) -> String {
    if path.starts_with("/api/v1/kpi/appeals/") {
        return path.replace("{id}", &f.appeal.to_string());
    }
    if path.starts_with("/api/v1/surveys/") {
        return path.replace("{id}", &f.survey.to_string());
    }
    concrete(path, f, case)
}

fn rest_body(path: &str) -> Option<Value> {
    Some(match path {
        "/api/v1/notices" => {
            json!({"title": "台风预警", "text": "请立即排查辖区危旧房屋", "grids": ["440305001001001"]})
        }
        "/api/v1/cases" => {
            json!({"description": "路灯不亮", "lon": 113.9171, "lat": 22.5168, "category": "01007", "attributes": {"fault": "dark"}})
        }
        "/api/v1/cases/{id}/actions/{action}" => json!({"on": true, "note": "督办"}),
        "/api/v1/kpi/appeals" => {
            json!({"subject_kind": "unit", "subject_code": "ST001", "period": "2026-02", "points": 1.0, "reason": "复核"})
        }
        "/api/v1/kpi/appeals/{id}/review" | "/api/v1/kpi/appeals/{id}/decide" => {
            json!({"yes": true, "note": "同意"})
        }
        "/api/v1/surveys" => {
            json!({"title": "满意度", "period": "2026-02", "units": ["ST001"], "closes_at": "2026-04-01T00:00:00Z"})
        }
        "/api/v1/surveys/{id}/responses" => {
            json!({"phone": "13900000000", "ratings": {"ST001": 5}})
        }
        "/api/v1/session" => json!({"username": "calltaker1", "password": "civicgrid-demo"}),
        "/api/v1/notifications/dead-letters/{id}/discard" => json!({"reason": "地址无效"}),
        // An unknown variable: refused (422) after the permission check, nothing saved.
        "/api/v1/notifications/templates/{topic}/{language}" => {
            json!({"subject": "{{nope}}", "body": "b", "sms": "s"})
        }
        "/api/v1/notifications/templates/{topic}/{language}/preview" => {
            json!({"subject": "Accepted {{receipt}}", "body": "{{track_link}}", "sms": "{{receipt}}"})
        }
        "/api/v1/me/channels" => json!({"email": false, "sms": false, "digest": true}),
        _ => return None,
    })
}

async fn session(app: &App, username: &str) -> String {
    let a = Call::new(app.clone(), "POST", "/api/v1/session")
        .json(&json!({"username": username, "password": "civicgrid-demo"}))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{username}: {}", a.text());
    a.json()["token"].as_str().expect("token").to_owned()
}

/// A browser signed in as `username`: its cookie header and CSRF token.
async fn browser(app: &App, username: Option<&str>) -> (String, String) {
    let first = Call::new(app.clone(), "GET", "/login").send().await;
    let csrf = first
        .cookies()
        .iter()
        .find_map(|c| c.strip_prefix("cg_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("csrf cookie")
        .to_owned();
    let Some(username) = username else {
        return (format!("cg_csrf={csrf}"), csrf);
    };
    let a = Call::new(app.clone(), "POST", "/login")
        .cookie(&format!("cg_csrf={csrf}"))
        .form(&format!(
            "csrf={csrf}&username={username}&password=civicgrid-demo"
        ))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{username}: {}", a.text());
    let token = a
        .cookies()
        .iter()
        .find_map(|c| c.strip_prefix("cg_session="))
        .and_then(|c| c.split(';').next())
        .expect("session")
        .to_owned();
    (format!("cg_csrf={csrf}; cg_session={token}"), csrf)
}

/// What the walk saw: per route, how often the policy allowed and refused; every answer that
/// disagreed with it.
#[derive(Default)]
struct Walk {
    tried: BTreeMap<&'static str, (usize, usize)>,
    disagreements: Vec<String>,
    /// Time spent per route, to see where the walk's minutes go (`--nocapture`).
    spent: BTreeMap<&'static str, std::time::Duration>,
}

impl Walk {
    fn merge(&mut self, other: Walk) {
        for (path, (allowed, refused)) in other.tried {
            let e = self.tried.entry(path).or_default();
            e.0 += allowed;
            e.1 += refused;
        }
        self.disagreements.extend(other.disagreements);
        for (path, spent) in other.spent {
            *self.spent.entry(path).or_default() += spent;
        }
    }

    fn record(&mut self, path: &'static str, expected: bool, ok: bool, what: String) {
        let e = self.tried.entry(path).or_default();
        if expected {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        if !ok {
            let policy = if expected { "allow" } else { "refuse" };
            self.disagreements
                .push(format!("{what} (policy: {policy})"));
        }
    }
}

fn is_refusal(a: &Answer) -> bool {
    a.status == StatusCode::FORBIDDEN
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_the_policy_says() {
    let f = fixture().await;
    let app = f.t.app.clone();

    // 100 % of routes: the tables cover the router's, and nothing more.
    let doc = serde_json::to_value(civicgrid::http::openapi()).expect("document");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            operations.push((method.clone(), path.clone()));
        }
    }
    for (method, path) in &operations {
        assert!(
            REST.iter().any(|(m, p, _)| m == method && p == path),
            "REST {method} {path} has no entry in the walk"
        );
    }
    assert_eq!(
        operations.len(),
        REST.len(),
        "the walk lists routes that do not exist"
    );
    let pages = civicgrid::web::pages();
    for path in pages.paths() {
        assert!(
            PAGES.iter().any(|(p, _, _)| p == path),
            "page {path} has no entry in the walk"
        );
    }
    assert_eq!(
        pages.paths().len(),
        PAGES.len(),
        "the walk lists pages that do not exist"
    );

    let users = app.repo.users().await.expect("users");
    assert!(
        users.len() > 20,
        "every demo role: {} accounts",
        users.len()
    );
    let mut accounts: Vec<Option<String>> = vec![None];
    accounts.extend(users.iter().map(|u| Some(u.username.clone())));
    // Accounts are walked side by side (each route's answer depends on the policy, not on
    // what another account did first: refusals come before any state check).
    let f = Arc::new(f);
    let mut tasks = tokio::task::JoinSet::new();
    for account in accounts {
        tasks.spawn(walk_as(f.clone(), account));
    }
    let mut walk = Walk::default();
    while let Some(part) = tasks.join_next().await {
        walk.merge(part.expect("an account's walk"));
    }
    assert!(
        {
            let mut slowest: Vec<_> = walk.spent.iter().collect();
            slowest.sort_by(|a, b| b.1.cmp(a.1));
            let total: std::time::Duration = walk.spent.values().sum();
            let consultation: std::time::Duration = walk
                .spent
                .iter()
                .filter(|(p, _)| concrete_consultation(p, &f).is_some())
                .map(|(_, d)| *d)
                .sum();
            eprintln!("walk: {total:?} answering, {consultation:?} of it consultation");
            for (path, spent) in slowest.iter().take(15) {
                eprintln!("walk: {spent:?} on {path}");
            }
            walk.disagreements.is_empty()
        },
        "{} answers disagree with the policy:\n{}",
        walk.disagreements.len(),
        walk.disagreements.join("\n")
    );
    // The walk saw both answers on every guarded route.
    for (path, (allowed, refused)) in &walk.tried {
        let public = REST
            .iter()
            .map(|(_, p, a)| (p, a))
            .chain(PAGES.iter().map(|(p, _, a)| (p, a)))
            .any(|(p, a)| p == path && matches!(a, Access::Public));
        if !public {
            assert!(
                *allowed > 0 && *refused > 0,
                "{path}: allowed {allowed}, refused {refused}"
            );
        }
    }
    let Ok(f) = Arc::try_unwrap(f) else {
        panic!("the walk's tasks are done")
    };
    f.t.finish().await;
}

/// One account's part of the walk: every route, about every case of the fixture.
async fn walk_as(f: Arc<Fixture>, account: Option<String>) -> Walk {
    let app = f.t.app.clone();
    let reference = app.reference().await.expect("reference");
    let policy = reference.policy();
    let mut walk = Walk::default();
    let actor = match &account {
        Some(name) => staff(&app, name).await,
        None => Actor::Resident,
    };
    let token = match &account {
        Some(name) => Some(session(&app, name).await),
        None => None,
    };
    let (cookie, csrf) = browser(&app, account.as_deref()).await;
    // One router for the account's requests, as a server has.
    let router = civicgrid::http::router(app.clone());
    for (n, case) in f.cases.iter().enumerate() {
        for (method, path, access) in REST {
            if matches!(access, Access::ReadPhoto) && case.state.photos.is_empty() {
                continue;
            }
            if n > 0 && asked_already(&policy, &actor, *access, &f, path, concrete_rest) {
                continue;
            }
            // Party-building routes ask about the fixture's records, not the case.
            if concrete_party(path, &f).is_some() && case.id != f.cases[0].id {
                continue;
            }
            let uri = concrete_rest(path, &f, case)
                + if *path == "/api/v1/kpi" || *path == "/api/v1/hotspots" {
                    "?scope=440305001&period=2026-02"
                } else {
                    ""
                };
            let mut call =
                Call::routed(router.clone(), &method.to_uppercase(), &uri).client_addr("192.0.2.1");
            if let Some(token) = &token {
                // Ending a session: a session of its own, so the walk's stays valid.
                let t = if matches!(access, Access::OwnSession) {
                    session(&app, account.as_deref().unwrap_or_default()).await
                } else {
                    token.clone()
                };
                call = call.bearer(&t);
            }
            if path.contains("/photos") && *method == "post" {
                let (png, _) =
                    civicgrid::demo::photos::before_and_after(9, "05001", "2026-03-03 10:00", "");
                call = Call::routed(router.clone(), "POST", &format!("{uri}?stage=before"))
                    .client_addr("192.0.2.1")
                    .header("if-match", "\"999\"")
                    .bytes("image/png", png);
                if let Some(token) = &token {
                    call = call.bearer(token);
                }
            } else if let Some((content_type, bytes)) = party_body(path, &f) {
                call = call.bytes(content_type, bytes);
                // The resident's secret proves them, whoever else the caller is.
                if path.contains("/materials/") {
                    call = call.header("x-application-secret", &f.party.application_secret);
                }
            } else if let Some(body) = rest_body(path) {
                if path.contains("/actions/") {
                    call = call.header("if-match", "\"999\"");
                }
                call = call.json(&body);
            }
            let started = std::time::Instant::now();
            let answer = call.send().await;
            *walk.spent.entry(path).or_default() += started.elapsed();
            let expected = allowed(&policy, &actor, *access, &f, case);
            let anonymous = account.is_none();
            let ok = match (anonymous, access) {
                (_, Access::Public) => {
                    answer.status != StatusCode::FORBIDDEN
                        && answer.status != StatusCode::UNAUTHORIZED
                        && !answer.status.is_server_error()
                }
                (true, _) => answer.status == StatusCode::UNAUTHORIZED,
                (false, _) => {
                    !answer.status.is_server_error()
                        && answer.status != StatusCode::UNAUTHORIZED
                        && is_refusal(&answer) != expected
                }
            };
            walk.record(
                path,
                expected,
                ok,
                format!(
                    "REST {method} {uri} as {}: {}",
                    account.as_deref().unwrap_or("anonymous"),
                    answer.status
                ),
            );
        }
        for (path, method, access) in PAGES {
            if matches!(access, Access::ReadPhoto) && case.state.photos.is_empty() {
                continue;
            }
            if n > 0 && asked_already(&policy, &actor, *access, &f, path, concrete) {
                continue;
            }
            if concrete_party(path, &f).is_some() && case.id != f.cases[0].id {
                continue;
            }
            let uri = match *path {
                "/kpi/export.csv" => format!("{path}?scope=440305001&period=2026-02"),
                "/surveys/{id}" => format!("/surveys/{}", f.survey),
                _ => concrete(path, &f, case),
            };
            // Signing out is tried on a session of its own, so the walk's stays valid.
            let (cookie, csrf) = if *path == "/logout" {
                browser(&app, account.as_deref()).await
            } else {
                (cookie.clone(), csrf.clone())
            };
            let call = Call::routed(router.clone(), &method.to_uppercase(), &uri)
                .client_addr("192.0.2.2")
                .cookie(&cookie);
            let call = match *path {
                "/work/case/{id}/act" => call.multipart(&[
                    ("csrf", &csrf),
                    ("action", "supervise"),
                    ("version", "999"),
                    ("on", "true"),
                    ("note", "督办"),
                ]),
                "/admin/grids" => call.multipart(&[("csrf", &csrf), ("parent", "440305001")]),
                "/work/field/report" => {
                    call.multipart(&[("csrf", &csrf), ("description", "井盖丢失")])
                }
                "/emergency/plans" => call.multipart(&[("csrf", &csrf)]),
                "/admin/import" => {
                    call.multipart(&[("csrf", &csrf), ("kind", "responsibility")])
                }
                "/work/dispatch" => call.form(&format!("csrf={csrf}&case={}", case.id)),
                "/party/import" => {
                    call.multipart(&[("csrf", &csrf), ("kind", "organisations")])
                }
                "/wishes/{number}/deliver" => {
                    call.multipart(&[("csrf", &csrf), ("note", "已送到")])
                }
                "/party/members/{id}/home" => {
                    call.form(&format!("csrf={csrf}&decision=approve"))
                }
                "/my/home" => {
                    call.form(&format!("csrf={csrf}&community={}", f.party.community))
                }
                "/my/households/{id}/visit" => {
                    call.form(&format!("csrf={csrf}&channel=phone&topics=x"))
                }
                "/my/visits/{id}/case" => call.form(&format!("csrf={csrf}&description=x")),
                "/activities/{id}/signup" | "/activities/{id}/cancel" => {
                    call.form(&format!("csrf={csrf}&shift={}", f.party.shift))
                }
                "/activities/{id}/attendance" => call.form(&format!(
                    "csrf={csrf}&shift={}&volunteer={}",
                    f.party.shift, f.party.volunteer
                )),
                "/consultation/{code}/meetings" => call.form(&format!(
                    "csrf={csrf}&kind=resident_council&title=x&place=y&starts_at=2026-04-01T10:00&item=z"
                )),
                "/consultation/household-key" | "/polls/{id}/code" => {
                    call.form(&format!("csrf={csrf}&household={}", f.party.household))
                }
                "/topics/{number}/schedule" => {
                    call.form(&format!("csrf={csrf}&meeting={}", f.party.meeting))
                }
                "/meetings/{number}/answer" => {
                    call.form(&format!("csrf={csrf}&unit=ST001&answer=attend"))
                }
                "/meetings/{number}/check-in" => {
                    call.form(&format!("csrf={csrf}&kind=unit&reference=ST001"))
                }
                "/meetings/{number}/attachments" => {
                    call.multipart(&[("csrf", &csrf), ("name", "a.txt")])
                }
                "/disputes/{number}/act" => {
                    call.form(&format!("csrf={csrf}&version=999&step=escalate&reason=x"))
                }
                "/supervision" => call.multipart(&[("subject", "收好处费"), ("content", "办证时被要求另交钱")]),
                "/supervision/follow-up" => call.form(&format!(
                    "receipt={}&passphrase={}",
                    f.party.report_receipt, f.party.report_passphrase
                )),
                "/supervision/follow-up/messages" => call.form(&format!(
                    "receipt={}&passphrase={}&text=x",
                    f.party.report_receipt, f.party.report_passphrase
                )),
                "/supervision/follow-up/files" => call.multipart(&[
                    ("receipt", &f.party.report_receipt),
                    ("passphrase", &f.party.report_passphrase),
                ]),
                "/supervision/work/{id}" if *method == "post" => {
                    call.form(&format!("csrf={csrf}&version=999&action=acknowledge"))
                }
                "/applications/{number}/act" => {
                    call.form(&format!("csrf={csrf}&version=999&step=accept"))
                }
                "/services/{code}/apply" | "/applications/{number}/resident" => {
                    call.multipart(&[("csrf", &csrf), ("name", "x")])
                }
                _ if *method == "post" => call.form(&format!("csrf={csrf}")),
                _ => call,
            };
            let started = std::time::Instant::now();
            let answer = call.send().await;
            *walk.spent.entry(path).or_default() += started.elapsed();
            let expected = allowed(&policy, &actor, *access, &f, case);
            let anonymous = account.is_none();
            let ok = match (anonymous, access) {
                (_, Access::Public) => {
                    answer.status != StatusCode::FORBIDDEN && !answer.status.is_server_error()
                }
                // Nobody is sent to sign in (or refused), never shown the page.
                (true, _) => {
                    answer.location() == Some("/login") || answer.status == StatusCode::FORBIDDEN
                }
                (false, _) => {
                    !answer.status.is_server_error()
                        && answer.location() != Some("/login")
                        && is_refusal(&answer) != expected
                }
            };
            walk.record(
                path,
                expected,
                ok,
                format!(
                    "page {method} {uri} as {}: {}",
                    account.as_deref().unwrap_or("anonymous"),
                    answer.status
                ),
            );
        }
    }
    walk
}

/// A route whose address and answer do not depend on the case was asked about the first
/// case already: asking again about the second would only repeat the same call.
fn asked_already(
    policy: &Policy<'_>,
    actor: &Actor,
    access: Access,
    f: &Fixture,
    path: &str,
    address: fn(&str, &Fixture, &Case) -> String,
) -> bool {
    let (first, second) = (&f.cases[0], &f.cases[1]);
    address(path, f, first) == address(path, f, second)
        && allowed(policy, actor, access, f, first) == allowed(policy, actor, access, f, second)
}
