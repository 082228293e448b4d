//! People's mediation (人民调解) of disputes (矛盾纠纷): raising a dispute at the lowest
//! competent tier (at a counter, by a grid worker, or from a case), moving it between tiers
//! with reasons, sessions with their sealed records, written agreements (printable, with the
//! SHA-256 of their text, a new version for any change after signing), oral agreements,
//! failures with referrals, the statutory timers and the follow-up visits.
//!
//! The rules are `civicgrid_domain::dispute`; who may do what is `policy/disputes.rs`. The
//! parties' names and phones, session records and agreement texts are sealed under the data
//! key bound to the dispute, and every opening is recorded as a contact read.

pub mod cli;
pub mod jobs;
pub mod kpi;
pub mod pages;
pub mod rest;
pub mod views;

use civicgrid_domain::case::deadline::Alarm;
use civicgrid_domain::dispute::{
    AgreementContent, DisputeAction, DisputeState, DisputeStatus, NamedParty, Periods, Referral,
    Risk, Term, Tier, apply, limit_alarm, mediation_due, period_end,
};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode, RegionLevel};
use civicgrid_store::{
    AgreementRecord, DisputeEvent, DisputeKind, DisputeRecord, DisputeWrite, FollowUpRecord,
    MediatorRecord, SessionRecord, StoreError,
};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::consultation::{stale, text, unprocessable};
use crate::error::{AppError, AppResult};

/// A party to a dispute, as sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// applicant or respondent.
    pub side: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A dispute as it is raised.
#[derive(Debug, Clone)]
pub struct NewDispute {
    pub community: Option<RegionCode>,
    pub grid: Option<GridCode>,
    pub kind: String,
    pub risk: Risk,
    pub summary: String,
    pub parties: Vec<Party>,
    /// The case it comes from (by id); its place is the dispute's.
    pub case: Option<uuid::Uuid>,
}

/// A change of a dispute, as a mediator, an approver or a follow-up visit records it.
#[derive(Debug, Clone)]
pub enum DisputeStep {
    Escalate {
        reason: String,
    },
    SendDown {
        reason: String,
    },
    Session {
        held_at: jiff::Timestamp,
        place: String,
        mediators: Vec<String>,
        attended: Vec<String>,
        record: String,
        /// continued, written, oral or failed: what the session came to.
        outcome: String,
    },
    /// `days` 0 is refused with the field named (after the policy is asked).
    Extend {
        days: u32,
        reason: String,
    },
    /// A written agreement: the first, or a new version of it.
    Draft {
        facts: String,
        terms: Vec<Term>,
    },
    /// The parties signed the latest version; who signed, as the mediator saw.
    Sign {
        version: u32,
        signed_by: Vec<String>,
    },
    Oral {
        terms: String,
    },
    /// Without a referral, refused with the field named (after the policy is asked).
    Fail {
        referral: Option<Referral>,
        note: String,
    },
    ApplyConfirmation,
    FollowUp {
        performed: bool,
        note: String,
    },
    Reopen {
        reason: String,
    },
    Withdraw {
        reason: String,
    },
}

/// A dispute with what its readers see: events, agreement versions (texts opened).
pub struct DisputeDetail {
    pub dispute: DisputeRecord,
    pub parties: Vec<Party>,
    pub events: Vec<DisputeEvent>,
    pub agreements: Vec<AgreementView>,
    /// Session records and who attended, opened.
    pub records: Vec<(String, Vec<String>)>,
    pub oral_terms: Option<String>,
}

/// An agreement version, opened, with whether its text still gives its recorded digest.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementView {
    pub version: u32,
    pub content: AgreementContent,
    pub text: String,
    pub sha256: String,
    pub intact: bool,
    pub drafted_by: String,
    pub drafted_at: jiff::Timestamp,
    pub signed_at: Option<jiff::Timestamp>,
    pub signed_by: Vec<String>,
}

