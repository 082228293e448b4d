//! One-stop services (一站式服务): the catalogue of service items (事项清单) and the
//! applications residents file against them. An application is accepted only with every
//! required material; a request for corrections (补正) names every missing item at once
//! (一次性告知) and is made at most once; processing runs on the working calendar to the item's
//! legal time limit; the resident evaluates the result (好差评). Pure.

use serde::{Deserialize, Serialize};

/// How an item may be applied for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceChannel {
    /// 网上办
    Online,
    /// 窗口办
    Counter,
    /// 代办: a grid worker files it for the resident.
    Proxy,
}

impl ServiceChannel {
    pub const ALL: [ServiceChannel; 3] = [
        ServiceChannel::Online,
        ServiceChannel::Counter,
        ServiceChannel::Proxy,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceChannel::Online => "online",
            ServiceChannel::Counter => "counter",
            ServiceChannel::Proxy => "proxy",
        }
    }
    pub fn parse(s: &str) -> Option<ServiceChannel> {
        ServiceChannel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One item of the materials checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    /// Short code, unique within the item (`id_card`, `lease`).
    pub code: String,
    pub name: String,
    pub required: bool,
    /// What a good one looks like (样表 / 示例), shown with the checklist.
    #[serde(default)]
    pub sample: String,
}

/// A service item of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceItem {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// The unit that handles it.
    pub unit: String,
    /// The legal time limit (法定时限), in working days from acceptance.
    pub limit_days: u32,
    pub materials: Vec<Material>,
    /// 收费: "不收费" or the fee and its basis.
    pub fees: String,
    pub channels: Vec<ServiceChannel>,
    /// Where to go (办理地点) and when.
    pub place: String,
    /// 设定依据: the law or regulation.
    pub basis: String,
    pub active: bool,
}

impl ServiceItem {
    /// Problems with the item, each (field, problem).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let code_ok = !self.code.is_empty()
            && self.code.len() <= 32
            && self
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !code_ok {
            out.push((
                "code".to_owned(),
                "1 to 32 letters, digits, - or _".to_owned(),
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 80 {
            out.push(("name".to_owned(), "1 to 80 characters".to_owned()));
        }
        if self.unit.trim().is_empty() {
            out.push(("unit".to_owned(), "the handling unit's code".to_owned()));
        }
        if self.limit_days == 0 || self.limit_days > 365 {
            out.push(("limit_days".to_owned(), "1 to 365 working days".to_owned()));
        }
        if self.channels.is_empty() {
            out.push((
                "channels".to_owned(),
                "at least one of online, counter, proxy".to_owned(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in self.materials.iter().enumerate() {
            let ok = !m.code.is_empty()
                && m.code.len() <= 32
                && m.code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                out.push((
                    format!("materials[{i}].code"),
                    "1 to 32 letters, digits, - or _".to_owned(),
                ));
            }
            if !seen.insert(m.code.as_str()) {
                out.push((
                    format!("materials[{i}].code"),
                    format!("`{}` is listed twice", m.code),
                ));
            }
            // The catalogue's CSV writes the checklist as `*code:name|sample;…`.
            if m.name.trim().is_empty()
                || m.name.chars().count() > 80
                || m.name.contains([';', '|'])
            {
                out.push((
                    format!("materials[{i}].name"),
                    "1 to 80 characters, without ; or |".to_owned(),
                ));
            }
            if m.sample.chars().count() > 200 || m.sample.contains(';') {
                out.push((
                    format!("materials[{i}].sample"),
                    "at most 200 characters, without ;".to_owned(),
                ));
            }
        }
        for (field, text, max) in [
            ("fees", &self.fees, 200),
            ("place", &self.place, 200),
            ("basis", &self.basis, 500),
        ] {
            if text.chars().count() > max {
                out.push((field.to_owned(), format!("at most {max} characters")));
            }
        }
        out
    }

    /// The required materials not among `provided` (material codes), in checklist order.
    pub fn missing<'a>(&'a self, provided: &[String]) -> Vec<&'a Material> {
        self.materials
            .iter()
            .filter(|m| m.required && !provided.iter().any(|p| p == &m.code))
            .collect()
    }
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Filed, awaiting the check of its materials.
    Submitted,
    /// Corrections requested (补正), awaiting the resident.
    Correcting,
    /// Accepted (受理): being processed to the time limit.
    Accepted,
    /// Done (办结), with its result.
    Done,
    /// Not accepted (不予受理), with the reason.
    Declined,
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 5] = [
        ApplicationStatus::Submitted,
        ApplicationStatus::Correcting,
        ApplicationStatus::Accepted,
        ApplicationStatus::Done,
        ApplicationStatus::Declined,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Correcting => "correcting",
            ApplicationStatus::Accepted => "accepted",
            ApplicationStatus::Done => "done",
            ApplicationStatus::Declined => "declined",
        }
    }
    pub fn parse(s: &str) -> Option<ApplicationStatus> {
        ApplicationStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
    pub fn is_closed(self) -> bool {
        matches!(self, ApplicationStatus::Done | ApplicationStatus::Declined)
    }
}

/// The resident's evaluation (好差评): the first three levels are 好评.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    VerySatisfied,
    Satisfied,
    Basic,
    Dissatisfied,
    VeryDissatisfied,
}

impl Rating {
    pub const ALL: [Rating; 5] = [
        Rating::VerySatisfied,
        Rating::Satisfied,
        Rating::Basic,
        Rating::Dissatisfied,
        Rating::VeryDissatisfied,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::VerySatisfied => "very_satisfied",
            Rating::Satisfied => "satisfied",
            Rating::Basic => "basic",
            Rating::Dissatisfied => "dissatisfied",
            Rating::VeryDissatisfied => "very_dissatisfied",
        }
    }
    pub fn parse(s: &str) -> Option<Rating> {
        Rating::ALL.into_iter().find(|x| x.as_str() == s)
    }
    pub fn is_good(self) -> bool {
        matches!(
            self,
            Rating::VerySatisfied | Rating::Satisfied | Rating::Basic
        )
    }
}

