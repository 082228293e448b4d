//! Assessment (考核). This file: the tables — the indicators of every subject (unit, grid, community, staff member)
//! for a scope and period, recounted from the cases' events through `kpi::contributions`,
//! with composite scores, A–E grades, the red and black list, and the same figures for the
//! period before (环比) and a year before (同比).

pub mod appeals;
pub mod exports;
pub mod jobs;
pub mod sources;
pub mod surveys;

pub mod cli;

pub mod pages;

pub mod rest;
pub mod views;

use std::collections::{BTreeMap, HashMap};

use civicgrid_domain::kpi::{Counters, Indicators, Period, Step, Subject, composite, grade};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::CaseEvent;
use serde::Serialize;

use crate::App;
use crate::error::{AppError, AppResult};

fn rate(i: &Indicators, name: &str) -> Option<f64> {
    match name {
        "response_rate" => i.response_rate,
        "resolution_rate" => i.resolution_rate,
        "satisfaction_rate" => i.satisfaction_rate,
        "on_time_handling_rate" => i.on_time_handling_rate,
        "on_time_closure_rate" => i.on_time_closure_rate,
        "rework_rate_inverse" => i.rework_rate.map(|r| 1.0 - r),
        "send_back_rate_inverse" => i.send_back_rate.map(|r| 1.0 - r),
        "valid_report_rate" => i.valid_report_rate,
        "on_time_verification_rate" => i.on_time_verification_rate,
        "on_time_acceptance_rate" => i.on_time_acceptance_rate,
        "accurate_dispatch_rate" => i.accurate_dispatch_rate,
        "accurate_acceptance_rate" => i.accurate_acceptance_rate,
        "on_time_dispatch_rate" => i.on_time_dispatch_rate,
        "public_evaluation" => i.public_evaluation,
        "contact_coverage" => i.contact_coverage,
        "wish_fulfilment_rate" => i.wish_fulfilment_rate,
        "agenda_on_time_rate" => i.agenda_on_time_rate,
        "decision_on_time_rate" => i.decision_on_time_rate,
        "vote_participation_rate" => i.vote_participation_rate,
        "attendance_rate" => i.attendance_rate,
        "summons_answer_rate" => i.summons_answer_rate,
        "grid_settlement_rate" => i.grid_settlement_rate,
        "community_settlement_rate" => i.community_settlement_rate,
        "within_street_rate" => i.within_street_rate,
        "mediation_success_rate" => i.mediation_success_rate,
        "agreement_performance_rate" => i.agreement_performance_rate,
        "service_on_time_rate" => i.service_on_time_rate,
        "first_time_rate" => i.first_time_rate,
        "service_satisfaction_rate" => i.service_satisfaction_rate,
        "repeat_dispute_rate_inverse" => i.repeat_dispute_rate.map(|r| 1.0 - r),
        _ => None,
    }
}

/// One subject's row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct KpiRow {
    pub kind: String,
    pub code: String,
    pub name: String,
    pub indicators: Indicators,
    pub score: Option<f64>,
    pub grade: Option<char>,
    /// The score of the period before and a year before, for 环比 and 同比.
    pub previous_score: Option<f64>,
    pub year_before_score: Option<f64>,
    /// Points given back by upheld appeals, already in `score`.
    pub adjustment: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KpiTable {
    pub scope: String,
    pub period: String,
    pub start: String,
    pub end: String,
    pub rows: Vec<KpiRow>,
    /// 红榜 and 黑榜: the best and the worst three units by score.
    pub red_list: Vec<String>,
    pub black_list: Vec<String>,
}

impl KpiTable {
    /// 红榜 and 黑榜 of one kind of subject: the best and the worst three by score, among the
    /// subjects scored (enough cases), never one on both.
    pub fn lists_for(&self, kind: &str) -> (Vec<String>, Vec<String>) {
        let mut ranked: Vec<&KpiRow> = self
            .rows
            .iter()
            .filter(|r| r.kind == kind && r.score.is_some())
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.code.cmp(&b.code))
        });
        let names: Vec<String> = ranked.iter().map(|r| r.name.clone()).collect();
        civicgrid_domain::kpi::red_and_black(&names, 3)
    }
}

