//! Cases as a source of assessment figures (see `crate::assessment::sources`): a case's
//! contribution is a function of its events (and its repeat flag); the recount reads every
//! case of a scope and period from scratch.

use std::collections::{BTreeMap, HashMap};

use civicgrid_domain::case::Case;
use civicgrid_domain::kpi::{CaseMeta, Counters, Period, Subject, contributions};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{CaseEvent, CaseFilter, KpiEntry};
use jiff::Timestamp;

use crate::App;
use crate::assessment::sources::KpiSource;
use crate::assessment::steps_of;
use crate::error::{AppError, AppResult};

/// Cases count under the source name the case-event trigger queues them with.
pub const SOURCE: KpiSource = KpiSource {
    name: "case",
    contributions: |app, id| Box::pin(app.case_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_cases(scope, period)),
};

impl App {
    /// What the case gives each subject now; nothing once it is gone.
    async fn case_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let reference = self.reference().await?;
        let tz = reference.calendar.time_zone().clone();
        Ok(match self.repo.case(&id).await? {
            Some(case) => {
                let events = self.repo.case_events(&id).await?;
                let repeat = self.is_repeat(&case).await?;
                let day = case.reported_at.to_zoned(tz.clone()).date().to_string();
                let meta = CaseMeta {
                    channel: case.channel,
                    category: case.category.as_ref(),
                    grid: case.grid.as_ref(),
                    region: &case.region,
                    repeat,
                };
                contributions(&meta, &steps_of(&events), &reference.calendar)
                    .into_iter()
                    .map(|(subject, counters)| civicgrid_store::KpiEntry {
                        region: case.region.to_string(),
                        subject,
                        day: day.clone(),
                        counters,
                    })
                    .collect()
            }
            None => vec![],
        })
    }

    /// A repeat (重复件): an earlier case — by report time, then id — of the same category in
    /// the same grid, reported at most 30 days before.
    async fn is_repeat(&self, case: &Case) -> AppResult<bool> {
        let (Some(category), Some(grid)) = (&case.category, &case.grid) else {
            return Ok(false);
        };
        let earlier = self
            .list_cases(&CaseFilter {
                grid: Some(grid.to_string()),
                category: Some(category.to_string()),
                reported_from: Some(case.reported_at - jiff::SignedDuration::from_hours(24 * 30)),
                reported_to: Some(case.reported_at + jiff::SignedDuration::from_micros(1)),
                limit: 1000,
                ..CaseFilter::default()
            })
            .await?;
        Ok(earlier
            .iter()
            .any(|c| (c.reported_at, c.id) < (case.reported_at, case.id)))
    }

    /// Every case reported in [from, to) within `scope`, with its events.
    async fn cases_with_events(
        &self,
        scope: &RegionCode,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<Vec<(Case, Vec<CaseEvent>)>> {
        let (cases, _) = self
            .cases_matching(
                &CaseFilter {
                    within: Some(scope.clone()),
                    reported_from: Some(from),
                    reported_to: Some(to),
                    ..CaseFilter::default()
                },
                usize::MAX,
            )
            .await?;
        let mut out = Vec::with_capacity(cases.len());
        for c in cases {
            let events = self.repo.case_events(&c.id).await?;
            out.push((c, events));
        }
        Ok(out)
    }

    /// The counters of every subject for cases in `scope` reported in `period`, recounted
    /// from the events (the check on the rollups).
    async fn recount_cases(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let reference = self.reference().await?;
        let tz = reference.calendar.time_zone().clone();
        let at = |d: jiff::civil::Date| {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp())
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        let (from, to) = (at(period.start)?, at(period.end)?);
        // A repeat (重复件) is a case whose category and grid match a case reported in the 30
        // days before it; look back that far.
        let lookback = from - jiff::SignedDuration::from_hours(24 * 30);
        let mut cases = self.cases_with_events(scope, lookback, to).await?;
        cases.sort_by_key(|(c, _)| (c.reported_at, c.id));
        let mut last_seen: HashMap<(String, String), Timestamp> = HashMap::new();
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for (case, events) in &cases {
            let key = (
                case.category
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                case.grid
                    .as_ref()
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
            );
            let repeat = !key.0.is_empty()
                && !key.1.is_empty()
                && last_seen.get(&key).is_some_and(|t| {
                    case.reported_at.duration_since(*t) <= jiff::SignedDuration::from_hours(24 * 30)
                });
            last_seen.insert(key, case.reported_at);
            if case.reported_at < from {
                continue;
            }
            let steps = steps_of(events);
            let meta = CaseMeta {
                channel: case.channel,
                category: case.category.as_ref(),
                grid: case.grid.as_ref(),
                region: &case.region,
                repeat,
            };
            for (subject, counters) in contributions(&meta, &steps, &reference.calendar) {
                *out.entry(subject).or_default() += &counters;
            }
        }
        Ok(out)
    }
}
