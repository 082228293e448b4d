//! Accountability (问责): records of 谈话提醒, 批评教育, 通报批评, 责令检查 and referral
//! (移送纪委) against a unit or a staff member, founded on cases, a supervision report or an
//! assessment result. A supervision officer proposes; a leader — another person, not of the
//! unit — approves or rejects. An approved record's points are a score change for its
//! period (read with the appeals' changes); the unit or person appeals through the
//! assessment's appeal workflow, and an upheld appeal gives the points back. Records marked
//! public appear on the public 通报 page once approved.

pub mod pages;
pub mod rest;

use civicgrid_domain::accountability::{self as rules, Grounds, Measure, RecordStatus};
use civicgrid_domain::kpi::{Period, Subject};
use civicgrid_domain::policy::Accused;
use civicgrid_store::{AccountabilityEvent, AccountabilityRecord};

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};

/// A proposed record.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub measure: String,
    /// `unit` or `staff`.
    pub subject_kind: String,
    pub subject_code: String,
    /// The assessment period its points count in (`2026-03`, `2026-Q1`, `2026`).
    pub period: String,
    pub points: f64,
    pub public: bool,
    pub facts: String,
    pub grounds: Grounds,
}

/// A record as read, with its appeal's status.
#[derive(Debug, Clone)]
pub struct Record {
    pub record: AccountabilityRecord,
    pub measure: Measure,
    pub status: RecordStatus,
    pub grounds: Grounds,
    /// The period as written (`2026-03`).
    pub period_text: String,
    pub appeal: Option<civicgrid_store::Appeal>,
    pub history: Vec<AccountabilityEvent>,
}

/// A stored period key (`start..end`, end excluded) as the assessment parses it back: both
/// days included (`2026-03-01..2026-03-31`), or the month (`2026-03`) when it is one.
fn period_text(key: &str) -> String {
    let parsed = key.split_once("..").and_then(|(a, b)| {
        Some((
            a.parse::<jiff::civil::Date>().ok()?,
            b.parse::<jiff::civil::Date>().ok()?.yesterday().ok()?,
        ))
    });
    match parsed {
        Some((start, last))
            if start.day() == 1
                && last.tomorrow().is_ok_and(|d| d.day() == 1)
                && start.month() == last.month()
                && start.year() == last.year() =>
        {
            format!("{:04}-{:02}", start.year(), start.month())
        }
        Some((start, last)) => format!("{start}..{last}"),
        None => key.to_owned(),
    }
}

impl App {
    async fn accountability_region(
        &self,
        subject: &Subject,
    ) -> AppResult<civicgrid_domain::territory::RegionCode> {
        self.subject_region(subject).await?.ok_or_else(|| {
            AppError::Unprocessable(vec![(
                "subject".into(),
                format!("no {} `{}`", subject.kind(), subject.code()),
            )])
        })
    }

    /// Proposes a record: accountability.propose in the subject's region; the grounds must
    /// exist.
    pub async fn propose_accountability(&self, actor: &Actor, new: NewRecord) -> AppResult<Record> {
        let mut problems = Vec::new();
        let measure: Option<Measure> = new
            .measure
            .parse()
            .map_err(|e: String| problems.push(("measure".to_owned(), e)))
            .ok();
        let subject =
            Subject::from_kind(new.subject_kind.trim(), new.subject_code.trim().to_owned())
                .filter(|s| matches!(s, Subject::Unit(_) | Subject::Staff(_)));
        let Some(subject) = subject else {
            problems.push(("subject_kind".into(), "unit or staff".into()));
            return Err(AppError::Unprocessable(problems));
        };
        let period = Period::parse(new.period.trim())
            .map_err(|e| problems.push(("period".to_owned(), e)))
            .ok();
        problems.extend(rules::problems(
            &subject,
            &new.grounds,
            new.points,
            &new.facts,
        ));
        let (Some(measure), Some(period), true) = (measure, period, problems.is_empty()) else {
            return Err(AppError::Unprocessable(problems));
        };
        let region = self.accountability_region(&subject).await?;
        self.reference()
            .await?
            .policy()
            .may_propose_accountability(actor, &region)
            .map_err(AppError::Forbidden)?;
        for case in &new.grounds.cases {
            if self.repo.case(case).await?.is_none() {
                return Err(AppError::Unprocessable(vec![(
                    "grounds".into(),
                    format!("no case {case}"),
                )]));
            }
        }
        if let Some(report) = &new.grounds.report
            && self.repo.report(report).await?.is_none()
        {
            return Err(AppError::Unprocessable(vec![(
                "grounds".into(),
                format!("no supervision report {report}"),
            )]));
        }
        let now = self.clock.now();
        let record = AccountabilityRecord {
            id: self.ids.new_id(now),
            number: 0,
            measure: measure.as_str().to_owned(),
            subject,
            region,
            period: crate::assessment::period_key(&period),
            points: new.points,
            public: new.public,
            facts: new.facts.trim().to_owned(),
            grounds: serde_json::to_string(&new.grounds).unwrap_or_default(),
            status: RecordStatus::Proposed.as_str().to_owned(),
            proposed_by: actor.name().to_owned(),
            proposed_at: now,
            decided_by: None,
            decided_at: None,
            decision_note: None,
            appeal_id: None,
            version: 1,
        };
        let created = self
            .repo
            .create_accountability(
                &record,
                &AccountabilityEvent {
                    seq: 1,
                    at: now,
                    actor: actor.name().to_owned(),
                    action: "proposed".into(),
                    note: String::new(),
                },
            )
            .await?;
        self.accountability_read(created.number).await
    }

