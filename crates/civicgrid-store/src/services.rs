//! One-stop services (一站式服务): the catalogue of service items and the applications filed
//! against it, with their append-only events and uploaded materials. An application's row
//! keeps the columns lists filter on and the whole record as JSON (the applicant's contact
//! arrives sealed by the application).
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `services_sql!`.

use async_trait::async_trait;
use civicgrid_domain::application::{ApplicationState, ServiceChannel, ServiceItem};
use civicgrid_domain::territory::{GridCode, RegionCode};
use serde::{Deserialize, Serialize};

use crate::*;

/// The assessment source applications are queued under.
pub const APPLICATION_SOURCE: &str = "application";

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub id: uuid::Uuid,
    /// The receipt number the resident follows it by.
    pub public_id: String,
    /// The digest of the secret issued with the receipt.
    pub reporter_key: Option<String>,
    pub item: String,
    /// The applicant's community, and grid if known.
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    /// The applicant's name and phone, sealed.
    pub applicant: Option<String>,
    /// What is applied for, in the applicant's words (no identity numbers: those are in the
    /// uploaded materials).
    pub details: String,
    /// `resident`, or the grid worker's account that filed it (代办).
    pub filed_by: String,
    pub channel: ServiceChannel,
    pub submitted_at: jiff::Timestamp,
    pub state: ApplicationState,
    /// The items named in the request for corrections, with the note.
    pub corrections: Vec<String>,
    pub correction_note: String,
    pub accepted_at: Option<jiff::Timestamp>,
    /// The legal time limit, on the working calendar from acceptance.
    pub due: Option<jiff::Timestamp>,
    pub done_at: Option<jiff::Timestamp>,
    /// The result notified (办结意见), or the reason for declining.
    pub result: String,
    pub evaluated_at: Option<jiff::Timestamp>,
    pub evaluation_note: String,
    pub version: u64,
}

/// One change of an application.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationEvent {
    pub seq: u64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub note: String,
}

/// An uploaded material, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaterialFile {
    pub seq: u64,
    pub material: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: jiff::Timestamp,
}

#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// Writes every item (new or changed), all or none.
    async fn put_service_items(
        &self,
        items: &[ServiceItem],
        by: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    async fn service_item(&self, code: &str) -> Result<Option<ServiceItem>, StoreError>;
    /// The catalogue, by code; withdrawn items too if `all`.
    async fn service_items(&self, all: bool) -> Result<Vec<ServiceItem>, StoreError>;

    async fn create_application(
        &self,
        a: &ApplicationRecord,
        event: &ApplicationEvent,
    ) -> Result<(), StoreError>;
    /// `Stale` if someone changed it first.
    async fn update_application(
        &self,
        a: &ApplicationRecord,
        expected_version: u64,
        event: &ApplicationEvent,
    ) -> Result<(), StoreError>;
    async fn application(&self, id: &uuid::Uuid) -> Result<Option<ApplicationRecord>, StoreError>;
    async fn application_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<ApplicationRecord>, StoreError>;
    /// Applications of regions under `within` or held by one of `units`, newest first.
    async fn applications(
        &self,
        within: &[String],
        units: &[String],
        limit: u32,
    ) -> Result<Vec<ApplicationRecord>, StoreError>;
    async fn application_events(
        &self,
        id: &uuid::Uuid,
    ) -> Result<Vec<ApplicationEvent>, StoreError>;
    /// Stores an uploaded material with the application's event; its number.
    #[allow(clippy::too_many_arguments)]
    async fn add_material_file(
        &self,
        a: &ApplicationRecord,
        material: &str,
        name: &str,
        content_type: &str,
        data: &[u8],
        sha256: &str,
        event: &ApplicationEvent,
    ) -> Result<u64, StoreError>;
    async fn material_files(&self, id: &uuid::Uuid) -> Result<Vec<MaterialFile>, StoreError>;
    async fn material_file(
        &self,
        id: &uuid::Uuid,
        seq: u64,
    ) -> Result<Option<(MaterialFile, Vec<u8>)>, StoreError>;
}

