//! One-stop services (一站式服务): the catalogue of service items (事项清单) and the
//! applications residents file online, or grid workers file for them (代办). Materials are
//! uploaded as files; acceptance checks them against the checklist; a request for
//! corrections names every missing item at once and is made once (一次性告知); processing
//! runs to the item's legal time limit on the working calendar; the resident follows the
//! application by its number and secret and evaluates the result (好差评).
//!
//! The rules are `civicgrid_domain::application`; who may do what is `policy/disputes.rs`
//! (with mediation, the other service of the 综治中心). The applicant's name and phone are
//! sealed under the data key bound to the application; opening them is recorded.

pub mod catalogue;
pub mod kpi;
pub mod pages;
pub mod rest;
pub mod views;

use civicgrid_domain::application::{
    ApplicationAction, ApplicationStatus, Rating, ServiceChannel, ServiceItem, apply_application,
};
use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode, RegionLevel};
use civicgrid_store::{ApplicationEvent, ApplicationRecord, MaterialFile, StoreError};

use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::consultation::{stale, text, unprocessable};
use crate::contacts::Contact;
use crate::error::{AppError, AppResult};

/// The types a material may be uploaded as: scans and photos.
pub const MATERIAL_TYPES: [&str; 4] = ["application/pdf", "image/jpeg", "image/png", "image/webp"];
/// The largest material file.
pub const MATERIAL_MAX_BYTES: usize = 10 * 1024 * 1024;

/// An application as the resident (or the grid worker for them) files it.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub item: String,
    pub community: RegionCode,
    pub grid: Option<GridCode>,
    pub name: String,
    pub phone: Option<String>,
    pub details: String,
}

/// A filed application and the secret the resident follows it with (shown once).
pub struct ApplicationReceipt {
    pub application: ApplicationRecord,
    pub secret: String,
}

/// What staff do to an application.
#[derive(Debug, Clone)]
pub enum ApplicationStep {
    /// 一次性告知: every item to correct, with a note.
    RequestCorrections {
        items: Vec<String>,
        note: String,
    },
    Accept,
    Decline {
        reason: String,
    },
    Forward {
        unit: String,
    },
    Complete {
        approved: bool,
        result: String,
    },
}

fn application_event(
    at: jiff::Timestamp,
    actor: &str,
    action: &ApplicationAction,
    note: &str,
) -> AppResult<ApplicationEvent> {
    Ok(ApplicationEvent {
        seq: 0,
        at,
        actor: actor.to_owned(),
        action: serde_json::to_string(action).map_err(|e| AppError::Invalid(e.to_string()))?,
        note: note.to_owned(),
    })
}

impl App {
    /// The item an application is for.
    async fn item_of(&self, a: &ApplicationRecord) -> AppResult<ServiceItem> {
        self.repo
            .service_item(&a.item)
            .await?
            .ok_or_else(|| AppError::Invalid(format!("service item {} is gone", a.item)))
    }

    async fn provided(&self, a: &ApplicationRecord) -> AppResult<Vec<String>> {
        let mut codes: Vec<String> = self
            .repo
            .material_files(&a.id)
            .await?
            .into_iter()
            .map(|f| f.material)
            .collect();
        codes.sort();
        codes.dedup();
        Ok(codes)
    }

