//! The shapes of party-building over REST v1: organisations, alliances, members.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use civicgrid_domain::party::{Alliance, Organisation, Partner};

/// A party organisation.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationBody {
    pub code: String,
    pub name: String,
    /// committee (党委), general_branch (党总支), branch (党支部) or grid_group (网格党小组).
    pub kind: String,
    /// The code of the organisation above it.
    #[serde(default)]
    pub parent: Option<String>,
    /// The region it leads.
    pub region: String,
    /// The grid of a grid branch or grid group.
    #[serde(default)]
    pub grid: Option<String>,
}

impl From<&Organisation> for OrganisationBody {
    fn from(o: &Organisation) -> Self {
        OrganisationBody {
            code: o.code.clone(),
            name: o.name.clone(),
            kind: o.kind.as_str().to_owned(),
            parent: o.parent.clone(),
            region: o.region.to_string(),
            grid: o.grid.as_ref().map(|g| g.to_string()),
        }
    }
}

impl OrganisationBody {
    pub fn parse(self) -> Result<Organisation, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let kind = self
            .kind
            .parse()
            .map_err(|e| problems.push(("kind".to_owned(), e)));
        let region =
            self.region
                .parse()
                .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                    problems.push(("region".to_owned(), e.to_string()))
                });
        let grid = match self.grid.filter(|g| !g.is_empty()) {
            Some(g) => {
                g.parse()
                    .map(Some)
                    .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                        problems.push(("grid".to_owned(), e.to_string()))
                    })
            }
            None => Ok(None),
        };
        match (kind, region, grid) {
            (Ok(kind), Ok(region), Ok(grid)) if problems.is_empty() => Ok(Organisation {
                code: self.code.trim().to_owned(),
                name: self.name.trim().to_owned(),
                kind,
                parent: self.parent.filter(|p| !p.is_empty()),
                region,
                grid,
            }),
            _ => Err(problems),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `csv` for the table as an import file takes it.
    pub format: Option<String>,
}

/// A partner of an alliance and its commitment (共建项目).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerBody {
    /// organisation, unit or company.
    pub kind: String,
    /// An organisation's or unit's code, or a company's name.
    pub reference: String,
    #[serde(default)]
    pub commitment: String,
}

/// A regional alliance (区域化党建联盟).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllianceBody {
    pub code: String,
    pub name: String,
    pub region: String,
    pub partners: Vec<PartnerBody>,
}

impl From<&Alliance> for AllianceBody {
    fn from(a: &Alliance) -> Self {
        AllianceBody {
            code: a.code.clone(),
            name: a.name.clone(),
            region: a.region.to_string(),
            partners: a
                .partners
                .iter()
                .map(|p| PartnerBody {
                    kind: p.kind.as_str().to_owned(),
                    reference: p.reference.clone(),
                    commitment: p.commitment.clone(),
                })
                .collect(),
        }
    }
}

impl AllianceBody {
    pub fn parse(self) -> Result<Alliance, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let region =
            self.region
                .parse()
                .map_err(|e: civicgrid_domain::territory::TerritoryError| {
                    problems.push(("region".to_owned(), e.to_string()))
                });
        let mut partners = Vec::new();
        for (i, p) in self.partners.into_iter().enumerate() {
            match p.kind.parse() {
                Ok(kind) => partners.push(Partner {
                    kind,
                    reference: p.reference,
                    commitment: p.commitment,
                }),
                Err(e) => problems.push((format!("partners[{i}].kind"), e)),
            }
        }
        match region {
            Ok(region) if problems.is_empty() => Ok(Alliance {
                code: self.code.trim().to_owned(),
                name: self.name.trim().to_owned(),
                region,
                partners,
            }),
            _ => Err(problems),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
}

/// A new member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemberBody {
    pub name: String,
    /// The organisation's code.
    pub organisation: String,
    /// 职务, e.g. 支部书记, 党员.
    #[serde(default)]
    pub duty: String,
    /// Sealed at rest; shown only to roles that read contacts, every read audited.
    #[serde(default)]
    pub phone: Option<String>,
    /// In service (在职党员), with their employer unit.
    #[serde(default)]
    pub in_service: bool,
    #[serde(default)]
    pub employer_unit: Option<String>,
    /// The staff account the member signs in with.
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub id: Uuid,
    pub name: String,
    pub organisation: String,
    pub duty: String,
    pub in_service: bool,
    pub employer_unit: Option<String>,
    pub username: Option<String>,
    /// Whether a phone number is kept (read it at `/api/v1/members/{id}/phone`).
    pub has_phone: bool,
    /// The community applied to or registered with (双报到), and where that stands:
    /// pending, approved or declined.
    pub home_community: Option<String>,
    pub home_status: Option<String>,
}

impl From<&civicgrid_store::MemberRecord> for MemberView {
    fn from(r: &civicgrid_store::MemberRecord) -> Self {
        let m = &r.member;
        MemberView {
            id: m.id,
            name: m.name.clone(),
            organisation: m.organisation.clone(),
            duty: m.duty.clone(),
            in_service: m.in_service,
            employer_unit: m.employer_unit.clone(),
            username: m.username.clone(),
            has_phone: r.phone_sealed.is_some(),
            home_community: m.home.as_ref().map(|h| h.community.to_string()),
            home_status: m.home.as_ref().map(|h| h.status.as_str().to_owned()),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberQuery {
    /// A region code: members of organisations there.
    pub within: String,
    /// Only members whose home-community registration waits there.
    #[serde(default)]
    pub waiting: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PhoneView {
    pub phone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HomeApplication {
    /// The community (12 digits) where the member lives.
    pub community: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub approve: bool,
}
