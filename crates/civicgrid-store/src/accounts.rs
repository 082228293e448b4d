//! Roles, staff accounts, sessions and API keys (hashes only).
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `accounts_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use civicgrid_domain::access::Role;

use crate::*;

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn roles(&self) -> Result<Vec<Role>, StoreError>;
    async fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn create_session(
        &self,
        token_hash: &str,
        username: &str,
        created_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// The username of a session that has not expired at `now`.
    async fn session_user(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<String>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
}

macro_rules! accounts_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::AccountStore for $repo {
            async fn roles(&self) -> Result<Vec<civicgrid_domain::access::Role>, $crate::StoreError> {
                let roles: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT code, name_zh, name_en FROM roles ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                let perms: Vec<(String, String)> =
                    sqlx::query_as("SELECT role_code, permission FROM role_permissions ORDER BY role_code, permission")
                        .fetch_all(&self.pool)
                        .await?;
                $crate::sql::roles_from_rows(roles, perms)
            }
            async fn user(&self, username: &str) -> Result<Option<$crate::User>, $crate::StoreError> {
                Ok(self.load_users(Some(username)).await?.pop())
            }
            async fn users(&self) -> Result<Vec<$crate::User>, $crate::StoreError> {
                self.load_users(None).await
            }
            async fn create_api_key(&self, key: &$crate::ApiKeyRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO api_keys (id, name, prefix, key_hash, created_at, revoked_at, username) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(&key.key_hash)
                .bind($crate::model::micros(key.created_at))
                .bind(key.revoked_at.map($crate::model::micros))
                .bind(key.username.as_deref())
                .execute(&self.pool)
                .await
                .map_err(|e| match $crate::StoreError::from(e) {
                    $crate::StoreError::Conflict(_) => {
                        $crate::StoreError::Conflict(format!("API key named `{}`", key.name))
                    }
                    other => other,
                })?;
                Ok(())
            }
            async fn create_session(
                &self,
                token_hash: &str,
                username: &str,
                created_at: jiff::Timestamp,
                expires_at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(token_hash)
                    .bind(username)
                    .bind($crate::model::micros(created_at))
                    .bind($crate::model::micros(expires_at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn session_user(&self, token_hash: &str, now: jiff::Timestamp) -> Result<Option<String>, $crate::StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT username FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                        .bind(token_hash)
                        .bind($crate::model::micros(now))
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(u,)| u))
            }
            async fn delete_session(&self, token_hash: &str) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn api_key_by_hash(
                &self,
                key_hash: &str,
            ) -> Result<Option<$crate::ApiKeyRecord>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
                    "SELECT id, name, prefix, key_hash, created_at, revoked_at, username FROM api_keys WHERE key_hash = $1",
                )
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(id, name, prefix, key_hash, created, revoked, username)| {
                    Ok($crate::ApiKeyRecord {
                        id,
                        name,
                        prefix,
                        key_hash,
                        username,
                        created_at: $crate::model::from_micros(created)?,
                        revoked_at: revoked.map($crate::model::from_micros).transpose()?,
                    })
                })
                .transpose()
            }
        }

        impl $repo {
            async fn load_users(&self, only: Option<&str>) -> Result<Vec<$crate::User>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, Option<String>, bool, i64)> = sqlx::query_as(
                    "SELECT id, username, display_name, password_hash, unit_code, active, created_at FROM users
                     WHERE ($1 IS NULL OR username = $1) ORDER BY username",
                )
                .bind(only)
                .fetch_all(&self.pool)
                .await?;
                let grants: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT g.user_id, g.role_code, g.scope_kind, g.scope_code FROM role_grants g
                     JOIN users u ON u.id = g.user_id WHERE ($1 IS NULL OR u.username = $1)
                     ORDER BY g.role_code, g.scope_kind, g.scope_code",
                )
                .bind(only)
                .fetch_all(&self.pool)
                .await?;
                let mut users = Vec::with_capacity(rows.len());
                for (id, username, display_name, password_hash, unit, active, created) in rows {
                    let mut user_grants = Vec::new();
                    for (uid, role, kind, code) in &grants {
                        if *uid == id {
                            user_grants.push($crate::sql::grant_from_row(role.clone(), kind.clone(), code.clone())?);
                        }
                    }
                    users.push($crate::User {
                        id,
                        username,
                        display_name,
                        password_hash,
                        unit,
                        active,
                        grants: user_grants,
                        created_at: $crate::model::from_micros(created)?,
                    });
                }
                Ok(users)
            }
        }
    };
}

pub(crate) use accounts_sql;
