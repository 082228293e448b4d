//! Administration: the deployment's tables (territory, catalogue, list, calendar, assessment
//! scheme) kept as files through the page, staff accounts and API keys; and, at the command
//! line, migrations, integrity checks, backup, restore and copying SQLite into PostgreSQL.

pub mod jobs;

pub mod cli;

pub mod pages;
