//! Importing, exporting, checking and locating grids.

pub mod cli;
pub mod map;

pub mod tables;

use std::collections::{BTreeMap, BTreeSet};

use civicgrid_domain::geometry::coverage::{CoverageReport, check_coverage};
use civicgrid_domain::geometry::crs::Crs;
use civicgrid_domain::geometry::locate::GridIndex;
use civicgrid_domain::geometry::repair::{RepairNote, repair};
use civicgrid_domain::territory::{Grid, GridCode, RegionCode, RegionLevel, next_grid_sequence};
use civicgrid_store::Batch;

use crate::App;
use crate::error::{AppError, AppResult, InputError, Location};
use crate::interchange::geojson::{feature_error, read_grid_features};

#[derive(Debug, Clone)]
pub struct GridImportOptions {
    pub code_prop: String,
    pub name_prop: String,
    pub parent: Option<RegionCode>,
}

impl Default for GridImportOptions {
    fn default() -> Self {
        GridImportOptions {
            code_prop: "code".into(),
            name_prop: "name".into(),
            parent: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct GridImportReport {
    pub created: usize,
    pub updated: usize,
    /// Repairs made, each with the feature it was made to.
    pub repairs: Vec<(String, RepairNote)>,
}

impl App {
    /// Imports a GeoJSON FeatureCollection of grids: all features or none.
    pub async fn import_grids(
        &self,
        file: &str,
        text: &str,
        options: &GridImportOptions,
    ) -> AppResult<GridImportReport> {
        let features = read_grid_features(file, text, &options.code_prop, &options.name_prop)
            .map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        if let Some(parent) = &options.parent
            && !regions.contains(parent)
        {
            return Err(InputError::file(
                file,
                format!("parent region {parent} does not exist; import it first (civicgrid import regions)"),
            )
            .into());
        }
        let existing = self.repo.grids(None).await?;
        let existing_codes: BTreeSet<GridCode> = existing.iter().map(|g| g.code.clone()).collect();
        // Numbering must skip codes taken in the database and codes given in the file itself.
        let taken: BTreeSet<GridCode> = existing_codes
            .iter()
            .cloned()
            .chain(
                features
                    .iter()
                    .filter_map(|f| f.code.as_ref()?.parse().ok()),
            )
            .collect();
        let by_region_and_name: BTreeMap<(RegionCode, String), GridCode> = existing
            .iter()
            .map(|g| ((g.region.clone(), g.name.clone()), g.code.clone()))
            .collect();

        let mut errors = Vec::new();
        let mut report = GridImportReport::default();
        let mut grids = Vec::new();
        let mut codes_in_file: BTreeMap<GridCode, usize> = BTreeMap::new();
        // Sequences handed out in this import, per community, on top of the stored ones.
        let mut next_sequence: BTreeMap<RegionCode, u32> = BTreeMap::new();
        for f in &features {
            let label = f.label();
            let err = |field: Option<&str>, m: String| {
                feature_error(file, f.index, label.clone(), field, m)
            };
            let given_code = match &f.code {
                Some(c) => match c.parse::<GridCode>() {
                    Ok(code) => Some(code),
                    Err(e) => {
                        errors.push(err(Some(&options.code_prop), e.to_string()));
                        continue;
                    }
                },
                None => None,
            };
            let region = match (
                &options.parent,
                given_code.as_ref().and_then(GridCode::community),
            ) {
                (Some(p), Some(c)) if p.level() == RegionLevel::Community && *p != c => {
                    errors.push(err(
                        Some(&options.code_prop),
                        format!("the 6+3+3+3 code names community {c}, but --parent is {p}"),
                    ));
                    continue;
                }
                (Some(p), _) => p.clone(),
                (None, Some(c)) => c,
                (None, None) => {
                    errors.push(err(
                        Some(&options.code_prop),
                        "cannot tell which region the grid belongs to: give --parent, or a 15-digit 6+3+3+3 code".into(),
                    ));
                    continue;
                }
            };
            if !regions.contains(&region) {
                errors.push(err(
                    Some(&options.code_prop),
                    format!(
                        "region {region} does not exist; import it first (civicgrid import regions)"
                    ),
                ));
                continue;
            }
            let repaired = match repair(&f.polygons) {
                Ok(r) => r,
                Err(reason) => {
                    errors.push(err(Some("geometry"), format!("rejected: {reason}")));
                    continue;
                }
            };
            let name = f.name.clone();
            let code = match given_code {
                Some(c) => c,
                None => {
                    if region.level() != RegionLevel::Community {
                        errors.push(err(
                            Some(&options.code_prop),
                            format!("the feature has no code, and civicgrid numbers grids only inside a community (12 digits), not {region}"),
                        ));
                        continue;
                    }
                    let Some(name) = &name else {
                        errors.push(err(
                            Some(&options.name_prop),
                            "a feature without a code needs a name, so that importing again updates it in place".into(),
                        ));
                        continue;
                    };
                    match by_region_and_name.get(&(region.clone(), name.clone())) {
                        Some(c) => c.clone(),
                        None => {
                            let seq = next_sequence
                                .entry(region.clone())
                                .or_insert_with(|| next_grid_sequence(&region, &taken));
                            match GridCode::numbered(&region, *seq) {
                                Ok(c) => {
                                    *seq += 1;
                                    c
                                }
                                Err(e) => {
                                    errors.push(err(None, e.to_string()));
                                    continue;
                                }
                            }
                        }
                    }
                }
            };
            if let Some(first) = codes_in_file.insert(code.clone(), f.index) {
                errors.push(err(
                    Some(&options.code_prop),
                    format!("code {code} is also used by feature {first}"),
                ));
                continue;
            }
            let label_text = format!("feature {} ({code})", f.index);
            report
                .repairs
                .extend(repaired.notes.into_iter().map(|n| (label_text.clone(), n)));
            if existing_codes.contains(&code) {
                report.updated += 1;
            } else {
                report.created += 1;
            }
            grids.push(Grid {
                name: name.unwrap_or_else(|| code.to_string()),
                code,
                region,
                geometry: repaired.geometry,
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        self.repo
            .apply(&Batch {
                at: self.clock.now(),
                grids,
                ..Batch::default()
            })
            .await?;
        self.invalidate_reference();
        Ok(report)
    }

    pub async fn export_grids(&self, within: Option<&RegionCode>) -> AppResult<String> {
        let grids = self.repo.grids(within).await?;
        serde_json::to_string_pretty(&crate::interchange::geojson::write_grids(&grids))
            .map_err(|e| AppError::Invalid(e.to_string()))
    }

    pub async fn check_grids(
        &self,
        within: Option<&RegionCode>,
        min_area_m2: f64,
    ) -> AppResult<CoverageReport> {
        let grids = self.repo.grids(within).await?;
        Ok(check_coverage(&grids, min_area_m2))
    }

    /// Builds the point → grid index from the stored grids.
    pub async fn grid_index(&self) -> AppResult<GridIndex> {
        let grids = self.repo.grids(None).await?;
        Ok(GridIndex::new(grids.iter().map(|g| (&g.code, &g.geometry))))
    }
}

/// Reads `lon,lat` lines (a header line is allowed) in `crs`, converted to WGS84. All lines are
/// checked before any answer is given.
pub fn read_points(file: &str, text: &str, crs: Crs) -> Result<Vec<(f64, f64)>, Vec<InputError>> {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i as u64 + 1;
        let l = raw.trim().trim_start_matches('\u{feff}');
        let mut parts = l.split(',').map(str::trim);
        let (a, b) = (parts.next().unwrap_or(""), parts.next());
        let extra = parts.next();
        if line == 1 && a.parse::<f64>().is_err() && !a.is_empty() {
            continue; // a header such as `lon,lat`
        }
        let Some(b) = b.filter(|_| extra.is_none()) else {
            errors.push(InputError::line(
                file,
                line,
                None,
                format!("`{l}` is not `lon,lat`"),
            ));
            continue;
        };
        let lon = a
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && x.abs() <= 180.0);
        let lat = b
            .parse::<f64>()
            .ok()
            .filter(|y| y.is_finite() && y.abs() <= 90.0);
        match (lon, lat) {
            (Some(x), Some(y)) => points.push(crs.to_wgs84(x, y)),
            (None, _) => errors.push(InputError {
                file: file.to_owned(),
                location: Location::Line {
                    line,
                    column: Some(1),
                },
                field: Some("lon".into()),
                message: format!("`{a}` is not a longitude in -180..180"),
            }),
            (_, None) => errors.push(InputError {
                file: file.to_owned(),
                location: Location::Line {
                    line,
                    column: Some(2),
                },
                field: Some("lat".into()),
                message: format!("`{b}` is not a latitude in -90..90"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(points)
    } else {
        Err(errors)
    }
}
