//! Party organisations, alliances and members (党建引领).
//!
//! The trait is what the application sees; the SQL below is written once and compiled for
//! each backend by `party_sql!`.

use async_trait::async_trait;
use civicgrid_domain::party::{Alliance, Member, Organisation};
use civicgrid_domain::territory::RegionCode;

use crate::*;

/// A member as kept: the domain's member, the region of their organisation, and the sealed
/// phone (opened only by the application, for roles that may).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    pub member: Member,
    pub region: RegionCode,
    pub phone_sealed: Option<String>,
}

#[async_trait]
pub trait PartyStore: Send + Sync {
    /// Writes organisations (new or changed, by code) in one transaction, parents first: an
    /// import is all or nothing.
    async fn save_organisations(&self, orgs: &[Organisation]) -> Result<(), StoreError>;
    /// Every organisation, by code.
    async fn organisations(&self) -> Result<Vec<Organisation>, StoreError>;
    /// Writes alliances (new or changed, by code, partners replaced) in one transaction.
    async fn save_alliances(&self, alliances: &[Alliance]) -> Result<(), StoreError>;
    async fn alliances(&self) -> Result<Vec<Alliance>, StoreError>;
    /// A new member or a change to one, by id.
    async fn save_member(
        &self,
        record: &MemberRecord,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    async fn member(&self, id: &uuid::Uuid) -> Result<Option<MemberRecord>, StoreError>;
    async fn member_by_username(&self, username: &str) -> Result<Option<MemberRecord>, StoreError>;
    /// Members whose organisation lies in `within`, by name.
    async fn members(&self, within: &RegionCode) -> Result<Vec<MemberRecord>, StoreError>;
    /// Home-community registrations waiting in `within` (by the community applied to).
    async fn home_applications(&self, within: &RegionCode)
    -> Result<Vec<MemberRecord>, StoreError>;
    /// Records that `actor` opened a person's sealed contact (a member's, a household's, a
    /// volunteer's): the audit of personal data.
    async fn record_contact_read(
        &self,
        person: &uuid::Uuid,
        region: &RegionCode,
        actor: &str,
        what: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError>;
    /// Who opened a person's contact, oldest first: (at, actor, what).
    async fn contact_reads(
        &self,
        person: &uuid::Uuid,
    ) -> Result<Vec<(jiff::Timestamp, String, String)>, StoreError>;
}

type MemberRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) const MEMBER_COLUMNS: &str = "id, name, organisation_code, region_code, duty, phone_sealed, in_service, employer_unit, username, home_region, home_status";

pub(crate) fn member_from_row(r: MemberRow) -> Result<MemberRecord, StoreError> {
    let (
        id,
        name,
        organisation,
        region,
        duty,
        phone_sealed,
        in_service,
        employer_unit,
        username,
        home_region,
        home_status,
    ) = r;
    let home = match (home_region, home_status) {
        (Some(c), Some(s)) => Some(civicgrid_domain::party::HomeRegistration {
            community: crate::sql::parse("home region", &c)?,
            status: crate::sql::parse("home status", &s)?,
        }),
        _ => None,
    };
    Ok(MemberRecord {
        member: Member {
            id: crate::sql::parse("member id", &id)?,
            name,
            organisation,
            duty,
            in_service,
            employer_unit,
            username,
            home,
        },
        region: crate::sql::parse("member region", &region)?,
        phone_sealed,
    })
}

pub(crate) fn organisation_from_row(
    (code, name, kind, parent, region, grid): (
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    ),
) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        code,
        name,
        kind: crate::sql::parse("organisation kind", &kind)?,
        parent,
        region: crate::sql::parse("organisation region", &region)?,
        grid: grid
            .map(|g| crate::sql::parse("organisation grid", &g))
            .transpose()?,
    })
}

/// Orders organisations so that every parent comes before its children (the foreign key
/// checks each row as it is written).
pub(crate) fn parents_first(orgs: &[Organisation]) -> Vec<&Organisation> {
    let mut out: Vec<&Organisation> = Vec::with_capacity(orgs.len());
    let mut placed = std::collections::BTreeSet::new();
    let mut rest: Vec<&Organisation> = orgs.iter().collect();
    while !rest.is_empty() {
        let before = rest.len();
        rest.retain(|o| {
            let ready = o
                .parent
                .as_ref()
                .is_none_or(|p| placed.contains(p) || !orgs.iter().any(|x| &x.code == p));
            if ready {
                placed.insert(o.code.clone());
                out.push(o);
            }
            !ready
        });
        if rest.len() == before {
            // A cycle: write the rest as they are and let the database refuse them.
            out.append(&mut rest);
        }
    }
    out
}