macro_rules! services_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            fn application_from_row(doc: String, version: i64) -> Result<$crate::ApplicationRecord, $crate::StoreError> {
                let mut a: $crate::ApplicationRecord = $crate::sql::from_json("application", &doc)?;
                a.version = u64::try_from(version).unwrap_or(0);
                Ok(a)
            }

            async fn append_application_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &$crate::ApplicationRecord,
                e: &$crate::ApplicationEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO application_events (application_id, seq, at, actor, action, note)
                     SELECT $1, COALESCE(MAX(seq) + 1, 0), $2, $3, $4, $5 FROM application_events WHERE application_id = $1",
                )
                .bind(a.id.to_string())
                .bind($crate::model::micros(e.at))
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.note)
                .execute(&mut **tx)
                .await?;
                sqlx::query($crate::sql::MARK_KPI)
                    .bind($crate::services::APPLICATION_SOURCE)
                    .bind(a.id.to_string())
                    .bind(a.region.as_str())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn write_application(
                tx: &mut sqlx::Transaction<'_, $db>,
                a: &$crate::ApplicationRecord,
                expected: u64,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "UPDATE applications SET status = $2, unit = $3, due = $4, doc = $5, version = $6
                     WHERE id = $1 AND version = $7",
                )
                .bind(a.id.to_string())
                .bind(a.state.status.as_str())
                .bind(&a.state.unit)
                .bind(a.due.map($crate::model::micros))
                .bind($crate::sql::to_json(a)?)
                .bind(i64::try_from(expected + 1).unwrap_or(i64::MAX))
                .bind(i64::try_from(expected).unwrap_or(i64::MAX))
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM applications WHERE id = $1")
                        .bind(a.id.to_string())
                        .fetch_optional(&mut **tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("application {}", a.id)),
                    });
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::ServiceStore for $repo {
            async fn put_service_items(
                &self,
                items: &[civicgrid_domain::application::ServiceItem],
                by: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for item in items {
                    sqlx::query(
                        "INSERT INTO service_items (code, unit, active, doc, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (code) DO UPDATE SET unit = excluded.unit, active = excluded.active, doc = excluded.doc,
                           updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    )
                    .bind(&item.code)
                    .bind(&item.unit)
                    .bind(i64::from(item.active))
                    .bind($crate::sql::to_json(item)?)
                    .bind(by)
                    .bind($crate::model::micros(at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn service_item(&self, code: &str) -> Result<Option<civicgrid_domain::application::ServiceItem>, $crate::StoreError> {
                let row: Option<(String,)> = sqlx::query_as("SELECT doc FROM service_items WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(doc,)| $crate::sql::from_json("service item", &doc)).transpose()
            }

            async fn service_items(&self, all: bool) -> Result<Vec<civicgrid_domain::application::ServiceItem>, $crate::StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT doc FROM service_items WHERE ($1 = 1 OR active = 1) ORDER BY code",
                )
                .bind(i64::from(all))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|(doc,)| $crate::sql::from_json("service item", &doc)).collect()
            }

            async fn create_application(
                &self,
                a: &$crate::ApplicationRecord,
                e: &$crate::ApplicationEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO applications (id, public_id, item_code, unit, region_code, status, submitted_at, due, doc, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
                )
                .bind(a.id.to_string())
                .bind(&a.public_id)
                .bind(&a.item)
                .bind(&a.state.unit)
                .bind(a.region.as_str())
                .bind(a.state.status.as_str())
                .bind($crate::model::micros(a.submitted_at))
                .bind(a.due.map($crate::model::micros))
                .bind($crate::sql::to_json(a)?)
                .execute(&mut *tx)
                .await?;
                Self::append_application_event(&mut tx, a, e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_application(
                &self,
                a: &$crate::ApplicationRecord,
                expected: u64,
                e: &$crate::ApplicationEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::write_application(&mut tx, a, expected).await?;
                Self::append_application_event(&mut tx, a, e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn application(&self, id: &uuid::Uuid) -> Result<Option<$crate::ApplicationRecord>, $crate::StoreError> {
                let row: Option<(String, i64)> = sqlx::query_as("SELECT doc, version FROM applications WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(doc, v)| Self::application_from_row(doc, v)).transpose()
            }

            async fn application_by_public_id(
                &self,
                public_id: &str,
            ) -> Result<Option<$crate::ApplicationRecord>, $crate::StoreError> {
                let row: Option<(String, i64)> =
                    sqlx::query_as("SELECT doc, version FROM applications WHERE public_id = $1")
                        .bind(public_id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(doc, v)| Self::application_from_row(doc, v)).transpose()
            }

            async fn applications(
                &self,
                within: &[String],
                units: &[String],
                limit: u32,
            ) -> Result<Vec<$crate::ApplicationRecord>, $crate::StoreError> {
                if within.is_empty() && units.is_empty() {
                    return Ok(vec![]);
                }
                let mut conditions = Vec::new();
                let mut n = 1;
                for _ in within {
                    conditions.push(format!("region_code LIKE ${n} || '%'"));
                    n += 1;
                }
                for _ in units {
                    conditions.push(format!("unit = ${n}"));
                    n += 1;
                }
                let sql = format!(
                    "SELECT doc, version FROM applications WHERE {} ORDER BY submitted_at DESC, id LIMIT ${n}",
                    conditions.join(" OR ")
                );
                let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
                for v in within.iter().chain(units) {
                    q = q.bind(v);
                }
                let rows = q.bind(i64::from(limit)).fetch_all(&self.pool).await?;
                rows.into_iter().map(|(doc, v)| Self::application_from_row(doc, v)).collect()
            }

            async fn application_events(
                &self,
                id: &uuid::Uuid,
            ) -> Result<Vec<$crate::ApplicationEvent>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
                    "SELECT seq, at, actor, action, note FROM application_events WHERE application_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, at, actor, action, note)| {
                        Ok($crate::ApplicationEvent {
                            seq: u64::try_from(seq).unwrap_or(0),
                            at: $crate::model::from_micros(at)?,
                            actor,
                            action,
                            note,
                        })
                    })
                    .collect()
            }

            async fn add_material_file(
                &self,
                a: &$crate::ApplicationRecord,
                material: &str,
                name: &str,
                content_type: &str,
                data: &[u8],
                sha256: &str,
                e: &$crate::ApplicationEvent,
            ) -> Result<u64, $crate::StoreError> {
                let mut tx = self.begin().await?;
                let (seq,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM application_files WHERE application_id = $1",
                )
                .bind(a.id.to_string())
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO application_files (application_id, seq, material, name, content_type, size, sha256, data, uploaded_by, uploaded_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(a.id.to_string())
                .bind(seq)
                .bind(material)
                .bind(name)
                .bind(content_type)
                .bind(i64::try_from(data.len()).unwrap_or(i64::MAX))
                .bind(sha256)
                .bind(data)
                .bind(&e.actor)
                .bind($crate::model::micros(e.at))
                .execute(&mut *tx)
                .await?;
                Self::append_application_event(&mut tx, a, e).await?;
                tx.commit().await?;
                Ok(u64::try_from(seq).unwrap_or(0))
            }

            async fn material_files(&self, id: &uuid::Uuid) -> Result<Vec<$crate::MaterialFile>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(i64, String, String, String, i64, String, String, i64)> = sqlx::query_as(
                    "SELECT seq, material, name, content_type, size, sha256, uploaded_by, uploaded_at
                     FROM application_files WHERE application_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, material, name, content_type, size, sha256, uploaded_by, uploaded_at)| {
                        Ok($crate::MaterialFile {
                            seq: u64::try_from(seq).unwrap_or(0),
                            material,
                            name,
                            content_type,
                            size: u64::try_from(size).unwrap_or(0),
                            sha256,
                            uploaded_by,
                            uploaded_at: $crate::model::from_micros(uploaded_at)?,
                        })
                    })
                    .collect()
            }

            async fn material_file(
                &self,
                id: &uuid::Uuid,
                seq: u64,
            ) -> Result<Option<($crate::MaterialFile, Vec<u8>)>, $crate::StoreError> {
                let files = self.material_files(id).await?;
                let Some(meta) = files.into_iter().find(|f| f.seq == seq) else {
                    return Ok(None);
                };
                let (data,): (Vec<u8>,) = sqlx::query_as(
                    "SELECT data FROM application_files WHERE application_id = $1 AND seq = $2",
                )
                .bind(id.to_string())
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .fetch_one(&self.pool)
                .await?;
                Ok(Some((meta, data)))
            }
        }
    };
}
pub(crate) use services_sql;
