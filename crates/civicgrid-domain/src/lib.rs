//! The pure core of civicgrid.
//!
//! Nothing in this crate performs I/O, reads the clock or touches a database: every function
//! takes what it needs as arguments, which is what makes the rules exhaustively testable.
//! The store and the shells (CLI, HTTP, jobs) call into it; it never calls out.

pub mod access;
pub mod accountability;
pub mod application;
pub mod calendar;
pub mod case;
pub mod catalogue;
pub mod consultation;
pub mod dispute;
pub mod geometry;
pub mod household;
pub mod kpi;
pub mod lists;
pub mod notification;
pub mod notify;
pub mod party;
pub mod policy;
pub mod routing;
pub mod supervision;
pub mod territory;
pub mod volunteer;
pub mod wish;
