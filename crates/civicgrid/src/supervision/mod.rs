//! Supervision (监督微平台): the protected reporting channel.
//!
//! A reporter needs no account. A report is answered with a 16-digit receipt and a
//! passphrase (generated, or chosen with a minimum strength); with both the reporter reads
//! the status and the officers' messages, and adds messages and files. What the channel keeps
//! cannot place a reporter: no address, header, cookie or time finer than the day reaches
//! the database, the logs or the metrics (`REPORTER_ROUTES` are left out of the request log
//! and metrics; the pages set and read no cookie); ids are random; files are scrubbed
//! (`scrub.rs`); texts, files and the optional identity are sealed under the data key,
//! which the database does not hold. Only the supervision role in the report's region
//! reads a report, never anyone it implicates (`policy/supervision.rs`), and every read is
//! recorded. An identity is shown only to the officer who asked, after a custodian (another
//! person) approved. Clocks: acknowledgement and substantive feedback are warned about when
//! overdue; closed reports are erased after the retention time (`jobs.rs`).

pub mod cli;
pub mod jobs;
pub mod pages;
pub mod rest;
pub mod scrub;
pub mod views;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use civicgrid_domain::policy::Accused;
use civicgrid_domain::supervision::{
    self as rules, Clocks, Concern, Outcome, Party, ReportAction, ReportState, ReportStatus, Reveal,
};
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{ReportEventRecord, ReportFileRecord, ReportRecord};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};

/// The routes a reporter uses (method, matched path): the request log and the metrics leave
/// them out, so that not even the time of a request is kept.
pub const REPORTER_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/supervision/reports"),
    ("POST", "/api/v1/supervision/follow-up"),
    ("POST", "/api/v1/supervision/follow-up/messages"),
    ("POST", "/api/v1/supervision/follow-up/files"),
    ("GET", "/supervision"),
    ("POST", "/supervision"),
    ("POST", "/supervision/follow-up"),
    ("POST", "/supervision/follow-up/messages"),
    ("POST", "/supervision/follow-up/files"),
];

/// Whether a request (method and matched path) is a reporter's, kept out of logs and metrics.
pub fn is_reporter_route(method: &str, route: &str) -> bool {
    REPORTER_ROUTES
        .iter()
        .any(|(m, r)| *m == method && *r == route)
}

/// Wrong passphrases for one receipt in one day before the receipt is refused until the next.
pub const WRONG_PASSPHRASES_PER_DAY: u32 = 10;

/// What a reporter sends.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewReport {
    pub subject: String,
    pub content: String,
    pub concern: Option<String>,
    /// The unit's code (as in the responsibility list).
    pub accused_unit: Option<String>,
    /// The region it happened in (a street's or community's code); the whole territory if
    /// not given.
    pub region: Option<String>,
    /// Who the reporter is, only if they choose to say; sealed on its own.
    pub identity: Option<String>,
    /// A passphrase the reporter chose; one is generated if not given.
    pub passphrase: Option<String>,
}

/// The answer to a report: the only time the receipt and passphrase are shown.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub receipt: String,
    pub passphrase: String,
    pub acknowledge_by: Date,
    pub feedback_by: Date,
}

/// The sealed part of a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    subject: String,
    content: String,
}

/// A message in a report's conversation, as its reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub seq: u64,
    pub on: Date,
    /// `reporter` or `officer` (the reporter never sees officers' names).
    pub from: &'static str,
    /// The officer's account, for staff only.
    pub officer: Option<String>,
    pub text: String,
    /// Feedback on what was done or found (counts for the 3-month clock).
    pub substantive: bool,
}

/// A file in a report.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    pub seq: u64,
    pub on: Date,
    pub name: String,
    pub media_type: String,
    pub size: u64,
}

/// What the reporter reads with the receipt and passphrase.
#[derive(Debug, Clone, Serialize)]
pub struct ReporterView {
    pub status: ReportStatus,
    pub submitted_on: Date,
    pub acknowledged_on: Option<Date>,
    pub feedback_on: Option<Date>,
    pub closed_on: Option<Date>,
    pub outcome: Option<Outcome>,
    pub acknowledge_by: Date,
    pub feedback_by: Date,
    pub subject: String,
    pub messages: Vec<Message>,
    pub files: Vec<FileEntry>,
}

