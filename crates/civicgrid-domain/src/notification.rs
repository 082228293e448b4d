//! Notifications to people (e-mail, SMS): which case events tell whom, the message templates
//! and their variables, and quiet hours. Sending, the outbox and the addresses are the
//! application's and the store's; the rules are here. (`notify.rs` holds the retry schedule
//! that webhooks and these messages share.)

use std::collections::BTreeMap;

use jiff::civil::{DateTime, Time};
use serde::{Deserialize, Serialize};

/// What a message is about: one kind of event, told to one kind of recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// To the reporter: the case was accepted (受理), with the receipt code.
    CaseAccepted,
    /// To the reporter: the case was closed (结案), with the evaluation link.
    CaseClosed,
    /// To the reporter: the case was reopened.
    CaseReopened,
    /// To a unit: a case was dispatched (派遣) or transferred (转派) to it.
    CaseDispatched,
    /// To the units on a case: less than the warning share of a stage's time is left (黄牌).
    CaseYellow,
    /// To the units on a case: a stage's deadline passed (红牌).
    CaseRed,
    /// To a summoned unit: the street blew the whistle (吹哨报到).
    WhistleCall,
    /// To the grid's workers: a unit reported back; the case waits for on-site verification.
    CaseToVerify,
    /// To an invited unit: a consultation meeting (议事会) was convened and its attendance is
    /// asked for by a deadline (召集).
    MeetingSummons,
    /// To the grid workers of chosen grids: an urgent notice from the street (紧急通知), e.g.
    /// a typhoon warning or an order to check every vulnerable household.
    EmergencyNotice,
    /// To an incident's commander: the next situation report (续报) is due.
    SitrepDue,
}

/// Who a topic is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The resident who reported the case, at the address they left.
    Reporter,
    /// The staff of the units the event names (or the case's units).
    Units,
    /// The grid workers of the case's grid.
    GridWorkers,
    /// The commander of an incident.
    Commander,
}

impl Topic {
    pub const ALL: [Topic; 11] = [
        Topic::CaseAccepted,
        Topic::CaseClosed,
        Topic::CaseReopened,
        Topic::CaseDispatched,
        Topic::CaseYellow,
        Topic::CaseRed,
        Topic::WhistleCall,
        Topic::CaseToVerify,
        Topic::MeetingSummons,
        Topic::EmergencyNotice,
        Topic::SitrepDue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::CaseAccepted => "case_accepted",
            Topic::CaseClosed => "case_closed",
            Topic::CaseReopened => "case_reopened",
            Topic::CaseDispatched => "case_dispatched",
            Topic::CaseYellow => "case_yellow",
            Topic::CaseRed => "case_red",
            Topic::WhistleCall => "whistle_call",
            Topic::CaseToVerify => "case_to_verify",
            Topic::MeetingSummons => "meeting_summons",
            Topic::EmergencyNotice => "emergency_notice",
            Topic::SitrepDue => "sitrep_due",
        }
    }

    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn audience(self) -> Audience {
        match self {
            Topic::CaseAccepted | Topic::CaseClosed | Topic::CaseReopened => Audience::Reporter,
            Topic::CaseDispatched
            | Topic::CaseYellow
            | Topic::CaseRed
            | Topic::WhistleCall
            | Topic::MeetingSummons => Audience::Units,
            Topic::CaseToVerify | Topic::EmergencyNotice => Audience::GridWorkers,
            Topic::SitrepDue => Audience::Commander,
        }
    }

    /// Urgent notices go out at once, in quiet hours too, and never wait for a digest: a
    /// breached deadline and a whistle call need someone now.
    pub fn is_urgent(self) -> bool {
        matches!(
            self,
            Topic::CaseRed | Topic::WhistleCall | Topic::EmergencyNotice | Topic::SitrepDue
        )
    }

    /// The variables a template of this topic may use.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Topic::CaseAccepted | Topic::CaseReopened => &[
                "public_id",
                "category",
                "address",
                "description",
                "status",
                "at",
                "receipt",
                "track_link",
                "unsubscribe_link",
            ],
            Topic::CaseClosed => &[
                "public_id",
                "category",
                "address",
                "description",
                "status",
                "at",
                "receipt",
                "track_link",
                "evaluation_link",
                "unsubscribe_link",
            ],
            Topic::CaseDispatched
            | Topic::CaseYellow
            | Topic::CaseRed
            | Topic::WhistleCall
            | Topic::CaseToVerify => &[
                "public_id",
                "category",
                "address",
                "description",
                "status",
                "at",
                "unit",
                "due_at",
                "work_link",
            ],
            Topic::MeetingSummons => &[
                "public_id",
                "title",
                "place",
                "starts_at",
                "convener",
                "unit",
                "due_at",
                "meeting_link",
            ],
            Topic::EmergencyNotice => &["title", "text", "issued_by", "at", "grid"],
            Topic::SitrepDue => &["incident", "number", "level", "due_at", "board_link"],
        }
    }
}

