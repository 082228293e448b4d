//! Urgent notices (紧急通知) from the street to the grid workers (and the grid party groups'
//! members with an account) of chosen grids: a typhoon
//! warning, an order to check every vulnerable household. The notice and its place in the
//! outbox are stored in one transaction; the notifier then writes one urgent message per
//! worker and channel (never held by quiet hours or the digest).

use std::collections::BTreeMap;

use civicgrid_domain::access::Permission;
use civicgrid_domain::notification::Topic;
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode};
use civicgrid_store::{GridNoticeRecord, NewMessage};
use serde::Serialize;
use uuid::Uuid;

use crate::App;
use crate::error::{AppError, AppResult};

/// A notice as REST shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GridNotice {
    pub id: Uuid,
    pub title: String,
    pub text: String,
    pub grids: Vec<String>,
    pub issued_by: String,
    #[schema(value_type = String)]
    pub issued_at: jiff::Timestamp,
}

impl From<GridNoticeRecord> for GridNotice {
    fn from(n: GridNoticeRecord) -> GridNotice {
        GridNotice {
            id: n.id,
            title: n.title,
            text: n.text,
            grids: n.grids,
            issued_by: n.issued_by,
            issued_at: n.issued_at,
        }
    }
}

impl App {
    /// Sends an urgent notice to the grid workers of `grids`; the actor needs notice.issue
    /// over every one of them. Every problem is named by field; nothing is stored unless all
    /// is well.
    pub async fn issue_grid_notice(
        &self,
        actor: &Actor,
        title: &str,
        text: &str,
        grids: &[String],
    ) -> AppResult<GridNotice> {
        let reference = self.reference().await?;
        let mut problems = Vec::new();
        let title = title.trim();
        let text = text.trim();
        if title.is_empty() || title.chars().count() > 60 {
            problems.push(("title".to_owned(), "1 to 60 characters".to_owned()));
        }
        if text.is_empty() || text.chars().count() > 500 {
            problems.push(("text".to_owned(), "1 to 500 characters".to_owned()));
        }
        if [title, text].iter().any(|t| t.contains('\0')) {
            problems.push(("text".to_owned(), "contains a NUL character".to_owned()));
        }
        let mut codes: Vec<GridCode> = Vec::new();
        let mut regions: Vec<RegionCode> = Vec::new();
        for g in grids {
            match g.trim().parse::<GridCode>() {
                Ok(code) => match reference.grid_regions.get(&code) {
                    Some(region) => {
                        regions.push(region.clone());
                        codes.push(code);
                    }
                    None => problems.push(("grids".to_owned(), format!("{g} is not a grid here"))),
                },
                Err(e) => problems.push(("grids".to_owned(), format!("`{g}`: {e}"))),
            }
        }
        codes.sort();
        codes.dedup();
        if grids.is_empty() {
            problems.push(("grids".to_owned(), "name at least one grid".to_owned()));
        } else if codes.len() > 2000 {
            problems.push(("grids".to_owned(), "at most 2000 grids".to_owned()));
        }
        if !problems.is_empty() {
            return Err(crate::cases::invalid(problems));
        }
        let policy = reference.policy();
        if let Some(outside) = regions
            .iter()
            .find(|r| !policy.holds_in(actor, Permission::NoticeIssue, r))
        {
            return Err(AppError::Forbidden(format!(
                "an urgent notice needs notice.issue over {outside}"
            )));
        }
        let region = RegionCode::smallest_common(&regions)
            .or_else(|| reference.top_region.clone())
            .ok_or_else(|| AppError::Invalid("the grids lie in different districts".into()))?;
        let now = self.clock.now();
        let record = GridNoticeRecord {
            id: self.ids.new_id(now),
            title: title.to_owned(),
            text: text.to_owned(),
            grids: codes.iter().map(|g| g.to_string()).collect(),
            region: region.to_string(),
            issued_by: actor.name().to_owned(),
            issued_at: now,
        };
        self.repo.issue_grid_notice(&record).await?;
        Ok(record.into())
    }

    /// The notices the actor may see (notice.issue over their region), newest first.
    pub async fn grid_notices(&self, actor: &Actor) -> AppResult<Vec<GridNotice>> {
        let reference = self.reference().await?;
        let policy = reference.policy();
        let mut out = Vec::new();
        for n in self.repo.grid_notices(200).await? {
            let visible = n
                .region
                .parse::<RegionCode>()
                .is_ok_and(|r| policy.holds_in(actor, Permission::NoticeIssue, &r));
            if visible {
                out.push(n.into());
            }
        }
        Ok(out)
    }

