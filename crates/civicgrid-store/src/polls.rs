//! Polls with one-time household codes: a secret ballot. A vote marks its code used and adds
//! one to each chosen option in one transaction; a code is used at most once, whatever the
//! concurrency (a conditional update decides), and no row links a code to what it chose.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `polls_sql!`.

use async_trait::async_trait;
use civicgrid_domain::consultation::Ballot;
use civicgrid_domain::territory::RegionCode;

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub struct PollRecord {
    pub id: uuid::Uuid,
    pub region: RegionCode,
    pub question: String,
    pub options: Vec<String>,
    pub ballot: Ballot,
    pub opens_at: jiff::Timestamp,
    pub closes_at: jiff::Timestamp,
    pub created_by: String,
    pub created_at: jiff::Timestamp,
    /// The topic it asks about, if any.
    pub topic: Option<uuid::Uuid>,
}

/// A poll's count: votes per option, and how many households voted of those given a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollCount {
    pub votes: Vec<u64>,
    pub voted: u64,
    pub codes: u64,
}

#[async_trait]
pub trait PollStore: Send + Sync {
    /// A new poll with a zero count for each option, in one transaction.
    async fn create_poll(&self, poll: &PollRecord) -> Result<(), StoreError>;
    async fn poll(&self, id: &uuid::Uuid) -> Result<Option<PollRecord>, StoreError>;
    /// Gives a household its code (kept as a digest); `Conflict` if it already has one.
    async fn issue_poll_code(
        &self,
        poll: &uuid::Uuid,
        household: &uuid::Uuid,
        code_digest: &str,
    ) -> Result<(), StoreError>;
    /// Casts a vote with a code: false if the code is unknown or used. Exactly one of any
    /// number of concurrent uses of a code counts.
    async fn cast_vote(
        &self,
        poll: &uuid::Uuid,
        code_digest: &str,
        choices: &[usize],
    ) -> Result<bool, StoreError>;
    async fn poll_count(&self, poll: &uuid::Uuid) -> Result<PollCount, StoreError>;
    /// Polls of regions in `within`, latest closing first.
    async fn polls(&self, within: &RegionCode, limit: u32) -> Result<Vec<PollRecord>, StoreError>;
    /// Whether a household was given a code for a poll.
    async fn poll_code_issued(
        &self,
        poll: &uuid::Uuid,
        household: &uuid::Uuid,
    ) -> Result<bool, StoreError>;
}

pub(crate) type PollRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    i64,
    Option<String>,
);

pub(crate) fn poll_from_row(r: PollRow) -> Result<PollRecord, StoreError> {
    let (id, region, question, options, ballot, opens_at, closes_at, created_by, created_at, topic) =
        r;
    Ok(PollRecord {
        id: crate::sql::parse("poll id", &id)?,
        region: crate::sql::parse("poll region", &region)?,
        question,
        options: crate::sql::from_json("poll options", &options)?,
        ballot: crate::sql::from_json("poll ballot", &ballot)?,
        opens_at: crate::model::from_micros(opens_at)?,
        closes_at: crate::model::from_micros(closes_at)?,
        created_by,
        created_at: crate::model::from_micros(created_at)?,
        topic: topic
            .map(|t| crate::sql::parse("poll topic", &t))
            .transpose()?,
    })
}

/// Queues a poll for the assessment (its turnout changed).
pub(crate) const MARK_POLL: &str = "INSERT INTO kpi_dirty (source, item_id, region_code)
     SELECT $2, id, region_code FROM polls WHERE id = $1
     ON CONFLICT (item_id) DO UPDATE SET marked = kpi_dirty.marked + 1";