/// What is sealed with a dispute besides its parties: session records and oral terms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SealedNotes {
    text: String,
    /// Who attended a session (names of parties among them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attended: Vec<String>,
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn dispute_event(
    at: jiff::Timestamp,
    actor: &str,
    action: &DisputeAction,
    note: &str,
) -> AppResult<DisputeEvent> {
    Ok(DisputeEvent {
        seq: 0,
        at,
        actor: actor.to_owned(),
        action: serde_json::to_string(action).map_err(|e| AppError::Invalid(e.to_string()))?,
        note: note.to_owned(),
    })
}

/// The statutory periods (the 人民调解法's defaults).
pub fn periods() -> Periods {
    Periods::default()
}

impl App {
    fn dispute_sealer(&self) -> AppResult<&crate::cases::seal::Sealer> {
        self.sealer.as_deref().ok_or_else(|| {
            AppError::Invalid(
                "this deployment has no data key, so it keeps no disputes (their parties are personal data)"
                    .into(),
            )
        })
    }

    pub async fn dispute_kinds(&self) -> AppResult<Vec<DisputeKind>> {
        Ok(self.repo.dispute_kinds().await?)
    }

    /// Adds or changes a kind of dispute (those who keep the catalogue).
    pub async fn put_dispute_kind(&self, actor: &Actor, kind: DisputeKind) -> AppResult<()> {
        self.reference()
            .await?
            .policy()
            .may_manage_service_items(actor)
            .map_err(AppError::Forbidden)?;
        let mut problems = Vec::new();
        let ok = !kind.code.is_empty()
            && kind.code.len() <= 32
            && kind
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            problems.push((
                "code".into(),
                "1 to 32 lower-case letters, digits or _".into(),
            ));
        }
        text("name_zh", &kind.name_zh, 1, 40, &mut problems);
        text("name_en", &kind.name_en, 1, 60, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        Ok(self.repo.put_dispute_kind(&kind).await?)
    }

    /// Registers a mediator at a tier of a region (approvers there): a staff account or a
    /// registered volunteer.
    pub async fn add_mediator(
        &self,
        actor: &Actor,
        tier: Tier,
        region: RegionCode,
        kind: &str,
        reference: &str,
        name: &str,
    ) -> AppResult<MediatorRecord> {
        let refs = self.reference().await?;
        refs.policy()
            .may_approve_mediation(actor, &region)
            .map_err(AppError::Forbidden)?;
        let mut problems = Vec::new();
        let wanted = match tier {
            Tier::Grid | Tier::Community => RegionLevel::Community,
            Tier::Street => RegionLevel::Street,
            Tier::District => RegionLevel::District,
        };
        if region.level() != wanted || !refs.region_names.contains_key(&region) {
            problems.push((
                "region".to_owned(),
                format!(
                    "{region} is not a {} of this platform for {} tier",
                    wanted.as_str(),
                    tier.as_str()
                ),
            ));
        }
        match kind {
            "staff" => {
                let users = self.repo.users().await?;
                if !users.iter().any(|u| u.username == reference) {
                    problems.push(("reference".into(), format!("no account `{reference}`")));
                }
            }
            "volunteer" => {
                let known = match reference.parse::<uuid::Uuid>() {
                    Ok(id) => self.repo.volunteer(&id).await?.is_some(),
                    Err(_) => false,
                };
                if !known {
                    problems.push((
                        "reference".into(),
                        format!("no registered volunteer `{reference}`"),
                    ));
                }
            }
            other => problems.push((
                "kind".into(),
                format!("`{other}` is not staff or volunteer"),
            )),
        }
        let name = text("name", name, 1, 50, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        let m = MediatorRecord {
            id: self.ids.new_id(now),
            tier,
            region,
            kind: kind.to_owned(),
            reference: reference.to_owned(),
            name,
            added_by: actor.name().to_owned(),
            added_at: now,
        };
        match self.repo.add_mediator(&m).await {
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict(
                "this person is a mediator at that tier already".into(),
            )),
            other => Ok(other.map(|()| m)?),
        }
    }

