//! Disputes (矛盾纠纷) and their mediation: kinds, mediators per tier, disputes with their
//! append-only events, and the versions of written agreements. A dispute's row keeps the
//! columns lists filter on and the whole record as JSON (parties and session records arrive
//! sealed by the application). A signed agreement version is never rewritten: the update is
//! conditional here, and a trigger refuses it on both backends.
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `disputes_sql!`.

use async_trait::async_trait;
use civicgrid_domain::dispute::{DisputeState, Risk, Tier};
use civicgrid_domain::territory::{GridCode, RegionCode};
use serde::{Deserialize, Serialize};

use crate::*;

/// The assessment source disputes are queued under.
pub const DISPUTE_SOURCE: &str = "dispute";

/// A kind of dispute, as data: its lowest competent tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeKind {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub lowest_tier: Tier,
    pub position: i64,
}

/// A mediator registered at a tier of a region: a staff account or a registered volunteer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediatorRecord {
    pub id: uuid::Uuid,
    pub tier: Tier,
    pub region: RegionCode,
    /// `staff` or `volunteer`.
    pub kind: String,
    /// The username, or the volunteer's id.
    pub reference: String,
    /// The name printed on agreements.
    pub name: String,
    pub added_by: String,
    pub added_at: jiff::Timestamp,
}

/// A mediation session (the record, 调解笔录, sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub seq: u32,
    pub held_at: jiff::Timestamp,
    pub place: String,
    /// Mediators' names.
    pub mediators: Vec<String>,
    /// The record and who attended (names), sealed.
    pub record: String,
    /// continued, written, oral or failed.
    pub outcome: String,
    pub recorded_by: String,
}

/// A follow-up visit (回访), due after an agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpRecord {
    pub due: jiff::Timestamp,
    pub done_at: Option<jiff::Timestamp>,
    pub performed: Option<bool>,
    pub note: String,
    pub visited_by: Option<String>,
}

/// A dispute as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisputeRecord {
    pub id: uuid::Uuid,
    /// The number shown on pages and agreements.
    pub public_id: String,
    /// The community it arose in.
    pub region: RegionCode,
    pub grid: Option<GridCode>,
    pub kind: String,
    pub risk: Risk,
    /// counter, grid_worker or case.
    pub channel: String,
    pub case_id: Option<uuid::Uuid>,
    /// What it is about, without names (lists and the assessment show it).
    pub summary: String,
    /// The parties (sides, names, phones), sealed.
    pub parties: String,
    pub raised_by: String,
    pub raised_at: jiff::Timestamp,
    pub state: DisputeState,
    /// When the mediation limit started (raised, or reopened), and the limit on the
    /// calendar with extensions.
    pub limit_from: jiff::Timestamp,
    pub limit_due: jiff::Timestamp,
    /// When an agreement was reached or mediation failed (the latest such).
    pub outcome_at: Option<jiff::Timestamp>,
    pub closed_at: Option<jiff::Timestamp>,
    pub sessions: Vec<SessionRecord>,
    pub follow_ups: Vec<FollowUpRecord>,
    /// The window for 司法确认 after signing.
    pub confirmation_due: Option<jiff::Timestamp>,
    /// The same parties had a dispute in the year before it was raised.
    pub repeat: bool,
    /// Where a failure was referred, in words (the court, the arbitration committee, …).
    pub referral_note: Option<String>,
    pub version: u64,
}

/// One version of a written agreement; `content` is sealed, `sha256` is of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementRecord {
    pub dispute_id: uuid::Uuid,
    pub version: u32,
    pub content: String,
    pub sha256: String,
    pub drafted_by: String,
    pub drafted_at: jiff::Timestamp,
    pub signed_at: Option<jiff::Timestamp>,
    /// Who signed, as recorded by the mediator (sealed with the content's key).
    pub signatures: Option<String>,
}

/// One change of a dispute.
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeEvent {
    pub seq: u64,
    pub at: jiff::Timestamp,
    pub actor: String,
    /// The domain action as JSON.
    pub action: String,
    pub note: String,
}

