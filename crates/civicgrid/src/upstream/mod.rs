//! The Open311 link to an upstream system (FixMyStreet's send_method): cases of some
//! categories in some regions are forwarded, once accepted, to the county's GeoReport v2
//! server with its API key; the upstream request id is recorded (in the link and as a
//! `forward` event of the case), failures are retried (5 minutes, then every 30, for about a
//! day) and listed with their error, and the upstream status is pulled back (`GET
//! requests` over the window since the oldest open link) as `upstream_update` events.
//!
//! The accept event is kept for the link by a trigger in the event's own transaction
//! (migration 0030/0031); a round of the `upstream` job settles the kept events into links,
//! sends the due links under a lease (one instance each), then pulls.

pub mod cli;
pub mod jobs;
pub mod rest;

use std::collections::BTreeMap;
use std::time::Duration;

use civicgrid_domain::case::{Action, Case};
use civicgrid_domain::notify::{AfterFailure, upstream_after_failure};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::RegionCode;
use civicgrid_store::{LinkOutcome, UpstreamLink, UpstreamRoute, UpstreamSystem};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::outbound::Request;

/// Links one round sends, at most.
const SEND_ROUND: u32 = 20;
/// How long one exchange with the upstream server may take.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The widest window `GET requests` takes (GeoReport v2 servers commonly allow 90 days).
const PULL_SPAN: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 90);
/// Requests per page when pulling.
const PAGE_SIZE: u32 = 100;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamReport {
    /// Accept events looked at, and links they made.
    pub events: usize,
    pub linked: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Status changes pulled back and recorded.
    pub updates: usize,
}

/// The route a case takes: the one for its category in the nearest region containing it.
pub fn route_for<'a>(
    routes: &'a [UpstreamRoute],
    category: &str,
    region: &RegionCode,
) -> Option<&'a UpstreamRoute> {
    region.self_and_ancestors().iter().find_map(|r| {
        routes
            .iter()
            .find(|x| x.category_code == category && x.region_code == r.as_str())
    })
}

impl App {
    /// Adds (or replaces) an upstream system; its API key is sealed under the data key.
    pub async fn add_upstream_system(
        &self,
        name: &str,
        base_url: &str,
        api_key: &str,
        jurisdiction_id: Option<&str>,
    ) -> AppResult<UpstreamSystem> {
        let mut problems = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            problems.push(("name".to_owned(), "1 to 40 characters".to_owned()));
        }
        let base_url = base_url.trim().trim_end_matches('/');
        if let Err(e) = crate::outbound::Target::parse(base_url) {
            problems.push(("url".to_owned(), e));
        }
        if api_key.trim().is_empty() {
            problems.push(("api_key".to_owned(), "is required".to_owned()));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let sealer = self.sealer.as_deref().ok_or_else(|| {
            AppError::Invalid(
                "an upstream API key is kept sealed: this deployment has no data key".into(),
            )
        })?;
        let system = UpstreamSystem {
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            jurisdiction_id: jurisdiction_id
                .map(str::trim)
                .filter(|j| !j.is_empty())
                .map(str::to_owned),
            api_key_sealed: sealer.seal_json(&system_owner(name), &api_key.trim())?,
            active: true,
            created_at: self.clock.now(),
        };
        self.repo.save_upstream_system(&system).await?;
        Ok(system)
    }

