//! The command line of the demo: a seeded territory with staff and months of cases, then serve.
//! The shell (`crate::cli`) merges its subcommands into `civicgrid`.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::App;
use crate::cli::io;
use crate::demo::{DEMO_PASSWORD, DemoOutcome};
use crate::error::{AppError, AppResult};

/// This capability's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load a demo territory with staff, catalogue, responsibility list and calendar
    Demo {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder of the residents' messages used as case texts (read, never copied); without
        /// it, the short reports civicgrid ships
        #[arg(long, default_value = "../shared/data/teddy2020")]
        messages: PathBuf,
        /// Months of cases, ending today
        #[arg(long, default_value_t = 6)]
        months: i64,
        #[arg(long, default_value_t = 100)]
        cases_per_month: usize,
        /// Then serve the platform (as `civicgrid serve`)
        #[arg(long)]
        serve: bool,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

/// Runs a command of this capability.
pub async fn run(
    app: &mut App,
    command: Command,
    _input: &mut dyn Read,
    out: &mut dyn Write,
) -> AppResult<i32> {
    match command {
        Command::Demo {
            seed,
            messages,
            months,
            cases_per_month,
            serve: then_serve,
            listen,
        } => {
            if !(0..=36).contains(&months) || cases_per_month > 10_000 {
                return Err(AppError::Invalid(
                    "--months must be 0 to 36 and --cases-per-month at most 10000".into(),
                ));
            }
            match app.load_demo(seed).await? {
                DemoOutcome::Created => {
                    writeln!(out, "demo territory created (seed {seed})").map_err(io)?;
                    if months > 0 && cases_per_month > 0 {
                        let texts = crate::demo::cases::CaseTexts::from_dir_or_shipped(&messages);
                        let source = match &texts {
                            crate::demo::cases::CaseTexts::Messages(dir) => {
                                format!("residents' messages from {}", dir.display())
                            }
                            crate::demo::cases::CaseTexts::Shipped => {
                                "the shipped demo texts (data/demo-case-texts.toml)".to_owned()
                            }
                        };
                        let r = app
                            .load_demo_cases(seed, &texts, months, cases_per_month)
                            .await?;
                        let paths: Vec<String> =
                            r.by_path.iter().map(|(p, n)| format!("{p} {n}")).collect();
                        writeln!(
                            out,
                            "{} demo cases over {months} months from {source} ({} still open): {}; {} more reported this morning, waiting at each step of the loop",
                            r.cases,
                            r.still_open,
                            paths.join(", "),
                            r.waiting
                        )
                        .map_err(io)?;
                    }
                    let p = app.load_demo_party(seed).await?;
                    writeln!(
                        out,
                        "party building: {} organisations, {} members, {} households with {} contacts logged, {} small wishes, {} volunteers, {} activities, {} service-hour entries",
                        p.organisations, p.members, p.households, p.visits, p.wishes, p.volunteers, p.activities, p.hours_entries
                    )
                    .map_err(io)?;
                    let c = app.load_demo_consultation().await?;
                    writeln!(
                        out,
                        "consultation: {} topics with {} opinions, {} meetings, {} decisions with their cases and milestones, {} polls",
                        c.topics, c.opinions, c.meetings, c.results, c.polls
                    )
                    .map_err(io)?;
                    let m = app.load_demo_mediation().await?;
                    writeln!(
                        out,
                        "mediation and one-stop services: {} disputes at every tier and outcome, {} service items, {} applications",
                        m.disputes, m.items, m.applications
                    )
                    .map_err(io)?;
                    let s = app.load_demo_supervision().await?;
                    writeln!(
                        out,
                        "supervision: {} reports in every state, {} accountability records, {} published list versions",
                        s.reports, s.records, s.list_versions
                    )
                    .map_err(io)?;
                    let e = app.load_demo_emergency().await?;
                    writeln!(
                        out,
                        "emergency: {} plans with tasks at every level, {} incidents (a typhoon lifted, a drill) with their records",
                        e.plans, e.incidents
                    )
                    .map_err(io)?;
                    let n = app.load_demo_notifications().await?;
                    writeln!(
                        out,
                        "notifications: the history's {} notifying events are not sent; {} staff chose e-mail",
                        n.forgotten, n.staff
                    )
                    .map_err(io)?;
                }
                DemoOutcome::AlreadyLoaded => {
                    writeln!(out, "the demo territory is already loaded; nothing changed")
                        .map_err(io)?
                }
            }
            let s = app.repo.summary().await?;
            writeln!(
                out,
                "{} regions, {} grids, {} beats, {} units, {} categories, {} responsibility rules, {} calendar days, {} roles, {} staff accounts",
                s.regions, s.grids, s.beats, s.units, s.categories, s.rules, s.calendar_days, s.roles, s.users
            )
            .map_err(io)?;
            writeln!(out, "every demo account's password is `{DEMO_PASSWORD}` (try admin, dispatcher.st1, gw.st1c1.1)").map_err(io)?;
            if then_serve {
                let key = app
                    .create_api_key(
                        &format!("demo {}", app.ids.new_id(app.clock.now())),
                        Some("dispatcher.st1"),
                    )
                    .await?;
                writeln!(
                    out,
                    "an API key acting as dispatcher.st1 (shown once): {key}"
                )
                .map_err(io)?;
                crate::cli::serve::serve(app.clone(), &listen, 0.8, Some(60), out).await?;
            }
        }
    }
    Ok(0)
}
