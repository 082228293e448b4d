//! The command line of administration: migrations, checks, backup, restore, copy into PostgreSQL.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::cli::io;
use crate::error::AppResult;

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write an online, consistent copy of the whole deployment to a new file (SQLite: a
    /// snapshot database file; PostgreSQL: a pg_dump custom-format archive of its schema).
    /// The data key is not in it: keep that apart
    Backup {
        /// The file to write; never overwritten
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Put a backup back as the deployment --database names (stop its instances first)
    Restore {
        /// The backup file
        #[arg(long, short)]
        input: PathBuf,
        /// Replace a target that already holds a deployment
        #[arg(long)]
        replace: bool,
    },
    /// Copy a whole deployment from SQLite into PostgreSQL (every table, event and photo),
    /// then verify each table's row count and checksum on both sides. An interrupted copy
    /// resumes when run again. (--database is not used.)
    Copy {
        /// sqlite:PATH
        #[arg(long)]
        from: String,
        /// postgres://USER@HOST:PORT/DATABASE
        #[arg(long)]
        to: String,
        /// Empty a target that already holds data instead of refusing it
        #[arg(long)]
        replace: bool,
        /// Rows per transaction
        #[arg(long, default_value_t = 1000)]
        batch_rows: usize,
    },
    /// Apply pending database migrations (also done automatically by every command)
    Migrate,
    /// Check the database: the engine's integrity check and civicgrid's invariants
    Check,
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    _input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
        // Handled by `run_offline`, before connecting.
        Command::Backup { .. } | Command::Restore { .. } | Command::Copy { .. } => {}
        Command::Migrate => {
            app.repo.migrate().await?;
            writeln!(out, "migrations applied ({})", app.repo.backend()).map_err(io)?;
        }
        Command::Check => {
            let problems = app.repo.check_integrity().await?;
            for p in &problems {
                writeln!(out, "{p}").map_err(io)?;
            }
            writeln!(out, "{} problem(s)", problems.len()).map_err(io)?;
            if !problems.is_empty() {
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// Runs the commands that work on the database as files or dumps, before anything connects:
/// Some(exit status) if `command` is one of them.
/// A database restored or copied holds other cases than the instances' search indexes were
/// fed: a new rebuild generation makes each rebuild its index from it.
async fn forget_search_indexes(database: &str) -> AppResult<()> {
    let repo = civicgrid_store::connect(database).await?;
    repo.next_search_generation().await?;
    Ok(())
}

pub async fn run_offline(
    command: &Command,
    database: &str,
    out: &mut dyn Write,
) -> AppResult<Option<i32>> {
    match command {
        Command::Backup { output } => {
            let done = civicgrid_store::backup::backup(database, output).await?;
            writeln!(
                out,
                "backed up the {} deployment to {} ({} bytes)",
                done.backend,
                output.display(),
                done.bytes
            )
            .map_err(io)?;
            Ok(Some(0))
        }
        Command::Copy {
            from,
            to,
            replace,
            batch_rows,
        } => {
            let options = civicgrid_store::copy::CopyOptions {
                replace: *replace,
                batch_rows: *batch_rows,
            };
            let done = civicgrid_store::copy::copy(from, to, &options).await?;
            if done.resumed {
                writeln!(out, "resumed an interrupted copy").map_err(io)?;
            }
            for t in &done.tables {
                writeln!(
                    out,
                    "{:<24} {:>10} rows  checksum {:016x}  verified",
                    t.table, t.rows, t.checksum
                )
                .map_err(io)?;
            }
            writeln!(out, "copied {} tables from {from}", done.tables.len()).map_err(io)?;
            forget_search_indexes(to).await?;
            Ok(Some(0))
        }
        Command::Restore { input, replace } => {
            let done = civicgrid_store::backup::restore(database, input, *replace).await?;
            forget_search_indexes(database).await?;
            writeln!(
                out,
                "restored {} ({} bytes) as the {} deployment",
                input.display(),
                done.bytes,
                done.backend
            )
            .map_err(io)?;
            Ok(Some(0))
        }
        _ => Ok(None),
    }
}