    /// Retires a mediator (the sessions they held keep their name); again is nothing.
    pub async fn remove_mediator(&self, actor: &Actor, id: &uuid::Uuid) -> AppResult<()> {
        let m = self
            .repo
            .mediator(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("mediator {id}")))?;
        self.reference()
            .await?
            .policy()
            .may_approve_mediation(actor, &m.region)
            .map_err(AppError::Forbidden)?;
        self.repo.retire_mediator(id, self.clock.now()).await?;
        Ok(())
    }

    /// Mediators of regions under `within` (those who read disputes there).
    pub async fn mediators(
        &self,
        actor: &Actor,
        within: &RegionCode,
    ) -> AppResult<Vec<MediatorRecord>> {
        self.reads_disputes(actor, within).await?;
        Ok(self.repo.mediators(within.as_str()).await?)
    }

    async fn reads_disputes(&self, actor: &Actor, region: &RegionCode) -> AppResult<()> {
        self.reference()
            .await?
            .policy()
            .may_read_disputes(actor, region)
            .map_err(AppError::Forbidden)
    }

    /// Raises a dispute at its lowest competent tier.
    pub async fn raise_dispute(&self, actor: &Actor, new: NewDispute) -> AppResult<DisputeRecord> {
        let refs = self.reference().await?;
        let mut problems = Vec::new();
        // A case gives its place; its readers may turn it into a dispute.
        let (community, grid, channel) = match new.case {
            Some(case_id) => {
                let case = self.case_for(actor, &case_id).await?;
                let grid = case.grid.clone();
                let community = grid
                    .as_ref()
                    .and_then(|g| refs.grid_regions.get(g).cloned())
                    .or_else(|| Some(case.region.clone()));
                (community, grid, "case")
            }
            None => {
                let channel = match actor {
                    Actor::Staff { grants, .. }
                        if grants.iter().any(|g| g.role == "grid_worker") =>
                    {
                        "grid_worker"
                    }
                    _ => "counter",
                };
                (new.community.clone(), new.grid.clone(), channel)
            }
        };
        let Some(community) = community
            .filter(|c| c.level() == RegionLevel::Community && refs.region_names.contains_key(c))
        else {
            return Err(unprocessable("community", "a community of this platform"));
        };
        refs.policy()
            .may_mediate(actor, &community, Tier::Community)
            .map_err(AppError::Forbidden)?;
        if let Some(g) = &grid
            && refs.grid_regions.get(g) != Some(&community)
        {
            problems.push((
                "grid".to_owned(),
                format!("{g} is not a grid of {community}"),
            ));
        }
        let kinds = self.repo.dispute_kinds().await?;
        let kind = kinds.iter().find(|k| k.code == new.kind);
        if kind.is_none() {
            problems.push((
                "kind".to_owned(),
                format!("`{}` is not a kind of dispute", new.kind),
            ));
        }
        let summary = text("summary", &new.summary, 1, 200, &mut problems);
        let parties = parties_checked(&new.parties, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let sealer = self.dispute_sealer()?;
        let tier = civicgrid_domain::dispute::starting_tier(
            kind.map_or(Tier::Community, |k| k.lowest_tier),
            new.risk,
            grid.is_some(),
        );
        let state =
            apply(None, &DisputeAction::Raise { tier }).map_err(|r| AppError::Invalid(r.0))?;
        let now = self.clock.now();
        let id = self.ids.new_id(now);
        let keys: Vec<(String, String)> = parties
            .iter()
            .map(|p| (p.side.clone(), sealer.blind_key(&party_identity(p))))
            .collect();
        let of = |side: &str| -> Vec<String> {
            keys.iter()
                .filter(|(s, _)| s == side)
                .map(|(_, k)| k.clone())
                .collect()
        };
        let year_before = now
            .checked_sub(jiff::SignedDuration::from_hours(24 * 365))
            .unwrap_or(now);
        let repeat = self
            .repo
            .repeat_disputes(&id, &of("applicant"), &of("respondent"), year_before, now)
            .await?
            > 0;
        let periods = periods();
        for _attempt in 0..5 {
            let d = DisputeRecord {
                id,
                public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
                region: community.clone(),
                grid: grid.clone(),
                kind: new.kind.clone(),
                risk: new.risk,
                channel: channel.to_owned(),
                case_id: new.case,
                summary: summary.clone(),
                parties: sealer.seal_json(&id, &parties)?,
                raised_by: actor.name().to_owned(),
                raised_at: now,
                state: state.clone(),
                limit_from: now,
                limit_due: mediation_due(&refs.calendar, now, &periods, 0),
                outcome_at: None,
                closed_at: None,
                sessions: vec![],
                follow_ups: vec![],
                confirmation_due: None,
                repeat,
                referral_note: None,
                version: 0,
            };
            let e = dispute_event(now, actor.name(), &DisputeAction::Raise { tier }, channel)?;
            match self.repo.create_dispute(&d, &keys, &e).await {
                Err(StoreError::Conflict(_)) => continue,
                other => other?,
            }
            return Ok(d);
        }
        Err(AppError::Invalid(
            "could not draw a free dispute number".into(),
        ))
    }

    /// A dispute by its number, for those who read disputes of its community.
    pub async fn dispute(&self, actor: &Actor, number: &str) -> AppResult<DisputeRecord> {
        let d = self
            .repo
            .dispute_by_public_id(number)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("dispute {number}")))?;
        self.reference()
            .await?
            .policy()
            .may_read_dispute(actor, &d.region, d.state.first_tier, d.state.tier)
            .map_err(AppError::Forbidden)?;
        Ok(d)
    }

    /// Disputes of regions under `within`, newest first.
    pub async fn disputes(
        &self,
        actor: &Actor,
        within: &RegionCode,
        open: bool,
    ) -> AppResult<Vec<DisputeRecord>> {
        self.reads_disputes(actor, within).await?;
        let refs = self.reference().await?;
        let policy = refs.policy();
        Ok(self
            .repo
            .disputes(within.as_str(), open, 500)
            .await?
            .into_iter()
            .filter(|d| {
                policy
                    .may_read_dispute(actor, &d.region, d.state.first_tier, d.state.tier)
                    .is_ok()
            })
            .collect())
    }

    /// Disputes raised from a case, for its readers.
    pub async fn disputes_of_case(&self, case: &uuid::Uuid) -> AppResult<Vec<DisputeRecord>> {
        Ok(self.repo.disputes_of_case(case).await?)
    }

    /// Everything about a dispute, its sealed parts opened; the opening is recorded.
    pub async fn dispute_detail(&self, actor: &Actor, number: &str) -> AppResult<DisputeDetail> {
        let d = self.dispute(actor, number).await?;
        let sealer = self.dispute_sealer()?;
        self.repo
            .record_contact_read(&d.id, &d.region, actor.name(), "dispute", self.clock.now())
            .await?;
        let parties: Vec<Party> = sealer.open_json(&d.id, &d.parties)?;
        let records = d
            .sessions
            .iter()
            .map(|s| {
                sealer
                    .open_json::<SealedNotes>(&d.id, &s.record)
                    .map(|n| (n.text, n.attended))
            })
            .collect::<AppResult<Vec<_>>>()?;
        // The events are read once: the page shows them, and the oral terms are in one.
        let events = self.repo.dispute_events(&d.id).await?;
        let oral_terms =
            if d.state.agreement == Some(civicgrid_domain::dispute::AgreementForm::Oral) {
                events
                    .iter()
                    .rev()
                    .find(|e| e.action.contains("record_oral_agreement"))
                    .map(|e| {
                        sealer
                            .open_json::<SealedNotes>(&d.id, &e.note)
                            .map(|n| n.text)
                    })
                    .transpose()?
            } else {
                None
            };
        let agreements = self.agreement_views(&d).await?;
        Ok(DisputeDetail {
            dispute: d,
            parties,
            events,
            agreements,
            records,
            oral_terms,
        })
    }

    async fn agreement_views(&self, d: &DisputeRecord) -> AppResult<Vec<AgreementView>> {
        let sealer = self.dispute_sealer()?;
        self.repo
            .agreements(&d.id)
            .await?
            .into_iter()
            .map(|a| {
                let content: AgreementContent = sealer.open_json(&d.id, &a.content)?;
                let text = content.canonical_text();
                let signed_by = match &a.signatures {
                    Some(s) => sealer.open_json::<Vec<String>>(&d.id, s)?,
                    None => vec![],
                };
                Ok(AgreementView {
                    version: a.version,
                    intact: sha256_hex(&text) == a.sha256,
                    content,
                    text,
                    sha256: a.sha256,
                    drafted_by: a.drafted_by,
                    drafted_at: a.drafted_at,
                    signed_at: a.signed_at,
                    signed_by,
                })
            })
            .collect()
    }

    /// One agreement version, opened (the printable document); the opening is recorded.
    pub async fn agreement(
        &self,
        actor: &Actor,
        number: &str,
        version: u32,
    ) -> AppResult<(DisputeRecord, AgreementView)> {
        let d = self.dispute(actor, number).await?;
        self.repo
            .record_contact_read(
                &d.id,
                &d.region,
                actor.name(),
                "agreement",
                self.clock.now(),
            )
            .await?;
        let v = self
            .agreement_views(&d)
            .await?
            .into_iter()
            .find(|a| a.version == version)
            .ok_or_else(|| {
                AppError::NotFound(format!("agreement version {version} of {number}"))
            })?;
        Ok((d, v))
    }

    /// Records a change of a dispute at `expected_version`.
    pub async fn dispute_step(
        &self,
        actor: &Actor,
        number: &str,
        expected_version: u64,
        step: DisputeStep,
    ) -> AppResult<DisputeRecord> {
        let refs = self.reference().await?;
        let before = self
            .repo
            .dispute_by_public_id(number)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("dispute {number}")))?;
        // Extensions are approved at the tier's region; everything else is the mediators'.
        let policy = refs.policy();
        let allowed = match &step {
            DisputeStep::Extend { .. } => {
                policy.may_approve_mediation(actor, &before.state.tier.region_for(&before.region))
            }
            _ => policy.may_mediate(actor, &before.region, before.state.tier),
        };
        allowed.map_err(AppError::Forbidden)?;
        // An extension is approved by a second person: not one who raised or mediates it.
        if matches!(step, DisputeStep::Extend { .. })
            && (before.raised_by == actor.name()
                || before
                    .sessions
                    .iter()
                    .any(|s| s.recorded_by == actor.name()))
        {
            return Err(AppError::Forbidden(
                "an extension is approved by someone who neither raised nor mediates the dispute"
                    .into(),
            ));
        }
        if before.version != expected_version {
            return Err(AppError::Stale {
                current: before.version,
            });
        }
        let sealer = self.dispute_sealer()?;
        let now = self.clock.now();
        let periods = periods();
        let mut d = before.clone();
        let mut problems = Vec::new();
        let mut draft: Option<AgreementRecord> = None;
        let mut signature: Option<(u32, String)> = None;
        let mut note = String::new();
        let action = match step {
            DisputeStep::Escalate { reason } => {
                note = text("reason", &reason, 1, 500, &mut problems);
                DisputeAction::Escalate {
                    reason: note.clone(),
                }
            }
            DisputeStep::SendDown { reason } => {
                note = text("reason", &reason, 1, 500, &mut problems);
                DisputeAction::SendDown {
                    reason: note.clone(),
                }
            }
            DisputeStep::Session {
                held_at,
                place,
                mediators,
                attended,
                record,
                outcome,
            } => {
                let place = text("place", &place, 1, 100, &mut problems);
                let record = text("record", &record, 1, 10_000, &mut problems);
                if held_at > now
                    || held_at < before.raised_at - jiff::SignedDuration::from_hours(24)
                {
                    problems.push((
                        "held_at".into(),
                        "between the dispute's raising and now".into(),
                    ));
                }
                let mediators: Vec<String> = mediators
                    .iter()
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
                if mediators.is_empty()
                    || mediators.len() > 5
                    || mediators.iter().any(|m| m.chars().count() > 50)
                {
                    problems.push(("mediators".into(), "1 to 5 mediators' names".into()));
                }
                let attended: Vec<String> = attended
                    .iter()
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
                if attended.is_empty()
                    || attended.len() > 20
                    || attended.iter().any(|m| m.chars().count() > 50)
                {
                    problems.push(("attended".into(), "who attended: 1 to 20 entries".into()));
                }
                if !["continued", "written", "oral", "failed"].contains(&outcome.as_str()) {
                    problems.push((
                        "outcome".into(),
                        "continued, written, oral or failed".into(),
                    ));
                }
                d.sessions.push(SessionRecord {
                    seq: u32::try_from(before.sessions.len()).unwrap_or(u32::MAX) + 1,
                    held_at,
                    place,
                    mediators,
                    record: sealer.seal_json(
                        &d.id,
                        &SealedNotes {
                            text: record,
                            attended,
                        },
                    )?,
                    outcome,
                    recorded_by: actor.name().to_owned(),
                });
                DisputeAction::HoldSession
            }
            DisputeStep::Extend { days, reason } => {
                note = text("reason", &reason, 1, 500, &mut problems);
                if !(1..=30).contains(&days) {
                    problems.push(("days".into(), "1 to 30 days".into()));
                }
                DisputeAction::Extend {
                    days,
                    reason: note.clone(),
                }
            }
            DisputeStep::Draft { facts, terms } => {
                let parties: Vec<Party> = sealer.open_json(&d.id, &d.parties)?;
                let mediators = d
                    .sessions
                    .last()
                    .map(|s| s.mediators.clone())
                    .unwrap_or_default();
                let version = before.state.drafted_version + 1;
                let content = AgreementContent {
                    number: d.public_id.clone(),
                    version,
                    committee: committee_name(&refs, &d.region, before.state.tier),
                    parties: parties
                        .iter()
                        .map(|p| NamedParty {
                            side: p.side.clone(),
                            name: p.name.clone(),
                        })
                        .collect(),
                    facts: facts.trim().to_owned(),
                    terms: terms
                        .into_iter()
                        .map(|t| Term {
                            text: t.text.trim().to_owned(),
                            due: t.due,
                        })
                        .collect(),
                    mediators,
                    date: now.to_zoned(refs.calendar.time_zone().clone()).date(),
                };
                problems.extend(content.problems());
                draft = Some(AgreementRecord {
                    dispute_id: d.id,
                    version,
                    sha256: sha256_hex(&content.canonical_text()),
                    content: sealer.seal_json(&d.id, &content)?,
                    drafted_by: actor.name().to_owned(),
                    drafted_at: now,
                    signed_at: None,
                    signatures: None,
                });
                note = format!("v{version}");
                DisputeAction::DraftAgreement { version }
            }
            DisputeStep::Sign { version, signed_by } => {
                let signed_by: Vec<String> = signed_by
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                let parties: Vec<Party> = sealer.open_json(&d.id, &d.parties)?;
                let missing: Vec<&str> = parties
                    .iter()
                    .filter(|p| !signed_by.contains(&p.name))
                    .map(|p| p.name.as_str())
                    .collect();
                if !missing.is_empty() {
                    problems.push((
                        "signed_by".into(),
                        format!("every party signs; not yet: {}", missing.len()),
                    ));
                }
                signature = Some((version, sealer.seal_json(&d.id, &signed_by)?));
                note = format!("v{version}");
                DisputeAction::SignAgreement {
                    version,
                    follow_ups: u32::try_from(periods.follow_ups.len()).unwrap_or(2),
                }
            }
            DisputeStep::Oral { terms } => {
                let terms = text("terms", &terms, 1, 2000, &mut problems);
                note = sealer.seal_json(
                    &d.id,
                    &SealedNotes {
                        text: terms,
                        attended: vec![],
                    },
                )?;
                DisputeAction::RecordOralAgreement {
                    follow_ups: u32::try_from(periods.follow_ups.len()).unwrap_or(2),
                }
            }
            DisputeStep::Fail { referral, note: n } => {
                note = text("note", &n, 1, 500, &mut problems);
                d.referral_note = Some(note.clone());
                let referral = referral.unwrap_or_else(|| {
                    problems.push((
                        "referral".into(),
                        "litigation, arbitration, petition or other_body".into(),
                    ));
                    Referral::OtherBody
                });
                DisputeAction::Fail { referral }
            }
            DisputeStep::ApplyConfirmation => {
                if let Some(due) = before.confirmation_due
                    && now >= due
                {
                    return Err(AppError::Conflict(format!(
                        "the 30-day window for judicial confirmation closed at {due}"
                    )));
                }
                DisputeAction::ApplyConfirmation
            }
            DisputeStep::FollowUp { performed, note: n } => {
                note = text("note", &n, 1, 500, &mut problems);
                DisputeAction::FollowUp { performed }
            }
            DisputeStep::Reopen { reason } => {
                note = text("reason", &reason, 1, 500, &mut problems);
                DisputeAction::Reopen {
                    reason: note.clone(),
                }
            }
            DisputeStep::Withdraw { reason } => {
                note = text("reason", &reason, 1, 500, &mut problems);
                DisputeAction::Withdraw {
                    reason: note.clone(),
                }
            }
        };
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let state = apply(Some(&before.state), &action).map_err(|r| AppError::Conflict(r.0))?;
        self.after_step(
            &refs,
            &mut d,
            &before.state,
            &state,
            &action,
            now,
            actor.name(),
            &note,
        );
        d.state = state;
        let e = dispute_event(now, actor.name(), &action, &note)?;
        let write = DisputeWrite {
            draft: draft.as_ref(),
            sign: signature.as_ref().map(|(v, s)| (*v, now, s.as_str())),
        };
        self.repo
            .update_dispute(&d, expected_version, &e, write)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => AppError::Conflict(m),
                other => stale(other),
            })?;
        d.version = expected_version + 1;
        Ok(d)
    }

    /// The timers and records a change moves: limits, follow-ups, the confirmation window.
    #[allow(clippy::too_many_arguments)]
    fn after_step(
        &self,
        refs: &crate::reference::Reference,
        d: &mut DisputeRecord,
        before: &DisputeState,
        after: &DisputeState,
        action: &DisputeAction,
        now: jiff::Timestamp,
        actor: &str,
        note: &str,
    ) {
        let cal = &refs.calendar;
        let periods = periods();
        let reached =
            before.status == DisputeStatus::Mediating && after.status == DisputeStatus::Agreed;
        if reached {
            d.outcome_at = Some(now);
            d.follow_ups = periods
                .follow_ups
                .iter()
                .map(|days| FollowUpRecord {
                    due: period_end(cal, now, *days),
                    done_at: None,
                    performed: None,
                    note: String::new(),
                    visited_by: None,
                })
                .collect();
            d.confirmation_due = matches!(action, DisputeAction::SignAgreement { .. })
                .then(|| period_end(cal, now, periods.confirmation_days));
        }
        match action {
            DisputeAction::Extend { .. } => {
                d.limit_due = mediation_due(cal, d.limit_from, &periods, after.extended_days);
            }
            DisputeAction::FollowUp { performed } => {
                if let Some(f) = d.follow_ups.iter_mut().find(|f| f.done_at.is_none()) {
                    f.done_at = Some(now);
                    f.performed = Some(*performed);
                    f.note = note.to_owned();
                    f.visited_by = Some(actor.to_owned());
                }
                if !performed {
                    // The remaining visits are moot: mediation reopens or the dispute goes on.
                    d.follow_ups.retain(|f| f.done_at.is_some());
                }
            }
            DisputeAction::Reopen { .. } => {
                // A fresh limit from the reopening, with the extensions granted so far.
                d.limit_from = now;
                d.limit_due = mediation_due(cal, now, &periods, after.extended_days);
                d.confirmation_due = None;
            }
            DisputeAction::Fail { .. } => d.outcome_at = Some(now),
            _ => {}
        }
        if after.status.is_closed() && !before.status.is_closed() {
            d.closed_at = Some(now);
        }
    }

    /// The timers' sweep: warnings on mediation limits, reminders of the judicial
    /// confirmation window. Returns the events recorded.
    pub async fn sweep_disputes(&self) -> AppResult<u64> {
        let now = self.clock.now();
        let periods = periods();
        let mut recorded = 0;
        for d in self.repo.open_disputes(10_000).await? {
            let action = match d.state.status {
                DisputeStatus::Mediating => {
                    let alarm = limit_alarm(d.limit_due, periods.warn_days, now);
                    if alarm == Alarm::Green || d.state.alarm.is_some_and(|a| a >= alarm) {
                        continue;
                    }
                    DisputeAction::Warn { alarm }
                }
                DisputeStatus::Agreed => {
                    let Some(due) = d.confirmation_due else {
                        continue;
                    };
                    let remind_from = due
                        .checked_sub(jiff::SignedDuration::from_hours(
                            24 * i64::from(periods.remind_days),
                        ))
                        .unwrap_or(due);
                    if now < remind_from || now >= due {
                        continue;
                    }
                    DisputeAction::RemindConfirmation
                }
                _ => continue,
            };
            let Ok(state) = apply(Some(&d.state), &action) else {
                continue;
            };
            let mut changed = d.clone();
            changed.state = state;
            let e = dispute_event(now, "system", &action, "")?;
            match self
                .repo
                .update_dispute(&changed, d.version, &e, DisputeWrite::default())
                .await
            {
                // Someone changed it meanwhile: the next round looks again.
                Err(StoreError::Stale { .. }) => continue,
                other => other?,
            }
            recorded += 1;
        }
        Ok(recorded)
    }
}

