//! Consultation as sources of assessment figures (see `crate::assessment::sources`):
//! topics by the day of their agenda deadline, meetings by their day (attendance, and units'
//! summonses, also counted to each unit), results by the day decided (executed on time),
//! polls by their closing day (households voting).

use std::collections::BTreeMap;

use civicgrid_domain::consultation::{InviteeKind, TopicStatus, agenda_kept, answered_on_time};
use civicgrid_domain::kpi::{Counters, Period, Subject};
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_store::{
    InviteeRecord, KpiEntry, MEETING_SOURCE, MeetingRecord, POLL_SOURCE, RESULT_SOURCE,
    TOPIC_SOURCE, TopicRecord,
};

use super::ResultProgress;
use crate::App;
use crate::assessment::sources::KpiSource;
use crate::error::AppResult;

pub const TOPICS: KpiSource = KpiSource {
    name: TOPIC_SOURCE,
    contributions: |app, id| Box::pin(app.topic_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_topics(scope, period)),
};
pub const MEETINGS: KpiSource = KpiSource {
    name: MEETING_SOURCE,
    contributions: |app, id| Box::pin(app.meeting_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_meetings(scope, period)),
};
pub const RESULTS: KpiSource = KpiSource {
    name: RESULT_SOURCE,
    contributions: |app, id| Box::pin(app.result_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_results(scope, period)),
};
pub const POLLS: KpiSource = KpiSource {
    name: POLL_SOURCE,
    contributions: |app, id| Box::pin(app.poll_contributions(id)),
    recount: |app, scope, period| Box::pin(app.recount_polls(scope, period)),
};

/// The region and, if any, the grid a record counts to.
fn places(region: &RegionCode, grid: Option<&GridCode>, c: Counters) -> Vec<(Subject, Counters)> {
    let mut out = vec![(Subject::Region(region.to_string()), c.clone())];
    if let Some(g) = grid {
        out.push((Subject::Grid(g.to_string()), c));
    }
    out
}

/// A qualified topic counts once its deadline passed or it reached an agenda.
fn topic_counters(t: &TopicRecord, now: jiff::Timestamp) -> Option<(jiff::Timestamp, Counters)> {
    let due = t.agenda_due?;
    if t.status == TopicStatus::Withdrawn || (t.scheduled_at.is_none() && now < due) {
        return None;
    }
    let c = Counters {
        topics_due: 1,
        topics_on_time: u64::from(agenda_kept(Some(due), t.scheduled_at)),
        ..Counters::default()
    };
    Some((due, c))
}

fn summons_counted(i: &InviteeRecord, now: jiff::Timestamp) -> bool {
    i.kind == InviteeKind::Unit && (i.answered_at.is_some() || now >= i.answer_due)
}

fn meeting_counters(
    m: &MeetingRecord,
    invitees: &[InviteeRecord],
    now: jiff::Timestamp,
) -> Vec<(Subject, Counters)> {
    if m.status == "cancelled" {
        return vec![];
    }
    let mut c = Counters {
        invitations: invitees.len() as u64,
        attendances: invitees.iter().filter(|i| i.attended_at.is_some()).count() as u64,
        ..Counters::default()
    };
    let mut out = Vec::new();
    for i in invitees.iter().filter(|i| summons_counted(i, now)) {
        let on_time = u64::from(answered_on_time(i.answer_due, i.answered_at));
        c.summons += 1;
        c.summons_on_time += on_time;
        out.push((
            Subject::Unit(i.reference.clone()),
            Counters {
                summons: 1,
                summons_on_time: on_time,
                ..Counters::default()
            },
        ));
    }
    out.extend(places(&m.region, m.grid.as_ref(), c));
    out
}

fn result_counters(rp: &ResultProgress) -> Vec<(Subject, Counters)> {
    let p = rp.progress;
    let complete = p.total > 0 && p.done == p.total;
    if !(complete || p.overdue > 0) {
        return vec![];
    }
    let c = Counters {
        decisions_due: 1,
        decisions_on_time: u64::from(complete && p.done_on_time == p.total),
        ..Counters::default()
    };
    places(&rp.result.region, rp.result.grid.as_ref(), c)
}

