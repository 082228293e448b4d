//! Assessment tables: the indicators of every subject (unit, grid, community, staff member)
//! for a scope and period, recounted from the cases' events through `kpi::contributions`,
//! with composite scores, A–E grades, the red and black list, and the same figures for the
//! period before (环比) and a year before (同比).

pub mod jobs;

pub mod cli;

pub mod pages;

pub mod rest;
pub mod views;

use std::collections::{BTreeMap, HashMap};

use civicgrid_domain::case::Case;
use civicgrid_domain::kpi::{
    CaseMeta, Counters, Indicators, Period, Step, Subject, composite, contributions, grade,
};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{CaseEvent, CaseFilter};
use jiff::Timestamp;
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
        let reference = self.reference().await?;
        let tz = reference.calendar.time_zone().clone();
        let mut done = 0;
        let mut applied: std::collections::HashSet<(uuid::Uuid, i64)> = Default::default();
        loop {
            let dirty = self.repo.kpi_dirty(500).await?;
            // Stop when the queue is empty, or holds only what this run already counted (a
            // case that changed meanwhile has a new mark and is counted again).
            if dirty.iter().all(|d| applied.contains(d)) {
                return Ok(done);
            }
            for (id, marked) in dirty {
                if applied.contains(&(id, marked)) {
                    continue;
                }
                let entries = match self.repo.case(&id).await? {
                    Some(case) => {
                        let events = self.repo.case_events(&id).await?;
                        let repeat = self.is_repeat(&case).await?;
                        let day = case.reported_at.to_zoned(tz.clone()).date().to_string();
                        let meta = CaseMeta {
                            channel: case.channel,
                            category: case.category.as_ref(),
                            grid: case.grid.as_ref(),
                            region: &case.region,
                            repeat,
                        };
                        contributions(&meta, &steps_of(&events), &reference.calendar)
                            .into_iter()
                            .map(|(subject, counters)| civicgrid_store::KpiEntry {
                                region: case.region.to_string(),
                                subject,
                                day: day.clone(),
                                counters,
                            })
                            .collect()
                    }
                    None => vec![],
                };
                self.repo.apply_kpi(&id, marked, &entries).await?;
                applied.insert((id, marked));
                done += 1;
            }
        }
    }

    /// A repeat (重复件): an earlier case — by report time, then id — of the same category in
    /// the same grid, reported at most 30 days before.
    async fn is_repeat(&self, case: &Case) -> AppResult<bool> {
        let (Some(category), Some(grid)) = (&case.category, &case.grid) else {
            return Ok(false);
        };
        let earlier = self
            .list_cases(&CaseFilter {
                grid: Some(grid.to_string()),
                category: Some(category.to_string()),
                reported_from: Some(case.reported_at - jiff::SignedDuration::from_hours(24 * 30)),
                reported_to: Some(case.reported_at + jiff::SignedDuration::from_micros(1)),
                limit: 1000,
                ..CaseFilter::default()
            })
            .await?;
        Ok(earlier
            .iter()
            .any(|c| (c.reported_at, c.id) < (case.reported_at, case.id)))
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

    /// Every case reported in [from, to) within `scope`, with its events.
    async fn cases_with_events(
        &self,
        scope: &RegionCode,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<Vec<(Case, Vec<CaseEvent>)>> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .list_cases(&CaseFilter {
                    within: Some(scope.clone()),
                    reported_from: Some(from),
                    reported_to: Some(to),
                    before,
                    limit: 1000,
                    ..CaseFilter::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            let full = page.len() == 1000;
            for c in page {
                let events = self.repo.case_events(&c.id).await?;
                out.push((c, events));
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// The counters of every subject for cases in `scope` reported in `period`, recounted
    /// from the events (the check on the rollups).
    pub async fn kpi_recount(
        &self,
        scope: &RegionCode,
        period: &Period,
    ) -> AppResult<BTreeMap<Subject, Counters>> {
        let reference = self.reference().await?;
        let tz = reference.calendar.time_zone().clone();
        let at = |d: jiff::civil::Date| {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp())
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        let (from, to) = (at(period.start)?, at(period.end)?);
        // A repeat (重复件) is a case whose category and grid match a case reported in the 30
        // days before it; look back that far.
        let lookback = from - jiff::SignedDuration::from_hours(24 * 30);
        let mut cases = self.cases_with_events(scope, lookback, to).await?;
        cases.sort_by_key(|(c, _)| (c.reported_at, c.id));
        let mut last_seen: HashMap<(String, String), Timestamp> = HashMap::new();
        let mut out: BTreeMap<Subject, Counters> = BTreeMap::new();
        for (case, events) in &cases {
            let key = (
                case.category
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                case.grid
                    .as_ref()
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
            );
            let repeat = !key.0.is_empty()
                && !key.1.is_empty()
                && last_seen.get(&key).is_some_and(|t| {
                    case.reported_at.duration_since(*t) <= jiff::SignedDuration::from_hours(24 * 30)
                });
            last_seen.insert(key, case.reported_at);
            if case.reported_at < from {
                continue;
            }
            let steps = steps_of(events);
            let meta = CaseMeta {
                channel: case.channel,
                category: case.category.as_ref(),
                grid: case.grid.as_ref(),
                region: &case.region,
                repeat,
            };
            for (subject, counters) in contributions(&meta, &steps, &reference.calendar) {
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
                Subject::Grid(c) | Subject::Staff(c) => c.clone(),
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
                let sc = score_with(s, c, &ratings).map(|x| (x + adjustment).min(100.0));
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
                        .and_then(|c| score_with(s, c, &ratings_before))
                        .map(|x| (x * 10.0).round() / 10.0),
                    year_before_score: year_before
                        .get(s)
                        .and_then(|c| score_with(s, c, &ratings_year_before))
                        .map(|x| (x * 10.0).round() / 10.0),
                }
            })
            .collect();
        rows.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.code.cmp(&b.code)));
        let mut units: Vec<&KpiRow> = rows
            .iter()
            .filter(|r| r.kind == "unit" && r.indicators.counters.received > 0)
            .filter(|r| r.score.is_some())
            .collect();
        units.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.code.cmp(&b.code))
        });
        let red_list = units.iter().take(3).map(|r| r.name.clone()).collect();
        let black_list = units.iter().rev().take(3).map(|r| r.name.clone()).collect();
        Ok(KpiTable {
            scope: scope.to_string(),
            period: period_text.to_owned(),
            start: period.start.to_string(),
            end: period.end.to_string(),
            rows,
            red_list,
            black_list,
        })
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

