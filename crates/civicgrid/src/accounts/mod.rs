//! Staff accounts and API keys.

pub mod cli;

pub mod pages;

pub mod rest;
pub mod views;

pub mod limits;
pub mod roles;

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use civicgrid_domain::access::{Grant, Scope};
use civicgrid_store::{ApiKeyRecord, Batch, NewUser};
use sha2::{Digest, Sha256};

use crate::App;
use crate::error::{AppError, AppResult};

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Invalid(format!("cannot hash password: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// 2 to 64 letters, digits, '.', '_' or '-'.
pub fn valid_username(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A random secret of `bytes` bytes, hex-encoded.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(s: &str) -> String {
    sha256_bytes_hex(s.as_bytes())
}

pub fn sha256_bytes_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Minimum length: long passphrases beat composition rules (NIST SP 800-63B).
pub const MIN_PASSWORD_LEN: usize = 10;

#[derive(Debug, Clone)]
pub struct UserSpec {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub unit: Option<String>,
    pub grants: Vec<Grant>,
}

impl App {
    /// Creates a staff account after checking its role, scope and unit exist.
    pub async fn add_user(&self, spec: UserSpec) -> AppResult<()> {
        if !valid_username(&spec.username) {
            return Err(AppError::Invalid(format!(
                "username `{}`: use 2 to 64 letters, digits, '.', '_' or '-'",
                spec.username
            )));
        }
        if spec.display_name.trim().is_empty()
            || spec.display_name.chars().count() > 100
            || spec.display_name.contains('\0')
            || spec.password.contains('\0')
        {
            return Err(AppError::Invalid(
                "the display name is 1 to 100 characters, without NUL".into(),
            ));
        }
        if spec.password.chars().count() < MIN_PASSWORD_LEN {
            return Err(AppError::Invalid(format!(
                "the password must have at least {MIN_PASSWORD_LEN} characters"
            )));
        }
        let roles = self.repo.roles().await?;
        let regions = self.repo.regions().await?;
        let units = self.repo.units().await?;
        for g in &spec.grants {
            if !roles.iter().any(|r| r.code == g.role) {
                return Err(AppError::Invalid(format!(
                    "role `{}` does not exist (known: {})",
                    g.role,
                    roles
                        .iter()
                        .map(|r| r.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let scope_exists = match &g.scope {
                Scope::Region(r) => regions.iter().any(|x| &x.code == r),
                Scope::Unit(u) => units.iter().any(|x| &x.code == u),
            };
            if !scope_exists {
                return Err(AppError::Invalid(format!(
                    "scope {} does not exist",
                    g.scope
                )));
            }
        }
        if let Some(u) = &spec.unit
            && !units.iter().any(|x| &x.code == u)
        {
            return Err(AppError::Invalid(format!("unit `{u}` does not exist")));
        }
        let user = NewUser {
            username: spec.username,
            display_name: spec.display_name,
            password_hash: hash_password(&spec.password)?,
            unit: spec.unit,
            grants: spec.grants,
        };
        self.repo
            .apply(&Batch {
                at: self.clock.now(),
                users: vec![user],
                ..Batch::default()
            })
            .await?;
        Ok(())
    }

    /// Creates an API key and returns it. Only its hash is stored: it cannot be shown again.
    pub async fn create_api_key(&self, name: &str, username: Option<&str>) -> AppResult<String> {
        let name = name.trim();
        if name.contains('\0') || username.is_some_and(|u| !valid_username(u)) {
            return Err(AppError::Invalid(
                "the key's name has a NUL character, or the username is not one".into(),
            ));
        }
        if let Some(u) = username
            && self.repo.user(u).await?.is_none()
        {
            return Err(AppError::Invalid(format!("no staff account `{u}`")));
        }
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::Invalid(
                "an API key needs a name of 1 to 100 characters".into(),
            ));
        }
        let key = format!("cg_{}", random_secret(24));
        let record = ApiKeyRecord {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            prefix: key[..7].to_owned(),
            key_hash: sha256_hex(&key),
            username: username.map(str::to_owned),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.repo.create_api_key(&record).await?;
        Ok(key)
    }

    /// The actor a presented API key acts as: its staff account (if active), or the system
    /// identity of an unowned key. `None` for an unknown or revoked key.
    pub async fn authenticate_api_key(&self, key: &str) -> AppResult<Option<crate::cases::Actor>> {
        // Other systems call with the same key again and again: its actor (three queries) is
        // kept for KEY_TTL. A change of accounts made by this process drops the cache at once;
        // one made by another instance is seen within KEY_TTL.
        let hash = sha256_hex(key);
        if let Some(actor) = self.key_cache.lock().ok().and_then(|c| {
            c.get(&hash)
                .filter(|(at, _)| at.elapsed() < KEY_TTL)
                .map(|(_, a)| a.clone())
        }) {
            return Ok(actor);
        }
        let actor = self.actor_of_key(&hash).await?;
        if let Ok(mut c) = self.key_cache.lock() {
            if c.len() >= KEY_CACHE_ENTRIES {
                c.clear();
            }
            c.insert(hash, (std::time::Instant::now(), actor.clone()));
        }
        Ok(actor)
    }

    async fn actor_of_key(&self, hash: &str) -> AppResult<Option<crate::cases::Actor>> {
        let Some(record) = self
            .repo
            .api_key_by_hash(hash)
            .await?
            .filter(|k: &ApiKeyRecord| k.revoked_at.is_none())
        else {
            return Ok(None);
        };
        Ok(match record.username {
            None => Some(crate::cases::Actor::Resident),
            Some(u) => {
                self.repo
                    .user(&u)
                    .await?
                    .filter(|u| u.active)
                    .map(|u| crate::cases::Actor::Staff {
                        username: u.username,
                        grants: u.grants,
                    })
            }
        })
    }
}

/// How long an API key's actor is kept in memory (real time) before it is read again.
pub const KEY_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const KEY_CACHE_ENTRIES: usize = 10_000;

/// Key hash → (when read, actor or None for an unknown or revoked key).
pub type KeyCache =
    std::collections::HashMap<String, (std::time::Instant, Option<crate::cases::Actor>)>;

/// How long a staff session lasts.
pub const SESSION_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);

impl App {
    /// Signs a staff member in: returns a session token (shown once, kept only as a hash).
    /// Unknown users and wrong passwords get the same answer.
    pub async fn login(&self, username: &str, password: &str) -> AppResult<String> {
        let refused = || AppError::Forbidden("wrong username or password".into());
        // A name no account can have is not looked up (PostgreSQL refuses NUL in text).
        let user = if valid_username(username) {
            self.repo.user(username).await?.filter(|u| u.active)
        } else {
            None
        };
        let Some(user) = user else {
            // Spend the same effort as a real check so timing does not reveal who exists.
            let _ = hash_password(password);
            return Err(refused());
        };
        if !verify_password(password, &user.password_hash) {
            return Err(refused());
        }
        let token = format!("cs_{}", random_secret(24));
        let now = self.clock.now();
        let expires = now.checked_add(SESSION_LIFETIME).unwrap_or(now);
        self.repo
            .create_session(&sha256_hex(&token), &user.username, now, expires)
            .await?;
        Ok(token)
    }

    pub async fn logout(&self, token: &str) -> AppResult<()> {
        Ok(self.repo.delete_session(&sha256_hex(token)).await?)
    }

    /// The staff member a session token belongs to, while it is valid.
    pub async fn authenticate_session(
        &self,
        token: &str,
    ) -> AppResult<Option<crate::cases::Actor>> {
        let Some(username) = self
            .repo
            .session_user(&sha256_hex(token), self.clock.now())
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .repo
            .user(&username)
            .await?
            .filter(|u| u.active)
            .map(|u| crate::cases::Actor::Staff {
                username: u.username,
                grants: u.grants,
            }))
    }
}
