//! `civicgrid emergency …`: plans in and out (TOML or CSV, all or nothing), the incidents,
//! an incident's after-action record, and the situation-report reminders run by hand.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult, InputError};

#[derive(Subcommand, Debug)]
pub enum EmergencyCommand {
    /// Emergency plans (应急预案)
    #[command(subcommand)]
    Plans(PlanCommand),
    /// The incidents, newest first
    Incidents,
    /// An incident's after-action record (复盘)
    Record {
        /// The incident's number (YJ…) or id
        incident: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: RecordFormat,
    },
    /// Keeps the reminders of situation reports that are due now (the job does this every minute)
    Remind,
}

#[derive(Subcommand, Debug)]
pub enum PlanCommand {
    /// Imports plans from TOML (one plan per file) or CSV files (any number of plans), all
    /// or nothing: a plan already kept is replaced
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Writes plans: one as TOML, or any (all when none is named) as CSV
    Export {
        codes: Vec<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: PlanFormat,
    },
    /// The plans with their tasks per level
    List,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum PlanFormat {
    Toml,
    Csv,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum RecordFormat {
    Csv,
    Json,
}

/// Reads plan files: TOML by name ending, CSV otherwise; every problem of every file.
pub fn read_plan_files(
    files: &[(String, String)],
) -> Result<Vec<civicgrid_domain::emergency::Plan>, Vec<InputError>> {
    let mut plans = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in files {
        let read = if name.to_ascii_lowercase().ends_with(".toml") {
            super::plan_file::read_plan(name, text).map(|p| vec![p])
        } else {
            super::plan_file::read_plans_csv(name, text)
        };
        match read {
            Ok(p) => plans.extend(p),
            Err(e) => problems.extend(e),
        }
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(problems)
    }
}

pub async fn run(app: &App, command: EmergencyCommand, out: &mut dyn Write) -> AppResult<i32> {
    let io = |e: std::io::Error| AppError::Invalid(e.to_string());
    match command {
        EmergencyCommand::Plans(PlanCommand::Import { files }) => {
            let mut texts = Vec::new();
            for f in &files {
                let name = f.display().to_string();
                let bytes = std::fs::read(f).map_err(|source| AppError::Io {
                    path: name.clone(),
                    source,
                })?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    AppError::Input(vec![InputError::file(&name, "is not UTF-8 text")])
                })?;
                texts.push((name, text));
            }
            let plans = read_plan_files(&texts).map_err(AppError::Input)?;
            let saved = app.save_emergency_plans(&Actor::System, plans).await?;
            for p in &saved {
                writeln!(out, "plan {} ({}) version {}", p.code, p.kind, p.version).map_err(io)?;
            }
        }
        EmergencyCommand::Plans(PlanCommand::Export { codes, format }) => {
            let all = app.emergency_plans(&Actor::System).await?;
            let mut chosen = Vec::new();
            for c in &codes {
                match all.iter().find(|(r, _)| &r.code == c) {
                    Some((_, p)) => chosen.push(p.clone()),
                    None => return Err(AppError::NotFound(format!("plan {c}"))),
                }
            }
            if codes.is_empty() {
                chosen = all.into_iter().map(|(_, p)| p).collect();
            }
            let text = match format {
                PlanFormat::Toml if chosen.len() == 1 => super::plan_file::write_plan(&chosen[0]),
                PlanFormat::Toml => {
                    return Err(AppError::Invalid(
                        "TOML holds one plan: name one, or use --format csv".into(),
                    ));
                }
                PlanFormat::Csv => super::plan_file::write_plans_csv(&chosen),
            }
            .map_err(AppError::Invalid)?;
            out.write_all(text.as_bytes()).map_err(io)?;
        }
        EmergencyCommand::Plans(PlanCommand::List) => {
            for (r, p) in app.emergency_plans(&Actor::System).await? {
                let levels: Vec<String> = civicgrid_domain::emergency::Level::ALL
                    .iter()
                    .map(|l| {
                        format!(
                            "{}:{}",
                            l.as_str(),
                            p.tasks.iter().filter(|t| t.level == *l).count()
                        )
                    })
                    .collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\tv{}\ttasks {}",
                    r.code,
                    r.kind,
                    r.title,
                    r.version,
                    levels.join(" ")
                )
                .map_err(io)?;
            }
        }
        EmergencyCommand::Incidents => {
            for i in app.incidents_for(&Actor::System).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\tlevel {}\t{}{}\tgrids {}",
                    i.number,
                    i.title,
                    i.status,
                    i.level.as_deref().unwrap_or("-"),
                    i.plan_code,
                    if i.exercise { "\texercise" } else { "" },
                    i.grids.len()
                )
                .map_err(io)?;
            }
        }
        EmergencyCommand::Record { incident, format } => {
            let r = app.after_action(&Actor::System, &incident).await?;
            match format {
                RecordFormat::Csv => out.write_all(&super::record::record_csv(&r)?).map_err(io)?,
                RecordFormat::Json => {
                    let text = serde_json::to_string_pretty(&r)
                        .map_err(|e| AppError::Invalid(e.to_string()))?;
                    writeln!(out, "{text}").map_err(io)?;
                }
            }
        }
        EmergencyCommand::Remind => {
            let kept = app.remind_sitreps().await?;
            writeln!(out, "{kept} reminders kept").map_err(io)?;
        }
    }
    Ok(0)
}
