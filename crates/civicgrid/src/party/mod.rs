//! Party-building leadership (党建引领): the tree of party organisations tied to regions and
//! grids, alliances of organisations, units and companies with their commitments (共建项目),
//! and members — minimal data, a sealed phone, and the home-community registration of
//! in-service members (双报到). Membership is shown only to roles the policy lets read it.
//!
//! Service here; `rest.rs` + `views.rs` (`/api/v1/organisations`, `/api/v1/members`),
//! `pages.rs` (`/party`), `cli.rs` (`import/export organisations|alliances`).

pub mod cli;
pub mod pages;
pub mod rest;
pub mod views;

use std::collections::BTreeMap;

use civicgrid_domain::party::{Alliance, Member, Organisation, Partner, check_tree};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{RegionCode, RegionLevel};
use civicgrid_store::MemberRecord;
use uuid::Uuid;

use crate::App;
use crate::contacts::Contact;
use crate::error::{AppError, AppResult, InputError};
use crate::interchange::csv_table::{self, field_error};

pub const ORGANISATION_COLUMNS: &[&str] = &["code", "name", "kind", "parent", "region", "grid"];
pub const ALLIANCE_COLUMNS: &[&str] = &[
    "alliance",
    "name",
    "region",
    "partner_kind",
    "partner",
    "commitment",
];

/// A new member, as an administrator enters them.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub name: String,
    pub organisation: String,
    pub duty: String,
    pub phone: Option<String>,
    pub in_service: bool,
    pub employer_unit: Option<String>,
    pub username: Option<String>,
}

fn unprocessable(field: &str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable(vec![(field.to_owned(), message.into())])
}