/// The mediating body's name for the agreement: the community's committee, the street's
/// centre, the district.
fn committee_name(
    refs: &crate::reference::Reference,
    community: &RegionCode,
    tier: Tier,
) -> String {
    let region = tier.region_for(community);
    let name = refs
        .region_names
        .get(&region)
        .cloned()
        .unwrap_or_else(|| region.to_string());
    match tier {
        Tier::Grid => {
            let c = refs
                .region_names
                .get(community)
                .cloned()
                .unwrap_or_default();
            format!("{c}人民调解委员会（网格调解）")
        }
        Tier::Community => format!("{name}人民调解委员会"),
        Tier::Street => format!("{name}综治中心（司法所）人民调解"),
        Tier::District => format!("{name}人民调解中心"),
    }
}

/// What identifies a party across disputes: the phone's digits if given, else the name.
fn party_identity(p: &Party) -> String {
    match &p.phone {
        Some(phone) => phone.chars().filter(char::is_ascii_digit).collect(),
        None => format!("name:{}", p.name),
    }
}

fn parties_checked(parties: &[Party], problems: &mut Vec<(String, String)>) -> Vec<Party> {
    let mut out = Vec::new();
    for side in ["applicant", "respondent"] {
        if !parties.iter().any(|p| p.side == side) {
            problems.push(("parties".to_owned(), format!("at least one {side}")));
        }
    }
    if parties.len() > 10 {
        problems.push(("parties".to_owned(), "at most 10 parties".to_owned()));
    }
    for (i, p) in parties.iter().enumerate() {
        if p.side != "applicant" && p.side != "respondent" {
            problems.push((
                format!("parties[{i}].side"),
                "applicant or respondent".to_owned(),
            ));
        }
        let name = text(&format!("parties[{i}].name"), &p.name, 1, 50, problems);
        let phone = p
            .phone
            .as_ref()
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty());
        if let Some(phone) = &phone {
            let contact = crate::contacts::Contact {
                name: None,
                phone: Some(phone.clone()),
                email: None,
                ..Default::default()
            };
            for (_, m) in contact.problems() {
                problems.push((format!("parties[{i}].phone"), m));
            }
        }
        out.push(Party {
            side: p.side.clone(),
            name,
            phone,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gives_the_same_digest() {
        assert_eq!(sha256_hex("调解协议"), sha256_hex("调解协议"));
        assert_ne!(sha256_hex("调解协议"), sha256_hex("调解协议 "));
        // The known digest of the empty string.
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
