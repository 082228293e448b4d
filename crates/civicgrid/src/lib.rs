//! The civicgrid application, one folder per capability. Each capability owns its services
//! (`impl App` blocks over the domain core and the store), its REST handlers, pages, CLI
//! subcommands and background jobs; the shells (`http`, `web`, `cli`, `jobs`) merge them. See
//! docs/ARCHITECTURE.md.

// Shared foundations.
pub mod app;
pub mod clock;
pub mod contacts;
pub mod error;
pub mod interchange;
pub mod jobs;
pub mod outbound;
pub mod reference;

// The shells that merge the capabilities.
pub mod cli;
pub mod http;
pub mod web;

// The capabilities.
pub mod accountability;
pub mod accounts;
pub mod administration;
pub mod assessment;
pub mod cases;
pub mod catalogue;
pub mod consultation;
pub mod demo;
pub mod disputes;
pub mod emergency;
pub mod files;
pub mod hotline;
pub mod households;
pub mod lists;
pub mod notifications;
pub mod one_stop;
pub mod open311;
pub mod party;
pub mod routing;
pub mod search;
pub mod suggestion;
pub mod supervision;
pub mod territory;
pub mod upstream;
pub mod volunteers;
pub mod webhooks;
pub mod wishes;

pub use app::App;