/// A report as an officer reads it.
#[derive(Debug, Clone, Serialize)]
pub struct StaffReport {
    pub id: uuid::Uuid,
    pub version: u64,
    pub region: RegionCode,
    pub accused_unit: Option<String>,
    pub concern: Concern,
    pub subject: String,
    pub content: String,
    pub state: ReportState,
    pub acknowledge_by: Date,
    pub feedback_by: Date,
    /// Overdue clocks today.
    pub overdue: Vec<rules::Warning>,
    pub messages: Vec<Message>,
    pub files: Vec<FileEntry>,
    /// The history: (seq, day, who, what).
    pub history: Vec<(u64, Date, String, String)>,
    /// The reasons given for identity requests and refusals (seq, text).
    pub reasons: Vec<(u64, String)>,
}

/// A line of the officers' list.
#[derive(Debug, Clone, Serialize)]
pub struct ReportLine {
    pub id: uuid::Uuid,
    pub region: RegionCode,
    pub accused_unit: Option<String>,
    pub concern: Concern,
    pub subject: String,
    pub status: ReportStatus,
    pub submitted_on: Date,
    pub acknowledge_by: Date,
    pub feedback_by: Date,
    pub overdue: Vec<rules::Warning>,
    /// A request to see the identity waits for a custodian.
    pub identity_requested: bool,
}

/// An officer's step on a report.
#[derive(Debug, Clone, Deserialize)]
pub struct StaffStep {
    /// acknowledge, investigate, message, feedback, close, request_identity,
    /// approve_identity, refuse_identity
    pub action: String,
    pub version: u64,
    #[serde(default)]
    pub text: String,
    pub outcome: Option<String>,
}

fn problem(field: &str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable(vec![(field.to_owned(), message.into())])
}

fn text_problem(field: &str, text: &str, max: usize) -> Option<(String, String)> {
    let n = text.trim().chars().count();
    (n == 0 || n > max || text.contains('\0'))
        .then(|| (field.to_owned(), format!("1 to {max} characters")))
}

/// 16 random digits.
fn new_receipt() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

/// A generated passphrase: 20 characters from an alphabet without look-alikes, in groups of
/// five (about 98 bits).
fn new_passphrase() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut out = String::new();
    let mut n = 0;
    while n < 20 {
        let mut b = [0u8; 1];
        OsRng.fill_bytes(&mut b);
        // Rejection sampling keeps every character equally likely.
        if usize::from(b[0]) >= 256 - 256 % ALPHABET.len() {
            continue;
        }
        if n > 0 && n % 5 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        n += 1;
    }
    out
}

/// A random id: a report's id must not tell when it was made (as a UUID v7's would).
fn random_id() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn party_json(p: &Party) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

struct Loaded {
    record: ReportRecord,
    events: Vec<(Party, ReportAction, Date, Option<String>, u64)>,
    state: ReportState,
}

impl App {
    fn supervision_sealer(&self) -> AppResult<&crate::cases::seal::Sealer> {
        self.sealer.as_deref().ok_or_else(|| {
            AppError::Invalid(
                "this deployment has no data key, so it takes no supervision reports (they are kept sealed)"
                    .into(),
            )
        })
    }

    /// Today in the deployment's time zone: the only time the channel knows.
    async fn supervision_today(&self) -> AppResult<Date> {
        let reference = self.reference().await?;
        Ok(self
            .clock
            .now()
            .to_zoned(reference.calendar.time_zone().clone())
            .date())
    }

    fn receipt_key(&self, receipt: &str) -> AppResult<String> {
        Ok(self
            .supervision_sealer()?
            .keyed_digest(format!("supervision-receipt:{receipt}").as_bytes()))
    }

