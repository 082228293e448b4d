//! Consultation's deadlines: qualified topics warned yellow and red as their agenda deadline
//! nears and passes (as cases are), units' summonses recorded as missed, and results queued
//! daily for the assessment (a linked case closing or a deadline passing changes them).

use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::case::deadline::{Alarm, alarm};

use super::{AGENDA_WARN_AT, event};
use crate::App;
use crate::error::AppResult;
use crate::jobs::{Cadence, Job};

pub const DEADLINES: Job = Job {
    name: "consultation deadlines",
    cadence: Cadence::Round,
    run: |app| {
        Box::pin(async move {
            let warned = app.warn_agenda_deadlines().await?;
            let missed = app.record_missed_summons().await?;
            Ok((warned + missed) as u64)
        })
    },
};

pub const RESULTS: Job = Job {
    name: "result progress",
    cadence: Cadence::Daily,
    run: |app| Box::pin(async move { Ok(app.repo.mark_open_results().await?) }),
};

fn level(a: Alarm) -> Option<&'static str> {
    match a {
        Alarm::Green => None,
        Alarm::Yellow => Some("yellow"),
        Alarm::Red => Some("red"),
    }
}

impl App {
    /// Raises the yellow or red warning of qualified topics awaiting an agenda, each once.
    pub async fn warn_agenda_deadlines(&self) -> AppResult<usize> {
        let reference = self.reference().await?;
        let now = self.clock.now();
        let mut n = 0;
        for t in self.repo.topics_awaiting_agenda(1000).await? {
            let Some(due) = t.agenda_due else { continue };
            let (_, days) = self.consultation_rule(&t.region).await?;
            let limit = TimeLimit {
                clock: ClockType::WorkingDays,
                amount: days,
            };
            let Some(raised) = level(alarm(
                &reference.calendar,
                limit,
                &[],
                due,
                now,
                AGENDA_WARN_AT,
            )) else {
                continue;
            };
            if t.alarm.as_deref() == Some(raised) || (t.alarm.as_deref() == Some("red")) {
                continue;
            }
            let mut changed = t.clone();
            changed.alarm = Some(raised.to_owned());
            match self
                .repo
                .update_topic(
                    &changed,
                    t.version,
                    &event(now, "system", "raise_alarm", raised),
                )
                .await
            {
                // Scheduled or supported meanwhile: the next round looks again.
                Err(civicgrid_store::StoreError::Stale { .. }) => {}
                other => {
                    other?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}