/// The topics a case event gives rise to, from what the event records: its action, the
/// status it left and reached, and (for an alarm) the level in its payload.
pub fn topics_for_case_event(
    action: &str,
    from: Option<&str>,
    to: &str,
    alarm_level: Option<&str>,
) -> Vec<Topic> {
    let mut topics = Vec::new();
    if to == "accepted" && from != Some("accepted") {
        topics.push(Topic::CaseAccepted);
    }
    if to == "closed" && from != Some("closed") {
        topics.push(Topic::CaseClosed);
    }
    match action {
        "reopen" => topics.push(Topic::CaseReopened),
        "dispatch" | "transfer" => topics.push(Topic::CaseDispatched),
        "raise_alarm" => match alarm_level {
            Some("yellow") => topics.push(Topic::CaseYellow),
            Some("red") => topics.push(Topic::CaseRed),
            _ => {}
        },
        "whistle_call" => topics.push(Topic::WhistleCall),
        "report_back" => topics.push(Topic::CaseToVerify),
        _ => {}
    }
    topics
}

/// The case actions that can give rise to a notification: the store's outbox trigger keeps
/// these events (and any event that reaches `accepted` or `closed`) for the notifier.
pub const NOTIFYING_ACTIONS: &[&str] = &[
    "reopen",
    "dispatch",
    "transfer",
    "raise_alarm",
    "whistle_call",
    "report_back",
];

/// One piece of a template: text as written, or a variable to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Variable(&'a str),
}

/// What is wrong with a template's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateProblem {
    #[error("unknown variable {{{{{name}}}}} (known: {known})")]
    UnknownVariable { name: String, known: String },
    #[error("`{{{{` at character {at} is not closed by `}}}}`")]
    Unclosed { at: usize },
    #[error("`{{{{{inner}}}}}` at character {at} is not a variable name (letters, digits, _)")]
    NotAName { inner: String, at: usize },
    #[error("empty")]
    Empty,
    #[error("longer than {max} characters")]
    TooLong { max: usize },
}

/// The longest template text kept (an SMS is far shorter; a mail body a page or two).
pub const MAX_TEMPLATE_CHARS: usize = 8_000;

