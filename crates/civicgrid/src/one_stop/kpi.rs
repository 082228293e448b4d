//! Service applications as a source of assessment figures (see
//! `crate::assessment::sources`), counted to the unit holding the application and to the
//! applicant's community: done on the day done (on time, and without any correction:
//! 一次办成), and the evaluation on the day given (好评 or not).

use std::collections::BTreeMap;

use civicgrid_domain::application::ApplicationStatus;
use civicgrid_domain::kpi::{Counters, Period, Subject};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{APPLICATION_SOURCE, ApplicationRecord, KpiEntry};

use crate::App;
use crate::assessment::sources::KpiSource;
use crate::error::AppResult;

pub const SOURCE: KpiSource = KpiSource {
    name: APPLICATION_SOURCE,
    contributions: |app, id| Box::pin(app.application_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_applications(scope, period)),
};

/// What an application counts, each on its day.
pub fn application_counters(a: &ApplicationRecord) -> Vec<(jiff::Timestamp, Counters)> {
    let mut out = Vec::new();
    if let (ApplicationStatus::Done, Some(done)) = (a.state.status, a.done_at) {
        out.push((
            done,
            Counters {
                applications_done: 1,
                applications_on_time: u64::from(a.due.is_some_and(|due| done <= due)),
                applications_first_time: u64::from(a.state.corrections == 0),
                ..Counters::default()
            },
        ));
    }
    if let (Some(rating), Some(at)) = (a.state.rating, a.evaluated_at) {
        out.push((
            at,
            Counters {
                applications_evaluated: 1,
                applications_satisfied: u64::from(rating.is_good()),
                ..Counters::default()
            },
        ));
    }
    out
}

fn subjects(a: &ApplicationRecord) -> Vec<Subject> {
    let mut out = vec![
        Subject::Region(a.region.to_string()),
        Subject::Unit(a.state.unit.clone()),
    ];
    if let Some(g) = &a.grid {
        out.push(Subject::Grid(g.to_string()));
    }
    out
}

impl App {
    async fn application_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(a) = self.repo.application(&id).await? else {
            return Ok(vec![]);
        };
        // One entry per subject and day: what falls on the same day adds up.
        let mut by_day: BTreeMap<(String, Subject), Counters> = BTreeMap::new();
        for (at, c) in application_counters(&a) {
            let day = self.local_day(at).await?.to_string();
            for subject in subjects(&a) {
                *by_day.entry((day.clone(), subject)).or_default() += &c;
            }
        }
        Ok(by_day
            .into_iter()
            .map(|((day, subject), counters)| KpiEntry {
                region: a.region.to_string(),
                subject,
                day,
                counters,
            })
            .collect())
    }

    async fn recount_applications(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for a in self
            .repo
            .applications(&[scope.to_string()], &[], 100_000)
            .await?
        {
            for (at, c) in application_counters(&a) {
                let day = self.local_day(at).await?;
                if day < period.start || day >= period.end {
                    continue;
                }
                for subject in subjects(&a) {
                    *out.entry(subject).or_default() += &c;
                }
            }
        }
        Ok(out)
    }
}
