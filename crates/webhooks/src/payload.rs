//! The body POSTed for a notification (API.md §6.3).

use serde_json::{Value, json};

/// Objects larger than this lose their `body` and the type gets `.truncated`.
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024;

/// The source path Nylas uses for the trigger's family.
fn source(trigger: &str) -> &'static str {
    if trigger.starts_with("grant.") {
        "/nylas/system"
    } else if trigger.starts_with("message.send_") {
        "/nylas/send"
    } else {
        "/imap/emails/realtime"
    }
}

/// The notification as JSON bytes.
pub fn notification_body(
    notification_id: &str,
    trigger: &str,
    time: i64,
    attempt: i64,
    application_id: &str,
    mut object: Value,
) -> Vec<u8> {
    let mut kind = trigger.to_owned();
    if object.to_string().len() > MAX_OBJECT_BYTES
        && let Some(map) = object.as_object_mut()
    {
        map.remove("body");
        kind.push_str(".truncated");
    }
    json!({
        "specversion": "1.0",
        "type": kind,
        "source": source(trigger),
        "id": notification_id,
        "time": time,
        "webhook_delivery_attempt": attempt,
        "data": {"application_id": application_id, "object": object},
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_every_field_and_the_object() {
        let body = notification_body(
            "n1",
            "message.created",
            1_700_000_000,
            2,
            "app",
            json!({"id": "m1", "grant_id": "g1", "object": "message", "body": "<p>hi</p>"}),
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
            "message.updated",
            1,
            1,
            "app",
            json!({"id": "m1", "grant_id": "g1", "object": "message", "body": big}),
        );
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["type"], "message.updated.truncated");
        assert!(value["data"]["object"].get("body").is_none());
        assert_eq!(value["data"]["object"]["id"], "m1");
    }

    #[test]
    fn grants_come_from_the_system_source() {
        let body = notification_body("n3", "grant.created", 1, 1, "app", json!({}));
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(value["source"], "/nylas/system");
    }
}