    /// The urgent messages of a notice: to each grid worker of its grids.
    pub(super) async fn notice_messages(&self, id: &Uuid) -> AppResult<Vec<NewMessage>> {
        let Some(sealer) = self.sealer.as_deref() else {
            return Ok(Vec::new());
        };
        let Some(notice) = self.repo.grid_notice(id).await? else {
            return Ok(Vec::new());
        };
        let reference = self.reference().await?;
        let grids: Vec<GridCode> = notice.grids.iter().filter_map(|g| g.parse().ok()).collect();
        let mut workers = self.grid_workers(&grids).await?;
        // The grids' members too: those of a grid branch or group with an account.
        let orgs: Vec<(String, GridCode)> = self
            .repo
            .organisations()
            .await?
            .into_iter()
            .filter_map(|o| o.grid.filter(|g| grids.contains(g)).map(|g| (o.code, g)))
            .collect();
        if !orgs.is_empty()
            && let Ok(region) = notice.region.parse::<RegionCode>()
        {
            for m in self.repo.members(&region).await? {
                let (Some(username), Some((_, grid))) = (
                    m.member.username,
                    orgs.iter().find(|(code, _)| *code == m.member.organisation),
                ) else {
                    continue;
                };
                match workers.iter_mut().find(|(w, _)| *w == username) {
                    Some((_, theirs)) if !theirs.contains(grid) => theirs.push(grid.clone()),
                    Some(_) => {}
                    None => workers.push((username, vec![grid.clone()])),
                }
            }
        }
        let topic = Topic::EmergencyNotice;
        let template = self
            .notification_template(topic, &self.notifier.language)
            .await?;
        let issued_by = self
            .repo
            .user(&notice.issued_by)
            .await?
            .map_or_else(|| notice.issued_by.clone(), |u| u.display_name);
        let at = notice
            .issued_at
            .to_zoned(reference.calendar.time_zone().clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string();
        let now = self.clock.now();
        let mut out = Vec::new();
        for (worker, theirs) in workers {
            let names: Vec<String> = theirs.iter().map(|g| reference.place_name(g)).collect();
            let values = BTreeMap::from([
                ("title", notice.title.clone()),
                ("text", notice.text.clone()),
                ("issued_by", issued_by.clone()),
                ("at", at.clone()),
                ("grid", names.join("、")),
            ]);
            for recipient in self
                .staff_recipients(sealer, vec![(worker, String::new())])
                .await?
            {
                self.push_messages(
                    sealer, topic, &template, &recipient, &values, &reference, now, &mut out,
                )?;
            }
        }
        Ok(out)
    }

    /// The reminder that situation report `number` of an incident is due: to its commander,
    /// urgent (an incident runs through the night).
    pub(super) async fn sitrep_reminder_messages(
        &self,
        incident: &Uuid,
        number: u64,
    ) -> AppResult<Vec<NewMessage>> {
        let Some(sealer) = self.sealer.as_deref() else {
            return Ok(Vec::new());
        };
        let Some(i) = self.repo.incident(incident).await? else {
            return Ok(Vec::new());
        };
        if i.status != "active" {
            return Ok(Vec::new());
        }
        let reference = self.reference().await?;
        let topic = Topic::SitrepDue;
        let template = self
            .notification_template(topic, &self.notifier.language)
            .await?;
        let values = self.sitrep_due_values(&i, number, &reference);
        let now = self.clock.now();
        let mut out = Vec::new();
        for recipient in self
            .staff_recipients(sealer, vec![(i.commander.clone(), String::new())])
            .await?
        {
            self.push_messages(
                sealer, topic, &template, &recipient, &values, &reference, now, &mut out,
            )?;
        }
        Ok(out)
    }

    /// What a situation-report reminder says: the incident, the report's number, when it is
    /// due, the board.
    pub(super) fn sitrep_due_values(
        &self,
        i: &civicgrid_store::IncidentRecord,
        number: u64,
        reference: &crate::reference::Reference,
    ) -> BTreeMap<&'static str, String> {
        let period = jiff::SignedDuration::from_mins(i64::from(i.period_minutes));
        let due = i
            .activated_at
            .unwrap_or(i.declared_at)
            .checked_add(period * i32::try_from(number).unwrap_or(i32::MAX))
            .unwrap_or(i.declared_at);
        let base = self.notifier.public_url.trim_end_matches('/');
        BTreeMap::from([
            ("incident", format!("{}（{}）", i.title, i.number)),
            ("number", number.to_string()),
            ("level", i.level.clone().unwrap_or_default()),
            (
                "due_at",
                due.to_zoned(reference.calendar.time_zone().clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string(),
            ),
            (
                "board_link",
                format!("{base}/emergency/incidents/{}", i.number),
            ),
        ])
    }
}
