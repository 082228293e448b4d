//! Disputes as a source of assessment figures (see `crate::assessment::sources`), counted to
//! the dispute's community and grid: raised (and repeats between the same parties) on the
//! day raised; the outcome on the day of the outcome (agreed, where, or failed, and whether
//! it stayed within the street), with the days it took; the follow-up's verdict on the day of
//! the visit that gave it.

use std::collections::BTreeMap;

use civicgrid_domain::dispute::{DisputeStatus, Tier};
use civicgrid_domain::kpi::{Counters, Period, Subject, day_bucket};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{DISPUTE_SOURCE, DisputeRecord, KpiEntry};

use crate::App;
use crate::assessment::sources::KpiSource;
use crate::error::AppResult;

pub const SOURCE: KpiSource = KpiSource {
    name: DISPUTE_SOURCE,
    contributions: |app, id| Box::pin(app.dispute_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_disputes(scope, period)),
};

/// What a dispute counts, each on its day.
pub fn dispute_counters(d: &DisputeRecord) -> Vec<(jiff::Timestamp, Counters)> {
    let mut out = vec![(
        d.raised_at,
        Counters {
            disputes_raised: 1,
            repeat_disputes: u64::from(d.repeat),
            ..Counters::default()
        },
    )];
    let s = &d.state;
    let concluded = matches!(
        s.status,
        DisputeStatus::Agreed
            | DisputeStatus::NotPerformed
            | DisputeStatus::Settled
            | DisputeStatus::Failed
    );
    if let (true, Some(at)) = (concluded, d.outcome_at) {
        let agreed = s.status != DisputeStatus::Failed && s.agreed_tier.is_some();
        let days = u64::try_from(at.duration_since(d.raised_at).as_secs() / 86_400).unwrap_or(0);
        let mut c = Counters {
            disputes_concluded: 1,
            disputes_agreed: u64::from(agreed),
            agreed_at_grid: u64::from(agreed && s.agreed_tier == Some(Tier::Grid)),
            agreed_within_community: u64::from(
                agreed && s.agreed_tier.is_some_and(|t| t <= Tier::Community),
            ),
            concluded_within_street: u64::from(s.highest_tier <= Tier::Street),
            ..Counters::default()
        };
        c.mediation_days_histogram[day_bucket(days)] = 1;
        out.push((at, c));
    }
    // The follow-up's verdict: carried out (settled), or found not carried out.
    let verdict = d
        .follow_ups
        .iter()
        .filter(|f| f.done_at.is_some())
        .find(|f| f.performed == Some(false))
        .or_else(|| {
            (s.status == DisputeStatus::Settled)
                .then(|| d.follow_ups.iter().rev().find(|f| f.done_at.is_some()))
                .flatten()
        });
    if let Some(f) = verdict
        && let Some(at) = f.done_at
    {
        out.push((
            at,
            Counters {
                agreements_followed: 1,
                agreements_performed: u64::from(f.performed == Some(true)),
                ..Counters::default()
            },
        ));
    }
    out
}

fn subjects(d: &DisputeRecord) -> Vec<Subject> {
    let mut out = vec![Subject::Region(d.region.to_string())];
    if let Some(g) = &d.grid {
        out.push(Subject::Grid(g.to_string()));
    }
    out
}

impl App {
    async fn dispute_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(d) = self.repo.dispute(&id).await? else {
            return Ok(vec![]);
        };
        // One entry per subject and day: what falls on the same day adds up.
        let mut by_day: BTreeMap<(String, Subject), Counters> = BTreeMap::new();
        for (at, c) in dispute_counters(&d) {
            let day = self.local_day(at).await?.to_string();
            for subject in subjects(&d) {
                *by_day.entry((day.clone(), subject)).or_default() += &c;
            }
        }
        Ok(by_day
            .into_iter()
            .map(|((day, subject), counters)| KpiEntry {
                region: d.region.to_string(),
                subject,
                day,
                counters,
            })
            .collect())
    }

    async fn recount_disputes(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for d in self.repo.disputes(scope.as_str(), false, 100_000).await? {
            for (at, c) in dispute_counters(&d) {
                let day = self.local_day(at).await?;
                if day < period.start || day >= period.end {
                    continue;
                }
                for subject in subjects(&d) {
                    *out.entry(subject).or_default() += &c;
                }
            }
        }
        Ok(out)
    }
}
