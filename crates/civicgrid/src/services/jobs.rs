//! Background jobs. Each is a function of the clock and the store, safe to run again and
//! on several instances at once: every step is a case action with a version check, so a step
//! another run already took is refused as stale and skipped.

use civicgrid_domain::case::deadline::{Alarm, alarm};
use civicgrid_domain::case::{Action, Status};
use civicgrid_store::CaseFilter;

use super::App;
use super::cases::Actor;
use crate::error::{AppError, AppResult};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub yellow: usize,
    pub red: usize,
    pub escalated: usize,
    /// Summoned departments that did not report in by the whistle call's deadline.
    pub missed_whistles: usize,
    /// Steps another run took first.
    pub skipped: usize,
}

impl App {
    /// Raises yellow warnings (at `warn_at` of a stage's time) and red breaches (at its
    /// deadline); a breach also lifts the case one tier (grid → community → street → district).
    pub async fn sweep_deadlines(&self, warn_at: f64) -> AppResult<SweepReport> {
        let now = self.clock.now();
        let reference = self.reference().await?;
        let calendar = &reference.calendar;
        let mut report = SweepReport::default();
        let mut before = None;
        loop {
            let page = self
                .repo
                .cases(&CaseFilter {
                    running_clock: true,
                    statuses: vec![],
                    categories: vec![],
                    open311_batch_categories: vec![],
                    offset: 0,
                    before,
                    limit: 500,
                    ..CaseFilter::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            for case in &page {
                let late: Vec<String> = case
                    .state
                    .open_summons()
                    .filter(|x| x.due_at <= now)
                    .map(|x| x.unit.clone())
                    .collect();
                let mut case = case.clone();
                for unit in late {
                    match self
                        .act_on_case(
                            &case.id,
                            case.state.version,
                            Action::MissWhistle { unit },
                            &Actor::System,
                        )
                        .await
                    {
                        Ok(c) => {
                            report.missed_whistles += 1;
                            case = c;
                        }
                        Err(AppError::Stale { .. } | AppError::NotAllowed { .. }) => {
                            report.skipped += 1
                        }
                        Err(e) => return Err(e),
                    }
                }
                let case = &case;
                let Some(clock) = case.clock else { continue };
                if clock.paused_at.is_some() || case.state.status == Status::Shelved {
                    continue;
                }
                let extensions: Vec<_> = case
                    .state
                    .extensions
                    .iter()
                    .filter(|(s, _)| *s == clock.stage)
                    .map(|(_, l)| *l)
                    .collect();
                let level = alarm(
                    calendar,
                    clock.limit,
                    &extensions,
                    clock.due_at,
                    now,
                    warn_at,
                );
                let raised = case
                    .state
                    .alarm
                    .filter(|(s, _)| *s == clock.stage)
                    .map(|(_, l)| l)
                    .unwrap_or(Alarm::Green);
                if level <= raised {
                    continue;
                }
                let action = Action::RaiseAlarm {
                    stage: clock.stage,
                    level,
                };
                let after = match self
                    .act_on_case(&case.id, case.state.version, action, &Actor::System)
                    .await
                {
                    Ok(c) => c,
                    Err(AppError::Stale { .. } | AppError::NotAllowed { .. }) => {
                        report.skipped += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                match level {
                    Alarm::Yellow => report.yellow += 1,
                    Alarm::Red => report.red += 1,
                    Alarm::Green => {}
                }
                if level == Alarm::Red
                    && let Some(tier) = after.state.tier.above()
                {
                    let escalate = Action::Escalate {
                        tier,
                        reason: format!("the {} deadline passed at {}", clock.stage, clock.due_at),
                    };
                    match self
                        .act_on_case(&after.id, after.state.version, escalate, &Actor::System)
                        .await
                    {
                        Ok(_) => report.escalated += 1,
                        Err(AppError::Stale { .. } | AppError::NotAllowed { .. }) => {
                            report.skipped += 1
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(report)
    }
}