/// The table as CSV with Chinese and English headers.
pub fn kpi_csv(table: &KpiTable) -> String {
    let header = [
        "类型 kind",
        "代码 code",
        "名称 name",
        "得分 score",
        "等级 grade",
        "环比 previous",
        "同比 year before",
        "上报 reported",
        "接收 received",
        "处置 handled",
        "按期处置 handled on time",
        "超期 overdue",
        "返工 reworked",
        "退回 sent back",
        "结案 closed",
        "按期结案 closed on time",
        "响应率 response rate",
        "解决率 resolution rate",
        "满意率 satisfaction rate",
        "平均处置工时(分) avg handling min",
        "P90处置工时(分) p90 handling min",
        "重复件率 repeat rate",
        "有效上报率 valid report rate",
    ];
    let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let rows = table.rows.iter().map(|r| {
        let i = &r.indicators;
        let c = &i.counters;
        vec![
            r.kind.clone(),
            r.code.clone(),
            r.name.clone(),
            r.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            r.grade.map(String::from).unwrap_or_default(),
            r.previous_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            r.year_before_score
                .map(|s| format!("{s:.1}"))
                .unwrap_or_default(),
            c.reported.to_string(),
            c.received.to_string(),
            c.handled.to_string(),
            c.handled_on_time.to_string(),
            c.overdue.to_string(),
            c.reworked_cases.to_string(),
            c.sent_back.to_string(),
            c.closed.to_string(),
            c.closed_on_time.to_string(),
            f(i.response_rate),
            f(i.resolution_rate),
            f(i.satisfaction_rate),
            f(i.average_handling_minutes),
            i.p90_handling_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            f(i.repeat_rate),
            f(i.valid_report_rate),
        ]
    });
    crate::interchange::csv_table::write(&header, rows)
}