    /// Files an application: a resident online, or a grid worker for a resident (代办).
    /// Returns the number and the secret for the resident to follow it.
    pub async fn submit_application(
        &self,
        actor: &Actor,
        new: NewApplication,
    ) -> AppResult<ApplicationReceipt> {
        let refs = self.reference().await?;
        let by_proxy = matches!(actor, Actor::Staff { .. })
            && refs
                .policy()
                .may_file_for_resident(actor, &new.community)
                .is_ok();
        let (filed_by, channel) = if by_proxy {
            (actor.name().to_owned(), ServiceChannel::Proxy)
        } else {
            ("resident".to_owned(), ServiceChannel::Online)
        };
        let mut problems = Vec::new();
        let item = self.repo.service_item(&new.item).await?;
        match &item {
            None => problems.push((
                "item".to_owned(),
                format!("`{}` is not a service item", new.item),
            )),
            Some(i) if !i.channels.contains(&channel) => problems.push((
                "item".to_owned(),
                format!(
                    "{} is not applied for {}",
                    i.name,
                    match channel {
                        ServiceChannel::Proxy => "by a grid worker",
                        _ => "online: go to the counter",
                    }
                ),
            )),
            Some(_) => {}
        }
        if new.community.level() != RegionLevel::Community
            || !refs.region_names.contains_key(&new.community)
        {
            problems.push((
                "community".to_owned(),
                format!("{} is not a community of this platform", new.community),
            ));
        }
        if let Some(g) = &new.grid
            && refs.grid_regions.get(g) != Some(&new.community)
        {
            problems.push((
                "grid".to_owned(),
                format!("{g} is not a grid of {}", new.community),
            ));
        }
        let name = text("name", &new.name, 1, 50, &mut problems);
        let details = text("details", &new.details, 0, 1000, &mut problems);
        let phone = new
            .phone
            .as_ref()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if phone.is_none() {
            problems.push((
                "phone".to_owned(),
                "a phone to be told the result".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let Some(item) = item else {
            return Err(unprocessable("item", "not a service item"));
        };
        let state = apply_application(None, &item, &[], &ApplicationAction::Submit)
            .map_err(AppError::Conflict)?;
        let now = self.clock.now();
        for _attempt in 0..5 {
            let id = self.ids.new_id(now);
            let secret = civicgrid_domain::case::reporter_secret(self.ids.random_bits());
            let contact = Contact {
                name: Some(name.clone()),
                phone: phone.clone(),
                email: None,
                ..Default::default()
            };
            let a = ApplicationRecord {
                id,
                public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
                reporter_key: Some(crate::cases::seal::reporter_key(
                    self.sealer.as_deref(),
                    &id,
                    &secret,
                )),
                item: item.code.clone(),
                region: new.community.clone(),
                grid: new.grid.clone(),
                applicant: self.seal_contact(&id, Some(&contact), "applicant")?,
                details: details.clone(),
                filed_by: filed_by.clone(),
                channel,
                submitted_at: now,
                state: state.clone(),
                corrections: vec![],
                correction_note: String::new(),
                accepted_at: None,
                due: None,
                done_at: None,
                result: String::new(),
                evaluated_at: None,
                evaluation_note: String::new(),
                version: 0,
            };
            let e =
                application_event(now, &filed_by, &ApplicationAction::Submit, channel.as_str())?;
            match self.repo.create_application(&a, &e).await {
                Err(StoreError::Conflict(_)) => continue,
                other => other?,
            }
            return Ok(ApplicationReceipt {
                application: a,
                secret,
            });
        }
        Err(AppError::Invalid(
            "could not draw a free application number".into(),
        ))
    }

    /// An application for its resident: by number and secret, counted against the caller's
    /// lookups; a wrong secret and an unknown number get the same refusal.
    pub async fn application_for_resident(
        &self,
        number: &str,
        secret: &str,
        from: &ClientAddr,
    ) -> AppResult<ApplicationRecord> {
        self.count_lookup(from).await?;
        let refused =
            || AppError::Forbidden("this number and secret do not match an application".into());
        let a = self
            .repo
            .application_by_public_id(&number.trim().to_ascii_uppercase())
            .await?
            .ok_or_else(refused)?;
        let given =
            civicgrid_domain::case::normalize_reporter_secret(secret).ok_or_else(refused)?;
        let expected = crate::cases::seal::reporter_key(self.sealer.as_deref(), &a.id, &given);
        let kept = a.reporter_key.clone().unwrap_or_default();
        let same = kept.len() == expected.len()
            && kept
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0;
        if !same {
            return Err(refused());
        }
        Ok(a)
    }

    /// Whether `actor` handles the application (its region's or its unit's handlers).
    async fn handles(&self, actor: &Actor, a: &ApplicationRecord) -> AppResult<()> {
        self.reference()
            .await?
            .policy()
            .may_handle_application(actor, &a.region, &a.state.unit)
            .map_err(AppError::Forbidden)
    }

    /// An application for staff who handle it, or the grid worker who filed it.
    pub async fn application(&self, actor: &Actor, number: &str) -> AppResult<ApplicationRecord> {
        let a = self
            .repo
            .application_by_public_id(number)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("application {number}")))?;
        // The grid worker who filed it for the resident (代办) follows it too.
        let filer = a.channel == ServiceChannel::Proxy
            && matches!(actor, Actor::Staff { username, .. } if *username == a.filed_by);
        if !filer {
            self.handles(actor, &a).await?;
        }
        Ok(a)
    }

    /// The applicant's name and phone, for those who handle the application (recorded).
    pub async fn applicant(
        &self,
        actor: &Actor,
        a: &ApplicationRecord,
    ) -> AppResult<Option<Contact>> {
        self.handles(actor, a).await?;
        let (Some(sealed), Some(sealer)) = (&a.applicant, self.sealer.as_deref()) else {
            return Ok(None);
        };
        let contact: Contact = sealer.open_json(&a.id, sealed)?;
        self.repo
            .record_contact_read(
                &a.id,
                &a.region,
                actor.name(),
                "applicant",
                self.clock.now(),
            )
            .await?;
        Ok(Some(contact))
    }

    /// Applications the actor handles: of the regions and units where it holds
    /// service.handle, newest first.
    pub async fn applications(&self, actor: &Actor) -> AppResult<Vec<ApplicationRecord>> {
        let Actor::Staff { grants, .. } = actor else {
            return Err(AppError::Forbidden(
                "applications are read by those who handle them".into(),
            ));
        };
        let refs = self.reference().await?;
        let mut within = Vec::new();
        let mut units = Vec::new();
        for g in grants {
            let holds = refs.roles.iter().any(|r| {
                r.code == g.role
                    && r.permissions
                        .contains(&civicgrid_domain::access::Permission::ServiceHandle)
            });
            if !holds {
                continue;
            }
            match &g.scope {
                civicgrid_domain::access::Scope::Region(r) => within.push(r.to_string()),
                civicgrid_domain::access::Scope::Unit(u) => units.push(u.clone()),
            }
        }
        if within.is_empty() && units.is_empty() {
            return Err(AppError::Forbidden(
                "applications need service.handle".into(),
            ));
        }
        Ok(self.repo.applications(&within, &units, 500).await?)
    }

    pub async fn application_events(
        &self,
        a: &ApplicationRecord,
    ) -> AppResult<Vec<ApplicationEvent>> {
        Ok(self.repo.application_events(&a.id).await?)
    }

    /// The materials uploaded, their names opened.
    pub async fn material_files(&self, a: &ApplicationRecord) -> AppResult<Vec<MaterialFile>> {
        let sealer = self.material_sealer()?;
        self.repo
            .material_files(&a.id)
            .await?
            .into_iter()
            .map(|mut f| {
                f.name = sealer.open_json(&a.id, &f.name)?;
                Ok(f)
            })
            .collect()
    }

    fn material_sealer(&self) -> AppResult<&crate::cases::seal::Sealer> {
        self.sealer.as_deref().ok_or_else(|| {
            AppError::Invalid(
                "this deployment has no data key, so it keeps no application materials (they are personal data)"
                    .into(),
            )
        })
    }

    /// A material's bytes, for those who handle the application.
    pub async fn material_file(
        &self,
        actor: &Actor,
        number: &str,
        seq: u64,
    ) -> AppResult<(MaterialFile, Vec<u8>)> {
        let a = self.application(actor, number).await?;
        self.handles(actor, &a).await?;
        self.repo
            .record_contact_read(&a.id, &a.region, actor.name(), "material", self.clock.now())
            .await?;
        let (mut meta, sealed) = self
            .repo
            .material_file(&a.id, seq)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("material file {seq}")))?;
        let sealer = self.material_sealer()?;
        meta.name = sealer.open_json(&a.id, &meta.name)?;
        Ok((meta, sealer.open_bytes(&a.id, &sealed)?))
    }

    /// Uploads a material, while the application awaits its check or its corrections: the
    /// resident (with the secret: `who` is "resident"), its grid worker or its handlers.
    pub async fn add_material(
        &self,
        a: &ApplicationRecord,
        who: &str,
        material: &str,
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> AppResult<MaterialFile> {
        if !matches!(
            a.state.status,
            ApplicationStatus::Submitted | ApplicationStatus::Correcting
        ) {
            return Err(AppError::Conflict(
                "materials are added before the application is accepted".into(),
            ));
        }
        let item = self.item_of(a).await?;
        let content_type = crate::files::sniffed(content_type, &data);
        let name = name.trim().to_owned();
        let mut problems = crate::files::upload_problems(
            &name,
            content_type,
            &data,
            &MATERIAL_TYPES,
            MATERIAL_MAX_BYTES,
        );
        if !item.materials.iter().any(|m| m.code == material) {
            problems.push((
                "material".to_owned(),
                format!("`{material}` is not on the checklist of {}", item.name),
            ));
        }
        if self.repo.material_files(&a.id).await?.len() >= 30 {
            problems.push((
                "file".to_owned(),
                "at most 30 files per application".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        // Sealed at rest: scans of identity papers and leases are personal data; the digest is
        // keyed, so it cannot be matched against a file found elsewhere.
        let sealer = self.material_sealer()?;
        let sha256 = sealer.keyed_digest(&data);
        let sealed_name = sealer.seal_json(&a.id, &name)?;
        let sealed = sealer.seal_bytes(&a.id, &data)?;
        let now = self.clock.now();
        let e = ApplicationEvent {
            seq: 0,
            at: now,
            actor: who.to_owned(),
            action: "{\"action\":\"upload\"}".to_owned(),
            note: material.to_owned(),
        };
        let seq = self
            .repo
            .add_material_file(
                a,
                material,
                &sealed_name,
                content_type,
                &sealed,
                &sha256,
                &e,
            )
            .await?;
        Ok(MaterialFile {
            seq,
            material: material.to_owned(),
            name,
            content_type: content_type.to_owned(),
            size: data.len() as u64,
            sha256,
            uploaded_by: who.to_owned(),
            uploaded_at: now,
        })
    }

    /// Moves an application on by `action`, checked against the item and the materials.
    async fn change_application(
        &self,
        a: &ApplicationRecord,
        expected_version: u64,
        who: &str,
        action: ApplicationAction,
        note: &str,
        edit: impl FnOnce(&mut ApplicationRecord, jiff::Timestamp),
    ) -> AppResult<ApplicationRecord> {
        if a.version != expected_version {
            return Err(AppError::Stale { current: a.version });
        }
        let item = self.item_of(a).await?;
        let provided = self.provided(a).await?;
        let state = apply_application(Some(&a.state), &item, &provided, &action)
            .map_err(AppError::Conflict)?;
        let now = self.clock.now();
        let mut changed = a.clone();
        changed.state = state;
        edit(&mut changed, now);
        let e = application_event(now, who, &action, note)?;
        self.repo
            .update_application(&changed, expected_version, &e)
            .await
            .map_err(stale)?;
        changed.version = expected_version + 1;
        Ok(changed)
    }

    /// What the handling staff do: corrections, acceptance, declining, forwarding, completion.
    pub async fn application_step(
        &self,
        actor: &Actor,
        number: &str,
        expected_version: u64,
        step: ApplicationStep,
    ) -> AppResult<ApplicationRecord> {
        let a = self
            .repo
            .application_by_public_id(number)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("application {number}")))?;
        self.handles(actor, &a).await?;
        let refs = self.reference().await?;
        let mut problems = Vec::new();
        let (action, note) = match step {
            ApplicationStep::RequestCorrections { items, note } => {
                let note = text("note", &note, 0, 500, &mut problems);
                (ApplicationAction::RequestCorrections { items }, note)
            }
            ApplicationStep::Accept => (ApplicationAction::Accept, String::new()),
            ApplicationStep::Decline { reason } => {
                let reason = text("reason", &reason, 1, 500, &mut problems);
                (
                    ApplicationAction::Decline {
                        reason: reason.clone(),
                    },
                    reason,
                )
            }
            ApplicationStep::Forward { unit } => {
                if !refs.units.iter().any(|u| u.code == unit) {
                    problems.push(("unit".to_owned(), format!("`{unit}` is not a unit")));
                }
                (ApplicationAction::Forward { unit: unit.clone() }, unit)
            }
            ApplicationStep::Complete { approved, result } => {
                let result = text("result", &result, 1, 1000, &mut problems);
                (ApplicationAction::Complete { approved }, result)
            }
        };
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let calendar = refs.calendar.clone();
        let item = self.item_of(&a).await?;
        self.change_application(
            &a,
            expected_version,
            actor.name(),
            action.clone(),
            &note,
            |c, now| match &action {
                ApplicationAction::RequestCorrections { items } => {
                    c.corrections = items.clone();
                    c.correction_note = note.clone();
                }
                ApplicationAction::Accept => {
                    c.accepted_at = Some(now);
                    c.due = Some(calendar.deadline(
                        now,
                        TimeLimit {
                            clock: ClockType::WorkingDays,
                            amount: item.limit_days,
                        },
                    ));
                }
                ApplicationAction::Decline { .. } => {
                    c.done_at = Some(now);
                    c.result = note.clone();
                }
                ApplicationAction::Complete { .. } => {
                    c.done_at = Some(now);
                    c.result = note.clone();
                }
                _ => {}
            },
        )
        .await
    }

    /// The resident (or the grid worker who filed it) hands the corrected application back.
    pub async fn resubmit_application(
        &self,
        a: &ApplicationRecord,
        who: &str,
    ) -> AppResult<ApplicationRecord> {
        self.change_application(
            a,
            a.version,
            who,
            ApplicationAction::Resubmit,
            "",
            |_, _| {},
        )
        .await
    }

    /// The resident's evaluation of the result (好差评), once.
    pub async fn evaluate_application(
        &self,
        a: &ApplicationRecord,
        rating: Rating,
        note: &str,
    ) -> AppResult<ApplicationRecord> {
        let mut problems = Vec::new();
        let note = text("note", note, 0, 500, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        self.change_application(
            a,
            a.version,
            "resident",
            ApplicationAction::Evaluate { rating },
            &note,
            |c, now| {
                c.evaluated_at = Some(now);
                c.evaluation_note = note.clone();
            },
        )
        .await
    }
}