macro_rules! party_sql {
    ($repo:ty, $db:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::PartyStore for $repo {
            async fn save_organisations(
                &self,
                orgs: &[civicgrid_domain::party::Organisation],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for o in $crate::party::parents_first(orgs) {
                    sqlx::query(
                        "INSERT INTO party_organisations (code, name, kind, parent_code, region_code, grid_code)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (code) DO UPDATE SET name = $2, kind = $3, parent_code = $4,
                           region_code = $5, grid_code = $6",
                    )
                    .bind(&o.code)
                    .bind(&o.name)
                    .bind(o.kind.as_str())
                    .bind(&o.parent)
                    .bind(o.region.as_str())
                    .bind(o.grid.as_ref().map(|g| g.as_str()))
                    .execute(&mut *tx)
                    .await?;
                    // A member's region follows their organisation's.
                    sqlx::query("UPDATE party_members SET region_code = $2 WHERE organisation_code = $1")
                        .bind(&o.code)
                        .bind(o.region.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
            async fn organisations(&self) -> Result<Vec<civicgrid_domain::party::Organisation>, $crate::StoreError> {
                let rows: Vec<(String, String, String, Option<String>, String, Option<String>)> = sqlx::query_as(
                    "SELECT code, name, kind, parent_code, region_code, grid_code FROM party_organisations ORDER BY code",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::party::organisation_from_row).collect()
            }
            async fn save_alliances(
                &self,
                alliances: &[civicgrid_domain::party::Alliance],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin().await?;
                for a in alliances {
                    sqlx::query(
                        "INSERT INTO party_alliances (code, name, region_code) VALUES ($1, $2, $3)
                         ON CONFLICT (code) DO UPDATE SET name = $2, region_code = $3",
                    )
                    .bind(&a.code)
                    .bind(&a.name)
                    .bind(a.region.as_str())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM party_alliance_partners WHERE alliance_code = $1")
                        .bind(&a.code)
                        .execute(&mut *tx)
                        .await?;
                    for (i, p) in a.partners.iter().enumerate() {
                        sqlx::query(
                            "INSERT INTO party_alliance_partners (alliance_code, position, kind, reference, commitment)
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(&a.code)
                        .bind(i64::try_from(i).unwrap_or(i64::MAX))
                        .bind(p.kind.as_str())
                        .bind(&p.reference)
                        .bind(&p.commitment)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
            async fn alliances(&self) -> Result<Vec<civicgrid_domain::party::Alliance>, $crate::StoreError> {
                let heads: Vec<(String, String, String)> =
                    sqlx::query_as("SELECT code, name, region_code FROM party_alliances ORDER BY code")
                        .fetch_all(&self.pool)
                        .await?;
                let partners: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT alliance_code, kind, reference, commitment FROM party_alliance_partners
                     ORDER BY alliance_code, position",
                )
                .fetch_all(&self.pool)
                .await?;
                heads
                    .into_iter()
                    .map(|(code, name, region)| {
                        let partners = partners
                            .iter()
                            .filter(|p| p.0 == code)
                            .map(|(_, kind, reference, commitment)| {
                                Ok(civicgrid_domain::party::Partner {
                                    kind: $crate::sql::parse("partner kind", kind)?,
                                    reference: reference.clone(),
                                    commitment: commitment.clone(),
                                })
                            })
                            .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                        Ok(civicgrid_domain::party::Alliance {
                            region: $crate::sql::parse("alliance region", &region)?,
                            code,
                            name,
                            partners,
                        })
                    })
                    .collect()
            }
            async fn save_member(
                &self,
                r: &$crate::MemberRecord,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                let m = &r.member;
                sqlx::query(
                    "INSERT INTO party_members (id, name, organisation_code, region_code, duty, phone_sealed,
                       in_service, employer_unit, username, home_region, home_status, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (id) DO UPDATE SET name = $2, organisation_code = $3, region_code = $4,
                       duty = $5, phone_sealed = $6, in_service = $7, employer_unit = $8, username = $9,
                       home_region = $10, home_status = $11",
                )
                .bind(m.id.to_string())
                .bind(&m.name)
                .bind(&m.organisation)
                .bind(r.region.as_str())
                .bind(&m.duty)
                .bind(&r.phone_sealed)
                .bind(m.in_service)
                .bind(&m.employer_unit)
                .bind(&m.username)
                .bind(m.home.as_ref().map(|h| h.community.to_string()))
                .bind(m.home.as_ref().map(|h| h.status.as_str()))
                .bind($crate::model::micros(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn member(&self, id: &uuid::Uuid) -> Result<Option<$crate::MemberRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!(
                    "SELECT {} FROM party_members WHERE id = $1",
                    $crate::party::MEMBER_COLUMNS
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::party::member_from_row).transpose()
            }
            async fn member_by_username(&self, username: &str) -> Result<Option<$crate::MemberRecord>, $crate::StoreError> {
                let row = sqlx::query_as(&format!(
                    "SELECT {} FROM party_members WHERE username = $1",
                    $crate::party::MEMBER_COLUMNS
                ))
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::party::member_from_row).transpose()
            }
            async fn members(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
            ) -> Result<Vec<$crate::MemberRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM party_members WHERE region_code LIKE $1 ORDER BY name, id",
                    $crate::party::MEMBER_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::party::member_from_row).collect()
            }
            async fn home_applications(
                &self,
                within: &civicgrid_domain::territory::RegionCode,
            ) -> Result<Vec<$crate::MemberRecord>, $crate::StoreError> {
                let rows = sqlx::query_as(&format!(
                    "SELECT {} FROM party_members WHERE home_region LIKE $1 AND home_status = 'pending' ORDER BY name, id",
                    $crate::party::MEMBER_COLUMNS
                ))
                .bind(format!("{}%", within.as_str()))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::party::member_from_row).collect()
            }
            async fn record_contact_read(
                &self,
                person: &uuid::Uuid,
                region: &civicgrid_domain::territory::RegionCode,
                actor: &str,
                what: &str,
                at: jiff::Timestamp,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("INSERT INTO contact_reads (at, actor, person_id, what, region_code) VALUES ($1, $2, $3, $4, $5)")
                    .bind($crate::model::micros(at))
                    .bind(actor)
                    .bind(person.to_string())
                    .bind(what)
                    .bind(region.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn contact_reads(
                &self,
                person: &uuid::Uuid,
            ) -> Result<Vec<(jiff::Timestamp, String, String)>, $crate::StoreError> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT at, actor, what FROM contact_reads WHERE person_id = $1 ORDER BY at",
                )
                .bind(person.to_string())
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(at, actor, what)| Ok(($crate::model::from_micros(at)?, actor, what)))
                    .collect()
            }
        }
    };
}

pub(crate) use party_sql;