    async fn accountability_read(&self, number: u64) -> AppResult<Record> {
        let record = self
            .repo
            .accountability(number)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("accountability record {number}")))?;
        let appeal = match record.appeal_id {
            Some(id) => self.repo.appeal(&id).await?,
            None => None,
        };
        let history = self.repo.accountability_events(&record.id).await?;
        Ok(Record {
            measure: record.measure.parse().map_err(AppError::Invalid)?,
            status: record
                .status
                .parse()
                .map_err(|e: String| AppError::Invalid(e))?,
            grounds: serde_json::from_str(&record.grounds).unwrap_or_default(),
            period_text: period_text(&record.period),
            appeal,
            history,
            record,
        })
    }

    /// Records for those who propose or approve them, newest first.
    pub async fn accountability_records_for(&self, actor: &Actor) -> AppResult<Vec<Record>> {
        self.reference()
            .await?
            .policy()
            .may_read_accountability(actor)
            .map_err(AppError::Forbidden)?;
        let mut out = Vec::new();
        for r in self.repo.accountability_records(false, 500).await? {
            out.push(self.accountability_read(r.number).await?);
        }
        Ok(out)
    }

    /// One record: for those who propose or approve records, and for the subject (the unit's
    /// staff, the person), who may appeal it.
    pub async fn accountability_record_for(&self, actor: &Actor, number: u64) -> AppResult<Record> {
        let r = self.accountability_read(number).await?;
        let reference = self.reference().await?;
        let policy = reference.policy();
        let concerned = policy
            .may_appeal(actor, &r.record.subject, &r.record.region)
            .is_ok();
        if policy.may_read_accountability(actor).is_err() && !concerned {
            return Err(AppError::Forbidden(
                "an accountability record is read by those who propose or approve records, and by whom it concerns".into(),
            ));
        }
        Ok(r)
    }

    /// A leader approves or rejects a proposed record (another person than who proposed it,
    /// not of the unit concerned); approving puts its points into the score.
    pub async fn decide_accountability(
        &self,
        actor: &Actor,
        number: u64,
        version: u64,
        approve: bool,
        note: &str,
    ) -> AppResult<Record> {
        let note = note.trim();
        if note.chars().count() > 2000 || note.contains('\0') || (!approve && note.is_empty()) {
            return Err(AppError::Unprocessable(vec![(
                "note".into(),
                "a rejection gives its reason (at most 2000 characters)".into(),
            )]));
        }
        let r = self.accountability_read(number).await?;
        let reference = self.reference().await?;
        let unit_region;
        let accused = match &r.record.subject {
            Subject::Unit(code) => {
                unit_region = reference
                    .units
                    .iter()
                    .find(|u| &u.code == code)
                    .map_or_else(|| r.record.region.clone(), |u| u.region.clone());
                Some(Accused {
                    unit: code,
                    region: &unit_region,
                })
            }
            _ => None,
        };
        reference
            .policy()
            .may_approve_accountability(actor, &r.record.region, accused.as_ref())
            .map_err(AppError::Forbidden)?;
        if r.record.version != version {
            return Err(AppError::Stale {
                current: r.record.version,
            });
        }
        let next = rules::decide(r.status, &r.record.proposed_by, actor.name(), approve)
            .map_err(AppError::Invalid)?;
        let now = self.clock.now();
        let mut record = r.record.clone();
        record.status = next.as_str().to_owned();
        record.decided_by = Some(actor.name().to_owned());
        record.decided_at = Some(now);
        record.decision_note = Some(note.to_owned());
        self.repo
            .update_accountability(
                &record,
                version,
                &AccountabilityEvent {
                    seq: r.history.last().map_or(1, |e| e.seq + 1),
                    at: now,
                    actor: actor.name().to_owned(),
                    action: next.as_str().to_owned(),
                    note: note.to_owned(),
                },
            )
            .await?;
        self.accountability_read(number).await
    }

    /// The unit or person concerned appeals an approved deduction: an assessment appeal for
    /// its points and period, reviewed and decided as every appeal is; one per record.
    pub async fn appeal_accountability(
        &self,
        actor: &Actor,
        number: u64,
        reason: &str,
    ) -> AppResult<Record> {
        let r = self.accountability_read(number).await?;
        // Who may appeal is asked first: a refusal tells nothing about the record's state.
        self.reference()
            .await?
            .policy()
            .may_appeal(actor, &r.record.subject, &r.record.region)
            .map_err(AppError::Forbidden)?;
        if r.status != RecordStatus::Approved || r.record.points <= 0.0 {
            return Err(AppError::Invalid(
                "only an approved record that deducts points is appealed".into(),
            ));
        }
        if r.record.appeal_id.is_some() {
            return Err(AppError::Invalid("this record is appealed already".into()));
        }
        let appeal = self
            .submit_appeal(
                actor,
                r.record.subject.clone(),
                &r.period_text,
                r.record.points,
                &format!("问责 #{number}: {}", reason.trim()),
            )
            .await?;
        let now = self.clock.now();
        let mut record = r.record.clone();
        record.appeal_id = Some(appeal.id);
        self.repo
            .update_accountability(
                &record,
                r.record.version,
                &AccountabilityEvent {
                    seq: r.history.last().map_or(1, |e| e.seq + 1),
                    at: now,
                    actor: actor.name().to_owned(),
                    action: "appealed".into(),
                    note: reason.trim().to_owned(),
                },
            )
            .await?;
        self.accountability_read(number).await
    }

    /// The public 通报: approved records marked public, newest first.
    pub async fn accountability_notices(&self) -> AppResult<Vec<Record>> {
        let mut out = Vec::new();
        for r in self.repo.accountability_records(true, 200).await? {
            out.push(self.accountability_read(r.number).await?);
        }
        Ok(out)
    }
}
