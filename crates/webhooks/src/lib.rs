//! Webhook delivery. Changes record notifications in the store's outbox in their own
//! transactions; the [`Deliverer`] works through the due deliveries: it builds each
//! payload (CloudEvents-style, the object read as it is now unless it was recorded with
//! the notification), signs it (`X-Nylas-Signature`), POSTs it under the outbound
//! policy, and on failure retries with exponential backoff, marking the webhook
//! `failing`, then `failed` once a notification is given up. A delivery is at least once:
//! receivers deduplicate on the notification `id`.

mod delivery;
mod delivery_metrics;
mod payload;

pub use delivery::{Deliverer, DeliverySettings, ObjectRenderer, RenderedObject};
pub use delivery_metrics::{describe_webhook_metrics, observe_outbox};
pub use payload::{MAX_OBJECT_BYTES, notification_body};
