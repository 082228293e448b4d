//! Accountability (问责): a record of a measure taken against a unit or a staff member,
//! founded on cases, a supervision report or an assessment result (the black list, overdue
//! cases). A supervision officer proposes it; a leader — another person — approves or
//! rejects it. An approved record's points are deducted from the subject's score for its
//! period (a score change, read with the appeals' changes); the unit or person may appeal
//! through the assessment's appeal workflow, and an upheld appeal gives the points back.

use serde::{Deserialize, Serialize};

use crate::kpi::Subject;

word_enum!(
    /// The measure taken.
    Measure, "measure", {
    /// 谈话提醒.
    TalkReminder = "talk_reminder",
    /// 批评教育.
    CriticismEducation = "criticism_education",
    /// 通报批评.
    PublicCriticism = "public_criticism",
    /// 责令检查.
    OrderedReview = "ordered_review",
    /// 移送纪委: referral to the discipline commission.
    Referral = "referral",
});

word_enum!(
    /// Where a record stands.
    RecordStatus, "record status", {
    Proposed = "proposed",
    Approved = "approved",
    Rejected = "rejected",
});

/// What a record is founded on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Grounds {
    /// Cases, by id.
    #[serde(default)]
    pub cases: Vec<uuid::Uuid>,
    /// A supervision report, by id.
    #[serde(default)]
    pub report: Option<uuid::Uuid>,
    /// An assessment result: `black_list` or `overdue_cases`, for the record's period.
    #[serde(default)]
    pub kpi: Option<String>,
}

/// The assessment results a record may rest on.
pub const KPI_GROUNDS: &[&str] = &["black_list", "overdue_cases"];

/// Points a record may deduct at most.
pub const MAX_POINTS: f64 = 20.0;

/// A proposed record's problems, each (field, message).
pub fn problems(
    subject: &Subject,
    grounds: &Grounds,
    points: f64,
    facts: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !matches!(subject, Subject::Unit(_) | Subject::Staff(_)) {
        out.push(("subject".into(), "a unit or a staff member".into()));
    }
    if subject.code().trim().is_empty() {
        out.push(("subject".into(), "names no one".into()));
    }
    if grounds.cases.is_empty() && grounds.report.is_none() && grounds.kpi.is_none() {
        out.push((
            "grounds".into(),
            "name the cases, the supervision report or the assessment result it rests on".into(),
        ));
    }
    if grounds.cases.len() > 50 {
        out.push(("grounds".into(), "at most 50 cases".into()));
    }
    if let Some(k) = &grounds.kpi
        && !KPI_GROUNDS.contains(&k.as_str())
    {
        out.push((
            "grounds".into(),
            format!("`{k}` is not one of {}", KPI_GROUNDS.join(", ")),
        ));
    }
    if !(points.is_finite() && (0.0..=MAX_POINTS).contains(&points)) {
        out.push(("points".into(), format!("0 to {MAX_POINTS}")));
    }
    let n = facts.trim().chars().count();
    if n == 0 || n > 2000 || facts.contains('\0') {
        out.push(("facts".into(), "1 to 2000 characters".into()));
    }
    out
}

/// A leader's decision on a proposed record: only a proposed record, and not by who
/// proposed it.
pub fn decide(
    status: RecordStatus,
    proposed_by: &str,
    decided_by: &str,
    approve: bool,
) -> Result<RecordStatus, String> {
    if status != RecordStatus::Proposed {
        return Err(format!("the record is {} already", status.as_str()));
    }
    if proposed_by == decided_by {
        return Err("a record is decided by another person than who proposed it".into());
    }
    Ok(if approve {
        RecordStatus::Approved
    } else {
        RecordStatus::Rejected
    })
}

/// The score change an approved record makes: minus its points (none for other states or no
/// points).
pub fn score_change(status: RecordStatus, points: f64) -> Option<f64> {
    (status == RecordStatus::Approved && points > 0.0).then_some(-points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_needs_grounds_and_bounded_points() {
        let unit = Subject::Unit("SWJT".into());
        let none = Grounds::default();
        let p = problems(&unit, &none, 2.0, "逾期未办");
        assert!(p.iter().any(|(f, _)| f == "grounds"));
        let on_kpi = Grounds {
            kpi: Some("black_list".into()),
            ..Grounds::default()
        };
        assert!(problems(&unit, &on_kpi, 2.0, "连续两月黑榜").is_empty());
        assert!(
            problems(&unit, &on_kpi, 21.0, "x")
                .iter()
                .any(|(f, _)| f == "points")
        );
        assert!(
            problems(&unit, &on_kpi, f64::NAN, "x")
                .iter()
                .any(|(f, _)| f == "points")
        );
        assert!(
            problems(&Subject::Grid("g".into()), &on_kpi, 1.0, "x")
                .iter()
                .any(|(f, _)| f == "subject")
        );
        let odd = Grounds {
            kpi: Some("red_list".into()),
            ..Grounds::default()
        };
        assert!(
            problems(&unit, &odd, 1.0, "x")
                .iter()
                .any(|(f, _)| f == "grounds")
        );
    }

    #[test]
    fn another_person_decides_once() {
        assert_eq!(
            decide(RecordStatus::Proposed, "jw", "leader", true),
            Ok(RecordStatus::Approved)
        );
        assert_eq!(
            decide(RecordStatus::Proposed, "jw", "leader", false),
            Ok(RecordStatus::Rejected)
        );
        assert!(decide(RecordStatus::Proposed, "jw", "jw", true).is_err());
        assert!(decide(RecordStatus::Approved, "jw", "leader", false).is_err());
        assert!(decide(RecordStatus::Rejected, "jw", "leader", true).is_err());
        assert_eq!(score_change(RecordStatus::Approved, 2.0), Some(-2.0));
        assert_eq!(score_change(RecordStatus::Approved, 0.0), None);
        assert_eq!(score_change(RecordStatus::Proposed, 2.0), None);
    }
}
