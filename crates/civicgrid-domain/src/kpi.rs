//! Assessment (考核): what each case contributes to each subject's indicators, derived from its
//! events alone, and the indicator formulas over those contributions. Pure.
//!
//! A case's contribution is a set of additive [`Counters`] per [`Subject`], attributed to the
//! day the case was reported. Because counters only add, any scope (a grid, a community, a
//! street, a district) and any period (days summed) is the sum of its parts, which is what
//! lets rollups be kept per day and summed on demand; and a recount from scratch must equal
//! them. The formulas turn summed counters into rates. `docs/KPIS.md` lists them.
//!
//! "On time" for a stage means the stage ended without a red breach (红牌) recorded for it: the
//! deadline sweep records the breach as an event the moment it happens, on the working calendar,
//! with pauses and approved extensions counted, so the events already say who was late.

use std::collections::BTreeMap;
use std::ops::{AddAssign, SubAssign};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calendar::WorkingCalendar;
use crate::case::deadline::Alarm;
use crate::case::{Action, Channel, Satisfaction, Status};
use crate::catalogue::{CategoryCode, Stage};
use crate::territory::{GridCode, RegionCode};

/// Who or what is assessed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Subject {
    /// A unit (department, street office, community committee, utility).
    Unit(String),
    /// A unit grid.
    Grid(String),
    /// The community a case lies in; streets and the district are sums of communities.
    Region(String),
    /// A staff member (grid worker, call-taker, dispatcher, shift leader), by username.
    Staff(String),
}

impl Subject {
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Unit(_) => "unit",
            Subject::Grid(_) => "grid",
            Subject::Region(_) => "region",
            Subject::Staff(_) => "staff",
        }
    }

    /// A subject from its kind (`unit`, `grid`, `region`, `staff`) and code.
    pub fn from_kind(kind: &str, code: String) -> Option<Subject> {
        Some(match kind {
            "unit" => Subject::Unit(code),
            "grid" => Subject::Grid(code),
            "region" => Subject::Region(code),
            "staff" => Subject::Staff(code),
            _ => return None,
        })
    }

    pub fn code(&self) -> &str {
        match self {
            Subject::Unit(c) | Subject::Grid(c) | Subject::Region(c) | Subject::Staff(c) => c,
        }
    }
}

/// Handling times are kept as a histogram of working minutes, so that p90 is additive too:
/// bucket `i` holds times in [BUCKETS[i-1], BUCKETS[i]) minutes; the last is open-ended.
pub const BUCKETS: [u64; 16] = [
    30,
    60,
    120,
    240,
    480,
    960,
    1440,
    2400,
    3600,
    4800,
    7200,
    9600,
    14400,
    19200,
    28800,
    u64::MAX,
];

/// Additive counts one record (a case, a household, a wish, an hours entry) contributes to one
/// subject. Field names are the indicators' terms in `docs/KPIS.md`. Counters kept before a
/// field existed read it as zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Cases reported (grids, regions).
    pub reported: u64,
    /// …of which by residents (web, Open311, hotline, import) and by patrol.
    pub from_residents: u64,
    pub from_patrol: u64,
    /// Cases someone responded to (accepted, refused, resolved on site, merged) and those
    /// without a red breach of the accept stage.
    pub responded: u64,
    pub responded_on_time: u64,
    /// Cases taken on (not refused, voided or merged).
    pub taken_on: u64,
    /// Units: cases dispatched or transferred to the unit, and those it led (first named).
    pub received: u64,
    pub led: u64,
    /// Units: cases the unit reported back on; on time = no red breach of the handle stage.
    pub handled: u64,
    pub handled_on_time: u64,
    /// Units: cases with a red breach of the handle stage while with the unit.
    pub overdue: u64,
    /// Failed checks and reopenings (返工), and cases with at least one.
    pub rework_events: u64,
    pub reworked_cases: u64,
    /// Units: send-backs (退回) by the unit.
    pub sent_back: u64,
    /// Cases closed, and closed without any red breach.
    pub closed: u64,
    pub closed_on_time: u64,
    /// Working minutes from first dispatch to the last report back, summed, counted, and as a
    /// histogram (see [`BUCKETS`]).
    pub handling_minutes: u64,
    pub handling_count: u64,
    pub handling_histogram: [u64; 16],
    /// Evaluations, and those 满意 or 基本满意.
    pub evaluated: u64,
    pub satisfied: u64,
    /// Regions and grids: cases whose category and grid match an earlier open case (重复件).
    pub repeats: u64,
    /// Staff: patrol reports made, and of those taken on (valid).
    pub patrol_reports: u64,
    pub patrol_valid: u64,
    /// Staff: on-site checks made, and without a red breach of the verify stage.
    pub verified: u64,
    pub verified_on_time: u64,
    /// Staff: small matters resolved on the spot (自处置).
    pub resolved_on_site: u64,
    /// Staff: acceptances (受理), on time, and accurate (the case was not refused later or voided).
    pub accepted: u64,
    pub accepted_on_time: u64,
    pub accepted_accurate: u64,
    /// Staff: registrations (立案).
    pub registered: u64,
    /// Staff: dispatches, on time, and accurate (the unit did not send it back, nor was it
    /// transferred).
    pub dispatched: u64,
    pub dispatched_on_time: u64,
    pub dispatched_accurate: u64,
    /// Staff: cases closed by this person's check.
    pub closed_by: u64,
    /// Household contacts (包片联户): contact windows that ended, and those with a contact
    /// (staff: the assignee; grids; communities), counted on the window's last day.
    pub contacts_due: u64,
    pub contacts_made: u64,
    /// Small wishes (微心愿) posted, fulfilled (confirmed by the resident), escalated for
    /// want of a taker, and the minutes from posting to confirmation, by the day posted.
    pub wishes_posted: u64,
    pub wishes_fulfilled: u64,
    pub wishes_escalated: u64,
    pub wish_fulfil_minutes: u64,
    /// Approved volunteer service minutes, by the day served, where the service took place.
    pub volunteer_minutes: u64,
    /// Consultation (议事协商), by the day of the agenda deadline: qualified topics whose
    /// deadline passed or that reached an agenda, and those that reached it in time.
    pub topics_due: u64,
    pub topics_on_time: u64,
    /// Decisions (results), by the day decided: those whose work is all done or partly
    /// overdue, and those whose work was all done by its deadlines.
    pub decisions_due: u64,
    pub decisions_on_time: u64,
    /// Polls, by the closing day: households given a code, and those that voted.
    pub households_polled: u64,
    pub households_voted: u64,
    /// Meetings, by their day: invitees and those checked in.
    pub invitations: u64,
    pub attendances: u64,
    /// Units summoned to meetings (also counted to each unit), by the meeting's day: summonses
    /// due or answered, and those answered by their deadline.
    pub summons: u64,
    pub summons_on_time: u64,
    /// Disputes raised (by the day raised), and those between parties who had a dispute in
    /// the year before.
    pub disputes_raised: u64,
    pub repeat_disputes: u64,
    /// Disputes that reached an outcome, an agreement or a failure (by the day of it): all
    /// of them; those agreed; agreed at grid tier; agreed at grid or community tier; and
    /// those never escalated beyond the street.
    pub disputes_concluded: u64,
    pub disputes_agreed: u64,
    pub agreed_at_grid: u64,
    pub agreed_within_community: u64,
    pub concluded_within_street: u64,
    /// Agreements whose follow-up ended (carried out, or found not carried out), and those
    /// carried out.
    pub agreements_followed: u64,
    pub agreements_performed: u64,
    /// Days from raising to outcome, as a histogram over [`DAY_BUCKETS`].
    pub mediation_days_histogram: [u64; 16],
    /// Service applications done (by the day done): on time, without any correction, and
    /// their evaluations, good (好评) ones among them.
    pub applications_done: u64,
    pub applications_on_time: u64,
    pub applications_first_time: u64,
    pub applications_evaluated: u64,
    pub applications_satisfied: u64,
}

