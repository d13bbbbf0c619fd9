//! Messages, folders and threads as the v3 API returns them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A participant: `{"name", "email"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailName {
    pub name: Option<String>,
    pub email: String,
}

// The API's JSON objects have their keys in sorted order: that is how a
// `serde_json::Value` (a sorted map) writes them, and most answers are built as one. So
// that a page of messages can be written straight from these structs with the same
// bytes, their fields are declared in that order, and participants are written as
// `{"email", "name"}` (see `sorted_key_order_matches_a_value` below).

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub content_disposition: Option<String>,
    pub content_id: Option<String>,
    pub content_type: String,
    pub filename: Option<String>,
    pub grant_id: String,
    pub id: String,
    pub is_inline: bool,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub attachments: Vec<Attachment>,
    #[serde(serialize_with = "sorted_names")]
    pub bcc: Vec<EmailName>,
    pub body: Option<String>,
    #[serde(serialize_with = "sorted_names")]
    pub cc: Vec<EmailName>,
    pub created_at: i64,
    pub date: i64,
    pub folders: Vec<String>,
    #[serde(serialize_with = "sorted_names")]
    pub from: Vec<EmailName>,
    pub grant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<Header>>,
    pub id: String,
    pub metadata: Value,
    pub object: &'static str,
    #[serde(serialize_with = "sorted_names")]
    pub reply_to: Vec<EmailName>,
    pub schedule_id: Option<String>,
    pub send_at: Option<i64>,
    pub snippet: String,
    pub starred: bool,
    pub subject: Option<String>,
    pub thread_id: String,
    #[serde(serialize_with = "sorted_names")]
    pub to: Vec<EmailName>,
    pub tracking_options: Option<Value>,
    pub unread: bool,
}

/// A message as `PUT …/messages/clean` answers it: the message, and in `conversation`
/// its body without quoted replies, signatures and boilerplate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CleanedMessage {
    #[serde(flatten)]
    pub message: Message,
    pub conversation: String,
}

/// A conversation: what its messages share, and its latest message whole.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Thread {
    pub draft_ids: Vec<String>,
    pub earliest_message_date: i64,
    pub folders: Vec<String>,
    pub grant_id: String,
    pub has_attachments: bool,
    pub has_drafts: bool,
    pub id: String,
    /// With `object` "draft" when the latest is a draft.
    pub latest_draft_or_message: Message,
    pub latest_message_received_date: i64,
    pub latest_message_sent_date: i64,
    pub message_ids: Vec<String>,
    pub object: &'static str,
    #[serde(serialize_with = "sorted_names")]
    pub participants: Vec<EmailName>,
    pub snippet: String,
    pub starred: bool,
    pub subject: Option<String>,
    pub unread: bool,
}

/// Participants with their keys in sorted order (`EmailName` itself declares `name`
/// first, and is stored that way).
fn sorted_names<S: serde::Serializer>(
    names: &[EmailName],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Sorted<'a> {
        email: &'a str,
        name: &'a Option<String>,
    }
    serializer.collect_seq(names.iter().map(|n| Sorted {
        email: &n.email,
        name: &n.name,
    }))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Folder {
    pub id: String,
    pub grant_id: String,
    pub object: &'static str,
    pub name: String,
    pub parent_id: Option<String>,
    pub system_folder: bool,
    pub attributes: Vec<String>,
    pub child_count: i64,
    pub unread_count: i64,
    pub total_count: i64,
    pub background_color: Option<String>,
    pub text_color: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Vec<EmailName> {
        vec![
            EmailName {
                name: Some("Zoë \"Z\" Ärger".into()),
                email: "z@example.test".into(),
            },
            EmailName {
                name: None,
                email: "a@example.test".into(),
            },
        ]
    }

    /// Every field filled (and every optional one absent), so that a field added out of
    /// order, or a nested object whose keys are not sorted, fails here.
    fn messages() -> Vec<Message> {
        let full = Message {
            attachments: vec![Attachment {
                content_disposition: Some("inline".into()),
                content_id: Some("<cid@x>".into()),
                content_type: "image/png".into(),
                filename: Some("a\nb.png".into()),
                grant_id: "g".into(),
                id: "att".into(),
                is_inline: true,
                size: 42,
            }],
            bcc: names(),
            body: Some("<p>\u{1F600}\t</p>".into()),
            cc: names(),
            created_at: 1,
            date: 2,
            folders: vec!["f1".into(), "f2".into()],
            from: names(),
            grant_id: "g".into(),
            headers: Some(vec![Header {
                name: "Subject".into(),
                value: "x".into(),
            }]),
            id: "m".into(),
            metadata: json!({"z": 1, "a": {"y": [true, null], "b": "c"}}),
            object: "message",
            reply_to: names(),
            schedule_id: Some("s".into()),
            send_at: Some(3),
            snippet: "snip".into(),
            starred: true,
            subject: Some("Subject".into()),
            thread_id: "t".into(),
            to: names(),
            tracking_options: Some(json!({"opens": true, "label": "l"})),
            unread: false,
        };
        let bare = Message {
            attachments: vec![Attachment {
                content_disposition: None,
                content_id: None,
                filename: None,
                ..full.attachments[0].clone()
            }],
            bcc: Vec::new(),
            body: None,
            headers: None,
            metadata: json!({}),
            schedule_id: None,
            send_at: None,
            subject: None,
            tracking_options: None,
            ..full.clone()
        };
        vec![full, bare]
    }

    #[test]
    fn sorted_key_order_matches_a_value() {
        for message in messages() {
            let direct = serde_json::to_vec(&message).unwrap_or_default();
            let value = serde_json::to_value(&message).unwrap_or_default();
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&serde_json::to_vec(&value).unwrap_or_default())
            );
        }
    }

    #[test]
    fn a_thread_too() {
        let [latest, draft] =
            <[Message; 2]>::try_from(messages()).unwrap_or_else(|_| unreachable!());
        for (latest, subject) in [(latest, Some("s".to_owned())), (draft, None)] {
            let thread = Thread {
                draft_ids: vec!["d".into()],
                earliest_message_date: 1,
                folders: vec!["f".into()],
                grant_id: "g".into(),
                has_attachments: true,
                has_drafts: true,
                id: "t".into(),
                latest_draft_or_message: latest,
                latest_message_received_date: 2,
                latest_message_sent_date: 3,
                message_ids: vec!["m".into(), "n".into()],
                object: "thread",
                participants: names(),
                snippet: "snip".into(),
                starred: false,
                subject,
                unread: true,
            };
            let direct = serde_json::to_vec(&thread).unwrap_or_default();
            let value = serde_json::to_value(&thread).unwrap_or_default();
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&serde_json::to_vec(&value).unwrap_or_default())
            );
        }
    }

    #[test]
    fn participants_keep_their_stored_shape() {
        let stored = serde_json::to_string(&names()[1]).unwrap_or_default();
        assert_eq!(stored, r#"{"name":null,"email":"a@example.test"}"#);
    }
}
