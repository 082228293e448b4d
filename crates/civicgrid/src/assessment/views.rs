//! The shapes of assessment over REST v1: KPI tables, appeals and surveys.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    /// A region code: district (6 digits), street (9) or community (12); or `beat:CODE`.
    pub scope: String,
    /// 2026-10-05, 2026-W41, 2026-10, 2026-Q4, 2026 or 2026-10-01..2026-10-31.
    pub period: String,
    /// Only subjects of this kind: unit, grid, region or staff.
    pub kind: Option<String>,
}

/// An appeal against an assessment deduction.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppeal {
    /// unit, grid, region or staff.
    pub subject_kind: String,
    /// The unit code, grid code, community code or username.
    pub subject_code: String,
    /// The assessment period, e.g. 2026-10.
    pub period: String,
    /// Score points asked back, more than 0 and at most 100.
    pub points: f64,
    pub reason: String,
}

/// A review (the department) or a decision (a leader).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealStepBody {
    /// Review: whether the department supports the appeal. Decision: whether it is upheld.
    pub yes: bool,
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct AppealView {
    pub id: Uuid,
    pub subject_kind: String,
    pub subject_code: String,
    /// The period's days, `start..end` (end excluded).
    pub period: String,
    pub points: f64,
    pub reason: String,
    /// submitted, reviewed, upheld or rejected.
    pub status: String,
    /// Every step: who, when, what and why.
    #[schema(value_type = Vec<Object>)]
    pub history: Value,
    pub submitted_by: String,
    pub submitted_at: Timestamp,
}

impl From<&civicgrid_store::Appeal> for AppealView {
    fn from(a: &civicgrid_store::Appeal) -> Self {
        AppealView {
            id: a.id,
            subject_kind: a.subject.kind().to_owned(),
            subject_code: a.subject.code().to_owned(),
            period: a.period.clone(),
            points: a.points,
            reason: a.reason.clone(),
            status: a.status.as_str().to_owned(),
            history: a.history.clone(),
            submitted_by: a.submitted_by.clone(),
            submitted_at: a.submitted_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AppealQuery {
    /// Only appeals of this period, e.g. 2026-10.
    pub period: Option<String>,
}

/// A public evaluation survey (群众评议) to open.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSurvey {
    pub title: String,
    /// The assessment period its results feed, e.g. 2026-10.
    pub period: String,
    /// The unit codes residents rate.
    pub units: Vec<String>,
    pub closes_at: Timestamp,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyUnit {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyView {
    pub id: Uuid,
    pub title: String,
    /// The period's days, `start..end` (end excluded).
    pub period: String,
    pub units: Vec<SurveyUnit>,
    pub closes_at: Timestamp,
}

/// One resident's answer: a rating from 1 to 5 per unit. One answer per phone number; the
/// number is not stored, only a hash.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswer {
    pub phone: String,
    #[schema(value_type = Object)]
    pub ratings: BTreeMap<String, u8>,
}
