//! Public evaluation: surveys of units, one response per person per survey, folded into the
//! score with their configured weight.

use civicgrid_domain::kpi::Period;

use super::*;
use crate::App;
use crate::error::{AppError, AppResult};

impl App {
    /// Opens a public evaluation survey of some units for an assessment period (kpi.manage).
    pub async fn create_survey(
        &self,
        actor: &crate::cases::Actor,
        title: &str,
        period_text: &str,
        units: &[String],
        closes_at: jiff::Timestamp,
    ) -> AppResult<civicgrid_store::Survey> {
        let reference = self.reference().await?;
        reference
            .policy()
            .may_open_survey(actor)
            .map_err(AppError::Forbidden)?;
        let mut problems = Vec::new();
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 || title.contains('\0') {
            problems.push(("title".to_owned(), "1 to 200 characters".to_owned()));
        }
        let period = Period::parse(period_text)
            .map_err(|e| problems.push(("period".to_owned(), e)))
            .ok();
        let unknown: Vec<&String> = units
            .iter()
            .filter(|u| !reference.units.iter().any(|x| &x.code == *u))
            .collect();
        if units.is_empty() || !unknown.is_empty() || units.len() > 100 {
            problems.push((
                "units".to_owned(),
                format!("1 to 100 known units (unknown: {unknown:?})"),
            ));
        }
        if closes_at <= self.clock.now() {
            problems.push(("closes_at".to_owned(), "must be in the future".to_owned()));
        }
        let (Some(period), true) = (period, problems.is_empty()) else {
            return Err(AppError::Unprocessable(problems));
        };
        let now = self.clock.now();
        let mut units = units.to_vec();
        units.sort();
        units.dedup();
        let regions: Vec<&civicgrid_domain::territory::RegionCode> = reference
            .units
            .iter()
            .filter(|u| units.contains(&u.code))
            .map(|u| &u.region)
            .collect();
        // Units of several districts: the survey belongs to the first one's district.
        let region =
            civicgrid_domain::territory::RegionCode::smallest_common(regions.iter().copied())
                .or_else(|| {
                    regions.first().map(|r| {
                        r.self_and_ancestors()
                            .last()
                            .cloned()
                            .unwrap_or((*r).clone())
                    })
                })
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default();
        let survey = civicgrid_store::Survey {
            id: self.ids.new_id(now),
            title: title.to_owned(),
            period: period_key(&period),
            units,
            closes_at,
            created_by: actor.name().to_owned(),
            created_at: now,
            region,
        };
        self.repo.create_survey(&survey).await?;
        Ok(survey)
    }

    /// The deployment's secret for respondent hashes, made on first use.
    async fn survey_secret(&self) -> AppResult<String> {
        const KEY: &str = "survey_secret";
        if let Some(s) = self.repo.setting(KEY).await? {
            return Ok(s);
        }
        let secret = crate::accounts::random_secret(32);
        self.repo
            .put_setting_if_absent(KEY, &secret, self.clock.now(), "system")
            .await?;
        // Another instance may have made one first: use what is stored.
        Ok(self.repo.setting(KEY).await?.unwrap_or(secret))
    }

    /// One resident's answer: a rating of 1–5 for some of the survey's units. One answer per
    /// phone number per survey; the number itself is not kept, only a hash salted with the
    /// survey.
    pub async fn answer_survey(
        &self,
        id: &uuid::Uuid,
        phone: &str,
        ratings: &BTreeMap<String, u8>,
    ) -> AppResult<()> {
        let survey = self
            .repo
            .survey(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("survey {id}")))?;
        let mut problems = Vec::new();
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let phone_ok = (5..=20).contains(&digits.len())
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
        if !phone_ok {
            problems.push((
                "phone".to_owned(),
                "a phone number of 5 to 20 digits".to_owned(),
            ));
        }
        if ratings.is_empty() {
            problems.push(("ratings".to_owned(), "rate at least one unit".to_owned()));
        }
        for (unit, r) in ratings {
            if !survey.units.contains(unit) {
                problems.push((
                    format!("ratings.{}", unit.replace('\0', "")),
                    "is not a unit of this survey".to_owned(),
                ));
            } else if !(1..=5).contains(r) {
                problems.push((
                    format!("ratings.{unit}"),
                    "is a rating from 1 to 5".to_owned(),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        if now >= survey.closes_at {
            return Err(AppError::Invalid("the survey is closed".into()));
        }
        // Keyed with a secret of the deployment, so that the hash of a phone number (a small
        // space) cannot be reversed by trying every number.
        let secret = self.survey_secret().await?;
        let respondent = crate::accounts::sha256_hex(&format!("{secret}:{id}:{digits}"));
        match self
            .repo
            .add_survey_response(id, &respondent, ratings, now)
            .await
        {
            Err(civicgrid_store::StoreError::Conflict(m)) => Err(AppError::Conflict(m)),
            other => Ok(other?),
        }
    }
}