/// Mediation durations are kept as a histogram of days, so that the median adds up: bucket
/// `i` holds durations up to `DAY_BUCKETS[i]` days.
pub const DAY_BUCKETS: [u64; 16] = [
    1,
    2,
    3,
    5,
    7,
    10,
    14,
    21,
    30,
    45,
    60,
    90,
    120,
    180,
    365,
    u64::MAX,
];

/// The bucket of a duration of `days`.
pub fn day_bucket(days: u64) -> usize {
    DAY_BUCKETS
        .iter()
        .position(|b| days <= *b)
        .unwrap_or(DAY_BUCKETS.len() - 1)
}

/// The p-th percentile of mediation days, as its bucket's upper bound.
pub fn percentile_days(c: &Counters, p: f64) -> Option<u64> {
    let total: u64 = c.mediation_days_histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in c.mediation_days_histogram.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(DAY_BUCKETS[i.min(DAY_BUCKETS.len() - 2)]);
        }
    }
    None
}

impl Counters {
    /// Combines every counter of `self` with the same one of `o`: the one list of fields that
    /// adding and subtracting share.
    fn combine(&mut self, o: &Counters, f: impl Fn(u64, u64) -> u64) {
        macro_rules! each {
            ($($field:ident),*) => { $( self.$field = f(self.$field, o.$field); )* };
        }
        each!(
            reported,
            from_residents,
            from_patrol,
            responded,
            responded_on_time,
            taken_on,
            received,
            led,
            handled,
            handled_on_time,
            overdue,
            rework_events,
            reworked_cases,
            sent_back,
            closed,
            closed_on_time,
            handling_minutes,
            handling_count,
            evaluated,
            satisfied,
            repeats,
            patrol_reports,
            patrol_valid,
            verified,
            verified_on_time,
            resolved_on_site,
            accepted,
            accepted_on_time,
            accepted_accurate,
            registered,
            dispatched,
            dispatched_on_time,
            dispatched_accurate,
            closed_by,
            contacts_due,
            contacts_made,
            wishes_posted,
            wishes_fulfilled,
            wishes_escalated,
            wish_fulfil_minutes,
            volunteer_minutes,
            topics_due,
            topics_on_time,
            decisions_due,
            decisions_on_time,
            households_polled,
            households_voted,
            invitations,
            attendances,
            summons,
            summons_on_time,
            disputes_raised,
            repeat_disputes,
            disputes_concluded,
            disputes_agreed,
            agreed_at_grid,
            agreed_within_community,
            concluded_within_street,
            agreements_followed,
            agreements_performed,
            applications_done,
            applications_on_time,
            applications_first_time,
            applications_evaluated,
            applications_satisfied
        );
        for (a, b) in self
            .handling_histogram
            .iter_mut()
            .zip(o.handling_histogram.iter())
        {
            *a = f(*a, *b);
        }
        for (a, b) in self
            .mediation_days_histogram
            .iter_mut()
            .zip(o.mediation_days_histogram.iter())
        {
            *a = f(*a, *b);
        }
    }
}

impl AddAssign<&Counters> for Counters {
    fn add_assign(&mut self, o: &Counters) {
        self.combine(o, |a, b| a + b);
    }
}

