//! The sealed contacts of people the platform keeps (party members, households, volunteers):
//! sealed under the data key bound to the person's record, opened only for roles the policy
//! lets read contacts in the person's region, and every opening recorded (who, when, whose).
//! Reporters' contacts live with their cases (`cases/seal.rs`) and follow the same rules.

use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::RegionCode;
use uuid::Uuid;

use crate::App;
use crate::cases::seal::Reporter;
use crate::error::{AppError, AppResult};

/// A person's contact: a name (a household's 户主, say) and a phone, both optional.
pub type Contact = Reporter;

impl App {
    /// Seals a contact for the record `owner`; nothing to seal gives `None`. Bad fields are
    /// refused under `field`; a deployment without a data key refuses any contact.
    pub(crate) fn seal_contact(
        &self,
        owner: &Uuid,
        contact: Option<&Contact>,
        field: &str,
    ) -> AppResult<Option<String>> {
        let Some(contact) = contact.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let problems: Vec<(String, String)> = contact
            .problems()
            .into_iter()
            .map(|(f, m)| (f.replacen("reporter", field, 1), m))
            .collect();
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        if contact.email.is_some() {
            return Err(AppError::Unprocessable(vec![(
                format!("{field}.email"),
                "only a name and a phone are kept".into(),
            )]));
        }
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            AppError::Invalid(
                "this deployment has no data key, so it keeps no phone numbers".into(),
            )
        })?;
        Ok(Some(sealer.seal_json(owner, contact)?))
    }

    /// Opens a person's sealed contact for `actor`, if the policy lets them read contacts in
    /// `region`, and records the read.
    pub(crate) async fn open_contact(
        &self,
        actor: &Actor,
        owner: &Uuid,
        region: &RegionCode,
        sealed: Option<&str>,
        what: &str,
    ) -> AppResult<Option<Contact>> {
        self.reference()
            .await?
            .policy()
            .may_read_personal_contact(actor, region)
            .map_err(AppError::Forbidden)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            AppError::Invalid("this deployment has no data key to open contact details".into())
        })?;
        let contact: Contact = sealer.open_json(owner, sealed)?;
        self.repo
            .record_contact_read(owner, region, actor.name(), what, self.clock.now())
            .await?;
        Ok(Some(contact))
    }
}
