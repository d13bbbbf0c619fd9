//! The delivery worker: one per mailroom process, polling the outbox for due deliveries.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use mailroom_model::{
    ApplicationId, WebhookId,
    time::unix_now,
    v3::{TriggerType, UnknownTriggerType},
};
use mailroom_net::{OutboundPolicy, SIGNATURE_HEADER, WebhookUrl, webhook_post, webhook_signature};
use mailroom_store::{DueDelivery, Store};
use serde_json::{Value, json};
use tokio::{
    sync::{Notify, Semaphore},
    time::Instant,
};

use crate::{
    delivery_metrics::{DeliveryOutcome, delivery_recorded},
    payload::notification_body,
};

/// Reads the object a notification reports, as it is when the notification goes out.
pub trait ObjectRenderer: Send + Sync {
    /// `None` when the object is gone; the notification then carries its id only.
    /// What cannot be read by `body_by` (a message body still on the mail server) is
    /// left out, and said so in [`RenderedObject::body_left_out`].
    fn render<'a>(
        &'a self,
        grant_id: &'a str,
        trigger: &'a str,
        object_id: &'a str,
        body_by: Instant,
    ) -> Pin<Box<dyn Future<Output = Option<RenderedObject>> + Send + 'a>>;
}

/// An object as a notification carries it.
#[derive(Debug, Clone)]
pub struct RenderedObject {
    pub object: Value,
    /// The body could not be read in time: the notification goes out without it, as
    /// `<trigger>.truncated` (docs/API.md §6.3).
    pub body_left_out: bool,
}

impl RenderedObject {
    pub fn whole(object: Value) -> Self {
        Self {
            object,
            body_left_out: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// How often the outbox is looked at when idle.
    pub poll: Duration,
    /// How long one delivery may take, building its payload (which may read a body
    /// from the mail server, for at most half of it) and the receiver's answer together.
    pub request_timeout: Duration,
    /// The first retry waits this long; each next one twice as long, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// A notification not delivered by then is given up and its webhook marked failed.
    pub give_up_after: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Deliveries of one application in flight at once (in this process), so that one
    /// application's slow receivers or mail servers leave the other slots to the rest.
    pub per_application: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            // An indexed lookup of due rows: cheap enough to keep delivery prompt.
            poll: Duration::from_millis(50),
            request_timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(72 * 3600),
            concurrency: 16,
            per_application: 4,
        }
    }
}

/// How much of a receiver's answer is read (it is not used beyond its status).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
const DUE_PER_ROUND: i64 = 256;
/// A lease outlasts the delivery's own deadline by this much.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Past its deadline, an attempt still waiting on the store is cut off after this.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);
/// The receiver always gets at least this long to answer, however long rendering took.
const MIN_ANSWER_TIME: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Deliverer {
    pub store: Store,
    pub policy: OutboundPolicy,
    pub renderer: Arc<dyn ObjectRenderer>,
    pub settings: DeliverySettings,
}

