//! Notifications to people: reporters are told when their case is accepted, closed or
//! reopened; units when a case is dispatched to them, goes yellow or red, or they are
//! summoned by a whistle call; grid workers when a case in their grid waits for verification.
//!
//! The outbox is transactional (see the store's `notifications.rs`): a trigger keeps each
//! case event that may tell someone something in the event's own transaction. A round of the
//! `notifications` job then (1) turns each kept event into messages — one per recipient and
//! channel, rendered from the templates (`templates.rs`) and sealed under the data key — and
//! (2) delivers the messages that are due under a lease, so that each goes out from one
//! instance; a failed try waits (`notify::after_failure`), and the last failed try leaves the
//! message on the dead-letter list for an administrator to retry or discard.
//!
//! A message may reach its recipient twice only if the sender dies between the mail server's
//! acceptance and the record of it; it then carries the same Message-ID both times.

pub mod cli;
pub mod email;
pub mod jobs;
pub mod notices;
pub mod pages;
pub mod rest;
pub mod sms;
pub mod templates;
pub mod verification;

use std::collections::BTreeMap;

use civicgrid_domain::access::{Permission, Scope, Target};
use civicgrid_domain::case::Case;
use civicgrid_domain::notification::{Audience, QuietHours, Topic, topics_for_case_event};
use civicgrid_domain::notify::{AfterFailure, after_failure};
use civicgrid_domain::policy::Actor;
use civicgrid_store::{CaseEvent, DeliveryOutcome, MessageRecord, NewMessage};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::App;
use crate::error::{AppError, AppResult};

/// Events one round turns into messages, at most.
const ROUND_SIZE: u32 = 100;
/// The topic of a resident's verification code, sent by SMS alone (no case event).
pub const VERIFICATION_TOPIC: &str = "verification_code";

/// How long an SMS provider may take to answer.
const SMS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Messages one round sends, at most, side by side (lettre's pool holds ten connections;
/// each send, waiting for one included, ends within `email::SEND_TIMEOUT`).
const SEND_ROUND: u32 = 20;
/// How long leased messages are this instance's to send, at least: longer than a round,
/// which ends within the send timeout and the recording of the outcomes.
const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(90);

/// How this deployment tells people.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// The mail server (`serve --smtp-url`); without one, no e-mail is written.
    pub mailer: Option<email::Mailer>,
    /// Where the links in messages point: the platform as residents reach it.
    pub public_url: String,
    /// The language of messages (`zh-CN` or `en`).
    pub language: String,
    /// Non-urgent staff notices wait through these hours (in the calendar's time zone).
    pub quiet_hours: QuietHours,
    /// The SMS provider (`serve --sms-config`); without one, no SMS is written.
    pub sms: Option<std::sync::Arc<dyn sms::SmsProvider>>,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        NotifierSettings {
            mailer: None,
            public_url: "http://127.0.0.1:8080".into(),
            language: "zh-CN".into(),
            quiet_hours: QuietHours::default(),
            sms: None,
        }
    }
}

impl NotifierSettings {
    /// Whether any channel is configured (a mail server or an SMS provider).
    pub fn sends(&self) -> bool {
        self.mailer.is_some() || self.sms.is_some()
    }
}

/// A message's content, sealed in the outbox: the address and the rendered texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The link that stops a reporter's messages (also sent as `List-Unsubscribe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
    /// The message's variables, for SMS providers that fill an approved template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

/// A staff member's channels as they set them on their profile; the address and number are
/// sealed at rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAddresses {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    /// Case events turned into messages.
    pub events: usize,
    /// Messages written by them.
    pub written: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

/// One recipient of a topic: who, in which language, and where.
struct Recipient {
    key: String,
    unit_name: Option<String>,
    email: Option<String>,
    /// A number to text, where the recipient wants SMS.
    phone: Option<String>,
    /// Reporters' messages never wait; staff notices wait through the quiet hours.
    staff: bool,
    /// A staff member who wants non-urgent notices as one e-mail a day.
    digest: bool,
}

impl App {
    /// One round of the notifier: events into messages, then the messages that are due.
    pub async fn run_notifications(&self) -> AppResult<RoundReport> {
        // An instance that cannot write (no mail server, no data key) leaves the outbox to
        // the instances that can, rather than drop their events or fail their messages.
        if !self.notifier.sends() || self.sealer.is_none() {
            return Ok(RoundReport::default());
        }
        let mut report = self.expand_notification_events().await?;
        let sent = self.deliver_messages().await?;
        report.sent = sent.sent;
        report.retried = sent.retried;
        report.dead = sent.dead;
        Ok(report)
    }

