//! Webhook destinations and the notifications POSTed to them (docs/API.md §6).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! trigger_types {
    ($($variant:ident => $text:literal),* $(,)?) => {
        /// What a webhook can subscribe to: the triggers that concern an IMAP mailbox and
        /// that the Python SDK 6.18 can parse (it raises on any string outside its enum,
        /// so e.g. `grant.imap_sync_completed` is left out).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum TriggerType {
            $(#[serde(rename = $text)] $variant,)*
        }

        impl TriggerType {
            pub const ALL: &'static [TriggerType] = &[$(TriggerType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(TriggerType::$variant => $text,)*
                }
            }
        }
    };
}

trigger_types! {
    CalendarCreated => "calendar.created",
    CalendarUpdated => "calendar.updated",
    CalendarDeleted => "calendar.deleted",
    ContactUpdated => "contact.updated",
    ContactDeleted => "contact.deleted",
    EventCreated => "event.created",
    EventUpdated => "event.updated",
    EventDeleted => "event.deleted",
    GrantCreated => "grant.created",
    GrantUpdated => "grant.updated",
    GrantDeleted => "grant.deleted",
    GrantExpired => "grant.expired",
    MessageCreated => "message.created",
    MessageUpdated => "message.updated",
    MessageDeleted => "message.deleted",
    MessageSendSuccess => "message.send_success",
    MessageSendFailed => "message.send_failed",
    MessageBounceDetected => "message.bounce_detected",
    MessageOpened => "message.opened",
    MessageLinkClicked => "message.link_clicked",
    ThreadReplied => "thread.replied",
    FolderCreated => "folder.created",
    FolderUpdated => "folder.updated",
    FolderDeleted => "folder.deleted",
}

impl TriggerType {
    /// The notification's `source` (`/<provider>/<product>/<sync_type>`, docs/API.md §6.3).
    pub fn source(self) -> &'static str {
        match self {
            TriggerType::GrantCreated
            | TriggerType::GrantUpdated
            | TriggerType::GrantDeleted
            | TriggerType::GrantExpired => "/nylas/system",
            TriggerType::MessageSendSuccess | TriggerType::MessageSendFailed => "/nylas/send",
            TriggerType::ThreadReplied
            | TriggerType::MessageOpened
            | TriggerType::MessageLinkClicked => "/com/nylas/tracking",
            _ => "/imap/emails/realtime",
        }
    }

    /// The object type a notification of this trigger carries (`message`, `grant`, …).
    pub fn object_type(self) -> &'static str {
        let text = self.as_str();
        text.split_once('.').map_or(text, |(object, _)| object)
    }
}

impl fmt::Display for TriggerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trigger type '{0}'; mailroom supports {list}", list = supported_list())]
pub struct UnknownTriggerType(pub String);

fn supported_list() -> String {
    TriggerType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for TriggerType {
    type Err = UnknownTriggerType;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        TriggerType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| UnknownTriggerType(value.chars().take(100).collect()))
    }
}

/// `active` and `pause` are set by the application; `failing` and `failed` by delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Active,
    Pause,
    Failing,
    Failed,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Pause => "pause",
            WebhookStatus::Failing => "failing",
            WebhookStatus::Failed => "failed",
        }
    }

    /// Whether notifications are still sent (a failing destination keeps being tried).
    pub fn receives_notifications(self) -> bool {
        matches!(self, WebhookStatus::Active | WebhookStatus::Failing)
    }
}

impl FromStr for WebhookStatus {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "active" => Ok(WebhookStatus::Active),
            "pause" => Ok(WebhookStatus::Pause),
            "failing" => Ok(WebhookStatus::Failing),
            "failed" => Ok(WebhookStatus::Failed),
            other => Err(format!("unknown webhook status '{other}'")),
        }
    }
}