impl Deliverer {
    /// Runs forever. A slot is taken before a delivery is claimed, so a claimed delivery
    /// starts at once and its lease covers the whole attempt; an application with
    /// `per_application` deliveries in flight is left out of the next look at the outbox.
    /// The outbox is looked at every `poll`, and again as soon as a delivery ends: an
    /// application's backlog goes out as fast as its receiver answers, not
    /// `per_application` deliveries a `poll`.
    pub async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let finished = Arc::new(Notify::new());
        let in_flight = InFlight::default();
        let per_application = self.settings.per_application.max(1);
        let lease = i64::try_from((self.settings.request_timeout + LEASE_MARGIN).as_secs())
            .unwrap_or(i64::MAX);
        loop {
            if slots.available_permits() > 0 {
                let busy = in_flight.at_cap(per_application);
                match self
                    .store
                    .due_deliveries_except(unix_now(), DUE_PER_ROUND, &busy)
                    .await
                {
                    Ok(due) => {
                        for delivery in due {
                            let Ok(slot) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let Some(taken) =
                                in_flight.take(&delivery.application_id, per_application)
                            else {
                                continue;
                            };
                            match self.store.claim_delivery(&delivery, lease).await {
                                Ok(true) => {}
                                Ok(false) => continue,
                                Err(e) => {
                                    tracing::warn!(error = %e, "webhooks: could not claim a delivery");
                                    continue;
                                }
                            }
                            let (worker, finished) = (self.clone(), finished.clone());
                            tokio::spawn(async move {
                                worker.deliver(delivery).await;
                                drop((slot, taken));
                                finished.notify_one();
                            });
                        }
                    }
                    // The process is shutting down.
                    Err(_) if self.store.is_closed() => return,
                    Err(e) => tracing::warn!(error = %e, "webhooks: could not read the outbox"),
                }
            } else if self.store.is_closed() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = finished.notified() => {}
            }
        }
    }

    async fn deliver(&self, delivery: DueDelivery) {
        let deadline = Instant::now() + self.settings.request_timeout;
        // The attempt bounds its own parts; this is the backstop for the store calls.
        let outcome =
            tokio::time::timeout_at(deadline + DEADLINE_GRACE, self.attempt(&delivery, deadline))
                .await
                .unwrap_or_else(|_| Err("the delivery ran out of time".to_owned()));
        let (recorded, counted) = match outcome {
            Ok(()) => (
                self.store.delivery_succeeded(&delivery).await,
                DeliveryOutcome::Delivered,
            ),
            Err(reason) => {
                let retry_at = self.retry_at(&delivery);
                let counted = match retry_at {
                    Some(_) => DeliveryOutcome::Retrying,
                    None => DeliveryOutcome::Abandoned,
                };
                tracing::info!(
                    webhook_id = %delivery.webhook_id,
                    notification_id = %delivery.notification_id,
                    attempt = delivery.attempts + 1,
                    retry_at,
                    %reason,
                    "webhook delivery failed"
                );
                let recorded = self
                    .store
                    .delivery_failed(&delivery, retry_at, &reason)
                    .await;
                (recorded, counted)
            }
        };
        delivery_recorded(counted);
        if let Err(e) = recorded {
            // The lease runs out and the delivery is tried again: at least once.
            tracing::warn!(error = %e, "webhooks: could not record a delivery's outcome");
        }
    }

    /// When to try again, or `None` once the notification is too old.
    fn retry_at(&self, delivery: &DueDelivery) -> Option<i64> {
        let now = unix_now();
        if now - delivery.created_at > self.settings.give_up_after.as_secs() as i64 {
            return None;
        }
        let doublings = u32::try_from(delivery.attempts).unwrap_or(u32::MAX).min(20);
        let wait = self
            .settings
            .retry_base
            .saturating_mul(1 << doublings)
            .min(self.settings.retry_max);
        Some(now + wait.as_secs().max(1) as i64)
    }

    async fn attempt(&self, delivery: &DueDelivery, deadline: Instant) -> Result<(), String> {
        let webhook_id = WebhookId::from_stored(delivery.webhook_id.clone());
        let application_id = ApplicationId::from_stored(delivery.application_id.clone());
        let webhook = self
            .store
            .webhook(&application_id, &webhook_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the webhook is gone")?;
        let secret = self
            .store
            .webhook_secret(&webhook_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the webhook is gone")?;
        let url = WebhookUrl::parse(&webhook.webhook_url).map_err(|e| e.to_string())?;
        let trigger: TriggerType = delivery
            .trigger_type
            .parse()
            .map_err(|e: UnknownTriggerType| e.to_string())?;
        let now = Instant::now();
        let body_by = now + deadline.saturating_duration_since(now) / 2;
        let rendered = self.object(delivery, body_by).await;
        let body = notification_body(
            &delivery.notification_id,
            trigger,
            delivery.created_at,
            u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX),
            &delivery.application_id,
            rendered.object,
            rendered.body_left_out,
        );
        let signature = webhook_signature(&secret, &body);
        let reply = webhook_post(
            &self.policy,
            &url,
            &[
                ("content-type", "application/json"),
                (SIGNATURE_HEADER, signature.as_str()),
            ],
            bytes::Bytes::from(body),
            deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_ANSWER_TIME),
            MAX_ANSWER_BYTES,
        )
        .await
        .map_err(|e| e.to_string())?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", reply.status))
        }
    }

    /// The object to carry: as recorded with the notification, or read now. Reading
    /// gets until `body_by` for a body and a little more for the rest; past that the
    /// notification carries the object's id only, and goes out anyway.
    async fn object(&self, delivery: &DueDelivery, body_by: Instant) -> RenderedObject {
        if let Some(recorded) = delivery
            .object_json
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
        {
            return RenderedObject::whole(recorded);
        }
        let (grant_id, object_id) = (
            delivery.grant_id.as_deref().unwrap_or_default(),
            delivery.object_id.as_deref().unwrap_or_default(),
        );
        let rendered = tokio::time::timeout_at(
            body_by + DEADLINE_GRACE,
            self.renderer
                .render(grant_id, &delivery.trigger_type, object_id, body_by),
        )
        .await;
        let timed_out = match rendered {
            Ok(Some(rendered)) => return rendered,
            Ok(None) => false,
            Err(_) => true,
        };
        let kind = delivery
            .trigger_type
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        RenderedObject {
            body_left_out: timed_out && kind == "message",
            object: json!({"id": object_id, "grant_id": grant_id, "object": kind}),
        }
    }
}

/// Deliveries in flight per application, in this process.
#[derive(Default, Clone)]
struct InFlight(Arc<Mutex<HashMap<String, usize>>>);

impl InFlight {
    /// Counts one more delivery of `application`, unless it has `cap` already; the
    /// count goes down when the returned guard is dropped.
    fn take(&self, application: &str, cap: usize) -> Option<InFlightGuard> {
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(application.to_owned()).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(InFlightGuard {
            counts: self.clone(),
            application: application.to_owned(),
        })
    }

    /// Applications with `cap` deliveries in flight.
    fn at_cap(&self, cap: usize) -> Vec<String> {
        let counts = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .iter()
            .filter(|(_, n)| **n >= cap)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

struct InFlightGuard {
    counts: InFlight,
    application: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.application) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.application);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_application_gets_no_more_than_its_share() {
        let in_flight = InFlight::default();
        let first = in_flight.take("a", 2);
        let second = in_flight.take("a", 2);
        assert!(first.is_some() && second.is_some());
        assert!(in_flight.take("a", 2).is_none());
        assert!(in_flight.take("b", 2).is_some());
        assert_eq!(in_flight.at_cap(2), vec!["a".to_owned()]);
        drop(first);
        assert!(in_flight.at_cap(2).is_empty());
        assert!(in_flight.take("a", 2).is_some());
    }
}