    /// Sends the cases of `category` in `region` (and the regions inside it) to `system`, as
    /// its `service_code` (ours when not given).
    pub async fn add_upstream_route(
        &self,
        system: &str,
        category: &str,
        region: &str,
        service_code: Option<&str>,
    ) -> AppResult<UpstreamRoute> {
        let reference = self.reference().await?;
        let mut problems = Vec::new();
        if !self
            .repo
            .upstream_systems()
            .await?
            .iter()
            .any(|s| s.name == system)
        {
            problems.push(("system".to_owned(), format!("no upstream system {system}")));
        }
        let known_category = category
            .parse()
            .ok()
            .and_then(|c| reference.category(&c))
            .is_some_and(|c| !c.code.is_major());
        if !known_category {
            problems.push((
                "category".to_owned(),
                format!("{category} is not a minor category of the catalogue"),
            ));
        }
        let regions = self.repo.regions().await?;
        if !regions.iter().any(|r| r.code.as_str() == region) {
            problems.push(("region".to_owned(), format!("no region {region}")));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let route = UpstreamRoute {
            system: system.to_owned(),
            category_code: category.to_owned(),
            region_code: region.to_owned(),
            service_code: service_code
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or(category)
                .to_owned(),
        };
        self.repo.save_upstream_route(&route).await?;
        Ok(route)
    }

    /// One round: kept accept events into links, the due links sent, the news pulled.
    pub async fn run_upstream(&self) -> AppResult<UpstreamReport> {
        let mut report = UpstreamReport::default();
        self.settle_forward_events(&mut report).await?;
        self.send_links(&mut report).await?;
        self.pull_upstream(&mut report).await?;
        Ok(report)
    }

    async fn settle_forward_events(&self, report: &mut UpstreamReport) -> AppResult<()> {
        let events = self.repo.waiting_forward_events(100).await?;
        if events.is_empty() {
            return Ok(());
        }
        let routes = self.repo.upstream_routes().await?;
        let active: Vec<String> = self
            .repo
            .upstream_systems()
            .await?
            .into_iter()
            .filter(|s| s.active)
            .map(|s| s.name)
            .collect();
        for (case_id, seq) in events {
            report.events += 1;
            let route = match self.repo.case(&case_id).await? {
                Some(case) => case
                    .category
                    .as_ref()
                    .and_then(|c| route_for(&routes, c.as_str(), &case.region))
                    .filter(|r| active.contains(&r.system)),
                None => None,
            };
            if route.is_some() {
                report.linked += 1;
            }
            self.repo
                .settle_forward_event(
                    (&case_id, seq),
                    route.map(|r| (r.system.as_str(), r.service_code.as_str())),
                    self.clock.now(),
                )
                .await?;
        }
        Ok(())
    }

    async fn send_links(&self, report: &mut UpstreamReport) -> AppResult<()> {
        let now = self.clock.now();
        let lease = self
            .jobs
            .lease
            .max(jiff::SignedDuration::try_from(TIMEOUT * 3).unwrap_or_default());
        let due = self
            .repo
            .claim_links(&self.jobs.instance, now, now + lease, SEND_ROUND)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let systems: BTreeMap<String, UpstreamSystem> = self
            .repo
            .upstream_systems()
            .await?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        for link in due {
            let sent = match systems.get(&link.system) {
                Some(system) => self.send_link(system, &link).await,
                None => Err((true, format!("no upstream system {}", link.system))),
            };
            let at = self.clock.now();
            let outcome = match sent {
                Ok(request_id) => LinkOutcome::Sent { request_id },
                Err((true, error)) => LinkOutcome::Failed { error },
                Err((false, error)) => match upstream_after_failure(link.attempts, at) {
                    AfterFailure::RetryAt(next) => LinkOutcome::Retry { at: next, error },
                    AfterFailure::GiveUp => LinkOutcome::Failed { error },
                },
            };
            if let LinkOutcome::Sent { request_id } = &outcome {
                // The audit trail of the case says where it went and under which number.
                self.record_upstream(
                    &link.case_id,
                    Action::Forward {
                        system: link.system.clone(),
                        request_id: request_id.clone(),
                    },
                )
                .await?;
            }
            let kept = self
                .repo
                .finish_link(&link.case_id, &self.jobs.instance, at, &outcome)
                .await?;
            match (kept, &outcome) {
                (false, _) => {}
                (true, LinkOutcome::Sent { .. }) => report.sent += 1,
                (true, LinkOutcome::Retry { error, .. }) => {
                    tracing::warn!(case = %link.case_id, system = %link.system, %error, "an upstream send failed; it is tried again");
                    report.retried += 1;
                }
                (true, LinkOutcome::Failed { error }) => {
                    tracing::warn!(case = %link.case_id, system = %link.system, %error, "an upstream send was given up");
                    report.failed += 1;
                }
            }
        }
        Ok(())
    }

    /// POSTs the case to the upstream server: its request id, or (permanent?, why).
    async fn send_link(
        &self,
        system: &UpstreamSystem,
        link: &UpstreamLink,
    ) -> Result<String, (bool, String)> {
        let case = self
            .repo
            .case(&link.case_id)
            .await
            .map_err(|e| (false, e.to_string()))?
            .ok_or_else(|| (true, "the case is gone".to_owned()))?;
        let api_key = self
            .upstream_key(system)
            .map_err(|e| (true, e.to_string()))?;
        let reference = self.reference().await.map_err(|e| (false, e.to_string()))?;
        let mut form: Vec<(String, String)> = vec![
            ("api_key".into(), api_key),
            ("service_code".into(), link.service_code.clone()),
            ("description".into(), case.description.clone()),
        ];
        if let Some(j) = &system.jurisdiction_id {
            form.push(("jurisdiction_id".into(), j.clone()));
        }
        if let Some((lon, lat)) = case.location {
            form.push(("lat".into(), lat.to_string()));
            form.push(("long".into(), lon.to_string()));
        }
        let address = case
            .address
            .clone()
            .or_else(|| case.grid.as_ref().map(|g| reference.place_name(g)));
        if let Some(a) = address {
            form.push(("address_string".into(), a));
        }
        for (k, v) in &case.attributes {
            form.push((format!("attribute[{k}]"), v.clone()));
        }
        let body = form
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    crate::notifications::sms::aliyun_encode(k),
                    crate::notifications::sms::aliyun_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::post(
            &format!("{}/requests.json", system.base_url),
            "application/x-www-form-urlencoded",
            body.into_bytes(),
        );
        let answer = self
            .outbound
            .send(request, TIMEOUT)
            .await
            .map_err(|e| (false, format!("{}: {e}", system.name)))?;
        let text = answer.excerpt();
        if answer.status >= 500 || answer.status == 429 {
            return Err((
                false,
                format!("{}: HTTP {}: {text}", system.name, answer.status),
            ));
        }
        if !answer.is_success() {
            // The server refused this request for what it is (a service code it does not
            // have, a key it does not know): trying again cannot help until someone acts.
            return Err((
                true,
                format!("{}: HTTP {}: {text}", system.name, answer.status),
            ));
        }
        let parsed: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| (false, format!("{}: not JSON: {text}", system.name)))?;
        let first = &parsed[0];
        first["service_request_id"]
            .as_str()
            .map(|id| id.to_owned())
            .or_else(|| first["token"].as_str().map(|t| format!("token:{t}")))
            .ok_or_else(|| {
                (
                    false,
                    format!("{}: no service_request_id in {text}", system.name),
                )
            })
    }