/// A webhook destination. `webhook_secret` is present only in the answers to create and
/// rotate-secret, the two moments the secret is shown.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    pub description: Option<String>,
    pub trigger_types: Vec<TriggerType>,
    pub webhook_url: String,
    pub status: WebhookStatus,
    pub notification_email_addresses: Vec<String>,
    pub status_updated_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The body of `POST /v3/webhooks`. Trigger types stay strings here so that an unknown
/// one is answered with a 400 naming it rather than a generic parse error.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CreateWebhookRequest {
    pub trigger_types: Option<Vec<String>>,
    pub webhook_url: Option<String>,
    pub description: Option<String>,
    pub notification_email_addresses: Option<Vec<String>>,
}

/// The body of `PUT /v3/webhooks/{id}`: any subset of the fields.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateWebhookRequest {
    pub trigger_types: Option<Vec<String>>,
    pub webhook_url: Option<String>,
    pub description: Option<String>,
    pub notification_email_addresses: Option<Vec<String>>,
    pub status: Option<String>,
}

/// The body of `POST /v3/webhooks/mock-payload`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct MockPayloadRequest {
    pub trigger_type: Option<String>,
}

/// The body of `POST /v3/webhooks/send-test-event`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SendTestEventRequest {
    pub trigger_type: Option<String>,
    pub webhook_url: Option<String>,
}

/// `GET /v3/webhooks/ip-addresses`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookIpAddresses {
    pub ip_addresses: Vec<String>,
    pub updated_at: i64,
}

/// A notification as POSTed to a webhook (CloudEvents 1.0 style, docs/API.md §6.3).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookNotification {
    pub specversion: String,
    #[serde(rename = "type")]
    pub trigger_type: String,
    pub source: String,
    /// Unique per notification; receivers deduplicate on it.
    pub id: String,
    pub time: i64,
    pub webhook_delivery_attempt: u32,
    pub data: NotificationData,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationData {
    pub application_id: String,
    pub object: Value,
}

impl WebhookNotification {
    /// A first-attempt notification of `trigger` about `object`.
    pub fn new(
        trigger: TriggerType,
        id: String,
        time: i64,
        application_id: String,
        object: Value,
    ) -> Self {
        Self {
            specversion: "1.0".to_owned(),
            trigger_type: trigger.as_str().to_owned(),
            source: trigger.source().to_owned(),
            id,
            time,
            webhook_delivery_attempt: 1,
            data: NotificationData {
                application_id,
                object,
            },
        }
    }
}

// The secret stays out of `Debug`, so that no log line can carry it.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("description", &self.description)
            .field("trigger_types", &self.trigger_types)
            .field("webhook_url", &self.webhook_url)
            .field("status", &self.status)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_types_round_trip_and_unknown_ones_are_named() {
        for trigger in TriggerType::ALL {
            assert_eq!(trigger.as_str().parse::<TriggerType>(), Ok(*trigger));
            assert_eq!(
                serde_json::to_value(trigger).unwrap(),
                Value::String(trigger.as_str().to_owned())
            );
        }
        assert_eq!(TriggerType::ALL.len(), 24);
        let error = "grant.imap_sync_completed"
            .parse::<TriggerType>()
            .unwrap_err();
        assert!(error.to_string().contains("'grant.imap_sync_completed'"));
        assert!(error.to_string().contains("message.created"));
    }

    #[test]
    fn the_secret_is_serialized_only_when_present() {
        let mut webhook = Webhook {
            id: "w".into(),
            description: None,
            trigger_types: vec![TriggerType::MessageCreated],
            webhook_url: "https://example.com/hook".into(),
            status: WebhookStatus::Active,
            notification_email_addresses: vec![],
            status_updated_at: 1,
            created_at: 1,
            updated_at: 1,
            webhook_secret: None,
        };
        let json = serde_json::to_value(&webhook).unwrap();
        assert!(json.get("webhook_secret").is_none());
        assert_eq!(json["description"], Value::Null);
        assert_eq!(json["status"], "active");
        webhook.webhook_secret = Some("s".into());
        assert_eq!(
            serde_json::to_value(&webhook).unwrap()["webhook_secret"],
            "s"
        );
    }
}
