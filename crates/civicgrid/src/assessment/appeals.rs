//! Appeals against assessment deductions: submitted by the assessed, reviewed by the
//! department, decided by the leader; an upheld appeal changes the score, recorded with who
//! and why. The access policy decides who may take each step.

use civicgrid_domain::kpi::{Period, Subject};
use civicgrid_domain::territory::RegionCode;

use super::*;
use crate::App;
use crate::error::{AppError, AppResult};

impl App {
    /// Appeals and surveys are staff business: refused before anything else is looked at.
    fn staff_only(actor: &crate::cases::Actor, what: &str) -> AppResult<()> {
        match actor {
            crate::cases::Actor::Staff { .. } => Ok(()),
            _ => Err(AppError::Forbidden(format!("{what} are for staff"))),
        }
    }

    /// The region a subject belongs to, for permission checks; None if there is no such subject.
    pub(crate) async fn subject_region(&self, subject: &Subject) -> AppResult<Option<RegionCode>> {
        let reference = self.reference().await?;
        Ok(match subject {
            Subject::Unit(c) => reference
                .units
                .iter()
                .find(|u| &u.code == c)
                .map(|u| u.region.clone()),
            Subject::Grid(c) => reference
                .grid_regions
                .iter()
                .find(|(g, _)| g.as_str() == c)
                .map(|(_, r)| r.clone()),
            Subject::Region(c) => c
                .parse::<RegionCode>()
                .ok()
                .filter(|r| reference.grid_regions.values().any(|x| r.contains(x))),
            Subject::Staff(u) => match self.repo.user(u).await? {
                Some(_) => reference.top_region.clone(),
                None => None,
            },
        })
    }

    /// Files an appeal against a deduction: by staff of the unit (or the place, or the person)
    /// assessed.
    pub async fn submit_appeal(
        &self,
        actor: &crate::cases::Actor,
        subject: Subject,
        period_text: &str,
        points: f64,
        reason: &str,
    ) -> AppResult<civicgrid_store::Appeal> {
        Self::staff_only(actor, "appeals")?;
        let mut problems = Vec::new();
        let period = Period::parse(period_text)
            .map_err(|e| problems.push(("period".to_owned(), e)))
            .ok();
        if !(points.is_finite() && points > 0.0 && points <= 100.0) {
            problems.push((
                "points".to_owned(),
                "must be more than 0 and at most 100".to_owned(),
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 || reason.contains('\0') {
            problems.push((
                "reason".to_owned(),
                "1 to 2000 characters, without NUL".to_owned(),
            ));
        }
        if subject.code().is_empty() || subject.code().len() > 64 || subject.code().contains('\0') {
            problems.push((
                "subject_code".to_owned(),
                "is not a subject code".to_owned(),
            ));
        }
        let (Some(period), true) = (period, problems.is_empty()) else {
            return Err(AppError::Unprocessable(problems));
        };
        let region = self
            .subject_region(&subject)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("{} {}", subject.kind(), subject.code())))?;
        self.reference()
            .await?
            .policy()
            .may_appeal(actor, &subject, &region)
            .map_err(AppError::Forbidden)?;
        let now = self.clock.now();
        let appeal = civicgrid_store::Appeal {
            id: self.ids.new_id(now),
            subject,
            period: period_key(&period),
            points,
            reason: reason.to_owned(),
            status: civicgrid_domain::kpi::AppealStatus::Submitted,
            history: serde_json::json!([{"step": "submitted", "by": actor.name(), "at": now, "note": reason}]),
            submitted_by: actor.name().to_owned(),
            submitted_at: now,
            region: region.as_str().to_owned(),
        };
        self.repo.create_appeal(&appeal).await?;
        Ok(appeal)
    }

    /// The department's review (kpi.read in the subject's region) or the leader's decision
    /// (kpi.manage there). An upheld appeal changes the score, recorded with who and why.
    pub async fn advance_appeal(
        &self,
        actor: &crate::cases::Actor,
        id: &uuid::Uuid,
        step: civicgrid_domain::kpi::AppealStep,
        note: &str,
    ) -> AppResult<civicgrid_store::Appeal> {
        use civicgrid_domain::kpi::{AppealStatus, AppealStep, appeal_next};
        Self::staff_only(actor, "appeals")?;
        let note = note.trim();
        if note.is_empty() || note.chars().count() > 2000 || note.contains('\0') {
            return Err(AppError::Unprocessable(vec![(
                "note".to_owned(),
                "1 to 2000 characters, without NUL".to_owned(),
            )]));
        }
        let mut appeal = self
            .repo
            .appeal(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("appeal {id}")))?;
        let region = self
            .subject_region(&appeal.subject)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("appeal {id}")))?;
        self.reference()
            .await?
            .policy()
            .may_advance_appeal(actor, &step, &region, &appeal.submitted_by)
            .map_err(AppError::Forbidden)?;
        let before = appeal.status;
        let next = appeal_next(before, &step).map_err(AppError::Invalid)?;
        let now = self.clock.now();
        let entry = match &step {
            AppealStep::Review { supports } => {
                serde_json::json!({"step": "reviewed", "by": actor.name(), "at": now, "supports": supports, "note": note})
            }
            AppealStep::Decide { uphold } => {
                serde_json::json!({"step": if *uphold { "upheld" } else { "rejected" }, "by": actor.name(), "at": now, "note": note})
            }
        };
        if let Some(h) = appeal.history.as_array_mut() {
            h.push(entry);
        }
        appeal.status = next;
        let adjustment = (next == AppealStatus::Upheld).then(|| civicgrid_store::ScoreAdjustment {
            appeal_id: appeal.id,
            subject: appeal.subject.clone(),
            period: appeal.period.clone(),
            points: appeal.points,
            reason: format!("{} / {}", appeal.reason, note),
            made_by: actor.name().to_owned(),
            made_at: now,
        });
        match self
            .repo
            .update_appeal(&appeal, before, adjustment.as_ref())
            .await
        {
            Ok(()) => Ok(appeal),
            Err(civicgrid_store::StoreError::Stale { .. }) => Err(AppError::Invalid(
                "the appeal moved on meanwhile; read it again".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