    /// Pulls the status of the sent links from each system over the window since the oldest.
    async fn pull_upstream(&self, report: &mut UpstreamReport) -> AppResult<()> {
        let links = self.repo.upstream_links("sent", 10_000).await?;
        if links.is_empty() {
            return Ok(());
        }
        let systems = self.repo.upstream_systems().await?;
        for system in systems.iter().filter(|s| s.active) {
            let mine: Vec<&UpstreamLink> =
                links.iter().filter(|l| l.system == system.name).collect();
            let Some(oldest) = mine.iter().filter_map(|l| l.sent_at).min() else {
                continue;
            };
            match self.pull_system(system, &mine, oldest).await {
                Ok(n) => report.updates += n,
                // The county being down is no reason to stop the round: the next one pulls.
                Err(AppError::Upstream(e)) => {
                    tracing::warn!(system = %system.name, error = %e, "pulling upstream statuses failed")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn pull_system(
        &self,
        system: &UpstreamSystem,
        links: &[&UpstreamLink],
        oldest: jiff::Timestamp,
    ) -> AppResult<usize> {
        let now = self.clock.now();
        // Requests are filed by the time the upstream took them, on its own clock: a day's
        // margin either side covers clocks that disagree.
        let margin = jiff::SignedDuration::from_hours(24);
        let end = now + margin;
        let start = (oldest - margin).max(end - PULL_SPAN);
        let by_id: BTreeMap<&str, &UpstreamLink> = links
            .iter()
            .filter_map(|l| l.request_id.as_deref().map(|id| (id, *l)))
            .collect();
        let mut updates = 0;
        for page in 1..=100u32 {
            let url = format!(
                "{}/requests.json?start_date={}&end_date={}&page={page}&page_size={PAGE_SIZE}{}",
                system.base_url,
                crate::notifications::sms::aliyun_encode(
                    &start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
                ),
                crate::notifications::sms::aliyun_encode(
                    &end.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
                ),
                system
                    .jurisdiction_id
                    .as_ref()
                    .map(|j| format!(
                        "&jurisdiction_id={}",
                        crate::notifications::sms::aliyun_encode(j)
                    ))
                    .unwrap_or_default()
            );
            let answer = self
                .outbound
                .send(Request::get(&url), TIMEOUT)
                .await
                .map_err(|e| AppError::Upstream(format!("{}: {e}", system.name)))?;
            if !answer.is_success() {
                return Err(AppError::Upstream(format!(
                    "{}: HTTP {}: {}",
                    system.name,
                    answer.status,
                    answer.excerpt()
                )));
            }
            let requests: Vec<serde_json::Value> = serde_json::from_slice(&answer.body)
                .map_err(|_| AppError::Upstream(format!("{}: not a JSON list", system.name)))?;
            for r in &requests {
                let Some(id) = r["service_request_id"].as_str() else {
                    continue;
                };
                let Some(link) = by_id.get(id) else {
                    continue;
                };
                let status = r["status"].as_str().unwrap_or_default().to_owned();
                let updated = r["updated_datetime"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if status.is_empty()
                    || (link.upstream_status.as_deref() == Some(status.as_str())
                        && link.upstream_updated.as_deref() == Some(updated.as_str()))
                {
                    continue;
                }
                let note = r["status_notes"].as_str().unwrap_or_default().to_owned();
                self.record_upstream(
                    &link.case_id,
                    Action::UpstreamUpdate {
                        system: system.name.clone(),
                        request_id: id.to_owned(),
                        status: status.clone(),
                        note,
                    },
                )
                .await?;
                self.repo
                    .note_upstream_status(&link.case_id, &status, &updated)
                    .await?;
                updates += 1;
            }
            if requests.len() < PAGE_SIZE as usize {
                break;
            }
        }
        Ok(updates)
    }

    /// Records an upstream event on the case, as the platform.
    async fn record_upstream(&self, case: &uuid::Uuid, action: Action) -> AppResult<Case> {
        for _ in 0..3 {
            let current = self.get_case(case).await?;
            match self
                .act_on_case(case, current.state.version, action.clone(), &Actor::System)
                .await
            {
                Err(AppError::Stale { .. }) => continue,
                other => return other,
            }
        }
        Err(AppError::Conflict(format!("case {case} keeps changing")))
    }

    /// The links in a status (all when empty), newest first, for those who keep the data
    /// exchange (notification.manage) and the command line.
    pub async fn upstream_links(
        &self,
        actor: &Actor,
        status: &str,
    ) -> AppResult<Vec<UpstreamLink>> {
        self.may_manage_notifications(actor).await?;
        if !matches!(status, "" | "pending" | "sent" | "failed") {
            return Err(AppError::Unprocessable(vec![(
                "status".to_owned(),
                format!("`{status}` is not one of pending, sent, failed"),
            )]));
        }
        Ok(self.repo.upstream_links(status, 1000).await?)
    }

    /// A failed link goes again.
    pub async fn retry_upstream_link(&self, actor: &Actor, case: &uuid::Uuid) -> AppResult<()> {
        self.may_manage_notifications(actor).await?;
        if self.repo.retry_link(case, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!(
                "no failed upstream link for case {case}"
            )))
        }
    }

    fn upstream_key(&self, system: &UpstreamSystem) -> AppResult<String> {
        let sealer = self
            .sealer
            .as_deref()
            .ok_or_else(|| AppError::Invalid("no data key to open the upstream API key".into()))?;
        sealer.open_json(&system_owner(&system.name), &system.api_key_sealed)
    }
}

/// The id a system's sealed key is bound to (derived from its name, so a key sealed for one
/// system does not open as another's).
fn system_owner(name: &str) -> uuid::Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("civicgrid:upstream:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_region_with_a_route_for_the_category_wins() {
        let route = |cat: &str, region: &str, system: &str| UpstreamRoute {
            system: system.into(),
            category_code: cat.into(),
            region_code: region.into(),
            service_code: cat.into(),
        };
        let routes = vec![
            route("05001", "440305", "county"),
            route("05001", "440305002", "street-desk"),
            route("01001", "440305", "county"),
        ];
        let community: RegionCode = "440305002001".parse().expect("region");
        let other_street: RegionCode = "440305003".parse().expect("region");
        assert_eq!(
            route_for(&routes, "05001", &community).map(|r| r.system.as_str()),
            Some("street-desk")
        );
        assert_eq!(
            route_for(&routes, "05001", &other_street).map(|r| r.system.as_str()),
            Some("county")
        );
        assert_eq!(route_for(&routes, "02008", &community), None);
    }
}
