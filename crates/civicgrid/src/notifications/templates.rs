//! The message templates: the shipped ones (`defaults/LANGUAGE.toml`, compiled in), each
//! replaceable per topic and language from the administration page. A template is checked
//! against its topic's variables when it is saved, so a message never meets an unknown one.

use std::collections::BTreeMap;

use civicgrid_domain::notification::{Template, Topic};
use civicgrid_domain::policy::Actor;
use civicgrid_store::TemplateRecord;
use serde::Serialize;

use crate::App;
use crate::error::{AppError, AppResult};

/// The languages messages are written in.
pub const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// The shipped templates of a language.
fn shipped(language: &str) -> AppResult<BTreeMap<String, Template>> {
    let text = match language {
        "zh-CN" => include_str!("defaults/zh-CN.toml"),
        "en" => include_str!("defaults/en.toml"),
        other => {
            return Err(AppError::NotFound(format!(
                "no messages in language {other}"
            )));
        }
    };
    toml::from_str(text)
        .map_err(|e| AppError::Invalid(format!("shipped templates {language}: {e}")))
}

/// The shipped template of a topic in a language.
pub fn default_template(topic: Topic, language: &str) -> AppResult<Template> {
    shipped(language)?.remove(topic.as_str()).ok_or_else(|| {
        AppError::Invalid(format!(
            "no shipped template {} in {language}",
            topic.as_str()
        ))
    })
}

/// A template as the administration page lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub topic: String,
    pub language: String,
    /// Who it is for: `reporter`, `units` or `grid_workers`.
    pub audience: String,
    pub urgent: bool,
    pub subject: String,
    pub body: String,
    pub sms: String,
    /// The variables it may use, as `{{name}}`.
    pub variables: Vec<String>,
    /// Changed from the shipped one (by whom and when).
    pub changed_by: Option<String>,
    #[schema(value_type = Option<String>)]
    pub changed_at: Option<jiff::Timestamp>,
}

/// A template filled in with a real case, to see before saving.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub subject: String,
    pub body: String,
    pub sms: String,
    /// The case it was filled in with (its public number), if there was one.
    pub case: Option<String>,
}

impl App {
    /// The template in force for a topic and language: the saved one, else the shipped one.
    pub async fn notification_template(&self, topic: Topic, language: &str) -> AppResult<Template> {
        let saved = self.repo.notification_templates().await?;
        Ok(in_force(&saved, topic, language)?.0)
    }

    /// Every topic's template in every language.
    pub async fn notification_templates(&self, actor: &Actor) -> AppResult<Vec<TemplateView>> {
        self.may_manage_notifications(actor).await?;
        let saved = self.repo.notification_templates().await?;
        let mut out = Vec::new();
        for topic in Topic::ALL {
            for language in LANGUAGES {
                let (template, changed) = in_force(&saved, topic, language)?;
                out.push(view(topic, language, template, changed));
            }
        }
        Ok(out)
    }

    /// Saves a topic's template in a language, after checking its variables.
    pub async fn save_notification_template(
        &self,
        actor: &Actor,
        topic: &str,
        language: &str,
        template: Template,
    ) -> AppResult<TemplateView> {
        self.may_manage_notifications(actor).await?;
        let (topic, language) = topic_and_language(topic, language)?;
        let problems = template.problems(topic);
        if !problems.is_empty() {
            return Err(crate::cases::invalid(problems));
        }
        let record = TemplateRecord {
            topic: topic.as_str().to_owned(),
            language: language.to_owned(),
            subject: template.subject.clone(),
            body: template.body.clone(),
            sms: template.sms.clone(),
            updated_by: actor.name().to_owned(),
            updated_at: self.clock.now(),
        };
        self.repo.save_notification_template(&record).await?;
        Ok(view(topic, language, template, Some(&record)))
    }

    /// Goes back to the shipped template.
    pub async fn reset_notification_template(
        &self,
        actor: &Actor,
        topic: &str,
        language: &str,
    ) -> AppResult<TemplateView> {
        self.may_manage_notifications(actor).await?;
        let (topic, language) = topic_and_language(topic, language)?;
        self.repo
            .reset_notification_template(topic.as_str(), language)
            .await?;
        Ok(view(
            topic,
            language,
            default_template(topic, language)?,
            None,
        ))
    }

