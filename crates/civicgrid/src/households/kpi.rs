//! Household contacts as a source of assessment figures (see `crate::assessment::sources`):
//! a household's contribution is one count per contact window of its interval that ended
//! since it was given to its contact (`contacts_due`), and one more where a visit fell in the
//! window (`contacts_made`), on the window's last day, to its contact, its grid and its
//! community. Windows end with the days, so the daily job queues every assigned household.

use std::collections::BTreeMap;

use civicgrid_domain::household::windows;
use civicgrid_domain::kpi::{Counters, Period, Subject};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{HOUSEHOLD_SOURCE, HouseholdRecord, KpiEntry};
use jiff::civil::Date;

use crate::App;
use crate::assessment::sources::KpiSource;
use crate::error::AppResult;

pub const SOURCE: KpiSource = KpiSource {
    name: HOUSEHOLD_SOURCE,
    contributions: |app, id| Box::pin(app.household_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_households(scope, period)),
};

/// Each window's counters as (day, subject, counters).
fn household_windows(
    h: &HouseholdRecord,
    interval: u32,
    visits: &[Date],
    today: Date,
) -> Vec<(Date, Subject, Counters)> {
    let (Some(assignee), Some(on)) = (&h.assignee, h.assigned_on) else {
        return vec![];
    };
    let mut out = Vec::new();
    for w in windows(interval, on, visits, today) {
        let c = Counters {
            contacts_due: 1,
            contacts_made: u64::from(w.covered),
            ..Counters::default()
        };
        for subject in [
            Subject::Staff(assignee.clone()),
            Subject::Grid(h.grid.to_string()),
            Subject::Region(h.region.to_string()),
        ] {
            out.push((w.last_day(), subject, c.clone()));
        }
    }
    out
}

impl App {
    async fn household_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(h) = self.repo.household(&id).await? else {
            return Ok(vec![]);
        };
        let interval = self.intervals().await?(&h.grid);
        let visits: Vec<Date> = self
            .repo
            .visits_of(&id)
            .await?
            .iter()
            .map(|v| v.day)
            .collect();
        let today = self.local_day(self.clock.now()).await?;
        // Entries are per (subject, day): windows never share a last day, so no merging.
        Ok(household_windows(&h, interval, &visits, today)
            .into_iter()
            .map(|(day, subject, counters)| KpiEntry {
                region: h.region.to_string(),
                subject,
                day: day.to_string(),
                counters,
            })
            .collect())
    }

    /// Every household in `scope`, from scratch: windows whose last day lies in the period.
    async fn recount_households(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let interval = self.intervals().await?;
        let today = self.local_day(self.clock.now()).await?;
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for h in self.repo.households(Some(scope), None).await? {
            if h.assignee.is_none() {
                continue;
            }
            let visits: Vec<Date> = self
                .repo
                .visits_of(&h.id)
                .await?
                .iter()
                .map(|v| v.day)
                .collect();
            for (day, subject, c) in household_windows(&h, interval(&h.grid), &visits, today) {
                if day >= period.start && day < period.end {
                    *out.entry(subject).or_default() += &c;
                }
            }
        }
        Ok(out)
    }
}
