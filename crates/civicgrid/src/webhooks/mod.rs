//! Outgoing webhooks: other systems subscribe to case events of a region (all of them, or
//! some actions), and the delivery job POSTs each event to them as a CloudEvent, signed as
//! Standard Webhooks specifies.
//!
//! The outbox is transactional: a database trigger writes one delivery row per matching
//! subscription together with the event (migration 0013), so no recorded event goes
//! unnotified. Instances lease due deliveries (`claim_deliveries`), so each is sent by one
//! instance at a time; if an instance dies mid-way its lease runs out and another sends it.
//! A receiver may therefore see an event twice (sent, then the sender died before recording
//! it), never zero times, and always with the same `webhook-id` and CloudEvent `id`, which is
//! how it recognises a repeat.

pub mod jobs;

pub mod cli;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use civicgrid_domain::notify::{AfterFailure, EventFilter, after_failure};
use civicgrid_store::{DeliveryCounts, DeliveryOutcome, DueDelivery, Webhook};
use hmac::{Hmac, Mac};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::App;
use crate::error::{AppError, AppResult};

/// Deliveries one round leases at most.
const ROUND_SIZE: u32 = 100;
/// A receiver that has not answered by then has failed this try.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    pub delivered: usize,
    /// Failed tries that will be tried again.
    pub retried: usize,
    /// Deliveries given up after their last try.
    pub failed: usize,
    /// Tries whose lease ran out before they ended (another instance has the delivery now).
    pub lost: usize,
}

/// `whsec_` and 32 random bytes in base64, as Standard Webhooks writes secrets.
fn new_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    format!("whsec_{}", BASE64.encode(key))
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret's bytes.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> AppResult<String> {
    let key = BASE64
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|e| AppError::Invalid(format!("a webhook secret is not base64: {e}")))?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|e| AppError::Invalid(format!("a webhook secret is unusable: {e}")))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// The event as a CloudEvent (structured JSON mode). Its `id` is the same on every try.
pub fn cloud_event(d: &DueDelivery) -> serde_json::Value {
    let e = &d.event;
    serde_json::json!({
        "specversion": "1.0",
        "id": format!("{}-{}", e.case_id, e.seq),
        "source": format!("/api/v1/cases/{}", e.case_id),
        "type": format!("org.civicgrid.case.{}", e.action),
        "subject": e.case_id.to_string(),
        "time": e.at.to_string(),
        "datacontenttype": "application/json",
        "data": {
            "case_id": e.case_id,
            "seq": e.seq,
            "action": e.action,
            "from_status": e.from.map(|s| s.as_str()),
            "to_status": e.to.as_str(),
            "region_code": d.region_code,
            "grid_code": d.grid_code,
            "category_code": d.category_code,
            "payload": e.payload,
        },
    })
}

