//! Assessment: the KPI queue and rollups, appeals and score changes, surveys.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `assessment_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use uuid::Uuid;

use crate::*;

#[async_trait]
pub trait AssessmentStore: Send + Sync {
    /// Records whose KPI contributions are out of date, of any capability (cases are queued by
    /// a trigger with every event), each with its change count.
    async fn kpi_dirty(&self, limit: u32) -> Result<Vec<KpiQueued>, StoreError>;
    /// Queues a record of capability `source` (in `region`) for counting; a capability whose
    /// changes no trigger watches calls this in the transaction of the change, or after it.
    async fn mark_kpi(&self, source: &str, id: &Uuid, region: &str) -> Result<(), StoreError>;
    /// Replaces a record's KPI contributions and adjusts the daily sums by the difference, in
    /// one transaction; clears it from the queue if it has not changed since `marked`.
    async fn apply_kpi(
        &self,
        source: &str,
        id: &Uuid,
        marked: i64,
        contributions: &[KpiEntry],
    ) -> Result<(), StoreError>;
    /// The daily sums of the communities under `region_prefix`, for days in [from, to)
    /// (`YYYY-MM-DD`), summed per subject.
    async fn kpi_sum(
        &self,
        region_prefix: &str,
        from: &str,
        to: &str,
    ) -> Result<
        Vec<(
            civicgrid_domain::kpi::Subject,
            civicgrid_domain::kpi::Counters,
        )>,
        StoreError,
    >;
    async fn create_appeal(&self, appeal: &Appeal) -> Result<(), StoreError>;
    async fn appeal(&self, id: &Uuid) -> Result<Option<Appeal>, StoreError>;
    /// Appeals, newest first, of one period if given.
    async fn appeals(&self, period: Option<&str>) -> Result<Vec<Appeal>, StoreError>;
    /// Moves an appeal on if it is still at `expected` (else `Stale`), with the score change an
    /// upheld decision makes, in one transaction.
    async fn update_appeal(
        &self,
        appeal: &Appeal,
        expected: civicgrid_domain::kpi::AppealStatus,
        adjustment: Option<&ScoreAdjustment>,
    ) -> Result<(), StoreError>;
    /// The score changes of a period.
    async fn adjustments(&self, period: &str) -> Result<Vec<ScoreAdjustment>, StoreError>;
    async fn create_survey(&self, survey: &Survey) -> Result<(), StoreError>;
    async fn survey(&self, id: &Uuid) -> Result<Option<Survey>, StoreError>;
    /// Stores one person's ratings (unit → 1..=5); `Conflict` if they already answered.
    async fn add_survey_response(
        &self,
        survey: &Uuid,
        respondent: &str,
        ratings: &std::collections::BTreeMap<String, u8>,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Every rating given in the period's surveys, per unit: (sum, count).
    async fn survey_ratings(
        &self,
        period: &str,
    ) -> Result<std::collections::BTreeMap<String, (u64, u64)>, StoreError>;
}

macro_rules! assessment_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::AssessmentStore for $repo {
            async fn kpi_dirty(&self, limit: u32) -> Result<Vec<$crate::KpiQueued>, $crate::StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT source, item_id, marked FROM kpi_dirty ORDER BY item_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(source, id, marked)| {
                        let id = id
                            .parse()
                            .map_err(|_| $crate::StoreError::Corrupt(format!("kpi item id {id}")))?;
                        Ok($crate::KpiQueued { source, id, marked })
                    })
                    .collect()
            }
            async fn mark_kpi(
                &self,
                source: &str,
                id: &uuid::Uuid,
                region: &str,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO kpi_dirty (source, item_id, region_code) VALUES ($1, $2, $3)
                     ON CONFLICT (item_id) DO UPDATE SET marked = kpi_dirty.marked + 1",
                )
                .bind(source)
                .bind(id.to_string())
                .bind(region)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn apply_kpi(
                &self,
                source: &str,
                item_id: &uuid::Uuid,
                marked: i64,
                contributions: &[$crate::KpiEntry],
            ) -> Result<(), $crate::StoreError> {
                use civicgrid_domain::kpi::Counters;
                let id = item_id.to_string();
                let parse = |text: &str| -> Result<Counters, $crate::StoreError> {
                    serde_json::from_str(text).map_err(|e| $crate::StoreError::Corrupt(format!("kpi counters: {e}")))
                };
                let mut tx = self.begin().await?;
                // Two instances counting the same record would both subtract its old
                // contribution: on PostgreSQL the second waits here and then reads what the
                // first wrote (SQLite has one writer; a stale read fails its commit instead).
                if $backend == "postgres" {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                let old: Vec<(String, String, String, String, String)> = sqlx::query_as(
                    "SELECT region_code, subject_kind, subject_code, day, counters FROM kpi_contributions WHERE item_id = $1",
                )
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?;
                // The change to each daily sum: minus what the case gave, plus what it gives now.
                let mut delta: std::collections::BTreeMap<(String, String, String, String), (Counters, Counters)> =
                    std::collections::BTreeMap::new();
                for (region, kind, code, day, counters) in &old {
                    delta.entry((region.clone(), day.clone(), kind.clone(), code.clone())).or_default().1 += &parse(counters)?;
                }
                for e in contributions {
                    delta
                        .entry((e.region.clone(), e.day.clone(), e.subject.kind().to_owned(), e.subject.code().to_owned()))
                        .or_default()
                        .0 += &e.counters;
                }
                for ((region, day, kind, code), (plus, minus)) in &delta {
                    if plus == minus {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO kpi_daily (region_code, day, subject_kind, subject_code, counters) VALUES ($1, $2, $3, $4, '{}')
                         ON CONFLICT (region_code, day, subject_kind, subject_code) DO NOTHING",
                    )
                    .bind(region).bind(day).bind(kind).bind(code)
                    .execute(&mut *tx)
                    .await?;
                    let lock = if $backend == "postgres" { " FOR UPDATE" } else { "" };
                    let (current,): (String,) = sqlx::query_as(&format!(
                        "SELECT counters FROM kpi_daily WHERE region_code = $1 AND day = $2 AND subject_kind = $3 AND subject_code = $4{lock}"
                    ))
                    .bind(region).bind(day).bind(kind).bind(code)
                    .fetch_one(&mut *tx)
                    .await?;
                    let mut sum: Counters = if current == "{}" { Counters::default() } else { parse(&current)? };
                    sum -= minus;
                    sum += plus;
                    if sum.is_zero() {
                        sqlx::query("DELETE FROM kpi_daily WHERE region_code = $1 AND day = $2 AND subject_kind = $3 AND subject_code = $4")
                            .bind(region).bind(day).bind(kind).bind(code)
                            .execute(&mut *tx)
                            .await?;
                    } else {
                        sqlx::query("UPDATE kpi_daily SET counters = $5 WHERE region_code = $1 AND day = $2 AND subject_kind = $3 AND subject_code = $4")
                            .bind(region).bind(day).bind(kind).bind(code)
                            .bind($crate::sql::to_json(&sum)?)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                sqlx::query("DELETE FROM kpi_contributions WHERE item_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                for e in contributions {
                    sqlx::query(
                        "INSERT INTO kpi_contributions (source, item_id, region_code, subject_kind, subject_code, day, counters)
                         VALUES ($7, $1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&id)
                    .bind(&e.region)
                    .bind(e.subject.kind())
                    .bind(e.subject.code())
                    .bind(&e.day)
                    .bind($crate::sql::to_json(&e.counters)?)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                }
                // Cleared only if no change arrived since the state this was computed from.
                sqlx::query("DELETE FROM kpi_dirty WHERE item_id = $1 AND marked = $2")
                    .bind(&id)
                    .bind(marked)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
            async fn kpi_sum(
                &self,
                region_prefix: &str,
                from: &str,
                to: &str,
            ) -> Result<Vec<(civicgrid_domain::kpi::Subject, civicgrid_domain::kpi::Counters)>, $crate::StoreError> {
                use civicgrid_domain::kpi::{Counters, Subject};
                let end = $crate::sql::prefix_end(region_prefix);
                let sql = format!(
                    "SELECT subject_kind, subject_code, counters FROM kpi_daily
                     WHERE region_code >= $1 {} AND day >= $2 AND day < $3",
                    if end.is_some() { "AND region_code < $4" } else { "" }
                );
                let mut q = sqlx::query_as(&sql).bind(region_prefix).bind(from).bind(to);
                if let Some(end) = end {
                    q = q.bind(end);
                }
                let rows: Vec<(String, String, String)> = q.fetch_all(&self.pool).await?;
                let mut sums: std::collections::BTreeMap<Subject, Counters> = std::collections::BTreeMap::new();
                for (kind, code, counters) in rows {
                    let subject = $crate::sql::subject(&kind, code)?;
                    let c: Counters = serde_json::from_str(&counters)
                        .map_err(|e| $crate::StoreError::Corrupt(format!("kpi counters: {e}")))?;
                    *sums.entry(subject).or_default() += &c;
                }
                Ok(sums.into_iter().collect())
            }
            async fn create_appeal(&self, a: &$crate::Appeal) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO kpi_appeals (id, subject_kind, subject_code, period, points, reason, status, history,
                       submitted_by, submitted_at, region_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(a.id.to_string())
                .bind(a.subject.kind())
                .bind(a.subject.code())
                .bind(&a.period)
                .bind(a.points)
                .bind(&a.reason)
                .bind(a.status.as_str())
                .bind(a.history.to_string())
                .bind(&a.submitted_by)
                .bind($crate::model::micros(a.submitted_at))
                .bind(&a.region)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn appeal(&self, id: &uuid::Uuid) -> Result<Option<$crate::Appeal>, $crate::StoreError> {
                let row: Option<$crate::sql::AppealRow> = sqlx::query_as(
                    "SELECT id, subject_kind, subject_code, period, points, reason, status, history, submitted_by, submitted_at,
                            region_code FROM kpi_appeals WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::sql::appeal_from_row).transpose()
            }
            async fn appeals(&self, period: Option<&str>) -> Result<Vec<$crate::Appeal>, $crate::StoreError> {
                let rows: Vec<$crate::sql::AppealRow> = sqlx::query_as(
                    "SELECT id, subject_kind, subject_code, period, points, reason, status, history, submitted_by, submitted_at,
                            region_code FROM kpi_appeals WHERE ($1 IS NULL OR period = $1) ORDER BY submitted_at DESC, id DESC LIMIT 500",
                )
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::sql::appeal_from_row).collect()
            }
            async fn update_appeal(
                &self,
                a: &$crate::Appeal,
                expected: civicgrid_domain::kpi::AppealStatus,
                adjustment: Option<&$crate::ScoreAdjustment>,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query("UPDATE kpi_appeals SET status = $2, history = $3 WHERE id = $1 AND status = $4")
                    .bind(a.id.to_string())
                    .bind(a.status.as_str())
                    .bind(a.history.to_string())
                    .bind(expected.as_str())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Stale { current: 0 });
                }
                if let Some(adj) = adjustment {
                    sqlx::query(
                        "INSERT INTO kpi_adjustments (appeal_id, subject_kind, subject_code, period, points, reason, made_by, made_at,
                           region_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(adj.appeal_id.to_string())
                    .bind(adj.subject.kind())
                    .bind(adj.subject.code())
                    .bind(&adj.period)
                    .bind(adj.points)
                    .bind(&adj.reason)
                    .bind(&adj.made_by)
                    .bind($crate::model::micros(adj.made_at))
                    .bind(&a.region)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn adjustments(&self, period: &str) -> Result<Vec<$crate::ScoreAdjustment>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, f64, String, String, i64)> = sqlx::query_as(
                    // Upheld appeals, and approved accountability records' deductions (问责扣分).
                    "SELECT appeal_id, subject_kind, subject_code, period, points, reason, made_by, made_at
                     FROM kpi_adjustments WHERE period = $1
                     UNION ALL
                     SELECT id, subject_kind, subject_code, period, -points, 'accountability ' || CAST(number AS TEXT) || ': ' || measure,
                            COALESCE(decided_by, ''), COALESCE(decided_at, 0)
                     FROM accountability_records WHERE period = $1 AND status = 'approved' AND points > 0
                     ORDER BY 8",
                )
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, kind, code, period, points, reason, by, at)| {
                        Ok($crate::ScoreAdjustment {
                            appeal_id: id.parse().map_err(|_| $crate::StoreError::Corrupt(format!("appeal id {id}")))?,
                            subject: $crate::sql::subject(&kind, code)?,
                            period,
                            points,
                            reason,
                            made_by: by,
                            made_at: $crate::model::from_micros(at)?,
                        })
                    })
                    .collect()
            }
            async fn create_survey(&self, s: &$crate::Survey) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO surveys (id, title, period, units, closes_at, created_by, created_at, region_code)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(s.id.to_string())
                .bind(&s.title)
                .bind(&s.period)
                .bind($crate::sql::to_json(&s.units)?)
                .bind($crate::model::micros(s.closes_at))
                .bind(&s.created_by)
                .bind($crate::model::micros(s.created_at))
                .bind(&s.region)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn survey(&self, id: &uuid::Uuid) -> Result<Option<$crate::Survey>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, String, i64, String, i64, String)> = sqlx::query_as(
                    "SELECT id, title, period, units, closes_at, created_by, created_at, region_code FROM surveys WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, title, period, units, closes, by, at, region)| {
                    Ok($crate::Survey {
                        id: id.parse().map_err(|_| $crate::StoreError::Corrupt(format!("survey id {id}")))?,
                        title,
                        period,
                        units: $crate::sql::from_json("survey units", &units)?,
                        closes_at: $crate::model::from_micros(closes)?,
                        created_by: by,
                        created_at: $crate::model::from_micros(at)?,
                        region,
                    })
                })
                .transpose()
            }
            async fn add_survey_response(
                &self,
                survey: &uuid::Uuid,
                respondent: &str,
                ratings: &std::collections::BTreeMap<String, u8>,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO survey_responses (survey_id, respondent, ratings, at, region_code)
                     VALUES ($1, $2, $3, $4, (SELECT region_code FROM surveys WHERE id = $1))
                     ON CONFLICT (survey_id, respondent) DO NOTHING",
                )
                .bind(survey.to_string())
                .bind(respondent)
                .bind($crate::sql::to_json(ratings)?)
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::Conflict("this person has answered the survey already".into()));
                }
                Ok(())
            }
            async fn survey_ratings(
                &self,
                period: &str,
            ) -> Result<std::collections::BTreeMap<String, (u64, u64)>, $crate::StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT r.ratings FROM survey_responses r JOIN surveys s ON s.id = r.survey_id WHERE s.period = $1",
                )
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
                let mut out: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
                for (json,) in rows {
                    let ratings: std::collections::BTreeMap<String, u8> = $crate::sql::from_json("survey ratings", &json)?;
                    for (unit, r) in ratings {
                        let e = out.entry(unit).or_default();
                        e.0 += u64::from(r);
                        e.1 += 1;
                    }
                }
                Ok(out)
            }
        }
    };
}

pub(crate) use assessment_sql;
