//! Volunteer hours as a source of assessment figures (see `crate::assessment::sources`): an
//! approved ledger entry counts its minutes on the day served, to the community where the
//! service took place. Pending and declined entries count nothing.

use std::collections::BTreeMap;

use civicgrid_domain::kpi::{Counters, Period, Subject};
use civicgrid_domain::territory::RegionCode;
use civicgrid_domain::volunteer::HoursStatus;
use civicgrid_store::{HOURS_SOURCE, HoursRecord, KpiEntry};

use crate::App;
use crate::assessment::sources::KpiSource;
use crate::error::AppResult;

pub const SOURCE: KpiSource = KpiSource {
    name: HOURS_SOURCE,
    contributions: |app, id| Box::pin(app.hours_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_hours(scope, period)),
};

fn counters(e: &HoursRecord) -> Option<(Subject, Counters)> {
    (e.status == HoursStatus::Approved).then(|| {
        (
            Subject::Region(e.region.to_string()),
            Counters {
                volunteer_minutes: u64::from(e.minutes),
                ..Counters::default()
            },
        )
    })
}

impl App {
    async fn hours_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(e) = self.repo.hours_entry(&id).await? else {
            return Ok(vec![]);
        };
        Ok(counters(&e)
            .into_iter()
            .map(|(subject, counters)| KpiEntry {
                region: e.region.to_string(),
                subject,
                day: e.day.to_string(),
                counters,
            })
            .collect())
    }

    async fn recount_hours(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for e in self
            .repo
            .hours_in(scope, Some(HoursStatus::Approved), u32::MAX)
            .await?
        {
            if e.day < period.start || e.day >= period.end {
                continue;
            }
            if let Some((subject, c)) = counters(&e) {
                *out.entry(subject).or_default() += &c;
            }
        }
        Ok(out)
    }
}