/// Subtracting a contribution that was added before never goes below zero.
impl SubAssign<&Counters> for Counters {
    fn sub_assign(&mut self, o: &Counters) {
        self.combine(o, u64::saturating_sub);
    }
}

impl Counters {
    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }
}

/// One event of a case, as the KPI derivation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Timestamp,
    pub actor: String,
    pub action: Action,
    pub to: Status,
}

/// What the derivation needs to know about the case besides its events.
#[derive(Debug, Clone)]
pub struct CaseMeta<'a> {
    pub channel: Channel,
    pub category: Option<&'a CategoryCode>,
    pub grid: Option<&'a GridCode>,
    pub region: &'a RegionCode,
    /// Whether an open case of the same category in the same grid existed when it was
    /// reported (found by the caller; the events of one case cannot tell).
    pub repeat: bool,
}

fn red(steps: &[Step], stage: Stage) -> bool {
    steps.iter().any(|s| {
        matches!(&s.action, Action::RaiseAlarm { stage: st, level: Alarm::Red } if *st == stage)
    })
}

fn bucket(minutes: u64) -> usize {
    BUCKETS
        .iter()
        .position(|&b| minutes < b)
        .unwrap_or(BUCKETS.len() - 1)
}

/// Everything one case contributes, per subject. The steps are in order; the first is the
/// report, of which only the time and the actor count. Working time uses `calendar`.
pub fn contributions(
    meta: &CaseMeta<'_>,
    steps: &[Step],
    calendar: &WorkingCalendar,
) -> BTreeMap<Subject, Counters> {
    let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
    let Some((report, steps)) = steps.split_first() else {
        return out;
    };
    let refused_or_void = steps
        .iter()
        .any(|s| matches!(s.to, Status::Refused | Status::Voided | Status::Merged));
    let accept_red = red(steps, Stage::Accept);
    let dispatch_red = red(steps, Stage::Dispatch);
    let verify_red = red(steps, Stage::Verify);
    let any_red = steps.iter().any(|s| {
        matches!(
            &s.action,
            Action::RaiseAlarm {
                level: Alarm::Red,
                ..
            }
        )
    });
    let responded = steps.iter().find(|s| {
        matches!(
            s.action,
            Action::Accept
                | Action::Refuse { .. }
                | Action::ResolveOnSite { .. }
                | Action::MergeInto { .. }
        )
    });
    let rework_events = steps
        .iter()
        .filter(|s| {
            matches!(
                s.action,
                Action::Verify { passed: false, .. } | Action::Reopen { .. }
            )
        })
        .count() as u64;
    let closed = steps.iter().any(|s| s.to == Status::Closed);
    let satisfaction = steps.iter().rev().find_map(|s| match &s.action {
        Action::Evaluate { satisfaction, .. } => Some(*satisfaction),
        _ => None,
    });
    let first_dispatch = steps
        .iter()
        .find(|s| matches!(s.action, Action::Dispatch { .. }))
        .map(|s| s.at);
    let last_report_back = steps
        .iter()
        .rev()
        .find(|s| matches!(s.action, Action::ReportBack { .. }))
        .map(|s| s.at);
    let handling_minutes = match (first_dispatch, last_report_back) {
        (Some(a), Some(b)) if b >= a => {
            Some(calendar.working_time_between(a, b).as_secs().max(0) as u64 / 60)
        }
        _ => None,
    };

    // The place: grid and community.
    let mut place = Counters {
        reported: 1,
        from_residents: u64::from(meta.channel != Channel::Patrol),
        from_patrol: u64::from(meta.channel == Channel::Patrol),
        responded: u64::from(responded.is_some()),
        responded_on_time: u64::from(responded.is_some() && !accept_red),
        taken_on: u64::from(!refused_or_void),
        rework_events,
        reworked_cases: u64::from(rework_events > 0),
        closed: u64::from(closed),
        closed_on_time: u64::from(closed && !any_red),
        evaluated: u64::from(satisfaction.is_some()),
        satisfied: u64::from(matches!(
            satisfaction,
            Some(Satisfaction::Satisfied | Satisfaction::BasicallySatisfied)
        )),
        repeats: u64::from(meta.repeat),
        ..Counters::default()
    };
    if let Some(m) = handling_minutes {
        place.handling_minutes = m;
        place.handling_count = 1;
        place.handling_histogram[bucket(m)] = 1;
    }
    if let Some(g) = meta.grid {
        out.insert(Subject::Grid(g.to_string()), place.clone());
    }
    out.insert(Subject::Region(meta.region.to_string()), place.clone());

    // Units: who received it, who led it when it was reported back or sent back.
    let mut lead: Option<String> = None;
    let mut unit_counters: BTreeMap<String, Counters> = BTreeMap::new();
    let mut handled_by: Vec<String> = Vec::new();
    // Units that acted while leading, and units leading when a handling breach was recorded.
    let mut acted: Vec<String> = Vec::new();
    let mut late: Vec<String> = Vec::new();
    for s in steps {
        if let (
            Some(u),
            Action::StartHandling
            | Action::ReportBack { .. }
            | Action::SendBack { .. }
            | Action::Transfer { .. },
        ) = (&lead, &s.action)
            && !acted.contains(u)
        {
            acted.push(u.clone());
        }
        match &s.action {
            Action::Dispatch { units } | Action::Transfer { units, .. } => {
                for u in units {
                    unit_counters.entry(u.clone()).or_default().received = 1;
                }
                lead = units.first().cloned();
                if let Some(u) = &lead {
                    unit_counters.entry(u.clone()).or_default().led = 1;
                }
            }
            Action::RaiseAlarm {
                stage: Stage::Handle,
                level: Alarm::Red,
            } => {
                if let Some(u) = &lead
                    && !late.contains(u)
                {
                    late.push(u.clone());
                }
            }
            Action::ReportBack { .. } => {
                if let Some(u) = &lead
                    && !handled_by.contains(u)
                {
                    handled_by.push(u.clone());
                }
            }
            Action::SendBack { .. } => {
                if let Some(u) = &lead {
                    unit_counters.entry(u.clone()).or_default().sent_back += 1;
                }
                lead = None;
            }
            _ => {}
        }
    }
    // Each unit answers for its own lateness; the unit that led at the end answers for the
    // case's outcome.
    for (u, c) in &mut unit_counters {
        let handled = handled_by.contains(u);
        let was_late = late.contains(u);
        let answers = lead.as_deref() == Some(u.as_str());
        c.handled = u64::from(handled);
        c.handled_on_time = u64::from(handled && !was_late);
        c.overdue = u64::from(was_late);
        c.responded = u64::from(acted.contains(u));
        c.responded_on_time = u64::from(acted.contains(u) && !was_late);
        if answers {
            c.taken_on = u64::from(!refused_or_void);
            c.rework_events = rework_events;
            c.reworked_cases = u64::from(rework_events > 0);
            c.closed = u64::from(closed);
            c.closed_on_time = u64::from(closed && !any_red);
            c.evaluated = u64::from(satisfaction.is_some());
            c.satisfied = place.satisfied;
            if let Some(m) = handling_minutes {
                c.handling_minutes = m;
                c.handling_count = 1;
                c.handling_histogram[bucket(m)] = 1;
            }
        }
    }
    for (u, c) in unit_counters {
        out.insert(Subject::Unit(u), c);
    }

    // Staff: what each person did to it.
    let later_refused = steps
        .iter()
        .any(|s| matches!(s.action, Action::Refuse { .. }) || s.to == Status::Voided);
    let sent_back_or_transferred = steps
        .iter()
        .any(|s| matches!(s.action, Action::SendBack { .. } | Action::Transfer { .. }));
    fn staff<'m>(out: &'m mut BTreeMap<Subject, Counters>, name: &str) -> &'m mut Counters {
        out.entry(Subject::Staff(name.to_owned())).or_default()
    }
    if meta.channel == Channel::Patrol && report.actor != "resident" && report.actor != "system" {
        let c = staff(&mut out, &report.actor);
        c.patrol_reports += 1;
        c.patrol_valid += u64::from(!refused_or_void);
    }
    for s in steps {
        if s.actor == "system" || s.actor == "resident" {
            continue;
        }
        match &s.action {
            Action::Accept => {
                let c = staff(&mut out, &s.actor);
                c.accepted += 1;
                c.accepted_on_time += u64::from(!accept_red);
                c.accepted_accurate += u64::from(!later_refused);
            }
            Action::Register => staff(&mut out, &s.actor).registered += 1,
            Action::Dispatch { .. } => {
                let c = staff(&mut out, &s.actor);
                c.dispatched += 1;
                c.dispatched_on_time += u64::from(!dispatch_red);
                c.dispatched_accurate += u64::from(!sent_back_or_transferred);
            }
            Action::Verify { passed, .. } => {
                let c = staff(&mut out, &s.actor);
                c.verified += 1;
                c.verified_on_time += u64::from(!verify_red);
                c.closed_by += u64::from(*passed);
            }
            Action::ResolveOnSite { .. } => {
                let c = staff(&mut out, &s.actor);
                c.resolved_on_site += 1;
                c.closed_by += 1;
            }
            _ => {}
        }
    }
    out
}

