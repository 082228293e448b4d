//! The civicgrid application: services over the domain core and the store, the interchange
//! formats, and the command line. The binary in `main.rs` only calls [`cli::run`].

pub mod cli;
pub mod clock;
pub mod error;
pub mod http;
pub mod interchange;
pub mod services;
pub mod web;