const SCHEME_KEY: &str = "assessment_scheme";

impl App {
    /// The deployment's assessment scheme: weights and grade bands (the default until one is
    /// imported).
    pub async fn assessment_scheme(&self) -> AppResult<civicgrid_domain::kpi::Scheme> {
        match self.repo.setting(SCHEME_KEY).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::Invalid(format!("stored assessment scheme: {e}"))),
            None => Ok(civicgrid_domain::kpi::Scheme::default()),
        }
    }

    /// Replaces the assessment scheme from its TOML file; all or nothing. Scores change with
    /// it, so who changed it and when is kept.
    pub async fn import_assessment(&self, file: &str, text: &str, by: &str) -> AppResult<usize> {
        let scheme =
            crate::interchange::config::read_assessment(file, text).map_err(AppError::Input)?;
        let json = serde_json::to_string(&scheme).map_err(|e| AppError::Invalid(e.to_string()))?;
        self.repo
            .put_setting(SCHEME_KEY, &json, self.clock.now(), by)
            .await?;
        Ok(scheme.weights.values().map(|w| w.len()).sum())
    }

    pub async fn export_assessment(&self) -> AppResult<String> {
        Ok(crate::interchange::config::write_assessment(
            &self.assessment_scheme().await?,
        ))
    }

    /// Brings the rollups up to date: recomputes the contributions of every case whose events
    /// changed since and adjusts the daily sums (the job runs this; so does every table read).
    /// Returns the number of cases refreshed.
    pub async fn refresh_kpis(&self) -> AppResult<usize> {
        let sources = self.kpi_sources.clone();
        let mut done = 0;
        let mut applied: std::collections::HashSet<civicgrid_store::KpiQueued> = Default::default();
        loop {
            let dirty = self.repo.kpi_dirty(500).await?;
            // Stop when the queue is empty, or holds only what this run already counted (a
            // record that changed meanwhile has a new mark and is counted again).
            if dirty.iter().all(|d| applied.contains(d)) {
                return Ok(done);
            }
            for queued in dirty {
                if applied.contains(&queued) {
                    continue;
                }
                let Some(source) = sources.iter().find(|s| s.name == queued.source) else {
                    // Left queued for the version that knows the capability.
                    tracing::warn!(source = queued.source, id = %queued.id, "no KPI source of this name");
                    applied.insert(queued);
                    continue;
                };
                let entries = (source.contributions)(self, queued.id).await?;
                self.repo
                    .apply_kpi(&queued.source, &queued.id, queued.marked, &entries)
                    .await?;
                applied.insert(queued);
                done += 1;
            }
        }
    }

    /// The counters of every subject in `scope` for `period`, from the rollups as they stand
    /// (callers refresh them first, once per read: see `kpi_table`).
    pub async fn kpi_rollup(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        Ok(self
            .repo
            .kpi_sum(
                scope.as_str(),
                &period.start.to_string(),
                &period.end.to_string(),
            )
            .await?
            .into_iter()
            .collect())
    }

    /// The counters of every subject for cases in `scope` reported in `period`, recounted
    /// from the events (the check on the rollups).
    pub async fn kpi_recount(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for source in self.kpi_sources.iter() {
            for (subject, counters) in (source.recount)(self, scope, period).await? {
                *out.entry(subject).or_default() += &counters;
            }
        }
        Ok(out)
    }

    /// The assessment table for `scope` (a region code) and `period`, with comparisons.
    pub async fn kpi_table(
        &self,
        scope: &RegionCode,
        period_text: &str,
        kind: Option<&str>,
    ) -> AppResult<KpiTable> {
        let period = Period::parse(period_text)
            .map_err(|e| AppError::Unprocessable(vec![("period".into(), e)]))?;
        if let Some(k) = kind
            && !["unit", "grid", "region", "staff"].contains(&k)
        {
            return Err(AppError::Unprocessable(vec![(
                "kind".into(),
                format!("`{k}` is not unit, grid, region or staff"),
            )]));
        }
        let reference = self.reference().await?;
        if !self.repo.regions().await?.iter().any(|r| &r.code == scope) {
            return Err(AppError::NotFound(format!("region {scope}")));
        }
        self.refresh_kpis().await?;
        let now = self.kpi_rollup(scope, &period).await?;
        let before = match period.previous() {
            Some(p) => self.kpi_rollup(scope, &p).await?,
            None => BTreeMap::new(),
        };
        let year_before = match period.year_before() {
            Some(p) => self.kpi_rollup(scope, &p).await?,
            None => BTreeMap::new(),
        };
        let scheme = self.assessment_scheme().await?;
        let adjustments = self.repo.adjustments(&period_key(&period)).await?;
        // 群众评议: the units' mean rating in this period's surveys, 1–5 scaled to 0–1.
        let ratings_of = |p: Option<Period>| async move {
            match p {
                Some(p) => self.repo.survey_ratings(&period_key(&p)).await,
                None => Ok(BTreeMap::new()),
            }
        };
        let ratings = ratings_of(Some(period)).await?;
        let ratings_before = ratings_of(period.previous()).await?;
        let ratings_year_before = ratings_of(period.year_before()).await?;
        let with_ratings =
            |subject: &Subject, c: &Counters, ratings: &BTreeMap<String, (u64, u64)>| {
                let mut i = Indicators::of(subject.kind(), c.clone());
                if let Subject::Unit(u) = subject
                    && let Some((sum, n)) = ratings.get(u)
                    && *n > 0
                {
                    i.public_evaluation = Some((*sum as f64 / *n as f64 - 1.0) / 4.0);
                }
                i
            };
        let indicators_of = |subject: &Subject, c: &Counters| with_ratings(subject, c, &ratings);
        let score_with = |subject: &Subject, c: &Counters, r: &BTreeMap<String, (u64, u64)>| {
            let i = with_ratings(subject, c, r);
            let weights = scheme.weights_for(subject.kind());
            composite(
                &weights
                    .iter()
                    .map(|(n, w)| (rate(&i, n), *w))
                    .collect::<Vec<_>>(),
            )
        };
        let regions = self.repo.regions().await?;
        let staff_names: BTreeMap<String, String> = if kind.is_none_or(|k| k == "staff") {
            self.repo
                .users()
                .await?
                .into_iter()
                .map(|u| (u.username, u.display_name))
                .collect()
        } else {
            BTreeMap::new()
        };
        let name_of = |s: &Subject| -> String {
            match s {
                Subject::Unit(c) => reference
                    .units
                    .iter()
                    .find(|u| &u.code == c)
                    .map_or_else(|| c.clone(), |u| u.name.clone()),
                Subject::Region(c) => regions
                    .iter()
                    .find(|r| r.code.as_str() == c)
                    .map_or_else(|| c.clone(), |r| r.name.clone()),
                Subject::Grid(c) => c
                    .parse()
                    .map_or_else(|_| c.clone(), |g| reference.place_name(&g)),
                Subject::Staff(c) => staff_names.get(c).cloned().unwrap_or_else(|| c.clone()),
            }
        };
        let mut rows: Vec<KpiRow> = now
            .iter()
            .filter(|(s, _)| kind.is_none_or(|k| s.kind() == k))
            .map(|(s, c)| {
                // Upheld appeals give points back, capped at 100.
                let adjustment: f64 = adjustments
                    .iter()
                    .filter(|a| &a.subject == s)
                    .map(|a| a.points)
                    .sum();
                // Too few cases are no ground for a score: none, no grade, on neither list.
                let enough =
                    |c: &Counters| civicgrid_domain::kpi::volume(s.kind(), c) >= scheme.min_cases;
                let sc = score_with(s, c, &ratings)
                    .filter(|_| enough(c))
                    .map(|x| (x + adjustment).min(100.0));
                KpiRow {
                    adjustment,
                    kind: s.kind().to_owned(),
                    code: s.code().to_owned(),
                    name: name_of(s),
                    indicators: indicators_of(s, c),
                    score: sc.map(|x| (x * 10.0).round() / 10.0),
                    grade: sc.map(|x| grade(x, &scheme.bands)),
                    previous_score: before
                        .get(s)
                        .filter(|c| enough(c))
                        .and_then(|c| score_with(s, c, &ratings_before))
                        .map(|x| (x * 10.0).round() / 10.0),
                    year_before_score: year_before
                        .get(s)
                        .filter(|c| enough(c))
                        .and_then(|c| score_with(s, c, &ratings_year_before))
                        .map(|x| (x * 10.0).round() / 10.0),
                }
            })
            .collect();
        rows.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.code.cmp(&b.code)));
        let mut table = KpiTable {
            scope: scope.to_string(),
            period: period_text.to_owned(),
            start: period.start.to_string(),
            end: period.end.to_string(),
            rows,
            red_list: vec![],
            black_list: vec![],
        };
        // The lists rank the kind of subject the table shows (units when it shows them all).
        (table.red_list, table.black_list) = table.lists_for(kind.unwrap_or("unit"));
        Ok(table)
    }
}

