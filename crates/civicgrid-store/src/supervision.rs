//! Supervision reports (监督微平台): the report row, its append-only events, and the files
//! reporters add. Every date is a day (`YYYY-MM-DD`); texts and files arrive sealed. A change
//! and its event are one transaction with an optimistic version check. The retention
//! erasure is the only delete, and only of a closed report (triggers on both backends).

use async_trait::async_trait;
use civicgrid_domain::territory::RegionCode;
use jiff::civil::Date;

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub struct ReportRecord {
    /// Random (UUID v4): an id must not tell when it was made.
    pub id: uuid::Uuid,
    /// The keyed digest of the receipt.
    pub receipt_key: String,
    /// The argon2id hash of the passphrase.
    pub passphrase_hash: String,
    pub region: RegionCode,
    pub accused_unit: Option<String>,
    pub concern: String,
    pub status: String,
    pub submitted_on: Date,
    pub closed_on: Option<Date>,
    /// Subject and content, sealed.
    pub sealed: String,
    /// The identity the reporter chose to disclose, sealed on its own.
    pub sealed_identity: Option<String>,
    pub version: u64,
}

/// One event of a report: who (`party`) did what (`action`), as the domain's JSON, on a day,
/// with its text sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEventRecord {
    pub seq: u64,
    pub on: Date,
    pub party: String,
    pub action: String,
    pub sealed_text: Option<String>,
}

/// A file a reporter added (metadata removed before sealing).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFileRecord {
    pub seq: u64,
    pub on: Date,
    pub media_type: String,
    pub sealed_name: String,
    pub size: u64,
}

#[async_trait]
pub trait SupervisionStore: Send + Sync {
    /// A new report with its first event.
    async fn create_report(
        &self,
        report: &ReportRecord,
        event: &ReportEventRecord,
    ) -> Result<(), StoreError>;
    /// Writes a changed report (version one more than `expected_version`) with its event, and
    /// the file it carries, in one transaction; `Stale` if someone changed it first.
    async fn update_report(
        &self,
        report: &ReportRecord,
        expected_version: u64,
        event: &ReportEventRecord,
        file: Option<(&ReportFileRecord, &[u8])>,
    ) -> Result<(), StoreError>;
    async fn report(&self, id: &uuid::Uuid) -> Result<Option<ReportRecord>, StoreError>;
    async fn report_by_receipt(
        &self,
        receipt_key: &str,
    ) -> Result<Option<ReportRecord>, StoreError>;
    /// Reports of `within`, by `status` when given, most recent day first, at most `limit`.
    async fn reports(
        &self,
        within: &RegionCode,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ReportRecord>, StoreError>;
    /// Reports not closed, oldest first, at most `limit` (for the clocks).
    async fn open_reports(&self, limit: u32) -> Result<Vec<ReportRecord>, StoreError>;
    /// Reports closed on or before `day`, at most `limit` (for the retention erasure).
    async fn reports_closed_by(
        &self,
        day: Date,
        limit: u32,
    ) -> Result<Vec<ReportRecord>, StoreError>;
    async fn report_events(&self, id: &uuid::Uuid) -> Result<Vec<ReportEventRecord>, StoreError>;
    async fn report_files(&self, id: &uuid::Uuid) -> Result<Vec<ReportFileRecord>, StoreError>;
    async fn report_file(
        &self,
        id: &uuid::Uuid,
        seq: u64,
    ) -> Result<Option<(ReportFileRecord, Vec<u8>)>, StoreError>;
    /// Counts a wrong passphrase on `day`; returns the wrong ones that day so far.
    async fn count_wrong_passphrase(&self, id: &uuid::Uuid, day: Date) -> Result<u32, StoreError>;
    /// Wrong passphrases counted on `day`.
    async fn wrong_passphrases(&self, id: &uuid::Uuid, day: Date) -> Result<u32, StoreError>;
    /// Erases a closed report with its events and files, in one transaction; false if it is
    /// gone or not closed.
    async fn erase_report(&self, id: &uuid::Uuid) -> Result<bool, StoreError>;
}

pub(crate) const REPORT_COLUMNS: &str = "id, receipt_key, passphrase_hash, region_code, accused_unit, concern, status, submitted_on, closed_on, sealed, sealed_identity, version";

pub(crate) type ReportRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
);