/// An indicator's value: a rate, a count or a duration.
pub fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The p-th percentile (0..=1) of handling time in working minutes, as the upper bound of
/// the histogram bucket it falls in (None without handled cases).
pub fn percentile_minutes(c: &Counters, p: f64) -> Option<u64> {
    let total: u64 = c.handling_histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * p).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in c.handling_histogram.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(BUCKETS[i.min(BUCKETS.len() - 2)]);
        }
    }
    None
}

/// The indicators of one subject over a scope and period, from its summed counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicators {
    pub counters: Counters,
    /// 响应率: responded on time ÷ reported (places) or led (units).
    pub response_rate: Option<f64>,
    /// 解决率: closed ÷ taken on.
    pub resolution_rate: Option<f64>,
    /// 满意率: (满意 + 基本满意) ÷ evaluated.
    pub satisfaction_rate: Option<f64>,
    pub on_time_handling_rate: Option<f64>,
    pub rework_rate: Option<f64>,
    pub send_back_rate: Option<f64>,
    pub closure_rate: Option<f64>,
    pub on_time_closure_rate: Option<f64>,
    pub average_handling_minutes: Option<f64>,
    pub p90_handling_minutes: Option<u64>,
    /// 漏报率 proxy: share of reports that came from residents rather than patrol.
    pub resident_share: Option<f64>,
    pub repeat_rate: Option<f64>,
    pub valid_report_rate: Option<f64>,
    pub on_time_verification_rate: Option<f64>,
    pub on_time_acceptance_rate: Option<f64>,
    pub accurate_acceptance_rate: Option<f64>,
    pub on_time_dispatch_rate: Option<f64>,
    pub accurate_dispatch_rate: Option<f64>,
    /// 群众评议: the mean survey rating of a unit, scaled from 1–5 to 0–1 (set by the caller
    /// from the period's surveys; None without responses).
    pub public_evaluation: Option<f64>,
    /// 联户覆盖率: contact windows with a contact ÷ contact windows that ended.
    pub contact_coverage: Option<f64>,
    /// 微心愿实现率: wishes fulfilled ÷ wishes posted.
    pub wish_fulfilment_rate: Option<f64>,
    /// Mean days from posting a wish to the resident's confirmation.
    pub average_wish_days: Option<f64>,
    /// Approved volunteer service hours.
    pub volunteer_hours: Option<f64>,
    /// 议题按时上会率: topics on an agenda by their deadline ÷ topics due.
    pub agenda_on_time_rate: Option<f64>,
    /// 决议按时落实率: decisions whose work was all done on time ÷ decisions due.
    pub decision_on_time_rate: Option<f64>,
    /// 投票参与率: households that voted ÷ households given a code.
    pub vote_participation_rate: Option<f64>,
    /// 到会率: invitees checked in ÷ invitees.
    pub attendance_rate: Option<f64>,
    /// 会商报到及时率: summonses answered by their deadline ÷ summonses due.
    pub summons_answer_rate: Option<f64>,
    /// 小事不出邻里: disputes agreed at grid tier ÷ disputes concluded.
    pub grid_settlement_rate: Option<f64>,
    /// 大事不出社区: disputes agreed at grid or community tier ÷ disputes concluded.
    pub community_settlement_rate: Option<f64>,
    /// 矛盾不上交: disputes concluded without going beyond the street ÷ disputes concluded.
    pub within_street_rate: Option<f64>,
    /// 调解成功率: disputes agreed ÷ disputes concluded.
    pub mediation_success_rate: Option<f64>,
    /// 协议履行率: agreements carried out ÷ agreements whose follow-up ended.
    pub agreement_performance_rate: Option<f64>,
    /// Median days from raising a dispute to its outcome (the bucket's upper bound).
    pub median_mediation_days: Option<u64>,
    /// 重复纠纷率: disputes between parties with one in the year before ÷ disputes raised.
    pub repeat_dispute_rate: Option<f64>,
    /// 按时办结率: applications done by their time limit ÷ applications done.
    pub service_on_time_rate: Option<f64>,
    /// 一次办成率: applications done without any correction ÷ applications done.
    pub first_time_rate: Option<f64>,
    /// 好评率: good evaluations ÷ evaluations.
    pub service_satisfaction_rate: Option<f64>,
}

