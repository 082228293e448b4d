//! Regions and beats as CSV tables: import with cross-reference checks (all or nothing) and export.

use std::collections::BTreeSet;

use civicgrid_domain::territory::{Region, RegionCode};
use civicgrid_store::Batch;

use crate::App;
use crate::error::{AppError, AppResult, InputError};
use crate::interchange::tables;

impl App {
    /// Imports regions from CSV (`code,name`). A region's parent must exist or come in the file.
    pub async fn import_regions(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_regions(file, text).map_err(AppError::Input)?;
        let mut known: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let mut errors = Vec::new();
        let mut in_file = BTreeSet::new();
        let mut sorted: Vec<&(u64, Region)> = rows.iter().collect();
        sorted.sort_by_key(|(_, r)| r.code.as_str().len());
        for (line, r) in &sorted {
            if !in_file.insert(r.code.clone()) {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("code"),
                    format!("region {} is listed twice", r.code),
                ));
            }
            if let Some(parent) = r.code.parent()
                && !known.contains(&parent)
            {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("code"),
                    format!("parent region {parent} does not exist and is not in the file"),
                ));
            }
            known.insert(r.code.clone());
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| format!("{:?}", e.location));
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            regions: sorted.into_iter().map(|(_, r)| r.clone()).collect(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    /// Imports beats; each beat's grids and workers are replaced by the file's. A beat's grids
    /// must lie in its region, and its workers must be staff accounts.
    pub async fn import_beats(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_beats(file, text).map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let grids = self.repo.grids(None).await?;
        let users: BTreeSet<String> = self
            .repo
            .users()
            .await?
            .into_iter()
            .map(|u| u.username)
            .collect();
        let mut errors = Vec::new();
        let mut codes = BTreeSet::new();
        for (line, b) in &rows {
            let mut bad =
                |field: &str, m: String| errors.push(InputError::line(file, *line, Some(field), m));
            if !codes.insert(b.code.clone()) {
                bad("code", format!("beat {} is listed twice", b.code));
            }
            if !regions.contains(&b.region) {
                bad("region", format!("region {} does not exist", b.region));
            }
            for g in &b.grids {
                match grids.iter().find(|x| &x.code == g) {
                    None => bad("grids", format!("grid {g} does not exist")),
                    Some(x) if !b.region.contains(&x.region) => bad(
                        "grids",
                        format!(
                            "grid {g} lies in {}, outside the beat's region {}",
                            x.region, b.region
                        ),
                    ),
                    Some(_) => {}
                }
            }
            for w in &b.workers {
                if !users.contains(w) {
                    bad("workers", format!("no staff account `{w}`"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            beats: rows.into_iter().map(|(_, b)| b).collect(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn export_beats(&self) -> AppResult<String> {
        Ok(tables::write_beats(&self.repo.beats().await?))
    }

    /// Replaces the gazetteer from CSV (`name,kind,lon,lat`) or GeoJSON Points (by the file's
    /// extension). Every place must lie in a grid (it takes that grid's region); all or
    /// nothing, every bad row named.
    pub async fn import_places(&self, file: &str, text: &str) -> AppResult<usize> {
        let lower = file.to_ascii_lowercase();
        let geojson = lower.ends_with(".geojson") || lower.ends_with(".json");
        let reference = self.reference().await?;
        let mut places = Vec::new();
        let mut errors = Vec::new();
        let rows: Vec<(
            crate::error::Location,
            super::super::interchange::tables::RawPlace,
        )> = if geojson {
            crate::interchange::geojson::read_places(file, text)
                .map_err(AppError::Input)?
                .into_iter()
                .map(|(index, p)| {
                    (
                        crate::error::Location::Feature {
                            index,
                            label: Some(p.0.clone()),
                        },
                        p,
                    )
                })
                .collect()
        } else {
            tables::read_places(file, text)
                .map_err(AppError::Input)?
                .into_iter()
                .map(|(line, p)| (crate::error::Location::Line { line, column: None }, p))
                .collect()
        };
        for (location, (name, kind, lon, lat)) in rows {
            match reference
                .grid_index
                .locate(lon, lat)
                .and_then(|g| reference.grid_regions.get(g))
            {
                Some(region) => places.push(civicgrid_domain::territory::Place {
                    name,
                    kind,
                    lon,
                    lat,
                    region: region.clone(),
                }),
                None => errors.push(InputError {
                    file: file.to_owned(),
                    location,
                    field: Some("lon".to_owned()),
                    message: format!("({lon}, {lat}) lies outside every grid of this platform"),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        self.repo.replace_places(&places).await?;
        Ok(places.len())
    }

    pub async fn export_places(&self) -> AppResult<String> {
        Ok(tables::write_places(&self.repo.places().await?))
    }

    pub async fn export_regions(&self) -> AppResult<String> {
        Ok(tables::write_regions(&self.repo.regions().await?))
    }
}