impl App {
    /// Subscribes `url` to the events of a region subtree (every region if `None`), of the
    /// listed actions (every action if blank). Every problem is named by field; nothing is
    /// stored unless all is well. The answer holds the signing secret.
    pub async fn add_webhook(
        &self,
        url: &str,
        region: Option<&str>,
        events: &str,
        by: &str,
    ) -> AppResult<Webhook> {
        let mut problems = Vec::new();
        if let Err(e) = crate::outbound::Target::parse(url.trim()) {
            problems.push(("url".to_owned(), e));
        }
        let filter = EventFilter::parse(events).unwrap_or_else(|e| {
            problems.push(("events".to_owned(), e.to_string()));
            EventFilter::all()
        });
        let region = region.map(str::trim).unwrap_or_default().to_owned();
        if !region.is_empty() {
            let known = self.repo.regions().await?;
            if !known.iter().any(|r| r.code.as_str() == region) {
                problems.push(("region".to_owned(), format!("no region {region}")));
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let webhook = Webhook {
            id: self.ids.new_id(self.clock.now()),
            url: url.trim().to_owned(),
            secret: new_secret(),
            region,
            actions: filter.stored(),
            active: true,
            created_by: by.to_owned(),
            created_at: self.clock.now(),
        };
        self.repo.create_webhook(&webhook).await?;
        Ok(webhook)
    }

    pub async fn webhooks(&self) -> AppResult<Vec<(Webhook, DeliveryCounts)>> {
        Ok(self.repo.webhooks().await?)
    }

    /// Stops (or starts again) a subscription: events recorded while it is stopped are not
    /// queued for it; deliveries already queued still go out.
    pub async fn set_webhook_active(&self, id: &str, active: bool) -> AppResult<()> {
        let parsed = id
            .parse()
            .map_err(|_| AppError::NotFound(format!("webhook {id}")))?;
        if self.repo.set_webhook_active(&parsed, active).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("webhook {id}")))
        }
    }

    /// One delivery round: leases the due deliveries (up to `ROUND_SIZE`) for this instance,
    /// sends them at once, and records each outcome: delivered (any 2xx), or tried again
    /// later with a growing delay (`notify::retry_delay`), or given up after the last try.
    pub async fn deliver_notifications(&self) -> AppResult<DeliveryReport> {
        let now = self.clock.now();
        // A lease outlasts every send of the round, so no other instance takes a delivery
        // that is still being sent.
        let lease = self
            .jobs
            .lease
            .max(jiff::SignedDuration::try_from(SEND_TIMEOUT * 3).unwrap_or_default());
        let until = now
            .checked_add(lease)
            .map_err(|e| AppError::Invalid(format!("lease: {e}")))?;
        let due = self
            .repo
            .claim_deliveries(&self.jobs.instance, now, until, ROUND_SIZE)
            .await?;
        let mut sends = tokio::task::JoinSet::new();
        for d in due {
            let timestamp = now.as_second();
            let client = self.outbound.clone();
            sends.spawn(async move {
                let sent = send(&client, &d, timestamp).await;
                (d, sent)
            });
        }
        let mut report = DeliveryReport::default();
        while let Some(done) = sends.join_next().await {
            let Ok((d, sent)) = done else {
                continue; // A send that panicked keeps its lease; another round retries it.
            };
            let at = self.clock.now();
            let outcome = match sent {
                Ok(()) => DeliveryOutcome::Delivered,
                Err(error) => match after_failure(d.attempts, at) {
                    AfterFailure::RetryAt(next) => DeliveryOutcome::Retry { at: next, error },
                    AfterFailure::GiveUp => DeliveryOutcome::Failed { error },
                },
            };
            let kept = self
                .repo
                .finish_delivery(
                    &d.webhook_id,
                    (&d.event.case_id, d.event.seq),
                    &self.jobs.instance,
                    at,
                    &outcome,
                )
                .await?;
            match (kept, &outcome) {
                (false, _) => report.lost += 1,
                (true, DeliveryOutcome::Delivered) => report.delivered += 1,
                (true, DeliveryOutcome::Retry { .. }) => report.retried += 1,
                (true, DeliveryOutcome::Failed { .. }) => report.failed += 1,
            }
        }
        let stats = &self.jobs.stats;
        let add = |c: &std::sync::atomic::AtomicU64, n: usize| {
            c.fetch_add(n as u64, Ordering::Relaxed);
        };
        add(&stats.webhooks_delivered, report.delivered);
        add(&stats.webhooks_retried, report.retried);
        add(&stats.webhooks_failed, report.failed);
        Ok(report)
    }
}

/// POSTs one delivery (http or https); `Err` names why it failed (connection, TLS, timeout,
/// or the HTTP status).
async fn send(
    client: &crate::outbound::Outbound,
    d: &DueDelivery,
    timestamp: i64,
) -> Result<(), String> {
    let body = serde_json::to_vec(&cloud_event(d)).map_err(|e| e.to_string())?;
    let id = format!("{}-{}", d.event.case_id, d.event.seq);
    let signature = signature(&d.secret, &id, timestamp, &body).map_err(|e| e.to_string())?;
    let request =
        crate::outbound::Request::post(&d.url, "application/cloudevents+json; charset=utf-8", body)
            .header("webhook-id", id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
    let answer = client.send(request, SEND_TIMEOUT).await?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", answer.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signatures_follow_standard_webhooks() {
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .expect("signs");
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }
}