impl Indicators {
    pub fn of(kind: &str, c: Counters) -> Indicators {
        // Units are measured over the cases they led; places over the cases reported there.
        let base = if kind == "unit" { c.led } else { c.reported };
        Indicators {
            response_rate: ratio(c.responded_on_time, base),
            resolution_rate: ratio(c.closed, c.taken_on),
            satisfaction_rate: ratio(c.satisfied, c.evaluated),
            on_time_handling_rate: ratio(c.handled_on_time, c.handled),
            rework_rate: ratio(
                c.reworked_cases,
                if kind == "unit" {
                    c.handled
                } else {
                    c.taken_on
                },
            ),
            send_back_rate: ratio(c.sent_back, c.led),
            closure_rate: ratio(c.closed, base),
            on_time_closure_rate: ratio(c.closed_on_time, c.closed),
            average_handling_minutes: ratio(c.handling_minutes, c.handling_count),
            p90_handling_minutes: percentile_minutes(&c, 0.9),
            resident_share: ratio(c.from_residents, c.reported),
            repeat_rate: ratio(c.repeats, c.reported),
            valid_report_rate: ratio(c.patrol_valid, c.patrol_reports),
            on_time_verification_rate: ratio(c.verified_on_time, c.verified),
            on_time_acceptance_rate: ratio(c.accepted_on_time, c.accepted),
            accurate_acceptance_rate: ratio(c.accepted_accurate, c.accepted),
            on_time_dispatch_rate: ratio(c.dispatched_on_time, c.dispatched),
            accurate_dispatch_rate: ratio(c.dispatched_accurate, c.dispatched),
            public_evaluation: None,
            contact_coverage: ratio(c.contacts_made, c.contacts_due),
            wish_fulfilment_rate: ratio(c.wishes_fulfilled, c.wishes_posted),
            average_wish_days: ratio(c.wish_fulfil_minutes, c.wishes_fulfilled).map(|m| m / 1440.0),
            volunteer_hours: (c.volunteer_minutes > 0).then(|| c.volunteer_minutes as f64 / 60.0),
            agenda_on_time_rate: ratio(c.topics_on_time, c.topics_due),
            decision_on_time_rate: ratio(c.decisions_on_time, c.decisions_due),
            vote_participation_rate: ratio(c.households_voted, c.households_polled),
            attendance_rate: ratio(c.attendances, c.invitations),
            summons_answer_rate: ratio(c.summons_on_time, c.summons),
            grid_settlement_rate: ratio(c.agreed_at_grid, c.disputes_concluded),
            community_settlement_rate: ratio(c.agreed_within_community, c.disputes_concluded),
            within_street_rate: ratio(c.concluded_within_street, c.disputes_concluded),
            mediation_success_rate: ratio(c.disputes_agreed, c.disputes_concluded),
            agreement_performance_rate: ratio(c.agreements_performed, c.agreements_followed),
            median_mediation_days: percentile_days(&c, 0.5),
            repeat_dispute_rate: ratio(c.repeat_disputes, c.disputes_raised),
            service_on_time_rate: ratio(c.applications_on_time, c.applications_done),
            first_time_rate: ratio(c.applications_first_time, c.applications_done),
            service_satisfaction_rate: ratio(c.applications_satisfied, c.applications_evaluated),
            counters: c,
        }
    }
}

/// A-E from a 0–100 score, with the default bands A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below.
pub fn grade(score: f64, bands: &[(char, f64)]) -> char {
    bands
        .iter()
        .find(|(_, min)| score >= *min)
        .map_or('E', |(g, _)| *g)
}

