/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "`{0}` is not a database URL (expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE)"
    )]
    BadUrl(String),
    /// A unique key already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A reference to something that does not exist, or a value the schema refuses.
    #[error("refused by the database: {0}")]
    Invalid(String),
    /// Someone else changed the row since it was read (optimistic concurrency).
    #[error("changed by someone else: now at version {current}")]
    Stale { current: u64 },
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored data that cannot be read back into the domain (a bug or a manual edit).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let message = db.message().to_owned();
            if db.is_unique_violation() {
                return StoreError::Conflict(message);
            }
            if db.is_foreign_key_violation() || db.is_check_violation() {
                return StoreError::Invalid(message);
            }
        }
        StoreError::Database(e)
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}