    /// Turns the case events waiting in the outbox into messages.
    pub async fn expand_notification_events(&self) -> AppResult<RoundReport> {
        let mut report = RoundReport::default();
        let events = self.repo.waiting_notification_events(ROUND_SIZE).await?;
        for event in events {
            let messages = match self.messages_for(&event).await {
                Ok(m) => m,
                // The database failing is worth another round; anything else about this
                // event (a record that does not open, a template that does not render) would
                // fail every round and hold up the events behind it: it is logged and passed.
                Err(e @ AppError::Store(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(case = %event.case_id, seq = event.seq, error = %e, "a case event could not be turned into messages; passed over");
                    Vec::new()
                }
            };
            report.events += 1;
            report.written += messages.len();
            self.repo
                .expand_notification_event((&event.case_id, event.seq), &messages, self.clock.now())
                .await?;
        }
        for (source, id, seq) in self.waiting_other_events().await? {
            let made = match source {
                "meeting" => self.meeting_messages(&id).await,
                "sitrep" => self.sitrep_reminder_messages(&id, seq).await,
                _ => self.notice_messages(&id).await,
            };
            let meeting = id;
            let messages = match made {
                Ok(m) => m,
                Err(e @ AppError::Store(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(%meeting, source, error = %e, "a meeting or notice could not be turned into messages; passed over");
                    Vec::new()
                }
            };
            report.events += 1;
            report.written += messages.len();
            self.repo
                .expand_notification_event((&meeting, seq), &messages, self.clock.now())
                .await?;
        }
        Ok(report)
    }

    /// The messages one case event gives rise to. Without a data key there is no address to
    /// write to (contacts are refused at intake), and without a mail server no e-mail.
    async fn messages_for(&self, event: &CaseEvent) -> AppResult<Vec<NewMessage>> {
        let Some(sealer) = self.sealer.as_deref() else {
            return Ok(Vec::new());
        };
        if !self.notifier.sends() {
            return Ok(Vec::new());
        }
        let Some(case) = self.repo.case(&event.case_id).await? else {
            return Ok(Vec::new());
        };
        let action = event.payload.get("action");
        let level = action.and_then(|a| a.get("level")).and_then(|l| l.as_str());
        let topics = topics_for_case_event(
            &event.action,
            event.from.map(|s| s.as_str()),
            event.to.as_str(),
            level,
        );
        let mut out = Vec::new();
        for topic in topics {
            let recipients = self.recipients(topic, &case, event).await?;
            if recipients.is_empty() {
                continue;
            }
            let template = self
                .notification_template(topic, &self.notifier.language)
                .await?;
            let reference = self.reference().await?;
            let now = self.clock.now();
            for recipient in recipients {
                let mut values =
                    self.case_values(&case, event, &reference, &self.notifier.language);
                if let Some(unit) = &recipient.unit_name {
                    values.insert("unit", unit.clone());
                }
                if topic.audience() == Audience::Reporter {
                    self.reporter_links(sealer, &case, &mut values);
                }
                self.push_messages(
                    sealer, topic, &template, &recipient, &values, &reference, now, &mut out,
                )?;
            }
        }
        Ok(out)
    }

    /// Kept events of meetings and notices: (source, id, seq).
    async fn waiting_other_events(&self) -> AppResult<Vec<(&'static str, Uuid, u64)>> {
        let mut out = Vec::new();
        for source in ["meeting", "notice", "sitrep"] {
            for (id, seq) in self.repo.waiting_source_events(source, ROUND_SIZE).await? {
                out.push((source, id, seq));
            }
        }
        Ok(out)
    }

    /// The messages to one recipient of a topic: an e-mail (or a notice held for the digest)
    /// where they have an address and a mail server is configured, a text where they want
    /// SMS and a provider is configured. Urgent topics go at once; other staff notices wait
    /// through the quiet hours.
    #[allow(clippy::too_many_arguments)]
    fn push_messages(
        &self,
        sealer: &crate::cases::seal::Sealer,
        topic: Topic,
        template: &civicgrid_domain::notification::Template,
        recipient: &Recipient,
        values: &BTreeMap<&'static str, String>,
        reference: &crate::reference::Reference,
        now: jiff::Timestamp,
        out: &mut Vec<NewMessage>,
    ) -> AppResult<()> {
        let urgent = topic.is_urgent();
        let not_before = |digest: bool| {
            if urgent || !recipient.staff {
                now
            } else if digest {
                self.next_digest(now, reference)
            } else {
                self.after_quiet_hours(now, reference)
            }
        };
        if let (Some(to), Some(_)) = (&recipient.email, &self.notifier.mailer) {
            let letter = Letter {
                to: to.clone(),
                subject: render_line(&template.subject, values)?,
                body: civicgrid_domain::notification::render(&template.body, values)
                    .map_err(|e| AppError::Invalid(e.to_string()))?,
                unsubscribe: values.get("unsubscribe_link").cloned(),
                values: BTreeMap::new(),
            };
            let id = self.ids.new_id(now);
            let digest = recipient.digest && !urgent;
            out.push(NewMessage {
                id,
                topic: topic.as_str().to_owned(),
                channel: if digest { "digest" } else { "email" }.into(),
                recipient: recipient.key.clone(),
                sealed: sealer.seal_json(&id, &letter)?,
                urgent,
                not_before: not_before(digest),
            });
        }
        if let (Some(phone), Some(_)) = (&recipient.phone, &self.notifier.sms) {
            let letter = Letter {
                to: phone.clone(),
                subject: String::new(),
                body: render_line(&template.sms, values)?,
                unsubscribe: None,
                values: values
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            };
            let id = self.ids.new_id(now);
            out.push(NewMessage {
                id,
                topic: topic.as_str().to_owned(),
                channel: "sms".into(),
                recipient: recipient.key.clone(),
                sealed: sealer.seal_json(&id, &letter)?,
                urgent,
                not_before: not_before(false),
            });
        }
        Ok(())
    }

    /// The summonses of a convened meeting: one to the staff of each invited unit that has
    /// not answered yet.
    async fn meeting_messages(&self, meeting_id: &Uuid) -> AppResult<Vec<NewMessage>> {
        let Some(sealer) = self.sealer.as_deref() else {
            return Ok(Vec::new());
        };
        let Some(meeting) = self.repo.meeting(meeting_id).await? else {
            return Ok(Vec::new());
        };
        if meeting.status != "planned" {
            return Ok(Vec::new());
        }
        let invitees = self.repo.invitees(meeting_id).await?;
        let reference = self.reference().await?;
        let topic = Topic::MeetingSummons;
        let template = self
            .notification_template(topic, &self.notifier.language)
            .await?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for invitee in invitees.iter().filter(|i| {
            i.kind == civicgrid_domain::consultation::InviteeKind::Unit && i.answer.is_none()
        }) {
            let staff = self
                .unit_staff(std::slice::from_ref(&invitee.reference))
                .await?;
            let values = self
                .meeting_values(&meeting, &invitee.name, invitee.answer_due, &reference)
                .await?;
            for recipient in self.staff_recipients(sealer, staff).await? {
                self.push_messages(
                    sealer, topic, &template, &recipient, &values, &reference, now, &mut out,
                )?;
            }
        }
        Ok(out)
    }

    /// The variables of a meeting summons to `unit`, who answers by `due`.
    pub(super) async fn meeting_values(
        &self,
        meeting: &civicgrid_store::MeetingRecord,
        unit: &str,
        due: jiff::Timestamp,
        reference: &crate::reference::Reference,
    ) -> AppResult<BTreeMap<&'static str, String>> {
        let zone = reference.calendar.time_zone();
        let local = |t: jiff::Timestamp| {
            t.to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        };
        let convener = self
            .repo
            .user(&meeting.convener)
            .await?
            .map_or_else(|| meeting.convener.clone(), |u| u.display_name);
        let base = self.notifier.public_url.trim_end_matches('/');
        Ok(BTreeMap::from([
            ("public_id", meeting.public_id.clone()),
            ("title", meeting.title.clone()),
            ("place", meeting.place.clone()),
            ("starts_at", local(meeting.starts_at)),
            ("convener", convener),
            ("unit", unit.to_owned()),
            ("due_at", local(due)),
            (
                "meeting_link",
                format!("{base}/meetings/{}", meeting.public_id),
            ),
        ]))
    }

    /// Who a topic about `case` goes to: the reporter who left an address and did not
    /// unsubscribe; the staff of the units concerned; the grid's workers. Staff are told on
    /// the channels they chose on their profile.
    async fn recipients(
        &self,
        topic: Topic,
        case: &Case,
        event: &CaseEvent,
    ) -> AppResult<Vec<Recipient>> {
        let Some(sealer) = self.sealer.as_deref() else {
            return Ok(Vec::new());
        };
        match topic.audience() {
            Audience::Reporter => {
                let Some(sealed) = &case.reporter_sealed else {
                    return Ok(Vec::new());
                };
                let reporter = sealer.open(&case.id, sealed)?;
                if reporter.notify == Some(false) || self.repo.is_unsubscribed(&case.id).await? {
                    return Ok(Vec::new());
                }
                // E-mail where there is an address (and a mail server); otherwise a text to
                // the number they left, where SMS is configured: one channel per reporter.
                let email = reporter.email.filter(|_| self.notifier.mailer.is_some());
                let phone = reporter
                    .phone
                    .filter(|_| email.is_none() && self.notifier.sms.is_some());
                if email.is_none() && phone.is_none() {
                    return Ok(Vec::new());
                }
                Ok(vec![Recipient {
                    key: "reporter".into(),
                    unit_name: None,
                    email,
                    phone,
                    staff: false,
                    digest: false,
                }])
            }
            Audience::Units => {
                let units = event_units(event).unwrap_or_else(|| case.state.units.clone());
                let staff = self.unit_staff(&units).await?;
                self.staff_recipients(sealer, staff).await
            }
            // Not about a case: see `sitrep_reminder_messages`.
            Audience::Commander => Ok(Vec::new()),
            Audience::GridWorkers => {
                let Some(grid) = &case.grid else {
                    return Ok(Vec::new());
                };
                let workers = self
                    .grid_workers(std::slice::from_ref(grid))
                    .await?
                    .into_iter()
                    .map(|(w, _)| (w, String::new()))
                    .collect();
                self.staff_recipients(sealer, workers).await
            }
        }
    }

    /// The active grid workers of the beats covering any of `grids`, each with the grids of
    /// theirs among them.
    pub(super) async fn grid_workers(
        &self,
        grids: &[civicgrid_domain::territory::GridCode],
    ) -> AppResult<Vec<(String, Vec<civicgrid_domain::territory::GridCode>)>> {
        let active: std::collections::HashSet<String> = self
            .repo
            .users()
            .await?
            .into_iter()
            .filter(|u| u.active)
            .map(|u| u.username)
            .collect();
        let mut workers: BTreeMap<String, Vec<civicgrid_domain::territory::GridCode>> =
            BTreeMap::new();
        for beat in self.repo.beats().await? {
            let theirs: Vec<_> = grids
                .iter()
                .filter(|g| beat.grids.contains(g))
                .cloned()
                .collect();
            if theirs.is_empty() {
                continue;
            }
            for w in beat.workers.iter().filter(|w| active.contains(*w)) {
                let entry = workers.entry(w.clone()).or_default();
                entry.extend(theirs.iter().cloned());
                entry.sort();
                entry.dedup();
            }
        }
        Ok(workers.into_iter().collect())
    }

    /// The active staff who handle cases for any of `units`: (account, unit name).
    async fn unit_staff(&self, units: &[String]) -> AppResult<Vec<(String, String)>> {
        let reference = self.reference().await?;
        let users = self.repo.users().await?;
        let mut staff: Vec<(String, String)> = Vec::new();
        for user in users.iter().filter(|u| u.active) {
            for unit in units {
                let handles = user.grants.iter().any(|g| {
                    matches!(&g.scope, Scope::Unit(u) if u == unit)
                        && civicgrid_domain::access::allows(
                            std::slice::from_ref(g),
                            &reference.roles,
                            Permission::CaseHandle,
                            &Target {
                                region: None,
                                unit: Some(unit),
                            },
                        )
                });
                if handles {
                    let name = reference
                        .units
                        .iter()
                        .find(|u| &u.code == unit)
                        .map_or_else(|| unit.clone(), |u| u.name.clone());
                    staff.push((user.username.clone(), name));
                    break;
                }
            }
        }
        Ok(staff)
    }

    /// The staff (account, unit name) who chose e-mail, with their address.
    async fn staff_recipients(
        &self,
        sealer: &crate::cases::seal::Sealer,
        staff: Vec<(String, String)>,
    ) -> AppResult<Vec<Recipient>> {
        let names: Vec<String> = staff.iter().map(|(n, _)| n.clone()).collect();
        let channels = self.repo.staff_channels(&names).await?;
        let mut out = Vec::new();
        for (name, unit) in staff {
            let Some(c) = channels.iter().find(|c| c.username == name) else {
                continue;
            };
            if !c.email && !c.sms {
                continue;
            }
            let addresses: StaffAddresses = match sealer.open_json(&c.id, &c.sealed) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(account = %name, error = %e, "a staff member's channels do not open; skipped");
                    continue;
                }
            };
            out.push(Recipient {
                key: name,
                unit_name: (!unit.is_empty()).then_some(unit),
                email: addresses.email.filter(|_| c.email),
                phone: addresses.phone.filter(|_| c.sms),
                staff: true,
                digest: c.digest,
            });
        }
        Ok(out)
    }

    /// The variables every case topic offers.
    fn case_values(
        &self,
        case: &Case,
        event: &CaseEvent,
        reference: &crate::reference::Reference,
        language: &str,
    ) -> BTreeMap<&'static str, String> {
        let zone = reference.calendar.time_zone();
        let local = |t: jiff::Timestamp| {
            t.to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        };
        let english = language == "en";
        let category = case
            .category
            .as_ref()
            .and_then(|c| reference.category(c))
            .map(|c| {
                if english {
                    c.name_en.clone()
                } else {
                    c.name_zh.clone()
                }
            })
            .unwrap_or_default();
        let address = case
            .address
            .clone()
            .or_else(|| case.grid.as_ref().map(|g| reference.place_name(g)))
            .unwrap_or_default();
        let description: String = case.description.chars().take(200).collect();
        let status = crate::web::i18n::t(
            language,
            &format!("status-{}", event.to.as_str().replace('_', "-")),
            &[],
        );
        let due_at = event
            .payload
            .get("action")
            .and_then(|a| a.get("due_at"))
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
            .or_else(|| case.clock.as_ref().map(|c| c.due_at))
            .map(local)
            .unwrap_or_default();
        let base = self.notifier.public_url.trim_end_matches('/');
        BTreeMap::from([
            ("public_id", case.public_id.clone()),
            ("category", category),
            ("address", address),
            ("description", description),
            ("status", status),
            ("at", local(event.at)),
            ("due_at", due_at),
            ("work_link", format!("{base}/work/case/{}", case.id)),
        ])
    }

    /// The reporter's links: following the case, evaluating it without retyping the
    /// secret, and unsubscribing without an account.
    fn reporter_links(
        &self,
        sealer: &crate::cases::seal::Sealer,
        case: &Case,
        values: &mut BTreeMap<&'static str, String>,
    ) {
        let base = self.notifier.public_url.trim_end_matches('/');
        let receipt = &case.receipt_code;
        values.insert("receipt", receipt.clone());
        values.insert("track_link", format!("{base}/track/{receipt}"));
        values.insert(
            "evaluation_link",
            format!(
                "{base}/track/{receipt}?key={}#evaluate",
                sealer.link_token("evaluate", &case.id)
            ),
        );
        values.insert(
            "unsubscribe_link",
            format!(
                "{base}/notifications/unsubscribe/{}.{}",
                case.id,
                sealer.link_token("unsubscribe", &case.id)
            ),
        );
    }

    /// When a non-urgent staff notice written at `now` may go: now, or when the quiet hours
    /// it falls in end.
    fn after_quiet_hours(
        &self,
        now: jiff::Timestamp,
        reference: &crate::reference::Reference,
    ) -> jiff::Timestamp {
        let zone = reference.calendar.time_zone();
        let local = now.to_zoned(zone.clone()).datetime();
        match self.notifier.quiet_hours.hold_until(local) {
            Some(until) => until
                .to_zoned(zone.clone())
                .map(|z| z.timestamp())
                .unwrap_or(now),
            None => now,
        }
    }

    /// When the next daily digest goes out after `now`.
    fn next_digest(
        &self,
        now: jiff::Timestamp,
        reference: &crate::reference::Reference,
    ) -> jiff::Timestamp {
        let zone = reference.calendar.time_zone();
        let local = now.to_zoned(zone.clone()).datetime();
        civicgrid_domain::notification::next_digest(local)
            .to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(now)
    }

    /// Sends the messages that are due, each under this instance's lease.
    pub async fn deliver_messages(&self) -> AppResult<RoundReport> {
        let mut report = RoundReport::default();
        let now = self.clock.now();
        let owner = self.jobs.instance.clone();
        // The round's sends run side by side and each ends within the send timeout (a few
        // waves through the connection pool at most): the lease outlasts the round, so no
        // other instance takes a message that is still being sent.
        let lease = self.jobs.lease.max(LEASE);
        let due = self
            .repo
            .claim_messages(&owner, now, now + lease, SEND_ROUND)
            .await?;
        // A recipient's held notices go out together, as one e-mail; the rest one by one.
        let (held, single): (Vec<MessageRecord>, Vec<MessageRecord>) =
            due.into_iter().partition(|m| m.channel == "digest");
        let mut digests: BTreeMap<String, Vec<MessageRecord>> = BTreeMap::new();
        for m in held {
            digests.entry(m.recipient.clone()).or_default().push(m);
        }
        let mut sends = tokio::task::JoinSet::new();
        for group in digests.into_values() {
            let app = self.clone();
            sends.spawn(async move {
                let sent = app.send_digest(&group).await;
                (group, sent)
            });
        }
        for message in single {
            let app = self.clone();
            sends.spawn(async move {
                let sent = app.send_message(&message).await;
                (vec![message], sent)
            });
        }
        // Each outcome is recorded as soon as its send ends (a sent message not yet recorded
        // is what a crash could send twice); an error recording one does not abort the sends
        // still under way: they finish, are recorded, and the error is answered at the end.
        let mut failed = None;
        while let Some(done) = sends.join_next().await {
            let (group, sent) = match done {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "a send stopped; its messages go again when their lease runs out");
                    continue;
                }
            };
            let at = self.clock.now();
            for message in &group {
                let outcome = self.outcome(message, sent.clone(), at, &mut report);
                match self
                    .repo
                    .finish_message(&message.id, &owner, at, &outcome)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(message = %message.id, "a message's lease ran out while it was sent")
                    }
                    Err(e) => {
                        tracing::warn!(message = %message.id, error = %e, "a message's outcome could not be recorded");
                        failed = Some(e);
                    }
                }
            }
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(report)
    }

    /// What a try's result means for the message: sent, tried again later, or dead.
    fn outcome(
        &self,
        message: &MessageRecord,
        sent: Result<(), email::Failure>,
        at: jiff::Timestamp,
        report: &mut RoundReport,
    ) -> DeliveryOutcome {
        // A mail server's answer often quotes the address: kept masked, like everywhere else.
        let sent = sent.map_err(|f| email::Failure {
            reason: mask_addresses_in(&f.reason),
            ..f
        });
        match sent {
            Ok(()) => {
                report.sent += 1;
                DeliveryOutcome::Delivered
            }
            Err(failure) if failure.permanent => {
                report.dead += 1;
                DeliveryOutcome::Failed {
                    error: failure.reason,
                }
            }
            Err(failure) => match after_failure(message.attempts, at) {
                AfterFailure::RetryAt(next) => {
                    report.retried += 1;
                    DeliveryOutcome::Retry {
                        at: next,
                        error: failure.reason,
                    }
                }
                AfterFailure::GiveUp => {
                    report.dead += 1;
                    DeliveryOutcome::Failed {
                        error: failure.reason,
                    }
                }
            },
        }
    }

    /// One e-mail holding a recipient's held notices, oldest first; its Message-ID is the
    /// first notice's.
    async fn send_digest(&self, group: &[MessageRecord]) -> Result<(), email::Failure> {
        let sealer = self
            .sealer
            .as_deref()
            .ok_or_else(|| email::Failure::later("no data key to open the messages"))?;
        let mailer = self
            .notifier
            .mailer
            .as_ref()
            .ok_or_else(|| email::Failure::later("no mail server is configured"))?;
        let mut letters = Vec::new();
        for m in group {
            let letter: Letter = sealer.open_json(&m.id, &m.sealed).map_err(|e| {
                email::Failure::permanent(format!("a held notice does not open: {e}"))
            })?;
            letters.push(letter);
        }
        let Some(first) = letters.first() else {
            return Ok(());
        };
        let english = self.notifier.language == "en";
        let subject = if english {
            format!("Your notices of the day ({})", letters.len())
        } else {
            format!("今日工作通知（{} 条）", letters.len())
        };
        let rule = "—".repeat(20);
        let body = letters
            .iter()
            .map(|l| format!("{}\n\n{}", l.subject, l.body.trim()))
            .collect::<Vec<_>>()
            .join(&format!("\n\n{rule}\n\n"));
        let digest = Letter {
            to: first.to.clone(),
            subject,
            body,
            unsubscribe: None,
            values: BTreeMap::new(),
        };
        mailer.send(&group[0].id, &digest).await
    }

    async fn send_message(&self, message: &MessageRecord) -> Result<(), email::Failure> {
        let sealer = self
            .sealer
            .as_deref()
            .ok_or_else(|| email::Failure::later("no data key to open the message"))?;
        let letter: Letter = sealer
            .open_json(&message.id, &message.sealed)
            .map_err(|e| email::Failure::permanent(format!("the message does not open: {e}")))?;
        match message.channel.as_str() {
            "email" => {
                let mailer = self
                    .notifier
                    .mailer
                    .as_ref()
                    .ok_or_else(|| email::Failure::later("no mail server is configured"))?;
                mailer.send(&message.id, &letter).await
            }
            "sms" => {
                let provider = self
                    .notifier
                    .sms
                    .as_ref()
                    .ok_or_else(|| email::Failure::later("no SMS provider is configured"))?;
                let id = message.id.to_string();
                self.send_sms(
                    provider.as_ref(),
                    &sms::Sms {
                        id: &id,
                        phone: &letter.to,
                        topic: &message.topic,
                        text: &letter.body,
                        values: &letter.values,
                    },
                )
                .await
            }
            other => Err(email::Failure::permanent(format!(
                "no sender for channel {other}"
            ))),
        }
    }

    /// Sends one text through the provider: its request, through the outgoing client, and
    /// its reading of the answer. Not reaching the provider is worth another try.
    pub(crate) async fn send_sms(
        &self,
        provider: &dyn sms::SmsProvider,
        message: &sms::Sms<'_>,
    ) -> Result<(), email::Failure> {
        let nonce = self.ids.new_id(self.clock.now()).to_string();
        let request = provider.request(message, self.clock.now().as_second(), &nonce)?;
        let answer = self
            .outbound
            .send(request, SMS_TIMEOUT)
            .await
            .map_err(|e| email::Failure::later(format!("{}: {e}", provider.name())))?;
        provider.outcome(&answer)
    }

    /// The outbox as it stands, for administrators.
    pub async fn notification_status(&self, actor: &Actor) -> AppResult<NotificationStatus> {
        self.may_manage_notifications(actor).await?;
        let counts = self.repo.message_counts().await?;
        let q = self.notifier.quiet_hours;
        Ok(NotificationStatus {
            pending: counts.pending,
            sent: counts.sent,
            dead: counts.dead,
            discarded: counts.discarded,
            waiting_events: counts.waiting_events,
            mail_server: self.notifier.mailer.as_ref().map(|m| m.server.clone()),
            sms_provider: self.notifier.sms.as_ref().map(|p| p.name().to_owned()),
            public_url: self.notifier.public_url.clone(),
            language: self.notifier.language.clone(),
            quiet_hours: format!("{}-{}", q.start.strftime("%H:%M"), q.end.strftime("%H:%M")),
            data_key: self.sealer.is_some(),
        })
    }

    /// The dead-letter list, for administrators.
    pub async fn dead_letters(&self, actor: &Actor) -> AppResult<Vec<MessageView>> {
        self.may_manage_notifications(actor).await?;
        let dead = self.repo.messages_in("dead", 500).await?;
        dead.into_iter().map(|m| self.message_view(m)).collect()
    }

    /// A dead message, sent again from its first try.
    pub async fn retry_dead_letter(&self, actor: &Actor, id: &Uuid) -> AppResult<MessageView> {
        self.may_manage_notifications(actor).await?;
        if !self.repo.retry_message(id, self.clock.now()).await? {
            return Err(self.not_dead(id).await);
        }
        tracing::info!(message = %id, by = actor.name(), "dead letter sent again");
        self.message_view_of(id).await
    }

    /// A dead message, given up for good, with the reason.
    pub async fn discard_dead_letter(
        &self,
        actor: &Actor,
        id: &Uuid,
        reason: &str,
    ) -> AppResult<MessageView> {
        self.may_manage_notifications(actor).await?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(crate::cases::invalid(vec![(
                "reason".into(),
                "say why the message is given up (1 to 500 characters)".into(),
            )]));
        }
        if !self
            .repo
            .discard_message(id, actor.name(), reason, self.clock.now())
            .await?
        {
            return Err(self.not_dead(id).await);
        }
        self.message_view_of(id).await
    }

    async fn not_dead(&self, id: &Uuid) -> AppError {
        match self.repo.message(id).await {
            Ok(Some(m)) => AppError::Conflict(format!("the message is {}, not dead", m.status)),
            Ok(None) => AppError::NotFound(format!("no message {id}")),
            Err(e) => e.into(),
        }
    }

    async fn message_view_of(&self, id: &Uuid) -> AppResult<MessageView> {
        let m = self
            .repo
            .message(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no message {id}")))?;
        self.message_view(m)
    }

    /// What an administrator sees of a message: where it was going (the address masked),
    /// what about, and what went wrong; never its text.
    fn message_view(&self, m: MessageRecord) -> AppResult<MessageView> {
        let to = match self.sealer.as_deref() {
            Some(sealer) => sealer
                .open_json::<Letter>(&m.id, &m.sealed)
                .map(|l| mask_address(&l.to))
                .unwrap_or_else(|_| "?".into()),
            None => "?".into(),
        };
        Ok(MessageView {
            id: m.id,
            case_id: m.case_id,
            topic: m.topic,
            channel: m.channel,
            recipient: m.recipient,
            to,
            status: m.status,
            attempts: m.attempts,
            created_at: m.created_at,
            done_at: m.done_at,
            last_error: m.last_error,
            discarded_by: m.discarded_by,
            discard_reason: m.discard_reason,
        })
    }

    pub(crate) async fn may_manage_notifications(&self, actor: &Actor) -> AppResult<()> {
        let reference = self.reference().await?;
        reference
            .policy()
            .may_administer(actor, Permission::NotificationManage)
            .map_err(AppError::Forbidden)
    }

    /// How a staff member is told: the channels they chose and their addresses (opened for
    /// them alone).
    pub async fn own_channels(&self, actor: &Actor) -> AppResult<OwnChannels> {
        let Actor::Staff { username, .. } = actor else {
            return Err(AppError::Forbidden(
                "sign in to see how you are told".into(),
            ));
        };
        let sealer = self.sealer_for_channels()?;
        let kept = self
            .repo
            .staff_channels(std::slice::from_ref(username))
            .await?;
        Ok(match kept.into_iter().next() {
            Some(c) => OwnChannels {
                addresses: sealer.open_json(&c.id, &c.sealed)?,
                email: c.email,
                sms: c.sms,
                digest: c.digest,
            },
            None => OwnChannels::default(),
        })
    }

    /// Sets how a staff member is told. An address is checked as a reporter's is; a channel
    /// without its address is refused.
    pub async fn set_own_channels(
        &self,
        actor: &Actor,
        wanted: OwnChannels,
    ) -> AppResult<OwnChannels> {
        let Actor::Staff { username, .. } = actor else {
            return Err(AppError::Forbidden(
                "sign in to choose how you are told".into(),
            ));
        };
        let sealer = self.sealer_for_channels()?;
        let addresses = StaffAddresses {
            email: wanted
                .addresses
                .email
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty()),
            phone: wanted
                .addresses
                .phone
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
        };
        let as_contact = crate::cases::seal::Reporter {
            email: addresses.email.clone(),
            phone: addresses.phone.clone(),
            ..Default::default()
        };
        let mut problems: Vec<(String, String)> = as_contact
            .problems()
            .into_iter()
            .map(|(f, m)| (f.replace("reporter.", ""), m))
            .collect();
        if wanted.email && addresses.email.is_none() {
            problems.push((
                "email".into(),
                "e-mail is chosen but no address is given".into(),
            ));
        }
        // Without a provider the choice would never be honoured: refuse it.
        if wanted.sms && self.notifier.sms.is_none() {
            problems.push((
                "sms".into(),
                "this deployment sends no SMS; choose e-mail".into(),
            ));
        } else if wanted.sms && addresses.phone.is_none() {
            problems.push((
                "phone".into(),
                "SMS is chosen but no number is given".into(),
            ));
        }
        if !problems.is_empty() {
            return Err(crate::cases::invalid(problems));
        }
        let id = self.ids.new_id(self.clock.now());
        self.repo
            .save_staff_channels(&civicgrid_store::StaffChannelsRecord {
                username: username.clone(),
                id,
                sealed: sealer.seal_json(&id, &addresses)?,
                email: wanted.email,
                sms: wanted.sms,
                digest: wanted.digest,
                updated_at: self.clock.now(),
            })
            .await?;
        Ok(OwnChannels {
            addresses,
            ..wanted
        })
    }

    fn sealer_for_channels(&self) -> AppResult<&crate::cases::seal::Sealer> {
        self.sealer.as_deref().ok_or_else(|| {
            AppError::Invalid(
                "this deployment has no data key, so it keeps no addresses to write to".into(),
            )
        })
    }

    /// The reporter of a case asks for no more messages, through the link in one of them.
    pub async fn unsubscribe(&self, token: &str) -> AppResult<()> {
        let case = self.unsubscribe_case(token)?;
        self.repo
            .unsubscribe_reporter(&case, self.clock.now())
            .await?;
        Ok(())
    }

    /// The case an unsubscribe token is for, if the token is genuine.
    pub fn unsubscribe_case(&self, token: &str) -> AppResult<Uuid> {
        let refused = || AppError::NotFound("this unsubscribe link is not valid".into());
        let sealer = self.sealer.as_deref().ok_or_else(refused)?;
        let (id, mac) = token.split_once('.').ok_or_else(refused)?;
        let id: Uuid = id.parse().map_err(|_| refused())?;
        if !sealer.is_link_token("unsubscribe", &id, mac) {
            return Err(refused());
        }
        Ok(id)
    }
}

