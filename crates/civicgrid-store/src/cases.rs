//! Cases, their append-only events and photos, the audit of personal-data reads.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `cases_sql!`, with the backend differences written where they occur.

use async_trait::async_trait;
use civicgrid_domain::case::Case;
use uuid::Uuid;

use crate::*;

#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Stores a new case with its first event (the report), in one transaction.
    async fn create_case(&self, case: &Case, event: &CaseEvent) -> Result<(), StoreError>;
    /// Stores several new cases with their first events in one transaction (group commit):
    /// all of them or none.
    async fn create_cases(&self, items: &[(Case, CaseEvent)]) -> Result<(), StoreError>;
    /// Stores a case's new state and the events that produced it (one or more, in order), in
    /// one transaction, provided the stored version is still `expected_version`; otherwise
    /// [`StoreError::Stale`] and nothing changes.
    async fn record_change(
        &self,
        case: &Case,
        expected_version: u64,
        events: &[CaseEvent],
    ) -> Result<(), StoreError>;
    /// New cases and case changes in one transaction, in order (group commit: many share one
    /// commit). A change whose case is no longer at its expected version (or is gone) fails
    /// alone, with [`StoreError::Stale`] or [`StoreError::NotFound`] in its place of the answer,
    /// and the rest is stored; any other failure stores nothing and is the outer error.
    async fn write_cases(
        &self,
        writes: &[CaseWrite],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
    /// Like `record_change`, storing the photo the event attaches in the same transaction.
    async fn attach_photo(
        &self,
        case: &Case,
        expected_version: u64,
        event: &CaseEvent,
        photo: &Photo,
    ) -> Result<(), StoreError>;
    /// A correction of where a case is: the change and its event as `write_cases` stores
    /// them, its point, and the rows that carry its region (units, events, photos, receipt)
    /// moved to the case's region, in one transaction. The region is the distribution key, so
    /// this is the one change of it. (Personal-data reads, webhook deliveries and the KPI queue
    /// keep the region they were written under: they record what happened then.)
    async fn place_case(
        &self,
        case: &Case,
        expected_version: u64,
        event: &CaseEvent,
    ) -> Result<(), StoreError>;
    async fn photo(&self, case: &Uuid, sha256: &str) -> Result<Option<Photo>, StoreError>;
    async fn case(&self, id: &Uuid) -> Result<Option<Case>, StoreError>;
    async fn case_by_receipt(&self, receipt_code: &str) -> Result<Option<Case>, StoreError>;
    /// The case with this public number (the one public lists and Open311 show).
    async fn case_by_public_id(&self, public_id: &str) -> Result<Option<Case>, StoreError>;
    /// The case's events, oldest first.
    async fn case_events(&self, id: &Uuid) -> Result<Vec<CaseEvent>, StoreError>;
    /// Cases matching the filter, newest first, at most `filter.limit`.
    async fn cases(&self, filter: &CaseFilter) -> Result<Vec<Case>, StoreError>;
    /// Events of the given actions in a region subtree at or after `since`, oldest first, at
    /// most `limit` — the alert feed of a tier (alarms, escalations, missed whistle calls).
    async fn events_since(
        &self,
        actions: &[&str],
        within: Option<&civicgrid_domain::territory::RegionCode>,
        since: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<CaseEvent>, StoreError>;
    /// Records that `actor` read personal data (`what`) of a case.
    async fn record_personal_data_read(
        &self,
        case: &Case,
        actor: &str,
        what: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Who read a case's personal data, oldest first: (at, actor, what).
    async fn personal_data_reads(
        &self,
        case: &Uuid,
    ) -> Result<Vec<(jiff::Timestamp, String, String)>, StoreError>;
}

macro_rules! cases_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::CaseStore for $repo {
            async fn create_case(
                &self,
                case: &civicgrid_domain::case::Case,
                event: &$crate::CaseEvent,
            ) -> Result<(), $crate::StoreError> {
                self.create_cases(&[(case.clone(), event.clone())]).await
            }
            async fn create_cases(
                &self,
                items: &[(civicgrid_domain::case::Case, $crate::CaseEvent)],
            ) -> Result<(), $crate::StoreError> {
                let items: Vec<_> = items.iter().map(|(c, e)| (c, e)).collect();
                self.create_new_cases(&items).await
            }
            async fn record_change(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                events: &[$crate::CaseEvent],
            ) -> Result<(), $crate::StoreError> {
                if events.is_empty() {
                    return Err($crate::StoreError::Invalid("a change needs at least one event".into()));
                }
                self.change_case(case, expected_version, events, None).await
            }
            async fn write_cases(
                &self,
                writes: &[$crate::CaseWrite],
            ) -> Result<Vec<Result<(), $crate::StoreError>>, $crate::StoreError> {
                use $crate::CaseWrite;
                let new: Vec<_> = writes
                    .iter()
                    .filter_map(|w| match w {
                        CaseWrite::New { case, event } => Some((case, event)),
                        CaseWrite::Change { .. } => None,
                    })
                    .collect();
                if new.len() == writes.len() {
                    self.create_new_cases(&new).await?;
                    return Ok(writes.iter().map(|_| Ok(())).collect());
                }
                if let [CaseWrite::Change { case, expected_version, events }] = writes
                    && $backend == "postgres"
                {
                    // PostgreSQL makes a change in one statement, atomic by itself.
                    let mut conn = self.pool.acquire().await?;
                    return Ok(vec![Self::change_in(&mut conn, case, *expected_version, events, None).await]);
                }
                let mut tx = self.begin().await?;
                // New cases first, together: a change in the batch cannot be to one of them (a
                // change is made to a case read after its report was committed).
                Self::insert_cases(&mut tx, &new).await?;
                let mut answers = Vec::with_capacity(writes.len());
                for w in writes {
                    match w {
                        CaseWrite::New { .. } => answers.push(Ok(())),
                        CaseWrite::Change { case, expected_version, events } => {
                            // A stale version is found before anything is written, so it
                            // leaves the transaction clean for the others.
                            match Self::change_in(&mut tx, case, *expected_version, events, None).await {
                                Err(e @ ($crate::StoreError::Stale { .. } | $crate::StoreError::NotFound(_))) => {
                                    answers.push(Err(e))
                                }
                                other => answers.push(Ok(other?)),
                            }
                        }
                    }
                }
                tx.commit().await?;
                Ok(answers)
            }
            async fn attach_photo(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                event: &$crate::CaseEvent,
                photo: &$crate::Photo,
            ) -> Result<(), $crate::StoreError> {
                self.change_case(case, expected_version, std::slice::from_ref(event), Some(photo)).await
            }
            async fn place_case(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                event: &$crate::CaseEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                Self::change_in(&mut tx, case, expected_version, std::slice::from_ref(event), None).await?;
                let region = case.region.as_str();
                let id = case.id.to_string();
                // The point the correction gave (a change does not write the point).
                sqlx::query("UPDATE cases SET lon = $1, lat = $2 WHERE id = $3")
                    .bind(case.location.map(|l| l.0))
                    .bind(case.location.map(|l| l.1))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                let mut tables = vec![("cases", "id"), ("case_units", "case_id"), ("case_events", "case_id"), ("case_photos", "case_id")];
                if $backend == "postgres" {
                    tables.push(("case_receipts", "case_id"));
                }
                for (table, key) in tables {
                    sqlx::query(&format!("UPDATE {table} SET region_code = $1 WHERE {key} = $2 AND region_code <> $1"))
                        .bind(region)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn photo(
                &self,
                case: &uuid::Uuid,
                sha256: &str,
            ) -> Result<Option<$crate::Photo>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let row: Option<(String, String, String, Vec<u8>, String, i64)> = sqlx::query_as(
                    "SELECT sha256, stage, content_type, data, added_by, added_at FROM case_photos
                     WHERE case_id = $1 AND sha256 = $2",
                )
                .bind(case.to_string())
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(sha256, stage, content_type, data, added_by, at)| {
                    Ok($crate::Photo { sha256, stage, content_type, data, added_by, added_at: $crate::model::from_micros(at)? })
                })
                .transpose()
            }
            async fn case(&self, id: &uuid::Uuid) -> Result<Option<civicgrid_domain::case::Case>, $crate::StoreError> {
                let sql = format!("SELECT {} FROM cases WHERE id = $1", $crate::sql::CASE_COLUMNS);
                let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await?;
                row.map(|r| Self::case_row(&r)).transpose()
            }
            async fn case_by_receipt(&self, receipt_code: &str) -> Result<Option<civicgrid_domain::case::Case>, $crate::StoreError> {
                // PostgreSQL: the receipt names the case id, so only its partition is read.
                let sql = if $backend == "postgres" {
                    format!(
                        "SELECT {} FROM cases WHERE id = (SELECT case_id FROM case_receipts WHERE receipt_code = $1)",
                        $crate::sql::CASE_COLUMNS
                    )
                } else {
                    format!("SELECT {} FROM cases WHERE receipt_code = $1", $crate::sql::CASE_COLUMNS)
                };
                let row = sqlx::query(&sql).bind(receipt_code).fetch_optional(&self.pool).await?;
                row.map(|r| Self::case_row(&r)).transpose()
            }
            async fn case_by_public_id(&self, public_id: &str) -> Result<Option<civicgrid_domain::case::Case>, $crate::StoreError> {
                let sql = format!("SELECT {} FROM cases WHERE public_id = $1", $crate::sql::CASE_COLUMNS);
                let row = sqlx::query(&sql).bind(public_id).fetch_optional(&self.pool).await?;
                row.map(|r| Self::case_row(&r)).transpose()
            }
            async fn case_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::CaseEvent>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, i64, String, Option<String>, String, String, i64, String)> = sqlx::query_as(
                    "SELECT case_id, seq, action, from_status, to_status, actor, at, payload FROM case_events
                     WHERE case_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(c, s, a, f, t, who, at, p)| $crate::sql::event_from_row(c, s, a, f, t, who, at, p))
                    .collect()
            }
            async fn cases(&self, f: &$crate::CaseFilter) -> Result<Vec<civicgrid_domain::case::Case>, $crate::StoreError> {
                // Only the filters in use become conditions, so that the planner can pick the
                // index that fits (a queue of one grid walks `cases_grid`, not every case of
                // the status). Values are always bound, never written into the SQL.
                enum Arg { Text(String), Int(i64) }
                const CLOSED: &str = "('refused', 'closed', 'evaluated', 'voided', 'merged', 'shelved')";
                let mut conditions: Vec<String> = Vec::new();
                let mut args: Vec<Arg> = Vec::new();
                let bind = |args: &mut Vec<Arg>, a: Arg| {
                    args.push(a);
                    format!("${}", args.len())
                };
                if let Some(s) = f.status {
                    let p = bind(&mut args, Arg::Text(s.as_str().to_owned()));
                    conditions.push(format!("c.status = {p}"));
                }
                if let Some(g) = &f.grid {
                    let p = bind(&mut args, Arg::Text(g.clone()));
                    conditions.push(format!("c.grid_code = {p}"));
                }
                if let Some(u) = &f.unit {
                    let p = bind(&mut args, Arg::Text(u.clone()));
                    conditions.push(format!(
                        "EXISTS (SELECT 1 FROM case_units u WHERE u.case_id = c.id AND u.unit_code = {p})"
                    ));
                }
                if let Some(c) = &f.category {
                    let p = bind(&mut args, Arg::Text(c.clone()));
                    conditions.push(format!("c.category_code = {p}"));
                }
                if let Some(w) = &f.within {
                    let p = bind(&mut args, Arg::Text(w.as_str().to_owned()));
                    conditions.push(format!("c.region_code >= {p}"));
                    if let Some(end) = $crate::sql::prefix_end(w.as_str()) {
                        let p = bind(&mut args, Arg::Text(end));
                        conditions.push(format!("c.region_code < {p}"));
                    }
                }
                if let Some(r) = &f.region {
                    let p = bind(&mut args, Arg::Text(r.clone()));
                    conditions.push(format!("c.region_code = {p}"));
                }
                if let Some(t) = f.overdue_at {
                    let p = bind(&mut args, Arg::Int($crate::model::micros(t)));
                    conditions.push(format!("c.due_at < {p} AND c.status NOT IN {CLOSED}"));
                }
                if let Some(t) = f.reported_from {
                    let p = bind(&mut args, Arg::Int($crate::model::micros(t)));
                    conditions.push(format!("c.reported_at >= {p}"));
                }
                if let Some(t) = f.reported_to {
                    let p = bind(&mut args, Arg::Int($crate::model::micros(t)));
                    conditions.push(format!("c.reported_at < {p}"));
                }
                if let Some(b) = f.before {
                    let p = bind(&mut args, Arg::Text(b.to_string()));
                    conditions.push(format!("c.id < {p}"));
                }
                if f.running_clock {
                    conditions.push(format!("c.due_at IS NOT NULL AND c.status NOT IN {CLOSED}"));
                }
                if !f.statuses.is_empty() {
                    let ps: Vec<String> = f
                        .statuses
                        .iter()
                        .map(|s| bind(&mut args, Arg::Text(s.as_str().to_owned())))
                        .collect();
                    conditions.push(format!("c.status IN ({})", ps.join(", ")));
                }
                if !f.categories.is_empty() {
                    let ps: Vec<String> = f
                        .categories
                        .iter()
                        .map(|c| bind(&mut args, Arg::Text(c.clone())))
                        .collect();
                    conditions.push(format!("c.category_code IN ({})", ps.join(", ")));
                }
                if !f.open311_batch_categories.is_empty() {
                    let ps: Vec<String> = f
                        .open311_batch_categories
                        .iter()
                        .map(|c| bind(&mut args, Arg::Text(c.clone())))
                        .collect();
                    conditions.push(format!(
                        "NOT (c.channel = 'open311' AND c.status = 'reported' AND c.category_code IN ({}))",
                        ps.join(", ")
                    ));
                }
                if !f.ids.is_empty() {
                    let ps: Vec<String> = f
                        .ids
                        .iter()
                        .map(|id| bind(&mut args, Arg::Text(id.to_string())))
                        .collect();
                    conditions.push(format!("c.id IN ({})", ps.join(", ")));
                }
                let limit = bind(&mut args, Arg::Int(i64::from(f.limit.clamp(1, 1000))));
                let offset = bind(&mut args, Arg::Int(i64::from(f.offset)));
                let sql = format!(
                    "SELECT {} FROM cases c {} ORDER BY c.id DESC LIMIT {limit} OFFSET {offset}",
                    $crate::sql::CASE_COLUMNS,
                    if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) }
                );
                let mut q = sqlx::query(&sql);
                for a in args {
                    q = match a {
                        Arg::Text(t) => q.bind(t),
                        Arg::Int(i) => q.bind(i),
                    };
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter().map(Self::case_row).collect()
            }
            async fn events_since(
                &self,
                actions: &[&str],
                within: Option<&civicgrid_domain::territory::RegionCode>,
                since: jiff::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::CaseEvent>, $crate::StoreError> {
                // The action list is short and fixed by the caller; one query per action keeps
                // the SQL identical on both engines (no array binding in SQLite).
                let mut out = Vec::new();
                for action in actions {
                    #[allow(clippy::type_complexity)]
                    let rows: Vec<(String, i64, String, Option<String>, String, String, i64, String)> = sqlx::query_as(
                        "SELECT case_id, seq, action, from_status, to_status, actor, at, payload FROM case_events
                         WHERE action = $1 AND region_code LIKE $2 AND at >= $3 ORDER BY at, case_id, seq LIMIT $4",
                    )
                    .bind(*action)
                    .bind(format!("{}%", within.map(|r| r.as_str()).unwrap_or("")))
                    .bind($crate::model::micros(since))
                    .bind(i64::from(limit.clamp(1, 1000)))
                    .fetch_all(&self.pool)
                    .await?;
                    for (c, s, a, f, t, who, at, p) in rows {
                        out.push($crate::sql::event_from_row(c, s, a, f, t, who, at, p)?);
                    }
                }
                out.sort_by(|a, b| a.at.cmp(&b.at).then(a.case_id.cmp(&b.case_id)).then(a.seq.cmp(&b.seq)));
                out.truncate(limit.clamp(1, 1000) as usize);
                Ok(out)
            }
            async fn record_personal_data_read(
                &self,
                case: &civicgrid_domain::case::Case,
                actor: &str,
                what: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO personal_data_reads (at, actor, case_id, what, region_code) VALUES ($1, $2, $3, $4, $5)")
                    .bind($crate::model::micros(at))
                    .bind(actor)
                    .bind(case.id.to_string())
                    .bind(what)
                    .bind(case.region.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn personal_data_reads(
                &self,
                case: &uuid::Uuid,
            ) -> Result<Vec<(jiff::Timestamp, String, String)>, $crate::StoreError> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT at, actor, what FROM personal_data_reads WHERE case_id = $1 ORDER BY at",
                )
                .bind(case.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(at, actor, what)| Ok(($crate::model::from_micros(at)?, actor, what)))
                    .collect()
            }
        }

        impl $repo {
            /// A case change and its event (and a photo, if any) in one transaction, provided
            /// the stored version is still the expected one.
            async fn change_case(
                &self,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                events: &[$crate::CaseEvent],
                photo: Option<&$crate::Photo>,
            ) -> Result<(), $crate::StoreError> {
                if events.is_empty() {
                    return Err($crate::StoreError::Invalid("a change needs at least one event".into()));
                }
                let mut tx = self.begin().await?;
                Self::change_in(&mut tx, case, expected_version, events, photo).await?;
                tx.commit().await?;
                Ok(())
            }
            /// New cases with their first events, all or none.
            async fn create_new_cases(
                &self,
                items: &[(&civicgrid_domain::case::Case, &$crate::CaseEvent)],
            ) -> Result<(), $crate::StoreError> {
                if $backend == "postgres" && items.iter().all(|(c, _)| c.state.units.is_empty()) {
                    // One statement is atomic without BEGIN/COMMIT: one round trip.
                    let mut conn = self.pool.acquire().await?;
                    return Self::insert_cases(&mut conn, items).await;
                }
                let mut tx = self.begin().await?;
                Self::insert_cases(&mut tx, items).await?;
                tx.commit().await?;
                Ok(())
            }
            /// Inserts new cases, their units and their first events: on PostgreSQL, when none
            /// is with a unit yet (intake), in one statement.
            async fn insert_cases(
                conn: &mut <$db as sqlx::Database>::Connection,
                items: &[(&civicgrid_domain::case::Case, &$crate::CaseEvent)],
            ) -> Result<(), $crate::StoreError> {
                if items.is_empty() {
                    return Ok(());
                }
                if $backend == "postgres" && items.iter().all(|(c, _)| c.state.units.is_empty()) {
                    let sql = $crate::sql::new_cases_with_events(items.len());
                    let mut q = sqlx::query(&sql);
                    for (case, _) in items {
                        q = Self::bind_new_case(q, case)?;
                    }
                    for (_, e) in items {
                        q = q
                            .bind(e.case_id.to_string())
                            .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                            .bind(e.action.clone())
                            .bind(e.from.map(|s| s.as_str()))
                            .bind(e.to.as_str())
                            .bind(e.actor.clone())
                            .bind($crate::model::micros(e.at))
                            .bind(e.payload.to_string());
                    }
                    q.execute(&mut *conn).await?;
                    return Ok(());
                }
                for (case, event) in items {
                    Self::bind_new_case(sqlx::query($crate::sql::NEW_CASE), case)?
                        .execute(&mut *conn)
                        .await?;
                    Self::write_units(conn, case).await?;
                    Self::write_event(conn, case, event).await?;
                }
                Ok(())
            }
            /// A change, within a transaction unless it is one statement (PostgreSQL without a
            /// photo); [`StoreError::Stale`] or `NotFound` before anything is written.
            async fn change_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                case: &civicgrid_domain::case::Case,
                expected_version: u64,
                events: &[$crate::CaseEvent],
                photo: Option<&$crate::Photo>,
            ) -> Result<(), $crate::StoreError> {
                if events.is_empty() {
                    return Err($crate::StoreError::Invalid("a change needs at least one event".into()));
                }
                // PostgreSQL: one statement, atomic by itself (no BEGIN/COMMIT needed around it).
                let at_once = $backend == "postgres" && photo.is_none();
                let updated = if at_once {
                    use sqlx::Row;
                    let rows: Vec<serde_json::Value> = events
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "seq": e.seq,
                                "action": e.action,
                                "from_status": e.from.map(|s| s.as_str()),
                                "to_status": e.to.as_str(),
                                "actor": e.actor,
                                "at": $crate::model::micros(e.at),
                                "payload": e.payload.to_string(),
                            })
                        })
                        .collect();
                    let row = Self::bind_change(sqlx::query($crate::sql::CHANGE_CASE_AT_ONCE), case, expected_version)?
                        .bind($crate::sql::to_json(&case.state.units)?)
                        .bind(serde_json::Value::Array(rows).to_string())
                        .fetch_one(&mut *conn)
                        .await?;
                    row.try_get::<i64, _>(0)? > 0
                } else {
                    Self::bind_change(sqlx::query($crate::sql::CHANGE_CASE), case, expected_version)?
                        .execute(&mut *conn)
                        .await?
                        .rows_affected()
                        > 0
                };
                if !updated {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM cases WHERE id = $1")
                        .bind(case.id.to_string())
                        .fetch_optional(&mut *conn)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("case {}", case.id)),
                    });
                }
                if at_once {
                    return Ok(());
                }
                sqlx::query("DELETE FROM case_units WHERE case_id = $1")
                    .bind(case.id.to_string())
                    .execute(&mut *conn)
                    .await?;
                Self::write_units(conn, case).await?;
                for event in events {
                    Self::write_event(conn, case, event).await?;
                }
                if let Some(p) = photo {
                    sqlx::query(
                        "INSERT INTO case_photos (case_id, sha256, stage, content_type, size, data, added_by, added_at, region_code)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(case.id.to_string())
                    .bind(&p.sha256)
                    .bind(&p.stage)
                    .bind(&p.content_type)
                    .bind(i64::try_from(p.data.len()).unwrap_or(i64::MAX))
                    .bind(&p.data)
                    .bind(&p.added_by)
                    .bind($crate::model::micros(p.added_at))
                    .bind(case.region.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }
            /// Binds a case change's 15 parameters (`CHANGE_CASE`, `CHANGE_CASE_AT_ONCE`).
            fn bind_change<'q>(
                q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                case: &'q civicgrid_domain::case::Case,
                expected_version: u64,
            ) -> Result<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, $crate::StoreError> {
                Ok(q
                .bind(case.id.to_string())
                .bind(case.grid.as_ref().map(|g| g.to_string()))
                .bind(case.category.as_ref().map(|c| c.to_string()))
                .bind($crate::sql::to_json(&case.attributes)?)
                .bind(case.priority.as_str())
                .bind(&case.routing)
                .bind(case.state.status.as_str())
                .bind($crate::sql::to_json(&case.state)?)
                .bind(i64::try_from(case.state.version).unwrap_or(i64::MAX))
                .bind(case.state.lead().map(str::to_owned))
                .bind(case.clock.as_ref().map($crate::sql::to_json).transpose()?)
                .bind(case.clock.map(|c| $crate::model::micros(c.due_at)))
                .bind($crate::model::micros(case.updated_at))
                .bind(i64::try_from(expected_version).unwrap_or(i64::MAX))
                .bind($crate::sql::to_json(&case.routed_units)?))
            }
            /// Binds a new case's 25 columns to a statement starting with `NEW_CASE`'s parameters.
            fn bind_new_case<'q>(
                q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                case: &'q civicgrid_domain::case::Case,
            ) -> Result<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, $crate::StoreError> {
                Ok(q
                .bind(case.id.to_string())
                .bind(&case.receipt_code)
                .bind(case.channel.as_str())
                .bind(&case.description)
                .bind(case.address.as_deref())
                .bind(case.location.map(|l| l.0))
                .bind(case.location.map(|l| l.1))
                .bind(case.grid.as_ref().map(|g| g.to_string()))
                .bind(case.region.as_str())
                .bind(case.category.as_ref().map(|c| c.to_string()))
                .bind($crate::sql::to_json(&case.attributes)?)
                .bind(case.priority.as_str())
                .bind(case.reporter_sealed.as_deref())
                .bind(&case.routing)
                .bind(case.state.status.as_str())
                .bind($crate::sql::to_json(&case.state)?)
                .bind(i64::try_from(case.state.version).unwrap_or(i64::MAX))
                .bind(case.state.lead().map(str::to_owned))
                .bind(case.clock.as_ref().map($crate::sql::to_json).transpose()?)
                .bind(case.clock.map(|c| $crate::model::micros(c.due_at)))
                .bind($crate::model::micros(case.reported_at))
                .bind($crate::model::micros(case.updated_at))
                .bind($crate::sql::to_json(&case.routed_units)?)
                .bind(&case.public_id)
                .bind(case.reporter_key.as_deref()))
            }
            async fn write_units(
                conn: &mut <$db as sqlx::Database>::Connection,
                case: &civicgrid_domain::case::Case,
            ) -> Result<(), $crate::StoreError> {
                for (i, unit) in case.state.units.iter().enumerate() {
                    sqlx::query("INSERT INTO case_units (case_id, unit_code, lead, region_code) VALUES ($1, $2, $3, $4)")
                        .bind(case.id.to_string())
                        .bind(unit)
                        .bind(i == 0)
                        .bind(case.region.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }
            async fn write_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                case: &civicgrid_domain::case::Case,
                e: &$crate::CaseEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO case_events (case_id, seq, action, from_status, to_status, actor, at, payload, region_code)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.case_id.to_string())
                .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                .bind(&e.action)
                .bind(e.from.map(|s| s.as_str()))
                .bind(e.to.as_str())
                .bind(&e.actor)
                .bind($crate::model::micros(e.at))
                .bind(e.payload.to_string())
                .bind(case.region.as_str())
                .execute(&mut *conn)
                .await?;
                Ok(())
            }
            fn case_row(r: &<$db as sqlx::Database>::Row) -> Result<civicgrid_domain::case::Case, $crate::StoreError> {
                use sqlx::Row;
                $crate::sql::case_from_row($crate::sql::CaseRow {
                    id: r.try_get("id")?,
                    receipt_code: r.try_get("receipt_code")?,
                    public_id: r.try_get("public_id")?,
                    reporter_key: r.try_get("reporter_key")?,
                    channel: r.try_get("channel")?,
                    description: r.try_get("description")?,
                    address: r.try_get("address")?,
                    lon: r.try_get("lon")?,
                    lat: r.try_get("lat")?,
                    grid_code: r.try_get("grid_code")?,
                    region_code: r.try_get("region_code")?,
                    category_code: r.try_get("category_code")?,
                    attributes: r.try_get("attributes")?,
                    priority: r.try_get("priority")?,
                    reporter_sealed: r.try_get("reporter_sealed")?,
                    routed_units: r.try_get("routed_units")?,
                    routing: r.try_get("routing")?,
                    state: r.try_get("state")?,
                    clock: r.try_get("clock")?,
                    reported_at: r.try_get("reported_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }
        }
    };
}

pub(crate) use cases_sql;