fn day(field: &str, s: &str) -> Result<Date, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{field} `{s}` is not a day")))
}

pub(crate) fn report_from_row(r: ReportRow) -> Result<ReportRecord, StoreError> {
    Ok(ReportRecord {
        id: r
            .0
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("report id {}", r.0)))?,
        receipt_key: r.1,
        passphrase_hash: r.2,
        region: r
            .3
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("report region {}", r.3)))?,
        accused_unit: r.4,
        concern: r.5,
        status: r.6,
        submitted_on: day("submitted_on", &r.7)?,
        closed_on: r.8.as_deref().map(|d| day("closed_on", d)).transpose()?,
        sealed: r.9,
        sealed_identity: r.10,
        version: u64::try_from(r.11).unwrap_or(0),
    })
}

pub(crate) fn event_from_row(
    r: (i64, String, String, String, Option<String>),
) -> Result<ReportEventRecord, StoreError> {
    Ok(ReportEventRecord {
        seq: u64::try_from(r.0).unwrap_or(0),
        on: day("on_day", &r.1)?,
        party: r.2,
        action: r.3,
        sealed_text: r.4,
    })
}

pub(crate) fn file_from_row(
    r: (i64, String, String, String, i64),
) -> Result<ReportFileRecord, StoreError> {
    Ok(ReportFileRecord {
        seq: u64::try_from(r.0).unwrap_or(0),
        on: day("on_day", &r.1)?,
        media_type: r.2,
        sealed_name: r.3,
        size: u64::try_from(r.4).unwrap_or(0),
    })
}