impl App {
    /// The table of a beat (责任网格): its grids, and the beat itself as the sum of its grids.
    pub async fn kpi_beat_table(&self, beat: &str, period_text: &str) -> AppResult<KpiTable> {
        let beats = self.repo.beats().await?;
        let b = beats
            .iter()
            .find(|b| b.code == beat)
            .ok_or_else(|| AppError::NotFound(format!("beat {beat}")))?;
        let mut table = self.kpi_table(&b.region, period_text, Some("grid")).await?;
        let grids: Vec<String> = b.grids.iter().map(|g| g.to_string()).collect();
        table.rows.retain(|r| grids.contains(&r.code));
        let mut total = Counters::default();
        for r in &table.rows {
            total += &r.indicators.counters;
        }
        let scheme = self.assessment_scheme().await?;
        let indicators = Indicators::of("grid", total);
        let score = composite(
            &scheme
                .weights_for("grid")
                .iter()
                .map(|(n, w)| (rate(&indicators, n), *w))
                .collect::<Vec<_>>(),
        );
        table.rows.insert(
            0,
            KpiRow {
                kind: "beat".into(),
                code: b.code.clone(),
                name: b.name.clone(),
                indicators,
                score: score.map(|x| (x * 10.0).round() / 10.0),
                grade: score.map(|x| grade(x, &scheme.bands)),
                previous_score: None,
                year_before_score: None,
                adjustment: 0.0,
            },
        );
        table.scope = format!("beat:{}", b.code);
        table.red_list.clear();
        table.black_list.clear();
        Ok(table)
    }
}

/// A case's stored events as the KPI derivation reads them.
pub fn steps_of(events: &[CaseEvent]) -> Vec<Step> {
    events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let action = match e.payload.get("action").cloned().map(serde_json::from_value) {
                Some(Ok(a)) => a,
                // The report carries no action; it only dates the case.
                _ if i == 0 => civicgrid_domain::case::Action::Register,
                _ => return None,
            };
            Some(Step {
                at: e.at,
                actor: e.actor.clone(),
                action,
                to: e.to,
            })
        })
        .collect()
}

/// The key a period's appeals and score changes are filed under: its days, whatever way the
/// period was written (`2026-10` and `2026-10-01..2026-10-31` are the same).
pub fn period_key(p: &Period) -> String {
    format!("{}..{}", p.start, p.end)
}

pub use exports::{kpi_csv, kpi_geojson, kpi_xlsx};
