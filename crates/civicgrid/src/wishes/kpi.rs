//! Small wishes as a source of assessment figures (see `crate::assessment::sources`): each
//! wish counts on the day it was posted, to its community and its grid — posted (unless
//! withdrawn), escalated for want of a taker, fulfilled (confirmed by the resident) and the
//! minutes from posting to confirmation.

use std::collections::BTreeMap;

use civicgrid_domain::kpi::{Counters, Period, Subject};
use civicgrid_domain::territory::RegionCode;
use civicgrid_domain::wish::WishStatus;
use civicgrid_store::{KpiEntry, WISH_SOURCE, WishRecord};

use crate::App;
use crate::assessment::sources::KpiSource;
use crate::error::AppResult;

pub const SOURCE: KpiSource = KpiSource {
    name: WISH_SOURCE,
    contributions: |app, id| Box::pin(app.wish_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_wishes(scope, period)),
};

fn wish_counters(w: &WishRecord) -> Vec<(Subject, Counters)> {
    if w.status == WishStatus::Withdrawn {
        return vec![];
    }
    let fulfilled = w.status == WishStatus::Fulfilled;
    let c = Counters {
        wishes_posted: 1,
        wishes_escalated: u64::from(w.escalated),
        wishes_fulfilled: u64::from(fulfilled),
        wish_fulfil_minutes: match (fulfilled, w.fulfilled_at) {
            (true, Some(at)) => {
                u64::try_from(at.duration_since(w.posted_at).as_secs() / 60).unwrap_or(0)
            }
            _ => 0,
        },
        ..Counters::default()
    };
    let mut out = vec![(Subject::Region(w.region.to_string()), c.clone())];
    if let Some(g) = &w.grid {
        out.push((Subject::Grid(g.to_string()), c));
    }
    out
}

impl App {
    async fn wish_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(w) = self.repo.wish(&id).await? else {
            return Ok(vec![]);
        };
        let day = self.local_day(w.posted_at).await?.to_string();
        Ok(wish_counters(&w)
            .into_iter()
            .map(|(subject, counters)| KpiEntry {
                region: w.region.to_string(),
                subject,
                day: day.clone(),
                counters,
            })
            .collect())
    }

    async fn recount_wishes(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        // Newest first, at most this many: a community posts far fewer in any period.
        for w in self.repo.wishes(scope, &[], 100_000).await? {
            let day = self.local_day(w.posted_at).await?;
            if day < period.start || day >= period.end {
                continue;
            }
            for (subject, c) in wish_counters(&w) {
                *out.entry(subject).or_default() += &c;
            }
        }
        Ok(out)
    }
}
