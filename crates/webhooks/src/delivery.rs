//! The delivery worker: one per mailroom process, polling the outbox for due deliveries.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use mailroom_model::{
    ApplicationId, WebhookId,
    time::unix_now,
    v3::{TriggerType, UnknownTriggerType},
};
use mailroom_net::{OutboundPolicy, SIGNATURE_HEADER, WebhookUrl, webhook_post, webhook_signature};
use mailroom_store::{DueDelivery, Store};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::payload::notification_body;

/// Reads the object a notification reports, as it is when the notification goes out.
pub trait ObjectRenderer: Send + Sync {
    /// `None` when the object is gone; the notification then carries its id only.
    fn render<'a>(
        &'a self,
        grant_id: &'a str,
        trigger: &'a str,
        object_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Value>> + Send + 'a>>;
}

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// How often the outbox is looked at when idle.
    pub poll: Duration,
    /// How long a receiver has to answer.
    pub request_timeout: Duration,
    /// The first retry waits this long; each next one twice as long, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// A notification not delivered by then is given up and its webhook marked failed.
    pub give_up_after: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
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
        }
    }
}

/// How much of a receiver's answer is read (it is not used beyond its status).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
const DUE_PER_ROUND: i64 = 256;

#[derive(Clone)]
pub struct Deliverer {
    pub store: Store,
    pub policy: OutboundPolicy,
    pub renderer: Arc<dyn ObjectRenderer>,
    pub settings: DeliverySettings,
}

impl Deliverer {
    /// Runs forever.
    pub async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let lease = (self.settings.request_timeout + Duration::from_secs(30)).as_secs() as i64;
        loop {
            match self.store.due_deliveries(unix_now(), DUE_PER_ROUND).await {
                Ok(due) => {
                    for delivery in due {
                        match self.store.claim_delivery(&delivery, lease).await {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => {
                                tracing::warn!(error = %e, "webhooks: could not claim a delivery");
                                continue;
                            }
                        }
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let worker = self.clone();
                        tokio::spawn(async move {
                            worker.deliver(delivery).await;
                            drop(slot);
                        });
                    }
                }
                // The process is shutting down.
                Err(_) if self.store.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "webhooks: could not read the outbox"),
            }
            tokio::time::sleep(self.settings.poll).await;
        }
    }

    async fn deliver(&self, delivery: DueDelivery) {
        let outcome = self.attempt(&delivery).await;
        let recorded = match outcome {
            Ok(()) => self.store.delivery_succeeded(&delivery).await,
            Err(reason) => {
                let retry_at = self.retry_at(&delivery);
                tracing::info!(
                    webhook_id = %delivery.webhook_id,
                    notification_id = %delivery.notification_id,
                    attempt = delivery.attempts + 1,
                    retry_at,
                    %reason,
                    "webhook delivery failed"
                );
                self.store
                    .delivery_failed(&delivery, retry_at, &reason)
                    .await
            }
        };
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

    async fn attempt(&self, delivery: &DueDelivery) -> Result<(), String> {
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
        let object = self.object(delivery).await;
        let body = notification_body(
            &delivery.notification_id,
            trigger,
            delivery.created_at,
            u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX),
            &delivery.application_id,
            object,
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
            self.settings.request_timeout,
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

    async fn object(&self, delivery: &DueDelivery) -> Value {
        if let Some(recorded) = delivery
            .object_json
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
        {
            return recorded;
        }
        let (grant_id, object_id) = (
            delivery.grant_id.as_deref().unwrap_or_default(),
            delivery.object_id.as_deref().unwrap_or_default(),
        );
        if let Some(rendered) = self
            .renderer
            .render(grant_id, &delivery.trigger_type, object_id)
            .await
        {
            return rendered;
        }
        let kind = delivery
            .trigger_type
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        json!({"id": object_id, "grant_id": grant_id, "object": kind})
    }
}