/// The outbox as administrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationStatus {
    pub pending: u64,
    pub sent: u64,
    pub dead: u64,
    pub discarded: u64,
    /// Case events not yet turned into messages.
    pub waiting_events: u64,
    /// `smtp://host:port` (no password), or none: then no e-mail is written.
    pub mail_server: Option<String>,
    /// `tencent`, `aliyun` or `gateway`, or none: then no SMS is written.
    pub sms_provider: Option<String>,
    pub public_url: String,
    pub language: String,
    pub quiet_hours: String,
    /// Without a data key there are no addresses, so nobody is written to.
    pub data_key: bool,
}

/// How a staff member wants to be told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnChannels {
    #[serde(default)]
    pub addresses: StaffAddresses,
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub sms: bool,
    /// Non-urgent notices as one e-mail a day instead of one each.
    #[serde(default)]
    pub digest: bool,
}

/// A message as administrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub topic: String,
    pub channel: String,
    /// `reporter`, or the staff account.
    pub recipient: String,
    /// The address, masked (`z***@example.org`).
    pub to: String,
    pub status: String,
    pub attempts: u32,
    #[schema(value_type = String)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<jiff::Timestamp>,
    pub last_error: Option<String>,
    pub discarded_by: Option<String>,
    pub discard_reason: Option<String>,
}

