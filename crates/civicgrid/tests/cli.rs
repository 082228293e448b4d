//! The integration tests of civicgrid, one binary: the command line, the REST API, the pages,
//! Open311 and the jobs, in process against a fresh database per test (a SQLite file, or a
//! PostgreSQL schema of its own where the backend matters), with real files.
//!
//! One file per capability under `cli/`; `support.rs` holds what they share (the test
//! application builder, the request helper, the command-line runner, fixtures).

use support::{Env, PgSchema, collection, everything, feature, path, square};

#[path = "cli/support.rs"]
mod support;

#[path = "cli/access.rs"]
mod access;

#[path = "cli/accounts.rs"]
mod accounts;

#[path = "cli/backup.rs"]
mod backup;

#[path = "cli/cases.rs"]
mod cases;

#[path = "cli/cases_api.rs"]
mod cases_api;

#[path = "cli/accountability.rs"]
mod accountability;
#[path = "cli/consultation.rs"]
mod consultation;
#[path = "cli/mediation.rs"]
mod mediation;
#[path = "cli/supervision.rs"]
mod supervision;

#[path = "cli/deadlines.rs"]
mod deadlines;

#[path = "cli/demo.rs"]
mod demo;

#[path = "cli/demo_cases.rs"]
mod demo_cases;

#[path = "cli/durability.rs"]
mod durability;

#[path = "cli/party.rs"]
mod party;

#[path = "cli/placement.rs"]
mod placement;

#[path = "cli/receipts.rs"]
mod receipts;

#[path = "cli/language.rs"]
mod language;

#[path = "cli/finding.rs"]
mod finding;

#[path = "cli/gazetteer.rs"]
mod gazetteer;

#[path = "cli/hotline.rs"]
mod hotline;

#[path = "cli/imports.rs"]
mod imports;

#[path = "cli/instances.rs"]
mod instances;

#[path = "cli/kpi.rs"]
mod kpi;

#[path = "cli/limits.rs"]
mod limits;

#[path = "cli/map.rs"]
mod map;

#[path = "cli/notifications.rs"]
mod notifications;

#[path = "cli/open311.rs"]
mod open311;

#[path = "cli/openapi.rs"]
mod openapi;

#[path = "cli/routing.rs"]
mod routing;

#[path = "cli/territory.rs"]
mod territory;

#[path = "cli/upstream.rs"]
mod upstream;

#[path = "cli/web.rs"]
mod web;

#[path = "cli/webhooks.rs"]
mod webhooks;

#[path = "cli/whistle.rs"]
mod whistle;

#[path = "cli/emergency.rs"]
mod emergency;

#[path = "cli/classify.rs"]
mod classify;

#[path = "cli/search.rs"]
mod search;
