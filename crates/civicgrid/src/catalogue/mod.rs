//! The category catalogue and the working calendar: import (all or nothing) and export.

pub mod cli;

use civicgrid_store::Batch;

use crate::App;
use crate::app::Format;
use crate::error::{AppError, AppResult};
use crate::interchange::{catalogue, config};

impl App {
    pub async fn import_catalogue(
        &self,
        file: &str,
        text: &str,
        format: Format,
    ) -> AppResult<usize> {
        let cat = match format {
            Format::Toml => catalogue::read_toml(file, text),
            Format::Csv => catalogue::read_csv(file, text),
        }
        .map_err(AppError::Input)?;
        let n = cat.len();
        self.apply(Batch {
            categories: cat.into_vec(),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn export_catalogue(&self, format: Format) -> AppResult<String> {
        let cats = self.repo.categories().await?;
        Ok(match format {
            Format::Toml => catalogue::write_toml(&cats),
            Format::Csv => catalogue::write_csv(&cats),
        })
    }

    pub async fn import_calendar(&self, file: &str, text: &str) -> AppResult<usize> {
        let update = config::read_calendar(file, text).map_err(AppError::Input)?;
        let n = update.years.iter().map(|(_, d)| d.len()).sum();
        self.apply(Batch {
            calendar: Some(update),
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }

    pub async fn export_calendar(&self) -> AppResult<String> {
        let cal = self.repo.calendar().await?.ok_or_else(|| {
            AppError::NotFound(
                "no working calendar is configured yet (civicgrid import calendar FILE.toml)"
                    .into(),
            )
        })?;
        Ok(config::write_calendar(&cal))
    }
}
