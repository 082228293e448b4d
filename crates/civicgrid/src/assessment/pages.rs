//! The leader dashboard: today's intake, open and overdue cases by unit and by grid, the three
//! rates (响应率, 解决率, 满意率), a grid map shaded by load and the monthly trend, all drawn as
//! SVG on the server, over the cases in the leader's regions.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use civicgrid_domain::access::Permission;
use civicgrid_domain::case::{Case, Status};
use civicgrid_domain::territory::RegionCode;
use serde_json::json;

use crate::App;
use crate::cases::Actor;
use crate::error::AppError;
use crate::web::Pages;
use crate::web::svg::{ChartText, MapGrid, MapText, bar_chart, grid_map, line_chart};
use crate::web::{Ctx, form_map};

pub const TEMPLATES: &[(&str, &str)] = &[
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("kpi.html", include_str!("templates/kpi.html")),
    ("indicators.html", include_str!("templates/indicators.html")),
    ("survey.html", include_str!("templates/survey.html")),
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard", get(dashboard))
        .route("/kpi", get(kpi_page))
        .route("/kpi/export.csv", get(kpi_export))
        .route("/kpi/indicators", get(indicators_page))
        .route("/surveys/{id}", get(survey_form).post(survey_answer))
}

/// How each indicator is computed, in the reader's language: the published rules units are
/// assessed by, so anyone may read them.
async fn indicators_page(State(app): State<App>, ctx: Ctx) -> Response {
    let scheme = match app.assessment_scheme().await {
        Ok(s) => s,
        Err(e) => return ctx.app_error(e),
    };
    let mut names: Vec<&str> = Vec::new();
    for kind in civicgrid_domain::kpi::SUBJECT_KINDS {
        for i in civicgrid_domain::kpi::indicators_for(kind) {
            if !names.contains(i) {
                names.push(i);
            }
        }
    }
    let rows: Vec<serde_json::Value> = names
        .iter()
        .map(|i| {
            let kinds: Vec<String> = civicgrid_domain::kpi::SUBJECT_KINDS
                .iter()
                .filter(|k| civicgrid_domain::kpi::indicators_for(k).contains(i))
                .map(|k| ctx.t(&format!("kpi-kind-{k}")))
                .collect();
            json!({"id": i, "name": ctx.t(&format!("ind-{i}")), "formula": ctx.t(&format!("formula-{i}")), "kinds": kinds.join("、")})
        })
        .collect();
    ctx.render(
        "indicators.html",
        json!({"rows": rows, "min_cases": scheme.min_cases}),
    )
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

async fn dashboard(State(app): State<App>, ctx: Ctx) -> Response {
    let Some(actor @ Actor::Staff { .. }) = ctx.staff().cloned() else {
        return crate::web::see_other("/login");
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    // The regions this leader reads figures for.
    let regions: Vec<RegionCode> = reference.policy().regions_with(&actor, Permission::KpiRead);
    if regions.is_empty() {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    }
    let now = app.clock.now();
    let since = now - jiff::SignedDuration::from_hours(24 * 183);
    let mut cases: Vec<Case> = Vec::new();
    for region in &regions {
        match app
            .cases_matching(
                &civicgrid_store::CaseFilter {
                    within: Some(region.clone()),
                    reported_from: Some(since),
                    ..Default::default()
                },
                usize::MAX,
            )
            .await
        {
            Ok((found, _)) => cases.extend(found),
            Err(e) => return ctx.app_error(e),
        }
    }
    cases.sort_by_key(|c| c.id);
    cases.dedup_by_key(|c| c.id);

    let tz = ctx.tz.clone();
    let today = now.to_zoned(tz.clone()).date();
    let today_intake = cases
        .iter()
        .filter(|c| c.reported_at.to_zoned(tz.clone()).date() == today)
        .count();
    let open: Vec<&Case> = cases.iter().filter(|c| c.state.status.is_open()).collect();
    let overdue: Vec<&&Case> = open
        .iter()
        .filter(|c| c.state.status != Status::Shelved && c.clock.is_some_and(|k| k.due_at < now))
        .collect();
    let unit_name = |code: &str| {
        reference
            .units
            .iter()
            .find(|u| u.code == code)
            .map_or_else(|| code.to_owned(), |u| u.name.clone())
    };
    let mut by_unit: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_grid: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &open {
        let late = c.state.status != Status::Shelved && c.clock.is_some_and(|k| k.due_at < now);
        let unit = c
            .state
            .lead()
            .or_else(|| c.routed_units.first().map(String::as_str))
            .map_or_else(|| ctx.t("dash-unrouted"), unit_name);
        let e = by_unit.entry(unit).or_default();
        e.0 += 1;
        e.1 += usize::from(late);
        if let Some(g) = &c.grid {
            let e = by_grid.entry(g.to_string()).or_default();
            e.0 += 1;
            e.1 += usize::from(late);
        }
    }
    let mut unit_rows: Vec<(String, (usize, usize))> = by_unit.into_iter().collect();
    unit_rows.sort_by_key(|r| std::cmp::Reverse(r.1.0));
    let mut grid_rows: Vec<(String, (usize, usize))> = by_grid.clone().into_iter().collect();
    grid_rows.sort_by_key(|r| std::cmp::Reverse(r.1.0));
    grid_rows.truncate(12);

    // The three rates of the last 30 days, from the assessment rollups (docs/KPIS.md), so that
    // the dashboard and the assessment tables say the same thing.
    let last_30 = civicgrid_domain::kpi::Period {
        start: today
            .checked_sub(jiff::Span::new().days(29))
            .unwrap_or(today),
        end: today.tomorrow().unwrap_or(today),
    };
    let mut places = civicgrid_domain::kpi::Counters::default();
    // Party building by community and grid, from the same rollups: contact coverage, wishes
    // and volunteer hours.
    let mut by_community: BTreeMap<String, civicgrid_domain::kpi::Counters> = BTreeMap::new();
    let mut coverage_by_grid: BTreeMap<String, civicgrid_domain::kpi::Counters> = BTreeMap::new();
    if let Err(e) = app.refresh_kpis().await {
        return ctx.app_error(e);
    }
    for region in &regions {
        match app.kpi_rollup(region, &last_30).await {
            Ok(sums) => {
                for (subject, c) in &sums {
                    match subject {
                        civicgrid_domain::kpi::Subject::Region(code) => {
                            places += c;
                            *by_community.entry(code.clone()).or_default() += c;
                        }
                        civicgrid_domain::kpi::Subject::Grid(code) => {
                            *coverage_by_grid.entry(code.clone()).or_default() += c;
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => return ctx.app_error(e),
        }
    }
    let party_rows: Vec<serde_json::Value> = by_community
        .iter()
        .map(|(code, c)| {
            let i = civicgrid_domain::kpi::Indicators::of("region", c.clone());
            json!({
                "code": code,
                "name": code.parse().map_or_else(|_| code.clone(), |r| reference.region_name(&r)),
                "coverage": percent(i.contact_coverage),
                "contacts": format!("{}/{}", c.contacts_made, c.contacts_due),
                "wishes": format!("{}/{}", c.wishes_fulfilled, c.wishes_posted),
                "escalated": c.wishes_escalated,
                "hours": civicgrid_domain::volunteer::hours_text(c.volunteer_minutes),
            })
        })
        .collect();
    let r = civicgrid_domain::kpi::Indicators::of("region", places);

    // Monthly trend: reports, and how many of them are resolved by now.
    let mut months: BTreeMap<(i16, i8), (f64, f64)> = BTreeMap::new();
    for c in &cases {
        let d = c.reported_at.to_zoned(tz.clone()).date();
        let e = months.entry((d.year(), d.month())).or_default();
        e.0 += 1.0;
        if matches!(c.state.status, Status::Closed | Status::Evaluated) {
            e.1 += 1.0;
        }
    }
    let labels: Vec<String> = months.keys().map(|(y, m)| format!("{y}-{m:02}")).collect();
    // This month is still running: the chart says so rather than show a fall.
    let today = app.clock.now().to_zoned(tz.clone()).date();
    let running = months
        .keys()
        .last()
        .filter(|(y, m)| *y == today.year() && *m == today.month())
        .map(|(y, m)| {
            crate::web::i18n::t(
                ctx.lang,
                "dash-partial",
                &[("period", format!("{y}-{m:02}"))],
            )
        });
    let trend = line_chart(
        &ChartText {
            title: &ctx.t("dash-trend"),
            x_axis: &ctx.t("dash-axis-month"),
            y_axis: &ctx.t("dash-axis-cases"),
            partial: running.as_deref(),
        },
        &labels,
        &[
            (
                ctx.t("dash-reported"),
                months.values().map(|v| v.0).collect(),
            ),
            (
                ctx.t("dash-resolved"),
                months.values().map(|v| v.1).collect(),
            ),
        ],
    );
    let unit_chart = bar_chart(
        &ctx.t("dash-open-by-unit"),
        &unit_rows
            .iter()
            .take(12)
            .map(|(u, (n, _))| (u.clone(), *n as f64))
            .collect::<Vec<_>>(),
        "",
    );
    // The hotspots of the last 30 days (search/hotspots.rs), among the cases read above:
    // marked on the map, listed with why their cases belong together.
    let hotspot_from = today
        .checked_sub(jiff::Span::new().days(29))
        .unwrap_or(today)
        .to_zoned(tz.clone())
        .map_or(since, |z| z.timestamp());
    let recent: Vec<Case> = cases
        .iter()
        .filter(|c| c.reported_at >= hotspot_from)
        .cloned()
        .collect();
    let (mut hotspots, hotspots_too_many) = match app
        .hotspots_among(recent, hotspot_from, now, Some(&actor))
        .await
    {
        Ok(found) => (found, false),
        // Too many cases to cluster on a page: the hotspots command and REST take a
        // narrower scope.
        Err(crate::error::AppError::Unprocessable(_)) => (Vec::new(), true),
        Err(e) => return ctx.app_error(e),
    };
    hotspots.sort_by_key(|h| std::cmp::Reverse(h.size));
    hotspots.truncate(5);
    let hotspot_markers: Vec<crate::web::svg::Marker> = hotspots
        .iter()
        .filter_map(|h| {
            let [lon, lat] = h.centre?;
            Some(crate::web::svg::Marker {
                lon,
                lat,
                label: format!("{}（{}）", h.label.join("、"), h.size),
                href: None,
            })
        })
        .collect();
    let hotspot_rows: Vec<serde_json::Value> = hotspots
        .iter()
        .map(|h| {
            json!({
                "label": h.label.join("、"),
                "size": h.size,
                "places": h.places.join("、"),
                "trend": h.trend,
                "span": format!("{:.0}", h.span_m),
                "similarity": format!("{:.2}", h.mean_text),
                "codes": h.receipt_codes.iter().take(8).cloned().collect::<Vec<_>>().join(" "),
            })
        })
        .collect();
    let grids = match app.repo.grids(None).await {
        Ok(g) => g,
        Err(e) => return ctx.app_error(e.into()),
    };
    let max = by_grid.values().map(|v| v.0).max().unwrap_or(0).max(1) as f64;
    let map = grid_map(
        &grids
            .iter()
            .filter(|g| regions.iter().any(|r| r.contains(&g.region)))
            .map(|g| {
                let n = by_grid.get(g.code.as_str()).map_or(0, |v| v.0);
                MapGrid {
                    fill: None,
                    code: g.code.as_str(),
                    name: &g.name,
                    community: reference.region_names.get(&g.region).map(String::as_str),
                    geometry: &g.geometry,
                    shade: Some(n as f64 / max),
                    note: format!("{n}"),
                    // A grid leads to its open cases.
                    href: Some(format!("/cases?grid={}&status=open", g.code)),
                }
            })
            .collect::<Vec<_>>(),
        &hotspot_markers,
        &MapText {
            title: &ctx.t("dash-map"),
            legend: [
                ("shade-low", ctx.t("legend-fewer-open")),
                ("shade-high", ctx.t("legend-more-open")),
                ("link", ctx.t("legend-open-cases")),
            ]
            .into_iter()
            .chain((!hotspot_markers.is_empty()).then(|| ("marker", ctx.t("legend-hotspot"))))
            .collect(),
            skip: Some(ctx.t("map-skip")),
        },
    );
    // The grids shaded by contact coverage (the table beside it leads to the boards; one map
    // with links per page keeps its skip link unique).
    let coverage_map = grid_map(
        &grids
            .iter()
            .filter(|g| regions.iter().any(|r| r.contains(&g.region)))
            .map(|g| {
                let share = coverage_by_grid.get(g.code.as_str()).and_then(|c| {
                    civicgrid_domain::kpi::Indicators::of("grid", c.clone()).contact_coverage
                });
                MapGrid {
                    fill: None,
                    code: g.code.as_str(),
                    name: &g.name,
                    community: reference.region_names.get(&g.region).map(String::as_str),
                    geometry: &g.geometry,
                    shade: share,
                    note: percent(share),
                    href: None,
                }
            })
            .collect::<Vec<_>>(),
        &[],
        &MapText {
            title: &ctx.t("dash-coverage-map"),
            legend: vec![
                ("shade-low", ctx.t("legend-coverage-low")),
                ("shade-high", ctx.t("legend-coverage-high")),
            ],
            skip: None,
        },
    );
    ctx.render(
        "dashboard.html",
        json!({
            "party": party_rows,
            "hotspots": hotspot_rows,
            "hotspots_too_many": hotspots_too_many,
            "coverage_map": coverage_map,
            "today_intake": today_intake,
            "open": open.len(),
            "overdue": overdue.len(),
            "response_rate": percent(r.response_rate),
            "resolution_rate": percent(r.resolution_rate),
            "satisfaction_rate": percent(r.satisfaction_rate),
            "units": unit_rows.iter().map(|(u, (n, late))| json!({"name": u, "open": n, "overdue": late})).collect::<Vec<_>>(),
            "grids": grid_rows.iter().map(|(g, (n, late))| json!({"code": g, "name": g.parse().map_or_else(|_| g.to_string(), |code| reference.place_name(&code)), "open": n, "overdue": late})).collect::<Vec<_>>(),
            "trend": trend,
            "unit_chart": unit_chart,
            "map": map,
            "map_config": app.map_config(&ctx, crate::territory::map::MapConfig { pick: false, cases: Some("/map/cases.geojson?status=open") }),
        }),
    )
}

/// The indicators a grid map can be shaded by: a place's.
fn map_indicators() -> &'static [&'static str] {
    civicgrid_domain::kpi::indicators_for("grid")
}

fn indicator(i: &civicgrid_domain::kpi::Indicators, name: &str) -> Option<f64> {
    let c = &i.counters;
    match name {
        "reported" => Some(c.reported as f64),
        "received" => Some(c.received as f64),
        "patrol_reports" => Some(c.patrol_reports as f64),
        "response_rate" => i.response_rate,
        "resolution_rate" => i.resolution_rate,
        "satisfaction_rate" => i.satisfaction_rate,
        "on_time_handling_rate" => i.on_time_handling_rate,
        "rework_rate" => i.rework_rate,
        "send_back_rate" => i.send_back_rate,
        "closure_rate" => i.closure_rate,
        "on_time_closure_rate" => i.on_time_closure_rate,
        "average_handling_minutes" => i.average_handling_minutes,
        "repeat_rate" => i.repeat_rate,
        "resident_share" => i.resident_share,
        "public_evaluation" => i.public_evaluation,
        "valid_report_rate" => i.valid_report_rate,
        "on_time_verification_rate" => i.on_time_verification_rate,
        "on_time_acceptance_rate" => i.on_time_acceptance_rate,
        "accurate_acceptance_rate" => i.accurate_acceptance_rate,
        "on_time_dispatch_rate" => i.on_time_dispatch_rate,
        "accurate_dispatch_rate" => i.accurate_dispatch_rate,
        "contact_coverage" => i.contact_coverage,
        "wish_fulfilment_rate" => i.wish_fulfilment_rate,
        "average_wish_days" => i.average_wish_days,
        "volunteer_hours" => i.volunteer_hours,
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
        "repeat_dispute_rate" => i.repeat_dispute_rate,
        "median_mediation_days" => i.median_mediation_days.map(|d| d as f64),
        _ => None,
    }
}

fn shown(name: &str, v: Option<f64>) -> String {
    match v {
        None => "—".to_owned(),
        Some(v)
            if name.ends_with("_rate")
                || name.ends_with("_share")
                || name.ends_with("_coverage")
                || name == "public_evaluation" =>
        {
            format!("{:.1}%", v * 100.0)
        }
        Some(v) if name == "volunteer_hours" || name == "average_wish_days" => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    }
}

#[derive(serde::Deserialize, Default)]
struct KpiQuery {
    scope: Option<String>,
    period: Option<String>,
    kind: Option<String>,
    indicator: Option<String>,
    grid: Option<String>,
}

/// The scopes this user reads figures for (regions of kpi.read grants and those under them).
async fn readable_scopes(
    app: &App,
    ctx: &Ctx,
) -> Result<Vec<civicgrid_domain::territory::Region>, Response> {
    let Some(actor @ Actor::Staff { .. }) = ctx.staff() else {
        return Err(crate::web::see_other("/login"));
    };
    let reference = app.reference().await.map_err(|e| ctx.app_error(e))?;
    let roots: Vec<RegionCode> = reference.policy().regions_with(actor, Permission::KpiRead);
    if roots.is_empty() {
        return Err(ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden")));
    }
    let regions = app
        .repo
        .regions()
        .await
        .map_err(|e| ctx.app_error(e.into()))?;
    Ok(regions
        .into_iter()
        .filter(|r| roots.iter().any(|root| root.contains(&r.code)))
        .collect())
}

async fn kpi_page(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<KpiQuery>,
) -> Response {
    let scopes = match readable_scopes(&app, &ctx).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(first) = scopes.first() else {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    };
    let scope_code = q.scope.clone().unwrap_or_else(|| first.code.to_string());
    let Some(scope) = scopes.iter().find(|r| r.code.as_str() == scope_code) else {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    };
    // The page opens on the last complete month: the current one is still filling up.
    let now = app.clock.now().to_zoned(ctx.tz.clone());
    let last_month = now
        .date()
        .first_of_month()
        .yesterday()
        .unwrap_or(now.date());
    let period = q
        .period
        .clone()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| format!("{}-{:02}", last_month.year(), last_month.month()));
    let kind = q
        .kind
        .clone()
        .filter(|k| ["unit", "region", "grid", "staff"].contains(&k.as_str()))
        .unwrap_or_else(|| "unit".into());
    let chosen = q
        .indicator
        .clone()
        .filter(|i| map_indicators().contains(&i.as_str()))
        .unwrap_or_else(|| "reported".into());
    let columns = civicgrid_domain::kpi::indicators_for(&kind);
    let scheme = match app.assessment_scheme().await {
        Ok(s) => s,
        Err(e) => return ctx.app_error(e),
    };
    let base = json!({
        "scopes": scopes.iter().map(|r| json!({"code": r.code.as_str(), "name": r.name})).collect::<Vec<_>>(),
        "scope": scope.code.as_str(),
        "scope_name": scope.name,
        "period": period,
        "kind": kind,
        "indicator": chosen,
        "indicators": map_indicators(),
        "columns": columns,
        "min_cases": scheme.min_cases,
    });
    let table = match app.kpi_table(&scope.code, &period, None).await {
        Ok(t) => t,
        Err(crate::error::AppError::Unprocessable(_)) => {
            let mut v = base;
            if let Some(o) = v.as_object_mut() {
                o.insert("error".into(), json!(ctx.t("err-period")));
            }
            return ctx.render_status(StatusCode::UNPROCESSABLE_ENTITY, "kpi.html", v);
        }
        Err(e) => return ctx.app_error(e),
    };
    // The map: every grid of the scope, shaded by the chosen indicator.
    let grid_values: BTreeMap<String, f64> = table
        .rows
        .iter()
        .filter(|r| r.kind == "grid")
        .filter_map(|r| indicator(&r.indicators, &chosen).map(|v| (r.code.clone(), v)))
        .collect();
    let max = grid_values
        .values()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let grids = match app.repo.grids(Some(&scope.code)).await {
        Ok(g) => g,
        Err(e) => return ctx.app_error(e.into()),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let map = grid_map(
        &grids
            .iter()
            .map(|g| MapGrid {
                fill: None,
                code: g.code.as_str(),
                name: &g.name,
                community: reference.region_names.get(&g.region).map(String::as_str),
                geometry: &g.geometry,
                shade: grid_values.get(g.code.as_str()).map(|v| v / max),
                note: shown(&chosen, grid_values.get(g.code.as_str()).copied()),
                href: Some(format!(
                    "/kpi?scope={}&period={period}&kind=grid&indicator={chosen}&grid={}",
                    scope.code, g.code
                )),
            })
            .collect::<Vec<_>>(),
        &[],
        &MapText {
            title: &ctx.t("kpi-map"),
            legend: vec![
                ("shade-low", ctx.t("legend-low")),
                ("shade-high", ctx.t("legend-high")),
                ("link", ctx.t("legend-drill")),
            ],
            skip: Some(ctx.t("map-skip")),
        },
    );
    let rows: Vec<serde_json::Value> = table
        .rows
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| {
            let link = match r.kind.as_str() {
                // Drill down: a community to its grids, a grid to its cases.
                "region" => Some(format!("/kpi?scope={}&period={period}&kind=grid&indicator={chosen}", r.code)),
                "grid" => Some(format!("/kpi?scope={}&period={period}&kind=grid&indicator={chosen}&grid={}", scope.code, r.code)),
                _ => None,
            };
            json!({
                "name": r.name,
                "code": r.code,
                "link": link,
                "score": r.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                "grade": r.grade.map(String::from).unwrap_or_default(),
                "previous": r.previous_score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                "year_before": r.year_before_score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                "values": columns.iter().map(|i| shown(i, indicator(&r.indicators, i))).collect::<Vec<_>>(),
            })
        })
        .collect();
    // The cases behind a grid's figures.
    let cases = match q.grid.as_deref() {
        Some(grid) => {
            let p = match civicgrid_domain::kpi::Period::parse(&period) {
                Ok(p) => p,
                Err(_) => return ctx.error(StatusCode::UNPROCESSABLE_ENTITY, &ctx.t("err-period")),
            };
            let at = |d: jiff::civil::Date| d.to_zoned(ctx.tz.clone()).ok().map(|z| z.timestamp());
            let found = app
                .list_cases(&civicgrid_store::CaseFilter {
                    grid: Some(grid.to_owned()),
                    within: Some(scope.code.clone()),
                    reported_from: at(p.start),
                    reported_to: at(p.end),
                    limit: 200,
                    ..Default::default()
                })
                .await
                .unwrap_or_default();
            found
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "receipt_code": c.receipt_code,
                        "category": c.category.as_ref().map(|x| x.to_string()),
                        "status": crate::cases::pages::resident::status_name(&ctx, c.state.status),
                        "reported_at": ctx.when(c.reported_at),
                    })
                })
                .collect::<Vec<_>>()
        }
        None => vec![],
    };
    let mut v = base;
    if let Some(o) = v.as_object_mut() {
        let (red_list, black_list) = table.lists_for(&kind);
        o.insert(
            "table".into(),
            json!({"red_list": red_list, "black_list": black_list}),
        );
        o.insert("rows".into(), json!(rows));
        o.insert("map".into(), json!(map));
        o.insert(
            "map_config".into(),
            json!(app.map_config(
                &ctx,
                crate::territory::map::MapConfig {
                    pick: false,
                    cases: None
                }
            )),
        );
        o.insert("cases".into(), json!(cases));
        o.insert("grid".into(), json!(q.grid));
    }
    ctx.render("kpi.html", v)
}

async fn kpi_export(
    State(app): State<App>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<KpiQuery>,
) -> Response {
    let scopes = match readable_scopes(&app, &ctx).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(scope) = scopes
        .iter()
        .find(|r| Some(r.code.as_str()) == q.scope.as_deref())
    else {
        return ctx.error(StatusCode::FORBIDDEN, &ctx.t("err-forbidden"));
    };
    let period = q.period.clone().unwrap_or_default();
    match app.kpi_table(&scope.code, &period, q.kind.as_deref()).await {
        Ok(t) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "text/csv; charset=utf-8".to_owned(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"kpi-{}-{period}.csv\"", scope.code),
                ),
            ],
            // A byte-order mark, so that spreadsheet programs read the Chinese headers as UTF-8.
            format!("\u{feff}{}", crate::assessment::kpi_csv(&t)),
        )
            .into_response(),
        Err(e) => ctx.app_error(e),
    }
}