macro_rules! supervision_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            async fn insert_report_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                id: &uuid::Uuid,
                e: &$crate::ReportEventRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO supervision_events (report_id, seq, on_day, party, action, sealed_text) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(id.to_string())
                    .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                    .bind(e.on.to_string())
                    .bind(&e.party)
                    .bind(&e.action)
                    .bind(&e.sealed_text)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::SupervisionStore for $repo {
            async fn create_report(&self, r: &$crate::ReportRecord, e: &$crate::ReportEventRecord) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO supervision_reports ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    $crate::supervision::REPORT_COLUMNS
                ))
                .bind(r.id.to_string())
                .bind(&r.receipt_key)
                .bind(&r.passphrase_hash)
                .bind(r.region.as_str())
                .bind(&r.accused_unit)
                .bind(&r.concern)
                .bind(&r.status)
                .bind(r.submitted_on.to_string())
                .bind(r.closed_on.map(|d| d.to_string()))
                .bind(&r.sealed)
                .bind(&r.sealed_identity)
                .bind(i64::try_from(r.version).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                Self::insert_report_event(&mut tx, &r.id, e).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn update_report(
                &self,
                r: &$crate::ReportRecord,
                expected_version: u64,
                e: &$crate::ReportEventRecord,
                file: Option<(&$crate::ReportFileRecord, &[u8])>,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE supervision_reports SET status = $2, closed_on = $3, version = $4 WHERE id = $1 AND version = $5",
                )
                .bind(r.id.to_string())
                .bind(&r.status)
                .bind(r.closed_on.map(|d| d.to_string()))
                .bind(i64::try_from(expected_version + 1).unwrap_or(i64::MAX))
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM supervision_reports WHERE id = $1")
                        .bind(r.id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("report {}", r.id)),
                    });
                }
                Self::insert_report_event(&mut tx, &r.id, e).await?;
                if let Some((f, data)) = file {
                    sqlx::query("INSERT INTO supervision_files (report_id, seq, on_day, media_type, sealed_name, size, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(r.id.to_string())
                        .bind(i64::try_from(f.seq).unwrap_or(i64::MAX))
                        .bind(f.on.to_string())
                        .bind(&f.media_type)
                        .bind(&f.sealed_name)
                        .bind(i64::try_from(f.size).unwrap_or(i64::MAX))
                        .bind(data)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn report(&self, id: &uuid::Uuid) -> Result<Option<$crate::ReportRecord>, $crate::StoreError> {
                let row: Option<$crate::supervision::ReportRow> = sqlx::query_as(&format!("SELECT {} FROM supervision_reports WHERE id = $1", $crate::supervision::REPORT_COLUMNS))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::supervision::report_from_row).transpose()
            }
            async fn report_by_receipt(&self, receipt_key: &str) -> Result<Option<$crate::ReportRecord>, $crate::StoreError> {
                let row: Option<$crate::supervision::ReportRow> = sqlx::query_as(&format!("SELECT {} FROM supervision_reports WHERE receipt_key = $1", $crate::supervision::REPORT_COLUMNS))
                    .bind(receipt_key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::supervision::report_from_row).transpose()
            }
            async fn reports(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
                status: Option<&str>,
                limit: u32,
            ) -> Result<Vec<$crate::ReportRecord>, $crate::StoreError> {
                let rows: Vec<$crate::supervision::ReportRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM supervision_reports WHERE region_code >= $1 AND region_code < $2 AND ($3 IS NULL OR status = $3)
                     ORDER BY submitted_on DESC, id LIMIT $4",
                    $crate::supervision::REPORT_COLUMNS
                ))
                .bind(within.as_str())
                .bind($crate::sql::prefix_end(within.as_str()))
                .bind(status)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::supervision::report_from_row).collect()
            }
            async fn open_reports(&self, limit: u32) -> Result<Vec<$crate::ReportRecord>, $crate::StoreError> {
                let rows: Vec<$crate::supervision::ReportRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM supervision_reports WHERE status <> 'closed' ORDER BY submitted_on, id LIMIT $1",
                    $crate::supervision::REPORT_COLUMNS
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::supervision::report_from_row).collect()
            }
            async fn reports_closed_by(&self, day: jiff::civil::Date, limit: u32) -> Result<Vec<$crate::ReportRecord>, $crate::StoreError> {
                let rows: Vec<$crate::supervision::ReportRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM supervision_reports WHERE status = 'closed' AND closed_on <= $1 ORDER BY closed_on, id LIMIT $2",
                    $crate::supervision::REPORT_COLUMNS
                ))
                .bind(day.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::supervision::report_from_row).collect()
            }
            async fn report_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::ReportEventRecord>, $crate::StoreError> {
                let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT seq, on_day, party, action, sealed_text FROM supervision_events WHERE report_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::supervision::event_from_row).collect()
            }
            async fn report_files(&self, id: &uuid::Uuid) -> Result<Vec<$crate::ReportFileRecord>, $crate::StoreError> {
                let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
                    "SELECT seq, on_day, media_type, sealed_name, size FROM supervision_files WHERE report_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::supervision::file_from_row).collect()
            }
            async fn report_file(&self, id: &uuid::Uuid, seq: u64) -> Result<Option<($crate::ReportFileRecord, Vec<u8>)>, $crate::StoreError> {
                let row: Option<(i64, String, String, String, i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT seq, on_day, media_type, sealed_name, size, sealed FROM supervision_files WHERE report_id = $1 AND seq = $2",
                )
                .bind(id.to_string())
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(a, b, c, d, e, data)| Ok(($crate::supervision::file_from_row((a, b, c, d, e))?, data)))
                    .transpose()
            }
            async fn count_wrong_passphrase(&self, id: &uuid::Uuid, day: jiff::civil::Date) -> Result<u32, $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "UPDATE supervision_reports SET failed_attempts = CASE WHEN failed_on = $2 THEN failed_attempts + 1 ELSE 1 END, failed_on = $2 WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(day.to_string())
                .execute(&mut *tx)
                .await?;
                let (n,): (i64,) = sqlx::query_as("SELECT failed_attempts FROM supervision_reports WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            }
            async fn wrong_passphrases(&self, id: &uuid::Uuid, day: jiff::civil::Date) -> Result<u32, $crate::StoreError> {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT failed_attempts FROM supervision_reports WHERE id = $1 AND failed_on = $2",
                )
                .bind(id.to_string())
                .bind(day.to_string())
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map_or(0, |(n,)| u32::try_from(n).unwrap_or(u32::MAX)))
            }
            async fn erase_report(&self, id: &uuid::Uuid) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let marked = sqlx::query(
                    "UPDATE supervision_reports SET erasing = 1 WHERE id = $1 AND status = 'closed' AND closed_on IS NOT NULL",
                )
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
                if marked.rows_affected() == 0 {
                    return Ok(false);
                }
                for table in ["supervision_files", "supervision_events"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE report_id = $1"))
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM supervision_reports WHERE id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}
pub(crate) use supervision_sql;