pub const DEFAULT_BANDS: [(char, f64); 4] = [('A', 90.0), ('B', 75.0), ('C', 60.0), ('D', 40.0)];

/// A composite 0–100 score: the weighted mean of the named rates (each 0..=1), over the rates
/// that have a value; weights need not sum to one.
pub fn composite(rates: &[(Option<f64>, f64)]) -> Option<f64> {
    let (sum, weight) = rates
        .iter()
        .filter_map(|(r, w)| r.map(|r| (r * w, *w)))
        .fold((0.0, 0.0), |(s, w), (x, y)| (s + x, w + y));
    (weight > 0.0).then(|| 100.0 * sum / weight)
}

#[cfg(test)]
mod tests;

/// An assessment period: a day, ISO week, month, quarter, year or a custom range of days,
/// as the half-open range of civil dates [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: jiff::civil::Date,
    pub end: jiff::civil::Date,
}

impl Period {
    /// `2026-10-05` (day), `2026-W41` (ISO week), `2026-10` (month), `2026-Q4` (quarter),
    /// `2026` (year) or `2026-10-01..2026-10-31` (days, both included).
    pub fn parse(text: &str) -> Result<Period, String> {
        use jiff::civil::{Date, ISOWeekDate, Weekday};
        let bad = || {
            format!(
                "`{text}` is not a period: 2026-10-05, 2026-W41, 2026-10, 2026-Q4, 2026 or 2026-10-01..2026-10-31"
            )
        };
        let text = text.trim();
        let day = |s: &str| s.parse::<Date>().map_err(|_| bad());
        let next = |d: Date| d.tomorrow().map_err(|_| bad());
        if let Some((a, b)) = text.split_once("..") {
            let (start, last) = (day(a)?, day(b)?);
            if last < start {
                return Err(format!("`{text}`: the range ends before it starts"));
            }
            return Ok(Period {
                start,
                end: next(last)?,
            });
        }
        if let Ok(d) = text.parse::<Date>() {
            return Ok(Period {
                start: d,
                end: next(d)?,
            });
        }
        let year = |s: &str| {
            s.parse::<i16>()
                .ok()
                .filter(|y| (1900..=2999).contains(y))
                .ok_or_else(bad)
        };
        if let Some((y, w)) = text.split_once("-W") {
            let week = w.parse::<i8>().map_err(|_| bad())?;
            let start = ISOWeekDate::new(year(y)?, week, Weekday::Monday)
                .map_err(|_| bad())?
                .date();
            return Ok(Period {
                start,
                end: start
                    .checked_add(jiff::Span::new().days(7))
                    .map_err(|_| bad())?,
            });
        }
        if let Some((y, q)) = text.split_once("-Q") {
            let q = q
                .parse::<i8>()
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(bad)?;
            let start = Date::new(year(y)?, (q - 1) * 3 + 1, 1).map_err(|_| bad())?;
            return Ok(Period {
                start,
                end: start
                    .checked_add(jiff::Span::new().months(3))
                    .map_err(|_| bad())?,
            });
        }
        if let Some((y, m)) = text.split_once('-') {
            let m = m.parse::<i8>().map_err(|_| bad())?;
            let start = Date::new(year(y)?, m, 1).map_err(|_| bad())?;
            return Ok(Period {
                start,
                end: start
                    .checked_add(jiff::Span::new().months(1))
                    .map_err(|_| bad())?,
            });
        }
        let start = Date::new(year(text)?, 1, 1).map_err(|_| bad())?;
        Ok(Period {
            start,
            end: start
                .checked_add(jiff::Span::new().years(1))
                .map_err(|_| bad())?,
        })
    }

    /// The same period one year earlier (同比) and the one just before it (环比), of equal
    /// length in days (months and quarters shift by calendar months).
    pub fn year_before(&self) -> Option<Period> {
        let y = jiff::Span::new().years(1);
        Some(Period {
            start: self.start.checked_sub(y).ok()?,
            end: self.end.checked_sub(y).ok()?,
        })
    }

    pub fn previous(&self) -> Option<Period> {
        let months = {
            let (a, b) = (self.start, self.end);
            let m = (i32::from(b.year()) - i32::from(a.year())) * 12 + i32::from(b.month())
                - i32::from(a.month());
            (a.day() == 1 && b.day() == 1 && m > 0).then_some(m)
        };
        let start = match months {
            Some(m) => self.start.checked_sub(jiff::Span::new().months(m)).ok()?,
            None => {
                let days = self.start.until(self.end).ok()?.get_days();
                self.start.checked_sub(jiff::Span::new().days(days)).ok()?
            }
        };
        Some(Period {
            start,
            end: self.start,
        })
    }
}

#[cfg(test)]
mod period_tests {
    use super::Period;

    fn p(s: &str) -> (String, String) {
        let p = Period::parse(s).expect(s);
        (p.start.to_string(), p.end.to_string())
    }