async fn survey_page(
    app: &App,
    ctx: &Ctx,
    id: &str,
    errors: BTreeMap<String, String>,
    chosen: BTreeMap<String, String>,
    phone: &str,
    done: bool,
) -> Response {
    let Ok(uuid) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let survey = match app.repo.survey(&uuid).await {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found")),
        Err(e) => return ctx.app_error(e.into()),
    };
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.render_status(
        status,
        "survey.html",
        json!({
            "survey": {
                "id": survey.id,
                "title": survey.title,
                "closes_at": ctx.when(survey.closes_at),
                "units": survey.units.iter().map(|u| json!({
                    "code": u,
                    "name": reference.units.iter().find(|x| &x.code == u).map_or_else(|| u.clone(), |x| x.name.clone()),
                })).collect::<Vec<_>>(),
            },
            "errors": errors,
            "chosen": chosen,
            "phone": phone,
            "done": done,
        }),
    )
}

async fn survey_form(State(app): State<App>, ctx: Ctx, Path(id): Path<String>) -> Response {
    survey_page(&app, &ctx, &id, BTreeMap::new(), BTreeMap::new(), "", false).await
}

async fn survey_answer(
    State(app): State<App>,
    ctx: Ctx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let pairs = match crate::open311::wire::parse_form(&body) {
        Ok(p) => p,
        Err(_) => return ctx.error(StatusCode::BAD_REQUEST, &ctx.t("err-form-broken")),
    };
    let f = form_map(&pairs);
    if let Err(r) = ctx.check_csrf(f.get("csrf").map(String::as_str)) {
        return *r;
    }
    let phone = f
        .get("phone")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let chosen: BTreeMap<String, String> = pairs
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("rate_").map(|u| (u.to_owned(), v.clone())))
        .collect();
    let ratings: BTreeMap<String, u8> = chosen
        .iter()
        .filter_map(|(u, v)| v.parse::<u8>().ok().map(|r| (u.clone(), r)))
        .collect();
    let Ok(uuid) = id.parse::<uuid::Uuid>() else {
        return ctx.error(StatusCode::NOT_FOUND, &ctx.t("err-not-found"));
    };
    let mut errors = BTreeMap::new();
    match app.answer_survey(&uuid, &phone, &ratings).await {
        Ok(()) => return survey_page(&app, &ctx, &id, errors, chosen, "", true).await,
        Err(AppError::Unprocessable(problems)) => {
            for (field, _) in problems {
                let (key, message) = if field == "phone" {
                    ("phone", ctx.t("err-contact"))
                } else {
                    ("ratings", ctx.t("err-choice"))
                };
                errors.insert(key.to_owned(), message);
            }
        }
        Err(AppError::Conflict(_)) => {
            errors.insert("phone".to_owned(), ctx.t("err-survey-once"));
        }
        Err(AppError::Invalid(_)) => {
            errors.insert("ratings".to_owned(), ctx.t("err-survey-closed"));
        }
        Err(e) => return ctx.app_error(e),
    }
    survey_page(&app, &ctx, &id, errors, chosen, &phone, false).await
}
