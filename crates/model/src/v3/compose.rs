//! The body of `POST …/messages/send` and of drafts create/update (docs/API.md §5.2, §5.3).
//! Lenient on purpose: unknown fields are ignored and `null` is accepted wherever a field
//! is optional or a list, because the SDKs send nulls for unset values.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{message::EmailName, template::TemplateUse};

#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct ComposeRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pub to: Vec<EmailName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cc: Vec<EmailName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub bcc: Vec<EmailName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub reply_to: Vec<EmailName>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub from: Vec<EmailName>,
    #[serde(default)]
    pub subject: Option<String>,
    /// HTML, unless `is_plaintext`.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attachments: Vec<ComposeAttachment>,
    /// Unix seconds; a send in the future is scheduled.
    #[serde(default)]
    pub send_at: Option<i64>,
    /// The id of the message replied to.
    #[serde(default)]
    pub reply_to_message_id: Option<String>,
    #[serde(default)]
    pub tracking_options: Option<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_headers: Vec<CustomHeader>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_plaintext: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub use_draft: bool,
    #[serde(default)]
    pub starred: Option<bool>,
    #[serde(default)]
    pub unread: Option<bool>,
    /// A send's stored template, rendered into `subject` and `body` where the request
    /// gives none (docs/API.md §5.10).
    #[serde(default)]
    pub template: Option<TemplateUse>,
}

/// An attachment as the request describes it. `content` (standard base64) is present in
/// JSON requests; in multipart requests the bytes come in their own part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct ComposeAttachment {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub content_id: Option<String>,
    #[serde(default)]
    pub content_disposition: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_inline: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct CustomHeader {
    pub name: String,
    pub value: String,
}

/// `null` reads as the type's default (an empty list, `false`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> ComposeRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_full_send_request_is_read() {
        let request = parse(json!({
            "to": [{"name": "Ann", "email": "ann@example.com"}],
            "cc": [{"email": "cc@example.com"}],
            "bcc": [{"email": "bcc@example.com", "name": null}],
            "reply_to": [{"email": "reply@example.com"}],
            "from": [{"email": "me@example.com", "name": "Me"}],
            "subject": "Hello",
            "body": "<p>Hi</p>",
            "attachments": [{
                "filename": "a.txt", "content_type": "text/plain", "content": "aGk=",
                "size": 2, "content_id": "cid1", "content_disposition": "inline",
                "is_inline": true
            }],
            "send_at": 1_900_000_000,
            "reply_to_message_id": "abc",
            "tracking_options": {"opens": true},
            "custom_headers": [{"name": "X-Campaign", "value": "42"}],
            "metadata": {"key_1": "v"},
            "is_plaintext": true,
            "use_draft": true,
            "starred": true,
            "unread": false,
        }));
        assert_eq!(request.to[0].name.as_deref(), Some("Ann"));
        assert_eq!(request.cc[0].name, None);
        assert_eq!(request.bcc[0].email, "bcc@example.com");
        assert_eq!(request.from[0].email, "me@example.com");
        assert_eq!(request.subject.as_deref(), Some("Hello"));
        assert_eq!(request.attachments[0].content.as_deref(), Some("aGk="));
        assert_eq!(request.attachments[0].size, Some(2));
        assert!(request.attachments[0].is_inline);
        assert_eq!(request.send_at, Some(1_900_000_000));
        assert_eq!(request.custom_headers[0].name, "X-Campaign");
        assert_eq!(request.metadata, Some(json!({"key_1": "v"})));
        assert!(request.is_plaintext && request.use_draft);
        assert_eq!((request.starred, request.unread), (Some(true), Some(false)));
    }

    #[test]
    fn an_empty_object_is_a_default_request() {
        assert_eq!(parse(json!({})), ComposeRequest::default());
    }

    #[test]
    fn nulls_are_accepted_everywhere_a_value_is_optional() {
        let request = parse(json!({
            "to": null, "cc": null, "bcc": null, "reply_to": null, "from": null,
            "subject": null, "body": null, "attachments": null, "send_at": null,
            "reply_to_message_id": null, "tracking_options": null, "custom_headers": null,
            "metadata": null, "is_plaintext": null, "use_draft": null, "starred": null,
            "unread": null, "template": null,
        }));
        assert_eq!(request, ComposeRequest::default());
        let attachment: ComposeAttachment = serde_json::from_value(json!({
            "filename": null, "content_type": null, "content": null, "size": null,
            "content_id": null, "content_disposition": null, "is_inline": null,
        }))
        .unwrap();
        assert_eq!(attachment, ComposeAttachment::default());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let request = parse(json!({"subject": "s", "thread_id": "t", "whatever": [1, 2]}));
        assert_eq!(request.subject.as_deref(), Some("s"));
    }

    #[test]
    fn a_recipient_without_an_email_is_refused_with_the_field_named() {
        let error = serde_json::from_value::<ComposeRequest>(json!({"to": [{"name": "Ann"}]}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("email"), "{error}");
    }
}
