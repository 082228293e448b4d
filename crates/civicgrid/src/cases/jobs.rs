//! The deadline sweep: yellow and red alarms, escalation up the tiers, and missed whistle-call
//! answers, recorded by ordinary case actions (see `crate::jobs` for how instances share it).

use civicgrid_domain::case::deadline::{Alarm, alarm};
use civicgrid_domain::case::{Action, Status};
use civicgrid_store::CaseFilter;
use jiff::Timestamp;

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};
use crate::jobs::*;
use std::sync::atomic::Ordering;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub yellow: usize,
    pub red: usize,
    pub escalated: usize,
    /// Summoned departments that did not report in by the whistle call's deadline.
    pub missed_whistles: usize,
    /// Steps another run took first.
    pub skipped: usize,
    /// Scopes (regions) this run leased and swept.
    pub scopes: usize,
}

impl std::ops::AddAssign for SweepReport {
    fn add_assign(&mut self, other: SweepReport) {
        self.yellow += other.yellow;
        self.red += other.red;
        self.escalated += other.escalated;
        self.missed_whistles += other.missed_whistles;
        self.skipped += other.skipped;
        self.scopes += other.scopes;
    }
}

/// The deadline sweep as a registered job (see `crate::jobs::registry`).
pub const DEADLINE_SWEEP: Job = Job {
    name: "deadline sweep",
    cadence: Cadence::Round,
    run: |app| {
        Box::pin(async move {
            let r = app.sweep_deadlines(app.jobs.warn_at).await?;
            if r.yellow + r.red + r.escalated + r.missed_whistles > 0 {
                tracing::info!(?r, "deadline sweep");
            }
            Ok((r.yellow + r.red + r.escalated + r.missed_whistles) as u64)
        })
    },
};

impl App {
    /// Raises yellow warnings (at `warn_at` of a stage's time) and red breaches (at its
    /// deadline); a breach also lifts the case one tier (grid → community → street → district).
    pub async fn sweep_deadlines(&self, warn_at: f64) -> AppResult<SweepReport> {
        let round = round_start(self.clock.now(), self.jobs.round);
        self.sweep_deadlines_in(round, warn_at).await
    }

    async fn sweep_deadlines_in(&self, round: Timestamp, warn_at: f64) -> AppResult<SweepReport> {
        let stats = &self.jobs.stats;
        match self.sweep_round_once(round, warn_at).await {
            Ok(r) => {
                stats.record(&r, self.clock.now());
                Ok(r)
            }
            Err(e) => {
                stats.sweep_failures.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Sweeps until every region has been swept in the current round, by this instance or
    /// another; a region whose lease holder died is taken over once its lease runs out.
    /// (With a clock that stands still, a dead holder's lease never runs out: for real time.)
    pub async fn sweep_whole_round(&self, warn_at: f64) -> AppResult<SweepReport> {
        let round = round_start(self.clock.now(), self.jobs.round);
        let poll = std::time::Duration::try_from(self.jobs.lease / 4)
            .unwrap_or_default()
            .clamp(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_secs(1),
            );
        let mut total = SweepReport::default();
        loop {
            total += self.sweep_deadlines_in(round, warn_at).await?;
            if self.repo.leases_unfinished(DEADLINE_JOB, round).await? == 0 {
                return Ok(total);
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn sweep_round_once(&self, round: Timestamp, warn_at: f64) -> AppResult<SweepReport> {
        let now = self.clock.now();
        let scopes: Vec<String> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code.to_string())
            .collect();
        self.repo.ensure_leases(DEADLINE_JOB, &scopes).await?;
        let settings = &self.jobs;
        let mut report = SweepReport::default();
        while !settings.stopping.load(Ordering::Acquire)
            && let Some(scope) = self
                .repo
                .claim_lease(
                    DEADLINE_JOB,
                    &settings.instance,
                    now,
                    now + settings.lease,
                    round,
                )
                .await?
        {
            report.scopes += 1;
            if self.sweep_scope(&scope, now, warn_at, &mut report).await? {
                self.repo
                    .finish_lease(DEADLINE_JOB, &scope, &settings.instance, now)
                    .await?;
            }
        }
        Ok(report)
    }

    /// Sweeps the cases placed in one region; false if the lease was lost on the way (another
    /// instance took the region over, so it is not marked finished here).
    async fn sweep_scope(
        &self,
        scope: &str,
        now: Timestamp,
        warn_at: f64,
        report: &mut SweepReport,
    ) -> AppResult<bool> {
        let reference = self.reference().await?;
        let calendar = &reference.calendar;
        let mut before = None;
        loop {
            let page = self
                .repo
                .cases(&CaseFilter {
                    running_clock: true,
                    region: Some(scope.to_owned()),
                    before,
                    limit: 500,
                    ..CaseFilter::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            let held = self
                .repo
                .renew_lease(
                    DEADLINE_JOB,
                    scope,
                    &self.jobs.instance,
                    self.clock.now() + self.jobs.lease,
                )
                .await?;
            if !held {
                return Ok(false);
            }
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
                let mut actions = vec![Action::RaiseAlarm {
                    stage: clock.stage,
                    level,
                }];
                // A breach lifts the case one tier in the same change (see act_on_case_in_steps).
                let lift = if level == Alarm::Red {
                    case.state.tier.above()
                } else {
                    None
                };
                if let Some(tier) = lift {
                    actions.push(Action::Escalate {
                        tier,
                        reason: format!("the {} deadline passed at {}", clock.stage, clock.due_at),
                    });
                }
                match self
                    .act_on_case_in_steps(&case.id, case.state.version, actions, &Actor::System)
                    .await
                {
                    Ok(_) => {}
                    Err(AppError::Stale { .. } | AppError::NotAllowed { .. }) => {
                        report.skipped += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                match level {
                    Alarm::Yellow => report.yellow += 1,
                    Alarm::Red => report.red += 1,
                    Alarm::Green => {}
                }
                if lift.is_some() {
                    report.escalated += 1;
                }
            }
        }
        Ok(true)
    }
}