/// What a change writes beside the dispute's row and event.
#[derive(Debug, Clone, Default)]
pub struct DisputeWrite<'a> {
    /// A new agreement version.
    pub draft: Option<&'a AgreementRecord>,
    /// A version signed: (version, when, sealed signatures).
    pub sign: Option<(u32, jiff::Timestamp, &'a str)>,
}

#[async_trait]
pub trait DisputeStore: Send + Sync {
    async fn dispute_kinds(&self) -> Result<Vec<DisputeKind>, StoreError>;
    async fn put_dispute_kind(&self, kind: &DisputeKind) -> Result<(), StoreError>;
    /// `Conflict` if the person is a mediator at that tier and region already.
    async fn add_mediator(&self, m: &MediatorRecord) -> Result<(), StoreError>;
    /// Retires a mediator (again is nothing); false if there is no such mediator.
    async fn retire_mediator(
        &self,
        id: &uuid::Uuid,
        at: jiff::Timestamp,
    ) -> Result<bool, StoreError>;
    /// A mediator, serving or retired.
    async fn mediator(&self, id: &uuid::Uuid) -> Result<Option<MediatorRecord>, StoreError>;
    /// Serving mediators of regions under `within` (a code prefix).
    async fn mediators(&self, within: &str) -> Result<Vec<MediatorRecord>, StoreError>;

