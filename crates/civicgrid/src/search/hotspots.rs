//! Hotspots (热点) of a region over a period: the cases about one matter in one place,
//! clustered by the domain (`civicgrid_domain::text::hotspots`) from their text (weighted by
//! the index's term frequencies), place and time; each with its label, grids, trend and why.

use std::collections::HashMap;

use civicgrid_domain::kpi::Period;
use civicgrid_domain::territory::RegionCode;
use civicgrid_domain::text::hotspots::{HotspotCase, HotspotRules, Trend, hotspots};
use civicgrid_domain::text::search::document_postings;
use civicgrid_domain::text::similar::weighted;
use civicgrid_store::CaseFilter;
use serde::Serialize;

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};

/// The longest period clustered, in days.
const MAX_DAYS: i32 = 366;
/// Cases read for one region and period at most.
pub const MAX_CASES: usize = 20_000;

/// A hotspot as the API and the command line give it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HotspotView {
    /// Its heaviest shared terms.
    pub label: Vec<String>,
    /// How many cases.
    pub size: usize,
    /// The receipt codes of its cases the reader may read, oldest first.
    pub receipt_codes: Vec<String>,
    pub grids: Vec<String>,
    /// The grids' names, as the workbench shows them.
    pub places: Vec<String>,
    pub first_reported_at: jiff::Timestamp,
    pub last_reported_at: jiff::Timestamp,
    /// `rising`, `easing` or `steady`: the period's second half against its first.
    #[schema(value_type = String)]
    pub trend: Trend,
    /// Cases in the first and the second half of the period.
    pub halves: [usize; 2],
    /// Why its cases belong together, in words.
    pub why: String,
    /// Where it is: the mean of its placed cases (lon, lat).
    pub centre: Option<[f64; 2]>,
    /// The farthest apart two placed cases are, in metres.
    pub span_m: f64,
    /// The mean text similarity (0–1) of the links that joined it.
    pub mean_text: f64,
}

/// A period too large to cluster at once.
fn too_many() -> AppError {
    AppError::Unprocessable(vec![(
        "period".into(),
        format!(
            "more than {MAX_CASES} cases were reported in it here: choose a shorter period or a smaller scope"
        ),
    )])
}

impl App {
    /// The hotspots of `scope` over `period` (`2026-11`, `2026-W45`, …), largest first. The
    /// receipt codes listed are those `actor` may read (all for the command line, `None`).
    pub async fn hotspots(
        &self,
        scope: &RegionCode,
        period: &str,
        actor: Option<&Actor>,
    ) -> AppResult<Vec<HotspotView>> {
        let period = Period::parse(period)
            .map_err(|e| AppError::Unprocessable(vec![("period".into(), e)]))?;
        if (period.end - period.start).get_days() > MAX_DAYS {
            return Err(AppError::Unprocessable(vec![(
                "period".into(),
                format!("at most {MAX_DAYS} days"),
            )]));
        }
        let reference = self.reference().await?;
        let tz = reference.calendar.time_zone().clone();
        let at = |d: jiff::civil::Date| {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp())
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        let (from, to) = (at(period.start)?, at(period.end)?);
        let (cases, more) = self
            .cases_matching(
                &CaseFilter {
                    within: Some(scope.clone()),
                    reported_from: Some(from),
                    reported_to: Some(to),
                    ..CaseFilter::default()
                },
                MAX_CASES,
            )
            .await?;
        if more {
            return Err(too_many());
        }
        self.hotspots_among(cases, from, to, actor).await
    }

    /// The hotspots among `cases`, reported in [from, to) (a caller that has read them
    /// already, as the dashboard has): at most [`MAX_CASES`].
    pub async fn hotspots_among(
        &self,
        mut cases: Vec<civicgrid_domain::case::Case>,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        actor: Option<&Actor>,
    ) -> AppResult<Vec<HotspotView>> {
        if cases.len() > MAX_CASES {
            return Err(too_many());
        }
        let reference = self.reference().await?;
        cases.retain(|c| c.state.status != civicgrid_domain::case::Status::Merged);
        let places = self.place_names().await?;
        let postings: Vec<Vec<(String, u32)>> = cases
            .iter()
            .map(|c| document_postings(&c.description, &places).0)
            .collect();
        let mut terms: Vec<String> = postings.iter().flatten().map(|(t, _)| t.clone()).collect();
        terms.sort();
        terms.dedup();
        let (_, idfs) = self.term_weights(terms).await?;
        let input: Vec<HotspotCase> = cases
            .iter()
            .zip(&postings)
            .map(|(c, p)| HotspotCase {
                id: c.id,
                grid: c.grid.as_ref().map(|g| g.to_string()),
                location: c.location,
                at: c.reported_at,
                terms: weighted(p, &idfs),
            })
            .collect();
        let rules = HotspotRules::default();
        let by_id: HashMap<uuid::Uuid, &civicgrid_domain::case::Case> =
            cases.iter().map(|c| (c.id, c)).collect();
        // Clustering is CPU work: off the request threads.
        let found = tokio::task::spawn_blocking(move || hotspots(&input, rules, from, to))
            .await
            .map_err(|e| AppError::Invalid(format!("the hotspots could not be computed: {e}")))?;
        Ok(found
            .into_iter()
            .map(|h| {
                let mut members: Vec<&civicgrid_domain::case::Case> =
                    h.cases.iter().filter_map(|id| by_id.get(id).copied()).collect();
                members.sort_by_key(|c| c.reported_at);
                let placed: Vec<(f64, f64)> = members.iter().filter_map(|c| c.location).collect();
                let centre = (!placed.is_empty()).then(|| {
                    let n = placed.len() as f64;
                    [
                        placed.iter().map(|p| p.0).sum::<f64>() / n,
                        placed.iter().map(|p| p.1).sum::<f64>() / n,
                    ]
                });
                HotspotView {
                    why: format!(
                        "{} cases at most {:.0} m apart where placed (linked when within {:.0} m, or in the same grid when unplaced), sharing the words {} (mean text similarity {:.2}), reported {} to {}",
                        members.len(),
                        h.span_m,
                        rules.within_m,
                        h.label.join(", "),
                        h.mean_text,
                        h.first.strftime("%Y-%m-%d"),
                        h.last.strftime("%Y-%m-%d"),
                    ),
                    span_m: (h.span_m * 10.0).round() / 10.0,
                    mean_text: (h.mean_text * 1000.0).round() / 1000.0,
                    label: h.label,
                    size: members.len(),
                    receipt_codes: members
                        .iter()
                        .filter(|c| {
                            actor.is_none_or(|a| reference.policy().may_read_case(a, c).is_ok())
                        })
                        .map(|c| c.receipt_code.clone())
                        .collect(),
                    places: h
                        .grids
                        .iter()
                        .filter_map(|g| g.parse().ok())
                        .map(|g| reference.place_name(&g))
                        .collect(),
                    grids: h.grids,
                    first_reported_at: h.first,
                    last_reported_at: h.last,
                    trend: h.trend,
                    halves: [h.halves.0, h.halves.1],
                    centre,
                }
            })
            .collect())
    }
}