    #[test]
    fn periods() {
        assert_eq!(p("2026-10-05"), ("2026-10-05".into(), "2026-10-06".into()));
        assert_eq!(p("2026-W41"), ("2026-10-05".into(), "2026-10-12".into()));
        assert_eq!(p("2026-10"), ("2026-10-01".into(), "2026-11-01".into()));
        assert_eq!(p("2026-Q4"), ("2026-10-01".into(), "2027-01-01".into()));
        assert_eq!(p("2026"), ("2026-01-01".into(), "2027-01-01".into()));
        assert_eq!(
            p("2026-10-01..2026-10-31"),
            ("2026-10-01".into(), "2026-11-01".into())
        );
        for bad in [
            "2026-13",
            "2026-Q5",
            "x",
            "2026-W60",
            "2026-10-31..2026-10-01",
            "99",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        let oct = Period::parse("2026-10").expect("oct");
        let prev = oct.previous().expect("prev");
        assert_eq!(
            (prev.start.to_string(), prev.end.to_string()),
            ("2026-09-01".into(), "2026-10-01".into())
        );
        let yoy = oct.year_before().expect("yoy");
        assert_eq!(yoy.start.to_string(), "2025-10-01");
        let week = Period::parse("2026-W41")
            .expect("w")
            .previous()
            .expect("prev");
        assert_eq!(week.start.to_string(), "2026-09-28");
    }
}

/// How composite scores are made: the weight of each rate per kind of subject, and the grade
/// bands. Configurable per deployment (`civicgrid import assessment FILE.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheme {
    /// Kind of subject (unit, grid, region, staff) → rate → weight.
    pub weights: BTreeMap<String, BTreeMap<String, f64>>,
    /// (grade, lowest score), best first; below the last band is E.
    pub bands: Vec<(char, f64)>,
    /// The fewest cases (see [`volume`]) a subject needs in the period to be scored, graded
    /// and listed: two cases are no ground for a grade.
    #[serde(default = "default_min_cases")]
    pub min_cases: u64,
}

pub const DEFAULT_MIN_CASES: u64 = 5;

fn default_min_cases() -> u64 {
    DEFAULT_MIN_CASES
}

/// How many cases a subject answered for in the period, the ground its rates stand on: units
/// the cases they received, grids and regions the cases reported there, staff their
/// acceptances, dispatches, verifications and patrol reports.
pub fn volume(kind: &str, c: &Counters) -> u64 {
    match kind {
        "unit" => c.received.max(c.led),
        "staff" => c.accepted + c.dispatched + c.verified + c.patrol_reports,
        _ => c.reported,
    }
}

/// The indicators that mean something for a kind of subject, in the order a table shows them:
/// a unit has no 上报数 and a grid no 退回率.
pub fn indicators_for(kind: &str) -> &'static [&'static str] {
    match kind {
        "unit" => &[
            "received",
            "response_rate",
            "on_time_handling_rate",
            "resolution_rate",
            "rework_rate",
            "send_back_rate",
            "satisfaction_rate",
            "average_handling_minutes",
            "public_evaluation",
            "summons_answer_rate",
            "service_on_time_rate",
            "first_time_rate",
            "service_satisfaction_rate",
        ],
        "staff" => &[
            "patrol_reports",
            "valid_report_rate",
            "on_time_verification_rate",
            "on_time_acceptance_rate",
            "accurate_acceptance_rate",
            "on_time_dispatch_rate",
            "accurate_dispatch_rate",
            "contact_coverage",
        ],
        _ => &[
            "reported",
            "response_rate",
            "resolution_rate",
            "closure_rate",
            "on_time_closure_rate",
            "satisfaction_rate",
            "repeat_rate",
            "resident_share",
            "contact_coverage",
            "wish_fulfilment_rate",
            "volunteer_hours",
            "agenda_on_time_rate",
            "decision_on_time_rate",
            "vote_participation_rate",
            "attendance_rate",
            "grid_settlement_rate",
            "community_settlement_rate",
            "within_street_rate",
            "mediation_success_rate",
            "agreement_performance_rate",
            "median_mediation_days",
            "repeat_dispute_rate",
            "service_on_time_rate",
            "first_time_rate",
            "service_satisfaction_rate",
        ],
    }
}

/// 红榜 and 黑榜 from subjects ranked best first: at most `n` each, and never the same subject
/// on both (with fewer than 2 × `n` subjects each list takes its half, the middle one neither).
pub fn red_and_black<T: Clone>(ranked: &[T], n: usize) -> (Vec<T>, Vec<T>) {
    let each = n.min(ranked.len() / 2);
    let red = ranked[..each].to_vec();
    let black = ranked[ranked.len() - each..]
        .iter()
        .rev()
        .cloned()
        .collect();
    (red, black)
}

/// The rates a scheme may weigh; `*_inverse` counts 1 − the rate (lower is better).
pub const SCORED_RATES: &[&str] = &[
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_handling_rate",
    "on_time_closure_rate",
    "rework_rate_inverse",
    "send_back_rate_inverse",
    "valid_report_rate",
    "on_time_verification_rate",
    "on_time_acceptance_rate",
    "accurate_acceptance_rate",
    "on_time_dispatch_rate",
    "accurate_dispatch_rate",
    "public_evaluation",
    "contact_coverage",
    "wish_fulfilment_rate",
    "agenda_on_time_rate",
    "decision_on_time_rate",
    "vote_participation_rate",
    "attendance_rate",
    "summons_answer_rate",
    "grid_settlement_rate",
    "community_settlement_rate",
    "within_street_rate",
    "mediation_success_rate",
    "agreement_performance_rate",
    "repeat_dispute_rate_inverse",
    "service_on_time_rate",
    "first_time_rate",
    "service_satisfaction_rate",
];

pub const SUBJECT_KINDS: &[&str] = &["unit", "grid", "region", "staff"];