impl App {
    async fn entries(
        &self,
        region: &RegionCode,
        at: jiff::Timestamp,
        counted: Vec<(Subject, Counters)>,
    ) -> AppResult<Vec<KpiEntry>> {
        let day = self.local_day(at).await?.to_string();
        Ok(counted
            .into_iter()
            .map(|(subject, counters)| KpiEntry {
                region: region.to_string(),
                subject,
                day: day.clone(),
                counters,
            })
            .collect())
    }

    async fn in_period(&self, at: jiff::Timestamp, period: &Period) -> AppResult<bool> {
        let day = self.local_day(at).await?;
        Ok(day >= period.start && day < period.end)
    }

    async fn topic_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(t) = self.repo.topic(&id).await? else {
            // An opinion's events are queued under the topic source too: they count nothing.
            return Ok(vec![]);
        };
        match topic_counters(&t, self.clock.now()) {
            Some((due, c)) => {
                self.entries(&t.region, due, places(&t.region, t.grid.as_ref(), c))
                    .await
            }
            None => Ok(vec![]),
        }
    }

    async fn recount_topics(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        let now = self.clock.now();
        for t in self.repo.topics(scope, &[], 100_000).await? {
            if let Some((due, c)) = topic_counters(&t, now)
                && self.in_period(due, period).await?
            {
                for (s, c) in places(&t.region, t.grid.as_ref(), c) {
                    *out.entry(s).or_default() += &c;
                }
            }
        }
        Ok(out)
    }

    async fn meeting_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(m) = self.repo.meeting(&id).await? else {
            return Ok(vec![]);
        };
        let invitees = self.repo.invitees(&m.id).await?;
        let counted = meeting_counters(&m, &invitees, self.clock.now());
        self.entries(&m.region, m.starts_at, counted).await
    }

    async fn recount_meetings(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        let now = self.clock.now();
        for m in self.repo.meetings(scope, 100_000).await? {
            if !self.in_period(m.starts_at, period).await? {
                continue;
            }
            let invitees = self.repo.invitees(&m.id).await?;
            for (s, c) in meeting_counters(&m, &invitees, now) {
                *out.entry(s).or_default() += &c;
            }
        }
        Ok(out)
    }

    async fn result_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(r) = self.repo.result(&id).await? else {
            return Ok(vec![]);
        };
        let work = self.repo.result_work(&r.id).await?;
        let rp = self.result_progress(r, work).await?;
        let counted = result_counters(&rp);
        self.entries(&rp.result.region, rp.result.decided_at, counted)
            .await
    }

    async fn recount_results(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for (r, w) in self.repo.results(scope, 100_000).await? {
            if !self.in_period(r.decided_at, period).await? {
                continue;
            }
            let rp = self.result_progress(r, w).await?;
            for (s, c) in result_counters(&rp) {
                *out.entry(s).or_default() += &c;
            }
        }
        Ok(out)
    }

    async fn poll_counters(
        &self,
        p: &civicgrid_store::PollRecord,
    ) -> AppResult<Vec<(Subject, Counters)>> {
        let count = self.repo.poll_count(&p.id).await?;
        Ok(places(
            &p.region,
            None,
            Counters {
                households_polled: count.codes,
                households_voted: count.voted,
                ..Counters::default()
            },
        ))
    }

    async fn poll_contributions(&self, id: uuid::Uuid) -> AppResult<Vec<KpiEntry>> {
        let Some(p) = self.repo.poll(&id).await? else {
            return Ok(vec![]);
        };
        let counted = self.poll_counters(&p).await?;
        self.entries(&p.region, p.closes_at, counted).await
    }

    async fn recount_polls(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for p in self.repo.polls(scope, 100_000).await? {
            if !self.in_period(p.closes_at, period).await? {
                continue;
            }
            for (s, c) in self.poll_counters(&p).await? {
                *out.entry(s).or_default() += &c;
            }
        }
        Ok(out)
    }
}
