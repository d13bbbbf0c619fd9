//! The body POSTed for a notification (docs/API.md §6.3).

use mailroom_model::v3::{TriggerType, WebhookNotification};
use serde_json::Value;

/// Objects larger than this lose their `body` and the type gets `.truncated`.
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024;

/// The notification as JSON bytes: the model's [`WebhookNotification`] for this attempt,
/// its object's `body` dropped (and `.truncated` added to the type) when the object is
/// over [`MAX_OBJECT_BYTES`] or the body could not be read in time (`body_left_out`).
pub fn notification_body(
    notification_id: &str,
    trigger: TriggerType,
    time: i64,
    attempt: u32,
    application_id: &str,
    mut object: Value,
    body_left_out: bool,
) -> Vec<u8> {
    let truncated = body_left_out || object.to_string().len() > MAX_OBJECT_BYTES;
    if truncated && let Some(map) = object.as_object_mut() {
        map.remove("body");
    }
    let mut notification = WebhookNotification::new(
        trigger,
        notification_id.to_owned(),
        time,
        application_id.to_owned(),
        object,
    );
    notification.webhook_delivery_attempt = attempt;
    if truncated {
        notification.trigger_type.push_str(".truncated");
    }
    serde_json::to_vec(&notification).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_envelope_carries_every_field_and_the_object() {
        let body = notification_body(
            "n1",
            TriggerType::MessageCreated,
            1_700_000_000,
            2,
            "app",
            json!({"id": "m1", "grant_id": "g1", "object": "message", "body": "<p>hi</p>"}),
            false,
        );
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["specversion"], "1.0");
        assert_eq!(value["type"], "message.created");
        assert_eq!(value["source"], "/imap/emails/realtime");
        assert_eq!(value["id"], "n1");
        assert_eq!(value["time"], 1_700_000_000);
        assert_eq!(value["webhook_delivery_attempt"], 2);
        assert_eq!(value["data"]["application_id"], "app");
        assert_eq!(value["data"]["object"]["grant_id"], "g1");
        assert_eq!(value["data"]["object"]["body"], "<p>hi</p>");
    }

    #[test]
    fn an_object_over_a_megabyte_loses_its_body() {
        let big = "x".repeat(MAX_OBJECT_BYTES + 10);
        let body = notification_body(
            "n2",
            TriggerType::MessageUpdated,
            1,
            1,
            "app",
            json!({"id": "m1", "grant_id": "g1", "object": "message", "body": big}),
            false,
        );
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["type"], "message.updated.truncated");
        assert!(value["data"]["object"].get("body").is_none());
        assert_eq!(value["data"]["object"]["id"], "m1");
    }

    #[test]
    fn grants_come_from_the_system_source() {
        let body = notification_body(
            "n3",
            TriggerType::GrantCreated,
            1,
            1,
            "app",
            json!({}),
            false,
        );
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["source"], "/nylas/system");
    }

    #[test]
    fn a_body_left_out_makes_the_type_truncated() {
        let body = notification_body(
            "n4",
            TriggerType::MessageCreated,
            1,
            1,
            "app",
            json!({"id": "m1", "grant_id": "g1", "object": "message", "subject": "Hi"}),
            true,
        );
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["type"], "message.created.truncated");
        assert_eq!(value["data"]["object"]["subject"], "Hi");
    }
}