/// What happens to an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ApplicationAction {
    Submit,
    /// 一次性告知: every missing item, at once.
    RequestCorrections {
        items: Vec<String>,
    },
    /// The resident supplied the corrections.
    Resubmit,
    Accept,
    /// 不予受理.
    Decline {
        reason: String,
    },
    /// Handed to another unit for its part.
    Forward {
        unit: String,
    },
    Complete {
        approved: bool,
    },
    Evaluate {
        rating: Rating,
    },
}

impl ApplicationAction {
    pub fn name(&self) -> &'static str {
        match self {
            ApplicationAction::Submit => "submit",
            ApplicationAction::RequestCorrections { .. } => "request_corrections",
            ApplicationAction::Resubmit => "resubmit",
            ApplicationAction::Accept => "accept",
            ApplicationAction::Decline { .. } => "decline",
            ApplicationAction::Forward { .. } => "forward",
            ApplicationAction::Complete { .. } => "complete",
            ApplicationAction::Evaluate { .. } => "evaluate",
        }
    }
}

/// An application's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationState {
    pub status: ApplicationStatus,
    /// Requests for corrections made: 0 or 1.
    pub corrections: u32,
    /// The unit holding it.
    pub unit: String,
    pub approved: Option<bool>,
    pub rating: Option<Rating>,
}

/// The state after `action` (`state` is `None` before the application is submitted), given
/// the item and the materials now provided; or why the action does not apply.
pub fn apply_application(
    state: Option<&ApplicationState>,
    item: &ServiceItem,
    provided: &[String],
    action: &ApplicationAction,
) -> Result<ApplicationState, String> {
    use ApplicationAction as A;
    use ApplicationStatus as S;
    let Some(s) = state else {
        return match action {
            A::Submit if item.active => Ok(ApplicationState {
                status: S::Submitted,
                corrections: 0,
                unit: item.unit.clone(),
                approved: None,
                rating: None,
            }),
            A::Submit => Err(format!("{} is no longer offered", item.name)),
            _ => Err("an application is submitted first".into()),
        };
    };
    let mut n = s.clone();
    match action {
        A::Submit => return Err("the application was submitted already".into()),
        A::RequestCorrections { items } => {
            if s.status != S::Submitted {
                return Err("corrections are requested when the materials are checked".into());
            }
            if s.corrections > 0 {
                return Err(
                    "corrections were requested once already (一次性告知): accept or decline"
                        .into(),
                );
            }
            if items.is_empty() {
                return Err("name what is to be corrected".into());
            }
            let left_out: Vec<&str> = item
                .missing(provided)
                .into_iter()
                .filter(|m| !items.contains(&m.code))
                .map(|m| m.name.as_str())
                .collect();
            if !left_out.is_empty() {
                return Err(format!(
                    "name every missing item at once; also missing: {}",
                    left_out.join(", ")
                ));
            }
            n.status = S::Correcting;
            n.corrections += 1;
        }
        A::Resubmit => {
            if s.status != S::Correcting {
                return Err("only an application awaiting corrections is resubmitted".into());
            }
            n.status = S::Submitted;
        }
        A::Accept => {
            if s.status != S::Submitted {
                return Err("only a submitted application is accepted".into());
            }
            let missing: Vec<&str> = item
                .missing(provided)
                .into_iter()
                .map(|m| m.name.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(format!("materials missing: {}", missing.join(", ")));
            }
            n.status = S::Accepted;
        }
        A::Decline { reason } => {
            if s.status != S::Submitted {
                return Err("only a submitted application is declined".into());
            }
            if reason.trim().is_empty() {
                return Err("a refusal to accept gives the reason".into());
            }
            n.status = S::Declined;
        }
        A::Forward { unit } => {
            if s.status != S::Accepted {
                return Err("only an accepted application is forwarded".into());
            }
            if unit == &s.unit {
                return Err(format!("{unit} holds it already"));
            }
            n.unit = unit.clone();
        }
        A::Complete { approved } => {
            if s.status != S::Accepted {
                return Err("only an accepted application is completed".into());
            }
            n.status = S::Done;
            n.approved = Some(*approved);
        }
        A::Evaluate { rating } => {
            if !s.status.is_closed() {
                return Err("the result is evaluated once it is given".into());
            }
            if s.rating.is_some() {
                return Err("the application was evaluated already".into());
            }
            n.rating = Some(*rating);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
