//! The command line of accounts: staff, API keys; roles as a file.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::accounts::UserSpec;
use crate::cli::{io, read_table};
use crate::error::{AppError, AppResult};
use civicgrid_domain::access::{Grant, Scope};

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Staff accounts
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// API keys for other systems
    Apikey {
        #[command(subcommand)]
        what: ApikeyCommand,
    },
}

/// Files this capability imports (`civicgrid import …`).
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Roles TOML
    Roles { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a staff account; the password is read from stdin, or generated and printed
    Add {
        username: String,
        #[arg(long)]
        name: String,
        /// Role code (see data/roles.toml); repeat with --scope for several grants
        #[arg(long, required = true)]
        role: Vec<String>,
        /// region:CODE or unit:CODE, one per --role
        #[arg(long, required = true)]
        scope: Vec<String>,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List staff accounts and their grants
    List,
}

#[derive(Subcommand, Debug)]
pub enum ApikeyCommand {
    /// Create a key and print it once
    Create {
        #[arg(long)]
        name: String,
        /// The staff account the key acts as (without one, the key may only report cases)
        #[arg(long)]
        user: Option<String>,
    },
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
        Command::User {
            what:
                UserCommand::Add {
                    username,
                    name,
                    role,
                    scope,
                    unit,
                    password_stdin,
                },
        } => {
            if role.len() != scope.len() {
                return Err(AppError::Invalid("give one --scope for each --role".into()));
            }
            let grants = role
                .into_iter()
                .zip(scope)
                .map(|(role, scope)| {
                    Ok(Grant {
                        role,
                        scope: scope.parse::<Scope>().map_err(AppError::Invalid)?,
                    })
                })
                .collect::<AppResult<Vec<_>>>()?;
            let (password, generated) = if password_stdin {
                let mut p = String::new();
                input
                    .read_to_string(&mut p)
                    .map_err(|source| AppError::Io {
                        path: "standard input".into(),
                        source,
                    })?;
                let first_line = p.lines().next().unwrap_or("").to_owned();
                (first_line, false)
            } else {
                (crate::accounts::random_secret(9), true)
            };
            app.add_user(UserSpec {
                username: username.clone(),
                display_name: name,
                password: password.clone(),
                unit,
                grants,
            })
            .await?;
            writeln!(out, "created user {username}").map_err(io)?;
            if generated {
                writeln!(out, "password (shown once): {password}").map_err(io)?;
            }
        }
        Command::User {
            what: UserCommand::List,
        } => {
            for u in app.repo.users().await? {
                let grants: Vec<String> = u
                    .grants
                    .iter()
                    .map(|g| format!("{}@{}", g.role, g.scope))
                    .collect();
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    u.username,
                    u.display_name,
                    grants.join(" ")
                )
                .map_err(io)?;
            }
        }
        Command::Apikey {
            what: ApikeyCommand::Create { name, user },
        } => {
            let key = app.create_api_key(&name, user.as_deref()).await?;
            writeln!(out, "{key}").map_err(io)?;
            eprintln!("This key is shown once; civicgrid keeps only its hash.");
        }
    }
    Ok(0)
}

/// Imports a file of this capability: what was imported, and how many.
pub async fn import(
    app: &App,
    what: Import,
    _out: &mut dyn Write,
) -> AppResult<(&'static str, usize)> {
    Ok(match what {
        Import::Roles { file } => {
            let (name, text) = read_table(&file)?;
            ("roles", app.import_roles(&name, &text).await?)
        }
    })
}