    /// Takes a report from anyone: no account, nothing about the sender kept.
    pub async fn submit_report(&self, new: NewReport) -> AppResult<Receipt> {
        let sealer = self.supervision_sealer()?;
        let reference = self.reference().await?;
        let mut problems: Vec<(String, String)> = Vec::new();
        problems.extend(text_problem("subject", &new.subject, 200));
        problems.extend(text_problem("content", &new.content, 20_000));
        let concern = match new.concern.as_deref().map(str::trim) {
            None | Some("") => Concern::Other,
            Some(c) => c.parse().unwrap_or_else(|e: String| {
                problems.push(("concern".into(), e));
                Concern::Other
            }),
        };
        let accused_unit = match new.accused_unit.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => match reference.units.iter().find(|u| u.code == code) {
                Some(u) => Some(u.clone()),
                None => {
                    problems.push(("accused_unit".into(), format!("no unit `{code}`")));
                    None
                }
            },
        };
        let region = match new.region.as_deref().map(str::trim) {
            None | Some("") => accused_unit
                .as_ref()
                .map(|u| u.region.clone())
                .or_else(|| reference.top_region.clone()),
            Some(code) => match code.parse::<RegionCode>() {
                Ok(r) if reference.region_names.contains_key(&r) => Some(r),
                _ => {
                    problems.push(("region".into(), format!("no region `{code}`")));
                    None
                }
            },
        };
        let identity = new
            .identity
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty());
        if let Some(i) = identity {
            problems.extend(text_problem("identity", i, 500));
        }
        let passphrase = match new.passphrase.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => {
                if let Some(w) = rules::passphrase_weakness(p) {
                    problems.push(("passphrase".into(), format!("too weak: {w}")));
                }
                p.to_owned()
            }
            None => new_passphrase(),
        };
        let Some(region) = region.filter(|_| problems.is_empty()) else {
            if problems.is_empty() {
                problems.push((
                    "region".into(),
                    "the territory has no single top region; name the region".into(),
                ));
            }
            return Err(AppError::Unprocessable(problems));
        };
        let today = self.supervision_today().await?;
        let id = random_id();
        let sealed = sealer.seal_json(
            &id,
            &Sealed {
                subject: new.subject.trim().to_owned(),
                content: new.content.trim().to_owned(),
            },
        )?;
        let sealed_identity = identity
            .map(|i| sealer.seal_json(&id, &("identity", i)))
            .transpose()?;
        let action = ReportAction::Submit {
            identity_given: sealed_identity.is_some(),
        };
        let state = rules::apply(None, &Party::Reporter, &action, today)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let passphrase_hash = crate::accounts::hash_password(&passphrase)?;
        // A receipt already taken (one chance in 10^16 per report) is drawn again.
        for _ in 0..3 {
            let receipt = new_receipt();
            let record = ReportRecord {
                id,
                receipt_key: self.receipt_key(&receipt)?,
                passphrase_hash: passphrase_hash.clone(),
                region: region.clone(),
                accused_unit: accused_unit.as_ref().map(|u| u.code.clone()),
                concern: concern.as_str().to_owned(),
                status: state.status.as_str().to_owned(),
                submitted_on: today,
                closed_on: None,
                sealed: sealed.clone(),
                sealed_identity: sealed_identity.clone(),
                version: 1,
            };
            let event = ReportEventRecord {
                seq: 1,
                on: today,
                party: party_json(&Party::Reporter),
                action: serde_json::to_string(&action).unwrap_or_default(),
                sealed_text: None,
            };
            match self.repo.create_report(&record, &event).await {
                Ok(()) => {
                    let clocks = self.supervision;
                    return Ok(Receipt {
                        receipt,
                        passphrase,
                        acknowledge_by: clocks.acknowledge_by(today),
                        feedback_by: clocks.feedback_by(today),
                    });
                }
                Err(civicgrid_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Invalid("no free receipt; try again".into()))
    }

    async fn load_report(&self, record: ReportRecord) -> AppResult<Loaded> {
        let mut events = Vec::new();
        for e in self.repo.report_events(&record.id).await? {
            let party: Party = serde_json::from_str(&e.party)
                .map_err(|_| AppError::Invalid(format!("report event {} is unreadable", e.seq)))?;
            let action: ReportAction = serde_json::from_str(&e.action)
                .map_err(|_| AppError::Invalid(format!("report event {} is unreadable", e.seq)))?;
            events.push((party, action, e.on, e.sealed_text, e.seq));
        }
        let state = rules::replay(events.iter().map(|(p, a, on, _, _)| (p, a, *on)))
            .map_err(|e| AppError::Invalid(format!("the report's history does not replay: {e}")))?
            .ok_or_else(|| AppError::NotFound("report".into()))?;
        Ok(Loaded {
            record,
            events,
            state,
        })
    }

    fn open_text(&self, id: &uuid::Uuid, sealed: &Option<String>) -> AppResult<String> {
        match sealed {
            Some(s) => Ok(self.supervision_sealer()?.open_json::<String>(id, s)?),
            None => Ok(String::new()),
        }
    }

    async fn report_files_named(&self, record: &ReportRecord) -> AppResult<Vec<FileEntry>> {
        let sealer = self.supervision_sealer()?;
        self.repo
            .report_files(&record.id)
            .await?
            .into_iter()
            .map(|f: ReportFileRecord| {
                Ok(FileEntry {
                    seq: f.seq,
                    on: f.on,
                    name: sealer.open_json::<String>(&record.id, &f.sealed_name)?,
                    media_type: f.media_type,
                    size: f.size,
                })
            })
            .collect()
    }

    fn messages(&self, loaded: &Loaded, for_staff: bool) -> AppResult<Vec<Message>> {
        let mut out = Vec::new();
        for (party, action, on, sealed, seq) in &loaded.events {
            let (from, substantive) = match action {
                ReportAction::ReporterMessage => ("reporter", false),
                ReportAction::Message { substantive } => ("officer", *substantive),
                ReportAction::Close { .. } => ("officer", true),
                _ => continue,
            };
            out.push(Message {
                seq: *seq,
                on: *on,
                from,
                officer: match party {
                    Party::Officer(name) if for_staff => Some(name.clone()),
                    _ => None,
                },
                text: self.open_text(&loaded.record.id, sealed)?,
                substantive,
            });
        }
        Ok(out)
    }

    /// The reporter's way in: the receipt and the passphrase. Unknown receipts and wrong
    /// passphrases get the same answer; a receipt takes ten wrong passphrases a day.
    async fn reporter_report(&self, receipt: &str, passphrase: &str) -> AppResult<Loaded> {
        let refused =
            || AppError::Forbidden("the receipt and passphrase do not match a report".into());
        let receipt = rules::normalise_receipt(receipt).ok_or_else(refused)?;
        let record = self
            .repo
            .report_by_receipt(&self.receipt_key(&receipt)?)
            .await?
            .ok_or_else(refused)?;
        let today = self.supervision_today().await?;
        if self.repo.wrong_passphrases(&record.id, today).await? >= WRONG_PASSPHRASES_PER_DAY {
            return Err(AppError::Forbidden(
                "too many wrong passphrases for this receipt today; try again tomorrow".into(),
            ));
        }
        if !crate::accounts::verify_password(passphrase, &record.passphrase_hash) {
            self.repo.count_wrong_passphrase(&record.id, today).await?;
            return Err(refused());
        }
        self.load_report(record).await
    }

    /// What the reporter reads: status, clocks, the conversation and the files.
    pub async fn follow_up_report(
        &self,
        receipt: &str,
        passphrase: &str,
    ) -> AppResult<ReporterView> {
        let loaded = self.reporter_report(receipt, passphrase).await?;
        self.reporter_view(&loaded).await
    }

    async fn reporter_view(&self, loaded: &Loaded) -> AppResult<ReporterView> {
        let sealed: Sealed = self
            .supervision_sealer()?
            .open_json(&loaded.record.id, &loaded.record.sealed)?;
        let s = &loaded.state;
        let clocks = self.supervision;
        Ok(ReporterView {
            status: s.status,
            submitted_on: s.submitted_on,
            acknowledged_on: s.acknowledged_on,
            feedback_on: s.feedback_on,
            closed_on: s.closed_on,
            outcome: s.outcome,
            acknowledge_by: clocks.acknowledge_by(s.submitted_on),
            feedback_by: clocks.feedback_by(s.submitted_on),
            subject: sealed.subject,
            messages: self.messages(loaded, false)?,
            files: self.report_files_named(&loaded.record).await?,
        })
    }

    /// Appends one step to a report (its text and file sealed), checked by the rules.
    async fn record_report_step(
        &self,
        loaded: &Loaded,
        by: &Party,
        action: ReportAction,
        text: Option<&str>,
        file: Option<(String, &'static str, Vec<u8>)>,
        expected_version: u64,
    ) -> AppResult<ReportState> {
        let today = self.supervision_today().await?;
        let next = rules::apply(Some(&loaded.state), by, &action, today)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let sealer = self.supervision_sealer()?;
        let id = loaded.record.id;
        let seq = loaded.events.last().map_or(1, |e| e.4 + 1);
        let mut record = loaded.record.clone();
        record.status = next.status.as_str().to_owned();
        record.closed_on = next.closed_on;
        let event = ReportEventRecord {
            seq,
            on: today,
            party: party_json(by),
            action: serde_json::to_string(&action).unwrap_or_default(),
            sealed_text: text.map(|t| sealer.seal_json(&id, &t)).transpose()?,
        };
        let file = match file {
            Some((name, media_type, bytes)) => Some((
                ReportFileRecord {
                    seq,
                    on: today,
                    media_type: media_type.to_owned(),
                    sealed_name: sealer.seal_json(&id, &name)?,
                    size: bytes.len() as u64,
                },
                sealer.seal_bytes(&id, &bytes)?,
            )),
            None => None,
        };
        self.repo
            .update_report(
                &record,
                expected_version,
                &event,
                file.as_ref().map(|(f, b)| (f, b.as_slice())),
            )
            .await?;
        Ok(next)
    }

    /// The reporter writes to the officers.
    pub async fn reporter_message(
        &self,
        receipt: &str,
        passphrase: &str,
        text: &str,
    ) -> AppResult<ReporterView> {
        if let Some(p) = text_problem("text", text, 5000) {
            return Err(AppError::Unprocessable(vec![p]));
        }
        let loaded = self.reporter_report(receipt, passphrase).await?;
        let version = loaded.record.version;
        self.record_report_step(
            &loaded,
            &Party::Reporter,
            ReportAction::ReporterMessage,
            Some(text.trim()),
            None,
            version,
        )
        .await?;
        self.follow_up_report(receipt, passphrase).await
    }

    /// The reporter adds a file: scrubbed of metadata, renamed by its place, sealed.
    pub async fn reporter_file(
        &self,
        receipt: &str,
        passphrase: &str,
        data: &[u8],
    ) -> AppResult<ReporterView> {
        let scrubbed = scrub::scrub(data).map_err(|e| problem("file", e.to_string()))?;
        let loaded = self.reporter_report(receipt, passphrase).await?;
        let version = loaded.record.version;
        let seq = loaded.events.last().map_or(1, |e| e.4 + 1);
        let kind = if scrubbed.media_type.starts_with("image/") {
            "photo"
        } else {
            "text"
        };
        let name = format!("{kind}-{seq}.{}", scrubbed.extension);
        self.record_report_step(
            &loaded,
            &Party::Reporter,
            ReportAction::ReporterFile,
            None,
            Some((name, scrubbed.media_type, scrubbed.bytes)),
            version,
        )
        .await?;
        self.follow_up_report(receipt, passphrase).await
    }

    fn accused<'a>(
        record: &'a ReportRecord,
        units: &'a [civicgrid_domain::routing::Unit],
    ) -> Option<Accused<'a>> {
        record.accused_unit.as_deref().map(|code| Accused {
            unit: code,
            region: units
                .iter()
                .find(|u| u.code == code)
                .map_or(&record.region, |u| &u.region),
        })
    }

    /// The reports an officer may read, by status, most recent first; each listed report is a
    /// read of its subject and is recorded. A custodian sees the reports waiting for an
    /// identity decision (without their content).
    pub async fn reports_for(
        &self,
        actor: &Actor,
        status: Option<ReportStatus>,
    ) -> AppResult<Vec<ReportLine>> {
        use civicgrid_domain::access::Permission;
        let reference = self.reference().await?;
        let policy = reference.policy();
        policy
            .may_list_reports(actor)
            .map_err(AppError::Forbidden)?;
        let today = self.supervision_today().await?;
        let sealer = self.supervision_sealer()?;
        let mut regions = policy.regions_with(actor, Permission::WhistleblowingRead);
        regions.extend(policy.regions_with(actor, Permission::WhistleblowingCustody));
        regions.sort();
        regions.dedup();
        // A region inside another listed one adds nothing.
        let tops: Vec<RegionCode> = regions
            .iter()
            .filter(|r| !regions.iter().any(|o| o != *r && o.contains(r)))
            .cloned()
            .collect();
        let mut lines = Vec::new();
        for region in &tops {
            for record in self
                .repo
                .reports(region, status.map(|s| s.as_str()), 500)
                .await?
            {
                let accused = Self::accused(&record, &reference.units);
                let reads = policy
                    .may_read_report(actor, &record.region, accused.as_ref())
                    .is_ok();
                let keeps = policy
                    .may_keep_identity(actor, &record.region, accused.as_ref())
                    .is_ok();
                if !reads && !keeps {
                    continue;
                }
                let loaded = self.load_report(record).await?;
                let requested = matches!(loaded.state.reveal, Reveal::Requested { .. });
                if !reads && !requested {
                    continue;
                }
                let subject = if reads {
                    let sealed: Sealed =
                        sealer.open_json(&loaded.record.id, &loaded.record.sealed)?;
                    self.repo
                        .record_contact_read(
                            &loaded.record.id,
                            &loaded.record.region,
                            actor.name(),
                            "supervision report (list)",
                            self.clock.now(),
                        )
                        .await?;
                    sealed.subject
                } else {
                    String::new()
                };
                let s = &loaded.state;
                lines.push(ReportLine {
                    id: loaded.record.id,
                    region: loaded.record.region.clone(),
                    accused_unit: loaded.record.accused_unit.clone(),
                    concern: loaded.record.concern.parse().unwrap_or(Concern::Other),
                    subject,
                    status: s.status,
                    submitted_on: s.submitted_on,
                    acknowledge_by: self.supervision.acknowledge_by(s.submitted_on),
                    feedback_by: self.supervision.feedback_by(s.submitted_on),
                    overdue: self.overdue(s, today),
                    identity_requested: requested,
                });
            }
        }
        lines.sort_by(|a, b| b.submitted_on.cmp(&a.submitted_on).then(a.id.cmp(&b.id)));
        Ok(lines)
    }

    /// Clocks that ran out (whether warned yet or not).
    fn overdue(&self, s: &ReportState, today: Date) -> Vec<rules::Warning> {
        let clocks = self.supervision;
        let mut out = Vec::new();
        if s.status != ReportStatus::Closed {
            if s.acknowledged_on.is_none() && today > clocks.acknowledge_by(s.submitted_on) {
                out.push(rules::Warning::AcknowledgementOverdue);
            }
            if s.feedback_on.is_none() && today > clocks.feedback_by(s.submitted_on) {
                out.push(rules::Warning::FeedbackOverdue);
            }
        }
        out
    }

    /// A report for an officer (whistleblowing.read in its region, not implicated), or for a
    /// custodian (the request and its reasons only). Every read is recorded.
    async fn staff_report(&self, actor: &Actor, id: &uuid::Uuid) -> AppResult<(Loaded, bool)> {
        let record = self
            .repo
            .report(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("report {id}")))?;
        let reference = self.reference().await?;
        let policy = reference.policy();
        let accused = Self::accused(&record, &reference.units);
        let reads = policy.may_read_report(actor, &record.region, accused.as_ref());
        let keeps = policy
            .may_keep_identity(actor, &record.region, accused.as_ref())
            .is_ok();
        if let (Err(why), false) = (&reads, keeps) {
            return Err(AppError::Forbidden(why.clone()));
        }
        let reads = reads.is_ok();
        self.repo
            .record_contact_read(
                &record.id,
                &record.region,
                actor.name(),
                if reads {
                    "supervision report"
                } else {
                    "supervision report (custodian)"
                },
                self.clock.now(),
            )
            .await?;
        Ok((self.load_report(record).await?, reads))
    }

    /// One report as its officer or custodian sees it.
    pub async fn report_for(&self, actor: &Actor, id: &uuid::Uuid) -> AppResult<StaffReport> {
        let (loaded, reads) = self.staff_report(actor, id).await?;
        let today = self.supervision_today().await?;
        let (subject, content, messages, files) = if reads {
            let sealed: Sealed = self
                .supervision_sealer()?
                .open_json(&loaded.record.id, &loaded.record.sealed)?;
            (
                sealed.subject,
                sealed.content,
                self.messages(&loaded, true)?,
                self.report_files_named(&loaded.record).await?,
            )
        } else {
            (String::new(), String::new(), vec![], vec![])
        };
        let mut history = Vec::new();
        let mut reasons = Vec::new();
        for (party, action, on, sealed, seq) in &loaded.events {
            let who = match party {
                Party::Reporter => "reporter".to_owned(),
                Party::Officer(n) => n.clone(),
                Party::Platform => "platform".to_owned(),
            };
            let what = match action {
                ReportAction::Close { outcome } => format!("close:{}", outcome.as_str()),
                ReportAction::Warn { warning } => format!("warn:{}", warning.as_str()),
                a => a.kind().to_owned(),
            };
            if matches!(
                action,
                ReportAction::RequestIdentity | ReportAction::RefuseIdentity
            ) {
                reasons.push((*seq, self.open_text(&loaded.record.id, sealed)?));
            }
            history.push((*seq, *on, who, what));
        }
        let s = loaded.state.clone();
        Ok(StaffReport {
            id: loaded.record.id,
            version: loaded.record.version,
            region: loaded.record.region.clone(),
            accused_unit: loaded.record.accused_unit.clone(),
            concern: loaded.record.concern.parse().unwrap_or(Concern::Other),
            subject,
            content,
            acknowledge_by: self.supervision.acknowledge_by(s.submitted_on),
            feedback_by: self.supervision.feedback_by(s.submitted_on),
            overdue: self.overdue(&s, today),
            state: s,
            messages,
            files,
            history,
            reasons,
        })
    }

    /// An officer's or custodian's step.
    pub async fn act_on_report(
        &self,
        actor: &Actor,
        id: &uuid::Uuid,
        step: StaffStep,
    ) -> AppResult<StaffReport> {
        let text = step.text.trim();
        let needs_text = |max: usize| -> AppResult<Option<&str>> {
            match text_problem("text", text, max) {
                Some(p) => Err(AppError::Unprocessable(vec![p])),
                None => Ok(Some(text)),
            }
        };
        let (action, text, custodian) = match step.action.as_str() {
            "acknowledge" => (ReportAction::Acknowledge, None, false),
            "investigate" => (ReportAction::Investigate, None, false),
            "message" => (
                ReportAction::Message { substantive: false },
                needs_text(5000)?,
                false,
            ),
            "feedback" => (
                ReportAction::Message { substantive: true },
                needs_text(5000)?,
                false,
            ),
            "close" => {
                let outcome: Outcome = step
                    .outcome
                    .as_deref()
                    .unwrap_or("")
                    .parse()
                    .map_err(|e: String| problem("outcome", e))?;
                (ReportAction::Close { outcome }, needs_text(5000)?, false)
            }
            "request_identity" => (ReportAction::RequestIdentity, needs_text(1000)?, false),
            "approve_identity" => (ReportAction::ApproveIdentity, None, true),
            "refuse_identity" => (ReportAction::RefuseIdentity, needs_text(1000)?, true),
            other => {
                return Err(problem(
                    "action",
                    format!(
                        "`{other}` is not one of acknowledge, investigate, message, feedback, close, request_identity, approve_identity, refuse_identity"
                    ),
                ));
            }
        };
        let record = self
            .repo
            .report(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("report {id}")))?;
        let reference = self.reference().await?;
        let policy = reference.policy();
        let accused = Self::accused(&record, &reference.units);
        if custodian {
            policy.may_keep_identity(actor, &record.region, accused.as_ref())
        } else {
            policy.may_read_report(actor, &record.region, accused.as_ref())
        }
        .map_err(AppError::Forbidden)?;
        if record.version != step.version {
            return Err(AppError::Stale {
                current: record.version,
            });
        }
        let loaded = self.load_report(record).await?;
        self.record_report_step(
            &loaded,
            &Party::Officer(actor.name().to_owned()),
            action,
            text,
            None,
            step.version,
        )
        .await?;
        self.report_for(actor, id).await
    }

    /// The identity a reporter disclosed: only to the officer whose request a custodian
    /// approved, and the reading is recorded.
    pub async fn report_identity(&self, actor: &Actor, id: &uuid::Uuid) -> AppResult<String> {
        let (loaded, reads) = self.staff_report(actor, id).await?;
        let allowed = reads
            && matches!(&loaded.state.reveal, Reveal::Approved { by, .. } if by == actor.name());
        if !allowed {
            return Err(AppError::Forbidden(
                "the identity is shown only to the officer whose request a custodian approved"
                    .into(),
            ));
        }
        self.repo
            .record_contact_read(
                &loaded.record.id,
                &loaded.record.region,
                actor.name(),
                "supervision reporter identity",
                self.clock.now(),
            )
            .await?;
        let sealed = loaded
            .record
            .sealed_identity
            .as_ref()
            .ok_or_else(|| AppError::NotFound("identity".into()))?;
        let (_, identity): (String, String) = self
            .supervision_sealer()?
            .open_json(&loaded.record.id, sealed)?;
        Ok(identity)
    }

    /// A file of a report, opened for an officer; the reading is recorded.
    pub async fn report_file_for(
        &self,
        actor: &Actor,
        id: &uuid::Uuid,
        seq: u64,
    ) -> AppResult<(String, Vec<u8>)> {
        let (loaded, reads) = self.staff_report(actor, id).await?;
        if !reads {
            return Err(AppError::Forbidden(
                "a report's files are for its officers".into(),
            ));
        }
        let (file, sealed) = self
            .repo
            .report_file(&loaded.record.id, seq)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("file {seq}")))?;
        let bytes = self
            .supervision_sealer()?
            .open_bytes(&loaded.record.id, &sealed)?;
        Ok((file.media_type, bytes))
    }

    /// The clocks' round: warns (as an event the officers see) about each overdue
    /// acknowledgement and feedback once, and erases reports closed longer ago than the
    /// retention time, with their events and files. Returns (warnings, erased).
    pub async fn sweep_supervision(&self) -> AppResult<(usize, usize)> {
        if self.sealer.is_none() {
            return Ok((0, 0));
        }
        let today = self.supervision_today().await?;
        let clocks: Clocks = self.supervision;
        let mut warned = 0;
        for record in self.repo.open_reports(10_000).await? {
            let id = record.id;
            let due = clocks.warnings_due(&self.load_report(record).await?.state, today);
            for warning in due {
                // Each warning on the report as it is now: the previous one moved its version.
                let Some(fresh) = self.repo.report(&id).await? else {
                    break;
                };
                let current = self.load_report(fresh).await?;
                let version = current.record.version;
                match self
                    .record_report_step(
                        &current,
                        &Party::Platform,
                        ReportAction::Warn { warning },
                        None,
                        None,
                        version,
                    )
                    .await
                {
                    Ok(_) => warned += 1,
                    // Another instance or an officer moved it on: the next round sees it.
                    Err(AppError::Stale { .. } | AppError::Invalid(_)) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        let mut erased = 0;
        // Closed on or before this day means the retention time has passed today.
        let last_closing = today
            .checked_sub(jiff::Span::new().months(clocks.retention_months))
            .ok();
        if let Some(last) = last_closing {
            for record in self.repo.reports_closed_by(last, 10_000).await? {
                let loaded = self.load_report(record).await?;
                if clocks.is_erasable(&loaded.state, today)
                    && self.repo.erase_report(&loaded.record.id).await?
                {
                    erased += 1;
                }
            }
        }
        Ok((warned, erased))
    }
}