/// The table as an XLSX workbook: Chinese and English headers, rates as percentages, the
/// header row frozen, one sheet.
pub fn kpi_xlsx(table: &KpiTable) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Color, Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| AppError::Invalid(format!("xlsx: {e}"));
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet
        .set_name(format!(
            "考核 {}",
            table
                .period
                .replace(['/', ':', '?', '*', '[', ']', '\\'], "-")
        ))
        .map_err(err)?;
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color(Color::RGB(0xDDEBF7));
    let percent = Format::new().set_num_format("0.0%");
    let one_decimal = Format::new().set_num_format("0.0");
    let columns: [(&str, f64); 16] = [
        ("类型\nkind", 8.0),
        ("代码\ncode", 18.0),
        ("名称\nname", 24.0),
        ("得分\nscore", 8.0),
        ("等级\ngrade", 6.0),
        ("环比\nprevious", 9.0),
        ("同比\nyear before", 9.0),
        ("接收\nreceived", 9.0),
        ("上报\nreported", 9.0),
        ("结案\nclosed", 9.0),
        ("响应率\nresponse", 10.0),
        ("解决率\nresolution", 10.0),
        ("满意率\nsatisfaction", 10.0),
        ("按期处置率\non-time handling", 12.0),
        ("返工率\nrework", 10.0),
        ("平均处置工时(分)\navg handling min", 14.0),
    ];
    for (col, (title, width)) in columns.iter().enumerate() {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        sheet
            .write_string_with_format(0, col, *title, &header)
            .map_err(err)?;
        sheet.set_column_width(col, *width).map_err(err)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    for (i, r) in table.rows.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let ind = &r.indicators;
        sheet.write_string(row, 0, &r.kind).map_err(err)?;
        sheet.write_string(row, 1, &r.code).map_err(err)?;
        sheet.write_string(row, 2, &r.name).map_err(err)?;
        let numbers: [(u16, Option<f64>, &Format); 13] = [
            (3, r.score, &one_decimal),
            (5, r.previous_score, &one_decimal),
            (6, r.year_before_score, &one_decimal),
            (7, Some(ind.counters.received as f64), &Format::new()),
            (8, Some(ind.counters.reported as f64), &Format::new()),
            (9, Some(ind.counters.closed as f64), &Format::new()),
            (10, ind.response_rate, &percent),
            (11, ind.resolution_rate, &percent),
            (12, ind.satisfaction_rate, &percent),
            (13, ind.on_time_handling_rate, &percent),
            (14, ind.rework_rate, &percent),
            (15, ind.average_handling_minutes, &one_decimal),
            (4, None, &Format::new()),
        ];
        for (col, value, format) in numbers {
            if let Some(v) = value {
                sheet
                    .write_number_with_format(row, col, v, format)
                    .map_err(err)?;
            }
        }
        if let Some(g) = r.grade {
            sheet.write_string(row, 4, g.to_string()).map_err(err)?;
        }
    }
    workbook.save_to_buffer().map_err(err)
}

/// The grids of the scope as GeoJSON, each with its indicators as properties.
pub fn kpi_geojson(
    table: &KpiTable,
    grids: &[civicgrid_domain::territory::Grid],
) -> serde_json::Value {
    let by_code: HashMap<&str, &KpiRow> = table
        .rows
        .iter()
        .filter(|r| r.kind == "grid")
        .map(|r| (r.code.as_str(), r))
        .collect();
    let features: Vec<serde_json::Value> = grids
        .iter()
        .map(|g| {
            let mut properties = serde_json::json!({
                "code": g.code.as_str(),
                "name": g.name,
                "region": g.region.as_str(),
                "period": table.period,
            });
            if let (Some(r), Some(p)) = (by_code.get(g.code.as_str()), properties.as_object_mut()) {
                p.insert("score".into(), serde_json::json!(r.score));
                p.insert("grade".into(), serde_json::json!(r.grade.map(String::from)));
                if let Ok(serde_json::Value::Object(ind)) = serde_json::to_value(&r.indicators) {
                    for (k, v) in ind {
                        if k == "counters" {
                            if let serde_json::Value::Object(c) = v {
                                for (ck, cv) in c {
                                    if ck != "handling_histogram" {
                                        p.insert(ck, cv);
                                    }
                                }
                            }
                        } else {
                            p.insert(k, v);
                        }
                    }
                }
            }
            serde_json::json!({
                "type": "Feature",
                "id": g.code.as_str(),
                "properties": properties,
                "geometry": civicgrid_store::multipolygon_to_json(&g.geometry),
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

/// The key a period's appeals and score changes are filed under: its days, whatever way the
/// period was written (`2026-10` and `2026-10-01..2026-10-31` are the same).
pub fn period_key(p: &Period) -> String {
    format!("{}..{}", p.start, p.end)
}

impl App {
    /// Appeals and surveys are staff business: refused before anything else is looked at.
    fn staff_only(actor: &crate::cases::Actor, what: &str) -> AppResult<()> {
        match actor {
            crate::cases::Actor::Staff { .. } => Ok(()),
            _ => Err(AppError::Forbidden(format!("{what} are for staff"))),
        }
    }

    /// The region a subject belongs to, for permission checks; None if there is no such subject.
    async fn subject_region(&self, subject: &Subject) -> AppResult<Option<RegionCode>> {
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