impl App {
    /// Checks organisations against the tree they join and the territory: each problem with
    /// the index of the organisation in `incoming`.
    async fn organisation_problems(
        &self,
        incoming: &[Organisation],
    ) -> AppResult<Vec<(usize, &'static str, String)>> {
        let reference = self.reference().await?;
        let mut merged: BTreeMap<String, Organisation> = self
            .repo
            .organisations()
            .await?
            .into_iter()
            .map(|o| (o.code.clone(), o))
            .collect();
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, o) in incoming.iter().enumerate() {
            if !seen.insert(o.code.clone()) {
                problems.push((i, "code", format!("`{}` is listed twice", o.code)));
            }
            if !reference.region_names.contains_key(&o.region) {
                problems.push((i, "region", format!("no region {}", o.region)));
            }
            if let Some(g) = &o.grid
                && !reference.grid_regions.contains_key(g)
            {
                problems.push((i, "grid", format!("no grid {g}")));
            }
            merged.insert(o.code.clone(), o.clone());
        }
        let all: Vec<Organisation> = merged.into_values().collect();
        for (j, field, message) in check_tree(&all) {
            if let Some(i) = incoming.iter().position(|o| o.code == all[j].code) {
                problems.push((i, field, message));
            } else {
                // A kept organisation broken by the change (its parent changed kind, say).
                problems.push((0, field, format!("{}: {message}", all[j].code)));
            }
        }
        problems.sort();
        problems.dedup();
        Ok(problems)
    }

    /// The regions a change of organisations touches: each one's new region, and the region
    /// an existing one has now (moving an organisation, and its members with it, needs the
    /// permission on both sides).
    async fn org_regions_touched(&self, orgs: &[Organisation]) -> AppResult<Vec<RegionCode>> {
        let kept = self.repo.organisations().await?;
        let mut out: Vec<RegionCode> = orgs.iter().map(|o| o.region.clone()).collect();
        out.extend(
            kept.into_iter()
                .filter(|k| orgs.iter().any(|o| o.code == k.code))
                .map(|k| k.region),
        );
        Ok(out)
    }

    /// The same for alliances (replacing one replaces its partners).
    async fn alliance_regions_touched(&self, alliances: &[Alliance]) -> AppResult<Vec<RegionCode>> {
        let kept = self.repo.alliances().await?;
        let mut out: Vec<RegionCode> = alliances.iter().map(|a| a.region.clone()).collect();
        out.extend(
            kept.into_iter()
                .filter(|k| alliances.iter().any(|a| a.code == k.code))
                .map(|k| k.region),
        );
        Ok(out)
    }

    fn may_manage_all(
        &self,
        policy: civicgrid_domain::policy::Policy<'_>,
        actor: &Actor,
        regions: impl Iterator<Item = RegionCode>,
    ) -> AppResult<()> {
        for r in regions {
            policy
                .may_manage_party(actor, &r)
                .map_err(AppError::Forbidden)?;
        }
        Ok(())
    }

    /// The organisation tree, for staff (it is not personal data; members are).
    pub async fn organisations_for(&self, actor: &Actor) -> AppResult<Vec<Organisation>> {
        if !matches!(actor, Actor::Staff { .. } | Actor::System) {
            return Err(AppError::Forbidden(
                "the organisation tree is for staff".into(),
            ));
        }
        Ok(self.repo.organisations().await?)
    }

    /// Adds or changes organisations (by code), all or nothing.
    pub async fn save_organisations(
        &self,
        actor: &Actor,
        orgs: &[Organisation],
    ) -> AppResult<usize> {
        let reference = self.reference().await?;
        self.may_manage_all(
            reference.policy(),
            actor,
            self.org_regions_touched(orgs).await?.into_iter(),
        )?;
        let problems = self.organisation_problems(orgs).await?;
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(
                problems
                    .into_iter()
                    .map(|(i, f, m)| {
                        let field = if orgs.len() == 1 {
                            f.to_owned()
                        } else {
                            format!("[{i}].{f}")
                        };
                        (field, m)
                    })
                    .collect(),
            ));
        }
        self.repo.save_organisations(orgs).await?;
        Ok(orgs.len())
    }

    /// Imports organisations from CSV (`code,name,kind,parent,region,grid`), all or nothing:
    /// every problem is named by file, line and field.
    pub async fn import_organisations(
        &self,
        actor: &Actor,
        file: &str,
        text: &str,
    ) -> AppResult<usize> {
        let rows = read_organisations(file, text).map_err(AppError::Input)?;
        let orgs: Vec<Organisation> = rows.iter().map(|(_, o)| o.clone()).collect();
        let reference = self.reference().await?;
        self.may_manage_all(
            reference.policy(),
            actor,
            self.org_regions_touched(&orgs).await?.into_iter(),
        )?;
        let problems = self.organisation_problems(&orgs).await?;
        if !problems.is_empty() {
            return Err(AppError::Input(
                problems
                    .into_iter()
                    .map(|(i, f, m)| {
                        InputError::line(file, rows.get(i).map_or(0, |r| r.0), Some(f), m)
                    })
                    .collect(),
            ));
        }
        self.repo.save_organisations(&orgs).await?;
        Ok(orgs.len())
    }

    pub async fn export_organisations(&self) -> AppResult<String> {
        let orgs = self.repo.organisations().await?;
        Ok(csv_table::write(
            ORGANISATION_COLUMNS,
            orgs.iter().map(|o| {
                vec![
                    o.code.clone(),
                    o.name.clone(),
                    o.kind.as_str().to_owned(),
                    o.parent.clone().unwrap_or_default(),
                    o.region.to_string(),
                    o.grid.as_ref().map(|g| g.to_string()).unwrap_or_default(),
                ]
            }),
        ))
    }

    /// Problems with alliances: each (index, field, problem).
    async fn alliance_problems(
        &self,
        alliances: &[Alliance],
    ) -> AppResult<Vec<(usize, usize, &'static str, String)>> {
        let reference = self.reference().await?;
        let orgs: std::collections::BTreeSet<String> = self
            .repo
            .organisations()
            .await?
            .into_iter()
            .map(|o| o.code)
            .collect();
        let mut problems = Vec::new();
        for (i, a) in alliances.iter().enumerate() {
            if a.code.trim().is_empty() || a.code.len() > 40 {
                problems.push((i, 0, "alliance", "1 to 40 characters".to_owned()));
            }
            if a.name.trim().is_empty() || a.name.chars().count() > 100 {
                problems.push((i, 0, "name", "1 to 100 characters".to_owned()));
            }
            if !reference.region_names.contains_key(&a.region) {
                problems.push((i, 0, "region", format!("no region {}", a.region)));
            }
            if a.partners.is_empty() {
                problems.push((
                    i,
                    0,
                    "partner",
                    "an alliance has at least one partner".to_owned(),
                ));
            }
            for (j, p) in a.partners.iter().enumerate() {
                let known = match p.kind {
                    civicgrid_domain::party::PartnerKind::Organisation => {
                        orgs.contains(&p.reference)
                    }
                    civicgrid_domain::party::PartnerKind::Unit => {
                        reference.units.iter().any(|u| u.code == p.reference)
                    }
                    civicgrid_domain::party::PartnerKind::Company => {
                        !p.reference.trim().is_empty() && p.reference.chars().count() <= 100
                    }
                };
                if !known {
                    problems.push((
                        i,
                        j,
                        "partner",
                        format!("no {} `{}`", p.kind.as_str(), p.reference),
                    ));
                }
                if p.commitment.chars().count() > 500 {
                    problems.push((i, j, "commitment", "at most 500 characters".to_owned()));
                }
            }
        }
        Ok(problems)
    }

    pub async fn save_alliances(&self, actor: &Actor, alliances: &[Alliance]) -> AppResult<usize> {
        let reference = self.reference().await?;
        self.may_manage_all(
            reference.policy(),
            actor,
            self.alliance_regions_touched(alliances).await?.into_iter(),
        )?;
        let problems = self.alliance_problems(alliances).await?;
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(
                problems
                    .into_iter()
                    .map(|(_, j, f, m)| {
                        let field = if f == "partner" || f == "commitment" {
                            format!(
                                "partners[{j}].{}",
                                if f == "partner" { "reference" } else { f }
                            )
                        } else {
                            f.to_owned()
                        };
                        (field, m)
                    })
                    .collect(),
            ));
        }
        self.repo.save_alliances(alliances).await?;
        Ok(alliances.len())
    }

    /// Imports alliances from CSV, one row per partner (`alliance,name,region,partner_kind,
    /// partner,commitment`); each alliance in the file replaces its partner list. All or
    /// nothing.
    pub async fn import_alliances(
        &self,
        actor: &Actor,
        file: &str,
        text: &str,
    ) -> AppResult<usize> {
        let rows = csv_table::read(file, text, ALLIANCE_COLUMNS, |row| {
            Ok((
                row.line,
                row.get("alliance")?.to_owned(),
                row.get("name")?.to_owned(),
                row.parse::<RegionCode>("region")?,
                Partner {
                    kind: row.parse("partner_kind")?,
                    reference: row.get("partner")?.to_owned(),
                    commitment: row.opt("commitment").unwrap_or_default().to_owned(),
                },
            ))
        })
        .map_err(AppError::Input)?;
        let mut alliances: Vec<Alliance> = Vec::new();
        // (alliance index, partner index) → line.
        let mut lines: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        let mut errors = Vec::new();
        for (line, code, name, region, partner) in rows {
            let i = match alliances.iter().position(|a| a.code == code) {
                Some(i) => {
                    if alliances[i].name != name || alliances[i].region != region {
                        errors.push(InputError::line(
                            file,
                            line,
                            Some("name"),
                            format!(
                                "alliance {code} has another name or region on an earlier line"
                            ),
                        ));
                    }
                    i
                }
                None => {
                    alliances.push(Alliance {
                        code,
                        name,
                        region,
                        partners: vec![],
                    });
                    alliances.len() - 1
                }
            };
            lines.insert((i, alliances[i].partners.len()), line);
            alliances[i].partners.push(partner);
        }
        let reference = self.reference().await?;
        self.may_manage_all(
            reference.policy(),
            actor,
            self.alliance_regions_touched(&alliances).await?.into_iter(),
        )?;
        for (i, j, f, m) in self.alliance_problems(&alliances).await? {
            let line = lines.get(&(i, j)).copied().unwrap_or(0);
            errors.push(InputError::line(file, line, Some(f), m));
        }
        if !errors.is_empty() {
            return Err(AppError::Input(errors));
        }
        self.repo.save_alliances(&alliances).await?;
        Ok(alliances.len())
    }

    pub async fn export_alliances(&self) -> AppResult<String> {
        let alliances = self.repo.alliances().await?;
        Ok(csv_table::write(
            ALLIANCE_COLUMNS,
            alliances.iter().flat_map(|a| {
                a.partners.iter().map(move |p| {
                    vec![
                        a.code.clone(),
                        a.name.clone(),
                        a.region.to_string(),
                        p.kind.as_str().to_owned(),
                        p.reference.clone(),
                        p.commitment.clone(),
                    ]
                })
            }),
        ))
    }

    pub async fn alliances(&self) -> AppResult<Vec<Alliance>> {
        Ok(self.repo.alliances().await?)
    }

    /// Alliances and their commitments: public, they are what the community board shows.
    pub async fn alliances_in(&self, within: &RegionCode) -> AppResult<Vec<Alliance>> {
        Ok(self
            .repo
            .alliances()
            .await?
            .into_iter()
            .filter(|a| a.region.contains(within) || within.contains(&a.region))
            .collect())
    }

    /// Adds a member to an organisation.
    pub async fn add_member(&self, actor: &Actor, new: NewMember) -> AppResult<MemberRecord> {
        let org = self
            .repo
            .organisations()
            .await?
            .into_iter()
            .find(|o| o.code == new.organisation)
            .ok_or_else(|| {
                unprocessable(
                    "organisation",
                    format!("no organisation `{}`", new.organisation),
                )
            })?;
        self.reference()
            .await?
            .policy()
            .may_manage_party(actor, &org.region)
            .map_err(AppError::Forbidden)?;
        let id = self.ids.new_id(self.clock.now());
        let member = Member {
            id,
            name: new.name.trim().to_owned(),
            organisation: org.code.clone(),
            duty: new.duty.trim().to_owned(),
            in_service: new.in_service,
            employer_unit: new
                .employer_unit
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty()),
            username: new.username.filter(|u| !u.trim().is_empty()),
            home: None,
        };
        let mut problems: Vec<(String, String)> = member
            .problems()
            .into_iter()
            .map(|(f, m)| (f.to_owned(), m))
            .collect();
        if let Some(u) = &member.username
            && self.repo.user(u).await?.is_none()
        {
            problems.push(("username".into(), format!("no account `{u}`")));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let contact = new.phone.map(|p| Contact {
            phone: Some(p),
            ..Contact::default()
        });
        let record = MemberRecord {
            phone_sealed: self.seal_contact(&id, contact.as_ref(), "phone")?,
            member,
            region: org.region,
        };
        match self.repo.save_member(&record, self.clock.now()).await {
            Err(civicgrid_store::StoreError::Conflict(_)) => Err(unprocessable(
                "username",
                "this account already belongs to another member",
            )),
            other => other.map_err(AppError::from),
        }?;
        Ok(record)
    }

    /// Members of organisations in `within`, for roles that read membership there.
    pub async fn members_for(
        &self,
        actor: &Actor,
        within: &RegionCode,
    ) -> AppResult<Vec<MemberRecord>> {
        self.reference()
            .await?
            .policy()
            .may_read_membership(actor, within)
            .map_err(AppError::Forbidden)?;
        Ok(self.repo.members(within).await?)
    }

    /// One member: for roles that read membership in their organisation's region, and for
    /// the member themself.
    pub async fn member_for(&self, actor: &Actor, id: &Uuid) -> AppResult<MemberRecord> {
        let record = self
            .repo
            .member(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("member {id}")))?;
        let own = record.member.username.as_deref() == Some(actor.name())
            && matches!(actor, Actor::Staff { .. });
        if !own {
            self.reference()
                .await?
                .policy()
                .may_read_membership(actor, &record.region)
                .map_err(AppError::Forbidden)?;
        }
        Ok(record)
    }

    /// A member's phone number: audited, for roles that read contacts in their region.
    pub async fn member_phone(&self, actor: &Actor, id: &Uuid) -> AppResult<Option<String>> {
        let record = self.member_for(actor, id).await?;
        Ok(self
            .open_contact(
                actor,
                id,
                &record.region,
                record.phone_sealed.as_deref(),
                "member phone",
            )
            .await?
            .and_then(|c| c.phone))
    }

    /// The member the signed-in account is, if any.
    pub async fn member_of(&self, actor: &Actor) -> AppResult<Option<MemberRecord>> {
        match actor {
            Actor::Staff { username, .. } => Ok(self.repo.member_by_username(username).await?),
            _ => Ok(None),
        }
    }

    /// 双报到: the signed-in in-service member applies to the community where they live.
    pub async fn apply_home(
        &self,
        actor: &Actor,
        community: RegionCode,
    ) -> AppResult<MemberRecord> {
        let mut record = self.member_of(actor).await?.ok_or_else(|| {
            AppError::Forbidden("home-community registration is for party members".into())
        })?;
        if !self
            .reference()
            .await?
            .region_names
            .contains_key(&community)
            || community.level() != RegionLevel::Community
        {
            return Err(unprocessable(
                "community",
                format!("{community} is not a community of this deployment"),
            ));
        }
        record
            .member
            .apply_home(community)
            .map_err(AppError::Conflict)?;
        self.repo.save_member(&record, self.clock.now()).await?;
        Ok(record)
    }

    /// The community approves or declines a waiting application.
    pub async fn decide_home(
        &self,
        actor: &Actor,
        id: &Uuid,
        approve: bool,
    ) -> AppResult<MemberRecord> {
        let mut record = self
            .repo
            .member(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("member {id}")))?;
        // The community applied to decides; without an application, the organisation's
        // (who is then told that nothing waits).
        let deciding = record
            .member
            .home
            .as_ref()
            .map_or_else(|| record.region.clone(), |h| h.community.clone());
        self.reference()
            .await?
            .policy()
            .may_manage_party(actor, &deciding)
            .map_err(AppError::Forbidden)?;
        record
            .member
            .decide_home(approve)
            .map_err(AppError::Conflict)?;
        self.repo.save_member(&record, self.clock.now()).await?;
        Ok(record)
    }

    /// Applications waiting in `within`, for whoever decides them there.
    pub async fn home_applications_for(
        &self,
        actor: &Actor,
        within: &RegionCode,
    ) -> AppResult<Vec<MemberRecord>> {
        self.reference()
            .await?
            .policy()
            .may_manage_party(actor, within)
            .map_err(AppError::Forbidden)?;
        Ok(self.repo.home_applications(within).await?)
    }

    /// The communities whose wishes and activities an account takes part in: as a member,
    /// the community of their organisation and their approved home community; as a
    /// volunteer, the community they registered with.
    pub async fn communities_of(&self, actor: &Actor) -> AppResult<Vec<RegionCode>> {
        let Actor::Staff { username, .. } = actor else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        if let Some(m) = self.repo.member_by_username(username).await? {
            if m.region.level() == RegionLevel::Community {
                out.push(m.region.clone());
            }
            if let Some(home) = m.member.home_community() {
                out.push(home.clone());
            }
        }
        if let Some(v) = self.repo.volunteer_by_username(username).await? {
            out.push(v.region);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Organisations as CSV: `code,name,kind,parent,region,grid` (kind: committee,
/// general_branch, branch, grid_group, or 党委/党总支/党支部/网格党小组).
pub fn read_organisations(
    file: &str,
    text: &str,
) -> Result<Vec<(u64, Organisation)>, Vec<InputError>> {
    csv_table::read(file, text, ORGANISATION_COLUMNS, |row| {
        let grid = match row.opt("grid").map(str::trim).filter(|g| !g.is_empty()) {
            Some(g) => Some(g.parse().map_err(|e| field_error("grid", format!("{e}")))?),
            None => None,
        };
        Ok((
            row.line,
            Organisation {
                code: row.get("code")?.trim().to_owned(),
                name: row.get("name")?.trim().to_owned(),
                kind: row.parse("kind")?,
                parent: row
                    .opt("parent")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
                region: row.parse("region")?,
                grid,
            },
        ))
    })
}
