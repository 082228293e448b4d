//! Roles as data: imported from TOML (the shipped default is data/roles.toml).

use civicgrid_store::Batch;

use crate::App;
use crate::error::{AppError, AppResult};
use crate::interchange::config;

impl App {
    pub async fn import_roles(&self, file: &str, text: &str) -> AppResult<usize> {
        let roles = config::read_roles(file, text).map_err(AppError::Input)?;
        let n = roles.len();
        self.apply(Batch {
            roles,
            ..Batch::default()
        })
        .await?;
        Ok(n)
    }
}
