//! Abuse limits, shared by every instance and every path: wrong passwords per account and
//! per client address (API and page sign-in alike), public lookups per client address (REST
//! and page tracking alike), Open311 posts per API key. The counts live in the database
//! (`LimitStore`), so a second instance sees the first one's.

use jiff::SignedDuration;
use sha2::{Digest, Sha256};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::jobs::{Cadence, Job};

/// How much each caller may do. A refusal says when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wrong passwords for one account within `sign_in_window`; more wait for the window.
    pub sign_in_failures_per_account: u64,
    /// Wrong passwords from one client address within `sign_in_window`.
    pub sign_in_failures_per_address: u64,
    pub sign_in_window: SignedDuration,
    /// Public case lookups (tracking) from one client address per minute.
    pub lookups_per_minute: u64,
    /// Open311 posts with one API key per minute.
    pub open311_posts_per_minute: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sign_in_failures_per_account: 5,
            sign_in_failures_per_address: 30,
            sign_in_window: SignedDuration::from_mins(15),
            lookups_per_minute: 60,
            open311_posts_per_minute: 120,
        }
    }
}

/// Where a request comes from, as the limits count it: the peer's address, or the address a
/// reverse proxy on the same host says it forwarded for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

const MINUTE: SignedDuration = SignedDuration::from_mins(1);

fn key_digest(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// Counts one hit on `key`; refused once more than `limit` fall in the window.
    async fn count_against(&self, key: &str, limit: u64, window: SignedDuration) -> AppResult<()> {
        let now = self.clock.now();
        let count = self.repo.count_hit(key, now, window).await?;
        if count.hits > limit {
            return Err(too_many(now, count.resets_at));
        }
        Ok(())
    }

    /// Signs a staff member in, unless the account or the address has had too many wrong
    /// passwords lately. A wrong password counts against both; a right one clears the
    /// account's count.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        from: &ClientAddr,
    ) -> AppResult<String> {
        let limits = &self.limits;
        let account = format!("sign-in:account:{}", username.trim().to_lowercase());
        let address = format!("sign-in:address:{}", from.0);
        let now = self.clock.now();
        for (key, limit) in [
            (&account, limits.sign_in_failures_per_account),
            (&address, limits.sign_in_failures_per_address),
        ] {
            let count = self.repo.window_count(key, now).await?;
            if count.hits >= limit {
                tracing::warn!(key, "sign-in refused: too many wrong passwords");
                return Err(too_many(now, count.resets_at));
            }
        }
        match self.login(username, password).await {
            Ok(token) => {
                self.repo.clear_hits(&account).await?;
                Ok(token)
            }
            Err(AppError::Forbidden(m)) => {
                for key in [&account, &address] {
                    self.repo.count_hit(key, now, limits.sign_in_window).await?;
                }
                tracing::warn!(username, address = from.0, "sign-in failed");
                Err(AppError::Forbidden(m))
            }
            Err(e) => Err(e),
        }
    }

    /// Counts a public lookup of a case (REST or page) from `from`.
    pub async fn count_lookup(&self, from: &ClientAddr) -> AppResult<()> {
        self.count_against(
            &format!("lookup:address:{}", from.0),
            self.limits.lookups_per_minute,
            MINUTE,
        )
        .await
    }

    /// Counts an Open311 post with `api_key` (known or not: guessing is counted too).
    pub async fn count_open311_post(&self, api_key: &str) -> AppResult<()> {
        self.count_against(
            &format!("open311-post:key:{}", key_digest(api_key)),
            self.limits.open311_posts_per_minute,
            MINUTE,
        )
        .await
    }

    /// Forgets the counts of windows that have ended (run with the jobs).
    pub async fn forget_ended_limits(&self) -> AppResult<u64> {
        Ok(self.repo.forget_ended_windows(self.clock.now()).await?)
    }
}

fn too_many(now: jiff::Timestamp, resets_at: jiff::Timestamp) -> AppError {
    // Whole seconds, rounded up: Retry-After takes no fractions.
    let micros = u64::try_from(resets_at.duration_since(now).as_micros()).unwrap_or(1);
    AppError::TooManyRequests {
        retry_after: micros.div_ceil(1_000_000).max(1),
    }
}

/// Forgets the counts of ended windows, once a round.
pub const FORGET_ENDED_WINDOWS: Job = Job {
    name: "abuse-limit windows",
    cadence: Cadence::Round,
    run: |app| Box::pin(async move { app.forget_ended_limits().await }),
};