macro_rules! polls_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::PollStore for $repo {
            async fn create_poll(&self, p: &$crate::PollRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO polls (id, region_code, question, options, ballot, opens_at, closes_at, created_by, created_at, topic_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(p.id.to_string())
                .bind(p.region.as_str())
                .bind(&p.question)
                .bind($crate::sql::to_json(&p.options)?)
                .bind($crate::sql::to_json(&p.ballot)?)
                .bind($crate::model::micros(p.opens_at))
                .bind($crate::model::micros(p.closes_at))
                .bind(&p.created_by)
                .bind($crate::model::micros(p.created_at))
                .bind(p.topic.map(|t| t.to_string()))
                .execute(&mut *tx)
                .await?;
                for i in 0..p.options.len() {
                    sqlx::query("INSERT INTO poll_counts (poll_id, option_index, votes) VALUES ($1, $2, 0)")
                        .bind(p.id.to_string())
                        .bind(i64::try_from(i).unwrap_or(i64::MAX))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn poll(&self, id: &uuid::Uuid) -> Result<Option<$crate::PollRecord>, $crate::StoreError> {
                let row: Option<$crate::polls::PollRow> = sqlx::query_as(
                    "SELECT id, region_code, question, options, ballot, opens_at, closes_at, created_by, created_at, topic_id FROM polls WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::polls::poll_from_row).transpose()
            }
            async fn issue_poll_code(&self, poll: &uuid::Uuid, household: &uuid::Uuid, code_digest: &str) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query("INSERT INTO poll_codes (poll_id, code_digest, household_id, used) VALUES ($1, $2, $3, $4)")
                    .bind(poll.to_string())
                    .bind(code_digest)
                    .bind(household.to_string())
                    .bind(false)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::polls::MARK_POLL).bind(poll.to_string()).bind($crate::POLL_SOURCE).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn cast_vote(&self, poll: &uuid::Uuid, code_digest: &str, choices: &[usize]) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                // The conditional update decides which of concurrent uses counts: the others
                // find the code used (PostgreSQL waits on the row; SQLite has one writer).
                let used = sqlx::query("UPDATE poll_codes SET used = $3 WHERE poll_id = $1 AND code_digest = $2 AND used = $4")
                    .bind(poll.to_string())
                    .bind(code_digest)
                    .bind(true)
                    .bind(false)
                    .execute(&mut *tx)
                    .await?;
                if used.rows_affected() != 1 {
                    return Ok(false);
                }
                for c in choices {
                    let counted = sqlx::query("UPDATE poll_counts SET votes = votes + 1 WHERE poll_id = $1 AND option_index = $2")
                        .bind(poll.to_string())
                        .bind(i64::try_from(*c).unwrap_or(i64::MAX))
                        .execute(&mut *tx)
                        .await?;
                    if counted.rows_affected() != 1 {
                        // Not an option of the poll: nothing of this vote is kept.
                        return Err($crate::StoreError::Invalid(format!("option {c} is not in the poll")));
                    }
                }
                sqlx::query($crate::polls::MARK_POLL).bind(poll.to_string()).bind($crate::POLL_SOURCE).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(true)
            }
            async fn polls(&self, within: &civicgrid_domain::territory::RegionCode, limit: u32) -> Result<Vec<$crate::PollRecord>, $crate::StoreError> {
                let rows: Vec<$crate::polls::PollRow> = sqlx::query_as(
                    "SELECT id, region_code, question, options, ballot, opens_at, closes_at, created_by, created_at, topic_id FROM polls
                     WHERE region_code LIKE $1 ORDER BY closes_at DESC, id DESC LIMIT $2",
                )
                .bind(format!("{}%", within.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::polls::poll_from_row).collect()
            }
            async fn poll_code_issued(&self, poll: &uuid::Uuid, household: &uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM poll_codes WHERE poll_id = $1 AND household_id = $2")
                    .bind(poll.to_string())
                    .bind(household.to_string())
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }
            async fn poll_count(&self, poll: &uuid::Uuid) -> Result<$crate::PollCount, $crate::StoreError> {
                let votes: Vec<(i64,)> = sqlx::query_as("SELECT votes FROM poll_counts WHERE poll_id = $1 ORDER BY option_index")
                    .bind(poll.to_string())
                    .fetch_all(&self.pool)
                    .await?;
                let (voted, codes): (i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN used THEN 1 ELSE 0 END), 0), COUNT(*) FROM poll_codes WHERE poll_id = $1",
                )
                .bind(poll.to_string())
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::PollCount {
                    votes: votes.into_iter().map(|(v,)| u64::try_from(v).unwrap_or(0)).collect(),
                    voted: u64::try_from(voted).unwrap_or(0),
                    codes: u64::try_from(codes).unwrap_or(0),
                })
            }
        }
    };
}

pub(crate) use polls_sql;
