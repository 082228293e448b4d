//! Emergency response (应急, issue 18; begun): plans by incident type and level that turn into
//! tasks for units and grids. So far the plan file (`plan_file.rs`); the domain core is
//! `civicgrid_domain::emergency`. Storage, REST, pages, the board and the after-action record
//! come next (see docs/ARCHITECTURE.md).

pub mod plan_file;