/// Splits a template into text and `{{ variable }}` pieces.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, TemplateProblem> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let at = text[..offset + open].chars().count();
        let close = after.find("}}").ok_or(TemplateProblem::Unclosed { at })?;
        let inner = &after[..close];
        let name = inner.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TemplateProblem::NotAName {
                inner: inner.to_owned(),
                at,
            });
        }
        out.push(Piece::Variable(name));
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks a template's text against the variables its topic offers: an unknown variable is
/// refused when the template is saved, not found when a message is due.
pub fn check_template(text: &str, known: &[&str]) -> Result<(), TemplateProblem> {
    if text.trim().is_empty() {
        return Err(TemplateProblem::Empty);
    }
    if text.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(TemplateProblem::TooLong {
            max: MAX_TEMPLATE_CHARS,
        });
    }
    for piece in pieces(text)? {
        if let Piece::Variable(name) = piece
            && !known.contains(&name)
        {
            return Err(TemplateProblem::UnknownVariable {
                name: name.to_owned(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

/// Fills a template in. A variable without a value becomes empty (the check at saving time
/// makes sure every name is one the topic offers).
pub fn render(text: &str, values: &BTreeMap<&str, String>) -> Result<String, TemplateProblem> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Variable(name) => out.push_str(values.get(name).map_or("", String::as_str)),
        }
    }
    Ok(out)
}

/// A message's texts for one topic and language: the e-mail's subject and body, and the SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub subject: String,
    pub body: String,
    pub sms: String,
}

impl Template {
    /// Every problem of the three texts, each (field, problem).
    pub fn problems(&self, topic: Topic) -> Vec<(String, String)> {
        let known = topic.variables();
        [
            ("subject", &self.subject),
            ("body", &self.body),
            ("sms", &self.sms),
        ]
        .into_iter()
        .filter_map(|(field, text)| {
            check_template(text, known)
                .err()
                .map(|p| (field.to_owned(), p.to_string()))
        })
        .collect()
    }
}

/// The hours in which non-urgent staff notices wait (from `start` to `end`, which may cross
/// midnight, in the deployment's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

impl QuietHours {
    /// When a notice due at `local` may go out: `None` if now, else the end of the quiet
    /// hours it falls in.
    pub fn hold_until(&self, local: DateTime) -> Option<DateTime> {
        let time = local.time();
        let date = local.date();
        if self.start == self.end {
            return None;
        }
        if self.start < self.end {
            // Within one day, e.g. 12:00–14:00.
            (time >= self.start && time < self.end).then(|| date.to_datetime(self.end))
        } else if time >= self.start {
            // Across midnight, e.g. 22:00–07:00, in the evening part.
            date.tomorrow().ok().map(|d| d.to_datetime(self.end))
        } else if time < self.end {
            Some(date.to_datetime(self.end))
        } else {
            None
        }
    }
}

/// When the daily digest goes out (in the calendar's time zone).
pub const DIGEST_TIME: Time = Time::constant(8, 0, 0, 0);

/// The first digest at or after `local`: today's if its time has not passed, else tomorrow's.
pub fn next_digest(local: DateTime) -> DateTime {
    let today = local.date().to_datetime(DIGEST_TIME);
    if today >= local {
        today
    } else {
        local
            .date()
            .tomorrow()
            .map_or(today, |d| d.to_datetime(DIGEST_TIME))
    }
}

impl Default for QuietHours {
    /// 22:00 to 07:00.
    fn default() -> Self {
        QuietHours {
            start: Time::constant(22, 0, 0, 0),
            end: Time::constant(7, 0, 0, 0),
        }
    }
}

/// Verification codes texted to residents (a phone-verified evaluation, for instance): how
/// long one holds, how many guesses it takes, and how often one number may be sent one.
pub mod verification {
    use jiff::{SignedDuration, Timestamp};

    /// A code is good for ten minutes.
    pub const CODE_LIFETIME: SignedDuration = SignedDuration::from_mins(10);
    /// Wrong guesses a code takes before it is spent.
    pub const CODE_GUESSES: u32 = 5;

    /// How often one number may be sent a code.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SendLimits {
        /// Between two codes to the same number.
        pub gap: SignedDuration,
        /// Codes in any hour.
        pub per_hour: usize,
        /// Codes in any 24 hours.
        pub per_day: usize,
    }

    impl Default for SendLimits {
        fn default() -> Self {
            SendLimits {
                gap: SignedDuration::from_secs(60),
                per_hour: 5,
                per_day: 10,
            }
        }
    }

    impl SendLimits {
        /// How far back `next_send` needs to see.
        pub fn window(&self) -> SignedDuration {
            SignedDuration::from_hours(24).max(self.gap)
        }

        /// Whether a code may be sent at `now` to a number sent codes at `sent` (any order):
        /// `Err` holds the first instant one may.
        pub fn next_send(&self, sent: &[Timestamp], now: Timestamp) -> Result<(), Timestamp> {
            let mut earliest = now;
            let hour = SignedDuration::from_hours(1);
            let day = SignedDuration::from_hours(24);
            let mut recent: Vec<Timestamp> = sent.iter().copied().filter(|t| *t <= now).collect();
            recent.sort();
            if let Some(last) = recent.last() {
                earliest = earliest.max(*last + self.gap);
            }
            // The (n - limit + 1)-th newest send must leave the window before another goes.
            for (limit, span) in [(self.per_hour, hour), (self.per_day, day)] {
                let inside: Vec<&Timestamp> = recent.iter().filter(|t| **t + span > now).collect();
                if limit == 0 {
                    return Err(Timestamp::MAX);
                }
                if inside.len() >= limit {
                    let oldest_to_leave = inside[inside.len() - limit];
                    earliest = earliest.max(*oldest_to_leave + span);
                }
            }
            if earliest <= now {
                Ok(())
            } else {
                Err(earliest)
            }
        }
    }

    /// Six digits from random bits (a leading zero kept).
    pub fn code_from(bits: u64) -> String {
        format!("{:06}", bits % 1_000_000)
    }
}

#[cfg(test)]
mod tests;