    /// A new dispute with its first event and its parties' blind keys, (side, key).
    async fn create_dispute(
        &self,
        dispute: &DisputeRecord,
        party_keys: &[(String, String)],
        event: &DisputeEvent,
    ) -> Result<(), StoreError>;
    /// Writes a changed dispute (version one more than `expected_version`) with its event and
    /// what the change writes besides; `Stale` if someone changed it first, `Conflict` if a
    /// signed agreement would change.
    async fn update_dispute(
        &self,
        dispute: &DisputeRecord,
        expected_version: u64,
        event: &DisputeEvent,
        write: DisputeWrite<'_>,
    ) -> Result<(), StoreError>;
    async fn dispute(&self, id: &uuid::Uuid) -> Result<Option<DisputeRecord>, StoreError>;
    async fn dispute_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<DisputeRecord>, StoreError>;
    /// Disputes of regions under `within`, newest first; only open ones if `open`.
    async fn disputes(
        &self,
        within: &str,
        open: bool,
        limit: u32,
    ) -> Result<Vec<DisputeRecord>, StoreError>;
    async fn disputes_of_case(&self, case: &uuid::Uuid) -> Result<Vec<DisputeRecord>, StoreError>;
    async fn dispute_events(&self, id: &uuid::Uuid) -> Result<Vec<DisputeEvent>, StoreError>;
    async fn agreements(&self, id: &uuid::Uuid) -> Result<Vec<AgreementRecord>, StoreError>;
    /// Disputes being mediated or whose agreement is followed up (the timers' sweep).
    async fn open_disputes(&self, limit: u32) -> Result<Vec<DisputeRecord>, StoreError>;
    /// Other disputes raised in [from, to) with one of `a`'s keys on one side and one of
    /// `b`'s on the other (the same parties again).
    async fn repeat_disputes(
        &self,
        id: &uuid::Uuid,
        a: &[String],
        b: &[String],
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<u64, StoreError>;
}

macro_rules! disputes_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        impl $repo {
            fn dispute_from_row(doc: String, version: i64) -> Result<$crate::DisputeRecord, $crate::StoreError> {
                let mut d: $crate::DisputeRecord = $crate::sql::from_json("dispute", &doc)?;
                d.version = u64::try_from(version).unwrap_or(0);
                Ok(d)
            }

            async fn mediators_where(&self, condition: &str, value: &str) -> Result<Vec<$crate::MediatorRecord>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(String, String, String, String, String, String, String, i64)> = sqlx::query_as(&format!(
                    "SELECT id, tier, region_code, kind, reference, name, added_by, added_at FROM mediators
                     WHERE {condition} ORDER BY region_code, tier, name"
                ))
                .bind(value)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, tier, region, kind, reference, name, added_by, added_at)| {
                        Ok($crate::MediatorRecord {
                            id: $crate::sql::parse("mediator id", &id)?,
                            tier: civicgrid_domain::dispute::Tier::parse(&tier)
                                .ok_or_else(|| $crate::StoreError::Corrupt(format!("tier {tier}")))?,
                            region: $crate::sql::parse("region", &region)?,
                            kind,
                            reference,
                            name,
                            added_by,
                            added_at: $crate::model::from_micros(added_at)?,
                        })
                    })
                    .collect()
            }

            async fn append_dispute_event(
                tx: &mut sqlx::Transaction<'_, $db>,
                d: &$crate::DisputeRecord,
                e: &$crate::DisputeEvent,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO dispute_events (dispute_id, seq, at, actor, action, note)
                     SELECT $1, COALESCE(MAX(seq) + 1, 0), $2, $3, $4, $5 FROM dispute_events WHERE dispute_id = $1",
                )
                .bind(d.id.to_string())
                .bind($crate::model::micros(e.at))
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.note)
                .execute(&mut **tx)
                .await?;
                sqlx::query($crate::sql::MARK_KPI)
                    .bind($crate::disputes::DISPUTE_SOURCE)
                    .bind(d.id.to_string())
                    .bind(d.region.as_str())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::DisputeStore for $repo {
            async fn dispute_kinds(&self) -> Result<Vec<$crate::DisputeKind>, $crate::StoreError> {
                let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                    "SELECT code, name_zh, name_en, lowest_tier, position FROM dispute_kinds ORDER BY position, code",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(code, name_zh, name_en, tier, position)| {
                        Ok($crate::DisputeKind {
                            code,
                            name_zh,
                            name_en,
                            lowest_tier: civicgrid_domain::dispute::Tier::parse(&tier)
                                .ok_or_else(|| $crate::StoreError::Corrupt(format!("tier {tier}")))?,
                            position,
                        })
                    })
                    .collect()
            }

            async fn put_dispute_kind(&self, k: &$crate::DisputeKind) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO dispute_kinds (code, name_zh, name_en, lowest_tier, position) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh, name_en = excluded.name_en,
                       lowest_tier = excluded.lowest_tier, position = excluded.position",
                )
                .bind(&k.code)
                .bind(&k.name_zh)
                .bind(&k.name_en)
                .bind(k.lowest_tier.as_str())
                .bind(k.position)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn add_mediator(&self, m: &$crate::MediatorRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO mediators (id, tier, region_code, kind, reference, name, added_by, added_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(m.id.to_string())
                .bind(m.tier.as_str())
                .bind(m.region.as_str())
                .bind(&m.kind)
                .bind(&m.reference)
                .bind(&m.name)
                .bind(&m.added_by)
                .bind($crate::model::micros(m.added_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn retire_mediator(&self, id: &uuid::Uuid, at: jiff::Timestamp) -> Result<bool, $crate::StoreError> {
                sqlx::query("UPDATE mediators SET retired_at = $2 WHERE id = $1 AND retired_at IS NULL")
                    .bind(id.to_string())
                    .bind($crate::model::micros(at))
                    .execute(&self.pool)
                    .await?;
                Ok(self.mediator(id).await?.is_some())
            }

            async fn mediator(&self, id: &uuid::Uuid) -> Result<Option<$crate::MediatorRecord>, $crate::StoreError> {
                Ok(self
                    .mediators_where("id = $1", &id.to_string())
                    .await?
                    .into_iter()
                    .next())
            }

            async fn mediators(&self, within: &str) -> Result<Vec<$crate::MediatorRecord>, $crate::StoreError> {
                self.mediators_where("region_code LIKE $1 || '%' AND retired_at IS NULL", within).await
            }

            async fn create_dispute(
                &self,
                d: &$crate::DisputeRecord,
                keys: &[(String, String)],
                e: &$crate::DisputeEvent,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "INSERT INTO disputes (id, public_id, region_code, grid_code, status, tier, case_id, raised_at, limit_due, doc, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)",
                )
                .bind(d.id.to_string())
                .bind(&d.public_id)
                .bind(d.region.as_str())
                .bind(d.grid.as_ref().map(|g| g.as_str().to_owned()))
                .bind(d.state.status.as_str())
                .bind(d.state.tier.as_str())
                .bind(d.case_id.map(|c| c.to_string()))
                .bind($crate::model::micros(d.raised_at))
                .bind($crate::model::micros(d.limit_due))
                .bind($crate::sql::to_json(d)?)
                .execute(&mut *tx)
                .await?;
                for (side, key) in keys {
                    sqlx::query(
                        "INSERT INTO dispute_party_keys (dispute_id, side, party_key, raised_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(d.id.to_string())
                    .bind(side)
                    .bind(key)
                    .bind($crate::model::micros(d.raised_at))
                    .execute(&mut *tx)
                    .await?;
                }
                Self::append_dispute_event(&mut tx, d, e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_dispute(
                &self,
                d: &$crate::DisputeRecord,
                expected: u64,
                e: &$crate::DisputeEvent,
                write: $crate::DisputeWrite<'_>,
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                let done = sqlx::query(
                    "UPDATE disputes SET status = $2, tier = $3, limit_due = $4, doc = $5, version = $6
                     WHERE id = $1 AND version = $7",
                )
                .bind(d.id.to_string())
                .bind(d.state.status.as_str())
                .bind(d.state.tier.as_str())
                .bind($crate::model::micros(d.limit_due))
                .bind($crate::sql::to_json(d)?)
                .bind(i64::try_from(expected + 1).unwrap_or(i64::MAX))
                .bind(i64::try_from(expected).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    let current: Option<(i64,)> = sqlx::query_as("SELECT version FROM disputes WHERE id = $1")
                        .bind(d.id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match current {
                        Some((v,)) => $crate::StoreError::Stale { current: u64::try_from(v).unwrap_or(0) },
                        None => $crate::StoreError::NotFound(format!("dispute {}", d.id)),
                    });
                }
                if let Some(a) = write.draft {
                    sqlx::query(
                        "INSERT INTO dispute_agreements (dispute_id, version, content, sha256, drafted_by, drafted_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(a.dispute_id.to_string())
                    .bind(i64::from(a.version))
                    .bind(&a.content)
                    .bind(&a.sha256)
                    .bind(&a.drafted_by)
                    .bind($crate::model::micros(a.drafted_at))
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some((version, at, signatures)) = write.sign {
                    let signed = sqlx::query(
                        "UPDATE dispute_agreements SET signed_at = $3, signatures = $4
                         WHERE dispute_id = $1 AND version = $2 AND signed_at IS NULL",
                    )
                    .bind(d.id.to_string())
                    .bind(i64::from(version))
                    .bind($crate::model::micros(at))
                    .bind(signatures)
                    .execute(&mut *tx)
                    .await?;
                    if signed.rows_affected() == 0 {
                        return Err($crate::StoreError::Conflict(format!(
                            "agreement version {version} is signed already or does not exist"
                        )));
                    }
                }
                Self::append_dispute_event(&mut tx, d, e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn dispute(&self, id: &uuid::Uuid) -> Result<Option<$crate::DisputeRecord>, $crate::StoreError> {
                let row: Option<(String, i64)> = sqlx::query_as("SELECT doc, version FROM disputes WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(doc, v)| Self::dispute_from_row(doc, v)).transpose()
            }

            async fn dispute_by_public_id(
                &self,
                public_id: &str,
            ) -> Result<Option<$crate::DisputeRecord>, $crate::StoreError> {
                let row: Option<(String, i64)> =
                    sqlx::query_as("SELECT doc, version FROM disputes WHERE public_id = $1")
                        .bind(public_id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(doc, v)| Self::dispute_from_row(doc, v)).transpose()
            }

            async fn disputes(
                &self,
                within: &str,
                open: bool,
                limit: u32,
            ) -> Result<Vec<$crate::DisputeRecord>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT doc, version FROM disputes WHERE region_code LIKE $1 || '%'
                       AND ($2 = 0 OR status IN ('mediating', 'agreed', 'not_performed'))
                     ORDER BY raised_at DESC, id LIMIT $3",
                )
                .bind(within)
                .bind(i64::from(open))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|(doc, v)| Self::dispute_from_row(doc, v)).collect()
            }

            async fn disputes_of_case(&self, case: &uuid::Uuid) -> Result<Vec<$crate::DisputeRecord>, $crate::StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT doc, version FROM disputes WHERE case_id = $1 ORDER BY raised_at")
                        .bind(case.to_string())
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(|(doc, v)| Self::dispute_from_row(doc, v)).collect()
            }

            async fn dispute_events(&self, id: &uuid::Uuid) -> Result<Vec<$crate::DisputeEvent>, $crate::StoreError> {
                let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
                    "SELECT seq, at, actor, action, note FROM dispute_events WHERE dispute_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(seq, at, actor, action, note)| {
                        Ok($crate::DisputeEvent {
                            seq: u64::try_from(seq).unwrap_or(0),
                            at: $crate::model::from_micros(at)?,
                            actor,
                            action,
                            note,
                        })
                    })
                    .collect()
            }

            async fn agreements(&self, id: &uuid::Uuid) -> Result<Vec<$crate::AgreementRecord>, $crate::StoreError> {
                #[allow(clippy::type_complexity)]
                let rows: Vec<(i64, String, String, String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
                    "SELECT version, content, sha256, drafted_by, drafted_at, signed_at, signatures
                     FROM dispute_agreements WHERE dispute_id = $1 ORDER BY version",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(version, content, sha256, drafted_by, drafted_at, signed_at, signatures)| {
                        Ok($crate::AgreementRecord {
                            dispute_id: *id,
                            version: u32::try_from(version).unwrap_or(0),
                            content,
                            sha256,
                            drafted_by,
                            drafted_at: $crate::model::from_micros(drafted_at)?,
                            signed_at: signed_at.map($crate::model::from_micros).transpose()?,
                            signatures,
                        })
                    })
                    .collect()
            }

            async fn open_disputes(&self, limit: u32) -> Result<Vec<$crate::DisputeRecord>, $crate::StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT doc, version FROM disputes WHERE status IN ('mediating', 'agreed')
                     ORDER BY limit_due, id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|(doc, v)| Self::dispute_from_row(doc, v)).collect()
            }

            async fn repeat_disputes(
                &self,
                id: &uuid::Uuid,
                a: &[String],
                b: &[String],
                from: jiff::Timestamp,
                to: jiff::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                if a.is_empty() || b.is_empty() {
                    return Ok(0);
                }
                let list = |start: usize, n: usize| {
                    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
                };
                let sql = format!(
                    "SELECT COUNT(DISTINCT x.dispute_id) FROM dispute_party_keys x
                     JOIN dispute_party_keys y ON y.dispute_id = x.dispute_id AND y.side <> x.side
                     WHERE x.dispute_id <> $1 AND x.raised_at >= $2 AND x.raised_at < $3
                       AND x.party_key IN ({}) AND y.party_key IN ({})",
                    list(4, a.len()),
                    list(4 + a.len(), b.len())
                );
                let mut q = sqlx::query_as::<_, (i64,)>(&sql)
                    .bind(id.to_string())
                    .bind($crate::model::micros(from))
                    .bind($crate::model::micros(to));
                for k in a.iter().chain(b) {
                    q = q.bind(k);
                }
                let (n,) = q.fetch_one(&self.pool).await?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }
    };
}
pub(crate) use disputes_sql;