/// `z***@example.org`: enough to recognise an address, not to harvest it.
pub fn mask_address(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => {
            let last: String = address
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("***{last}")
        }
    }
}

/// Masks every e-mail address and phone number in a text (`<li@example.org>` →
/// `<l***@example.org>`, `13800138000` → `***8000`): providers' answers quote them.
pub fn mask_addresses_in(text: &str) -> String {
    let words = text
        .split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| {
                matches!(c, '<' | '>' | ',' | ';' | ':' | '"' | '\'' | '(' | ')')
            });
            if core.contains('@') && !core.starts_with('@') {
                word.replace(core, &mask_address(core))
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    mask_numbers_in(&words)
}

/// Runs of seven or more digits (a phone number, with its `+`) become `***` and the last four.
fn mask_numbers_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str(&mask_address(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The units an event names (dispatch, transfer, whistle call), if it names any.
fn event_units(event: &CaseEvent) -> Option<Vec<String>> {
    let units = event.payload.get("action")?.get("units")?.as_array()?;
    Some(
        units
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect(),
    )
}

/// A subject is one line: line breaks in a filled-in value (an address) become spaces.
fn render_line(template: &str, values: &BTreeMap<&str, String>) -> AppResult<String> {
    let text = civicgrid_domain::notification::render(template, values)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_wherever_a_server_quotes_them() {
        assert_eq!(mask_address("li@example.org"), "l***@example.org");
        assert_eq!(mask_address("13800138000"), "***8000");
        assert_eq!(
            mask_addresses_in(
                "smtp://m:25: permanent error (550): 5.1.1 <li@example.org>: Recipient address rejected"
            ),
            "smtp://m:25: permanent error (550): 5.1.1 <l***@example.org>: Recipient address rejected"
        );
        assert_eq!(mask_addresses_in("no address here"), "no address here");
        assert_eq!(
            mask_addresses_in(r#"gateway: HTTP 200: {"code":41,"msg":"+8613800138000 blocked"}"#),
            r#"gateway: HTTP 200: {"code":41,"msg":"***8000 blocked"}"#
        );
        assert_eq!(
            mask_addresses_in("HTTP 503 after 30 s"),
            "HTTP 503 after 30 s"
        );
    }
}
