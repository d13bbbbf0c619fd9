//! Webhook delivery. Changes record notifications in the store's outbox in their own
//! transactions; the [`Deliverer`] works through the due deliveries: it builds each
//! payload (CloudEvents-style, the object read as it is now unless it was recorded with
//! the notification), signs it (`X-Nylas-Signature`), POSTs it under the outbound
//! policy, and on failure retries with exponential backoff, marking the webhook
//! `failing`, then `failed` once a notification is given up. A delivery is at least once:
//! receivers deduplicate on the notification `id`. When a webhook is marked `failed`,
//! [`FailureNotices`] emails its `notification_email_addresses` through the operator's
//! notification mailer.

mod delivery;
mod delivery_metrics;
mod failure_notices;
mod payload;

pub use delivery::{Deliverer, DeliverySettings, ObjectRenderer, RenderedObject};
pub use delivery_metrics::{describe_webhook_metrics, observe_outbox};
pub use failure_notices::{FailureNotices, NoticeSettings, NotificationMailer, notice_message};
pub use payload::{MAX_OBJECT_BYTES, notification_body};
