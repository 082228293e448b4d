//! Routing and the responsibility list (责任清单): units, the published list, and which unit
//! must act on a case and why (the rules themselves are `civicgrid_domain::routing`).

pub mod cli;

pub mod pages;

use std::collections::BTreeSet;

use civicgrid_domain::catalogue::CategoryCode;
use civicgrid_domain::routing::Unit;
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::Batch;

use crate::App;
use crate::error::{AppError, AppResult, InputError};
use crate::interchange::tables;

impl App {
    pub async fn import_units(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_units(file, text).map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let mut errors = Vec::new();
        let mut codes = BTreeSet::new();
        for (line, u) in &rows {
            if !codes.insert(u.code.clone()) {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("code"),
                    format!("unit {} is listed twice", u.code),
                ));
            }
            if !regions.contains(&u.region) {
                errors.push(InputError::line(
                    file,
                    *line,
                    Some("region"),
                    format!("region {} does not exist", u.region),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            units: rows.into_iter().map(|(_, u)| u).collect(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    /// Replaces the responsibility list with the file's, after checking every reference.
    pub async fn import_responsibility_list(&self, file: &str, text: &str) -> AppResult<usize> {
        let rows = tables::read_rules(file, text).map_err(AppError::Input)?;
        let regions: BTreeSet<RegionCode> = self
            .repo
            .regions()
            .await?
            .into_iter()
            .map(|r| r.code)
            .collect();
        let units: BTreeSet<String> = self
            .repo
            .units()
            .await?
            .into_iter()
            .map(|u: Unit| u.code)
            .collect();
        let categories: BTreeSet<CategoryCode> = self
            .repo
            .categories()
            .await?
            .into_iter()
            .map(|c| c.code)
            .collect();
        let mut errors = Vec::new();
        for (line, r) in &rows {
            let mut bad =
                |field: &str, m: String| errors.push(InputError::line(file, *line, Some(field), m));
            if !categories.contains(&r.category) {
                bad(
                    "category",
                    format!("category {} is not in the catalogue", r.category),
                );
            }
            if !regions.contains(&r.region) {
                bad("region", format!("region {} does not exist", r.region));
            }
            if !units.contains(&r.primary) {
                bad("primary", format!("unit {} does not exist", r.primary));
            }
            for c in &r.co_handlers {
                if !units.contains(c) {
                    bad("co_handlers", format!("unit {c} does not exist"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        let n = rows.len();
        self.apply(Batch {
            responsibility_list: Some(rows.into_iter().map(|(_, r)| r).collect()),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn export_units(&self) -> AppResult<String> {
        Ok(tables::write_units(&self.repo.units().await?))
    }

    pub async fn export_responsibility_list(&self) -> AppResult<String> {
        Ok(tables::write_rules(&self.repo.responsibility_list().await?))
    }

    /// Routes a case of `category` in `grid` with `attributes` through the stored list.
    pub async fn route_case(
        &self,
        category: &CategoryCode,
        grid: &civicgrid_domain::territory::GridCode,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> AppResult<(civicgrid_domain::routing::Assignment, Vec<Unit>)> {
        let categories = self.repo.categories().await?;
        let cat = categories
            .iter()
            .find(|c| &c.code == category)
            .ok_or_else(|| AppError::NotFound(format!("category {category}")))?;
        let region = self
            .repo
            .grids(None)
            .await?
            .into_iter()
            .find(|g| &g.code == grid)
            .map(|g| g.region)
            .ok_or_else(|| AppError::NotFound(format!("grid {grid}")))?;
        let facts = civicgrid_domain::routing::RoutingFacts {
            category: &cat.code,
            kind: cat.kind,
            region: &region,
            attributes,
        };
        let rules = self.repo.responsibility_list().await?;
        let units = self.repo.units().await?;
        let assignment = civicgrid_domain::routing::route(&facts, &rules, &units)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok((assignment, units))
    }
}
