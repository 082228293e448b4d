//! The shapes of one-stop services over REST v1.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use civicgrid_domain::application::{Material, ServiceItem};
use civicgrid_store::{ApplicationRecord, MaterialFile};

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialView {
    pub code: String,
    pub name: String,
    pub required: bool,
    #[serde(default)]
    pub sample: String,
}

/// A service item of the catalogue (public).
#[derive(Serialize, ToSchema)]
pub struct ServiceItemView {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// The handling unit.
    pub unit: String,
    /// The legal time limit in working days from acceptance.
    pub limit_days: u32,
    pub materials: Vec<MaterialView>,
    pub fees: String,
    /// online, counter, proxy.
    pub channels: Vec<String>,
    pub place: String,
    pub basis: String,
    pub active: bool,
}

impl From<&ServiceItem> for ServiceItemView {
    fn from(i: &ServiceItem) -> Self {
        ServiceItemView {
            code: i.code.clone(),
            name: i.name.clone(),
            name_en: i.name_en.clone(),
            unit: i.unit.clone(),
            limit_days: i.limit_days,
            materials: i
                .materials
                .iter()
                .map(|m| MaterialView {
                    code: m.code.clone(),
                    name: m.name.clone(),
                    required: m.required,
                    sample: m.sample.clone(),
                })
                .collect(),
            fees: i.fees.clone(),
            channels: i.channels.iter().map(|c| c.as_str().to_owned()).collect(),
            place: i.place.clone(),
            basis: i.basis.clone(),
            active: i.active,
        }
    }
}

/// A service item as it is written.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceItemBody {
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub unit: String,
    pub limit_days: u32,
    pub materials: Vec<MaterialView>,
    #[serde(default)]
    pub fees: String,
    pub channels: Vec<String>,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub basis: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl ServiceItemBody {
    pub fn into_item(self, code: String) -> Result<ServiceItem, (String, String)> {
        let channels = self
            .channels
            .iter()
            .map(|c| {
                civicgrid_domain::application::ServiceChannel::parse(c).ok_or_else(|| {
                    (
                        "channels".to_owned(),
                        format!("`{c}` is not online, counter or proxy"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServiceItem {
            code,
            name: self.name,
            name_en: self.name_en,
            unit: self.unit,
            limit_days: self.limit_days,
            materials: self
                .materials
                .into_iter()
                .map(|m| Material {
                    code: m.code,
                    name: m.name,
                    required: m.required,
                    sample: m.sample,
                })
                .collect(),
            fees: self.fees,
            channels,
            place: self.place,
            basis: self.basis,
            active: self.active,
        })
    }
}

/// An application as it is filed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplicationBody {
    /// The service item's code.
    pub item: String,
    /// The applicant's community (12 digits).
    pub community: String,
    #[serde(default)]
    pub grid: Option<String>,
    /// The applicant's name.
    pub name: String,
    /// A phone to be told the result.
    pub phone: String,
    /// What is applied for, in the applicant's words.
    #[serde(default)]
    pub details: String,
}

/// An application without the applicant's name or phone.
#[derive(Serialize, ToSchema)]
pub struct ApplicationView {
    pub number: String,
    pub item: String,
    pub community: String,
    /// submitted, correcting, accepted, done or declined.
    pub status: String,
    /// The unit holding it.
    pub unit: String,
    /// online or proxy (filed by a grid worker).
    pub channel: String,
    #[schema(value_type = String)]
    pub submitted_at: Timestamp,
    /// The material codes a request for corrections named, with its note.
    pub corrections: Vec<String>,
    pub correction_note: String,
    #[schema(value_type = Option<String>)]
    pub accepted_at: Option<Timestamp>,
    /// The legal time limit.
    #[schema(value_type = Option<String>)]
    pub due: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<Timestamp>,
    pub approved: Option<bool>,
    /// The result notified, or the reason it was not accepted.
    pub result: String,
    /// very_satisfied … very_dissatisfied, once evaluated.
    pub rating: Option<String>,
    pub version: u64,
}

impl From<&ApplicationRecord> for ApplicationView {
    fn from(a: &ApplicationRecord) -> Self {
        ApplicationView {
            number: a.public_id.clone(),
            item: a.item.clone(),
            community: a.region.to_string(),
            status: a.state.status.as_str().to_owned(),
            unit: a.state.unit.clone(),
            channel: a.channel.as_str().to_owned(),
            submitted_at: a.submitted_at,
            corrections: a.corrections.clone(),
            correction_note: a.correction_note.clone(),
            accepted_at: a.accepted_at,
            due: a.due,
            done_at: a.done_at,
            approved: a.state.approved,
            result: a.result.clone(),
            rating: a.state.rating.map(|r| r.as_str().to_owned()),
            version: a.version,
        }
    }
}

/// A filed application with the secret its resident follows it with (shown only here).
#[derive(Serialize, ToSchema)]
pub struct FiledApplication {
    #[serde(flatten)]
    pub application: ApplicationView,
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct MaterialFileView {
    pub seq: u64,
    pub material: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_by: String,
    #[schema(value_type = String)]
    pub uploaded_at: Timestamp,
}

impl From<&MaterialFile> for MaterialFileView {
    fn from(f: &MaterialFile) -> Self {
        MaterialFileView {
            seq: f.seq,
            material: f.material.clone(),
            name: f.name.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
            uploaded_by: f.uploaded_by.clone(),
            uploaded_at: f.uploaded_at,
        }
    }
}

/// An application for those who handle it: the applicant opened (the read is recorded).
#[derive(Serialize, ToSchema)]
pub struct ApplicationDetailView {
    #[serde(flatten)]
    pub application: ApplicationView,
    pub applicant_name: Option<String>,
    pub applicant_phone: Option<String>,
    pub details: String,
    pub filed_by: String,
    pub files: Vec<MaterialFileView>,
    /// Required materials not yet uploaded.
    pub missing: Vec<String>,
}

/// The resident's number and secret.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    pub secret: String,
}

/// The resident's evaluation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationBody {
    pub secret: String,
    /// very_satisfied, satisfied, basic, dissatisfied or very_dissatisfied.
    pub rating: String,
    #[serde(default)]
    pub note: String,
}

/// What staff do: correct (items, note), accept, decline (reason), forward (unit),
/// complete (approved, result).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationActionBody {
    pub version: u64,
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub approved: Option<bool>,
    #[serde(default)]
    pub result: String,
}