impl Default for Scheme {
    fn default() -> Self {
        let w = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect()
        };
        let place = w(&[
            ("response_rate", 25.0),
            ("resolution_rate", 25.0),
            ("on_time_closure_rate", 25.0),
            ("satisfaction_rate", 25.0),
        ]);
        Scheme {
            weights: [
                (
                    "unit".to_owned(),
                    w(&[
                        ("response_rate", 15.0),
                        ("on_time_handling_rate", 25.0),
                        ("resolution_rate", 20.0),
                        ("rework_rate_inverse", 15.0),
                        ("send_back_rate_inverse", 10.0),
                        ("satisfaction_rate", 15.0),
                        ("public_evaluation", 10.0),
                    ]),
                ),
                ("grid".to_owned(), place.clone()),
                ("region".to_owned(), place),
                (
                    "staff".to_owned(),
                    w(&[
                        ("valid_report_rate", 25.0),
                        ("on_time_verification_rate", 25.0),
                        ("on_time_acceptance_rate", 20.0),
                        ("accurate_dispatch_rate", 30.0),
                    ]),
                ),
            ]
            .into(),
            bands: DEFAULT_BANDS.to_vec(),
            min_cases: DEFAULT_MIN_CASES,
        }
    }
}

impl Scheme {
    /// Every problem with the scheme, each (field, problem).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (kind, weights) in &self.weights {
            if !SUBJECT_KINDS.contains(&kind.as_str()) {
                out.push((
                    format!("weights.{kind}"),
                    "is not unit, grid, region or staff".into(),
                ));
            }
            for (rate, w) in weights {
                if !SCORED_RATES.contains(&rate.as_str()) {
                    out.push((
                        format!("weights.{kind}.{rate}"),
                        format!("is not one of {}", SCORED_RATES.join(", ")),
                    ));
                }
                if !(w.is_finite() && *w >= 0.0) {
                    out.push((
                        format!("weights.{kind}.{rate}"),
                        "must be a weight of 0 or more".into(),
                    ));
                }
            }
            if weights.values().sum::<f64>() <= 0.0 {
                out.push((
                    format!("weights.{kind}"),
                    "needs at least one positive weight".into(),
                ));
            }
        }
        let expected = ['A', 'B', 'C', 'D'];
        if self.bands.iter().map(|(g, _)| *g).collect::<Vec<_>>() != expected {
            out.push((
                "bands".into(),
                "gives the lowest score of A, B, C and D (E is below D)".into(),
            ));
        }
        if !self.bands.windows(2).all(|w| w[0].1 > w[1].1)
            || self.bands.iter().any(|(_, m)| !(0.0..=100.0).contains(m))
        {
            out.push(("bands".into(), "must fall from A to D, within 0–100".into()));
        }
        out
    }

    pub fn weights_for(&self, kind: &str) -> Vec<(&str, f64)> {
        self.weights
            .get(kind)
            .map(|w| w.iter().map(|(r, x)| (r.as_str(), *x)).collect())
            .unwrap_or_default()
    }
}

/// Where an appeal against a deduction stands: submitted by the assessed, reviewed by the
/// assessing department, decided by a leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealStatus {
    Submitted,
    Reviewed,
    Upheld,
    Rejected,
}

impl AppealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealStatus::Submitted => "submitted",
            AppealStatus::Reviewed => "reviewed",
            AppealStatus::Upheld => "upheld",
            AppealStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<AppealStatus> {
        [
            AppealStatus::Submitted,
            AppealStatus::Reviewed,
            AppealStatus::Upheld,
            AppealStatus::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A step of an appeal.
#[derive(Debug, Clone, PartialEq)]
pub enum AppealStep {
    /// The department's review: whether it supports the appeal, and why.
    Review { supports: bool },
    /// The leader's decision; an upheld appeal changes the score by the appeal's points.
    Decide { uphold: bool },
}

/// The status after `step`, or why the step is not allowed now. Review comes before the
/// decision; a decided appeal is final.
pub fn appeal_next(status: AppealStatus, step: &AppealStep) -> Result<AppealStatus, String> {
    match (status, step) {
        (AppealStatus::Submitted, AppealStep::Review { .. }) => Ok(AppealStatus::Reviewed),
        (AppealStatus::Reviewed, AppealStep::Decide { uphold: true }) => Ok(AppealStatus::Upheld),
        (AppealStatus::Reviewed, AppealStep::Decide { uphold: false }) => {
            Ok(AppealStatus::Rejected)
        }
        (AppealStatus::Submitted, AppealStep::Decide { .. }) => {
            Err("the department reviews an appeal before it is decided".into())
        }
        (s, _) => Err(format!("the appeal is {} already", s.as_str())),
    }
}

#[cfg(test)]
mod appeal_tests {
    use super::*;

    #[test]
    fn appeals_are_reviewed_then_decided_once() {
        let r = appeal_next(
            AppealStatus::Submitted,
            &AppealStep::Review { supports: true },
        );
        assert_eq!(r, Ok(AppealStatus::Reviewed));
        assert!(
            appeal_next(
                AppealStatus::Submitted,
                &AppealStep::Decide { uphold: true }
            )
            .is_err()
        );
        assert_eq!(
            appeal_next(AppealStatus::Reviewed, &AppealStep::Decide { uphold: true }),
            Ok(AppealStatus::Upheld)
        );
        assert_eq!(
            appeal_next(
                AppealStatus::Reviewed,
                &AppealStep::Decide { uphold: false }
            ),
            Ok(AppealStatus::Rejected)
        );
        for done in [AppealStatus::Upheld, AppealStatus::Rejected] {
            assert!(appeal_next(done, &AppealStep::Decide { uphold: true }).is_err());
            assert!(appeal_next(done, &AppealStep::Review { supports: true }).is_err());
        }
        assert!(
            appeal_next(
                AppealStatus::Reviewed,
                &AppealStep::Review { supports: false }
            )
            .is_err()
        );
        for s in ["submitted", "reviewed", "upheld", "rejected"] {
            assert_eq!(AppealStatus::parse(s).map(AppealStatus::as_str), Some(s));
        }
    }
}