    /// A template (saved or not) filled in with the newest case that such a message could be
    /// about, so the administrator sees what recipients will read. The reporter's links are
    /// shown with a placeholder token: a preview grants nothing.
    pub async fn preview_notification_template(
        &self,
        actor: &Actor,
        topic: &str,
        language: &str,
        template: Template,
    ) -> AppResult<Preview> {
        self.may_manage_notifications(actor).await?;
        let (topic, language) = topic_and_language(topic, language)?;
        let problems = template.problems(topic);
        if !problems.is_empty() {
            return Err(crate::cases::invalid(problems));
        }
        let reference = self.reference().await?;
        if topic == Topic::MeetingSummons {
            return self.preview_summons(&template, &reference).await;
        }
        if topic == Topic::EmergencyNotice {
            return self.preview_notice(&template, &reference).await;
        }
        if topic == Topic::SitrepDue {
            return self.preview_sitrep_due(&template, &reference).await;
        }
        // The newest case such a message could be about (a closed one for "closed", …),
        // else the newest case at all.
        use civicgrid_domain::case::Status;
        let fitting = match topic {
            Topic::MeetingSummons | Topic::EmergencyNotice | Topic::SitrepDue => vec![],
            Topic::CaseAccepted => vec![Status::Accepted, Status::Registered],
            Topic::CaseClosed => vec![Status::Closed, Status::Evaluated],
            Topic::CaseReopened | Topic::CaseYellow | Topic::CaseRed => vec![Status::Handling],
            Topic::CaseDispatched | Topic::WhistleCall => {
                vec![Status::Dispatched, Status::Handling]
            }
            Topic::CaseToVerify => vec![Status::ReportedBack],
        };
        // Of the newest few, one with a category and a running clock fills in the most.
        let mut cases = self
            .repo
            .cases(&civicgrid_store::CaseFilter {
                statuses: fitting,
                limit: 20,
                ..Default::default()
            })
            .await?;
        let fills = |c: &civicgrid_domain::case::Case| {
            2 * usize::from(c.category.is_some()) + usize::from(c.clock.is_some())
        };
        if let Some(best) = cases.iter().map(fills).max()
            && let Some(i) = cases.iter().position(|c| fills(c) == best)
        {
            cases.swap(0, i);
        }
        if cases.is_empty() {
            cases = self
                .repo
                .cases(&civicgrid_store::CaseFilter {
                    limit: 1,
                    ..Default::default()
                })
                .await?;
        }
        let (mut values, case) = match cases.into_iter().next() {
            Some(case) => {
                let events = self.repo.case_events(&case.id).await?;
                let event = events
                    .last()
                    .cloned()
                    .ok_or_else(|| AppError::Invalid("the newest case has no events".into()))?;
                (
                    self.case_values(&case, &event, &reference, language),
                    Some(case),
                )
            }
            None => (BTreeMap::new(), None),
        };
        let base = self.notifier.public_url.trim_end_matches('/');
        if let Some(case) = &case {
            let receipt = case.receipt_code.clone();
            values.insert("receipt", receipt.clone());
            values.insert("track_link", format!("{base}/track/{receipt}"));
            values.insert(
                "evaluation_link",
                format!("{base}/track/{receipt}?key=…#evaluate"),
            );
            values.insert(
                "unsubscribe_link",
                format!("{base}/notifications/unsubscribe/…"),
            );
            if let Some(unit) = case.state.units.first() {
                let name = reference
                    .units
                    .iter()
                    .find(|u| &u.code == unit)
                    .map_or_else(|| unit.clone(), |u| u.name.clone());
                values.insert("unit", name);
            }
        }
        let fill = |text: &str| {
            civicgrid_domain::notification::render(text, &values)
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        Ok(Preview {
            subject: fill(&template.subject)?,
            body: fill(&template.body)?,
            sms: fill(&template.sms)?,
            case: case.map(|c| c.public_id),
        })
    }
}

impl App {
    /// An urgent notice filled in with the newest one sent.
    async fn preview_notice(
        &self,
        template: &Template,
        reference: &crate::reference::Reference,
    ) -> AppResult<Preview> {
        let mut values = BTreeMap::new();
        let mut shown = None;
        if let Some(n) = self.repo.grid_notices(1).await?.into_iter().next() {
            let grids: Vec<String> = n
                .grids
                .iter()
                .filter_map(|g| g.parse().ok())
                .map(|g| reference.place_name(&g))
                .collect();
            let issued_by = self
                .repo
                .user(&n.issued_by)
                .await?
                .map_or_else(|| n.issued_by.clone(), |u| u.display_name);
            values = BTreeMap::from([
                ("title", n.title.clone()),
                ("text", n.text.clone()),
                ("issued_by", issued_by),
                (
                    "at",
                    n.issued_at
                        .to_zoned(reference.calendar.time_zone().clone())
                        .strftime("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                ("grid", grids.join("、")),
            ]);
            shown = Some(n.title);
        }
        let fill = |text: &str| {
            civicgrid_domain::notification::render(text, &values)
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        Ok(Preview {
            subject: fill(&template.subject)?,
            body: fill(&template.body)?,
            sms: fill(&template.sms)?,
            case: shown,
        })
    }

    /// A situation-report reminder filled in with the newest incident.
    async fn preview_sitrep_due(
        &self,
        template: &Template,
        reference: &crate::reference::Reference,
    ) -> AppResult<Preview> {
        let mut values = BTreeMap::new();
        let mut shown = None;
        if let Some(i) = self.repo.incidents(1).await?.into_iter().next() {
            values = self.sitrep_due_values(&i, 1, reference);
            shown = Some(i.title);
        }
        let fill = |text: &str| {
            civicgrid_domain::notification::render(text, &values)
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        Ok(Preview {
            subject: fill(&template.subject)?,
            body: fill(&template.body)?,
            sms: fill(&template.sms)?,
            case: shown,
        })
    }

    /// A summons filled in with the newest meeting and its first invited unit.
    async fn preview_summons(
        &self,
        template: &Template,
        reference: &crate::reference::Reference,
    ) -> AppResult<Preview> {
        let mut values = BTreeMap::new();
        let mut shown = None;
        if let Some(top) = &reference.top_region
            && let Some(meeting) = self.repo.meetings(top, 1).await?.into_iter().next()
        {
            let invitees = self.repo.invitees(&meeting.id).await?;
            let unit = invitees
                .iter()
                .find(|i| i.kind == civicgrid_domain::consultation::InviteeKind::Unit);
            values = self
                .meeting_values(
                    &meeting,
                    unit.map_or("…", |u| u.name.as_str()),
                    unit.map_or(meeting.starts_at, |u| u.answer_due),
                    reference,
                )
                .await?;
            shown = Some(meeting.public_id);
        }
        let fill = |text: &str| {
            civicgrid_domain::notification::render(text, &values)
                .map_err(|e| AppError::Invalid(e.to_string()))
        };
        Ok(Preview {
            subject: fill(&template.subject)?,
            body: fill(&template.body)?,
            sms: fill(&template.sms)?,
            case: shown,
        })
    }
}

/// The template in force among the saved ones (and the saved record), else the shipped one.
fn in_force<'a>(
    saved: &'a [TemplateRecord],
    topic: Topic,
    language: &str,
) -> AppResult<(Template, Option<&'a TemplateRecord>)> {
    match saved
        .iter()
        .find(|t| t.topic == topic.as_str() && t.language == language)
    {
        Some(t) => Ok((
            Template {
                subject: t.subject.clone(),
                body: t.body.clone(),
                sms: t.sms.clone(),
            },
            Some(t),
        )),
        None => Ok((default_template(topic, language)?, None)),
    }
}

fn topic_and_language<'a>(topic: &str, language: &'a str) -> AppResult<(Topic, &'a str)> {
    let topic = Topic::parse(topic)
        .ok_or_else(|| AppError::NotFound(format!("no message topic {topic}")))?;
    if !LANGUAGES.contains(&language) {
        return Err(AppError::NotFound(format!(
            "no messages in language {language} (there are {})",
            LANGUAGES.join(", ")
        )));
    }
    Ok((topic, language))
}

fn view(
    topic: Topic,
    language: &str,
    t: Template,
    changed: Option<&TemplateRecord>,
) -> TemplateView {
    TemplateView {
        topic: topic.as_str().to_owned(),
        language: language.to_owned(),
        audience: match topic.audience() {
            civicgrid_domain::notification::Audience::Reporter => "reporter",
            civicgrid_domain::notification::Audience::Units => "units",
            civicgrid_domain::notification::Audience::GridWorkers => "grid_workers",
            civicgrid_domain::notification::Audience::Commander => "commander",
        }
        .to_owned(),
        urgent: topic.is_urgent(),
        subject: t.subject,
        body: t.body,
        sms: t.sms,
        variables: topic
            .variables()
            .iter()
            .map(|v| format!("{{{{{v}}}}}"))
            .collect(),
        changed_by: changed.map(|c| c.updated_by.clone()),
        changed_at: changed.map(|c| c.updated_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped template exists in every language and passes the check its topic's
    /// variables make.
    #[test]
    fn every_shipped_template_is_complete_and_checks() {
        for language in LANGUAGES {
            let shipped = shipped(language).expect("parses");
            assert_eq!(shipped.len(), Topic::ALL.len(), "{language}");
            for topic in Topic::ALL {
                let t = shipped.get(topic.as_str()).expect("shipped");
                assert_eq!(t.problems(topic), vec![], "{language} {}", topic.as_str());
            }
        }
    }
}
