//! Cases imported from a hotline's export (12345): each remembers the hotline's own ticket
//! number, unique per hotline, so importing the same file twice adds nothing.

use async_trait::async_trait;
use uuid::Uuid;

use crate::*;

/// One imported ticket: the new case as it stands after import, and its events in order
/// (the report, then the acceptance where the hotline's status says so).
#[derive(Debug, Clone)]
pub struct HotlineCase {
    pub ticket: String,
    pub case: civicgrid_domain::case::Case,
    pub events: Vec<CaseEvent>,
}

#[async_trait]
pub trait HotlineStore: Send + Sync {
    /// Of `tickets`, those of hotline `source` already imported, with their cases.
    async fn hotline_tickets(
        &self,
        source: &str,
        tickets: &[String],
    ) -> Result<Vec<(String, Uuid)>, StoreError>;
    /// Stores the cases, their events and their tickets in one transaction, all or none. A
    /// ticket imported meanwhile by someone else is a [`StoreError::Conflict`] (nothing is
    /// stored; read the tickets again).
    async fn import_hotline_cases(
        &self,
        source: &str,
        cases: &[HotlineCase],
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
}

macro_rules! hotline_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::HotlineStore for $repo {
            async fn hotline_tickets(
                &self,
                source: &str,
                tickets: &[String],
            ) -> Result<Vec<(String, uuid::Uuid)>, $crate::StoreError> {
                let mut found = Vec::new();
                // In slices, to stay under the backends' limits on bound parameters.
                for slice in tickets.chunks(500) {
                    let marks: Vec<String> = (2..slice.len() + 2).map(|i| format!("${i}")).collect();
                    let sql = format!(
                        "SELECT ticket, case_id FROM hotline_tickets WHERE source = $1 AND ticket IN ({})",
                        marks.join(", ")
                    );
                    let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(source);
                    for t in slice {
                        q = q.bind(t);
                    }
                    for (ticket, case) in q.fetch_all(&self.pool).await? {
                        let id = case
                            .parse()
                            .map_err(|_| $crate::StoreError::Corrupt(format!("hotline case id {case}")))?;
                        found.push((ticket, id));
                    }
                }
                Ok(found)
            }

            async fn import_hotline_cases(
                &self,
                source: &str,
                cases: &[$crate::HotlineCase],
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for item in cases {
                    let inserted = sqlx::query(
                        "INSERT INTO hotline_tickets (source, ticket, case_id, imported_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (source, ticket) DO NOTHING",
                    )
                    .bind(source)
                    .bind(&item.ticket)
                    .bind(item.case.id.to_string())
                    .bind($crate::model::micros(at))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        return Err($crate::StoreError::Conflict(format!(
                            "hotline ticket {} was imported meanwhile",
                            item.ticket
                        )));
                    }
                    let Some((first, rest)) = item.events.split_first() else {
                        return Err($crate::StoreError::Corrupt(format!(
                            "hotline ticket {} has no report event",
                            item.ticket
                        )));
                    };
                    Self::insert_cases(&mut tx, &[(&item.case, first)]).await?;
                    for event in rest {
                        Self::write_event(&mut tx, &item.case, event).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use hotline_sql;
